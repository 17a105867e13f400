//! Queries on `chat_sessions` (joined with `client_info`): create, read, the queue, claim, close.
//!
//! Claim and close are single conditional UPDATEs checked by rows affected, so concurrent callers
//! on one node or many get exactly one winner. A `None` from them means the condition failed; the
//! caller reads the session to say why.

use chrono::{DateTime, Utc};

use super::{Db, StoreError, Tx};
use crate::domain::client_info::NewClientInfo;
use crate::domain::ids::{AgentId, SessionId, SessionKey};
use crate::domain::language::Lang;
use crate::domain::session::{SessionState, SessionStatus};

/// A session row with its customer's details.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: SessionKey,
    pub session_id: SessionId,
    #[sqlx(try_from = "String")]
    pub state: SessionState,
    pub assigned_admin_id: Option<AgentId>,
    pub queued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The customer's language code, when known (see [`SessionRecord::language`]).
    #[sqlx(rename = "language")]
    pub language_code: Option<String>,
    /// For the agent who takes over (written at hand-off).
    pub summary: Option<String>,
    #[sqlx(flatten)]
    pub client: ClientRecord,
}

/// The customer's details as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRecord {
    #[sqlx(rename = "client_id")]
    pub id: i64,
    #[sqlx(rename = "client_name")]
    pub name: String,
    #[sqlx(rename = "client_email")]
    pub email: String,
    #[sqlx(rename = "client_phone")]
    pub phone: String,
    #[sqlx(rename = "client_created_at")]
    pub created_at: DateTime<Utc>,
}

impl SessionRecord {
    pub fn status(&self) -> SessionStatus {
        SessionStatus::from_stored(self.state, self.assigned_admin_id)
    }

    /// The language Switchboard writes to this customer in: the one known, else English.
    pub fn language(&self) -> Lang {
        self.language_code
            .as_deref()
            .and_then(Lang::from_code)
            .unwrap_or(Lang::En)
    }
}

/// `SELECT` of [`SessionRecord`]s followed by the given clauses, as one static string.
macro_rules! select_sessions {
    ($clauses:literal) => {
        concat!(
            "SELECT s.id, s.session_id, s.state, s.assigned_admin_id, s.queued_at, \
             s.created_at, s.updated_at, s.closed_at, s.language, s.summary, c.id AS client_id, c.name AS client_name, \
             c.email AS client_email, c.phone AS client_phone, c.created_at AS client_created_at \
             FROM chat_sessions s JOIN client_info c ON c.id = s.client_info_id ",
            $clauses
        )
    };
}

const BY_ID: &str = select_sessions!("WHERE s.id = $1");

