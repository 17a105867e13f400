//! What each node does with the events it receives from the bus: frames go straight to its
//! sockets; a change to the queue updates the node's copy of it and becomes `queue_update` for
//! its agents and `waiting` positions for the customers whose place in line changed; after
//! events may have been missed, its sockets are brought up to date from the database. The hub
//! only delivers; these reads and frames are use cases.

use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{frames, session_audience};
use crate::domain::session::SessionState;
use crate::protocol::ClientEvent;
use crate::realtime::{Audience, Effect, Event, EventHandler, Hub, Queue, QueueChange};
use crate::store::{self, Db};

/// Most messages replayed to one session's sockets after a resynchronisation.
const RESYNC_MESSAGES: i64 = 1000;

pub(super) struct Delivery {
    db: Db,
    hub: Arc<Hub>,
    /// This node's copy of the queue, kept from the bus's changes; `None` until it is read.
    queue: Mutex<Option<Queue>>,
}

impl Delivery {
    pub(super) fn new(db: Db, hub: Arc<Hub>) -> Self {
        Self {
            db,
            hub,
            queue: Mutex::new(None),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Option<Queue>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a change to this node's copy of the queue and tells whoever it concerns.
    async fn queue_changed(&self, change: QueueChange) {
        {
            let mut queue = self.queue();
            if let Some(queue) = queue.as_mut() {
                if let Effect::MovedFrom(from) = queue.apply(change) {
                    self.announce(queue, from);
                }
                return;
            }
        }
        // Not read yet: the database already holds this change (it committed before its event
        // was sent), and the changes after it will be applied to what is read now.
        self.reload_queue().await;
    }

    /// Reads the queue from the database and tells every local agent and waiting customer.
    async fn reload_queue(&self) {
        let records = match store::sessions::list_queue(&self.db).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the queue to announce it");
                return;
            }
        };
        let queue = Queue::new(records.iter().map(frames::queue_entry).collect());
        self.announce(&queue, 0);
        *self.queue() = Some(queue);
    }

    /// Local agents get the queue, and local waiting customers from place `from` on their new
    /// place in line. Both are latest values: a socket that has not written the previous one
    /// yet gets only the newest.
    fn announce(&self, queue: &Queue, from: usize) {
        let entries = queue.entries();
        if self.hub.has_agents() {
            let update = frames::queue_update(entries).to_frame();
            self.hub
                .deliver_latest(&Audience::Agents { except_admin: None }, &update);
        }
        for (index, entry) in entries.iter().enumerate().skip(from) {
            if self.hub.client_sockets(entry.session_id) == 0 {
                continue;
            }
            let frame =
                ClientEvent::waiting(entry.session_id, index + 1, entry.language).to_frame();
            self.hub
                .deliver_latest(&session_audience(entry.session_id), &frame);
        }
    }

    /// Sends every local customer the messages stored since the last one delivered, and a
    /// closed session's `session_closed`; refreshes everyone's view of the queue.
    async fn resynchronise(&self) {
        for (session_id, last) in self.hub.delivered() {
            let Ok(Some(session)) = store::sessions::find(&self.db, session_id).await else {
                continue;
            };
            let audience = session_audience(session_id);
            let missed = store::messages::list(&self.db, session.id, last, RESYNC_MESSAGES).await;
            for message in missed.unwrap_or_default() {
                let frame = frames::client_message(session_id, &message, None).to_frame();
                self.hub.deliver(&audience, &frame, Some(message.id));
            }
            if session.state == SessionState::Closed {
                let frame = ClientEvent::session_closed(session_id, session.language()).to_frame();
                self.hub.deliver(&audience, &frame, None);
            }
        }
        self.reload_queue().await;
    }
}

impl EventHandler for Delivery {
    fn handle(&self, event: Event) -> BoxFuture<'_, ()> {
        match event {
            Event::Frame {
                audience,
                frame,
                message_id,
            } => {
                self.hub.deliver(&audience, &frame, message_id);
                std::future::ready(()).boxed()
            }
            Event::Queue(change) => self.queue_changed(change).boxed(),
        }
    }

    fn resync(&self) -> BoxFuture<'_, ()> {
        self.resynchronise().boxed()
    }
}
