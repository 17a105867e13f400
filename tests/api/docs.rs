use reqwest::StatusCode;

use crate::helpers::{expect_json, spawn_app};

#[tokio::test]
async fn openapi_documents_every_endpoint_and_the_bearer_scheme() {
    let app = spawn_app().await;
    let spec = expect_json(app.get("/openapi.json").await, StatusCode::OK).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/sessions", "post"),
        ("/api/sessions/{session_id}", "get"),
        ("/api/sessions/{session_id}/messages", "get"),
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/refresh", "post"),
        ("/api/admin/queue", "get"),
        ("/api/admin/active", "get"),
        ("/api/admin/all-sessions", "get"),
        ("/api/admin/sessions/{session_id}/claim", "post"),
        ("/api/admin/sessions/{session_id}/close", "post"),
        ("/api/admin/me", "get"),
        ("/health", "get"),
        ("/ready", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    let scheme = &spec["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert!(
        paths["/api/admin/queue"]["get"]["security"]
            .to_string()
            .contains("bearer")
    );
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Session",
        "ClientInfo",
        "Message",
        "Token",
        "Admin",
        "HttpValidationError",
        "CreateSessionBody",
        "RegisterBody",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    // A 422's `loc` is documented as it is sent: strings and integers.
    let loc_items = &schemas["FieldError"]["properties"]["loc"]["items"]["oneOf"];
    let kinds: Vec<&str> = loc_items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["string", "integer"]);
    // The Session schema lists the reference's fields.
    let session_props = schemas["Session"]["properties"].as_object().unwrap();
    for field in [
        "id",
        "session_id",
        "state",
        "client_info",
        "assigned_admin_id",
        "created_at",
        "updated_at",
        "closed_at",
    ] {
        assert!(session_props.contains_key(field), "Session.{field}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_offline() {
    let app = spawn_app().await;
    for path in ["/docs", "/docs/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{path} is the Swagger UI page");
    }
    let config = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        config.contains("/openapi.json"),
        "Swagger UI loads our spec: {config}"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

#[tokio::test]
async fn redoc_is_served_from_the_vendored_bundle() {
    let app = spawn_app().await;
    let response = app.get("/redoc").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<redoc spec-url="/openapi.json">"#));
    assert!(html.contains(r#"src="/redoc/redoc.standalone.js""#));
    assert!(!html.contains("https://"), "no external assets: {html}");

    let script = app.get("/redoc/redoc.standalone.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = script.bytes().await.unwrap();
    assert!(body.len() > 500_000, "the full standalone bundle");
}
