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
#[derive(Debug, Clone)]
pub enum Audience {
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
    Text(Utf8Bytes),
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
        match self.tx.try_send(Outbound::Text(frame.into())) {
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
        if let Some(peers) = registry.sockets.get_mut(&self.key) {
            peers.retain(|p| p.id != self.id);
            if peers.is_empty() {
                registry.sockets.remove(&self.key);
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
        self.lock()
            .sockets
            .entry(key)
            .or_default()
            .push(peer.clone());
        Registration {
            hub: Arc::clone(self),
            key,
            id: peer.id,
        }
    }

    /// Registers a customer's socket for `session_id`.
    pub fn register_client(self: &Arc<Self>, session_id: Uuid, peer: &Peer) -> Registration {
        self.register(Key::Session(session_id), peer)
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
    pub fn deliver(&self, audience: &Audience, frame: &Utf8Bytes) {
        let registry = self.lock();
        let send_all = |peers: &[Peer], except: Option<ConnId>| {
            for peer in peers.iter().filter(|p| Some(p.id) != except) {
                peer.send(frame.clone());
            }
        };
        match *audience {
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
        self.deliver(&Audience::Agents { except_admin: None }, &update);
        for (index, session) in queue.iter().enumerate() {
            let frame = ClientEvent::waiting(session.session_id, index + 1).to_frame();
            self.deliver(
                &Audience::Session {
                    session_id: session.session_id,
                    except: None,
                },
                &frame,
            );
        }
    }
}
