//! What the server sends: [`ClientEvent`]s to customers, [`AgentEvent`]s to agents. Each
//! serialises to one JSON text frame with a `type` field.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ErrorCode, Frame, FrameError, Holder, texts, to_frame};
use crate::domain::ids::{AgentId, MessageId, SessionId};
use crate::domain::language::Lang;
use crate::domain::session::{SenderType, SessionState};

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
    pub session_id: SessionId,
    pub queued_at: Option<DateTime<Utc>>,
    pub client_name: String,
    /// What the agent who takes over should know first (Switchboard addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `typing`: the other side is writing.
#[derive(Debug, Clone, Serialize)]
pub struct Typing {
    pub session_id: SessionId,
    pub sender_type: SenderType,
}

/// `ack`: the sender's message `client_msg_id` is stored as `id`.
#[derive(Debug, Clone, Serialize)]
pub struct Ack {
    pub client_msg_id: String,
    pub id: MessageId,
    pub created_at: DateTime<Utc>,
}

/// `error`: a refused frame or action.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorEvent {
    pub message: String,
    pub code: ErrorCode,
    /// On a lost claim: who holds the session.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
}

impl From<&FrameError> for ErrorEvent {
    fn from(error: &FrameError) -> Self {
        Self {
            message: error.message.clone(),
            code: error.code,
            holder: error.holder.clone(),
        }
    }
}

/// Frames sent to customers.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    Connected {
        message: String,
        session_id: SessionId,
        state: SessionState,
    },
    Message {
        id: MessageId,
        session_id: SessionId,
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
        session_id: SessionId,
        stream_id: String,
        delta: String,
    },
    HandoffRequested {
        message: String,
        sender_type: SenderType,
        session_id: SessionId,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<MessageId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        created_at: Option<DateTime<Utc>>,
    },
    Waiting {
        message: String,
        session_id: SessionId,
        queue_position: usize,
    },
    AgentConnected {
        message: String,
        session_id: SessionId,
        agent_name: String,
    },
    SessionClosed {
        message: String,
        session_id: SessionId,
    },
    /// The agent handed the conversation back to the assistant.
    ReturnedToAi {
        message: String,
        session_id: SessionId,
    },
    Typing(Typing),
    Ack(Ack),
    Error(ErrorEvent),
}

/// Frames sent to agents.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    Connected {
        message: String,
        admin_id: AgentId,
        queue_size: usize,
        queued_sessions: Vec<QueuedSession>,
    },
    NewSessionQueued {
        session_id: SessionId,
        client_name: String,
        queue_size: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// What the agent who takes over should know first (Switchboard addition).
        summary: String,
    },
    /// A better summary of a queued or held session, written by the LLM after the hand-off
    /// (Switchboard addition).
    SessionSummary {
        session_id: SessionId,
        summary: String,
    },
    SessionClaimed {
        session_id: SessionId,
        client_info: ClientContact,
    },
    SessionClaimedByOther {
        session_id: SessionId,
        queue_size: usize,
        claimed_by: AgentId,
        /// The winner's display name and username.
        agent_name: String,
        agent_username: String,
    },
    Message {
        id: MessageId,
        session_id: SessionId,
        content: String,
        sender_type: SenderType,
        client_name: String,
        created_at: DateTime<Utc>,
    },
    SessionClosed {
        session_id: SessionId,
    },
    SessionReleased {
        session_id: SessionId,
    },
    QueueUpdate {
        queue_size: usize,
        queued_sessions: Vec<QueuedSession>,
    },
    Typing(Typing),
    Ack(Ack),
    Error(ErrorEvent),
}

impl ClientEvent {
    pub fn to_frame(&self) -> Frame {
        to_frame(self)
    }

    /// The customer's place in the queue (1 = next).
    pub fn waiting(session_id: SessionId, queue_position: usize, lang: Lang) -> Self {
        Self::Waiting {
            message: texts::waiting(lang, queue_position),
            session_id,
            queue_position,
        }
    }

    /// The conversation is over.
    pub fn session_closed(session_id: SessionId, lang: Lang) -> Self {
        Self::SessionClosed {
            message: texts::session_closed(lang).into(),
            session_id,
        }
    }

    pub fn error(error: &FrameError) -> Self {
        Self::Error(error.into())
    }
}

impl AgentEvent {
    pub fn to_frame(&self) -> Frame {
        to_frame(self)
    }

    pub fn error(error: &FrameError) -> Self {
        Self::Error(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn events_serialise_with_their_type() {
        let frame = ClientEvent::waiting(SessionId(uuid::Uuid::nil()), 2, Lang::En).to_frame();
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
        let error = ClientEvent::error(&FrameError::new(ErrorCode::RateLimited, "slow down"));
        let typing = AgentEvent::Typing(Typing {
            session_id: SessionId(uuid::Uuid::nil()),
            sender_type: SenderType::Client,
        });
        assert_eq!(
            typing.to_frame().as_str(),
            r#"{"type":"typing","session_id":"00000000-0000-0000-0000-000000000000","sender_type":"CLIENT"}"#
        );
        assert_eq!(
            error.to_frame().as_str(),
            r#"{"type":"error","message":"slow down","code":"rate_limited"}"#
        );
    }
}
