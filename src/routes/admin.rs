//! Agent endpoints: the queue, active and all sessions, claiming and closing, and `me`.
//! Every handler takes [`AuthAdmin`], so none runs without a valid access token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::Checker;
use super::models::{Admin, Session, Suggestion, sessions};
use super::parse_session_id;
use crate::auth::AuthAdmin;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queue))
        .routes(routes!(active))
        .routes(routes!(all_sessions))
        .routes(routes!(claim))
        .routes(routes!(close))
        .routes(routes!(me))
        .routes(routes!(suggestions))
}

/// Sessions waiting for an agent, oldest handoff first.
#[utoipa::path(
    get, path = "/api/admin/queue", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Session>),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
    )
)]
async fn queue(
    State(state): State<AppState>,
    _agent: AuthAdmin,
) -> Result<Json<Vec<Session>>, ApiError> {
    Ok(Json(sessions(state.chat.queue().await?)))
}

/// The sessions the calling agent holds (as the reference returns them); with `scope=all`, the
/// sessions every agent holds (a team view).
#[utoipa::path(
    get, path = "/api/admin/active", tag = "admin", security(("bearer" = [])),
    params(("scope" = inline(Option<Scope>), Query, description = "`mine` (default) or `all`")),
    responses(
        (status = 200, body = Vec<Session>),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 422, description = "Unknown scope", body = super::models::HttpValidationError),
    )
)]
async fn active(
    State(state): State<AppState>,
    AuthAdmin(agent): AuthAdmin,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Session>>, ApiError> {
    let mut c = Checker::default();
    let scope = c.query_choice(&query, "scope", &[Scope::Mine, Scope::All]);
    c.finish(Some(()))?;
    let holder = (scope == Scope::Mine).then_some(agent.id);
    Ok(Json(sessions(state.chat.active_sessions(holder).await?)))
}

/// Whose sessions `active` lists.
#[derive(Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
enum Scope {
    Mine,
    All,
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        match self {
            Scope::Mine => "mine",
            Scope::All => "all",
        }
    }
}

/// Default and maximum page size of `all-sessions`.
const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

/// All sessions, newest first, paged with `limit` and `offset`.
#[utoipa::path(
    get, path = "/api/admin/all-sessions", tag = "admin", security(("bearer" = [])),
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1–1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Sessions to skip (default 0)"),
    ),
    responses(
        (status = 200, body = Vec<Session>),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 422, description = "Invalid paging parameters", body = super::models::HttpValidationError),
    )
)]
async fn all_sessions(
    State(state): State<AppState>,
    _agent: AuthAdmin,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Session>>, ApiError> {
    let mut c = Checker::default();
    let limit = c.query_int(&query, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
    let offset = c.query_int(&query, "offset", 0, 0, i64::MAX);
    c.finish(Some(()))?;
    Ok(Json(sessions(
        state.chat.all_sessions(limit, offset).await?,
    )))
}

/// Take a session, from the queue or from the assistant. Exactly one agent wins.
#[utoipa::path(
    post, path = "/api/admin/sessions/{session_id}/claim", tag = "admin", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "The session's UUID")),
    responses(
        (status = 200, description = "Claimed; the session is now yours", body = Session),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 404, description = "Session not found", body = super::models::ErrorBody),
        (status = 409, description = "Already claimed, or closed", body = super::models::ErrorBody),
    )
)]
async fn claim(
    State(state): State<AppState>,
    AuthAdmin(agent): AuthAdmin,
    Path(session_id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    let session = state
        .chat
        .claim_session(parse_session_id(&session_id)?, agent.id)
        .await?;
    Ok(Json(session.into()))
}

/// Close a session. Only the agent holding it may close it.
#[utoipa::path(
    post, path = "/api/admin/sessions/{session_id}/close", tag = "admin", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "The session's UUID")),
    responses(
        (status = 200, description = "Closed", body = Session),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 403, description = "Another agent holds this session", body = super::models::ErrorBody),
        (status = 404, description = "Session not found", body = super::models::ErrorBody),
        (status = 409, description = "Already closed", body = super::models::ErrorBody),
    )
)]
async fn close(
    State(state): State<AppState>,
    AuthAdmin(agent): AuthAdmin,
    Path(session_id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    let session = state
        .chat
        .close_session(parse_session_id(&session_id)?, agent.id)
        .await?;
    Ok(Json(session.into()))
}

/// Passages suggested for a session.
const SUGGESTIONS: usize = 3;

/// The knowledge-base passages that best match the customer's latest message (agent assist),
/// best first; empty before the customer has written or when nothing matches.
#[utoipa::path(
    get, path = "/api/admin/sessions/{session_id}/suggestions", tag = "admin", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "The session's UUID")),
    responses(
        (status = 200, body = Vec<Suggestion>),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 404, description = "Session not found", body = super::models::ErrorBody),
    )
)]
async fn suggestions(
    State(state): State<AppState>,
    _agent: AuthAdmin,
    Path(session_id): Path<String>,
) -> Result<Json<Vec<Suggestion>>, ApiError> {
    let found = state
        .chat
        .suggestions(parse_session_id(&session_id)?, SUGGESTIONS)
        .await?;
    Ok(Json(
        found
            .into_iter()
            .map(|s| Suggestion {
                heading: s.passage.heading,
                text: s.passage.text,
                source: s.passage.source.display().to_string(),
                coverage: s.coverage,
            })
            .collect(),
    ))
}

/// The logged-in agent's account.
#[utoipa::path(
    get, path = "/api/admin/me", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Admin),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
    )
)]
async fn me(AuthAdmin(agent): AuthAdmin) -> Json<Admin> {
    Json(agent.into())
}
