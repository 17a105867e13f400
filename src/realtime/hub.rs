//! Who is connected to this node: each customer socket under its session, each agent socket
//! under its agent. Delivery writes into a socket's bounded queue and never waits: a socket whose
//! queue is full is disconnected (a slow consumer must not hold memory or delay anyone else).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::session::AdminId;
use crate::store::{self, Db};
use crate::ws::protocol::{AgentEvent, ClientEvent, QueuedSession};

/// Frames one socket may have waiting to be written before it counts as a slow consumer.
pub const OUTBOUND_CAPACITY: usize = 256;

/// Identifies one socket, unique across nodes.
pub type ConnId = Uuid;

/// Who should receive a frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Audience {
    /// One socket (an `ack` for the sender of a message).
    Connection { conn: ConnId },
    /// Every socket of a customer's session (all their tabs), except `except`.
    Session {
        session_id: Uuid,
        except: Option<ConnId>,
    },
    /// Every socket of one agent, except `except`.
    Agent {
        admin_id: AdminId,
        except: Option<ConnId>,
    },
    /// Every agent socket, except those of `except_admin`.
    Agents { except_admin: Option<AdminId> },
}

/// What a socket's writer sends next.
#[derive(Debug)]
pub enum Outbound {
    /// A frame; `message_id` when it carries a stored message (so a resuming socket can skip
    /// what it was already replayed).
    Text(Utf8Bytes, Option<i64>),
    /// Send a Close frame with this code and reason, then stop.
    Close(u16, &'static str),
}

/// The sending half of one socket's outbound queue.
#[derive(Clone, Debug)]
pub struct Peer {
    pub id: ConnId,
    tx: mpsc::Sender<Outbound>,
    /// Cancelled when the socket must go: its queue overflowed, or its writer stopped.
    pub kicked: CancellationToken,
}

impl Peer {
    /// A new peer and the receiving end its writer drains.
    pub fn new() -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let peer = Self {
            id: Uuid::new_v4(),
            tx,
            kicked: CancellationToken::new(),
        };
        (peer, rx)
    }

    /// Queues a frame without waiting. A full queue disconnects the socket.
    pub fn send(&self, frame: impl Into<Utf8Bytes>) {
        self.send_message(frame.into(), None);
    }

