//! The agent's socket, `/ws/admin?token=<access token>[&after=<message id>]`: `connected` with
//! the queue on open (then, when resuming, every message stored after `after` in the sessions the
//! agent holds), then claims, messages, closes and queue requests in; queue changes and customer
//! messages out. An agent may have several sockets (tabs); each gets every event.

use std::collections::HashMap;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::socket::{Socket, close_now, serve};
use crate::accounts;
use crate::domain::ids::{AgentId, MessageId};
use crate::protocol::{AgentEvent, AgentFrame, FrameError, close};
use crate::realtime::{AGENT_OUTBOX, Peer};
use crate::security::ClientAddress;
use crate::state::AppState;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let slot = match super::admit(&headers, address, &state) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let tasks = state.tasks.clone();
    let token = query.get("token").cloned().unwrap_or_default();
    let after = super::resume_point(&query);
    super::configure(ws).on_upgrade(move |socket| {
        tasks.track_future(async move {
            run(Box::new(socket), state, token, after).await;
            drop(slot);
        })
    })
}

async fn run(socket: Socket, state: AppState, token: String, after: Option<MessageId>) {
    match state.accounts.authenticate(&token).await {
        Ok(admin) => serve_agent(socket, state, admin.id, admin.username, after).await,
        Err(accounts::Error::Unavailable) => close_now(socket, close::TRY_AGAIN_LATER).await,
        Err(_) => close_now(socket, close::UNAUTHORIZED).await,
    }
}

#[tracing::instrument(name = "agent_socket", skip_all, fields(admin_id = %agent))]
async fn serve_agent(
    socket: Socket,
    state: AppState,
    agent: AgentId,
    username: String,
    after: Option<MessageId>,
) {
    let chat = state.chat.clone();
    let connect = |peer: Peer| async move {
        let opened = chat.connect_agent(agent, &username, &peer, after).await;
        opened.map_err(|err| super::refused(&err))
    };
    let shutdown = state.shutdown.clone();
    serve(
        socket,
        AGENT_OUTBOX,
        shutdown,
        connect,
        move |peer, frame| handle(state.clone(), agent, peer, frame),
    )
    .await;
}

async fn handle(state: AppState, agent: AgentId, peer: Peer, frame: Result<String, FrameError>) {
    let frame = match frame.and_then(|text| AgentFrame::parse(&text)) {
        Ok(frame) => frame,
        Err(err) => return peer.send(AgentEvent::error(&err).to_frame()),
    };
    let chat = &state.chat;
    // Each action publishes its own events (to this socket too, through the hub).
    let result = match frame {
        AgentFrame::ClaimSession { session_id } => {
            chat.claim_session(session_id, agent).await.map(drop)
        }
        AgentFrame::CloseSession { session_id } => {
            chat.close_session(session_id, agent).await.map(drop)
        }
        AgentFrame::ReleaseSession { session_id } => {
            chat.release_session(session_id, agent).await.map(drop)
        }
        AgentFrame::ReturnToAi { session_id } => {
            chat.return_to_ai(session_id, agent).await.map(drop)
        }
        AgentFrame::Typing { session_id } => chat.agent_typing(session_id, agent).await,
        AgentFrame::GetQueue => chat
            .queue_update()
            .await
            .map(|update| peer.send(update.to_frame())),
        AgentFrame::Message {
            session_id,
            content,
            client_msg_id,
        } => chat
            .agent_message(session_id, agent, peer.id, &content, client_msg_id)
            .await
            .map(drop),
    };
    if let Err(err) = result {
        peer.send(AgentEvent::error(&super::refusal(&err)).to_frame());
    }
}
