//! The agent's socket, `/ws/admin?token=<access token>[&after=<message id>]`: `connected` with
//! the queue on open (then, when resuming, every message stored after `after` in the sessions the
//! agent holds), then claims, messages, closes and queue requests in; queue changes and customer
//! messages out. An agent may have several sockets (tabs); each gets every event.

use std::collections::HashMap;

use axum::extract::ws::WebSocket;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;

use super::protocol::{AgentEvent, AgentFrame, FrameError, QueuedSession, close};
use super::socket::{Opening, close_now, drive};
use crate::app::AppState;
use crate::auth::extractor::authenticate;
use crate::chat;
use crate::error::ApiError;
use crate::realtime::Peer;
use crate::store::{self, admins::AdminRecord};

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    State(state): State<AppState>,
) -> Response {
    let tasks = state.tasks.clone();
    let token = query.get("token").cloned().unwrap_or_default();
    let after = super::resume_point(&query);
    super::configure(ws)
        .on_upgrade(move |socket| tasks.track_future(run(socket, state, token, after)))
}

async fn queue_frame(state: &AppState) -> Result<(usize, Vec<QueuedSession>), ApiError> {
    let queue = store::sessions::list_queue(&state.db).await?;
    Ok((queue.len(), queue.iter().map(QueuedSession::from).collect()))
}

async fn run(socket: WebSocket, state: AppState, token: String, after: Option<i64>) {
    let admin = match authenticate(&state, &token).await {
        Ok(admin) => admin,
        Err(ApiError::Unavailable(_)) => {
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
        Err(_) => {
            return close_now(
                socket,
                close::UNAUTHORIZED,
                "Invalid or missing access token",
            )
            .await;
        }
    };
    serve(socket, state, admin, after).await;
}

/// `connected` with the queue, and the replay when resuming.
async fn opening(
    state: &AppState,
    admin: &AdminRecord,
    after: Option<i64>,
) -> Result<Opening, ApiError> {
    let (queue_size, queued_sessions) = queue_frame(state).await?;
    let mut opening = Opening::default();
    opening.frames.push(
        AgentEvent::Connected {
            message: format!("Connected as {}", admin.username),
            admin_id: admin.id,
            queue_size,
            queued_sessions,
        }
        .to_frame(),
    );
    if let Some(after) = after {
        for (session_id, client_name, message) in
            store::messages::after_for_agent(&state.db, admin.id, after).await?
        {
            opening.frames.push(
                AgentEvent::Message {
                    id: message.id,
                    session_id,
                    content: message.content,
                    sender_type: message.sender_type,
                    client_name,
                    created_at: message.created_at,
                }
                .to_frame(),
            );
            opening.replayed.insert(message.id);
        }
    }
    Ok(opening)
}

#[tracing::instrument(name = "agent_socket", skip_all, fields(admin_id = admin.id))]
async fn serve(socket: WebSocket, state: AppState, admin: AdminRecord, after: Option<i64>) {
    // Join the hub first, so nothing published while the opening is read is missed; a queue
    // update queued meanwhile merely repeats what `connected` says.
    let (peer, outbound) = Peer::new();
    let _registration = state.hub.register_agent(admin.id, &peer);
    let opening = match opening(&state, &admin, after).await {
        Ok(opening) => opening,
        Err(err) => {
            tracing::warn!(error = %err, "cannot open an agent socket");
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
    };
    tracing::debug!("agent socket open");

    let admin_id = admin.id;
    drive(
        socket,
        peer.clone(),
        outbound,
        opening,
        state.shutdown.clone(),
        |frame| {
            let state = state.clone();
            let peer = peer.clone();
            async move { handle(&state, admin_id, &peer, frame).await }
        },
    )
    .await;
    tracing::debug!("agent socket closed");
}

async fn handle(state: &AppState, agent: i64, peer: &Peer, frame: Result<String, FrameError>) {
    let frame = match frame.and_then(|text| AgentFrame::parse(&text)) {
        Ok(frame) => frame,
        Err(err) => return peer.send(AgentEvent::error(&err).to_frame()),
    };
    // Each action publishes its own events (to this socket too, through the hub).
    let result = match frame {
        AgentFrame::ClaimSession { session_id } => chat::claim_session(state, session_id, agent)
            .await
            .map(drop),
        AgentFrame::CloseSession { session_id } => chat::close_session(state, session_id, agent)
            .await
            .map(drop),
        AgentFrame::ReleaseSession { session_id } => {
            chat::release_session(state, session_id, agent)
                .await
                .map(drop)
        }
        AgentFrame::ReturnToAi { session_id } => {
            chat::return_to_ai(state, session_id, agent).await.map(drop)
        }
        AgentFrame::Typing { session_id } => chat::agent_typing(state, session_id, agent).await,
        AgentFrame::GetQueue => queue_frame(state)
            .await
            .map(|(queue_size, queued_sessions)| {
                peer.send(
                    AgentEvent::QueueUpdate {
                        queue_size,
                        queued_sessions,
                    }
                    .to_frame(),
                );
            }),
        AgentFrame::Message {
            session_id,
            content,
            client_msg_id,
        } => chat::agent_message(state, session_id, agent, peer.id, &content, client_msg_id)
            .await
            .map(drop),
    };
    if let Err(err) = result {
        peer.send(AgentEvent::error(&FrameError::from(&err)).to_frame());
    }
}
