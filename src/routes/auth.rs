//! Agent registration, login and token refresh.
//!
//! Registration is closed by default: the first account may register freely (nobody else can
//! yet), every later one needs an existing agent's access token, unless `ALLOW_REGISTRATION=true`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::Value;

use super::json::{Checker, FromJson, RawBody, ValidJson, parse_body};
use super::models::Token;
use crate::app::AppState;
use crate::auth::{MaybeAuthAdmin, TokenKind, password, tokens};
use crate::domain::Invalid;
use crate::domain::account::{Password, Username, parse_full_name};
use crate::domain::client_info::Email;
use crate::domain::session::AdminId;
use crate::error::{ApiError, FieldError};
use crate::store::{self, StoreError, admins::NewAdmin};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
}

/// A validated registration.
pub struct Register {
    username: Username,
    email: Email,
    password: Password,
    full_name: Option<String>,
}

impl FromJson for Register {
    fn from_json(body: &Value, c: &mut Checker) -> Option<Self> {
        let root = c.object(body, &["body"])?;
        let loc = ["body"];
        let username = c.field(root, &loc, "username", Username::parse);
        let email = c.field(root, &loc, "email", Email::parse);
        let full_name = c.optional_field(root, &loc, "full_name", parse_full_name);
        let (name_text, email_text) = (
            root.get("username")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            root.get("email")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let password = c.field(root, &loc, "password", |p| {
            Password::parse(p, name_text.trim(), email_text.trim())
        });
        Some(Self {
            username: username?,
            email: email?,
            password: password?,
            full_name: full_name?.flatten(),
        })
    }
}

/// Credentials to log in with. Only presence is checked: a wrong password is a 401, not a 422.
pub struct Login {
    username: String,
    password: String,
}

impl FromJson for Login {
    fn from_json(body: &Value, c: &mut Checker) -> Option<Self> {
        let root = c.object(body, &["body"])?;
        let username = c.field(root, &["body"], "username", |s| Ok(s.trim().to_owned()));
        let password = c.field(root, &["body"], "password", |s| Ok(s.to_owned()));
        Some(Self {
            username: username?,
            password: password?,
        })
    }
}

fn login_failed() -> ApiError {
    ApiError::Unauthorized("Incorrect username or password".into())
}

fn registration_closed() -> ApiError {
    ApiError::Unauthorized(
        "Registration is closed: an existing agent's access token is required".into(),
    )
}

/// Issues a token pair for `admin` and records the refresh token.
async fn issue_tokens(state: &AppState, admin: AdminId) -> Result<Json<Token>, ApiError> {
    let now = Utc::now();
    let pair = state
        .tokens
        .issue_pair(admin, now)
        .map_err(|e| ApiError::Internal(e.into()))?;
    store::refresh_tokens::insert(
        &state.db,
        admin,
        &tokens::fingerprint(&pair.refresh_token),
        pair.refresh_expires_at,
        now,
    )
    .await?;
    Ok(Json(Token {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "bearer",
    }))
}

/// Create an agent account and log it in. Open only while no account exists, unless the
/// caller is an agent or `ALLOW_REGISTRATION=true`.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = super::models::RegisterBody,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Account created; tokens for it", body = Token),
        (status = 400, description = "Username or email already registered", body = super::models::ErrorBody),
        (status = 401, description = "Registration closed and no valid agent token", body = super::models::ErrorBody),
        (status = 422, description = "Invalid field", body = super::models::HttpValidationError),
    )
)]
async fn register(
    State(state): State<AppState>,
    MaybeAuthAdmin(caller): MaybeAuthAdmin,
    ValidJson(body): ValidJson<Register>,
) -> Result<(StatusCode, Json<Token>), ApiError> {
    let open = caller.is_some() || state.settings.allow_registration;
    // Checked before anything else, so a stranger learns nothing about existing accounts.
    if !open && store::admins::any_exists(&state.db).await? {
        return Err(registration_closed());
    }
    let (username_taken, email_taken) =
        store::admins::taken(&state.db, body.username.as_str(), body.email.as_str()).await?;
    if username_taken {
        return Err(ApiError::BadRequest("Username already registered".into()));
    }
    if email_taken {
        return Err(ApiError::BadRequest("Email already registered".into()));
    }
    let password_hash = password::hash(body.password.expose().to_owned())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let new = NewAdmin {
        username: body.username.as_str(),
        email: body.email.as_str(),
        password_hash: &password_hash,
        full_name: body.full_name.as_deref(),
        created_at: Utc::now(),
    };
    let inserted = if open {
        store::admins::insert(&state.db, &new).await.map(Some)
    } else {
        // The first account: atomic, so two strangers racing cannot both become it.
        store::admins::insert_first(&state.db, &new).await
    };
    let admin = match inserted {
        Ok(Some(admin)) => admin,
        Ok(None) => return Err(registration_closed()),
        // A concurrent registration took the name between the check and the insert.
        Err(StoreError::Duplicate(index)) if index.contains("email") => {
            return Err(ApiError::BadRequest("Email already registered".into()));
        }
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::BadRequest("Username already registered".into()));
        }
        Err(other) => return Err(other.into()),
    };
    tracing::info!(admin_id = admin.id, by = ?caller.map(|c| c.id), "agent registered");
    Ok((StatusCode::CREATED, issue_tokens(&state, admin.id).await?))
}

