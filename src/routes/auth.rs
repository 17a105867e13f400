//! Agent registration, login and token refresh over HTTP. The rules (who may register, token
//! rotation) are the account use cases in `accounts/`; this module reads requests and writes
//! responses.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Checker, FromJson, RawBody, ValidJson, validate};
use super::models::Token;
use crate::auth::{AuthAdmin, MaybeAuthAdmin};
use crate::domain::Invalid;
use crate::domain::account::{NewAccount, Password, Username, parse_full_name};
use crate::domain::client_info::Email;
use crate::error::{ApiError, FieldError};
use crate::security::ClientAddress;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(change_password))
}

impl FromJson for NewAccount {
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
#[derive(utoipa::ToSchema)]
#[schema(as = LoginBody)]
pub struct Login {
    username: String,
    #[schema(format = Password)]
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

/// The JSON form of a refresh (the query parameter works too).
#[derive(utoipa::ToSchema)]
#[schema(as = RefreshBody)]
pub struct Refresh {
    refresh_token: String,
}

impl FromJson for Refresh {
    fn from_json(body: &Value, c: &mut Checker) -> Option<Self> {
        let root = c.object(body, &["body"])?;
        let refresh_token = c.field(root, &["body"], "refresh_token", |s| Ok(s.to_owned()));
        Some(Self {
            refresh_token: refresh_token?,
        })
    }
}

/// Create an agent account and log it in. Open only while no account exists, unless the
/// caller is an agent or `ALLOW_REGISTRATION=true`.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = NewAccount,
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
    ValidJson(account): ValidJson<NewAccount>,
) -> Result<(StatusCode, Json<Token>), ApiError> {
    let tokens = state.accounts.register(caller.as_ref(), &account).await?;
    Ok((StatusCode::CREATED, Json(tokens.into())))
}

/// Log in with username and password.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = Login,
    responses(
        (status = 200, body = Token),
        (status = 401, description = "Incorrect username or password", body = super::models::ErrorBody),
        (status = 403, description = "Account deactivated", body = super::models::ErrorBody),
        (status = 422, description = "Missing field", body = super::models::HttpValidationError),
        (status = 429, description = "Too many failed sign-ins: wait `Retry-After` seconds", body = super::models::ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(body): ValidJson<Login>,
) -> Result<Json<Token>, ApiError> {
    let tokens = state
        .accounts
        .login(&body.username, body.password, address)
        .await?;
    Ok(Json(tokens.into()))
}

/// Exchange a refresh token for a new pair. The old refresh token stops working.
/// The token goes in the `refresh_token` query parameter (as the reference backend takes it)
/// or in a JSON body `{"refresh_token": ...}`.
#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    params(("refresh_token" = Option<String>, Query, description = "The refresh token instead of the JSON body (as the reference backend takes it)")),
    request_body = Refresh,
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
    let token = refresh_token(&query, &body)?;
    let tokens = state.accounts.refresh(&token).await?;
    Ok(Json(tokens.into()))
}

/// The refresh token of a request: the `refresh_token` query parameter, else the JSON body's.
fn refresh_token(query: &HashMap<String, String>, body: &[u8]) -> Result<String, ApiError> {
    match query.get("refresh_token") {
        Some(token) => Ok(token.clone()),
        None if body.iter().all(u8::is_ascii_whitespace) => {
            Err(ApiError::Validation(vec![FieldError::new(
                &["query", "refresh_token"],
                &Invalid::new("missing", "Field required"),
            )]))
        }
        None => Ok(validate::<Refresh>(body)?.refresh_token),
    }
}

/// Sign out: the refresh token's family (this sign-in, however often it was refreshed) stops
/// working. The token goes in the query or the JSON body, as for a refresh.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    params(("refresh_token" = Option<String>, Query, description = "The refresh token instead of the JSON body (as the reference backend takes it)")),
    request_body = Refresh,
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Refresh token invalid or already revoked", body = super::models::ErrorBody),
        (status = 422, description = "No refresh token given", body = super::models::HttpValidationError),
    )
)]
async fn logout(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let token = refresh_token(&query, &body)?;
    state.accounts.sign_out(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change: the current password and the new one.
#[derive(utoipa::ToSchema)]
#[schema(as = ChangePasswordBody)]
pub struct ChangePassword {
    #[schema(format = Password)]
    current_password: String,
    /// At least 8 characters, not a common password, not the username or email.
    #[schema(min_length = 8, max_length = 1024, format = Password)]
    new_password: String,
}

impl FromJson for ChangePassword {
    fn from_json(body: &Value, c: &mut Checker) -> Option<Self> {
        let root = c.object(body, &["body"])?;
        let current = c.field(root, &["body"], "current_password", |s| Ok(s.to_owned()));
        let new = c.field(root, &["body"], "new_password", |s| Ok(s.to_owned()));
        Some(Self {
            current_password: current?,
            new_password: new?,
        })
    }
}

/// Change the signed-in agent's password. Every refresh token of the agent stops working; the
/// answer is a new token pair for this sign-in.
#[utoipa::path(
    post, path = "/api/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 200, description = "Changed; a new token pair", body = Token),
        (status = 400, description = "Current password is incorrect", body = super::models::ErrorBody),
        (status = 401, description = "Not authenticated", body = super::models::ErrorBody),
        (status = 422, description = "New password refused by the policy", body = super::models::HttpValidationError),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    AuthAdmin(agent): AuthAdmin,
    ValidJson(body): ValidJson<ChangePassword>,
) -> Result<Json<Token>, ApiError> {
    let tokens = state
        .accounts
        .change_password(&agent, body.current_password, &body.new_password)
        .await?;
    Ok(Json(tokens.into()))
}
