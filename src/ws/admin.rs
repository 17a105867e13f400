//! The agent's socket, `/ws/admin?token=<access token>`: `connected` with the queue on open,
//! then claims, messages, closes and queue requests in; queue changes and customer messages out.
//! An agent may have several sockets (tabs); each gets every event.

use std::collections::HashMap;

use axum::extract::ws::WebSocket;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;

use super::protocol::{AgentEvent, AgentFrame, FrameError, QueuedSession, close};
use super::socket::{close_now, drive};
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
    super::configure(ws).on_upgrade(move |socket| tasks.track_future(run(socket, state, token)))
}

async fn queue_frame(state: &AppState) -> Result<(usize, Vec<QueuedSession>), ApiError> {
    let queue = store::sessions::list_queue(&state.db).await?;
    Ok((queue.len(), queue.iter().map(QueuedSession::from).collect()))
}

async fn run(socket: WebSocket, state: AppState, token: String) {
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
    serve(socket, state, admin).await;
}

#[tracing::instrument(name = "agent_socket", skip_all, fields(admin_id = admin.id))]
async fn serve(socket: WebSocket, state: AppState, admin: AdminRecord) {
    let (peer, outbound) = Peer::new();
    // `connected` must be the first frame, so the socket joins the hub only after it is queued;
    // a queue change in between is caught by reading the queue again.
    let seen = match queue_frame(&state).await {
        Ok((queue_size, queued_sessions)) => {
            let seen: Vec<_> = queued_sessions.iter().map(|q| q.session_id).collect();
            peer.send(
                AgentEvent::Connected {
                    message: format!("Connected as {}", admin.username),
                    admin_id: admin.id,
                    queue_size,
                    queued_sessions,
                }
                .to_frame(),
            );
            seen
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the queue for a new agent socket");
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
    };
    let _registration = state.hub.register_agent(admin.id, &peer);
    if let Ok((queue_size, queued_sessions)) = queue_frame(&state).await
        && queued_sessions.iter().map(|q| q.session_id).ne(seen)
    {
        peer.send(
            AgentEvent::QueueUpdate {
                queue_size,
                queued_sessions,
            }
            .to_frame(),
        );
    }
    tracing::debug!("agent socket open");

    let reply_peer = peer.clone();
    let error_peer = peer.clone();
    drive(
        socket,
        peer.clone(),
        outbound,
        state.shutdown.clone(),
        |text| {
            let state = state.clone();
            let peer = reply_peer.clone();
            let admin_id = admin.id;
            async move { handle(&state, admin_id, &peer, &text).await }
        },
        move |err| error_peer.send(AgentEvent::error(err).to_frame()),
    )
    .await;
    tracing::debug!("agent socket closed");
}

async fn handle(state: &AppState, agent: i64, peer: &Peer, text: &str) {
    let frame = match AgentFrame::parse(text) {
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
            .map(|receipt| {
                if let Some(client_msg_id) = receipt.client_msg_id {
                    peer.send(
                        AgentEvent::Ack {
                            client_msg_id,
                            id: receipt.id,
                            created_at: receipt.created_at,
                        }
                        .to_frame(),
                    );
                }
            }),
    };
    if let Err(err) = result {
        peer.send(AgentEvent::error(&FrameError::from(&err)).to_frame());
    }
}
