//! PostgreSQL: messages stored in batches. PostgreSQL lets the transactions that send
//! notifications commit one at a time; a transaction per message made that lock the limit on
//! messages per second and let any other load on the server stretch every message's wait. Here
//! a node's messages queue without waiting; one task stores everything queued in one
//! transaction — one INSERT, one statement for all the events, one COMMIT — then tells each
//! sender, and takes the next batch (what queued meanwhile).

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::bus::{Event, notify_all_in};
use crate::store::batch::{Batch, Reply};
use crate::store::messages::{Append, Inserted};
use crate::store::{self, Db, StoreError};

/// Most messages stored by one transaction.
const MAX_BATCH: usize = 1024;

/// What to publish about a stored message, made from what was stored.
pub type MessageEvents = Box<dyn FnOnce(&Inserted) -> Vec<Event> + Send>;

/// The node's queue of messages waiting to be stored.
pub struct Appends {
    queue: Batch<(Append, MessageEvents), Inserted>,
    wake: Notify,
}

impl Appends {
    /// Starts the task that stores the queue on `db`; it stores what is queued at `shutdown`,
    /// then ends.
    pub fn start(db: Db, shutdown: CancellationToken) -> Arc<Self> {
        let appends = Arc::new(Self {
            queue: Batch::default(),
            wake: Notify::new(),
        });
        tokio::spawn(run(Arc::clone(&appends), db, shutdown));
        appends
    }

    /// Stores `message` with the next batch and publishes what `events` makes of it; returns
    /// once that transaction committed. Queued, it is stored even if the caller goes away.
    pub async fn append(
        &self,
        message: Append,
        events: MessageEvents,
    ) -> Result<Inserted, StoreError> {
        self.queue.submit((message, events), &self.wake).await
    }
}

async fn run(appends: Arc<Appends>, db: Db, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            () = appends.wake.notified() => false,
            () = shutdown.cancelled() => true,
        };
        loop {
            let queued = appends.queue.take(MAX_BATCH);
            if queued.is_empty() {
                break;
            }
            store_batch(&db, queued).await;
        }
        if stopping {
            return;
        }
    }
}

/// Stores one batch and its events in one transaction, and tells each sender the outcome.
async fn store_batch(db: &Db, queued: Vec<((Append, MessageEvents), Reply<Inserted>)>) {
    let (messages, waiters): (Vec<Append>, Vec<_>) = queued
        .into_iter()
        .map(|((message, events), done)| (message, (events, done)))
        .unzip();
    let mut events = Vec::with_capacity(messages.len() * 2);
    let mut dones = Vec::with_capacity(messages.len());
    let stored = async {
        let mut tx = db.begin().await?;
        let inserted = store::messages::insert_all(&mut tx, &messages).await?;
        for ((make_events, done), inserted) in waiters.into_iter().zip(&inserted) {
            events.extend(make_events(inserted));
            dones.push(done);
        }
        notify_all_in(&mut tx, &events).await?;
        tx.commit().await?;
        Ok::<_, StoreError>(inserted)
    }
    .await;
    match stored {
        Ok(inserted) => {
            for (done, inserted) in dones.into_iter().zip(inserted) {
                let _ = done.send(Ok(inserted));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, messages = messages.len(), "could not store a batch of messages");
            // Senders whose waiter was not reached yet are told by its drop (unavailable).
            for done in dones {
                let _ = done.send(Err(err.to_string()));
            }
        }
    }
}
