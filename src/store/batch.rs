//! A queue of items one task handles together (a batch per turn), each caller waiting for the
//! outcome of its own item: SQLite's writer and PostgreSQL's message batches use it, and the
//! writer's transactions wait for their COMMIT through [`Outcome`] too.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::StoreError;

/// Items waiting for their batch, oldest first.
pub struct Batch<T, R> {
    items: Mutex<Vec<(T, Reply<R>)>>,
}

/// Where an item's outcome goes; a failure travels as its message.
pub type Reply<R> = oneshot::Sender<Result<R, String>>;

impl<T, R> Default for Batch<T, R> {
    fn default() -> Self {
        Self {
            items: Mutex::default(),
        }
    }
}

impl<T, R> Batch<T, R> {
    fn lock(&self) -> MutexGuard<'_, Vec<(T, Reply<R>)>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`; `true` with it when the queue was empty.
    fn push(&self, item: T) -> (Outcome<R>, bool) {
        let (reply, outcome) = Outcome::channel();
        let mut items = self.lock();
        items.push((item, reply));
        (outcome, items.len() == 1)
    }

    /// Queues `item`, wakes its handler if the queue was empty, and waits for the outcome.
    pub async fn submit(&self, item: T, handler: &tokio::sync::Notify) -> Result<R, StoreError> {
        let (outcome, first) = self.push(item);
        if first {
            handler.notify_one();
        }
        outcome.wait().await
    }

    /// The oldest `max` items.
    pub fn take(&self, max: usize) -> Vec<(T, Reply<R>)> {
        let mut items = self.lock();
        let take = items.len().min(max);
        items.drain(..take).collect()
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }
}

/// The outcome of one queued item.
pub struct Outcome<R>(oneshot::Receiver<Result<R, String>>);

impl<R> Outcome<R> {
    /// A reply and the outcome it will carry.
    pub fn channel() -> (Reply<R>, Self) {
        let (reply, outcome) = oneshot::channel();
        (reply, Self(outcome))
    }

    /// Waits for it: a failure of its batch, or a handler gone, is "unavailable".
    pub async fn wait(self) -> Result<R, StoreError> {
        match self.0.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(unavailable(message)),
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
        }
    }
}

/// A batch's failure as its callers see it.
fn unavailable(message: String) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(message)))
}
