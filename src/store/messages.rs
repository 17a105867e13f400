//! Queries on `messages`: appending (idempotently, by the client's message id) and reading a
//! session's history, oldest first.

use chrono::{DateTime, Utc};

use super::{Db, StoreError, Tx};
use crate::domain::ids::{AgentId, MessageId, SessionId, SessionKey};
use crate::domain::session::SenderType;

/// A stored chat message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: MessageId,
    #[sqlx(try_from = "String")]
    pub sender_type: SenderType,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// A message to append.
pub struct NewMessage<'a> {
    pub session: SessionKey,
    pub sender: SenderType,
    pub sender_admin_id: Option<AgentId>,
    pub content: &'a str,
    /// The sender's own id for the message; a repeat with the same id is stored once.
    pub client_msg_id: Option<&'a str>,
    /// JSON the assistant's provider needs echoed back later (see [`HistoryRecord`]).
    pub provider_data: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

/// Whether [`insert`] stored the message or found it stored already.
#[derive(Debug, Clone)]
pub enum Inserted {
    New(MessageRecord),
    Repeat(MessageRecord),
}

impl Inserted {
    pub fn record(&self) -> &MessageRecord {
        match self {
            Self::New(r) | Self::Repeat(r) => r,
        }
    }
}

const COLUMNS: &str = "id, sender_type, content, created_at";

/// Appends a message. With a `client_msg_id` already stored for this session, nothing is
/// written and the earlier message is returned as [`Inserted::Repeat`].
pub async fn insert(tx: &mut Tx, message: &NewMessage<'_>) -> Result<Inserted, StoreError> {
    let mut inserted = insert_all(tx, &[message.to_append()]).await?;
    Ok(inserted.pop().expect("one message in, one out"))
}

/// A message ready for [`insert_all`], which stores several in one statement (SQLite's writer
/// and PostgreSQL's batches queue them, see [`super::writer`]).
pub struct Append {
    /// The message as a JSON object, one element of the array [`INSERT_ROWS_SQLITE`] and
    /// [`INSERT_ROWS_POSTGRES`] read.
    row: String,
    session: SessionKey,
    client_msg_id: Option<String>,
}

impl NewMessage<'_> {
    pub fn to_append(&self) -> Append {
        let row = serde_json::json!({
            "s": self.session,
            "t": self.sender.as_str(),
            "a": self.sender_admin_id,
            "c": self.content,
            "m": self.client_msg_id,
            // As sqlx writes a timestamp to SQLite, so that it reads back the same.
            "d": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            "p": self.provider_data,
        });
        Append {
            row: row.to_string(),
            session: self.session,
            client_msg_id: self.client_msg_id.map(str::to_owned),
        }
    }
}

/// Inserts the rows of a JSON array of [`Append`]s, in order, skipping repeats (a `client_msg_id`
/// already stored for the session); one statement per dialect.
const INSERT_ROWS_SQLITE: &str = "INSERT INTO messages (session_id, sender_type, sender_admin_id, content, client_msg_id, created_at, provider_data) \
    SELECT value ->> 's', value ->> 't', value ->> 'a', value ->> 'c', value ->> 'm', value ->> 'd', value ->> 'p' \
    FROM json_each($1) WHERE true ORDER BY key \
    ON CONFLICT (session_id, client_msg_id) DO NOTHING \
    RETURNING id, sender_type, content, created_at, session_id, client_msg_id";
const INSERT_ROWS_POSTGRES: &str = "INSERT INTO messages (session_id, sender_type, sender_admin_id, content, client_msg_id, created_at, provider_data) \
    SELECT (v ->> 's')::bigint, v ->> 't', (v ->> 'a')::bigint, v ->> 'c', v ->> 'm', (v ->> 'd')::timestamptz, v ->> 'p' \
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY n \
    ON CONFLICT (session_id, client_msg_id) DO NOTHING \
    RETURNING id, sender_type, content, created_at, session_id, client_msg_id";

/// A row [`INSERT_ROWS_SQLITE`] / [`INSERT_ROWS_POSTGRES`] returns.
#[derive(sqlx::FromRow)]
pub(super) struct Stored {
    #[sqlx(flatten)]
    record: MessageRecord,
    session_id: SessionKey,
    client_msg_id: Option<String>,
}

/// Stores `messages` in one statement, in order, inside `tx`; for each, the message stored or
/// the one stored before with its `client_msg_id` (before, or earlier in `messages`).
pub async fn insert_all(tx: &mut Tx, messages: &[Append]) -> Result<Vec<Inserted>, StoreError> {
    Ok(with_tx!(tx, conn => insert_all_on(conn, messages).await)?)
}

