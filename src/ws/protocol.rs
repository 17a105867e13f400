//! Every WebSocket frame of PROTOCOL.md, as types: what customers and agents may send (parsed
//! and checked here, so a bad frame becomes an `error` event with a code), and what the server
//! sends them.

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::session::{SenderType, SessionState};
use crate::error::ApiError;
use crate::store::messages::MessageRecord;
use crate::store::sessions::SessionRecord;

/// Longest message content accepted, in characters.
pub const MAX_CONTENT_CHARS: usize = 8000;
/// Largest frame accepted; a bigger one closes the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Close codes used by the sockets.
pub mod close {
    /// An agent socket without a valid access token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// A customer socket for a session that does not exist.
    pub const SESSION_NOT_FOUND: u16 = 4004;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    /// The database is unavailable; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl FrameError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: "bad_request",
            message: message.into(),
        }
    }
}

impl From<&ApiError> for FrameError {
    fn from(err: &ApiError) -> Self {
        let message = match err {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "socket action failed");
                "Internal error".into()
            }
            ApiError::Validation(_) => "Invalid request".into(),
            other => other.to_string(),
        };
        Self {
            code: err.code(),
            message,
        }
    }
}

/// What a customer may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"content": ...}` (the reference's form) or `{"type":"message","content":...,"client_msg_id":...}`.
    Message {
        content: String,
        client_msg_id: Option<String>,
    },
    /// `{"type":"request_human"}`: the "talk to a person" button.
    RequestHuman,
    /// `{"type":"typing"}`.
    Typing,
}

/// What an agent may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentFrame {
    ClaimSession {
        session_id: Uuid,
    },
    Message {
        session_id: Uuid,
        content: String,
        client_msg_id: Option<String>,
    },
    CloseSession {
        session_id: Uuid,
    },
    GetQueue,
    Typing {
        session_id: Uuid,
    },
    ReleaseSession {
        session_id: Uuid,
    },
    ReturnToAi {
        session_id: Uuid,
    },
}

fn parse_object(text: &str) -> Result<serde_json::Map<String, Value>, FrameError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(FrameError::bad_request("Frame must be a JSON object")),
        Err(err) => Err(FrameError::bad_request(format!("Invalid JSON: {err}"))),
    }
}

fn optional_string(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, FrameError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FrameError::bad_request(format!("`{key}` must be a string"))),
    }
}

/// Checks message content: present, not blank, at most [`MAX_CONTENT_CHARS`].
fn content(object: &serde_json::Map<String, Value>) -> Result<String, FrameError> {
    let content = optional_string(object, "content")?
        .ok_or_else(|| FrameError::bad_request("`content` is required"))?;
    if content.trim().is_empty() {
        return Err(FrameError::bad_request("`content` must not be empty"));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(FrameError {
            code: "too_large",
            message: format!("`content` is longer than {MAX_CONTENT_CHARS} characters"),
        });
    }
    Ok(content)
}

fn client_msg_id(object: &serde_json::Map<String, Value>) -> Result<Option<String>, FrameError> {
    let id = optional_string(object, "client_msg_id")?;
    if id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.len() > 128)
    {
        return Err(FrameError::bad_request(
            "`client_msg_id` must be 1–128 characters",
        ));
    }
    Ok(id)
}

fn session_id(object: &serde_json::Map<String, Value>) -> Result<Uuid, FrameError> {
    let raw = optional_string(object, "session_id")?
        .ok_or_else(|| FrameError::bad_request("`session_id` is required"))?;
    Uuid::parse_str(&raw).map_err(|_| FrameError {
        code: "not_found",
        message: "Session not found".into(),
    })
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let object = parse_object(text)?;
        match object.get("type") {
            // The reference's clients send only {"content": ...}.
            None | Some(Value::Null) => Ok(Self::Message {
                content: content(&object)?,
                client_msg_id: client_msg_id(&object)?,
            }),
            Some(Value::String(kind)) => match kind.as_str() {
                "message" => Ok(Self::Message {
                    content: content(&object)?,
                    client_msg_id: client_msg_id(&object)?,
                }),
                "request_human" => Ok(Self::RequestHuman),
                "typing" => Ok(Self::Typing),
                other => Err(FrameError::bad_request(format!(
                    "Unknown frame type `{other}`"
                ))),
            },
            Some(_) => Err(FrameError::bad_request("`type` must be a string")),
        }
    }
}

