//! The JSON shapes of PROTOCOL.md part 1 (`Session`, `ClientInfo`, `Message`, `Token`, `Admin`),
//! the request bodies as documented in OpenAPI, and their conversions from stored records.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::session::{SenderType, SessionState};
use crate::error::FieldError;
use crate::store::admins::AdminRecord;
use crate::store::messages::MessageRecord;
use crate::store::sessions::SessionRecord;

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
    pub id: i64,
    pub session_id: Uuid,
    pub state: SessionState,
    pub client_info: ClientInfo,
    pub assigned_admin_id: Option<i64>,
    /// When the session was handed off to the human queue (Switchboard addition).
    pub queued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
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
        }
    }
}

/// Converts a list of records for a JSON response.
pub fn sessions(records: Vec<SessionRecord>) -> Vec<Session> {
    records.into_iter().map(Session::from).collect()
}

/// One message of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
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

/// An agent account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Admin {
    pub id: i64,
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

/// Request body of `POST /api/sessions`.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct CreateSessionBody {
    pub client_info: ClientInfoBody,
}

/// A customer's details as submitted.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ClientInfoBody {
    /// Trimmed; 1–255 characters.
    #[schema(min_length = 1, max_length = 255, example = "John Doe")]
    pub name: String,
    #[schema(format = Email, example = "john@example.com")]
    pub email: String,
    /// Digits, spaces and `+ - ( ) .`; 10–50 characters.
    #[schema(
        min_length = 10,
        max_length = 50,
        pattern = r"^[0-9 +().-]{10,50}$",
        example = "+1234567890"
    )]
    pub phone: String,
}

/// Request body of `POST /api/auth/register`.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct RegisterBody {
    /// Letters, digits, `_ . -`; 3–100 characters.
    #[schema(min_length = 3, max_length = 100, example = "agent_ada")]
    pub username: String,
    #[schema(format = Email, example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters, not a common password.
    #[schema(min_length = 8, max_length = 1024, format = Password)]
    pub password: String,
    #[schema(max_length = 255)]
    pub full_name: Option<String>,
}

/// Request body of `POST /api/auth/login`.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct LoginBody {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
}

/// Optional JSON body of `POST /api/auth/refresh` (the query parameter works too).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}
