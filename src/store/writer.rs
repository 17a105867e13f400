//! SQLite's one writer, with group commit.
//!
//! SQLite lets one connection write at a time. Instead of pooled connections queueing for its
//! lock (each write its own transaction, each wait a sleep in SQLite's busy handler), every
//! write goes through this one connection: a write transaction is a savepoint inside a batch
//! transaction, and the batch commits once for every write that queued meanwhile. The caller of
//! [`WriteTx::commit`] returns only after the COMMIT that holds its change, so an
//! acknowledgement still means "stored" (and, with `synchronous=FULL`, "on disk"); its
//! after-commit step (publishing events) runs in commit order, before any later batch.
//!
//! A write transaction dropped without committing is rolled back to its savepoint before the
//! connection is used again, leaving the others in the batch untouched. A write of one
//! statement takes no savepoint (SQLite undoes a failed statement by itself) and, like a
//! statement in autocommit, stays once executed.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};

use sqlx::SqliteConnection;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use super::StoreError;

/// Most writes committed together; the batch commits sooner when nobody else is queued.
const MAX_BATCH: usize = 1024;

/// Work to do once the change is committed (publishing its events), in commit order.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// The writing connection, shared by every [`WriteTx`].
pub struct Writer {
    state: Arc<Mutex<State>>,
    wake_flusher: Arc<Notify>,
}

struct State {
    conn: SqliteConnection,
    /// A batch transaction is open on the connection.
    open: bool,
    /// A write transaction was dropped without committing: its savepoint is still open.
    abandoned: bool,
    /// Writes released into the batch, waiting for its COMMIT, oldest first.
    waiting: Vec<Waiting>,
    /// The database was closed: no more writes.
    closed: bool,
}

struct Waiting {
    done: oneshot::Sender<Result<(), String>>,
    after: Option<AfterCommit>,
}

impl Writer {
    /// Takes `conn` as the one writing connection and starts the task that commits batches
    /// when no writer is queued behind the last one.
    pub fn new(conn: SqliteConnection) -> Self {
        let state = Arc::new(Mutex::new(State {
            conn,
            open: false,
            abandoned: false,
            waiting: Vec::new(),
            closed: false,
        }));
        let wake_flusher = Arc::new(Notify::new());
        tokio::spawn(flusher(Arc::downgrade(&state), Arc::clone(&wake_flusher)));
        Self {
            state,
            wake_flusher,
        }
    }

    /// Starts a write transaction: waits for the connection (writers take turns in arrival
    /// order), then opens a savepoint in the current batch.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        self.start(Scope::Savepoint).await
    }

    /// Starts a write of one statement. It needs no savepoint: SQLite undoes a failed
    /// statement by itself without ending the transaction. Like a statement in autocommit, it
    /// is committed once executed, even if its caller goes away before [`WriteTx::commit`].
    pub async fn begin_statement(&self) -> Result<WriteTx, StoreError> {
        self.start(Scope::Statement).await
    }

    async fn start(&self, scope: Scope) -> Result<WriteTx, StoreError> {
        let mut state = Arc::clone(&self.state).lock_owned().await;
        if state.closed {
            return Err(StoreError::Unavailable(sqlx::Error::PoolClosed));
        }
        state.settle().await?;
        // One round trip to the connection's thread for both, when a batch starts.
        let sql = match (state.open, scope) {
            (false, Scope::Savepoint) => Some("BEGIN IMMEDIATE; SAVEPOINT w"),
            (false, Scope::Statement) => Some("BEGIN IMMEDIATE"),
            (true, Scope::Savepoint) => Some("SAVEPOINT w"),
            (true, Scope::Statement) => None,
        };
        if let Some(sql) = sql
            && let Err(err) = sqlx::query(sql).execute(&mut state.conn).await
        {
            // Nothing of this write happened; the flusher commits (or ends) the batch.
            drop(state);
            self.wake_flusher.notify_one();
            return Err(err.into());
        }
        state.open = true;
        Ok(WriteTx {
            state: Some(state),
            scope,
            wake_flusher: Arc::clone(&self.wake_flusher),
        })
    }

    /// The connection outside any batch (for migrations), once what is pending is committed.
    pub async fn exclusive(&self) -> Result<Exclusive, StoreError> {
        let mut state = Arc::clone(&self.state).lock_owned().await;
        state.settle().await?;
        state.flush().await;
        Ok(Exclusive(state))
    }

    /// Commits what is pending (at shutdown) and refuses writes from then on. The connection
    /// itself closes when the last handle to the database is dropped.
    pub async fn close(&self) {
        let mut state = self.state.lock().await;
        state.end_batch().await;
        state.closed = true;
    }
}

