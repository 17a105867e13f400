//! The session state machine and the message sender kinds.
//!
//! A session is `AI` (the assistant answers), `HUMAN` (handed off: waiting in the queue until an
//! agent is assigned) or `CLOSED`. [`SessionStatus`] combines the stored state with the assigned
//! agent, and its transition methods say whether an action is allowed — the store then performs
//! the same check atomically in its conditional UPDATE, so concurrent callers agree.

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use super::ids::AgentId;

/// The stored `state` column, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionState {
    Ai,
    Human,
    Closed,
}

impl SessionState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ai => "AI",
            Self::Human => "HUMAN",
            Self::Closed => "CLOSED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "AI" => Some(Self::Ai),
            "HUMAN" => Some(Self::Human),
            "CLOSED" => Some(Self::Closed),
            _ => None,
        }
    }
}

impl TryFrom<String> for SessionState {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or_else(|| format!("unknown session state `{raw}`"))
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SenderType {
    #[serde(rename = "CLIENT")]
    Client,
    #[serde(rename = "AI")]
    Ai,
    #[serde(rename = "ADMIN")]
    Admin,
}

impl SenderType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "CLIENT",
            Self::Ai => "AI",
            Self::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "CLIENT" => Some(Self::Client),
            "AI" => Some(Self::Ai),
            "ADMIN" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl TryFrom<String> for SenderType {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or_else(|| format!("unknown sender type `{raw}`"))
    }
}

/// Where a session is in its life, derived from `state` and `assigned_admin_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// The assistant is answering.
    Ai,
    /// Handed off, in the queue, no agent yet.
    Waiting,
    /// Handed off and held by this agent.
    Assigned(AgentId),
    Closed,
}

/// An action that the session's current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("Session is closed")]
    Closed,
    #[error("Session is already assigned to an agent")]
    AlreadyAssigned { to: AgentId },
    #[error("Session belongs to another agent")]
    NotYourSession,
    #[error("Session is not assigned to you")]
    NotAssigned,
    #[error("Session is already waiting for an agent")]
    AlreadyHandedOff,
}

impl SessionStatus {
    pub fn from_stored(state: SessionState, assigned: Option<AgentId>) -> Self {
        match (state, assigned) {
            (SessionState::Closed, _) => Self::Closed,
            (SessionState::Human, Some(agent)) => Self::Assigned(agent),
            (SessionState::Human, None) => Self::Waiting,
            // An AI session never has an agent; a stale id is ignored.
            (SessionState::Ai, _) => Self::Ai,
        }
    }

    /// The customer (or the assistant) asks for a human: AI → waiting.
    pub fn hand_off(self) -> Result<Self, TransitionError> {
        match self {
            Self::Ai => Ok(Self::Waiting),
            Self::Waiting | Self::Assigned(_) => Err(TransitionError::AlreadyHandedOff),
            Self::Closed => Err(TransitionError::Closed),
        }
    }

    /// An agent takes the session: from the queue, or straight from the assistant.
    /// Exactly one agent can hold a session; a second claim is a conflict.
    pub fn claim(self, agent: AgentId) -> Result<Self, TransitionError> {
        match self {
            Self::Ai | Self::Waiting => Ok(Self::Assigned(agent)),
            Self::Assigned(to) => Err(TransitionError::AlreadyAssigned { to }),
            Self::Closed => Err(TransitionError::Closed),
        }
    }

    /// The holding agent puts the session back at the head of the queue.
    pub fn release(self, agent: AgentId) -> Result<Self, TransitionError> {
        match self {
            Self::Assigned(holder) if holder == agent => Ok(Self::Waiting),
            Self::Assigned(_) => Err(TransitionError::NotYourSession),
            Self::Ai | Self::Waiting => Err(TransitionError::NotAssigned),
            Self::Closed => Err(TransitionError::Closed),
        }
    }

    /// The holding agent hands the conversation back to the assistant.
    pub fn return_to_ai(self, agent: AgentId) -> Result<Self, TransitionError> {
        self.release(agent).map(|_| Self::Ai)
    }

