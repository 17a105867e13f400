//! Queries on `messages`: a session's history, oldest first.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};
use crate::domain::session::SenderType;

/// A stored chat message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub sender_type: SenderType,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// Messages of the session with primary key `session_pk` whose id is greater than `after`,
/// oldest first, at most `limit`.
pub async fn list(
    db: &Db,
    session_pk: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<MessageRecord>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, MessageRecord>(
            "SELECT id, sender_type, content, created_at FROM messages \
             WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(session_pk)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
    })?)
}

/// Appends a message to a session's history.
pub async fn insert(
    db: &Db,
    session_pk: i64,
    sender: SenderType,
    sender_admin_id: Option<i64>,
    content: &str,
    now: DateTime<Utc>,
) -> Result<MessageRecord, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, MessageRecord>(
            "INSERT INTO messages (session_id, sender_type, sender_admin_id, content, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, sender_type, content, created_at",
        )
        .bind(session_pk)
        .bind(sender.as_str())
        .bind(sender_admin_id)
        .bind(content)
        .bind(now)
        .fetch_one(pool)
        .await
    })?)
}
