//! A counter that many socket tasks bump and one scenario waits on: "all 5,000 acks are in" is an
//! event to await with a deadline, not something to sleep and poll for.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tokio::time::Instant;

/// A shared count that wakes its waiters whenever it grows.
#[derive(Debug, Default)]
pub struct Tally {
    count: AtomicU64,
    grown: Notify,
}

impl Tally {
    /// Adds `n` and wakes whoever waits.
    pub fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        self.grown.notify_waiters();
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until the count is at least `target` or `deadline` passes; returns whether it got
    /// there.
    pub async fn reach(&self, target: u64, deadline: Instant) -> bool {
        loop {
            // Registered before the check, so a bump between the check and the wait still wakes.
            let grown = self.grown.notified();
            tokio::pin!(grown);
            grown.as_mut().enable();
            if self.get() >= target {
                return true;
            }
            if tokio::time::timeout_at(deadline, grown).await.is_err() {
                return self.get() >= target;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waits_for_the_target_or_the_deadline() {
        let tally = Arc::new(Tally::default());
        let bumper = Arc::clone(&tally);
        tokio::spawn(async move {
            for _ in 0..3 {
                bumper.add(1);
                tokio::task::yield_now().await;
            }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(tally.reach(3, deadline).await);
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(!tally.reach(4, soon).await);
    }
}
