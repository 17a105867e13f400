//! The customer's socket, `/ws/client/{session_id}`: `connected` on open, then messages,
//! hand-off requests and typing in; replies and session events out. Several sockets (tabs) may
//! share a session; each gets every event.

use axum::extract::ws::WebSocket;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::response::Response;
use uuid::Uuid;

use super::protocol::{ClientEvent, ClientFrame, FrameError, close};
use super::socket::{close_now, drive};
use crate::app::AppState;
use crate::chat;
use crate::domain::session::SessionStatus;
use crate::realtime::Peer;
use crate::store;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(session_id): Path<String>,
    State(state): State<AppState>,
) -> Response {
    let tasks = state.tasks.clone();
    super::configure(ws)
        .on_upgrade(move |socket| tasks.track_future(run(socket, state, session_id)))
}

#[tracing::instrument(name = "client_socket", skip_all, fields(session_id = %raw_id))]
async fn run(socket: WebSocket, state: AppState, raw_id: String) {
    let Ok(session_id) = Uuid::parse_str(&raw_id) else {
        return close_now(socket, close::SESSION_NOT_FOUND, "Session not found").await;
    };
    let session = match store::sessions::find(&state.db, session_id).await {
        Ok(Some(session)) => session,
        Ok(None) => return close_now(socket, close::SESSION_NOT_FOUND, "Session not found").await,
        Err(err) => {
            tracing::warn!(error = %err, "cannot open client socket");
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
    };

    let (peer, outbound) = Peer::new();
    peer.send(
        ClientEvent::Connected {
            message: "Connected to support chat".into(),
            session_id,
            state: session.state,
        }
        .to_frame(),
    );
    let _registration = state.hub.register_client(session_id, &peer);
    match session.status() {
        SessionStatus::Closed => peer.send(
            ClientEvent::SessionClosed {
                message: "This conversation has been closed.".into(),
                session_id,
            }
            .to_frame(),
        ),
        SessionStatus::Waiting => {
            if let Ok(Some(position)) = store::sessions::queue_position(&state.db, session_id).await
            {
                peer.send(ClientEvent::waiting(session_id, position).to_frame());
            }
        }
        SessionStatus::Assigned(_) | SessionStatus::Ai => {}
    }
    tracing::debug!("client socket open");

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
            async move { handle(&state, session_id, &peer, &text).await }
        },
        move |err| error_peer.send(ClientEvent::error(err).to_frame()),
    )
    .await;
    tracing::debug!("client socket closed");
}

async fn handle(state: &AppState, session_id: Uuid, peer: &Peer, text: &str) {
    let frame = match ClientFrame::parse(text) {
        Ok(frame) => frame,
        Err(err) => return peer.send(ClientEvent::error(&err).to_frame()),
    };
    let result = match frame {
        ClientFrame::Message {
            content,
            client_msg_id,
        } => {
            let ack = |receipt: &chat::MessageReceipt| {
                if let Some(client_msg_id) = receipt.client_msg_id.clone() {
                    peer.send(
                        ClientEvent::Ack {
                            client_msg_id,
                            id: receipt.id,
                            created_at: receipt.created_at,
                        }
                        .to_frame(),
                    );
                }
            };
            chat::client_message(state, session_id, peer.id, &content, client_msg_id, ack)
                .await
                .map(drop)
        }
        ClientFrame::RequestHuman => chat::request_human(state, session_id).await,
        ClientFrame::Typing => chat::client_typing(state, session_id).await,
    };
    if let Err(err) = result {
        peer.send(ClientEvent::error(&FrameError::from(&err)).to_frame());
    }
}
