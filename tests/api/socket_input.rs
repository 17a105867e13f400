//! Bad input over the sockets: a specific `error` event with a code, and the socket stays open.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::spawn_app;

#[tokio::test]
async fn bad_customer_frames_get_error_events_and_the_socket_survives() {
    let app = spawn_app().await;
    let (mut ws, id) = app.customer().await;
    let too_long = "x".repeat(8001);
    let cases: Vec<(String, &str)> = vec![
        ("this is not json".into(), "bad_request"),
        ("[1, 2, 3]".into(), "bad_request"),
        (json!({"type": "dance"}).to_string(), "bad_request"),
        (json!({"type": 7}).to_string(), "bad_request"),
        (json!({"type": "message"}).to_string(), "bad_request"),
        (json!({}).to_string(), "bad_request"),
        (json!({"content": ""}).to_string(), "bad_request"),
        (json!({"content": " \n\t "}).to_string(), "bad_request"),
        (json!({"content": 42}).to_string(), "bad_request"),
        (json!({"content": too_long}).to_string(), "too_large"),
        (
            json!({"content": "hi", "client_msg_id": ""}).to_string(),
            "bad_request",
        ),
        // NUL (which PostgreSQL cannot store) and other C0 controls, in text or in an id.
        (json!({"content": "a\u{0}b"}).to_string(), "bad_request"),
        (json!({"content": "ring \u{7}"}).to_string(), "bad_request"),
        (
            json!({"content": "hi", "client_msg_id": "id\u{0}"}).to_string(),
            "bad_request",
        ),
    ];
    for (frame, code) in cases {
        ws.send_text(&frame).await;
        let error = ws.expect_next("error").await;
        assert_eq!(error["code"], code, "{frame}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send_raw(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(ws.expect_next("error").await["code"], "bad_request");

    // Still open and working; nothing bad was stored.
    ws.send_json(json!({"content": "What are your opening hours?"}))
        .await;
    assert_eq!(ws.expect_next("message").await["sender_type"], "AI");
    let history = app
        .get(&format!("/api/sessions/{id}/messages"))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_agent_frames_get_error_events_and_the_socket_survives() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut ws, _) = app.admin_ws(&agent.access).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "bad_request"),
        (json!({"content": "no type"}).to_string(), "bad_request"),
        (json!({"type": "fly"}).to_string(), "bad_request"),
        (json!({"type": "claim_session"}).to_string(), "bad_request"),
        (
            json!({"type": "claim_session", "session_id": "nope"}).to_string(),
            "not_found",
        ),
        (
            json!({"type": "claim_session", "session_id": unknown}).to_string(),
            "not_found",
        ),
        (
            json!({"type": "message", "session_id": unknown, "content": "x"}).to_string(),
            "not_found",
        ),
        (
            json!({"type": "message", "session_id": unknown, "content": "  "}).to_string(),
            "bad_request",
        ),
        (
            json!({"type": "close_session", "session_id": unknown}).to_string(),
            "not_found",
        ),
    ];
    for (frame, code) in cases {
        ws.send_text(&frame).await;
        let error = ws.expect_next("error").await;
        assert_eq!(error["code"], code, "{frame}");
    }
    ws.send_json(json!({"type": "get_queue"})).await;
    assert_eq!(ws.expect_next("queue_update").await["queue_size"], 0);
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let (mut ws, id) = app.customer().await;
    let huge = json!({"content": "x".repeat(70 * 1024)}).to_string();
    // The server may close before the whole frame is written.
    let _ = ws.send_raw(Message::text(huge)).await;
    assert_eq!(ws.expect_close().await, Some(1009));
    // Other sockets are unaffected.
    let (mut other, _) = app.client_ws(&id).await;
    other.send_json(json!({"content": "hello"})).await;
    other.expect_next("message").await;
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_the_socket_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let app = spawn_app().await;
    let (mut ws, id) = app.customer().await;
    let invalid = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    let _ = ws.send_raw(Message::Frame(invalid)).await;
    assert_eq!(ws.expect_close().await, Some(1007));
    // The session is fine: a new socket works.
    let (mut other, _) = app.client_ws(&id).await;
    other
        .send_json(json!({"content": "tab\tand\nnewline are fine"}))
        .await;
    other.expect_next("message").await;
}
