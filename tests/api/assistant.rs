//! The assistant against local fake Gemini and OpenAI-compatible servers speaking the real wire
//! formats: streaming, grounding, AI-decided hand-off, and every fault mode. Each test checks
//! what the customer's socket receives and what becomes of the session.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_ai::{FakeAi, Flavour, Mode};
use crate::helpers::{TestApp, postgres_server, spawn_app_with};
use crate::ws::WsClient;

const BOTH: [Flavour; 2] = [Flavour::Gemini, Flavour::OpenAi];

async fn app_with(fake: &FakeAi, extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(&str, String)> = fake.settings();
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&borrowed).await
}

/// The streamed reply: its deltas, then the complete message (which must carry their stream id).
async fn streamed_reply(ws: &mut WsClient) -> (Vec<String>, Value) {
    let mut deltas = Vec::new();
    loop {
        let (event, _) = ws.expect_skipping_any(&["message_delta", "message"]).await;
        if event["type"] == "message" {
            if !deltas.is_empty() {
                assert!(event["stream_id"].is_string(), "{event}");
            }
            return (deltas, event);
        }
        deltas.push(event["delta"].as_str().unwrap().to_owned());
    }
}

fn texts(content: &Value) -> Vec<String> {
    content["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

fn is_fallback(message: &Value) -> bool {
    message["sender_type"] == "AI"
        && message["content"]
            .as_str()
            .is_some_and(|t| t.contains("trouble") && t.contains("human agent"))
}

#[tokio::test]
async fn gemini_gets_a_grounded_prompt_history_tools_and_the_token_cap() {
    let fake = FakeAi::gemini(Mode::Reply("Happy to help!".into())).await;
    let app = app_with(
        &fake,
        &[
            ("SYSTEM_PROMPT", "You are Sparky, the shop's assistant."),
            ("AI_MAX_REPLY_TOKENS", "300"),
        ],
    )
    .await;
    let (mut ws, _) = app.customer().await;

    ws.send_json(json!({"content": "Hi, how long does shipping take?"}))
        .await;
    let (deltas, reply) = streamed_reply(&mut ws).await;
    assert_eq!(reply["content"], "Happy to help!");
    assert_eq!(deltas.concat(), "Happy to help!");
    ws.send_json(json!({"content": "And can I pay with PayPal?"}))
        .await;
    streamed_reply(&mut ws).await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let last = &requests[1];
    assert_eq!(
        last.path,
        "/v1beta/models/gemini-3.5-flash-lite:streamGenerateContent?alt=sse"
    );
    assert_eq!(last.auth.as_deref(), Some("test-gemini-key"));
    let body = &last.body;
    let instruction = texts(&body["systemInstruction"]).concat();
    assert!(instruction.starts_with("You are Sparky, the shop's assistant."));
    // Grounded: the passages that match the conversation, with the rule to answer from them.
    assert!(instruction.contains("PayPal"), "{instruction}");
    assert!(instruction.contains("How long does shipping take?"));
    assert!(instruction.contains("only from the knowledge-base passages"));
    let contents = body["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(texts(&contents[1]), ["Happy to help!"]);
    assert_eq!(texts(&contents[2]), ["And can I pay with PayPal?"]);
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["name"],
        "transfer_to_human"
    );
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 300);
}

#[tokio::test]
async fn openai_gets_system_user_assistant_messages_tools_and_a_bearer_key() {
    let fake = FakeAi::openai(Mode::Reply("Sure thing.".into())).await;
    let app = app_with(&fake, &[("SYSTEM_PROMPT", "You are Sparky.")]).await;
    let (mut ws, _) = app.customer().await;
    ws.send_json(json!({"content": "Do you ship internationally?"}))
        .await;
    assert_eq!(streamed_reply(&mut ws).await.1["content"], "Sure thing.");
    ws.send_json(json!({"content": "To Canada?"})).await;
    streamed_reply(&mut ws).await;

    let last = fake.requests().pop().unwrap();
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.auth.as_deref(), Some("Bearer test-openai-key"));
    let body = &last.body;
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["tools"][0]["function"]["name"], "transfer_to_human");
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are Sparky."));
    assert!(system.contains("Do you ship internationally?"), "{system}");
    assert_eq!(messages[2]["content"], "Sure thing.");
}