/// Log in with username and password.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = super::models::LoginBody,
    responses(
        (status = 200, body = Token),
        (status = 401, description = "Incorrect username or password", body = super::models::ErrorBody),
        (status = 403, description = "Account deactivated", body = super::models::ErrorBody),
        (status = 422, description = "Missing field", body = super::models::HttpValidationError),
    )
)]
async fn login(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<Login>,
) -> Result<Json<Token>, ApiError> {
    let admin = store::admins::find_by_username(&state.db, &body.username).await?;
    let stored = admin.as_ref().map(|a| a.password_hash.clone());
    let valid = password::verify(body.password, stored)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let admin = match admin {
        Some(admin) if valid => admin,
        _ => {
            tracing::info!("login failed");
            return Err(login_failed());
        }
    };
    if !admin.is_active {
        return Err(ApiError::Forbidden("Inactive user".into()));
    }
    tracing::info!(admin_id = admin.id, "agent logged in");
    issue_tokens(&state, admin.id).await
}

/// Exchange a refresh token for a new pair. The old refresh token stops working.
/// The token goes in the `refresh_token` query parameter (as the reference backend takes it)
/// or in a JSON body `{"refresh_token": ...}`.
#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    params(("refresh_token" = Option<String>, Query, description = "The refresh token (or send it in the JSON body)")),
    request_body(content = Option<super::models::RefreshBody>),
    responses(
        (status = 200, body = Token),
        (status = 401, description = "Refresh token invalid, expired or already used", body = super::models::ErrorBody),
        (status = 422, description = "No refresh token given", body = super::models::HttpValidationError),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    RawBody(body): RawBody,
) -> Result<Json<Token>, ApiError> {
    let token = match query.get("refresh_token") {
        Some(token) => token.clone(),
        None if body.iter().all(u8::is_ascii_whitespace) => {
            return Err(ApiError::Validation(vec![FieldError::new(
                &["query", "refresh_token"],
                &Invalid::new("missing", "Field required"),
            )]));
        }
        None => {
            let value = parse_body(&body)?;
            let mut c = Checker::default();
            let token = c
                .object(&value, &["body"])
                .and_then(|root| c.field(root, &["body"], "refresh_token", |s| Ok(s.to_owned())));
            c.finish(token)?
        }
    };
    let rejected = || ApiError::Unauthorized("Invalid or expired refresh token".into());
    let admin_id = state
        .tokens
        .verify(token.trim(), TokenKind::Refresh)
        .map_err(|_| rejected())?;
    let consumed =
        store::refresh_tokens::consume(&state.db, &tokens::fingerprint(token.trim()), Utc::now())
            .await?;
    if consumed != Some(admin_id) {
        tracing::warn!(admin_id, "refresh token reused or revoked");
        return Err(rejected());
    }
    let admin = store::admins::find_by_id(&state.db, admin_id)
        .await?
        .ok_or_else(rejected)?;
    if !admin.is_active {
        return Err(ApiError::Forbidden("Inactive user".into()));
    }
    issue_tokens(&state, admin.id).await
}
