//! This node's copies of recently read sessions, so that the lookup before every message (and
//! every history read) does not go to the database.
//!
//! A copy is dropped when a transaction that changed its session commits: on the node that
//! committed it right after the COMMIT (in commit order on SQLite, even if the caller stopped
//! waiting), and on every other node when the bus brings the change (`Event::SessionsChanged`,
//! sent in the same transaction). A copy is only kept if no session changed while it was being
//! read, so a read that raced a commit never leaves the old state behind. After the bus may
//! have missed events, every copy is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::ids::{SessionId, SessionKey};
use crate::store::sessions::SessionRecord;

/// Most sessions kept; when full, the copies are dropped and the cache fills again from the
/// sessions in use (a few KiB each at most, so the cache stays within a few tens of MiB).
const CAPACITY: usize = 16_384;

#[derive(Default)]
pub(super) struct SessionCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Counts changes: a read started at an older value may be out of date.
    version: u64,
    sessions: HashMap<SessionId, SessionRecord>,
    ids: HashMap<SessionKey, SessionId>,
}

/// Where a read from the database started, for [`SessionCache::keep`].
#[derive(Clone, Copy)]
pub(super) struct ReadStart(u64);

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session as last read, if kept.
    pub(super) fn get(&self, session_id: SessionId) -> Option<SessionRecord> {
        self.lock().sessions.get(&session_id).cloned()
    }

    /// Called before reading a session from the database.
    pub(super) fn start_read(&self) -> ReadStart {
        ReadStart(self.lock().version)
    }

    /// Keeps `session`, read from the database since `start`, unless a session changed since.
    pub(super) fn keep(&self, start: ReadStart, session: &SessionRecord) {
        let mut state = self.lock();
        if state.version != start.0 {
            return;
        }
        if state.sessions.len() >= CAPACITY {
            state.sessions.clear();
            state.ids.clear();
        }
        state.ids.insert(session.id, session.session_id);
        state.sessions.insert(session.session_id, session.clone());
    }

    /// These sessions changed: their copies go.
    pub(super) fn forget(&self, keys: &[SessionKey]) {
        let mut state = self.lock();
        state.version += 1;
        for key in keys {
            if let Some(session_id) = state.ids.remove(key) {
                state.sessions.remove(&session_id);
            }
        }
    }

    /// Changes may have been missed: every copy goes.
    pub(super) fn clear(&self) {
        let mut state = self.lock();
        state.version += 1;
        state.sessions.clear();
        state.ids.clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::session::SessionState;
    use crate::store::sessions::ClientRecord;

    fn session(key: i64) -> SessionRecord {
        SessionRecord {
            id: SessionKey(key),
            session_id: SessionId::new(),
            state: SessionState::Ai,
            assigned_admin_id: None,
            queued_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            closed_at: None,
            language_code: None,
            summary: None,
            client: ClientRecord {
                id: key,
                name: "Ana".into(),
                email: String::new(),
                phone: String::new(),
                created_at: Utc::now(),
            },
        }
    }

    #[test]
    fn a_change_drops_the_copy() {
        let cache = SessionCache::default();
        let s = session(1);
        cache.keep(cache.start_read(), &s);
        assert!(cache.get(s.session_id).is_some());
        cache.forget(&[SessionKey(2)]);
        assert!(cache.get(s.session_id).is_some());
        cache.forget(&[SessionKey(1)]);
        assert!(cache.get(s.session_id).is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = SessionCache::default();
        let s = session(1);
        let start = cache.start_read();
        // The read returned the old state; meanwhile a change committed.
        cache.forget(&[SessionKey(1)]);
        cache.keep(start, &s);
        assert!(cache.get(s.session_id).is_none());
        // A read started after it is kept.
        cache.keep(cache.start_read(), &s);
        assert!(cache.get(s.session_id).is_some());
        cache.clear();
        assert!(cache.get(s.session_id).is_none());
    }
}
