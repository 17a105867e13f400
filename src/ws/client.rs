//! The customer's socket, `/ws/client/{session_id}[?after=<message id>]`: `connected` on open
//! (then, when resuming, every message stored after `after`), then messages, hand-off requests
//! and typing in; replies and session events out. Several sockets (tabs) may share a session;
//! each gets every event.

use std::collections::HashMap;

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::socket::{Socket, close_now, serve};
use crate::domain::ids::{MessageId, SessionId};
use crate::protocol::{ClientEvent, ClientFrame, FrameError, close};
use crate::realtime::{CLIENT_OUTBOX, Peer};
use crate::security::ClientAddress;
use crate::state::AppState;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let slot = match super::admit(&headers, address, &state) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    if let Some(id) = SessionId::parse(&session_id) {
        let token = query.get("client_token").map(String::as_str);
        if state.chat.check_client(id, token, false).is_err() {
            let refused = super::Refused(StatusCode::FORBIDDEN, "A valid client_token is required");
            return refused.into_response();
        }
    }
    let tasks = state.tasks.clone();
    let after = super::resume_point(&query);
    super::configure(ws).on_upgrade(move |socket| {
        tasks.track_future(async move {
            run(Box::new(socket), state, session_id, after).await;
            drop(slot);
        })
    })
}

#[tracing::instrument(name = "client_socket", skip_all, fields(session_id = %raw_id))]
async fn run(socket: Socket, state: AppState, raw_id: String, after: Option<MessageId>) {
    let Some(session_id) = SessionId::parse(&raw_id) else {
        return close_now(socket, close::SESSION_NOT_FOUND).await;
    };
    let chat = state.chat.clone();
    let connect = |peer: Peer| async move {
        let opened = chat.connect_client(session_id, &peer, after).await;
        opened.map_err(|err| super::refused(&err))
    };
    let shutdown = state.shutdown.clone();
    serve(
        socket,
        CLIENT_OUTBOX,
        shutdown,
        connect,
        move |peer, frame| handle(state.clone(), session_id, peer, frame),
    )
    .await;
}

async fn handle(
    state: AppState,
    session_id: SessionId,
    peer: Peer,
    frame: Result<String, FrameError>,
) {
    let frame = match frame.and_then(|text| ClientFrame::parse(&text)) {
        Ok(frame) => frame,
        Err(err) => return peer.send(ClientEvent::error(&err).to_frame()),
    };
    let chat = &state.chat;
    let result = match frame {
        ClientFrame::Message {
            content,
            client_msg_id,
        } => chat
            .client_message(session_id, peer.id, &content, client_msg_id)
            .await
            .map(drop),
        ClientFrame::RequestHuman => chat.request_human(session_id).await,
        ClientFrame::Typing => chat.client_typing(session_id).await,
    };
    if let Err(err) = result {
        peer.send(ClientEvent::error(&super::refusal(&err)).to_frame());
    }
}
