use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::domain::ids::SessionKey;
use switchboard::domain::session::SenderType;
use switchboard::store;
use uuid::Uuid;

use crate::helpers::{expect_detail, expect_json, expect_validation, loc, spawn_app};

fn with_client_info(name: Value, email: Value, phone: Value) -> Value {
    json!({"client_info": {"name": name, "email": email, "phone": phone}})
}

#[tokio::test]
async fn creating_a_session_returns_it_with_the_assistant_in_charge() {
    let app = spawn_app().await;
    let body = with_client_info(
        json!("  Ada Lovelace "),
        json!("ada@example.com"),
        json!("+44 20 7946 0958"),
    );
    let session = expect_json(
        app.post_json("/api/sessions", &body).await,
        StatusCode::CREATED,
    )
    .await;

    assert!(session["id"].is_i64());
    Uuid::parse_str(session["session_id"].as_str().unwrap()).expect("session_id is a UUID");
    assert_eq!(session["state"], "AI");
    assert_eq!(session["assigned_admin_id"], Value::Null);
    assert_eq!(session["closed_at"], Value::Null);
    let info = &session["client_info"];
    assert_eq!(info["name"], "Ada Lovelace", "names are trimmed");
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(info["phone"], "+44 20 7946 0958");
    assert!(info["id"].is_i64());
    for stamp in [
        &session["created_at"],
        &session["updated_at"],
        &info["created_at"],
    ] {
        let text = stamp.as_str().unwrap();
        let parsed: DateTime<Utc> = text.parse().expect("RFC 3339");
        assert!(text.ends_with('Z'), "UTC: {text}");
        assert!((Utc::now() - parsed).num_seconds() < 60);
    }
}

