//! The event bus: publishers hand events to one dispatcher task per node, which delivers them
//! through the [`Hub`] in publication order. With SQLite the bus is in-process.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::{Audience, Hub};

/// Events waiting for the dispatcher; publishers wait (briefly) when it falls behind.
const BUS_CAPACITY: usize = 4096;

/// Something connected parties should learn about.
#[derive(Debug, Clone)]
pub enum Event {
    /// A ready-made frame for an audience.
    Frame {
        audience: Audience,
        frame: Utf8Bytes,
    },
    /// The queue changed: agents get `queue_update`, waiting customers their new position.
    QueueChanged,
}

impl Event {
    pub fn frame(audience: Audience, frame: impl Into<Utf8Bytes>) -> Self {
        Self::Frame {
            audience,
            frame: frame.into(),
        }
    }
}

/// Hands events to this node's dispatcher.
#[derive(Clone)]
pub struct Bus {
    tx: mpsc::Sender<Event>,
}

impl Bus {
    /// Starts the dispatcher for `hub`; it runs until `shutdown` is cancelled.
    pub fn start(hub: Arc<Hub>, shutdown: CancellationToken) -> Self {
        let (tx, mut rx) = mpsc::channel::<Event>(BUS_CAPACITY);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = rx.recv() => event,
                    () = shutdown.cancelled() => None,
                };
                let Some(event) = event else { break };
                match event {
                    Event::Frame { audience, frame } => hub.deliver(&audience, &frame),
                    Event::QueueChanged => hub.queue_changed().await,
                }
            }
        });
        Self { tx }
    }

    /// Publishes events, in order. Call only after the change they report has committed.
    pub async fn publish(&self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            if self.tx.send(event).await.is_err() {
                // The dispatcher stops only at shutdown; nobody is left to tell.
                return;
            }
        }
    }
}