    fn send_message(&self, frame: Utf8Bytes, message_id: Option<i64>) {
        match self.tx.try_send(Outbound::Text(frame, message_id)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(conn = %self.id, "outbound queue full: disconnecting slow consumer");
                self.kicked.cancel();
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Asks the writer to close the socket with `code`.
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.tx.try_send(Outbound::Close(code, reason)).is_err() {
            self.kicked.cancel();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    Session(Uuid),
    Agent(AdminId),
}

#[derive(Default)]
struct Registry {
    sockets: HashMap<Key, Vec<Peer>>,
    by_conn: HashMap<ConnId, Peer>,
    /// The newest message delivered to each session's sockets, to resynchronise from.
    last_message: HashMap<Uuid, i64>,
}

/// The sockets connected to this node.
pub struct Hub {
    registry: Mutex<Registry>,
    db: Db,
}

/// Keeps a socket registered; dropping it unregisters.
pub struct Registration {
    hub: Arc<Hub>,
    key: Key,
    id: ConnId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = self.hub.lock();
        registry.by_conn.remove(&self.id);
        if let Some(peers) = registry.sockets.get_mut(&self.key) {
            peers.retain(|p| p.id != self.id);
            if peers.is_empty() {
                registry.sockets.remove(&self.key);
                if let Key::Session(session_id) = self.key {
                    registry.last_message.remove(&session_id);
                }
            }
        }
    }
}

impl Hub {
    pub fn new(db: Db) -> Self {
        Self {
            registry: Mutex::default(),
            db,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(self: &Arc<Self>, key: Key, peer: &Peer) -> Registration {
        let mut registry = self.lock();
        registry.sockets.entry(key).or_default().push(peer.clone());
        registry.by_conn.insert(peer.id, peer.clone());
        drop(registry);
        Registration {
            hub: Arc::clone(self),
            key,
            id: peer.id,
        }
    }

    /// Registers a customer's socket for `session_id`, which has seen messages up to
    /// `last_message_id`.
    pub fn register_client(
        self: &Arc<Self>,
        session_id: Uuid,
        peer: &Peer,
        last_message_id: i64,
    ) -> Registration {
        let registration = self.register(Key::Session(session_id), peer);
        self.saw_message(session_id, last_message_id);
        registration
    }

    /// Records that `session_id`'s sockets have seen messages up to `message_id` (the point a
    /// resynchronisation replays from).
    pub fn saw_message(&self, session_id: Uuid, message_id: i64) {
        let mut registry = self.lock();
        if let Some(last) = registry.last_message.get_mut(&session_id) {
            *last = (*last).max(message_id);
        } else if registry.sockets.contains_key(&Key::Session(session_id)) {
            registry.last_message.insert(session_id, message_id);
        }
    }

    /// Registers one of an agent's sockets.
    pub fn register_agent(self: &Arc<Self>, admin_id: AdminId, peer: &Peer) -> Registration {
        self.register(Key::Agent(admin_id), peer)
    }

    /// How many sockets this node holds for a session (for tests and metrics).
    pub fn client_sockets(&self, session_id: Uuid) -> usize {
        self.lock()
            .sockets
            .get(&Key::Session(session_id))
            .map_or(0, Vec::len)
    }

    /// Writes `frame` into the queue of every local socket in `audience`.
    pub fn deliver(&self, audience: &Audience, frame: &Utf8Bytes, message_id: Option<i64>) {
        let mut registry = self.lock();
        if let (Audience::Session { session_id, .. }, Some(id)) = (audience, message_id)
            && let Some(last) = registry.last_message.get_mut(session_id)
        {
            *last = (*last).max(id);
        }
        let registry = &*registry;
        let send_all = |peers: &[Peer], except: Option<ConnId>| {
            for peer in peers.iter().filter(|p| Some(p.id) != except) {
                peer.send_message(frame.clone(), message_id);
            }
        };
        match *audience {
            Audience::Connection { conn } => {
                if let Some(peer) = registry.by_conn.get(&conn) {
                    peer.send_message(frame.clone(), message_id);
                }
            }
            Audience::Session { session_id, except } => {
                if let Some(peers) = registry.sockets.get(&Key::Session(session_id)) {
                    send_all(peers, except);
                }
            }
            Audience::Agent { admin_id, except } => {
                if let Some(peers) = registry.sockets.get(&Key::Agent(admin_id)) {
                    send_all(peers, except);
                }
            }
            Audience::Agents { except_admin } => {
                for (key, peers) in &registry.sockets {
                    if matches!(key, Key::Agent(id) if Some(*id) != except_admin) {
                        send_all(peers, None);
                    }
                }
            }
        }
    }

    /// The queue changed: every local agent gets `queue_update`, every local waiting customer
    /// a `waiting` frame with their new position.
    pub async fn queue_changed(&self) {
        let queue = match store::sessions::list_queue(&self.db).await {
            Ok(queue) => queue,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the queue to announce it");
                return;
            }
        };
        let update: Utf8Bytes = AgentEvent::QueueUpdate {
            queue_size: queue.len(),
            queued_sessions: queue.iter().map(QueuedSession::from).collect(),
        }
        .to_frame();
        self.deliver(&Audience::Agents { except_admin: None }, &update, None);
        for (index, session) in queue.iter().enumerate() {
            let frame = ClientEvent::waiting(session.session_id, index + 1).to_frame();
            self.deliver(
                &Audience::Session {
                    session_id: session.session_id,
                    except: None,
                },
                &frame,
                None,
            );
        }
    }

    /// After events may have been missed (the event connection dropped): sends every local
    /// customer the messages stored since the last one delivered, and a closed session's
    /// `session_closed`; refreshes everyone's view of the queue.
    pub async fn resync(&self) {
        let sessions: Vec<(Uuid, i64)> = self
            .lock()
            .last_message
            .iter()
            .map(|(s, l)| (*s, *l))
            .collect();
        for (session_id, last) in sessions {
            let Ok(Some(session)) = store::sessions::find(&self.db, session_id).await else {
                continue;
            };
            let audience = Audience::Session {
                session_id,
                except: None,
            };
            if let Ok(missed) = store::messages::list(&self.db, session.id, last, 1000).await {
                for message in missed {
                    let frame = ClientEvent::message(session_id, &message, None).to_frame();
                    self.deliver(&audience, &frame, Some(message.id));
                }
            }
            if session.state == crate::domain::session::SessionState::Closed {
                let frame = ClientEvent::SessionClosed {
                    message: "This conversation has been closed.".into(),
                    session_id,
                }
                .to_frame();
                self.deliver(&audience, &frame, None);
            }
        }
        self.queue_changed().await;
    }
}
