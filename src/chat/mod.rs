//! The use cases of a conversation: open a session, claim it, close it. This is the one place
//! that changes sessions; REST handlers (and the sockets, which build on it) all call these
//! functions, so an action has the same effect whichever way it arrives.

use chrono::Utc;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::client_info::NewClientInfo;
use crate::domain::session::AdminId;
use crate::error::ApiError;
use crate::store::{self, sessions::SessionRecord};

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

/// The session leaves the assistant and joins the human queue (the customer asked for a person,
/// or the assistant could not help).
pub async fn hand_off(state: &AppState, session_id: Uuid) -> Result<SessionRecord, ApiError> {
    if let Some(queued) = store::sessions::hand_off(&state.db, session_id, Utc::now()).await? {
        tracing::info!(%session_id, "session handed off to the human queue");
        return Ok(queued);
    }
    let current = find_session(state, session_id).await?;
    Err(match current.status().hand_off() {
        Err(reason) => reason.into(),
        Ok(_) => ApiError::Conflict("Session changed while handing off; retry".into()),
    })
}

/// `agent` takes the session, from the queue or from the assistant. Exactly one concurrent
/// claimer wins; the others get 409, as does a claim of a closed session.
pub async fn claim_session(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    if let Some(claimed) = store::sessions::claim(&state.db, session_id, agent, Utc::now()).await? {
        tracing::info!(%session_id, agent, "session claimed");
        return Ok(claimed);
    }
    let current = find_session(state, session_id).await?;
    // The conditional UPDATE failed, so the state machine names the reason. If the session
    // changed back in between, it is still someone else's turn: report a conflict.
    Err(match current.status().claim(agent) {
        Err(reason) => reason.into(),
        Ok(_) => ApiError::Conflict("Session is being claimed by another agent".into()),
    })
}

/// `agent` closes the session: only its holder may (403 otherwise), and only once (409).
pub async fn close_session(
    state: &AppState,
    session_id: Uuid,
    agent: AdminId,
) -> Result<SessionRecord, ApiError> {
    if let Some(closed) = store::sessions::close(&state.db, session_id, agent, Utc::now()).await? {
        tracing::info!(%session_id, agent, "session closed");
        return Ok(closed);
    }
    let current = find_session(state, session_id).await?;
    Err(match current.status().close(agent) {
        Err(reason) => reason.into(),
        Ok(_) => ApiError::Conflict("Session changed while closing; retry".into()),
    })
}
