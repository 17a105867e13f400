//! The one error type at the HTTP boundary: every failure becomes a status code and a JSON body
//! `{"detail": ...}` (FastAPI's shape), mapped in one `match`. Server errors are logged with
//! their cause and never echoed to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Invalid;
use crate::domain::session::TransitionError;
use crate::store::StoreError;

/// One entry of a 422 response, as FastAPI/Pydantic report it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the bad value is, e.g. `["body", "client_info", "email"]`.
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Extra detail, e.g. the parser's message for malformed JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<serde_json::Value>,
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
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Seconds a client should wait before retrying while the database is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

impl ApiError {
    pub fn session_not_found() -> Self {
        Self::NotFound("Session not found".into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code used on WebSocket `error` events (PROTOCOL.md part 2).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) | Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
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
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::Unavailable("Database unavailable, please retry shortly".into())
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<TransitionError> for ApiError {
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
