//! Liveness and readiness probes for load balancers and orchestrators.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// A database that takes longer than this to answer `SELECT 1` counts as down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// 200 while the process serves requests.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "Serving")))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get, path = "/ready", tag = "health",
    responses(
        (status = 200, description = "Database reachable"),
        (status = 503, description = "Database unreachable", body = super::models::ErrorBody),
    )
)]
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.chat.ready()).await {
        Ok(Ok(())) => Ok(Json(
            json!({ "status": "ready", "database": state.chat.db().backend() }),
        )),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            Err(ApiError::Unavailable("Database unavailable".into()))
        }
        Err(_) => Err(ApiError::Unavailable(
            "Database did not answer in time".into(),
        )),
    }
}
