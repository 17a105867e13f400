//! Who is connected to this node: each customer socket under its session, each agent socket
//! under its agent. Delivery writes ready frames into a socket's bounded queue and never waits: a
//! socket whose queue is full is disconnected (a slow consumer must not hold memory or delay
//! anyone else). The hub reads nothing and builds no frame: what to send is the core's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::outbox::{Kind, Outbox, Refused};
use crate::domain::ids::{AgentId, MessageId, SessionId};
use crate::protocol::{Close, Frame};

/// Frames a customer's socket may have waiting to be written before it counts as a slow
/// consumer.
pub const CLIENT_OUTBOX: usize = 256;
/// The same for an agent's socket, which hears of every hand-off and claim: a burst of hundreds
/// of hand-offs must not cut off an agent whose connection is merely busy.
pub const AGENT_OUTBOX: usize = 2048;

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

/// One socket as the hub sees it: where its frames go.
#[derive(Clone)]
pub struct Peer {
    pub id: ConnId,
    outbox: Arc<Outbox>,
    /// Cancelled when the socket must go: its queue overflowed, or its writer stopped.
    pub kicked: CancellationToken,
}

impl Peer {
    /// A new peer whose outbox holds up to `capacity` frames (its writer drains
    /// [`Peer::outbox`]).
    pub fn new(capacity: usize) -> Self {
        Self {
            id: Uuid::new_v4(),
            outbox: Arc::new(Outbox::new(capacity)),
            kicked: CancellationToken::new(),
        }
    }

    /// What the socket's writer drains.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Queues a frame without waiting. A full queue disconnects the socket.
    pub fn send(&self, frame: impl Into<Frame>) {
        self.push(frame.into(), None, Kind::Each);
    }

    fn push(&self, frame: Frame, message_id: Option<MessageId>, kind: Kind) {
        if let Err(Refused::Full) = self.outbox.push(frame, message_id, kind) {
            if !self.kicked.is_cancelled() {
                tracing::warn!(conn = %self.id, "outbound queue full: disconnecting slow consumer");
            }
            self.kicked.cancel();
        }
    }

    /// Asks the writer to close the socket with `close`.
    pub fn close(&self, close: Close) {
        self.outbox.close(close);
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    Session(SessionId),
    Agent(AgentId),
}

#[derive(Default)]
struct Registry {
    /// Customers' sockets by session, agents' by agent: apart, so a message for every agent
    /// does not walk past every customer.
    sessions: HashMap<SessionId, Vec<Peer>>,
    agents: HashMap<AgentId, Vec<Peer>>,
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
        let id = self.id;
        let gone = |peers: &mut Vec<Peer>| {
            peers.retain(|p| p.id != id);
            peers.is_empty()
        };
        match self.key {
            Key::Session(session_id) => {
                if registry.sessions.get_mut(&session_id).is_some_and(gone) {
                    registry.sessions.remove(&session_id);
                    registry.last_message.remove(&session_id);
                }
            }
            Key::Agent(agent) => {
                if registry.agents.get_mut(&agent).is_some_and(gone) {
                    registry.agents.remove(&agent);
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
        let peers = match key {
            Key::Session(session_id) => registry.sessions.entry(session_id).or_default(),
            Key::Agent(agent) => registry.agents.entry(agent).or_default(),
        };
        peers.push(peer.clone());
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
        } else if registry.sessions.contains_key(&session_id) {
            registry.last_message.insert(session_id, message_id);
        }
    }

    /// Registers one of an agent's sockets.
    pub fn register_agent(self: &Arc<Self>, admin_id: AgentId, peer: &Peer) -> Registration {
        self.register(Key::Agent(admin_id), peer)
    }

    /// How many sockets this node holds for a session.
    pub fn client_sockets(&self, session_id: SessionId) -> usize {
        self.lock().sessions.get(&session_id).map_or(0, Vec::len)
    }

    /// Whether any agent is connected to this node.
    pub fn has_agents(&self) -> bool {
        !self.lock().agents.is_empty()
    }

    /// Writes `frame` into the queue of every local socket in `audience`.
    pub fn deliver(&self, audience: &Audience, frame: &Frame, message_id: Option<MessageId>) {
        self.deliver_as(audience, frame, message_id, Kind::Each);
    }

    /// Gives every local socket in `audience` the latest value of something (the queue, a
    /// place in it): it replaces the previous value if that is still waiting to be written.
    pub fn deliver_latest(&self, audience: &Audience, frame: &Frame) {
        self.deliver_as(audience, frame, None, Kind::Latest);
    }

    fn deliver_as(
        &self,
        audience: &Audience,
        frame: &Frame,
        message_id: Option<MessageId>,
        kind: Kind,
    ) {
        let mut registry = self.lock();
        if let (Audience::Session { session_id, .. }, Some(id)) = (audience, message_id)
            && let Some(last) = registry.last_message.get_mut(session_id)
        {
            *last = (*last).max(id);
        }
        let registry = &*registry;
        let send_all = |peers: &[Peer], except: Option<ConnId>| {
            for peer in peers.iter().filter(|p| Some(p.id) != except) {
                peer.push(frame.clone(), message_id, kind);
            }
        };
        match *audience {
            Audience::Connection { conn } => {
                if let Some(peer) = registry.by_conn.get(&conn) {
                    peer.push(frame.clone(), message_id, kind);
                }
            }
            Audience::Session { session_id, except } => {
                if let Some(peers) = registry.sessions.get(&session_id) {
                    send_all(peers, except);
                }
            }
            Audience::Agent { admin_id, except } => {
                if let Some(peers) = registry.agents.get(&admin_id) {
                    send_all(peers, except);
                }
            }
            Audience::Agents { except_admin } => {
                for (agent, peers) in &registry.agents {
                    if Some(*agent) != except_admin {
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
