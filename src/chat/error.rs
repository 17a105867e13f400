//! What a conversation use case can fail with. The adapters map it once each: to an HTTP status
//! in `error.rs` (REST), to an `error` event in `ws/` (sockets).

use crate::domain::session::TransitionError;
use crate::protocol::texts;
use crate::store::{Failure, StoreError};

/// Why a use case refused or failed. The message is for people and safe to show; an
/// [`Error::Internal`] cause is logged by the adapter, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such session (or other resource).
    #[error("{0}")]
    NotFound(&'static str),
    /// The caller may not do this to this session (another agent holds it).
    #[error("{0}")]
    Forbidden(String),
    /// The session is not in a state that allows it (closed, already claimed, …).
    #[error("{0}")]
    Conflict(String),
    /// Another agent holds the session (a lost claim): who, so the loser can be told.
    #[error("Session is already assigned to {agent_name}")]
    Taken {
        agent_name: String,
        agent_username: String,
    },
    /// Too many requests; the message says what to do, `retry_after` when to (seconds).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<u64>,
    },
    /// The database did not answer; retry shortly.
    #[error("{}", texts::DATABASE_UNAVAILABLE)]
    Unavailable,
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl Error {
    pub fn session_not_found() -> Self {
        Self::NotFound(texts::SESSION_NOT_FOUND)
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err.failure() {
            Failure::Unavailable => Self::Unavailable,
            Failure::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<TransitionError> for Error {
    fn from(err: TransitionError) -> Self {
        match err {
            TransitionError::NotYourSession => Self::Forbidden(err.to_string()),
            TransitionError::Closed
            | TransitionError::AlreadyAssigned { .. }
            | TransitionError::NotAssigned
            | TransitionError::AlreadyHandedOff => Self::Conflict(err.to_string()),
        }
    }
}
