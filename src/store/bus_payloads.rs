//! Queries on `bus_payloads`: event payloads too large for a PostgreSQL NOTIFY (8,000 bytes),
//! written in the publishing transaction and fetched by id by every node.

use chrono::{DateTime, Utc};

use super::{Db, StoreError, Tx};

/// Stores a payload in the publishing transaction; returns its id.
pub async fn insert(tx: &mut Tx, payload: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_scalar("INSERT INTO bus_payloads (payload, created_at) VALUES ($1, $2) RETURNING id")
            .bind(payload)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
    })?)
}

pub async fn find(db: &Db, id: i64) -> Result<Option<String>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar("SELECT payload FROM bus_payloads WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    })?)
}

/// Drops payloads older than `before`: every node has long since read them.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(with_write!(db, conn => {
        sqlx::query("DELETE FROM bus_payloads WHERE created_at < $1")
            .bind(before)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?)
}