/// Stores a new customer and their session, in state `AI`.
pub async fn create(
    db: &Db,
    client: &NewClientInfo,
    language: Option<Lang>,
    now: DateTime<Utc>,
) -> Result<SessionRecord, StoreError> {
    let mut tx = db.begin().await?;
    let record = with_tx!(&mut tx, conn => {
        let client_id: i64 = sqlx::query_scalar(
            "INSERT INTO client_info (name, email, phone, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(client.name.as_str())
        .bind(client.email.as_str())
        .bind(client.phone.as_str())
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let id: SessionKey = sqlx::query_scalar(
            "INSERT INTO chat_sessions (session_id, client_info_id, state, created_at, updated_at, language) \
             VALUES ($1, $2, 'AI', $3, $3, $4) RETURNING id",
        )
        .bind(SessionId::new())
        .bind(client_id)
        .bind(now)
        .bind(language.map(Lang::code))
        .fetch_one(&mut *conn)
        .await?;
        let record = sqlx::query_as::<_, SessionRecord>(BY_ID)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        Ok::<_, StoreError>(record)
    })?;
    tx.commit().await?;
    Ok(record)
}

/// Records that the customer of session `key` writes in `language` (inside the transaction
/// that stores the message it was read from).
pub async fn set_language(tx: &mut Tx, key: SessionKey, language: Lang) -> Result<(), StoreError> {
    tx.session_changed(key);
    Ok(with_tx!(tx, conn => {
        sqlx::query("UPDATE chat_sessions SET language = $1 WHERE id = $2")
            .bind(language.code())
            .bind(key)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?)
}

/// Stores the summary agents see for session `key`.
pub async fn set_summary(tx: &mut Tx, key: SessionKey, summary: &str) -> Result<(), StoreError> {
    tx.session_changed(key);
    Ok(with_tx!(tx, conn => {
        sqlx::query("UPDATE chat_sessions SET summary = $1 WHERE id = $2")
            .bind(summary)
            .bind(key)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?)
}

pub async fn find(db: &Db, session_id: SessionId) -> Result<Option<SessionRecord>, StoreError> {
    let sql = select_sessions!("WHERE s.session_id = $1");
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, SessionRecord>(sql).bind(session_id).fetch_optional(pool).await
    })?)
}

/// The session as it is now, read inside `tx` after a conditional UPDATE changed nothing: inside
/// the write transaction the latest commit is visible, and on PostgreSQL the row lock waits for a
/// concurrent change to commit (the UPDATE skipped the row it had locked).
pub async fn find_current(
    tx: &mut Tx,
    session_id: SessionId,
) -> Result<Option<SessionRecord>, StoreError> {
    let sql = if tx.is_sqlite() {
        select_sessions!("WHERE s.session_id = $1")
    } else {
        select_sessions!("WHERE s.session_id = $1 FOR UPDATE OF s")
    };
    Ok(with_tx!(tx, conn => {
        sqlx::query_as::<_, SessionRecord>(sql).bind(session_id).fetch_optional(&mut *conn).await
    })?)
}

/// Sessions waiting for an agent, oldest handoff first.
pub async fn list_queue(db: &Db) -> Result<Vec<SessionRecord>, StoreError> {
    let sql = select_sessions!(
        "WHERE s.state = 'HUMAN' AND s.assigned_admin_id IS NULL ORDER BY s.queued_at, s.id"
    );
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, SessionRecord>(sql).fetch_all(pool).await
    })?)
}

/// Sessions held by `agent` (by any agent when `None`), most recently active first.
pub async fn list_active(
    db: &Db,
    agent: Option<AgentId>,
) -> Result<Vec<SessionRecord>, StoreError> {
    let sql = select_sessions!(
        "WHERE s.state = 'HUMAN' AND s.assigned_admin_id IS NOT NULL \
         AND ($1 IS NULL OR s.assigned_admin_id = $1) ORDER BY s.updated_at DESC, s.id DESC"
    );
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, SessionRecord>(sql).bind(agent).fetch_all(pool).await
    })?)
}

/// All sessions, newest first, one page at a time.
pub async fn list_all(db: &Db, limit: i64, offset: i64) -> Result<Vec<SessionRecord>, StoreError> {
    let sql = select_sessions!("ORDER BY s.id DESC LIMIT $1 OFFSET $2");
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, SessionRecord>(sql).bind(limit).bind(offset).fetch_all(pool).await
    })?)
}

/// `$1` is always NULL here: a queued session has no agent.
const HAND_OFF: &str = "UPDATE chat_sessions SET state = 'HUMAN', assigned_admin_id = $1, \
    queued_at = $2, updated_at = $2 WHERE session_id = $3 AND state = 'AI' RETURNING id";

/// Moves an assistant session into the human queue, stamped with `now` as its place in line.
/// `None`: the session is not with the assistant (already handed off, closed, or unknown).
pub async fn hand_off(
    tx: &mut Tx,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    update_then_read(tx, HAND_OFF, None, now, session_id).await
}

/// SQLite serialises writers, so the plain conditional UPDATE is atomic.
const CLAIM_SQLITE: &str = "UPDATE chat_sessions SET state = 'HUMAN', assigned_admin_id = $1, updated_at = $2 \
    WHERE session_id = $3 AND assigned_admin_id IS NULL AND state <> 'CLOSED' RETURNING id";
/// PostgreSQL: the row is picked with SKIP LOCKED, so concurrent claimers never queue behind
/// each other's locks; the losers simply find no row.
const CLAIM_POSTGRES: &str = "UPDATE chat_sessions SET state = 'HUMAN', assigned_admin_id = $1, updated_at = $2 \
    WHERE id = (SELECT id FROM chat_sessions WHERE session_id = $3 AND assigned_admin_id IS NULL \
    AND state <> 'CLOSED' FOR UPDATE SKIP LOCKED) RETURNING id";

