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
//! Messages, the most frequent write, do not take the connection one at a time: they queue
//! ([`Writer::append`]) without waiting for it, and whoever next holds the connection (the
//! flusher, or a write transaction before its own statements) stores every queued message in
//! one statement, in queue order, so a message's id and its events keep their order relative to
//! every other write.
//!
//! A write transaction dropped without committing is rolled back to its savepoint before the
//! connection is used again, leaving the others in the batch untouched. A write of one
//! statement takes no savepoint (SQLite undoes a failed statement by itself) and, like a
//! statement in autocommit, stays once executed.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};

use sqlx::SqliteConnection;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use super::StoreError;
use super::batch::{Batch, Outcome, Reply};
use super::messages::{self, Append, Inserted};

/// Most writes committed together; the batch commits sooner when nobody else is queued.
const MAX_BATCH: usize = 1024;

/// Work to do once the change is committed (publishing its events), in commit order.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// What publishes a queued message once it is committed, made from what was stored.
pub type AppendEvents = Box<dyn FnOnce(&Inserted) -> Option<AfterCommit> + Send>;

/// The writing connection, shared by every [`WriteTx`].
pub struct Writer {
    state: Arc<Mutex<State>>,
    appends: Arc<AppendQueue>,
    wake_flusher: Arc<Notify>,
}

/// Messages waiting to be stored, oldest first.
type AppendQueue = Batch<(Append, AppendEvents), Inserted>;

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
    done: Done,
    after: Option<AfterCommit>,
}

/// Whom to tell the outcome of a batch.
enum Done {
    Write(Reply<()>),
    Append(Reply<Inserted>, Inserted),
}

impl Done {
    fn send(self, outcome: &Result<(), String>) {
        match self {
            Self::Write(done) => {
                let _ = done.send(outcome.clone());
            }
            Self::Append(done, inserted) => {
                let _ = done.send(outcome.clone().map(|()| inserted));
            }
        }
    }
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
        let appends = Arc::new(AppendQueue::default());
        let wake_flusher = Arc::new(Notify::new());
        tokio::spawn(flusher(
            Arc::downgrade(&state),
            Arc::clone(&appends),
            Arc::clone(&wake_flusher),
        ));
        Self {
            state,
            appends,
            wake_flusher,
        }
    }

    /// Stores a message with the next batch and waits for its COMMIT; `events`, given what was
    /// stored (the message, or the one stored before with its `client_msg_id`), says what to
    /// publish after it, in commit order. Queued, it is stored even if the caller goes away.
    pub async fn append(
        &self,
        message: Append,
        events: AppendEvents,
    ) -> Result<Inserted, StoreError> {
        self.appends
            .submit((message, events), &self.wake_flusher)
            .await
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
        // Messages queued before this write are stored before it.
        state.store_appends(&self.appends).await;
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
        state.store_appends(&self.appends).await;
        state.flush().await;
        Ok(Exclusive(state))
    }

    /// Commits what is pending (at shutdown) and refuses writes from then on. The connection
    /// itself closes when the last handle to the database is dropped.
    pub async fn close(&self) {
        let mut state = self.state.lock().await;
        state.end_batch(&self.appends).await;
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

    /// Rolls back an abandoned write, if any, stores the queued messages and commits the
    /// batch.
    async fn end_batch(&mut self, appends: &AppendQueue) {
        if let Err(err) = self.settle().await {
            tracing::warn!(error = %err, "could not roll back an abandoned write");
        }
        self.store_appends(appends).await;
        self.flush().await;
    }

    /// Stores the queued messages in the batch, in one statement (per [`MAX_BATCH`]), and
    /// queues each for the COMMIT with its events. If that fails, the whole batch is rolled
    /// back and fails: the statement may have stored some of them.
    async fn store_appends(&mut self, appends: &AppendQueue) {
        loop {
            let queued = appends.take(MAX_BATCH);
            if queued.is_empty() {
                return;
            }
            let (messages, waiters): (Vec<Append>, Vec<_>) = queued
                .into_iter()
                .map(|((message, events), done)| (message, (events, done)))
                .unzip();
            match self.insert_all(&messages).await {
                Ok(inserted) => {
                    for ((events, done), inserted) in waiters.into_iter().zip(inserted) {
                        let after = events(&inserted);
                        self.waiting.push(Waiting {
                            done: Done::Append(done, inserted),
                            after,
                        });
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, messages = messages.len(), "could not store queued messages");
                    self.fail_batch(&Err(err.to_string())).await;
                    for (_, done) in waiters {
                        let _ = done.send(Err(err.to_string()));
                    }
                }
            }
        }
    }

    async fn insert_all(&mut self, messages: &[Append]) -> Result<Vec<Inserted>, sqlx::Error> {
        if !self.open {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut self.conn)
                .await?;
            self.open = true;
        }
        messages::insert_all_on(&mut self.conn, messages).await
    }

    /// Rolls the batch back: every write waiting for it fails with `outcome`.
    async fn fail_batch(&mut self, outcome: &Result<(), String>) {
        if self.open {
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
            self.open = false;
        }
        for waiting in self.waiting.drain(..) {
            waiting.done.send(outcome);
        }
    }

    /// Commits the batch: each write waiting for it learns the outcome, and after a success
    /// each one's after-commit step runs, oldest first.
    async fn flush(&mut self) {
        if !self.open {
            return;
        }
        if let Err(err) = sqlx::query("COMMIT").execute(&mut self.conn).await {
            tracing::warn!(error = %err, writes = self.waiting.len(), "a batch of writes failed to commit");
            // Leave no transaction open whatever state the failure left behind.
            self.fail_batch(&Err(err.to_string())).await;
            return;
        }
        self.open = false;
        for waiting in self.waiting.drain(..) {
            if let Some(after) = waiting.after {
                after();
            }
            waiting.done.send(&Ok(()));
        }
    }
}

