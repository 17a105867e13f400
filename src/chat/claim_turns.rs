//! One claim of a session at a time on this node. When a hand-off is announced, every agent
//! claims it at once; only one can win. The others wait here for the first one's outcome and
//! are then answered from the session as it left it (usually: claimed), from a read, instead of
//! each taking a turn on the database's writer to learn the same thing. On several nodes the
//! database still decides between each node's first claimer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::domain::ids::SessionId;

#[derive(Default)]
pub(super) struct ClaimTurns {
    turns: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
}

/// A claim's turn at a session; the next claimer's starts when it is dropped.
pub(super) struct Turn {
    session_id: SessionId,
    turns: Arc<ClaimTurns>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ClaimTurns {
    /// Waits until no other claim of `session_id` is in progress on this node.
    pub(super) async fn turn(self: &Arc<Self>, session_id: SessionId) -> Turn {
        let lock = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(turns.entry(session_id).or_default())
        };
        Turn {
            session_id,
            turns: Arc::clone(self),
            guard: Some(lock.lock_owned().await),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut turns = self.turns.turns.lock().unwrap_or_else(|p| p.into_inner());
        // Nobody else holds or waits for this session's turn: forget it.
        if turns
            .get(&self.session_id)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            turns.remove(&self.session_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_of_one_session_take_turns_and_leave_nothing_behind() {
        let turns = Arc::new(ClaimTurns::default());
        let session = SessionId::new();
        let first = turns.turn(session).await;
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move { drop(turns.turn(session).await) }
        });
        // Another session is not held up.
        drop(turns.turn(SessionId::new()).await);
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
        assert!(turns.turns.lock().unwrap().is_empty());
    }
}
