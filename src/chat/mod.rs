//! The use cases of a conversation: open, message, hand off, claim, release, return to the
//! assistant, close — and the reads and socket openings that go with them. This is the one place
//! that changes (and reads) sessions and messages and publishes their events, in the same
//! transaction as the change (see `realtime::Bus::commit`), so they reach every node if and only
//! if it committed. REST handlers and socket tasks both call [`Chat`], so an action has the same
//! effect on every connected party whichever way it arrives.
//!
//! It knows nothing of HTTP or sockets: it returns its own [`Error`] and builds `protocol`
//! frames, which the adapters carry.

mod assistant;
mod claim_turns;
mod client_tokens;
mod delivery;
mod error;
mod frames;
mod messages;
mod openings;
mod session_cache;
mod sessions;
mod suggestions;

/// What the use cases return: sessions (with their customer) and messages as stored.
pub use crate::store::messages::MessageRecord;
pub use crate::store::sessions::{ClientRecord, SessionRecord};
pub use error::Error;
pub use messages::MessageReceipt;
pub use openings::Opening;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ai::Assistant;
use crate::config::Settings;
use crate::domain::ids::{AgentId, SessionId};
use crate::protocol::{AgentEvent, ClientEvent};
use crate::realtime::{Audience, Bus, Event, Hub};
use crate::store::writer::AfterCommit;
use crate::store::{Db, Tx};
use assistant::AssistantTurns;

/// The conversation service: the database, the event bus, this node's sockets, the assistant
/// and its turns, and the tasks it runs in the background. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    bus: Bus,
    hub: Arc<Hub>,
    assistant: Arc<Assistant>,
    turns: AssistantTurns,
    tasks: TaskTracker,
    limits: Limits,
    client_tokens: client_tokens::ClientTokens,
    /// Sessions as last read, kept until they change.
    sessions: Arc<session_cache::SessionCache>,
    /// One claim of a session at a time on this node.
    claim_turns: Arc<claim_turns::ClaimTurns>,
    /// Agents' display names and usernames, which never change once an account exists: read
    /// once per agent, not once per claim (a race for a hand-off tells every loser who won).
    agent_names: std::sync::Mutex<std::collections::HashMap<AgentId, (String, String)>>,
}

/// The settings the use cases apply.
#[derive(Debug, Clone)]
struct Limits {
    ai_calls_per_minute: u32,
    ai_calls_per_minute_global: u32,
    sessions_per_ip_per_hour: u32,
    ai_history_messages: usize,
    ai_failure_handoff: bool,
}

impl Chat {
    /// Builds the service on `db` and starts this node's event delivery (until `shutdown`).
    /// Assistant replies run on `tasks`, which the caller awaits at shutdown.
    pub fn start(
        settings: &Settings,
        db: Db,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let assistant = Arc::new(Assistant::from_settings(settings)?);
        let hub = Arc::new(Hub::default());
        let sessions = Arc::new(session_cache::SessionCache::default());
        let handler = delivery::Delivery::new(db.clone(), Arc::clone(&hub), Arc::clone(&sessions));
        let bus = Bus::start(&db, Arc::new(handler), shutdown);
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                bus,
                hub,
                assistant,
                turns: AssistantTurns::default(),
                tasks,
                sessions,
                claim_turns: Default::default(),
                agent_names: Default::default(),
                client_tokens: client_tokens::ClientTokens::new(
                    settings.secret_key.expose().as_bytes(),
                    settings.client_tokens_required,
                ),
                limits: Limits {
                    ai_calls_per_minute: settings.ai_calls_per_minute,
                    ai_calls_per_minute_global: settings.ai_calls_per_minute_global,
                    sessions_per_ip_per_hour: settings.sessions_per_ip_per_hour,
                    ai_history_messages: settings.ai_history_messages,
                    ai_failure_handoff: settings.ai_failure_handoff,
                },
            }),
        })
    }

    /// The database (for readiness probes and tests).
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The assistant's provider, for logs.
    pub fn assistant_name(&self) -> &'static str {
        self.inner.assistant.name()
    }

    /// How many sockets this node holds for a session (for tests and metrics).
    pub fn client_sockets(&self, session_id: SessionId) -> usize {
        self.inner.hub.client_sockets(session_id)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), Error> {
        Ok(self.inner.db.ping().await?)
    }

    /// Commits `tx` with its events; the copies of the sessions it changed are dropped.
    async fn commit(&self, tx: Tx, events: Vec<Event>) -> Result<(), Error> {
        let changed = tx.changed_sessions().to_vec();
        let forget: Option<AfterCommit> = (!changed.is_empty()).then(|| {
            let sessions = Arc::clone(&self.inner.sessions);
            Box::new(move || sessions.forget(&changed)) as AfterCommit
        });
        Ok(self.inner.bus.commit(tx, events, forget).await?)
    }

    /// Publishes events that report no stored change (typing, deltas, a sender's error).
    async fn publish(&self, events: Vec<Event>) -> Result<(), Error> {
        Ok(self.inner.bus.publish(events).await?)
    }
}

fn session_audience(session_id: SessionId) -> Audience {
    Audience::Session {
        session_id,
        except: None,
    }
}

/// An event for every socket of the customer's session.
fn to_session(session_id: SessionId, event: &ClientEvent) -> Event {
    Event::frame(session_audience(session_id), event.to_frame())
}

/// An event for every socket of one agent.
fn to_agent(admin_id: AgentId, event: &AgentEvent) -> Event {
    Event::frame(
        Audience::Agent {
            admin_id,
            except: None,
        },
        event.to_frame(),
    )
}

/// An event for every agent socket, optionally except one agent's.
fn to_agents(except_admin: Option<AgentId>, event: &AgentEvent) -> Event {
    Event::frame(Audience::Agents { except_admin }, event.to_frame())
}
