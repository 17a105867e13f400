//! The wire contract (PROTOCOL.md) as types, with no I/O: every frame customers and agents may
//! send ([`inbound`]), every frame the server sends them ([`outbound`]), the error codes and close
//! codes, and the texts customers read ([`texts`]). The use cases in `chat/` build these frames,
//! the socket layer (`ws/`) only carries them.

pub mod inbound;
pub mod outbound;
pub mod texts;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

pub use inbound::{AgentFrame, ClientFrame};
pub use outbound::{
    Ack, AgentEvent, ClientContact, ClientEvent, ErrorEvent, QueuedSession, Typing,
};

/// A serialised outbound frame: made once, shared by every socket it goes to.
pub type Frame = Utf8Bytes;

/// Longest message content accepted, in characters.
pub const MAX_CONTENT_CHARS: usize = 8000;
/// Largest frame accepted; a bigger one closes the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The machine-readable `code` of an `error` event (PROTOCOL.md part 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    NotFound,
    Forbidden,
    Conflict,
    RateLimited,
    TooLarge,
    Unavailable,
    Internal,
}

/// What an `error` event says: a code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// On a lost claim: the agent who holds the session.
    pub holder: Option<Holder>,
}

/// The agent holding a session: display name and username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub agent_name: String,
    pub agent_username: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            holder: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

/// A Close frame the server sends: code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

impl Close {
    const fn new(code: u16, reason: &'static str) -> Self {
        Self { code, reason }
    }
}

/// Every Close frame the server sends.
pub mod close {
    use super::Close;

    /// The socket ends normally (the client closed it).
    pub const NORMAL: Close = Close::new(1000, "");
    /// The server is shutting down.
    pub const GOING_AWAY: Close = Close::new(1001, "server shutting down");
    /// The socket did not read its frames fast enough and its outbound queue filled up.
    pub const SLOW_CONSUMER: Close = Close::new(1008, "too slow: outbound queue full");
    /// The peer broke the WebSocket protocol, or the connection failed while reading.
    pub const PROTOCOL_ERROR: Close = Close::new(1002, "protocol error");
    /// A text frame that is not UTF-8 (RFC 6455: 1007).
    pub const INVALID_TEXT: Close = Close::new(1007, "text frame is not valid UTF-8");
    /// A frame over [`super::MAX_FRAME_BYTES`].
    pub const TOO_BIG: Close = Close::new(1009, "frame larger than 64 KiB");
    /// The database is unavailable; try again later.
    pub const TRY_AGAIN_LATER: Close = Close::new(1013, "Service unavailable, retry shortly");
    /// An agent socket without a valid access token (the reference's code).
    pub const UNAUTHORIZED: Close = Close::new(4001, "Invalid or missing access token");
    /// A customer socket for a session that does not exist (the reference's code).
    pub const SESSION_NOT_FOUND: Close = Close::new(4004, "Session not found");
}

/// Serialises an outbound frame. These types hold only strings, numbers, ids and timestamps:
/// serialisation cannot fail.
fn to_frame(value: &impl Serialize) -> Frame {
    serde_json::to_string(value).unwrap_or_default().into()
}
