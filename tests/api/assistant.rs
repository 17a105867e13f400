//! The assistant against a local fake Gemini server speaking the real wire format.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_gemini::{FakeGemini, Mode};
use crate::helpers::{TestApp, spawn_app_with};
use crate::ws::WsClient;

async fn app_with(fake: &FakeGemini, extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(&str, String)> = fake.settings();
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&borrowed).await
}

async fn customer(app: &TestApp) -> (WsClient, String) {
    let session = app.create_session().await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let (ws, _) = app.client_ws(&id).await;
    (ws, id)
}

fn texts(content: &Value) -> Vec<String> {
    content["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn gemini_gets_the_system_prompt_history_and_alternating_roles() {
    let fake = FakeGemini::start(Mode::Reply("Happy to help!".into())).await;
    let app = app_with(
        &fake,
        &[("SYSTEM_PROMPT", "You are Sparky, the shop's assistant.")],
    )
    .await;
    let (mut ws, _) = customer(&app).await;

    ws.send_json(json!({"content": "Hi, do you sell gift cards?"}))
        .await;
    let reply = ws.expect_next("message").await;
    assert_eq!(reply["content"], "Happy to help!");
    assert_eq!(reply["sender_type"], "AI");
    ws.send_json(json!({"content": "And can I pay with PayPal?"}))
        .await;
    ws.expect_next("message").await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let last = &requests[1];
    assert_eq!(
        last.path,
        "/v1beta/models/gemini-3.5-flash-lite:generateContent"
    );
    assert_eq!(last.api_key.as_deref(), Some("test-gemini-key"));
    let body = &last.body;
    assert_eq!(
        texts(&body["systemInstruction"]),
        ["You are Sparky, the shop's assistant."]
    );
    let contents = body["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(texts(&contents[0]), ["Hi, do you sell gift cards?"]);
    assert_eq!(texts(&contents[1]), ["Happy to help!"]);
    assert_eq!(texts(&contents[2]), ["And can I pay with PayPal?"]);
    assert!(
        body["generationConfig"]["maxOutputTokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn agent_messages_are_part_of_the_history_after_a_return_to_the_assistant() {
    let fake = FakeGemini::start(Mode::Reply("Noted.".into())).await;
    let app = app_with(&fake, &[]).await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let (mut ws, id) = customer(&app).await;

    console
        .send_json(json!({"type": "claim_session", "session_id": id}))
        .await;
    console.expect("session_claimed").await;
    console.send_json(json!({"type": "message", "session_id": id, "content": "Your refund was issued today."})).await;
    ws.expect("message").await;
    console
        .send_json(json!({"type": "return_to_ai", "session_id": id}))
        .await;
    ws.expect("returned_to_ai").await;
    ws.send_json(json!({"content": "When will the refund arrive?"}))
        .await;
    assert_eq!(ws.expect("message").await["content"], "Noted.");

    let body = fake.requests().last().unwrap().body.clone();
    let contents = body["contents"].as_array().unwrap();
    // The agent's line comes before the question, as the assistant's side of the conversation.
    let all: Vec<(String, Vec<String>)> = contents
        .iter()
        .map(|c| (c["role"].as_str().unwrap().to_owned(), texts(c)))
        .collect();
    assert!(
        all.iter().any(|(role, parts)| role == "model"
            && parts
                .iter()
                .any(|p| p.contains("Your refund was issued today."))),
        "{all:?}"
    );
    assert_eq!(
        all.last().unwrap().1.last().unwrap(),
        "When will the refund arrive?"
    );
}

async fn expect_fallback(mode: Mode, extra: &[(&str, &str)]) {
    let fake = FakeGemini::start(mode).await;
    let app = app_with(&fake, extra).await;
    let (mut ws, id) = customer(&app).await;
    ws.send_json(json!({"content": "Where is my order?"})).await;
    let reply = ws.expect_next("message").await;
    assert_eq!(reply["sender_type"], "AI");
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.contains("human agent"),
        "the fallback offers a person: {text}"
    );
    // The customer is not stuck: they can still ask for a person, and the session still works.
    ws.send_json(json!({"content": "ok, talk to a human"}))
        .await;
    ws.expect_next("handoff_requested").await;
    let session = app
        .get(&format!("/api/sessions/{id}"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(session["state"], "HUMAN");
}

#[tokio::test]
async fn gemini_server_error_gives_a_polite_fallback() {
    expect_fallback(Mode::Status(500), &[]).await;
}

#[tokio::test]
async fn gemini_rate_limit_gives_a_polite_fallback() {
    expect_fallback(Mode::Status(429), &[]).await;
}

#[tokio::test]
async fn gemini_timeout_gives_a_polite_fallback() {
    expect_fallback(
        Mode::Hang(Duration::from_secs(5)),
        &[("AI_TIMEOUT_SECONDS", "1")],
    )
    .await;
}

#[tokio::test]
async fn gemini_safety_block_gives_a_polite_fallback() {
    expect_fallback(Mode::Blocked, &[]).await;
}

#[tokio::test]
async fn gemini_malformed_answer_gives_a_polite_fallback() {
    expect_fallback(Mode::Garbage, &[]).await;
}

#[tokio::test]
async fn the_knowledge_base_admits_what_it_does_not_know() {
    let app = crate::helpers::spawn_app().await;
    let (mut ws, _) = customer(&app).await;
    ws.send_json(json!({"content": "Do you repair vintage motorcycles?"}))
        .await;
    let reply = ws.expect_next("message").await;
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.contains("not sure") && text.contains("human agent"),
        "{text}"
    );
}

#[tokio::test]
async fn the_assistant_recovers_when_gemini_does() {
    let fake = FakeGemini::start(Mode::Status(503)).await;
    let app = app_with(&fake, &[]).await;
    let (mut ws, _) = customer(&app).await;
    ws.send_json(json!({"content": "Is my order on its way?"}))
        .await;
    assert!(
        ws.expect_next("message").await["content"]
            .as_str()
            .unwrap()
            .contains("human agent")
    );
    fake.set_mode(Mode::Reply("Yes, it shipped yesterday.".into()));
    ws.send_json(json!({"content": "Is my order on its way?"}))
        .await;
    assert_eq!(
        ws.expect_next("message").await["content"],
        "Yes, it shipped yesterday."
    );
}
