use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_detail, expect_json, spawn_app};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let body = expect_json(app.get("/health").await, StatusCode::OK).await;
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn ready_reflects_the_database() {
    let app = spawn_app().await;
    let body = expect_json(app.get("/ready").await, StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
    let expected = if crate::helpers::postgres_server().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);

    app.state.chat.db().close().await;
    let response = app.get("/ready").await;
    assert_eq!(response.headers()["retry-after"], "5");
    expect_detail(response, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn database_outage_is_503_with_retry_after_not_500() {
    let app = spawn_app().await;
    app.state.chat.db().close().await;
    let response = app
        .post_json("/api/sessions", &crate::helpers::client_info())
        .await;
    assert!(response.headers().contains_key("retry-after"));
    let detail = expect_detail(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(detail.contains("unavailable"), "{detail}");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = spawn_app().await;
    assert_eq!(
        expect_detail(app.get("/no/such/path").await, StatusCode::NOT_FOUND).await,
        "Not Found"
    );
    let response = app
        .client
        .delete(app.url("/api/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_detail(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "Method Not Allowed"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    // A caller's own id is kept, so logs can be correlated across services.
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = crate::helpers::spawn_app_with(&[("CORS_ORIGINS", "https://shop.example.com")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/sessions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://shop.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // Without CORS_ORIGINS no cross-origin access is granted.
    let closed = spawn_app().await;
    let response = closed
        .client
        .get(closed.url("/health"))
        .header("origin", "https://shop.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
