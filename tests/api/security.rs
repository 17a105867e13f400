//! Defences every response and socket carries: security headers, and the `Origin` check on both
//! sockets (cross-site WebSocket hijacking).

use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

/// The HTTP status of a socket handshake to `path` sent with `Origin: origin`.
async fn handshake(app: &TestApp, path: &str, origin: Option<&str>) -> u16 {
    let url = format!("{}{path}", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_api_answers_are_not_stored() {
    let app = spawn_app().await;
    for path in ["/health", "/api/admin/queue", "/no/such/page", "/console"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "plain HTTP: {path}"
        );
    }
    let session = app.create_session().await;
    let id = session["session_id"].as_str().unwrap();
    for path in [
        format!("/api/sessions/{id}"),
        format!("/api/sessions/{id}/messages"),
    ] {
        assert_eq!(
            app.get(&path).await.headers()["cache-control"],
            "no-store",
            "{path}"
        );
    }
    let agent = app.first_agent().await;
    let login = app.login("admin", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let me = app.get_as("/api/admin/me", &agent.access).await;
    assert_eq!(me.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn hsts_is_sent_over_https_behind_a_trusted_proxy_only() {
    let https = |app: &TestApp| {
        app.client
            .get(app.url("/health"))
            .header("x-forwarded-proto", "https")
            .send()
    };
    let trusted = spawn_app_with(&[("TRUST_PROXY", "true")]).await;
    let response = https(&trusted).await.unwrap();
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");

    // Without TRUST_PROXY anyone could send the header: it is not believed.
    let untrusted = spawn_app().await;
    let response = https(&untrusted).await.unwrap();
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

#[tokio::test]
async fn sockets_refuse_pages_of_other_origins_before_the_upgrade() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://shop.example")]).await;
    let agent = app.first_agent().await;
    let id = app.create_session().await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app.address.clone();
    for path in [
        format!("/ws/admin?token={}", agent.access),
        format!("/ws/client/{id}"),
    ] {
        assert_eq!(
            handshake(&app, &path, Some("https://evil.example")).await,
            403,
            "{path}"
        );
        assert_eq!(handshake(&app, &path, Some("null")).await, 403, "{path}");
        assert_eq!(
            handshake(&app, &path, Some(&own)).await,
            101,
            "{path}: own origin"
        );
        assert_eq!(
            handshake(&app, &path, Some("https://shop.example")).await,
            101,
            "{path}: listed"
        );
        assert_eq!(
            handshake(&app, &path, None).await,
            101,
            "{path}: not a browser"
        );
    }
}

/// `POST /api/auth/login` for `username` from client address `from` (behind a trusted proxy).
async fn login_from(
    app: &TestApp,
    username: &str,
    password: &str,
    from: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", from)
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Logs in wrongly from `from` until refused with 429; returns how many 401s came first and the
/// 429's `Retry-After`.
async fn fail_until_throttled(
    app: &TestApp,
    usernames: impl Fn(usize) -> String,
    from: &str,
) -> (usize, u64) {
    for attempt in 0..40 {
        let response = login_from(app, &usernames(attempt), "not the password", from).await;
        match response.status() {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                return (attempt, wait);
            }
            other => panic!("unexpected {other}"),
        }
    }
    panic!("never throttled");
}

#[tokio::test]
async fn wrong_passwords_are_throttled_without_locking_the_agent_out_elsewhere() {
    let app = spawn_app_with(&[("TRUST_PROXY", "true")]).await;
    let admin = app.first_agent().await;
    app.register("grace", Some(&admin)).await;
    let attacker = "203.0.113.7";

    let (failures, wait) = fail_until_throttled(&app, |_| "admin".into(), attacker).await;
    assert!(
        (5..=7).contains(&failures),
        "a few failures are free: {failures}"
    );
    assert!(wait >= 1);
    // Even the right password is refused from there while it lasts...
    let blocked = login_from(&app, "admin", PASSWORD, attacker).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but not from the agent's own address, nor for another account from the attacker's.
    let elsewhere = login_from(&app, "admin", PASSWORD, "198.51.100.20").await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
    let other_account = login_from(&app, "grace", PASSWORD, attacker).await;
    assert_eq!(other_account.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_throttled_on_every_instance() {
    let app = spawn_app_with(&[("TRUST_PROXY", "true")]).await;
    app.first_agent().await;
    // A second instance on the same database, behind the same proxy.
    let node =
        spawn_app_with(&[("DATABASE_URL", &app.database_url), ("TRUST_PROXY", "true")]).await;
    let sprayer = "203.0.113.99";
    let (failures, _) = fail_until_throttled(&app, |n| format!("user{n}"), sprayer).await;
    assert!(
        (20..=22).contains(&failures),
        "{failures} accounts tried first"
    );
    // The other instance agrees (checked at once: the first delay is a second long).
    let there = login_from(&node, "admin", PASSWORD, sprayer).await;
    assert_eq!(there.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        login_from(&node, "admin", PASSWORD, "198.51.100.1")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_may_open_only_so_many_sessions_an_hour() {
    let app = spawn_app_with(&[("TRUST_PROXY", "true"), ("SESSIONS_PER_IP_PER_HOUR", "3")]).await;
    let open = |from: &'static str| {
        app.client
            .post(app.url("/api/sessions"))
            .header("x-forwarded-for", from)
            .json(&crate::helpers::client_info())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            open("203.0.113.5").await.unwrap().status(),
            StatusCode::CREATED
        );
    }
    let refused = open("203.0.113.5").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(
        open("198.51.100.5").await.unwrap().status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_assistant_has_a_ceiling_for_all_conversations_together() {
    let app = spawn_app_with(&[("AI_CALLS_PER_MINUTE_GLOBAL", "2")]).await;
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..3 {
        let id = app.create_session().await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (mut ws, _) = app.client_ws(&id).await;
        ws.send_json(serde_json::json!({"content": "How long does shipping take?"}))
            .await;
        let (event, _) = ws.expect_skipping_any(&["message", "error"]).await;
        if event["type"] == "error" {
            assert_eq!(event["code"], "rate_limited", "{event}");
            refused += 1;
        } else {
            answered += 1;
        }
    }
    assert_eq!((answered, refused), (2, 1));
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_sockets() {
    let app = spawn_app_with(&[("SOCKETS_PER_IP", "2")]).await;
    let id = app.create_session().await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/ws/client/{id}");
    let (first, _) = app.client_ws(&id).await;
    let (_second, _) = app.client_ws(&id).await;
    assert_eq!(handshake(&app, &path, None).await, 429);
    // A socket that closes frees its slot.
    first.close().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = handshake(&app, &path, None).await;
        if status == 101 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed ({status})"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn with_client_tokens_required_a_session_id_alone_reads_nothing() {
    let app = spawn_app_with(&[("CLIENT_TOKENS", "required")]).await;
    let created = app.create_session().await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let token = created["client_token"].as_str().unwrap().to_owned();
    let other = app.create_session().await["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/api/sessions/{id}"),
        format!("/api/sessions/{id}/messages"),
    ] {
        assert_eq!(
            app.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let wrong = app.get(&format!("{path}?client_token={other}")).await;
        assert_eq!(
            wrong.status(),
            StatusCode::FORBIDDEN,
            "another session's token: {path}"
        );
        let right = app.get(&format!("{path}?client_token={token}")).await;
        assert_eq!(right.status(), StatusCode::OK, "{path}");
    }
    // Agents read it with their own token.
    let agent = app.first_agent().await;
    let by_agent = app
        .get_as(&format!("/api/sessions/{id}"), &agent.access)
        .await;
    assert_eq!(by_agent.status(), StatusCode::OK);
    // The socket too.
    assert_eq!(
        handshake(&app, &format!("/ws/client/{id}"), None).await,
        403
    );
    let path = format!("/ws/client/{id}?client_token={token}");
    assert_eq!(handshake(&app, &path, None).await, 101);
}

#[tokio::test]
async fn client_tokens_are_optional_by_default_as_in_the_reference() {
    let app = spawn_app().await;
    let created = app.create_session().await;
    assert!(
        created["client_token"]
            .as_str()
            .is_some_and(|t| t.len() == 64)
    );
    let id = created["session_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/sessions/{id}")).await.status(),
        StatusCode::OK
    );
}