/// The writing connection, held outside any batch.
pub struct Exclusive(OwnedMutexGuard<State>);

impl Deref for Exclusive {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.0.conn
    }
}

impl DerefMut for Exclusive {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0.conn
    }
}

impl State {
    /// Rolls back the savepoint of a write transaction that was dropped.
    async fn settle(&mut self) -> Result<(), StoreError> {
        if self.abandoned {
            sqlx::query("ROLLBACK TO w; RELEASE w")
                .execute(&mut self.conn)
                .await?;
            self.abandoned = false;
        }
        Ok(())
    }

    /// Rolls back an abandoned write, if any, and commits the rest of the batch.
    async fn end_batch(&mut self) {
        if let Err(err) = self.settle().await {
            tracing::warn!(error = %err, "could not roll back an abandoned write");
        }
        self.flush().await;
    }

    /// Commits the batch: each write waiting for it learns the outcome, and after a success
    /// each one's after-commit step runs, oldest first.
    async fn flush(&mut self) {
        if !self.open {
            return;
        }
        let committed = sqlx::query("COMMIT").execute(&mut self.conn).await;
        self.open = false;
        let outcome = match committed {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, writes = self.waiting.len(), "a batch of writes failed to commit");
                // Leave no transaction open whatever state the failure left behind.
                let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
                Err(err.to_string())
            }
        };
        for waiting in self.waiting.drain(..) {
            if outcome.is_ok()
                && let Some(after) = waiting.after
            {
                after();
            }
            let _ = waiting.done.send(outcome.clone());
        }
    }
}

/// Commits batches that nobody else will: woken by the first write of a batch (and by an
/// abandoned one), it queues for the connection behind the writers already waiting, so their
/// writes join the batch before it commits.
async fn flusher(state: Weak<Mutex<State>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(state) = state.upgrade() else { return };
        state.lock().await.end_batch().await;
    }
}

/// One write transaction on the writer: queries run on it as on a connection (it derefs to
/// one); [`WriteTx::commit`] or drop (rollback) ends it.
pub struct WriteTx {
    state: Option<OwnedMutexGuard<State>>,
    scope: Scope,
    wake_flusher: Arc<Notify>,
}

/// What a write transaction can undo.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Several statements, in a savepoint: dropping the transaction rolls them back.
    Savepoint,
    /// One statement, which SQLite makes atomic by itself.
    Statement,
}

impl WriteTx {
    /// Makes the changes part of the batch and waits until the batch is committed; `after`
    /// runs right after that COMMIT, before any later write's.
    pub async fn commit(mut self, after: Option<AfterCommit>) -> Result<(), StoreError> {
        let Some(mut state) = self.state.take() else {
            return Ok(());
        };
        if self.scope == Scope::Savepoint
            && let Err(err) = sqlx::query("RELEASE w").execute(&mut state.conn).await
        {
            state.abandoned = true;
            drop(state);
            self.wake_flusher.notify_one();
            return Err(err.into());
        }
        let (done, outcome) = oneshot::channel();
        state.waiting.push(Waiting { done, after });
        if state.waiting.len() >= MAX_BATCH {
            state.flush().await;
        } else if state.waiting.len() == 1 {
            self.wake_flusher.notify_one();
        }
        drop(state);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other(message),
            ))),
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.state.as_ref().expect("an open write transaction").conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.state.as_mut().expect("an open write transaction").conn
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            // A savepoint is rolled back before the connection is used again; a statement
            // stays, like one in autocommit. Either way the flusher ends the batch.
            state.abandoned = self.scope == Scope::Savepoint;
            drop(state);
            self.wake_flusher.notify_one();
        }
    }
}
