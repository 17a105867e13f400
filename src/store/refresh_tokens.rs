//! Queries on `refresh_tokens`: outstanding refresh tokens, stored as SHA-256 hashes so a
//! database leak does not leak usable tokens. Each is consumed by exactly one refresh.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};
use crate::domain::ids::AgentId;

/// Records a newly issued refresh token, and drops the account's expired ones.
pub async fn insert(
    db: &Db,
    admin_id: AgentId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM refresh_tokens WHERE admin_id = $1 AND expires_at <= $2")
            .bind(admin_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (admin_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(admin_id)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

/// Deletes the token and returns its account, if it was outstanding and unexpired. Of two
/// concurrent refreshes with the same token, only one gets `Some`.
pub async fn consume(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<AgentId>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar(
            "DELETE FROM refresh_tokens WHERE token_hash = $1 AND expires_at > $2 RETURNING admin_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await
    })?)
}
