//! The REST API: one module per resource, each with its own `router()` in which every route is
//! declared once, with its OpenAPI description (utoipa-axum), merged in [`router`].

pub mod admin;
pub mod auth;
pub mod docs;
pub mod health;
pub mod json;
pub mod models;
pub mod pages;
pub mod sessions;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::chat;
use crate::domain::ids::SessionId;
use crate::error::ApiError;
use crate::state::AppState;

/// Every REST route, the API documentation generated from them, and the pages.
pub fn router() -> Router<AppState> {
    let (router, openapi) = OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(sessions::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(health::router())
        .split_for_parts();
    router.merge(docs::router(openapi)).merge(pages::router())
}

/// A session id from the path. Anything that is not a UUID names no session: 404.
pub fn parse_session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).ok_or_else(|| chat::Error::session_not_found().into())
}