impl AgentFrame {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let object = parse_object(text)?;
        let kind = optional_string(&object, "type")?
            .ok_or_else(|| FrameError::bad_request("`type` is required"))?;
        match kind.as_str() {
            "claim_session" => Ok(Self::ClaimSession {
                session_id: session_id(&object)?,
            }),
            "message" => Ok(Self::Message {
                session_id: session_id(&object)?,
                content: content(&object)?,
                client_msg_id: client_msg_id(&object)?,
            }),
            "close_session" => Ok(Self::CloseSession {
                session_id: session_id(&object)?,
            }),
            "get_queue" => Ok(Self::GetQueue),
            "typing" => Ok(Self::Typing {
                session_id: session_id(&object)?,
            }),
            "release_session" => Ok(Self::ReleaseSession {
                session_id: session_id(&object)?,
            }),
            "return_to_ai" => Ok(Self::ReturnToAi {
                session_id: session_id(&object)?,
            }),
            other => Err(FrameError::bad_request(format!(
                "Unknown frame type `{other}`"
            ))),
        }
    }
}

/// The customer's contact details, as sent to the claiming agent.
#[derive(Debug, Clone, Serialize)]
pub struct ClientContact {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// One entry of `queued_sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedSession {
    pub session_id: Uuid,
    pub queued_at: Option<DateTime<Utc>>,
    pub client_name: String,
}

impl From<&SessionRecord> for QueuedSession {
    fn from(s: &SessionRecord) -> Self {
        Self {
            session_id: s.session_id,
            queued_at: s.queued_at,
            client_name: s.client.name.clone(),
        }
    }
}

/// Frames sent to customers.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    Connected {
        message: String,
        session_id: Uuid,
        state: SessionState,
    },
    Message {
        id: i64,
        session_id: Uuid,
        content: String,
        sender_type: SenderType,
        created_at: DateTime<Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// Set on an assistant reply that was streamed: the `message_delta` frames it completes.
        #[serde(skip_serializing_if = "Option::is_none")]
        stream_id: Option<String>,
    },
    /// New text of an assistant reply being written; the complete `message` with the same
    /// `stream_id` follows.
    MessageDelta {
        session_id: Uuid,
        stream_id: String,
        delta: String,
    },
    HandoffRequested {
        message: String,
        sender_type: SenderType,
        session_id: Uuid,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        created_at: Option<DateTime<Utc>>,
    },
    Waiting {
        message: String,
        session_id: Uuid,
        queue_position: usize,
    },
    AgentConnected {
        message: String,
        session_id: Uuid,
        agent_name: String,
    },
    SessionClosed {
        message: String,
        session_id: Uuid,
    },
    /// The agent handed the conversation back to the assistant.
    ReturnedToAi {
        message: String,
        session_id: Uuid,
    },
    Typing {
        session_id: Uuid,
        sender_type: SenderType,
    },
    Ack {
        client_msg_id: String,
        id: i64,
        created_at: DateTime<Utc>,
    },
    Error {
        message: String,
        code: &'static str,
    },
}

/// Frames sent to agents.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    Connected {
        message: String,
        admin_id: i64,
        queue_size: usize,
        queued_sessions: Vec<QueuedSession>,
    },
    NewSessionQueued {
        session_id: Uuid,
        client_name: String,
        queue_size: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    SessionClaimed {
        session_id: Uuid,
        client_info: ClientContact,
    },
    SessionClaimedByOther {
        session_id: Uuid,
        queue_size: usize,
        claimed_by: i64,
    },
    Message {
        id: i64,
        session_id: Uuid,
        content: String,
        sender_type: SenderType,
        client_name: String,
        created_at: DateTime<Utc>,
    },
    SessionClosed {
        session_id: Uuid,
    },
    SessionReleased {
        session_id: Uuid,
    },
    QueueUpdate {
        queue_size: usize,
        queued_sessions: Vec<QueuedSession>,
    },
    Typing {
        session_id: Uuid,
        sender_type: SenderType,
    },
    Ack {
        client_msg_id: String,
        id: i64,
        created_at: DateTime<Utc>,
    },
    Error {
        message: String,
        code: &'static str,
    },
}

