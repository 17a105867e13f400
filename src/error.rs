//! The one error type at the HTTP boundary: every failure becomes a status code and a JSON body
//! `{"detail": ...}` (FastAPI's shape), mapped in one `match`. The core's errors
//! ([`chat::Error`], [`accounts::Error`]) are turned into it here, once each. Server errors are
//! logged with their cause and never echoed to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Invalid;
use crate::protocol::texts;
use crate::{accounts, chat};

/// One entry of a 422 response, as FastAPI/Pydantic report it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the bad value is, e.g. `["body", "client_info", "email"]`: field names, and byte
    /// offsets for malformed JSON.
    #[schema(schema_with = location_schema)]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Extra detail, e.g. the parser's message for malformed JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<serde_json::Value>,
}

/// `loc` as it is sent: an array of strings and integers.
fn location_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String))
                .item(ObjectBuilder::new().schema_type(Type::Integer)),
        )
        .build()
}

impl FieldError {
    pub fn new(loc: &[&str], invalid: &Invalid) -> Self {
        Self {
            loc: loc.iter().map(|p| serde_json::Value::from(*p)).collect(),
            msg: invalid.message.clone(),
            kind: invalid.kind.to_owned(),
            ctx: None,
        }
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Option<u64>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Seconds a client should wait before retrying while the database is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Validation(errors) => serde_json::json!({ "detail": errors }),
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                serde_json::json!({ "detail": "Internal server error" })
            }
            Self::Unavailable(reason) => {
                tracing::warn!(reason, "database unavailable");
                serde_json::json!({ "detail": reason })
            }
            other => serde_json::json!({ "detail": other.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            Self::TooManyRequests {
                retry_after: Some(seconds),
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<chat::Error> for ApiError {
    fn from(err: chat::Error) -> Self {
        use chat::Error as E;
        match err {
            E::NotFound(message) => Self::NotFound(message.into()),
            E::Forbidden(message) => Self::Forbidden(message),
            E::Conflict(message) => Self::Conflict(message),
            E::Taken { .. } => Self::Conflict(err.to_string()),
            E::RateLimited {
                message,
                retry_after,
            } => Self::TooManyRequests {
                message,
                retry_after,
            },
            E::Unavailable => Self::Unavailable(texts::DATABASE_UNAVAILABLE.into()),
            E::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<accounts::Error> for ApiError {
    fn from(err: accounts::Error) -> Self {
        use accounts::Error as E;
        let message = err.to_string();
        match err {
            E::UsernameTaken | E::EmailTaken => Self::BadRequest(message),
            E::RegistrationClosed | E::BadCredentials | E::BadAccessToken | E::BadRefreshToken => {
                Self::Unauthorized(message)
            }
            E::Inactive => Self::Forbidden(message),
            E::WrongPassword => Self::BadRequest(message),
            E::Throttled { retry_after } => Self::TooManyRequests {
                message,
                retry_after: Some(retry_after),
            },
            E::WeakPassword(invalid) => {
                Self::Validation(vec![FieldError::new(&["body", "new_password"], &invalid)])
            }
            E::Unavailable => Self::Unavailable(message),
            E::Internal(cause) => Self::Internal(cause),
        }
    }
}
