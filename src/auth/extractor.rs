//! Extractors that authenticate agents from `Authorization: Bearer <access token>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::tokens::TokenKind;
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{self, admins::AdminRecord};

/// An authenticated, active agent. A handler taking this cannot run without a valid access token.
pub struct AuthAdmin(pub AdminRecord);

/// An agent if the request carries credentials; `None` if it carries none. Credentials that
/// are present but invalid are still rejected.
pub struct MaybeAuthAdmin(pub Option<AdminRecord>);

fn credentials_rejected() -> ApiError {
    ApiError::Unauthorized("Could not validate credentials".into())
}

/// The bearer token of the request: `Ok(None)` without an Authorization header.
fn bearer_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = header.to_str().map_err(|_| credentials_rejected())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(credentials_rejected)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(credentials_rejected());
    }
    Ok(Some(token.trim()))
}

/// Resolves an access token to an active agent: the token must verify as an access token and
/// its account must still exist and be active.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AdminRecord, ApiError> {
    let admin_id = state
        .tokens
        .verify(token, TokenKind::Access)
        .map_err(|_| credentials_rejected())?;
    let admin = store::admins::find_by_id(&state.db, admin_id)
        .await?
        .ok_or_else(credentials_rejected)?;
    if !admin.is_active {
        return Err(ApiError::Forbidden("Inactive user".into()));
    }
    Ok(admin)
}

impl FromRequestParts<AppState> for AuthAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?
            .ok_or_else(|| ApiError::Unauthorized("Not authenticated".into()))?;
        let admin = authenticate(state, token).await?;
        tracing::Span::current().record("admin_id", admin.id);
        Ok(Self(admin))
    }
}

impl FromRequestParts<AppState> for MaybeAuthAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(parts)? {
            None => Ok(Self(None)),
            Some(token) => Ok(Self(Some(authenticate(state, token).await?))),
        }
    }
}