    /// An agent closes the session. Only its holder may close an assigned session; a session
    /// nobody holds (assistant or queue) may be closed by any agent.
    pub fn close(self, agent: AgentId) -> Result<Self, TransitionError> {
        match self {
            Self::Assigned(holder) if holder != agent => Err(TransitionError::NotYourSession),
            Self::Closed => Err(TransitionError::Closed),
            Self::Ai | Self::Waiting | Self::Assigned(_) => Ok(Self::Closed),
        }
    }

    /// Whether `agent` may write into this session.
    pub fn can_agent_write(self, agent: AgentId) -> Result<(), TransitionError> {
        match self {
            Self::Assigned(holder) if holder == agent => Ok(()),
            Self::Assigned(_) => Err(TransitionError::NotYourSession),
            Self::Closed => Err(TransitionError::Closed),
            Self::Ai | Self::Waiting => Err(TransitionError::NotAssigned),
        }
    }

    pub fn state(self) -> SessionState {
        match self {
            Self::Ai => SessionState::Ai,
            Self::Waiting | Self::Assigned(_) => SessionState::Human,
            Self::Closed => SessionState::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus::*;

    fn a(id: i64) -> AgentId {
        AgentId(id)
    }

    #[test]
    fn stored_columns_map_to_status() {
        assert_eq!(SessionStatus::from_stored(SessionState::Ai, None), Ai);
        assert_eq!(
            SessionStatus::from_stored(SessionState::Human, None),
            Waiting
        );
        assert_eq!(
            SessionStatus::from_stored(SessionState::Human, Some(a(7))),
            Assigned(a(7))
        );
        assert_eq!(
            SessionStatus::from_stored(SessionState::Closed, Some(a(7))),
            Closed
        );
    }

    #[test]
    fn handoff_only_from_the_assistant() {
        assert_eq!(Ai.hand_off(), Ok(Waiting));
        assert_eq!(Waiting.hand_off(), Err(TransitionError::AlreadyHandedOff));
        assert_eq!(Closed.hand_off(), Err(TransitionError::Closed));
    }

    #[test]
    fn claim_has_exactly_one_winner() {
        assert_eq!(Waiting.claim(a(1)), Ok(Assigned(a(1))));
        assert_eq!(Ai.claim(a(1)), Ok(Assigned(a(1))));
        assert_eq!(
            Assigned(a(1)).claim(a(2)),
            Err(TransitionError::AlreadyAssigned { to: a(1) })
        );
        assert_eq!(
            Assigned(a(1)).claim(a(1)),
            Err(TransitionError::AlreadyAssigned { to: a(1) })
        );
        assert_eq!(Closed.claim(a(1)), Err(TransitionError::Closed));
    }

    #[test]
    fn only_the_holder_releases_returns_or_closes() {
        assert_eq!(Assigned(a(1)).release(a(1)), Ok(Waiting));
        assert_eq!(
            Assigned(a(1)).release(a(2)),
            Err(TransitionError::NotYourSession)
        );
        assert_eq!(Waiting.release(a(1)), Err(TransitionError::NotAssigned));
        assert_eq!(Assigned(a(1)).return_to_ai(a(1)), Ok(Ai));
        assert_eq!(
            Assigned(a(1)).close(a(2)),
            Err(TransitionError::NotYourSession)
        );
        assert_eq!(Assigned(a(1)).close(a(1)), Ok(Closed));
        assert_eq!(Waiting.close(a(2)), Ok(Closed));
        assert_eq!(Closed.close(a(1)), Err(TransitionError::Closed));
    }

    #[test]
    fn only_the_holder_writes() {
        assert_eq!(Assigned(a(3)).can_agent_write(a(3)), Ok(()));
        assert_eq!(
            Assigned(a(3)).can_agent_write(a(4)),
            Err(TransitionError::NotYourSession)
        );
        assert_eq!(
            Waiting.can_agent_write(a(3)),
            Err(TransitionError::NotAssigned)
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for state in [SessionState::Ai, SessionState::Human, SessionState::Closed] {
            assert_eq!(SessionState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        for sender in [SenderType::Client, SenderType::Ai, SenderType::Admin] {
            assert_eq!(SenderType::parse(sender.as_str()), Some(sender));
            assert_eq!(
                serde_json::to_value(sender).unwrap(),
                serde_json::json!(sender.as_str())
            );
        }
    }
}
