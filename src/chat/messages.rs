//! Messages and typing: a customer writes (stored, acknowledged, shown to the right agents,
//! answered by the assistant or handed off), an agent writes to the session it holds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sessions::{find_session, hand_off};
use super::{assistant, commit, message_to_session, to_agent, to_agents, to_session};
use crate::app::AppState;
use crate::domain::handoff::asks_for_human;
use crate::domain::session::{AdminId, SenderType, SessionState, SessionStatus};
use crate::error::ApiError;
use crate::realtime::{Audience, ConnId, Event};
use crate::store::messages::{Inserted, MessageRecord, NewMessage};
use crate::store::{self, sessions::SessionRecord};
use crate::ws::protocol::{AgentEvent, ClientEvent};

/// What the sender learns once its message is stored.
#[derive(Debug, Clone)]
pub struct MessageReceipt {
    pub id: i64,
    pub created_at: DateTime<Utc>,
}

fn session_closed() -> ApiError {
    ApiError::Conflict("Session is closed".into())
}

/// The message as agents see it.
fn for_agents(session: &SessionRecord, message: &MessageRecord) -> AgentEvent {
    AgentEvent::Message {
        id: message.id,
        session_id: session.session_id,
        content: message.content.clone(),
        sender_type: message.sender_type,
        client_name: session.client.name.clone(),
        created_at: message.created_at,
    }
}

/// The sender's `ack`, the first event of its message: sent only once the message is stored.
fn ack(
    to: ConnId,
    client_msg_id: Option<String>,
    message: &MessageRecord,
    client: bool,
) -> Option<Event> {
    let client_msg_id = client_msg_id?;
    let frame = if client {
        ClientEvent::Ack {
            client_msg_id,
            id: message.id,
            created_at: message.created_at,
        }
        .to_frame()
    } else {
        AgentEvent::Ack {
            client_msg_id,
            id: message.id,
            created_at: message.created_at,
        }
        .to_frame()
    };
    Some(Event::frame(Audience::Connection { conn: to }, frame))
}

/// A customer's message, sent from socket `from`. It is stored (once per `client_msg_id`) and
/// acknowledged; then shown on the customer's other tabs and to the agents concerned, and
/// answered: by the assistant, by a hand-off if it asks for a person, or — while queued — with
/// the customer's queue position.
pub async fn client_message(
    state: &AppState,
    session_id: Uuid,
    from: ConnId,
    content: &str,
    client_msg_id: Option<String>,
) -> Result<MessageReceipt, ApiError> {
    let session = find_session(state, session_id).await?;
    if session.state == SessionState::Closed {
        return Err(session_closed());
    }
    let status = session.status();
    let position = match status {
        SessionStatus::Waiting => store::sessions::queue_position(&state.db, session_id).await?,
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    let inserted = store::messages::insert(
        &mut tx,
        &NewMessage {
            session_pk: session.id,
            sender: SenderType::Client,
            sender_admin_id: None,
            content,
            client_msg_id: client_msg_id.as_deref(),
            provider_data: None,
            created_at: Utc::now(),
        },
    )
    .await?;
    let record = inserted.record().clone();
    let receipt = MessageReceipt {
        id: record.id,
        created_at: record.created_at,
    };
    let mut events: Vec<Event> = ack(from, client_msg_id, &record, true)
        .into_iter()
        .collect();
    if let Inserted::Repeat(_) = inserted {
        // A resend after a lost ack: acknowledged again, nothing else happens twice.
        commit(state, tx, events).await?;
        return Ok(receipt);
    }
    events.push(message_to_session(session_id, &record, Some(from)));
    match status {
        SessionStatus::Assigned(agent) => {
            events.push(to_agent(agent, &for_agents(&session, &record)))
        }
        SessionStatus::Waiting => {
            events.push(to_agents(None, &for_agents(&session, &record)));
            if let Some(position) = position {
                events.push(to_session(
                    session_id,
                    &ClientEvent::waiting(session_id, position),
                ));
            }
        }
        SessionStatus::Ai | SessionStatus::Closed => {}
    }
    commit(state, tx, events).await?;

    if status == SessionStatus::Ai {
        if asks_for_human(content) {
            hand_off(state, session_id, None, None).await?;
        } else {
            assistant::answer(state, session_id, from).await?;
        }
    }
    Ok(receipt)
}

/// The customer pressed "talk to a person".
pub async fn request_human(state: &AppState, session_id: Uuid) -> Result<(), ApiError> {
    hand_off(state, session_id, None, None).await.map(drop)
}

/// An agent's message to the session it holds, sent from socket `from`.
pub async fn agent_message(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
    from: ConnId,
    content: &str,
    client_msg_id: Option<String>,
) -> Result<MessageReceipt, ApiError> {
    let session = find_session(state, session_id).await?;
    session.status().can_agent_write(agent)?;
    let mut tx = state.db.begin().await?;
    let inserted = store::messages::insert(
        &mut tx,
        &NewMessage {
            session_pk: session.id,
            sender: SenderType::Admin,
            sender_admin_id: Some(agent),
            content,
            client_msg_id: client_msg_id.as_deref(),
            provider_data: None,
            created_at: Utc::now(),
        },
    )
    .await?;
    let record = inserted.record().clone();
    let mut events: Vec<Event> = ack(from, client_msg_id, &record, false)
        .into_iter()
        .collect();
    if let Inserted::New(_) = inserted {
        events.push(message_to_session(session_id, &record, None));
        // The agent's other tabs show it too.
        events.push(Event::message(
            Audience::Agent {
                admin_id: agent,
                except: Some(from),
            },
            for_agents(&session, &record).to_frame(),
            record.id,
        ));
    }
    commit(state, tx, events).await?;
    Ok(MessageReceipt {
        id: record.id,
        created_at: record.created_at,
    })
}

/// The customer is typing: their agent sees it.
pub async fn client_typing(state: &AppState, session_id: Uuid) -> Result<(), ApiError> {
    let session = find_session(state, session_id).await?;
    match session.status() {
        SessionStatus::Closed => Err(session_closed()),
        SessionStatus::Assigned(agent) => {
            let event = AgentEvent::Typing {
                session_id,
                sender_type: SenderType::Client,
            };
            Ok(state.bus.publish(vec![to_agent(agent, &event)]).await?)
        }
        SessionStatus::Ai | SessionStatus::Waiting => Ok(()),
    }
}

/// The agent is typing: the customer sees it.
pub async fn agent_typing(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<(), ApiError> {
    let session = find_session(state, session_id).await?;
    session.status().can_agent_write(agent)?;
    let event = ClientEvent::Typing {
        session_id,
        sender_type: SenderType::Admin,
    };
    Ok(state
        .bus
        .publish(vec![to_session(session_id, &event)])
        .await?)
}
