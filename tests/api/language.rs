//! The customer's language, the hand-off summary and agent assist, over real sockets: a
//! customer writing Spanish or French reads Switchboard's own texts in that language; agents get
//! a summary with every hand-off and the knowledge base's best passages for the latest message.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_ai::{FakeAi, Mode};
use crate::helpers::{client_info, expect_detail, expect_json, spawn_app, spawn_app_with};

/// Opens a session with the widget's `language` and a customer socket on it.
async fn customer_in(
    app: &crate::helpers::TestApp,
    language: &str,
) -> (crate::ws::WsClient, Value, String) {
    let mut body = client_info();
    body["language"] = json!(language);
    let session = expect_json(
        app.post_json("/api/sessions", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let (ws, connected) = app.client_ws(&id).await;
    (ws, connected, id)
}

#[tokio::test]
async fn a_spanish_customer_reads_spanish_and_the_agent_gets_a_summary() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let (mut ws, connected, id) = customer_in(&app, "es-MX").await;
    assert_eq!(connected["message"], "Conectado al chat de soporte");
    assert_eq!(app.session(&id).await["language"], "es");

    ws.send_json(json!({"content": "¿Cuánto tarda el envío a Canarias?"}))
        .await;
    ws.expect("message").await;
    ws.send_json(json!({"content": "kiero ablar kon alguien porfa"}))
        .await;
    let handoff = ws.expect("handoff_requested").await;
    assert!(
        handoff["message"]
            .as_str()
            .unwrap()
            .starts_with("Te estoy poniendo en contacto"),
        "{handoff}"
    );
    let waiting = ws.expect("waiting").await;
    assert_eq!(
        waiting["message"],
        "Eres el siguiente. Un agente te atenderá en breve."
    );

    let queued = console.expect("new_session_queued").await;
    let summary = queued["summary"].as_str().unwrap();
    assert!(
        summary.contains("kiero ablar kon alguien porfa"),
        "{summary}"
    );
    assert!(summary.contains("Canarias"), "{summary}");
    let queue = expect_json(
        app.get_as("/api/admin/queue", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue[0]["summary"], summary);

    console.claim(&id).await;
    let joined = ws.expect("agent_connected").await;
    assert!(
        joined["message"]
            .as_str()
            .unwrap()
            .ends_with("se ha unido a la conversación.")
    );
    console
        .send_json(json!({"type": "close_session", "session_id": id}))
        .await;
    let closed = ws.expect("session_closed").await;
    assert_eq!(
        closed["message"],
        "Esta conversación se ha cerrado. ¡Gracias por contactar con nosotros!"
    );
}

#[tokio::test]
async fn the_language_follows_what_the_customer_writes() {
    let app = spawn_app().await;
    // The browser said English; the customer writes French.
    let (mut ws, _, id) = customer_in(&app, "en-GB").await;
    ws.send_json(json!({"content": "Bonjour, quelle est la capitale du Pérou ?"}))
        .await;
    let reply = ws.expect("message").await;
    let text = reply["content"].as_str().unwrap();
    assert!(text.starts_with("Je ne suis pas sûr"), "{text}");
    assert!(text.contains("parler à un conseiller"), "{text}");
    assert_eq!(app.session(&id).await["language"], "fr");
    // The phrase the reply suggests hands off.
    ws.send_json(json!({"content": "parler à un conseiller"}))
        .await;
    let handoff = ws.expect("handoff_requested").await;
    assert!(
        handoff["message"]
            .as_str()
            .unwrap()
            .starts_with("Je vous mets en relation")
    );
}

#[tokio::test]
async fn an_unknown_or_invalid_language_is_handled() {
    let app = spawn_app().await;
    // A language Switchboard does not speak: English texts.
    let (_, connected, id) = customer_in(&app, "ja-JP").await;
    assert_eq!(connected["message"], "Connected to support chat");
    assert_eq!(app.session(&id).await["language"], Value::Null);
    // Not a string: a 422 naming the field.
    let mut body = client_info();
    body["language"] = json!(42);
    let response = app.post_json("/api/sessions", &body).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail: Value = response.json().await.unwrap();
    assert_eq!(detail["detail"][0]["loc"], json!(["body", "language"]));
}

#[tokio::test]
async fn agents_get_knowledge_base_suggestions_for_the_latest_message() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut ws, id) = app.customer().await;
    let path = format!("/api/admin/sessions/{id}/suggestions");

    let none = expect_json(app.get_as(&path, &agent.access).await, StatusCode::OK).await;
    assert_eq!(none, json!([]), "nothing before the customer writes");

    ws.send_json(json!({"content": "how long does delivery take?"}))
        .await;
    ws.expect("message").await;
    let found = expect_json(app.get_as(&path, &agent.access).await, StatusCode::OK).await;
    let first = &found[0];
    assert!(
        first["heading"].as_str().unwrap().contains("shipping"),
        "{found}"
    );
    assert!(
        first["text"].as_str().unwrap().contains("working days"),
        "{found}"
    );
    assert!(first["coverage"].as_f64().unwrap() > 0.0);

    expect_detail(app.get(&path).await, StatusCode::UNAUTHORIZED).await;
    let unknown = format!("/api/admin/sessions/{}/suggestions", uuid::Uuid::new_v4());
    expect_detail(
        app.get_as(&unknown, &agent.access).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn with_an_llm_the_agents_get_its_two_sentence_summary() {
    let fake = FakeAi::openai(Mode::Reply("Sure, shipping takes 3 days.".into())).await;
    let vars = fake.settings();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&borrowed).await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let (mut ws, id) = app.customer().await;
    ws.send_json(json!({"content": "How long is shipping?"}))
        .await;
    ws.expect("message").await;

    fake.set_mode(Mode::Reply(
        "The customer asked about shipping times. They now want a person.".into(),
    ));
    ws.send_json(json!({"content": "I want to talk to a human"}))
        .await;
    let queued = console.expect("new_session_queued").await;
    assert!(
        queued["summary"]
            .as_str()
            .unwrap()
            .contains("talk to a human")
    );
    let better = console.expect("session_summary").await;
    assert_eq!(better["session_id"], id.as_str());
    assert_eq!(
        better["summary"],
        "The customer asked about shipping times. They now want a person."
    );
    assert_eq!(
        app.session(&id).await["summary"],
        "The customer asked about shipping times. They now want a person."
    );
    // The model was given the conversation to summarise, not asked to chat.
    let request = fake.requests().pop().unwrap();
    let body = request.body.to_string();
    assert!(
        body.contains("You summarise customer-support chats"),
        "{body}"
    );
    assert!(body.contains("Customer: How long is shipping?"), "{body}");
}
