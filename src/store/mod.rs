//! Persistence: one [`Db`] over typed sqlx pools, SQLite (the embedded default) or PostgreSQL.
//!
//! Each table has its own query module. Queries are written once with `$n` placeholders, which
//! both drivers accept, and run on whichever pool is configured through [`with_pool!`]; where the
//! two dialects differ a module holds one statement per backend. Migrations live in
//! `migrations/sqlite` and `migrations/postgres` and are kept in lock-step: a unit test compares
//! the file names, and `tests/api/schema.rs` builds both databases and compares their schemas.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;

use crate::domain::ids::SessionKey;
use writer::{AfterCommit, WriteTx, Writer};

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`. The body is compiled once per
/// backend, so sqlx's typed drivers (and their native types) are used on both.
/// For reads: on SQLite, `$pool` is the pool of read-only connections (writes go through
/// [`with_write!`] or a [`Tx`]).
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(sqlite) => {
                let $pool = &sqlite.read;
                $body
            }
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` (a `&mut Tx`).
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::TxConn::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Runs `$body`, one writing statement (giving a `Result<_, sqlx::Error>`), with `$conn` as its
/// executor: on SQLite a one-statement write on the one writer (see [`writer`]),
/// committed if the body succeeds; on PostgreSQL the pool (the statement commits by itself).
/// A change of several statements opens a [`Tx`] instead.
macro_rules! with_write {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(sqlite) => {
                let mut tx = sqlite.write_statement().await?;
                let $conn = &mut *tx;
                let result = $body;
                if result.is_ok() {
                    tx.commit(None).await?;
                }
                result
            }
            $crate::store::Db::Postgres($conn) => $body,
        }
    };
}

pub mod admins;
pub mod batch;
pub mod bus_payloads;
pub mod messages;
pub mod rate_limits;
pub mod refresh_tokens;
pub mod sessions;
pub mod writer;

/// When SQLite makes a commit durable: `Full` syncs the write-ahead log at every commit (a
/// batch of writes), so an acknowledged message survives a power loss; `Normal` syncs only at
/// checkpoints (an application crash loses nothing, a power loss may lose the last commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    Full,
    Normal,
}

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits on a lock held by another writer.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pages of write-ahead log after which a commit copies it into the database file (SQLite's
/// default is 1,000). Messages rewrite the same hot index pages over and over: a longer log
/// copies each of them once per checkpoint instead of once per 1,000 pages written, so the
/// writer stalls in checkpoints a fraction as often, for about as long each time.
const WAL_AUTOCHECKPOINT: &str = "10000";

/// The database, chosen from `DATABASE_URL` at start-up.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Sqlite),
    Postgres(PgPool),
}

/// A SQLite database: read-only pooled connections for reads, one writer for writes.
#[derive(Clone)]
pub struct Sqlite {
    pub read: SqlitePool,
    writer: Arc<Writer>,
}

impl Sqlite {
    /// A write transaction on the writer.
    pub(crate) async fn write(&self) -> Result<WriteTx, StoreError> {
        self.writer.begin().await
    }

    /// Stores a message with the writer's next batch (see [`Writer::append`]).
    pub(crate) async fn append(
        &self,
        message: messages::Append,
        events: writer::AppendEvents,
    ) -> Result<messages::Inserted, StoreError> {
        self.writer.append(message, events).await
    }

    /// A write of one statement on the writer (see [`Writer::begin_statement`]).
    pub(crate) async fn write_statement(&self) -> Result<WriteTx, StoreError> {
        self.writer.begin_statement().await
    }
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

/// What went wrong talking to the database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; the caller may retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique constraint refused the write; carries the constraint or index name.
    #[error("unique constraint violated: {0}")]
    Duplicate(String),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // PostgreSQL names the constraint; SQLite puts the index in the message.
                Self::Duplicate(db.constraint().unwrap_or(db.message()).to_owned())
            }
            sqlx::Error::Database(db)
                if is_sqlite_busy(db.code().as_deref())
                    || is_postgres_unavailable(db.code().as_deref()) =>
            {
                Self::Unavailable(err)
            }
            _ => Self::Other(err),
        }
    }
}

/// A store failure as the use cases see it.
#[derive(Debug)]
pub enum Failure {
    /// The database is unreachable or overloaded (logged here): retry later.
    Unavailable,
    /// Anything else: a bug or a broken database.
    Internal(anyhow::Error),
}

