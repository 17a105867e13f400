//! The customer's socket, `/ws/client/{session_id}[?after=<message id>]`: `connected` on open
//! (then, when resuming, every message stored after `after`), then messages, hand-off requests
//! and typing in; replies and session events out. Several sockets (tabs) may share a session;
//! each gets every event.

use std::collections::HashMap;

use axum::extract::ws::WebSocket;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::response::Response;
use uuid::Uuid;

use super::protocol::{ClientEvent, ClientFrame, FrameError, close};
use super::socket::{Opening, close_now, drive};
use crate::app::AppState;
use crate::chat;
use crate::domain::session::SessionStatus;
use crate::error::ApiError;
use crate::realtime::Peer;
use crate::store::{self, StoreError, sessions::SessionRecord};

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    State(state): State<AppState>,
) -> Response {
    let tasks = state.tasks.clone();
    let after = super::resume_point(&query);
    super::configure(ws)
        .on_upgrade(move |socket| tasks.track_future(run(socket, state, session_id, after)))
}

/// `connected`, the replay (when resuming), and where the session stands.
async fn opening(
    state: &AppState,
    session: &SessionRecord,
    after: Option<i64>,
) -> Result<(Opening, i64), StoreError> {
    let session_id = session.session_id;
    let mut opening = Opening::default();
    opening.frames.push(
        ClientEvent::Connected {
            message: "Connected to support chat".into(),
            session_id,
            state: session.state,
        }
        .to_frame(),
    );
    let mut last_message_id = store::messages::last_id(&state.db, session.id).await?;
    if let Some(after) = after {
        let missed = store::messages::list(&state.db, session.id, after, i64::MAX).await?;
        for message in &missed {
            opening
                .frames
                .push(ClientEvent::message(session_id, message, None).to_frame());
            opening.replayed.insert(message.id);
            last_message_id = last_message_id.max(message.id);
        }
    }
    match session.status() {
        SessionStatus::Closed => opening.frames.push(
            ClientEvent::SessionClosed {
                message: "This conversation has been closed.".into(),
                session_id,
            }
            .to_frame(),
        ),
        SessionStatus::Waiting => {
            if let Some(position) = store::sessions::queue_position(&state.db, session_id).await? {
                opening
                    .frames
                    .push(ClientEvent::waiting(session_id, position).to_frame());
            }
        }
        SessionStatus::Assigned(_) | SessionStatus::Ai => {}
    }
    Ok((opening, last_message_id))
}

#[tracing::instrument(name = "client_socket", skip_all, fields(session_id = %raw_id))]
async fn run(socket: WebSocket, state: AppState, raw_id: String, after: Option<i64>) {
    let Ok(session_id) = Uuid::parse_str(&raw_id) else {
        return close_now(socket, close::SESSION_NOT_FOUND, "Session not found").await;
    };
    let unavailable =
        |err: &dyn std::fmt::Display| tracing::warn!(error = %err, "cannot open client socket");
    let session = match store::sessions::find(&state.db, session_id).await {
        Ok(Some(session)) => session,
        Ok(None) => return close_now(socket, close::SESSION_NOT_FOUND, "Session not found").await,
        Err(err) => {
            unavailable(&err);
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
    };

    // Join the hub before reading what to replay: a message stored in between is both replayed
    // and queued, and the writer drops the queued copy.
    let (peer, outbound) = Peer::new();
    let registration = state.hub.register_client(session_id, &peer, 0);
    let (opening, last_message_id) = match opening(&state, &session, after).await {
        Ok(opening) => opening,
        Err(err) => {
            unavailable(&err);
            return close_now(
                socket,
                close::TRY_AGAIN_LATER,
                "Service unavailable, retry shortly",
            )
            .await;
        }
    };
    state.hub.saw_message(session_id, last_message_id);
    tracing::debug!("client socket open");

    drive(
        socket,
        peer.clone(),
        outbound,
        opening,
        state.shutdown.clone(),
        |frame| {
            let state = state.clone();
            let peer = peer.clone();
            async move { handle(&state, session_id, &peer, frame).await }
        },
    )
    .await;
    drop(registration);
    tracing::debug!("client socket closed");
}

async fn handle(
    state: &AppState,
    session_id: Uuid,
    peer: &Peer,
    frame: Result<String, FrameError>,
) {
    let frame = match frame.and_then(|text| ClientFrame::parse(&text)) {
        Ok(frame) => frame,
        Err(err) => return peer.send(ClientEvent::error(&err).to_frame()),
    };
    let result: Result<(), ApiError> = match frame {
        ClientFrame::Message {
            content,
            client_msg_id,
        } => chat::client_message(state, session_id, peer.id, &content, client_msg_id)
            .await
            .map(drop),
        ClientFrame::RequestHuman => chat::request_human(state, session_id).await,
        ClientFrame::Typing => chat::client_typing(state, session_id).await,
    };
    if let Err(err) = result {
        peer.send(ClientEvent::error(&FrameError::from(&err)).to_frame());
    }
}
