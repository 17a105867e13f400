//! API documentation, served entirely from the binary: `/openapi.json` (generated from the routes
//! as they are registered, see `routes::router`), Swagger UI at `/docs`
//! (the vendored build of `utoipa-swagger-ui`) and ReDoc at `/redoc` (the `redoc` npm bundle,
//! committed under `web/vendor/redoc` with its licence). Nothing is fetched from the internet.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Customer chat where an AI assistant answers first and hands off to human agents. \
                       WebSocket endpoints: `/ws/client/{session_id}` and `/ws/admin?token=`.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "sessions", description = "Customers open a chat and read its history"),
        (name = "auth", description = "Agent accounts and tokens"),
        (name = "admin", description = "The agent console: queue, claim, close"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the admin endpoints require.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from /api/auth/login"))
                    .build(),
            ),
        );
    }
}

const REDOC_JS: &[u8] = include_bytes!("../../web/vendor/redoc/redoc.standalone.js");

const REDOC_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Switchboard API — ReDoc</title>
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

/// Serves `openapi` and the two documentation pages.
pub fn router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::new()
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .route("/redoc", get(|| async { Html(REDOC_PAGE) }))
        .route(
            "/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    REDOC_JS,
                )
                    .into_response()
            }),
        )
}