/// Commits batches that nobody else will: woken by the first write of a batch (and by an
/// abandoned one), it queues for the connection behind the writers already waiting, so their
/// writes join the batch before it commits.
async fn flusher(state: Weak<Mutex<State>>, appends: Arc<AppendQueue>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(state) = state.upgrade() else { return };
        state.lock().await.end_batch(&appends).await;
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
        let (done, outcome) = Outcome::channel();
        state.waiting.push(Waiting {
            done: Done::Write(done),
            after,
        });
        if state.waiting.len() >= MAX_BATCH {
            state.flush().await;
        } else if state.waiting.len() == 1 {
            self.wake_flusher.notify_one();
        }
        drop(state);
        outcome.wait().await
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::client_info::{ClientName, Email, NewClientInfo, Phone};
    use crate::domain::session::SenderType;
    use crate::store::messages::NewMessage;
    use crate::store::{Db, SqliteSync, sessions};

    impl Writer {
        fn queued(&self) -> usize {
            self.appends.waiting()
        }
    }

    /// Messages queued while the connection is busy are stored by one statement, in queue
    /// order; a repeated `client_msg_id` (even within the batch) is stored once.
    #[tokio::test]
    async fn queued_messages_are_stored_together_in_order_and_repeats_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url, SqliteSync::Normal).await.unwrap();
        db.migrate().await.unwrap();
        let client = NewClientInfo {
            name: ClientName::parse("Ana").unwrap(),
            email: Email::parse("ana@example.com").unwrap(),
            phone: Phone::parse("+1234567890").unwrap(),
        };
        let session = sessions::create(&db, &client, None, Utc::now())
            .await
            .unwrap();
        let Db::Sqlite(sqlite) = &db else {
            unreachable!()
        };

        let held = sqlite.writer.exclusive().await.unwrap();
        let ids = [Some("a"), None, Some("a"), Some("b"), None];
        let mut appends = Vec::new();
        for (i, client_msg_id) in ids.into_iter().enumerate() {
            let message = NewMessage {
                session: session.id,
                sender: SenderType::Client,
                sender_admin_id: None,
                content: &format!("message {i}"),
                client_msg_id,
                provider_data: None,
                created_at: Utc::now(),
            }
            .to_append();
            let queue = sqlite.clone();
            appends.push(tokio::spawn(async move {
                queue.append(message, Box::new(|_| None)).await
            }));
            // Queued in this order.
            while sqlite.writer.queued() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut stored = Vec::new();
        for append in appends {
            stored.push(append.await.unwrap().unwrap());
        }

        let new: Vec<_> = stored
            .iter()
            .filter_map(|s| match s {
                Inserted::New(r) => Some((r.id, r.content.as_str())),
                Inserted::Repeat(_) => None,
            })
            .collect();
        let contents: Vec<_> = new.iter().map(|(_, c)| *c).collect();
        assert_eq!(
            contents,
            ["message 0", "message 1", "message 3", "message 4"]
        );
        assert!(
            new.windows(2).all(|w| w[0].0 < w[1].0),
            "ids in queue order"
        );
        match &stored[2] {
            Inserted::Repeat(r) => assert_eq!(r.content, "message 0"),
            Inserted::New(r) => panic!("a repeat was stored again: {r:?}"),
        }
        let history =
            crate::store::messages::list(&db, session.id, crate::domain::ids::MessageId(0), 10)
                .await
                .unwrap();
        assert_eq!(history.len(), 4);
        db.close().await;
    }
}