#[tokio::test]
async fn a_session_can_be_read_back() {
    let app = spawn_app().await;
    let mut created = app.create_session().await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let fetched = app.session(&id).await;
    // The creation also hands out the customer's client_token; the session is otherwise the same.
    assert!(created["client_token"].is_string());
    created.as_object_mut().unwrap().remove("client_token");
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn unknown_sessions_are_404() {
    let app = spawn_app().await;
    for path in [
        format!("/api/sessions/{}", Uuid::new_v4()),
        format!("/api/sessions/{}/messages", Uuid::new_v4()),
        "/api/sessions/not-a-uuid".to_owned(),
        "/api/sessions/not-a-uuid/messages".to_owned(),
    ] {
        assert_eq!(
            expect_detail(app.get(&path).await, StatusCode::NOT_FOUND).await,
            "Session not found"
        );
    }
}

#[tokio::test]
async fn each_client_info_field_is_validated() {
    let app = spawn_app().await;
    let good_name = json!("John");
    let good_email = json!("john@example.com");
    let good_phone = json!("+1234567890");
    let cases = [
        (
            "name",
            with_client_info(json!(""), good_email.clone(), good_phone.clone()),
            "string_too_short",
        ),
        (
            "name",
            with_client_info(json!("   "), good_email.clone(), good_phone.clone()),
            "string_too_short",
        ),
        (
            "name",
            with_client_info(
                json!("x".repeat(256)),
                good_email.clone(),
                good_phone.clone(),
            ),
            "string_too_long",
        ),
        (
            "name",
            with_client_info(json!(42), good_email.clone(), good_phone.clone()),
            "string_type",
        ),
        (
            "name",
            with_client_info(Value::Null, good_email.clone(), good_phone.clone()),
            "missing",
        ),
        (
            "email",
            with_client_info(good_name.clone(), json!("not-an-email"), good_phone.clone()),
            "value_error",
        ),
        (
            "email",
            with_client_info(
                good_name.clone(),
                json!("john@localhost"),
                good_phone.clone(),
            ),
            "value_error",
        ),
        (
            "email",
            with_client_info(
                good_name.clone(),
                json!("john@exa mple.com"),
                good_phone.clone(),
            ),
            "value_error",
        ),
        (
            "email",
            with_client_info(good_name.clone(), json!("@example.com"), good_phone.clone()),
            "value_error",
        ),
        (
            "email",
            with_client_info(good_name.clone(), json!(["a@b.co"]), good_phone.clone()),
            "string_type",
        ),
        (
            "phone",
            with_client_info(good_name.clone(), good_email.clone(), json!("123456789")),
            "string_too_short",
        ),
        (
            "phone",
            with_client_info(good_name.clone(), good_email.clone(), json!("1".repeat(51))),
            "string_too_long",
        ),
        (
            "phone",
            with_client_info(
                good_name.clone(),
                good_email.clone(),
                json!("call me maybe"),
            ),
            "string_pattern_mismatch",
        ),
        (
            "phone",
            with_client_info(good_name.clone(), good_email.clone(), json!(1234567890)),
            "string_type",
        ),
    ];
    for (field, body, kind) in cases {
        let errors = expect_validation(app.post_json("/api/sessions", &body).await).await;
        assert_eq!(
            errors,
            vec![(loc(&["body", "client_info", field]), kind.to_owned())],
            "{body}"
        );
    }

    // A longest-allowed name and phone are fine.
    let body = with_client_info(json!("n".repeat(255)), good_email, json!("1".repeat(50)));
    expect_json(
        app.post_json("/api/sessions", &body).await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn all_invalid_fields_are_reported_together() {
    let app = spawn_app().await;
    let body = json!({"client_info": {"email": "nope", "phone": "12"}});
    let errors = expect_validation(app.post_json("/api/sessions", &body).await).await;
    let fields: Vec<&Value> = errors.iter().map(|(l, _)| &l[2]).collect();
    assert_eq!(fields, [&json!("name"), &json!("email"), &json!("phone")]);
}

#[tokio::test]
async fn malformed_bodies_are_422_never_500() {
    let app = spawn_app().await;
    let errors = expect_validation(app.post_raw("/api/sessions", "{\"client_info\": ").await).await;
    assert_eq!(errors[0].1, "json_invalid");
    assert_eq!(errors[0].0[0], "body");

    let errors = expect_validation(app.post_raw("/api/sessions", "").await).await;
    assert_eq!(errors, vec![(loc(&["body"]), "missing".to_owned())]);

    let errors = expect_validation(app.post_raw("/api/sessions", "[1, 2]").await).await;
    assert_eq!(
        errors,
        vec![(loc(&["body"]), "model_attributes_type".to_owned())]
    );

    let errors = expect_validation(app.post_json("/api/sessions", &json!({})).await).await;
    assert_eq!(
        errors,
        vec![(loc(&["body", "client_info"]), "missing".to_owned())]
    );

    let errors = expect_validation(
        app.post_json("/api/sessions", &json!({"client_info": "John"}))
            .await,
    )
    .await;
    assert_eq!(
        errors,
        vec![(
            loc(&["body", "client_info"]),
            "model_attributes_type".to_owned()
        )]
    );
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let app = spawn_app().await;
    let name = "x".repeat(1024 * 1024);
    let body = with_client_info(json!(name), json!("john@example.com"), json!("+1234567890"));
    let detail = expect_detail(
        app.post_json("/api/sessions", &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(detail.contains("too large"), "{detail}");
    // The server is still serving.
    app.create_session().await;
}

#[tokio::test]
async fn history_is_oldest_first_with_sender_types_and_pages() {
    let app = spawn_app().await;
    let created = app.create_session().await;
    let id = created["session_id"].as_str().unwrap();
    let empty = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty, json!([]));

    let key = SessionKey(created["id"].as_i64().unwrap());
    let script = [
        (SenderType::Client, "Hello, I need help"),
        (SenderType::Ai, "Of course! What is the problem?"),
        (SenderType::Client, "I want to speak to a human"),
        (SenderType::Admin, "Hi, this is Ada from support."),
    ];
    for (sender, content) in script {
        let message = store::messages::NewMessage {
            session: key,
            sender,
            sender_admin_id: None,
            content,
            client_msg_id: None,
            provider_data: None,
            created_at: Utc::now(),
        };
        let mut tx = app.state.chat.db().begin().await.unwrap();
        store::messages::insert(&mut tx, &message).await.unwrap();
        tx.commit().await.unwrap();
    }

    let history = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 4);
    for (message, (sender, content)) in history.iter().zip(script) {
        assert_eq!(message["sender_type"], sender.as_str());
        assert_eq!(message["content"], content);
        assert!(message["id"].is_i64());
        assert!(
            message["created_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .is_ok()
        );
    }
    let ids: Vec<i64> = history.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ascending ids: {ids:?}"
    );

    let page = expect_json(
        app.get(&format!(
            "/api/sessions/{id}/messages?after={}&limit=2",
            ids[0]
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    let page_ids: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page_ids, ids[1..3]);

    let errors = expect_validation(
        app.get(&format!("/api/sessions/{id}/messages?limit=0"))
            .await,
    )
    .await;
    assert_eq!(
        errors,
        vec![(loc(&["query", "limit"]), "greater_than_equal".to_owned())]
    );
    let errors = expect_validation(
        app.get(&format!("/api/sessions/{id}/messages?after=abc"))
            .await,
    )
    .await;
    assert_eq!(
        errors,
        vec![(loc(&["query", "after"]), "int_parsing".to_owned())]
    );

    // Another session's history is separate.
    let other = app.create_session().await;
    let other_id = other["session_id"].as_str().unwrap();
    let other_history = expect_json(
        app.get(&format!("/api/sessions/{other_id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(other_history, json!([]));
}