/// [`insert_all`] on a connection: SQLite's writer has its own.
pub(super) async fn insert_all_on<C, DB>(
    conn: &mut C,
    messages: &[Append],
) -> Result<Vec<Inserted>, sqlx::Error>
where
    C: Send,
    DB: sqlx::Database,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    SessionKey: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Stored: for<'r> sqlx::FromRow<'r, DB::Row>,
    MessageRecord: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    let sql = if DB::NAME == <sqlx::Sqlite as sqlx::Database>::NAME {
        INSERT_ROWS_SQLITE
    } else {
        INSERT_ROWS_POSTGRES
    };
    let mut rows =
        String::with_capacity(messages.iter().map(|m| m.row.len() + 1).sum::<usize>() + 2);
    rows.push('[');
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            rows.push(',');
        }
        rows.push_str(&message.row);
    }
    rows.push(']');
    let mut stored: Vec<Stored> = sqlx::query_as(sql).bind(rows).fetch_all(&mut *conn).await?;
    // Ids grow in insertion order, which is the array's: the stored rows, in id order, are the
    // messages that were not repeats, in order.
    stored.sort_by_key(|s| s.record.id);
    let mut stored = stored.into_iter().peekable();
    let mut inserted = Vec::with_capacity(messages.len());
    for message in messages {
        let new = stored.next_if(|s| {
            s.session_id == message.session && s.client_msg_id == message.client_msg_id
        });
        inserted.push(match new {
            Some(s) => Inserted::New(s.record),
            None => Inserted::Repeat(
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND client_msg_id = $2"
                )))
                .bind(message.session)
                .bind(message.client_msg_id.as_deref())
                .fetch_one(&mut *conn)
                .await?,
            ),
        });
    }
    Ok(inserted)
}

/// Messages of the session `session` whose id is greater than `after`,
/// oldest first, at most `limit`.
pub async fn list(
    db: &Db,
    session: SessionKey,
    after: MessageId,
    limit: i64,
) -> Result<Vec<MessageRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ));
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, MessageRecord>(sql)
            .bind(session)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}

/// The id of the session's newest message (0 when it has none).
pub async fn last_id(db: &Db, session: SessionKey) -> Result<MessageId, StoreError> {
    let id: Option<MessageId> = with_pool!(db, pool => {
        sqlx::query_scalar("SELECT MAX(id) FROM messages WHERE session_id = $1")
            .bind(session)
            .fetch_one(pool)
            .await
    })?;
    Ok(id.unwrap_or(MessageId(0)))
}

/// Messages stored after `after` in the sessions `agent` holds, oldest first, with the
/// session they belong to.
pub async fn after_for_agent(
    db: &Db,
    agent: AgentId,
    after: MessageId,
) -> Result<Vec<(SessionId, String, MessageRecord)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        session_uuid: SessionId,
        client_name: String,
        #[sqlx(flatten)]
        message: MessageRecord,
    }
    let rows: Vec<Row> = with_pool!(db, pool => {
        sqlx::query_as::<_, Row>(
            "SELECT s.session_id AS session_uuid, c.name AS client_name, m.id, m.sender_type, m.content, m.created_at \
             FROM messages m JOIN chat_sessions s ON s.id = m.session_id JOIN client_info c ON c.id = s.client_info_id \
             WHERE s.assigned_admin_id = $1 AND s.state = 'HUMAN' AND m.id > $2 ORDER BY m.id LIMIT 10000",
        )
        .bind(agent)
        .bind(after)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| (r.session_uuid, r.client_name, r.message))
        .collect())
}

/// A message as the assistant sees it in the conversation's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRecord {
    #[sqlx(try_from = "String")]
    pub sender_type: SenderType,
    pub content: String,
    /// What the provider that wrote this message needs echoed back, as JSON.
    pub provider_data: Option<String>,
}

/// The latest `count` messages of a session, oldest first.
pub async fn recent(
    db: &Db,
    session: SessionKey,
    count: i64,
) -> Result<Vec<HistoryRecord>, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, HistoryRecord>(
            "SELECT sender_type, content, provider_data FROM \
             (SELECT id, sender_type, content, provider_data FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2) AS latest \
             ORDER BY id",
        )
        .bind(session)
        .bind(count)
        .fetch_all(pool)
        .await
    })?)
}
