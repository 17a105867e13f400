//! The use cases of a conversation: open, message, hand off, claim, release, return to the
//! assistant, close. This is the one place that changes sessions and messages and publishes
//! their events — in the same transaction as the change (see `realtime::Bus::commit`), so they
//! reach every node if and only if it committed. REST handlers and socket tasks both call it, so
//! an action has the same effect on every connected party whichever way it arrives.

mod assistant;
mod messages;
mod sessions;

pub use assistant::AssistantTurns;
pub use messages::{
    MessageReceipt, agent_message, agent_typing, client_message, client_typing, request_human,
};
pub use sessions::{
    claim_session, close_session, create_session, find_session, hand_off, release_session,
    return_to_ai,
};

use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;
use crate::realtime::{Audience, Event};
use crate::store::Tx;
use crate::store::messages::MessageRecord;
use crate::ws::protocol::{AgentEvent, ClientEvent};

fn session_audience(session_id: Uuid) -> Audience {
    Audience::Session {
        session_id,
        except: None,
    }
}

/// An event for every socket of the customer's session.
fn to_session(session_id: Uuid, event: &ClientEvent) -> Event {
    Event::frame(session_audience(session_id), event.to_frame())
}

/// A stored message for every socket of the customer's session (except `except`).
fn message_to_session(
    session_id: Uuid,
    message: &MessageRecord,
    except: Option<crate::realtime::ConnId>,
) -> Event {
    Event::message(
        Audience::Session { session_id, except },
        ClientEvent::message(session_id, message, None).to_frame(),
        message.id,
    )
}

/// An event for every socket of one agent.
fn to_agent(admin_id: i64, event: &AgentEvent) -> Event {
    Event::frame(
        Audience::Agent {
            admin_id,
            except: None,
        },
        event.to_frame(),
    )
}

/// An event for every agent socket, optionally except one agent's.
fn to_agents(except_admin: Option<i64>, event: &AgentEvent) -> Event {
    Event::frame(Audience::Agents { except_admin }, event.to_frame())
}

/// Commits `tx` with its events.
async fn commit(state: &AppState, tx: Tx, events: Vec<Event>) -> Result<(), ApiError> {
    Ok(state.bus.commit(tx, events).await?)
}
