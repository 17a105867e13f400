//! Extractors that authenticate agents from `Authorization: Bearer <access token>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::accounts::AdminRecord;
use crate::error::ApiError;
use crate::state::AppState;

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

async fn authenticate(state: &AppState, token: &str) -> Result<AdminRecord, ApiError> {
    let admin = state.accounts.authenticate(token).await?;
    tracing::Span::current().record("admin_id", admin.id.0);
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
        Ok(Self(authenticate(state, token).await?))
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
