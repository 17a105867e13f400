//! Public session endpoints: open a chat, read its state and history.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Checker, FromJson, ValidJson};
use super::models::{CreatedSession, Message, Session};
use super::parse_session_id;
use crate::auth::MaybeAuthAdmin;
use crate::domain::check_length;
use crate::domain::client_info::{ClientName, Email, NewClientInfo, Phone};
use crate::domain::ids::MessageId;
use crate::domain::language::Lang;
use crate::error::ApiError;
use crate::security::ClientAddress;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(get_session))
        .routes(routes!(get_messages))
}

/// The body of `POST /api/sessions`: the customer's details, validated.
#[derive(utoipa::ToSchema)]
#[schema(as = CreateSessionBody)]
pub struct CreateSession {
    client_info: NewClientInfo,
    /// The customer's language as the browser reports it (`navigator.language`, a BCP 47 tag
    /// such as `es-MX`). Switchboard's own texts are in English, Spanish, French, German or
    /// Portuguese; another language gets English until the customer writes in one of these.
    #[schema(value_type = Option<String>, max_length = 35, example = "es-MX")]
    language: Option<Lang>,
}

impl FromJson for CreateSession {
    fn from_json(body: &Value, c: &mut Checker) -> Option<Self> {
        let root = c.object(body, &["body"])?;
        let language = c.optional_field(root, &["body"], "language", |tag| {
            check_length(tag, 0, 35)?;
            Ok(Lang::from_code(tag))
        });
        let info = c.nested(root, &["body"], "client_info")?;
        let loc = ["body", "client_info"];
        let name = c.field(info, &loc, "name", ClientName::parse);
        let email = c.field(info, &loc, "email", Email::parse);
        let phone = c.field(info, &loc, "phone", Phone::parse);
        Some(Self {
            client_info: NewClientInfo {
                name: name?,
                email: email?,
                phone: phone?,
            },
            language: language?.flatten(),
        })
    }
}

/// Open a chat session for a customer. The assistant answers first.
#[utoipa::path(
    post, path = "/api/sessions", tag = "sessions",
    request_body = CreateSession,
    responses(
        (status = 201, description = "Session created, with the customer's client_token", body = CreatedSession),
        (status = 422, description = "Invalid client_info", body = super::models::HttpValidationError),
        (status = 429, description = "Too many sessions from this address: wait `Retry-After` seconds", body = super::models::ErrorBody),
    )
)]
async fn create_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(body): ValidJson<CreateSession>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    let session = state
        .chat
        .create_session(&body.client_info, body.language, address)
        .await?;
    let client_token = state.chat.client_token(session.session_id);
    let session = CreatedSession {
        session: session.into(),
        client_token,
    };
    Ok((StatusCode::CREATED, Json(session)))
}

/// A session's state and customer details.
#[utoipa::path(
    get, path = "/api/sessions/{session_id}", tag = "sessions",
    params(
        ("session_id" = String, Path, description = "The session's UUID"),
        ("client_token" = Option<String>, Query, description = "The customer's token (required with CLIENT_TOKENS=required, unless an agent asks)"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Session),
        (status = 403, description = "CLIENT_TOKENS=required and no valid client_token", body = super::models::ErrorBody),
        (status = 404, description = "Session not found", body = super::models::ErrorBody),
    )
)]
async fn get_session(
    State(state): State<AppState>,
    MaybeAuthAdmin(agent): MaybeAuthAdmin,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Session>, ApiError> {
    let session_id = parse_session_id(&session_id)?;
    let token = query.get("client_token").map(String::as_str);
    state
        .chat
        .check_client(session_id, token, agent.is_some())?;
    let session = state.chat.find_session(session_id).await?;
    Ok(Json(session.into()))
}

/// Most messages one history request returns.
const MAX_HISTORY_PAGE: i64 = 10_000;

/// A session's messages, oldest first. `after` (a message id) and `limit` page through long
/// histories.
#[utoipa::path(
    get, path = "/api/sessions/{session_id}/messages", tag = "sessions",
    params(
        ("session_id" = String, Path, description = "The session's UUID"),
        ("after" = Option<i64>, Query, minimum = 0, description = "Only messages with a greater id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 10000, description = "At most this many (default and maximum 10000)"),
        ("client_token" = Option<String>, Query, description = "The customer's token (required with CLIENT_TOKENS=required, unless an agent asks)"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<Message>),
        (status = 404, description = "Session not found", body = super::models::ErrorBody),
        (status = 422, description = "Invalid paging parameters", body = super::models::HttpValidationError),
    )
)]
async fn get_messages(
    State(state): State<AppState>,
    MaybeAuthAdmin(agent): MaybeAuthAdmin,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let mut c = Checker::default();
    let after = c.query_int(&query, "after", 0, 0, i64::MAX);
    let limit = c.query_int(&query, "limit", MAX_HISTORY_PAGE, 1, MAX_HISTORY_PAGE);
    c.finish(Some(()))?;
    let session_id = parse_session_id(&session_id)?;
    let token = query.get("client_token").map(String::as_str);
    state
        .chat
        .check_client(session_id, token, agent.is_some())?;
    let messages = state
        .chat
        .history(session_id, MessageId(after), limit)
        .await?;
    Ok(Json(messages.into_iter().map(Message::from).collect()))
}
