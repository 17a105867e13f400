//! Session life-cycle use cases: open, hand off, claim, release, return to the assistant, close.

use chrono::Utc;
use uuid::Uuid;

use super::{commit, to_agent, to_agents, to_session};
use crate::ai::prompt::HANDOFF_MESSAGE;
use crate::app::AppState;
use crate::domain::client_info::NewClientInfo;
use crate::domain::session::{AdminId, SenderType, SessionStatus, TransitionError};
use crate::error::ApiError;
use crate::realtime::Event;
use crate::store::messages::NewMessage;
use crate::store::{self, sessions::SessionRecord};
use crate::ws::protocol::{AgentEvent, ClientContact, ClientEvent};

/// Opens a session for a customer; the assistant answers first.
pub async fn create_session(
    state: &AppState,
    client: &NewClientInfo,
) -> Result<SessionRecord, ApiError> {
    let session = store::sessions::create(&state.db, client, Utc::now()).await?;
    tracing::info!(session_id = %session.session_id, "session created");
    Ok(session)
}

/// The session, or 404.
pub async fn find_session(state: &AppState, session_id: Uuid) -> Result<SessionRecord, ApiError> {
    store::sessions::find(&state.db, session_id)
        .await?
        .ok_or_else(ApiError::session_not_found)
}

/// After a conditional UPDATE found nothing to change: the error the state machine gives for
/// the session as it is now (404 if it is gone).
async fn explain(
    state: &AppState,
    session_id: Uuid,
    transition: impl FnOnce(SessionStatus) -> Result<SessionStatus, TransitionError>,
) -> ApiError {
    match find_session(state, session_id).await {
        Err(err) => err,
        Ok(current) => match transition(current.status()) {
            Err(reason) => reason.into(),
            // It changed back in between: someone else acted first.
            Ok(_) => ApiError::Conflict("Session changed concurrently; retry".into()),
        },
    }
}

/// The session leaves the assistant and joins the human queue, because the customer asked or
/// the assistant could not help (`reason`). The customer is told, every agent learns of it, and
/// everyone's view of the queue is updated. `provider_data` is the assistant's raw decision to
/// hand off (a tool call), kept with the notice for later requests to the same provider.
pub async fn hand_off(
    state: &AppState,
    session_id: Uuid,
    reason: Option<String>,
    provider_data: Option<String>,
) -> Result<SessionRecord, ApiError> {
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    let Some(queued) = store::sessions::hand_off(&mut tx, session_id, now).await? else {
        drop(tx);
        return Err(explain(state, session_id, SessionStatus::hand_off).await);
    };
    let notice = store::messages::insert(
        &mut tx,
        &NewMessage {
            session_pk: queued.id,
            sender: SenderType::Ai,
            sender_admin_id: None,
            content: HANDOFF_MESSAGE,
            client_msg_id: None,
            provider_data: provider_data.as_deref(),
            created_at: now,
        },
    )
    .await?;
    let notice = notice.record();
    let queue_size = store::sessions::queue_size(&mut tx).await?;
    let events = vec![
        Event::message(
            super::session_audience(session_id),
            ClientEvent::HandoffRequested {
                message: HANDOFF_MESSAGE.into(),
                sender_type: SenderType::Ai,
                session_id,
                id: Some(notice.id),
                created_at: Some(notice.created_at),
            }
            .to_frame(),
            notice.id,
        ),
        to_agents(
            None,
            &AgentEvent::NewSessionQueued {
                session_id,
                client_name: queued.client.name.clone(),
                queue_size,
                reason: reason.clone(),
            },
        ),
        Event::QueueChanged,
    ];
    commit(state, tx, events).await?;
    tracing::info!(%session_id, reason = reason.as_deref().unwrap_or("customer request"), "session handed off to the queue");
    Ok(queued)
}

/// `agent` takes the session, from the queue or from the assistant. Exactly one concurrent
/// claimer wins; the others get 409, as does a claim of a closed session.
pub async fn claim_session(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    let agent_name = store::admins::find_by_id(&state.db, agent)
        .await?
        .map(|a| a.full_name.unwrap_or(a.username))
        .unwrap_or_else(|| "An agent".into());
    let mut tx = state.db.begin().await?;
    let Some(claimed) = store::sessions::claim(&mut tx, session_id, agent, Utc::now()).await?
    else {
        drop(tx);
        return Err(explain(state, session_id, |s| s.claim(agent)).await);
    };
    let queue_size = store::sessions::queue_size(&mut tx).await?;
    let events = vec![
        to_agent(
            agent,
            &AgentEvent::SessionClaimed {
                session_id,
                client_info: ClientContact {
                    name: claimed.client.name.clone(),
                    email: claimed.client.email.clone(),
                    phone: claimed.client.phone.clone(),
                },
            },
        ),
        to_agents(
            Some(agent),
            &AgentEvent::SessionClaimedByOther {
                session_id,
                queue_size,
                claimed_by: agent,
            },
        ),
        to_session(
            session_id,
            &ClientEvent::AgentConnected {
                message: format!("{agent_name} has joined the conversation."),
                session_id,
                agent_name,
            },
        ),
        Event::QueueChanged,
    ];
    commit(state, tx, events).await?;
    tracing::info!(%session_id, agent, "session claimed");
    Ok(claimed)
}

/// The holding agent puts the session back in the queue (keeping its place in line).
pub async fn release_session(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(released) = store::sessions::release(&mut tx, session_id, agent, Utc::now()).await?
    else {
        drop(tx);
        return Err(explain(state, session_id, |s| s.release(agent)).await);
    };
    let events = vec![
        to_agent(agent, &AgentEvent::SessionReleased { session_id }),
        Event::QueueChanged,
    ];
    commit(state, tx, events).await?;
    tracing::info!(%session_id, agent, "session released to the queue");
    Ok(released)
}

/// The holding agent hands the conversation back to the assistant.
pub async fn return_to_ai(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(returned) =
        store::sessions::return_to_ai(&mut tx, session_id, agent, Utc::now()).await?
    else {
        drop(tx);
        return Err(explain(state, session_id, |s| s.return_to_ai(agent)).await);
    };
    let events = vec![
        to_agent(agent, &AgentEvent::SessionReleased { session_id }),
        to_session(
            session_id,
            &ClientEvent::ReturnedToAi {
                message: "You are chatting with the virtual assistant again.".into(),
                session_id,
            },
        ),
    ];
    commit(state, tx, events).await?;
    tracing::info!(%session_id, agent, "session returned to the assistant");
    Ok(returned)
}

/// `agent` closes the session: only its holder may (403 otherwise), and only once (409).
pub async fn close_session(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    let before = find_session(state, session_id).await?;
    let mut tx = state.db.begin().await?;
    let Some(closed) = store::sessions::close(&mut tx, session_id, agent, Utc::now()).await? else {
        drop(tx);
        return Err(explain(state, session_id, |s| s.close(agent)).await);
    };
    let mut events = vec![
        to_session(
            session_id,
            &ClientEvent::SessionClosed {
                message: "This conversation has been closed. Thank you for contacting us!".into(),
                session_id,
            },
        ),
        to_agent(agent, &AgentEvent::SessionClosed { session_id }),
    ];
    if before.status() == SessionStatus::Waiting {
        events.push(Event::QueueChanged);
    }
    commit(state, tx, events).await?;
    tracing::info!(%session_id, agent, "session closed");
    Ok(closed)
}