fn to_frame(value: &impl Serialize) -> Utf8Bytes {
    // These types hold only strings, numbers, UUIDs and timestamps: serialisation cannot fail.
    serde_json::to_string(value).unwrap_or_default().into()
}

impl ClientEvent {
    pub fn to_frame(&self) -> Utf8Bytes {
        to_frame(self)
    }

    pub fn message(
        session_id: Uuid,
        message: &MessageRecord,
        client_msg_id: Option<String>,
    ) -> Self {
        Self::Message {
            id: message.id,
            session_id,
            content: message.content.clone(),
            sender_type: message.sender_type,
            created_at: message.created_at,
            client_msg_id,
            stream_id: None,
        }
    }

    pub fn waiting(session_id: Uuid, queue_position: usize) -> Self {
        let message = if queue_position == 1 {
            "You are next in line. An agent will be with you shortly.".to_owned()
        } else {
            format!(
                "You are number {queue_position} in the queue. An agent will be with you shortly."
            )
        };
        Self::Waiting {
            message,
            session_id,
            queue_position,
        }
    }

    pub fn error(error: &FrameError) -> Self {
        Self::Error {
            message: error.message.clone(),
            code: error.code,
        }
    }
}

impl AgentEvent {
    pub fn to_frame(&self) -> Utf8Bytes {
        to_frame(self)
    }

    pub fn error(error: &FrameError) -> Self {
        Self::Error {
            message: error.message.clone(),
            code: error.code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_in_both_forms() {
        assert_eq!(
            ClientFrame::parse(r#"{"content":"hi"}"#).unwrap(),
            ClientFrame::Message {
                content: "hi".into(),
                client_msg_id: None
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"message","content":"hi","client_msg_id":"c1"}"#)
                .unwrap(),
            ClientFrame::Message {
                content: "hi".into(),
                client_msg_id: Some("c1".into())
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"request_human"}"#).unwrap(),
            ClientFrame::RequestHuman
        );
    }

    #[test]
    fn bad_client_frames_have_codes() {
        let code = |text: &str| ClientFrame::parse(text).unwrap_err().code;
        assert_eq!(code("not json"), "bad_request");
        assert_eq!(code("[1]"), "bad_request");
        assert_eq!(code(r#"{"type":"dance"}"#), "bad_request");
        assert_eq!(code(r#"{"type":"message"}"#), "bad_request");
        assert_eq!(code(r#"{"content":"   "}"#), "bad_request");
        assert_eq!(code(r#"{"content":5}"#), "bad_request");
        let long = format!(r#"{{"content":"{}"}}"#, "x".repeat(MAX_CONTENT_CHARS + 1));
        assert_eq!(code(&long), "too_large");
        let longest = format!(r#"{{"content":"{}"}}"#, "é".repeat(MAX_CONTENT_CHARS));
        assert!(
            ClientFrame::parse(&longest).is_ok(),
            "the limit counts characters"
        );
    }

    #[test]
    fn agent_frames() {
        let id = Uuid::new_v4();
        assert_eq!(
            AgentFrame::parse(&format!(
                r#"{{"type":"claim_session","session_id":"{id}"}}"#
            ))
            .unwrap(),
            AgentFrame::ClaimSession { session_id: id }
        );
        assert_eq!(
            AgentFrame::parse(r#"{"type":"get_queue"}"#).unwrap(),
            AgentFrame::GetQueue
        );
        assert_eq!(
            AgentFrame::parse(r#"{"content":"x"}"#).unwrap_err().code,
            "bad_request"
        );
        assert_eq!(
            AgentFrame::parse(r#"{"type":"claim_session","session_id":"nope"}"#)
                .unwrap_err()
                .code,
            "not_found"
        );
        assert_eq!(
            AgentFrame::parse(r#"{"type":"claim_session"}"#)
                .unwrap_err()
                .code,
            "bad_request"
        );
    }

    #[test]
    fn events_serialise_with_their_type() {
        let frame = ClientEvent::waiting(Uuid::nil(), 2).to_frame();
        let value: Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(value["type"], "waiting");
        assert_eq!(value["queue_position"], 2);
        let frame = AgentEvent::QueueUpdate {
            queue_size: 0,
            queued_sessions: vec![],
        }
        .to_frame();
        assert_eq!(
            frame.as_str(),
            r#"{"type":"queue_update","queue_size":0,"queued_sessions":[]}"#
        );
    }
}
