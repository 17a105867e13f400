//! The JSON shapes of PROTOCOL.md part 1 (`Session`, `ClientInfo`, `Message`, `Token`, `Admin`)
//! and their conversions from stored records. (Each request body is the validating type itself,
//! beside its handler.)

use crate::accounts::AdminRecord;
use crate::accounts::IssuedTokens;
use crate::chat::{MessageRecord, SessionRecord};
use crate::domain::ids::{AgentId, MessageId, SessionId, SessionKey};
use crate::domain::session::{SenderType, SessionState};
use crate::error::FieldError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A customer's details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientInfo {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub created_at: DateTime<Utc>,
}

/// A conversation and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: SessionKey,
    pub session_id: SessionId,
    pub state: SessionState,
    pub client_info: ClientInfo,
    pub assigned_admin_id: Option<AgentId>,
    /// When the session was handed off to the human queue (Switchboard addition).
    pub queued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The customer's language (`en`, `es`, `fr`, `de`, `pt`) once known (Switchboard
    /// addition).
    pub language: Option<String>,
    /// What the agent who takes over should know first, written at hand-off (Switchboard
    /// addition).
    pub summary: Option<String>,
}

impl From<SessionRecord> for Session {
    fn from(r: SessionRecord) -> Self {
        Self {
            id: r.id,
            session_id: r.session_id,
            state: r.state,
            client_info: ClientInfo {
                id: r.client.id,
                name: r.client.name,
                email: r.client.email,
                phone: r.client.phone,
                created_at: r.client.created_at,
            },
            assigned_admin_id: r.assigned_admin_id,
            queued_at: r.queued_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            closed_at: r.closed_at,
            language: r.language_code,
            summary: r.summary,
        }
    }
}

/// A knowledge-base passage suggested to an agent for the customer's latest message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    pub heading: String,
    pub text: String,
    /// The markdown file it comes from.
    pub source: String,
    /// Share of the customer's message this passage covers (0–1).
    pub coverage: f64,
}

/// A session just opened, with the customer's secret for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSession {
    #[serde(flatten)]
    pub session: Session,
    /// Proves to the server that the holder opened this session: with `CLIENT_TOKENS=required`,
    /// reading the session or opening its socket needs it (`?client_token=`).
    pub client_token: String,
}

/// Converts a list of records for a JSON response.
pub fn sessions(records: Vec<SessionRecord>) -> Vec<Session> {
    records.into_iter().map(Session::from).collect()
}

/// One message of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub sender_type: SenderType,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

impl From<MessageRecord> for Message {
    fn from(r: MessageRecord) -> Self {
        Self {
            id: r.id,
            sender_type: r.sender_type,
            content: r.content,
            created_at: r.created_at,
        }
    }
}

/// An access token (short-lived, for `Authorization: Bearer`) and a single-use refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
}

impl From<IssuedTokens> for Token {
    fn from(tokens: IssuedTokens) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: "bearer",
        }
    }
}

/// An agent account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Admin {
    pub id: AgentId,
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<AdminRecord> for Admin {
    fn from(r: AdminRecord) -> Self {
        Self {
            id: r.id,
            username: r.username,
            email: r.email,
            full_name: r.full_name,
            is_active: r.is_active,
            created_at: r.created_at,
        }
    }
}

/// An error: `{"detail": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
}

/// A 422: one entry per invalid field.
#[derive(Serialize, ToSchema)]
pub struct HttpValidationError {
    pub detail: Vec<FieldError>,
}
