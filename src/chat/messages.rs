//! Messages and typing: a customer writes (stored, shown to the right agents, answered by the
//! assistant or handed off), an agent writes to the session it holds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sessions::{find_session, hand_off};
use super::{assistant, publish, to_agent, to_agents, to_session};
use crate::app::AppState;
use crate::domain::handoff::asks_for_human;
use crate::domain::session::{AdminId, SenderType, SessionState, SessionStatus};
use crate::error::ApiError;
use crate::realtime::{Audience, ConnId, Event};
use crate::store::messages::{Inserted, NewMessage};
use crate::store::{self, sessions::SessionRecord};
use crate::ws::protocol::{AgentEvent, ClientEvent};

/// What the sender is told once its message is stored.
#[derive(Debug, Clone)]
pub struct MessageReceipt {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub client_msg_id: Option<String>,
}

fn session_closed() -> ApiError {
    ApiError::Conflict("Session is closed".into())
}

/// The message as agents see it.
fn for_agents(session: &SessionRecord, message: &store::messages::MessageRecord) -> AgentEvent {
    AgentEvent::Message {
        id: message.id,
        session_id: session.session_id,
        content: message.content.clone(),
        sender_type: message.sender_type,
        client_name: session.client.name.clone(),
        created_at: message.created_at,
    }
}

/// A customer's message, sent from socket `from`. It is stored (once per `client_msg_id`) and
/// `on_stored` runs (the sender's ack, so it precedes every event the message causes); then it
/// is shown on the customer's other tabs and to the agents concerned, and answered: by the
/// assistant, by a hand-off if it asks for a person, or — while queued — with the queue position.
pub async fn client_message(
    state: &AppState,
    session_id: Uuid,
    from: ConnId,
    content: &str,
    client_msg_id: Option<String>,
    on_stored: impl FnOnce(&MessageReceipt),
) -> Result<MessageReceipt, ApiError> {
    let session = find_session(state, session_id).await?;
    if session.state == SessionState::Closed {
        return Err(session_closed());
    }
    let inserted = store::messages::insert(
        &state.db,
        &NewMessage {
            session_pk: session.id,
            sender: SenderType::Client,
            sender_admin_id: None,
            content,
            client_msg_id: client_msg_id.as_deref(),
            created_at: Utc::now(),
        },
    )
    .await?;
    let record = inserted.record().clone();
    let receipt = MessageReceipt {
        id: record.id,
        created_at: record.created_at,
        client_msg_id: client_msg_id.clone(),
    };
    on_stored(&receipt);
    if let Inserted::Repeat(_) = inserted {
        // A resend after a lost ack: acknowledged again, nothing else happens twice.
        return Ok(receipt);
    }

    let mut events = vec![Event::frame(
        Audience::Session {
            session_id,
            except: Some(from),
        },
        ClientEvent::message(session_id, &record, client_msg_id).to_frame(),
    )];
    let status = session.status();
    match status {
        SessionStatus::Assigned(agent) => {
            events.push(to_agent(agent, &for_agents(&session, &record)))
        }
        SessionStatus::Waiting => {
            events.push(to_agents(None, &for_agents(&session, &record)));
            if let Some(position) = store::sessions::queue_position(&state.db, session_id).await? {
                events.push(to_session(
                    session_id,
                    &ClientEvent::waiting(session_id, position),
                ));
            }
        }
        SessionStatus::Ai | SessionStatus::Closed => {}
    }
    publish(state, events).await;

    if status == SessionStatus::Ai {
        if asks_for_human(content) {
            hand_off(state, session_id, None).await?;
        } else {
            assistant::spawn_reply(state, session_id);
        }
    }
    Ok(receipt)
}

/// The customer pressed "talk to a person".
pub async fn request_human(state: &AppState, session_id: Uuid) -> Result<(), ApiError> {
    hand_off(state, session_id, None).await.map(|_| ())
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
    let inserted = store::messages::insert(
        &state.db,
        &NewMessage {
            session_pk: session.id,
            sender: SenderType::Admin,
            sender_admin_id: Some(agent),
            content,
            client_msg_id: client_msg_id.as_deref(),
            created_at: Utc::now(),
        },
    )
    .await?;
    let record = inserted.record().clone();
    let receipt = MessageReceipt {
        id: record.id,
        created_at: record.created_at,
        client_msg_id,
    };
    if let Inserted::New(_) = inserted {
        publish(
            state,
            [
                to_session(session_id, &ClientEvent::message(session_id, &record, None)),
                // The agent's other tabs show it too.
                Event::frame(
                    Audience::Agent {
                        admin_id: agent,
                        except: Some(from),
                    },
                    for_agents(&session, &record).to_frame(),
                ),
            ],
        )
        .await;
    }
    Ok(receipt)
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
            publish(state, [to_agent(agent, &event)]).await;
            Ok(())
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
    publish(state, [to_session(session_id, &event)]).await;
    Ok(())
}
