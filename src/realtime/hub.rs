//! Who is connected to this node: each customer socket under its session, each agent socket
//! under its agent. Delivery writes ready frames into a socket's bounded queue and never waits: a
//! socket whose queue is full is disconnected (a slow consumer must not hold memory or delay
//! anyone else). The hub reads nothing and builds no frame: what to send is the core's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::ids::{AgentId, MessageId, SessionId};
use crate::protocol::{Close, Frame};

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
        session_id: SessionId,
        except: Option<ConnId>,
    },
    /// Every socket of one agent, except `except`.
    Agent {
        admin_id: AgentId,
        except: Option<ConnId>,
    },
    /// Every agent socket, except those of `except_admin`.
    Agents { except_admin: Option<AgentId> },
}

/// What a socket's writer sends next.
#[derive(Debug)]
pub enum Outbound {
    /// A frame; `message_id` when it carries a stored message (so a resuming socket can skip
    /// what it was already replayed).
    Text(Frame, Option<MessageId>),
    /// Send this Close frame, then stop.
    Close(Close),
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
    pub fn send(&self, frame: impl Into<Frame>) {
        self.send_message(frame.into(), None);
    }

    fn send_message(&self, frame: Frame, message_id: Option<MessageId>) {
        match self.tx.try_send(Outbound::Text(frame, message_id)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(conn = %self.id, "outbound queue full: disconnecting slow consumer");
                self.kicked.cancel();
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Asks the writer to close the socket with `close`.
    pub fn close(&self, close: Close) {
        if self.tx.try_send(Outbound::Close(close)).is_err() {
            self.kicked.cancel();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    Session(SessionId),
    Agent(AgentId),
}

#[derive(Default)]
struct Registry {
    sockets: HashMap<Key, Vec<Peer>>,
    by_conn: HashMap<ConnId, Peer>,
    /// The newest message delivered to each session's sockets, to resynchronise from.
    last_message: HashMap<SessionId, MessageId>,
}

/// The sockets connected to this node.
#[derive(Default)]
pub struct Hub {
    registry: Mutex<Registry>,
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
        session_id: SessionId,
        peer: &Peer,
        last_message_id: MessageId,
    ) -> Registration {
        let registration = self.register(Key::Session(session_id), peer);
        self.saw_message(session_id, last_message_id);
        registration
    }

    /// Records that `session_id`'s sockets have seen messages up to `message_id` (the point a
    /// resynchronisation replays from).
    pub fn saw_message(&self, session_id: SessionId, message_id: MessageId) {
        let mut registry = self.lock();
        if let Some(last) = registry.last_message.get_mut(&session_id) {
            *last = (*last).max(message_id);
        } else if registry.sockets.contains_key(&Key::Session(session_id)) {
            registry.last_message.insert(session_id, message_id);
        }
    }

    /// Registers one of an agent's sockets.
    pub fn register_agent(self: &Arc<Self>, admin_id: AgentId, peer: &Peer) -> Registration {
        self.register(Key::Agent(admin_id), peer)
    }

    /// How many sockets this node holds for a session (for tests and metrics).
    pub fn client_sockets(&self, session_id: SessionId) -> usize {
        self.lock()
            .sockets
            .get(&Key::Session(session_id))
            .map_or(0, Vec::len)
    }

    /// Writes `frame` into the queue of every local socket in `audience`.
    pub fn deliver(&self, audience: &Audience, frame: &Frame, message_id: Option<MessageId>) {
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

    /// The sessions with sockets here, each with the newest message its sockets were sent:
    /// where a resynchronisation starts.
    pub fn delivered(&self) -> Vec<(SessionId, MessageId)> {
        self.lock()
            .last_message
            .iter()
            .map(|(session, last)| (*session, *last))
            .collect()
    }
}
