//! The WebSocket endpoints: `/ws/client/{session_id}` for customers and `/ws/admin?token=` for
//! agents. Each socket parses frames into typed messages (`protocol`), hands them to the use
//! cases in `chat/`, and receives events through its bounded queue in the `realtime::Hub`.

pub mod admin;
pub mod client;
pub mod protocol;
mod socket;

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws/client/{session_id}", get(client::upgrade))
        .route("/ws/admin", get(admin::upgrade))
}

/// The `after` query parameter: the id of the last message the client has, to resume from.
fn resume_point(query: &std::collections::HashMap<String, String>) -> Option<i64> {
    query
        .get("after")
        .and_then(|raw| raw.trim().parse().ok())
        .filter(|id: &i64| *id >= 0)
}

/// Small buffers and a 64 KiB message cap: tungstenite's defaults cost ~134 KiB per idle socket.
fn configure(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(protocol::MAX_FRAME_BYTES)
        .max_frame_size(protocol::MAX_FRAME_BYTES)
}
