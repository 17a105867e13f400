//! Queries on `refresh_tokens`: refresh tokens, stored as SHA-256 hashes so a database leak does
//! not leak usable tokens, in families (one per login). Each token is used by exactly one
//! refresh; a used one stays recorded until it expires, so presenting it again is recognised.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};
use crate::domain::ids::AgentId;

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// Outstanding and unexpired: now marked used.
    Fresh { admin: AgentId, family: String },
    /// Already used once: a replay.
    Reused { admin: AgentId, family: String },
    /// Unknown, expired or revoked.
    Unknown,
}

/// Records a newly issued refresh token in `family`, and drops the account's expired ones.
pub async fn insert(
    db: &Db,
    admin_id: AgentId,
    token_hash: &str,
    family: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    with_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM refresh_tokens WHERE admin_id = $1 AND expires_at <= $2")
            .bind(admin_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (admin_id, token_hash, family_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(admin_id)
        .bind(token_hash)
        .bind(family)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    });
    tx.commit().await
}

/// Marks the token used if it is outstanding and unexpired. Of two concurrent refreshes with the
/// same token, only one finds it [`Presented::Fresh`].
pub async fn present(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Presented, StoreError> {
    let fresh: Option<(AgentId, String)> = with_write!(db, conn => {
        sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING admin_id, family_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(conn)
        .await
    })?;
    if let Some((admin, family)) = fresh {
        return Ok(Presented::Fresh { admin, family });
    }
    let used: Option<(AgentId, String)> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT admin_id, family_id FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NOT NULL",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await
    })?;
    Ok(match used {
        Some((admin, family)) => Presented::Reused { admin, family },
        None => Presented::Unknown,
    })
}

/// The family of a recorded token (used or not).
pub async fn family_of(db: &Db, token_hash: &str) -> Result<Option<String>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await
    })?)
}

/// Revokes every token of a family; returns how many there were.
pub async fn revoke_family(db: &Db, family: &str) -> Result<u64, StoreError> {
    Ok(with_write!(db, conn => {
        sqlx::query("DELETE FROM refresh_tokens WHERE family_id = $1")
            .bind(family)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?)
}

/// Revokes every token of an account (all its families).
pub async fn revoke_all(db: &Db, admin_id: AgentId) -> Result<u64, StoreError> {
    Ok(with_write!(db, conn => {
        sqlx::query("DELETE FROM refresh_tokens WHERE admin_id = $1")
            .bind(admin_id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?)
}
