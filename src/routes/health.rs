//! Liveness and readiness probes for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;

/// A database that takes longer than this to answer `SELECT 1` counts as down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
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
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({ "status": "ready", "database": state.db.backend() }),
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
