//! What each node does with the events it receives from the bus: frames go straight to its
//! sockets; a change to the queue updates the node's copy of it and becomes `queue_update` for
//! its agents and `waiting` positions for the customers whose place in line changed; after
//! events may have been missed, its sockets are brought up to date from the database. The hub
//! only delivers; these reads and frames are use cases.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::session_cache::SessionCache;
use super::{frames, session_audience};
use crate::domain::session::SessionState;
use crate::protocol::ClientEvent;
use crate::realtime::{Audience, Effect, Event, EventHandler, Hub, Queue, QueueChange};
use crate::store::{self, Db};

/// Most messages replayed to one session's sockets after a resynchronisation.
const RESYNC_MESSAGES: i64 = 1000;

/// Agents' `queue_update` and customers' `waiting` go out at most this often per node: each
/// states the whole current value, so during a burst of hand-offs and claims a node sends one
/// per interval rather than one per change (500 hand-offs claimed by 10 agents would otherwise
/// send every agent a thousand full copies of a queue up to 500 long).
const ANNOUNCE_EVERY: Duration = Duration::from_millis(50);

pub(super) struct Delivery {
    db: Db,
    /// The node's copies of sessions, dropped when the bus says they changed.
    sessions: Arc<SessionCache>,
    /// The node's sockets (`view.hub`) and its copy of the queue.
    view: Arc<QueueView>,
}

/// This node's copy of the queue and what it still has to tell about it.
struct QueueView {
    hub: Arc<Hub>,
    state: Mutex<ViewState>,
}

#[derive(Default)]
struct ViewState {
    /// Kept from the bus's changes; `None` until it is read.
    queue: Option<Queue>,
    /// Changed since the last announcement: places in line from this index on moved.
    moved_from: Option<usize>,
    /// An announcement is scheduled.
    scheduled: bool,
    last_announced: Option<Instant>,
}

impl Delivery {
    pub(super) fn new(db: Db, hub: Arc<Hub>, sessions: Arc<SessionCache>) -> Self {
        let view = Arc::new(QueueView {
            hub,
            state: Mutex::default(),
        });
        Self { db, sessions, view }
    }

    /// Applies a change to this node's copy of the queue; whoever it concerns hears of it
    /// with the next announcement.
    async fn queue_changed(&self, change: QueueChange) {
        {
            let mut state = self.view.lock();
            if let Some(queue) = state.queue.as_mut() {
                if let Effect::MovedFrom(from) = queue.apply(change) {
                    self.view.moved(&mut state, from);
                }
                return;
            }
        }
        // Not read yet: the database already holds this change (it committed before its event
        // was sent), and the changes after it will be applied to what is read now.
        self.reload_queue().await;
    }

    /// Reads the queue from the database; every local agent and waiting customer hears of it.
    async fn reload_queue(&self) {
        let records = match store::sessions::list_queue(&self.db).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the queue to announce it");
                return;
            }
        };
        let queue = Queue::new(records.iter().map(frames::queue_entry).collect());
        let mut state = self.view.lock();
        state.queue = Some(queue);
        self.view.moved(&mut state, 0);
    }

    /// Sends every local customer the messages stored since the last one delivered, and a
    /// closed session's `session_closed`; refreshes everyone's view of the queue.
    async fn resynchronise(&self) {
        self.sessions.clear();
        for (session_id, last) in self.view.hub.delivered() {
            let Ok(Some(session)) = store::sessions::find(&self.db, session_id).await else {
                continue;
            };
            let audience = session_audience(session_id);
            let missed = store::messages::list(&self.db, session.id, last, RESYNC_MESSAGES).await;
            for message in missed.unwrap_or_default() {
                let frame = frames::client_message(session_id, &message, None).to_frame();
                self.view.hub.deliver(&audience, &frame, Some(message.id));
            }
            if session.state == SessionState::Closed {
                let frame = ClientEvent::session_closed(session_id, session.language()).to_frame();
                self.view.hub.deliver(&audience, &frame, None);
            }
        }
        self.reload_queue().await;
    }
}

impl QueueView {
    fn lock(&self) -> MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that places from `from` on moved, and schedules an announcement: at once if the
    /// last one is older than [`ANNOUNCE_EVERY`], else when it will be.
    fn moved(self: &Arc<Self>, state: &mut ViewState, from: usize) {
        state.moved_from = Some(state.moved_from.map_or(from, |f| f.min(from)));
        if state.scheduled {
            return;
        }
        state.scheduled = true;
        let wait = state.last_announced.map_or(Duration::ZERO, |last| {
            (last + ANNOUNCE_EVERY).saturating_duration_since(Instant::now())
        });
        let view = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            view.announce();
        });
    }

    /// Local agents get the queue, and local waiting customers whose place moved their new
    /// place in line. Both are latest values: a socket that has not written the previous one
    /// yet gets only the newest.
    fn announce(&self) {
        let mut state = self.lock();
        state.scheduled = false;
        state.last_announced = Some(Instant::now());
        let moved_from = state.moved_from.take();
        let (Some(queue), Some(from)) = (&state.queue, moved_from) else {
            return;
        };
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
}

impl EventHandler for Delivery {
    fn handle(&self, event: Event) -> BoxFuture<'_, ()> {
        match event {
            Event::Frame {
                audience,
                frame,
                message_id,
            } => {
                self.view.hub.deliver(&audience, &frame, message_id);
                std::future::ready(()).boxed()
            }
            Event::Queue(change) => self.queue_changed(change).boxed(),
            Event::SessionsChanged { sessions } => {
                self.sessions.forget(&sessions);
                std::future::ready(()).boxed()
            }
        }
    }

    fn resync(&self) -> BoxFuture<'_, ()> {
        self.resynchronise().boxed()
    }
}
