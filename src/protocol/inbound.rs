//! What customers and agents may send, parsed and checked: a bad frame becomes a [`FrameError`]
//! with a code, which the socket sends back as an `error` event.

use serde_json::Value;

use super::{ErrorCode, FrameError, MAX_CONTENT_CHARS, texts};
use crate::domain::check_text;
use crate::domain::ids::SessionId;

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
        session_id: SessionId,
    },
    Message {
        session_id: SessionId,
        content: String,
        client_msg_id: Option<String>,
    },
    CloseSession {
        session_id: SessionId,
    },
    GetQueue,
    Typing {
        session_id: SessionId,
    },
    ReleaseSession {
        session_id: SessionId,
    },
    ReturnToAi {
        session_id: SessionId,
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
    if check_text(&content).is_err() {
        return Err(FrameError::bad_request(
            "`content` must not contain control characters other than tab and newline",
        ));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("`content` is longer than {MAX_CONTENT_CHARS} characters"),
        ));
    }
    Ok(content)
}

fn client_msg_id(object: &serde_json::Map<String, Value>) -> Result<Option<String>, FrameError> {
    let id = optional_string(object, "client_msg_id")?;
    if id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control()))
    {
        return Err(FrameError::bad_request(
            "`client_msg_id` must be 1–128 characters, none of them control characters",
        ));
    }
    Ok(id)
}

fn session_id(object: &serde_json::Map<String, Value>) -> Result<SessionId, FrameError> {
    let raw = optional_string(object, "session_id")?
        .ok_or_else(|| FrameError::bad_request("`session_id` is required"))?;
    SessionId::parse(&raw)
        .ok_or_else(|| FrameError::new(ErrorCode::NotFound, texts::SESSION_NOT_FOUND))
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
        assert_eq!(code("not json"), ErrorCode::BadRequest);
        assert_eq!(code("[1]"), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"type":"message"}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"content":"   "}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"content":5}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"content":"a\u0000b"}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"content":"bell\u0007"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"content":"x","client_msg_id":"a\u0000"}"#),
            ErrorCode::BadRequest
        );
        assert!(ClientFrame::parse(r#"{"content":"tab\tand\nnewline"}"#).is_ok());
        let long = format!(r#"{{"content":"{}"}}"#, "x".repeat(MAX_CONTENT_CHARS + 1));
        assert_eq!(code(&long), ErrorCode::TooLarge);
        let longest = format!(r#"{{"content":"{}"}}"#, "é".repeat(MAX_CONTENT_CHARS));
        assert!(
            ClientFrame::parse(&longest).is_ok(),
            "the limit counts characters"
        );
    }

    #[test]
    fn agent_frames() {
        let id = SessionId::new();
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
            ErrorCode::BadRequest
        );
        assert_eq!(
            AgentFrame::parse(r#"{"type":"claim_session","session_id":"nope"}"#)
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        assert_eq!(
            AgentFrame::parse(r#"{"type":"claim_session"}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadRequest
        );
    }
}