/// Assigns the session to `agent` if nobody holds it and it is open. `None`: someone else won,
/// it is closed, or it does not exist.
pub async fn claim(
    tx: &mut Tx,
    session_id: SessionId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    let sql = if tx.is_sqlite() {
        CLAIM_SQLITE
    } else {
        CLAIM_POSTGRES
    };
    update_then_read(tx, sql, Some(agent), now, session_id).await
}

const CLOSE: &str = "UPDATE chat_sessions SET state = 'CLOSED', closed_at = $2, updated_at = $2 \
    WHERE session_id = $3 AND state <> 'CLOSED' AND (assigned_admin_id IS NULL OR assigned_admin_id = $1) \
    RETURNING id";

/// Closes the session if it is open and `agent` holds it (or nobody does).
pub async fn close(
    tx: &mut Tx,
    session_id: SessionId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    update_then_read(tx, CLOSE, Some(agent), now, session_id).await
}

/// The holder puts the session back in the queue; it keeps its original place in line (a
/// session taken straight from the assistant joins now).
const RELEASE: &str = "UPDATE chat_sessions SET assigned_admin_id = NULL, queued_at = COALESCE(queued_at, $2), \
    updated_at = $2 WHERE session_id = $3 AND state = 'HUMAN' AND assigned_admin_id = $1 RETURNING id";

pub async fn release(
    tx: &mut Tx,
    session_id: SessionId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    update_then_read(tx, RELEASE, Some(agent), now, session_id).await
}

/// The holder hands the session back to the assistant.
const RETURN_TO_AI: &str = "UPDATE chat_sessions SET state = 'AI', assigned_admin_id = NULL, queued_at = NULL, \
    updated_at = $2 WHERE session_id = $3 AND state = 'HUMAN' AND assigned_admin_id = $1 RETURNING id";

pub async fn return_to_ai(
    tx: &mut Tx,
    session_id: SessionId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<Option<SessionRecord>, StoreError> {
    update_then_read(tx, RETURN_TO_AI, Some(agent), now, session_id).await
}

/// How many sessions wait for an agent, as seen inside `tx`.
pub async fn queue_size(tx: &mut Tx) -> Result<usize, StoreError> {
    let count: i64 = with_tx!(tx, conn => {
        sqlx::query_scalar("SELECT COUNT(*) FROM chat_sessions WHERE state = 'HUMAN' AND assigned_admin_id IS NULL")
            .fetch_one(&mut *conn)
            .await
    })?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The 1-based place of a waiting session in the queue; `None` if it is not waiting.
pub async fn queue_position(db: &Db, session_id: SessionId) -> Result<Option<usize>, StoreError> {
    let position: Option<i64> = with_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM chat_sessions q WHERE q.state = 'HUMAN' AND q.assigned_admin_id IS NULL \
               AND (q.queued_at < s.queued_at OR (q.queued_at = s.queued_at AND q.id <= s.id))) \
             FROM chat_sessions s WHERE s.session_id = $1 AND s.state = 'HUMAN' AND s.assigned_admin_id IS NULL",
        )
        .bind(session_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(position.and_then(|p| usize::try_from(p).ok()))
}

/// Runs a conditional UPDATE binding `($1 agent, $2 now, $3 session_id)` that returns the row id,
/// and reads the updated session, inside `tx`.
async fn update_then_read(
    tx: &mut Tx,
    update: &'static str,
    agent: Option<AgentId>,
    now: DateTime<Utc>,
    session_id: SessionId,
) -> Result<Option<SessionRecord>, StoreError> {
    with_tx!(tx, conn => {
        let id: Option<SessionKey> = sqlx::query_scalar(update)
            .bind(agent)
            .bind(now)
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await?;
        match id {
            Some(id) => Ok(Some(
                sqlx::query_as::<_, SessionRecord>(BY_ID)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?,
            )),
            None => Ok::<_, StoreError>(None),
        }
    })
    .inspect(|updated| {
        if let Some(session) = updated {
            tx.session_changed(session.id);
        }
    })
}
