//! What each node does with the events it receives from the bus: frames go straight to its
//! sockets; "the queue changed" becomes `queue_update` for its agents and `waiting` positions
//! for its waiting customers; after events may have been missed, its sockets are brought up to
//! date from the database. The hub only delivers; these reads and frames are use cases.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{frames, session_audience};
use crate::domain::session::SessionState;
use crate::protocol::ClientEvent;
use crate::realtime::{Audience, Event, EventHandler, Hub};
use crate::store::{self, Db};

/// Most messages replayed to one session's sockets after a resynchronisation.
const RESYNC_MESSAGES: i64 = 1000;

pub(super) struct Delivery {
    db: Db,
    hub: Arc<Hub>,
}

impl Delivery {
    pub(super) fn new(db: Db, hub: Arc<Hub>) -> Self {
        Self { db, hub }
    }

    /// Every local agent gets `queue_update`, every local waiting customer a `waiting` frame
    /// with their new position.
    async fn queue_changed(&self) {
        let queue = match store::sessions::list_queue(&self.db).await {
            Ok(queue) => queue,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the queue to announce it");
                return;
            }
        };
        let update = frames::queue_update(&queue).to_frame();
        self.hub
            .deliver(&Audience::Agents { except_admin: None }, &update, None);
        for (index, session) in queue.iter().enumerate() {
            let frame =
                ClientEvent::waiting(session.session_id, index + 1, session.language()).to_frame();
            self.hub
                .deliver(&session_audience(session.session_id), &frame, None);
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
        self.queue_changed().await;
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
            Event::QueueChanged => self.queue_changed().boxed(),
        }
    }

    fn resync(&self) -> BoxFuture<'_, ()> {
        self.resynchronise().boxed()
    }
}