/// Text reaches the customer while the provider is still writing: the first delta arrives
/// before the provider sends the rest.
async fn deltas_arrive_before_the_reply_is_complete(flavour: Flavour) {
    let fake = FakeAi::start(
        flavour,
        Mode::Gated(vec![
            "Our opening ".into(),
            "hours are ".into(),
            "9 to 5.".into(),
        ]),
    )
    .await;
    let app = app_with(&fake, &[]).await;
    let (mut ws, _) = app.customer().await;
    ws.send_json(json!({"content": "When are you open?"})).await;

    let first = ws.expect_next("message_delta").await;
    assert_eq!(first["delta"], "Our opening ");
    let stream_id = first["stream_id"].as_str().unwrap().to_owned();
    ws.expect_quiet().await; // the rest is held back by the provider, not by us
    fake.release();
    let (rest, message) = streamed_reply(&mut ws).await;
    assert_eq!(rest.concat(), "hours are 9 to 5.");
    assert_eq!(message["content"], "Our opening hours are 9 to 5.");
    assert_eq!(message["stream_id"], stream_id.as_str());
    // Stored like any message: a reload shows it.
    let id = message["session_id"].as_str().unwrap();
    let history: Value = app
        .get(&format!("/api/sessions/{id}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        history
            .to_string()
            .contains("Our opening hours are 9 to 5.")
    );
}

#[tokio::test]
async fn gemini_streams_deltas_as_they_arrive() {
    deltas_arrive_before_the_reply_is_complete(Flavour::Gemini).await;
}

#[tokio::test]
async fn openai_streams_deltas_as_they_arrive() {
    deltas_arrive_before_the_reply_is_complete(Flavour::OpenAi).await;
}

/// The model calls `transfer_to_human`: the session is queued with the model's reason, and when
/// it comes back to the assistant the call is echoed in the history as the API requires.
async fn the_model_hands_off_with_a_reason(flavour: Flavour) -> Value {
    let fake = FakeAi::start(flavour, Mode::Transfer("customer disputes a charge".into())).await;
    let app = app_with(&fake, &[]).await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let (mut ws, id) = app.customer().await;

    ws.send_json(json!({"content": "You charged me twice and I am furious"}))
        .await;
    ws.expect("handoff_requested").await;
    let queued = console.expect("new_session_queued").await;
    assert_eq!(queued["session_id"], id.as_str());
    assert_eq!(queued["reason"], "customer disputes a charge");
    assert_eq!(app.session_state(&id).await, "HUMAN");

    console.claim(&id).await;
    console
        .send_json(json!({"type": "return_to_ai", "session_id": id}))
        .await;
    ws.expect("returned_to_ai").await;
    fake.set_mode(Mode::Reply("Anything else?".into()));
    ws.send_json(json!({"content": "thanks"})).await;
    assert_eq!(streamed_reply(&mut ws).await.1["content"], "Anything else?");
    // The last chat request (the hand-off also asked for a summary, in the background).
    fake.requests()
        .into_iter()
        .rev()
        .find(|r| !r.body.to_string().contains("You summarise"))
        .unwrap()
        .body
}

#[tokio::test]
async fn gemini_function_call_hands_off_and_its_signature_is_echoed() {
    let body = the_model_hands_off_with_a_reason(Flavour::Gemini).await;
    let contents = body["contents"].as_array().unwrap();
    let call = contents
        .iter()
        .flat_map(|c| c["parts"].as_array().unwrap())
        .find(|p| p.get("functionCall").is_some())
        .expect("the function call is in the history");
    assert_eq!(call["thoughtSignature"], "c2lnbmVkLXJlYXNvbmluZw==");
    assert!(body.to_string().contains("functionResponse"), "{body}");
}

#[tokio::test]
async fn openai_tool_call_hands_off_and_is_echoed() {
    let body = the_model_hands_off_with_a_reason(Flavour::OpenAi).await;
    let messages = body["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .position(|m| m.get("tool_calls").is_some())
        .expect("the tool call is in the history");
    assert_eq!(messages[call]["tool_calls"][0]["id"], "call_fake1");
    assert_eq!(messages[call + 1]["role"], "tool");
    assert_eq!(messages[call + 1]["tool_call_id"], "call_fake1");
}

/// A 429 with `Retry-After: 1` is retried after (at least) that second, and the customer gets
/// the real answer.
async fn rate_limited_calls_are_retried_after_the_wait(flavour: Flavour) {
    let fake = FakeAi::start(flavour, Mode::Reply("Here you go.".into())).await;
    fake.script([Mode::Status(429)]);
    let app = app_with(&fake, &[]).await;
    let (mut ws, id) = app.customer().await;
    ws.send_json(json!({"content": "Where is my parcel?"}))
        .await;
    assert_eq!(streamed_reply(&mut ws).await.1["content"], "Here you go.");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
    assert_eq!(app.session_state(&id).await, "AI");
}

#[tokio::test]
async fn gemini_429_is_retried_after_retry_after() {
    rate_limited_calls_are_retried_after_the_wait(Flavour::Gemini).await;
}

#[tokio::test]
async fn openai_429_is_retried_after_retry_after() {
    rate_limited_calls_are_retried_after_the_wait(Flavour::OpenAi).await;
}

#[tokio::test]
async fn a_server_error_then_success_is_invisible_to_the_customer() {
    for flavour in BOTH {
        let fake = FakeAi::start(flavour, Mode::Reply("All good.".into())).await;
        fake.script([Mode::Status(500)]);
        let app = app_with(&fake, &[]).await;
        let (mut ws, _) = app.customer().await;
        ws.send_json(json!({"content": "Is my order confirmed?"}))
            .await;
        let (_, message) = streamed_reply(&mut ws).await;
        assert_eq!(message["content"], "All good.", "{flavour:?}");
        assert_eq!(fake.requests().len(), 2, "{flavour:?}");
    }
}

#[tokio::test]
async fn repeated_503s_open_the_breaker_which_closes_after_the_cool_down() {
    let fake = FakeAi::gemini(Mode::Status(503)).await;
    let app = app_with(
        &fake,
        &[
            ("AI_MAX_RETRIES", "1"),
            ("AI_BREAKER_THRESHOLD", "2"),
            ("AI_BREAKER_COOLDOWN_SECONDS", "1"),
            ("AI_FAILURE_HANDOFF", "false"),
        ],
    )
    .await;
    let (mut ws, id) = app.customer().await;
    ws.send_json(json!({"content": "Where is my order?"})).await;
    assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    assert_eq!(fake.requests().len(), 2, "one call and one retry");

    // Open: the next question fails fast, without calling the provider.
    ws.send_json(json!({"content": "Hello?"})).await;
    assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    assert_eq!(fake.requests().len(), 2);

    // After the cool-down one probe goes through; it succeeds, and the breaker closes.
    fake.set_mode(Mode::Reply("Back online.".into()));
    tokio::time::sleep(Duration::from_millis(1100)).await; // the cool-down is the behaviour under test
    ws.send_json(json!({"content": "Is it working now?"})).await;
    assert_eq!(streamed_reply(&mut ws).await.1["content"], "Back online.");
    ws.send_json(json!({"content": "Great"})).await;
    assert_eq!(streamed_reply(&mut ws).await.1["content"], "Back online.");
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(app.session_state(&id).await, "AI");
}

/// A provider that goes silent is cut off after `AI_TIMEOUT_SECONDS`; the call is cancelled (the
/// fake sees its client hang up) and the customer gets the apology.
async fn a_silent_provider_is_cancelled(flavour: Flavour, mode: Mode) {
    let fake = FakeAi::start(flavour, mode.clone()).await;
    let app = app_with(
        &fake,
        &[("AI_TIMEOUT_SECONDS", "1"), ("AI_FAILURE_HANDOFF", "false")],
    )
    .await;
    let (mut ws, id) = app.customer().await;
    ws.send_json(json!({"content": "Hello?"})).await;
    let (deltas, message) = streamed_reply(&mut ws).await;
    assert!(is_fallback(&message), "{message}");
    if let Mode::StallAfter(text) = mode {
        assert_eq!(deltas, [text], "what arrived was shown, then replaced");
    }
    fake.wait_cancelled(1).await;
    assert_eq!(fake.requests().len(), 1, "a timeout is not retried");
    assert_eq!(app.session_state(&id).await, "AI");
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_cancelled() {
    for flavour in BOTH {
        a_silent_provider_is_cancelled(flavour, Mode::Hang).await;
    }
}

#[tokio::test]
async fn a_stall_mid_reply_is_cancelled() {
    for flavour in BOTH {
        a_silent_provider_is_cancelled(flavour, Mode::StallAfter("Let me check".into())).await;
    }
}

#[tokio::test]
async fn malformed_json_gives_a_polite_fallback() {
    for flavour in BOTH {
        let fake = FakeAi::start(flavour, Mode::Garbage).await;
        let app = app_with(&fake, &[]).await;
        let (mut ws, id) = app.customer().await;
        ws.send_json(json!({"content": "Where is my order?"})).await;
        assert!(is_fallback(&streamed_reply(&mut ws).await.1));
        // The customer is not stuck: they can still ask for a person.
        ws.send_json(json!({"content": "ok, talk to a human"}))
            .await;
        ws.expect("handoff_requested").await;
        assert_eq!(app.session_state(&id).await, "HUMAN");
    }
}

#[tokio::test]
async fn a_safety_block_gets_a_refusal_that_offers_a_human() {
    for flavour in BOTH {
        let fake = FakeAi::start(flavour, Mode::Blocked).await;
        let app = app_with(&fake, &[]).await;
        let (mut ws, id) = app.customer().await;
        for _ in 0..2 {
            ws.send_json(json!({"content": "something the filter dislikes"}))
                .await;
            let (_, message) = streamed_reply(&mut ws).await;
            let text = message["content"].as_str().unwrap();
            assert!(
                text.contains("can't help with that") && text.contains("human agent"),
                "{flavour:?}: {text}"
            );
        }
        // A refusal is not a failure: no automatic hand-off, and no retries.
        assert_eq!(app.session_state(&id).await, "AI");
        assert_eq!(fake.requests().len(), 2);
    }
}

#[tokio::test]
async fn unknown_finish_reasons_and_fields_do_not_break_parsing() {
    for flavour in BOTH {
        let fake = FakeAi::start(flavour, Mode::UnknownFinish("Still fine.".into())).await;
        let app = app_with(&fake, &[]).await;
        let (mut ws, _) = app.customer().await;
        ws.send_json(json!({"content": "Hi"})).await;
        assert_eq!(
            streamed_reply(&mut ws).await.1["content"],
            "Still fine.",
            "{flavour:?}"
        );
    }
}

#[tokio::test]
async fn two_failures_in_a_row_queue_the_session_for_a_human() {
    let fake = FakeAi::openai(Mode::Status(500)).await;
    let app = app_with(&fake, &[("AI_MAX_RETRIES", "0")]).await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let (mut ws, id) = app.customer().await;

    ws.send_json(json!({"content": "Where is my order?"})).await;
    assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    assert_eq!(app.session_state(&id).await, "AI");
    ws.send_json(json!({"content": "Hello??"})).await;
    ws.expect("handoff_requested").await;
    let queued = console.expect("new_session_queued").await;
    assert_eq!(queued["reason"], "the assistant failed twice in a row");
    assert_eq!(app.session_state(&id).await, "HUMAN");
}

#[tokio::test]
async fn failure_handoff_can_be_turned_off() {
    let fake = FakeAi::gemini(Mode::Status(500)).await;
    let app = app_with(
        &fake,
        &[("AI_MAX_RETRIES", "0"), ("AI_FAILURE_HANDOFF", "false")],
    )
    .await;
    let (mut ws, id) = app.customer().await;
    for question in ["Where is my order?", "Hello??", "Is my parcel lost?"] {
        ws.send_json(json!({"content": question})).await;
        assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    }
    assert_eq!(app.session_state(&id).await, "AI");
}

#[tokio::test]
async fn the_assistant_recovers_when_the_provider_does() {
    let fake = FakeAi::gemini(Mode::Status(503)).await;
    let app = app_with(&fake, &[("AI_MAX_RETRIES", "0")]).await;
    let (mut ws, _) = app.customer().await;
    ws.send_json(json!({"content": "Is my order on its way?"}))
        .await;
    assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    fake.set_mode(Mode::Reply("Yes, it shipped yesterday.".into()));
    ws.send_json(json!({"content": "Is my order on its way?"}))
        .await;
    assert_eq!(
        streamed_reply(&mut ws).await.1["content"],
        "Yes, it shipped yesterday."
    );
}

#[tokio::test]
async fn too_many_questions_a_minute_get_rate_limited_and_the_message_is_kept() {
    let fake = FakeAi::gemini(Mode::Reply("Answer.".into())).await;
    let app = app_with(&fake, &[("AI_CALLS_PER_MINUTE", "2")]).await;
    let (mut ws, id) = app.customer().await;
    for question in ["one?", "two?"] {
        ws.send_json(json!({"content": question})).await;
        streamed_reply(&mut ws).await;
    }
    ws.send_json(json!({"content": "three?", "client_msg_id": "m3"}))
        .await;
    ws.expect_next("ack").await;
    let error = ws.expect_next("error").await;
    assert_eq!(error["code"], "rate_limited");
    assert!(error["message"].as_str().unwrap().contains("saved"));
    ws.expect_quiet().await;
    assert_eq!(fake.requests().len(), 2);
    let history: Value = app
        .get(&format!("/api/sessions/{id}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert!(history.to_string().contains("three?"));
    // Asking for a person still works at once.
    ws.send_json(json!({"content": "let me talk to a human"}))
        .await;
    ws.expect("handoff_requested").await;
}

#[tokio::test]
async fn a_model_without_tool_support_is_asked_again_without_tools() {
    let fake = FakeAi::openai(Mode::NoToolSupport("Hi from gemma.".into())).await;
    let app = app_with(&fake, &[]).await;
    let (mut ws, _) = app.customer().await;
    for _ in 0..2 {
        ws.send_json(json!({"content": "hello"})).await;
        assert_eq!(streamed_reply(&mut ws).await.1["content"], "Hi from gemma.");
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "one refused, then two without tools");
    assert!(requests[0].body.get("tools").is_some());
    assert!(requests[1].body.get("tools").is_none());
    assert!(requests[2].body.get("tools").is_none());
}

#[tokio::test]
async fn answers_are_grounded_in_a_custom_knowledge_base() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bikes.md"),
        "# Do you repair bicycles?\nYes: our workshop repairs bicycles of every brand within 48 hours.\n\n\
         # Where is the workshop?\nAt 12 Harbour Street, open weekdays.\n",
    )
    .unwrap();
    let kb = dir.path().to_str().unwrap();
    let fake = FakeAi::openai(Mode::Reply("Yes, within 48 hours.".into())).await;
    let app = app_with(&fake, &[("KNOWLEDGE_BASE", kb)]).await;
    let (mut ws, _) = app.customer().await;
    ws.send_json(json!({"content": "Can you repair my bicycle?"}))
        .await;
    streamed_reply(&mut ws).await;
    let body = fake.requests().pop().unwrap().body;
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("48 hours"), "{system}");
    assert!(!system.contains("Harbour Street"), "only relevant passages");

    // The offline responder answers from the same index.
    let offline =
        spawn_app_with(&[("AI_PROVIDER", "knowledge_base"), ("KNOWLEDGE_BASE", kb)]).await;
    let (mut ws, _) = offline.customer().await;
    ws.send_json(json!({"content": "where is your workshop"}))
        .await;
    let reply = ws.expect_next("message").await;
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("Harbour Street")
    );
}

#[tokio::test]
async fn the_knowledge_base_admits_what_it_does_not_know() {
    let app = crate::helpers::spawn_app().await;
    let (mut ws, _) = app.customer().await;
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
async fn words_written_before_the_transfer_are_kept_and_complete_the_stream() {
    for flavour in BOTH {
        let fake = FakeAi::start(
            flavour,
            Mode::SayThenTransfer(
                "Let me get a colleague.".into(),
                "needs an account change".into(),
            ),
        )
        .await;
        let app = app_with(&fake, &[]).await;
        let (mut ws, id) = app.customer().await;
        ws.send_json(json!({"content": "Please change the owner of my account"}))
            .await;
        let (deltas, message) = streamed_reply(&mut ws).await;
        assert_eq!(deltas.concat(), "Let me get a colleague.", "{flavour:?}");
        assert_eq!(message["content"], "Let me get a colleague.");
        ws.expect_next("handoff_requested").await;
        assert_eq!(app.session_state(&id).await, "HUMAN");
    }
}

/// With several instances on PostgreSQL, a customer's tab on another instance watches the reply
/// being written too.
#[tokio::test]
async fn a_tab_on_another_node_sees_the_reply_stream() {
    if postgres_server().is_none() {
        eprintln!("SKIPPED a_tab_on_another_node_sees_the_reply_stream: needs PostgreSQL");
        return;
    }
    let fake = FakeAi::gemini(Mode::Gated(vec!["One moment, ".into(), "done.".into()])).await;
    let node_a = app_with(&fake, &[]).await;
    let node_b = app_with(&fake, &[("DATABASE_URL", &node_a.database_url)]).await;
    let (mut tab_a, id) = node_a.customer().await;
    let (mut tab_b, _) = node_b.client_ws(&id).await;

    tab_a
        .send_json(json!({"content": "Can you check my order?"}))
        .await;
    let own = tab_b.expect_next("message").await;
    assert_eq!(own["sender_type"], "CLIENT");
    let first = tab_b.expect_next("message_delta").await;
    assert_eq!(first["delta"], "One moment, ");
    fake.release();
    let (rest, message) = streamed_reply(&mut tab_b).await;
    assert_eq!(rest.concat(), "done.");
    assert_eq!(message["content"], "One moment, done.");
    assert_eq!(message["stream_id"], first["stream_id"]);
}

#[tokio::test]
async fn a_second_failure_mid_reply_ends_the_stream_then_hands_off() {
    let fake = FakeAi::openai(Mode::StallAfter("Checking".into())).await;
    let app = app_with(&fake, &[("AI_TIMEOUT_SECONDS", "1")]).await;
    let (mut ws, id) = app.customer().await;
    ws.send_json(json!({"content": "Where is my parcel?"}))
        .await;
    assert!(is_fallback(&streamed_reply(&mut ws).await.1));
    ws.send_json(json!({"content": "Hello?"})).await;
    let (deltas, message) = streamed_reply(&mut ws).await;
    assert_eq!(deltas, ["Checking"]);
    assert!(is_fallback(&message), "the half-written reply is replaced");
    ws.expect_next("handoff_requested").await;
    assert_eq!(app.session_state(&id).await, "HUMAN");
}
