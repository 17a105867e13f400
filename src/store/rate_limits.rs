//! Queries on `rate_limits`: counters in time windows, shared by every instance on the same
//! database. The policy (how many, how long) is `crate::limits`'s.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};

/// Counts one more event for `key` in a window starting at `now`, or in the current window if it
/// began after `window_floor` (an older window starts afresh). Returns the count and when its
/// window began.
pub async fn count(
    db: &Db,
    key: &str,
    now: DateTime<Utc>,
    window_floor: DateTime<Utc>,
) -> Result<(i64, DateTime<Utc>), StoreError> {
    Ok(with_write!(db, conn => {
        sqlx::query_as(
            "INSERT INTO rate_limits (key, count, window_started_at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN rate_limits.window_started_at <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
               window_started_at = CASE WHEN rate_limits.window_started_at <= $3 THEN $2 ELSE rate_limits.window_started_at END, \
               unblocked_at = CASE WHEN rate_limits.window_started_at <= $3 THEN NULL ELSE rate_limits.unblocked_at END \
             RETURNING count, window_started_at",
        )
        .bind(key)
        .bind(now)
        .bind(window_floor)
        .fetch_one(conn)
        .await
    })?)
}

/// Blocks `key` until `until`.
pub async fn block(db: &Db, key: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
    with_write!(db, conn => {
        sqlx::query("UPDATE rate_limits SET unblocked_at = $2 WHERE key = $1")
            .bind(key)
            .bind(until)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Until when `key` is blocked, if it is after `now`.
pub async fn blocked_until(
    db: &Db,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT unblocked_at FROM rate_limits WHERE key = $1 AND unblocked_at > $2",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(pool)
        .await
    })?
    .flatten())
}

/// Forgets `key` (a successful login clears its failures).
pub async fn clear(db: &Db, key: &str) -> Result<(), StoreError> {
    with_write!(db, conn => {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Drops rows whose window began before `before` and that block nothing any more.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(with_write!(db, conn => {
        sqlx::query(
            "DELETE FROM rate_limits WHERE window_started_at < $1 \
             AND (unblocked_at IS NULL OR unblocked_at < $1)",
        )
        .bind(before)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?)
}
