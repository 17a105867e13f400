//! The WebSocket endpoints, transport only: `/ws/client/{session_id}` for customers and
//! `/ws/admin?token=` for agents. Each socket upgrades, reads frames and parses them with
//! `protocol`, hands them to the use cases (`chat::Chat`), and writes what the hub queues for it;
//! it pings, and closes with the right code.

pub mod admin;
pub mod client;
mod socket;

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::routing::get;

use crate::chat;
use crate::domain::ids::MessageId;
use crate::protocol::{Close, ErrorCode, FrameError, Holder, MAX_FRAME_BYTES, close};
use crate::security;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws/client/{session_id}", get(client::upgrade))
        .route("/ws/admin", get(admin::upgrade))
}

/// The `after` query parameter: the id of the last message the client has, to resume from.
fn resume_point(query: &std::collections::HashMap<String, String>) -> Option<MessageId> {
    query
        .get("after")
        .and_then(|raw| raw.trim().parse().ok())
        .filter(|id: &i64| *id >= 0)
        .map(MessageId)
}

/// Small buffers and a 64 KiB message cap: tungstenite's defaults cost ~134 KiB per idle socket.
/// The read buffer starts at 512 bytes (chat frames are small; a bigger frame reserves its own
/// length as it arrives), so an idle socket holds half a kilobyte there instead of four.
fn configure(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
}

/// A use case's error as the `error` event the socket sends back.
fn refusal(err: &chat::Error) -> FrameError {
    use chat::Error as E;
    let code = match err {
        E::NotFound(_) => ErrorCode::NotFound,
        E::Forbidden(_) => ErrorCode::Forbidden,
        E::Conflict(_) => ErrorCode::Conflict,
        E::Taken {
            agent_name,
            agent_username,
        } => {
            let mut refusal = FrameError::new(ErrorCode::Conflict, err.to_string());
            refusal.holder = Some(Holder {
                agent_name: agent_name.clone(),
                agent_username: agent_username.clone(),
            });
            return refusal;
        }
        E::RateLimited { .. } => ErrorCode::RateLimited,
        E::Unavailable => ErrorCode::Unavailable,
        E::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "socket action failed");
            return FrameError::new(ErrorCode::Internal, "Internal error");
        }
    };
    FrameError::new(code, err.to_string())
}

/// The Close frame for a socket the core would not open: an unknown session (4004), or the
/// database not answering (1013, logged).
fn refused(err: &chat::Error) -> Close {
    match err {
        chat::Error::NotFound(_) => close::SESSION_NOT_FOUND,
        other => {
            tracing::warn!(error = %other, "cannot open a socket");
            close::TRY_AGAIN_LATER
        }
    }
}

/// Whether this handshake may become a socket: a browser page's origin must be allowed (403
/// otherwise), and the client address must have a free socket slot (429 otherwise). The slot
/// is the socket's for as long as it is open.
fn admit(
    headers: &axum::http::HeaderMap,
    address: std::net::IpAddr,
    state: &AppState,
) -> Result<security::SocketSlot, Refused> {
    use axum::http::StatusCode;
    let refuse = |status: StatusCode, detail: &'static str| Refused(status, detail);
    if !security::origin_allowed(headers, &state.settings.cors_origins) {
        tracing::warn!(
            origin = ?headers.get(axum::http::header::ORIGIN),
            "socket refused: origin not allowed"
        );
        return Err(refuse(StatusCode::FORBIDDEN, "Origin not allowed"));
    }
    let limit = state.settings.sockets_per_ip;
    state.socket_slots.take(address, limit).ok_or_else(|| {
        tracing::warn!(%address, limit, "socket refused: too many from this address");
        refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many connections from your address",
        )
    })
}

/// A handshake refused before the upgrade: status and detail.
pub struct Refused(axum::http::StatusCode, &'static str);

impl axum::response::IntoResponse for Refused {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "detail": self.1 });
        (self.0, axum::Json(body)).into_response()
    }
}
