//! Application assembly: the router with its middleware, and serving with graceful shutdown.
//! [`Application::build`] binds its own listener, so tests use port 0. The shared state is in
//! `state.rs`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Settings;
pub use crate::state::AppState;
use crate::store::Db;
use crate::{routes, security, ws};

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long shutdown waits for sockets to close and assistant replies to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A migrated database and a bound listener, ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects to and migrates the database, then binds `HOST:PORT`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(settings.database_url.expose(), settings.sqlite_sync)
            .await
            .context("could not open the database (check DATABASE_URL)")?;
        db.migrate()
            .await
            .context("could not migrate the database")?;
        let address = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("could not listen on {address} (check HOST and PORT)"))?;
        let state = AppState::build(settings, db)?;
        tracing::info!(assistant = state.chat.assistant_name(), "assistant ready");
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then every socket gets a Close frame (1001), in-flight
    /// requests and assistant replies finish (within a grace period), and the pool closes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self { listener, state } = self;
        let db = state.chat.db().clone();
        let tasks = state.tasks.clone();
        let cancel = state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            cancel.cancel();
        };
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY");
            }
        });
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sockets or assistant replies did not finish in time");
        }
        db.close().await;
        result
    }
}

/// The whole HTTP surface with its middleware.
pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let cors = cors_layer(&state.settings.cors_origins);
    let app = routes::router()
        .merge(ws::router())
        .fallback(|| async { detail(StatusCode::NOT_FOUND, "Not Found") })
        .method_not_allowed_fallback(|| async {
            detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    // The route pattern, never the raw URI: query strings may carry tokens.
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let request_id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        request_id,
                        admin_id = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state);
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// `{"detail": message}` with `status`.
fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "detail": message }))).into_response()
}

/// Browsers may call the API only from `CORS_ORIGINS`; none configured means same-origin only.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(3600)),
    )
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled, so a signal that arrives while the server is
/// still starting is not lost (and does not kill the process outright).
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received, finishing in-flight requests");
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received, finishing in-flight requests");
    })
}