impl StoreError {
    pub fn failure(self) -> Failure {
        match self {
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Failure::Unavailable
            }
            other => Failure::Internal(other.into()),
        }
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included: another writer held the
/// lock past the busy timeout.
fn is_sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// A write transaction. Changes that other parties must hear about are made in one, and their
/// events are published with it (see `realtime::Bus::commit`). It notes which sessions it
/// changed, so that copies of them kept in memory can be dropped once it commits.
pub struct Tx {
    pub conn: TxConn,
    changed: Vec<SessionKey>,
}

/// The connection of a [`Tx`], per backend.
pub enum TxConn {
    Sqlite(WriteTx),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    fn new(conn: TxConn) -> Self {
        Self {
            conn,
            changed: Vec::new(),
        }
    }

    /// Whether it runs on SQLite (for the statements that differ per dialect).
    pub fn is_sqlite(&self) -> bool {
        matches!(self.conn, TxConn::Sqlite(_))
    }

    /// Notes that this transaction changes session `key` (the store's session writes call it).
    pub(crate) fn session_changed(&mut self, key: SessionKey) {
        if !self.changed.contains(&key) {
            self.changed.push(key);
        }
    }

    /// The sessions this transaction changes.
    pub fn changed_sessions(&self) -> &[SessionKey] {
        &self.changed
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.conn {
            TxConn::Sqlite(tx) => tx.commit(None).await?,
            TxConn::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Commits, then runs `after` — on SQLite in commit order with the other writes of its
    /// batch, before any later one's, even if the caller stops waiting.
    pub async fn commit_then(self, after: AfterCommit) -> Result<(), StoreError> {
        match self.conn {
            TxConn::Sqlite(tx) => tx.commit(Some(after)).await?,
            TxConn::Postgres(tx) => {
                tx.commit().await?;
                after();
            }
        }
        Ok(())
    }
}

/// PostgreSQL's connection exceptions (class 08) and shutdown states (57P01 admin shutdown,
/// 57P02 crash shutdown, 57P03 cannot connect now): the server is going or not there yet.
fn is_postgres_unavailable(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
}

impl Db {
    /// Starts a write transaction. On SQLite, writers take turns on the one writing
    /// connection, and commits are grouped (see [`writer`]).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx::new(match self {
            Self::Sqlite(sqlite) => TxConn::Sqlite(sqlite.write().await?),
            Self::Postgres(pool) => TxConn::Postgres(pool.begin().await?),
        }))
    }

    /// Opens `url` (`sqlite:` or `postgres://`). SQLite files are created when missing and
    /// run in WAL mode with a busy timeout and foreign keys on: one writing connection (see
    /// [`writer`]) syncing as `sync` says, and a pool of read-only ones.
    pub async fn connect(url: &str, sync: SqliteSync) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(url)
                .await?;
            return Ok(Self::Postgres(pool));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        // The writer first: it creates the file and switches it to WAL, which the read-only
        // connections need.
        let writer = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT)
            .connect()
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self::Sqlite(Sqlite {
            read,
            writer: Arc::new(Writer::new(writer)),
        }))
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(sqlite) => {
                let mut conn = sqlite.writer.exclusive().await?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&mut *conn)
                    .await?
            }
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Name of the backend, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(sqlite) => {
                sqlite.read.close().await;
                sqlite.writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// `url` with its database name replaced by `name` (query parameters kept): how the test suite
/// and the load tool give each run a database of its own on one PostgreSQL server.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn migration_names(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    #[test]
    fn database_names_are_swapped_in_urls() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[test]
    fn migrations_are_in_lock_step() {
        let sqlite = migration_names("migrations/sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migration_names("migrations/postgres"));
    }

    #[test]
    fn sqlite_busy_codes_are_recognised() {
        assert!(super::is_sqlite_busy(Some("5")));
        assert!(super::is_sqlite_busy(Some("517"))); // SQLITE_BUSY_SNAPSHOT
        assert!(super::is_sqlite_busy(Some("6")));
        assert!(!super::is_sqlite_busy(Some("19"))); // SQLITE_CONSTRAINT
        assert!(!super::is_sqlite_busy(None));
        assert!(super::is_postgres_unavailable(Some("57P01")));
        assert!(super::is_postgres_unavailable(Some("08006")));
        assert!(!super::is_postgres_unavailable(Some("23505")));
    }
}
