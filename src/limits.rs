//! Rate limits that hold across instances and restarts (their counters are in the database):
//! failed logins with a growing delay, and events per time window (sessions opened per address).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::{Db, StoreError, rate_limits};

/// Failed attempts for one key: free ones, then each costs a delay that doubles.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Failures allowed before any delay.
    pub free: u32,
    /// The first delay; each further failure doubles it.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Backoff {
    /// The delay imposed after the `failures`-th failure in the window.
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free).filter(|over| *over > 0)?;
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.cap))
    }
}

fn chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// How long until `until`, rounded up to whole seconds (for `Retry-After`), at least one.
pub fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (until - now).num_milliseconds().max(0) as u64;
    millis.div_ceil(1000).max(1)
}

/// The longest wait any of `keys` is blocked for, if any.
pub async fn blocked(
    db: &Db,
    keys: &[&str],
    now: DateTime<Utc>,
) -> Result<Option<u64>, StoreError> {
    let mut longest = None;
    for key in keys {
        if let Some(until) = rate_limits::blocked_until(db, key, now).await? {
            let wait = seconds_until(until, now);
            longest = Some(longest.map_or(wait, |w: u64| w.max(wait)));
        }
    }
    Ok(longest)
}

/// Records a failure for `key`; past the free ones, blocks it for the backoff's delay. Returns
/// the number of failures in the window.
pub async fn fail(
    db: &Db,
    key: &str,
    policy: &Backoff,
    now: DateTime<Utc>,
) -> Result<u32, StoreError> {
    let (count, _) = rate_limits::count(db, key, now, now - chrono(policy.window)).await?;
    let failures = u32::try_from(count).unwrap_or(u32::MAX);
    if let Some(delay) = policy.delay(failures) {
        rate_limits::block(db, key, now + chrono(delay)).await?;
    }
    Ok(failures)
}

/// Forgets the failures of `key`.
pub async fn clear(db: &Db, key: &str) -> Result<(), StoreError> {
    rate_limits::clear(db, key).await
}

/// Counts an event for `key`: `Err(seconds)` to wait when more than `limit` happened in the
/// current window of `window`.
pub async fn hit(
    db: &Db,
    key: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Result<(), u64>, StoreError> {
    let (count, started) = rate_limits::count(db, key, now, now - chrono(window)).await?;
    if count > i64::from(limit) {
        return Ok(Err(seconds_until(started + chrono(window), now)));
    }
    Ok(Ok(()))
}

/// How long a counter is kept after its window began (longer than any window or block).
const RETENTION: chrono::Duration = chrono::Duration::days(1);

/// Drops old counters every ten minutes until `shutdown`.
pub async fn prune_periodically(db: Db, shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(err) = rate_limits::prune(&db, Utc::now() - RETENTION).await {
            tracing::debug!(error = %err, "could not prune rate-limit counters");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_the_cap() {
        let policy = Backoff {
            free: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            window: Duration::from_secs(3600),
        };
        let delays: Vec<Option<u64>> = (1..=13)
            .map(|n| policy.delay(n).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            delays,
            [
                None,
                None,
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(60),
                Some(60)
            ]
        );
        assert_eq!(policy.delay(u32::MAX), Some(Duration::from_secs(60)));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        let now = Utc::now();
        assert_eq!(
            seconds_until(now + chrono::Duration::milliseconds(1200), now),
            2
        );
        assert_eq!(seconds_until(now - chrono::Duration::seconds(5), now), 1);
    }
}
