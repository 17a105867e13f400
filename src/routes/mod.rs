//! The REST API: one module per resource, each with its own `router()`, merged in [`router`].

pub mod admin;
pub mod auth;
pub mod docs;
pub mod health;
pub mod json;
pub mod models;
pub mod sessions;

use axum::Router;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;

/// Every REST route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(sessions::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(health::router())
        .merge(docs::router())
}

/// A session id from the path. Anything that is not a UUID names no session: 404.
pub fn parse_session_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::session_not_found())
}
