//! The conversation over real sockets: the customer journey, hand-off, the live queue, claims,
//! and the reference's socket defects (PROTOCOL.md part 3), a test each.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::domain::ids::SessionId;
use uuid::Uuid;

use crate::helpers::{expect_json, spawn_app, spawn_app_with};

fn sid(session: &Value) -> String {
    session["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_full_customer_journey() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut console, connected) = app.admin_ws(&agent.access).await;
    assert_eq!(connected["queue_size"], 0);

    let session = app.create_session().await;
    let id = sid(&session);
    let (mut customer, connected) = app.client_ws(&id).await;
    assert_eq!(connected["state"], "AI");
    assert_eq!(connected["session_id"], id);

    // The assistant answers from the knowledge base.
    customer
        .send_json(json!({"content": "How long does shipping take?"}))
        .await;
    let reply = customer.expect_next("message").await;
    assert_eq!(reply["sender_type"], "AI");
    assert!(
        reply["content"].as_str().unwrap().contains("working days"),
        "{reply}"
    );
    assert!(reply["id"].is_i64());
    reply["created_at"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap();

    // Asking for a person hands off; every agent hears of it.
    customer
        .send_json(json!({"content": "Can I speak to a person please?"}))
        .await;
    let handoff = customer.expect_next("handoff_requested").await;
    assert_eq!(handoff["sender_type"], "AI");
    let waiting = customer.expect_next("waiting").await;
    assert_eq!(waiting["queue_position"], 1);
    let queued = console.expect_next("new_session_queued").await;
    assert_eq!(queued["session_id"], id);
    assert_eq!(queued["client_name"], "John Doe");
    assert_eq!(queued["queue_size"], 1);
    let update = console.expect_next("queue_update").await;
    assert_eq!(update["queue_size"], 1);
    assert_eq!(update["queued_sessions"][0]["session_id"], id);

    // The agent claims it.
    console
        .send_json(json!({"type": "claim_session", "session_id": id}))
        .await;
    let claimed = console.expect_next("session_claimed").await;
    assert_eq!(
        claimed["client_info"],
        json!({"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"})
    );
    assert_eq!(console.expect_next("queue_update").await["queue_size"], 0);
    let joined = customer.expect("agent_connected").await;
    assert!(joined["message"].as_str().unwrap().contains("joined"));

    // Messages both ways.
    console.send_json(json!({"type": "message", "session_id": id, "content": "Hi John, I'm Ada. How can I help?"})).await;
    let from_agent = customer.expect_next("message").await;
    assert_eq!(from_agent["sender_type"], "ADMIN");
    assert_eq!(from_agent["content"], "Hi John, I'm Ada. How can I help?");
    assert!(from_agent["id"].is_i64());
    customer
        .send_json(json!({"content": "My parcel is late"}))
        .await;
    let from_customer = console.expect_next("message").await;
    assert_eq!(from_customer["sender_type"], "CLIENT");
    assert_eq!(from_customer["client_name"], "John Doe");
    assert_eq!(from_customer["session_id"], id);
    assert_eq!(from_customer["content"], "My parcel is late");

    // The agent closes it.
    console
        .send_json(json!({"type": "close_session", "session_id": id}))
        .await;
    customer.expect_next("session_closed").await;
    assert_eq!(
        console.expect_next("session_closed").await["session_id"],
        id
    );

    // The history, in order, with the right senders.
    let history = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    let lines: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["sender_type"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let senders: Vec<&str> = lines.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        senders,
        ["CLIENT", "AI", "CLIENT", "AI", "ADMIN", "CLIENT"],
        "{lines:?}"
    );
    assert_eq!(lines[0].1, "How long does shipping take?");
    assert_eq!(lines[4].1, "Hi John, I'm Ada. How can I help?");
    let session = app.session(&id).await;
    assert_eq!(session["state"], "CLOSED");
}

#[tokio::test]
async fn unknown_sessions_are_refused_with_4004() {
    let app = spawn_app().await;
    for path in [
        format!("/ws/client/{}", Uuid::new_v4()),
        "/ws/client/not-a-uuid".to_owned(),
    ] {
        let mut ws = app.raw_ws(&path).await;
        assert_eq!(ws.expect_close().await, Some(4004), "{path}");
    }
}

#[tokio::test]
async fn agent_sockets_need_a_valid_access_token() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    for path in [
        "/ws/admin".to_owned(),
        "/ws/admin?token=".to_owned(),
        "/ws/admin?token=garbage".to_owned(),
        // A refresh token is not an access token.
        format!("/ws/admin?token={}", agent.refresh),
    ] {
        let mut ws = app.raw_ws(&path).await;
        assert_eq!(ws.expect_close().await, Some(4001), "{path}");
    }
}

#[tokio::test]
async fn defect_1_the_assistant_answers_with_context() {
    // The reference never answered: here every message gets a reply (the Gemini request shape
    // is checked in the assistant tests).
    let app = spawn_app().await;
    let id = sid(&app.create_session().await);
    let (mut customer, _) = app.client_ws(&id).await;
    for question in [
        "What are your opening hours?",
        "Which payment methods do you accept?",
    ] {
        customer.send_json(json!({"content": question})).await;
        let reply = customer.expect_next("message").await;
        assert_eq!(reply["sender_type"], "AI");
    }
}

#[tokio::test]
async fn defect_2_agent_socket_with_a_waiting_queue_gets_serialisable_timestamps() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let first = app.queued_session().await;
    let second = app.queued_session().await;
    let (_console, connected) = app.admin_ws(&agent.access).await;
    assert_eq!(connected["queue_size"], 2);
    let queued = connected["queued_sessions"].as_array().unwrap();
    assert_eq!(queued[0]["session_id"], first);
    assert_eq!(queued[1]["session_id"], second);
    for entry in queued {
        entry["queued_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .expect("RFC 3339");
        assert_eq!(entry["client_name"], "John Doe");
    }
}

#[tokio::test]
async fn defect_3_concurrent_socket_claims_have_one_winner_and_rest_acts_like_the_socket() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let grace = app.register("grace", Some(&ada)).await;
    let (mut ada_ws, _) = app.admin_ws(&ada.access).await;
    let (mut grace_ws, _) = app.admin_ws(&grace.access).await;
    let id = app.queued_session().await;
    let (mut customer, _) = app.client_ws(&id).await;

    let claim = json!({"type": "claim_session", "session_id": id});
    tokio::join!(ada_ws.send_json(claim.clone()), grace_ws.send_json(claim));
    let (ada_result, _) = ada_ws
        .expect_skipping_any(&["session_claimed", "error"])
        .await;
    let (grace_result, _) = grace_ws
        .expect_skipping_any(&["session_claimed", "error"])
        .await;
    let results = [&ada_result, &grace_result];
    assert_eq!(
        results
            .iter()
            .filter(|e| e["type"] == "session_claimed")
            .count(),
        1,
        "{results:?}"
    );
    let loser = results.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(loser["code"], "conflict");
    // The loser is told who won.
    let (winner, winner_name) = if ada_result["type"] == "session_claimed" {
        (&ada, "admin")
    } else {
        (&grace, "grace")
    };
    assert_eq!(loser["agent_username"], winner_name, "{loser}");
    assert_eq!(loser["agent_name"], "Test Agent");
    customer.expect("agent_connected").await;

    // The winner closes over REST: the sockets hear exactly what they would have over a socket.
    let closed = app
        .post_as(&format!("/api/admin/sessions/{id}/close"), &winner.access)
        .await;
    assert_eq!(closed.status(), StatusCode::OK);
    customer.expect("session_closed").await;
    // A REST claim cannot reopen it, and nobody is told otherwise.
    let reclaim = app
        .post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
        .await;
    assert_eq!(reclaim.status(), StatusCode::CONFLICT);
    customer.expect_quiet().await;
}

#[tokio::test]
async fn a_rest_claim_notifies_the_customer_and_every_agent() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let grace = app.register("grace", Some(&ada)).await;
    let (mut ada_ws, _) = app.admin_ws(&ada.access).await;
    let (mut grace_ws, _) = app.admin_ws(&grace.access).await;
    let id = app.queued_session().await;
    let (mut customer, _) = app.client_ws(&id).await;

    let claimed = app
        .post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
        .await;
    assert_eq!(claimed.status(), StatusCode::OK);
    assert_eq!(ada_ws.expect("session_claimed").await["session_id"], id);
    let other = grace_ws.expect("session_claimed_by_other").await;
    assert_eq!(other["session_id"], id);
    assert_eq!(other["queue_size"], 0);
    assert_eq!(other["agent_username"], "admin");
    assert_eq!(other["agent_name"], "Test Agent");
    assert_eq!(grace_ws.expect("queue_update").await["queue_size"], 0);
    customer.expect("agent_connected").await;
}

#[tokio::test]
async fn defect_4_only_the_assigned_agent_may_write_or_close() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let mallory = app.register("mallory", Some(&ada)).await;
    let id = app.queued_session().await;
    let (mut ada_ws, _) = app.admin_ws(&ada.access).await;
    let (mut mallory_ws, _) = app.admin_ws(&mallory.access).await;
    let (mut customer, _) = app.client_ws(&id).await;

    // Nobody holds it yet: writing is refused too.
    mallory_ws
        .send_json(json!({"type": "message", "session_id": id, "content": "hello"}))
        .await;
    assert_eq!(mallory_ws.expect("error").await["code"], "conflict");

    ada_ws.claim(&id).await;
    customer.expect("agent_connected").await;

    mallory_ws
        .send_json(json!({"type": "message", "session_id": id, "content": "I'm in"}))
        .await;
    assert_eq!(mallory_ws.expect("error").await["code"], "forbidden");
    mallory_ws
        .send_json(json!({"type": "close_session", "session_id": id}))
        .await;
    assert_eq!(mallory_ws.expect("error").await["code"], "forbidden");
    customer.expect_quiet().await;
    let session = app.session(&id).await;
    assert_eq!(session["state"], "HUMAN");
}

#[tokio::test]
async fn defect_5_every_tab_of_a_customer_and_of_an_agent_gets_every_event() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut tab_a1, _) = app.admin_ws(&agent.access).await;
    let (mut tab_a2, _) = app.admin_ws(&agent.access).await;
    let id = sid(&app.create_session().await);
    let (mut tab_c1, _) = app.client_ws(&id).await;
    let (mut tab_c2, _) = app.client_ws(&id).await;

    // A message typed in one customer tab appears in the other, with the assistant's reply in both.
    tab_c1
        .send_json(json!({"content": "talk to a human"}))
        .await;
    let echoed = tab_c2.expect_next("message").await;
    assert_eq!(echoed["sender_type"], "CLIENT");
    assert_eq!(echoed["content"], "talk to a human");
    for tab in [&mut tab_c1, &mut tab_c2] {
        tab.expect("handoff_requested").await;
    }
    for tab in [&mut tab_a1, &mut tab_a2] {
        tab.expect("new_session_queued").await;
    }

    tab_a1
        .send_json(json!({"type": "claim_session", "session_id": id}))
        .await;
    for tab in [&mut tab_a1, &mut tab_a2] {
        tab.expect("session_claimed").await;
    }
    tab_a2
        .send_json(json!({"type": "message", "session_id": id, "content": "Hello from tab 2"}))
        .await;
    for tab in [&mut tab_c1, &mut tab_c2] {
        assert_eq!(tab.expect("message").await["content"], "Hello from tab 2");
    }
    // The agent's other tab shows what tab 2 sent.
    assert_eq!(
        tab_a1.expect("message").await["content"],
        "Hello from tab 2"
    );

    // A closed tab does not break the others.
    tab_c1.close().await;
    tab_a1
        .send_json(json!({"type": "message", "session_id": id, "content": "Still there?"}))
        .await;
    assert_eq!(tab_c2.expect("message").await["content"], "Still there?");
}

#[tokio::test]
async fn defect_6_the_queue_lives_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (token, id) = {
        let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
        let agent = app.first_agent().await;
        (agent.access, app.queued_session().await)
    };
    // A restarted server (or a second one) sees the same queue, over REST and over the socket.
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let (_console, connected) = app.admin_ws(&token).await;
    assert_eq!(connected["queued_sessions"][0]["session_id"], id);
    let queue = expect_json(app.get_as("/api/admin/queue", &token).await, StatusCode::OK).await;
    assert_eq!(queue[0]["session_id"], id);
}

#[tokio::test]
async fn defect_8_handoff_goes_by_meaning_not_substring() {
    let app = spawn_app().await;
    let id = sid(&app.create_session().await);
    let (mut customer, _) = app.client_ws(&id).await;
    customer
        .send_json(json!({"content": "I am not a real person"}))
        .await;
    assert_eq!(customer.expect_next("message").await["sender_type"], "AI");
    customer
        .send_json(json!({"content": "the representative was rude yesterday"}))
        .await;
    assert_eq!(customer.expect_next("message").await["sender_type"], "AI");
    customer
        .send_json(json!({"content": "Talk to a human."}))
        .await;
    customer.expect_next("handoff_requested").await;
}

#[tokio::test]
async fn the_request_human_button_hands_off() {
    let app = spawn_app().await;
    let id = sid(&app.create_session().await);
    let (mut customer, _) = app.client_ws(&id).await;
    customer.send_json(json!({"type": "request_human"})).await;
    customer.expect_next("handoff_requested").await;
    assert_eq!(customer.expect_next("waiting").await["queue_position"], 1);
    // Asking again while queued is an error, not a second hand-off.
    customer.send_json(json!({"type": "request_human"})).await;
    assert_eq!(customer.expect_next("error").await["code"], "conflict");
}

#[tokio::test]
async fn waiting_customers_learn_their_position_as_the_queue_moves() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let first = app.queued_session().await;
    let second = app.queued_session().await;
    let (mut second_ws, _) = app.client_ws(&second).await;
    assert_eq!(second_ws.expect("waiting").await["queue_position"], 2);

    // Messages while queued are stored, reach the agents, and are answered with the position.
    let (mut console, _) = app.admin_ws(&agent.access).await;
    second_ws
        .send_json(json!({"content": "Hello? Anyone?"}))
        .await;
    assert_eq!(second_ws.expect("waiting").await["queue_position"], 2);
    let seen = console.expect("message").await;
    assert_eq!(seen["session_id"], second);
    assert_eq!(seen["client_name"], "John Doe");

    let claimed = app
        .post_as(&format!("/api/admin/sessions/{first}/claim"), &agent.access)
        .await;
    assert_eq!(claimed.status(), StatusCode::OK);
    // Positions only go down as the queue moves; the customer is told they are next.
    second_ws
        .expect_where("waiting", |w| w["queue_position"] == 1)
        .await;
}

#[tokio::test]
async fn agents_can_release_and_return_sessions() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let id = app.queued_session().await;
    let (mut customer, _) = app.client_ws(&id).await;
    customer.expect_next("waiting").await;

    console.claim(&id).await;
    console
        .send_json(json!({"type": "release_session", "session_id": id}))
        .await;
    console.expect("session_released").await;
    customer
        .expect_where("waiting", |w| w["queue_position"] == 1)
        .await;

    console.claim(&id).await;
    console
        .send_json(json!({"type": "return_to_ai", "session_id": id}))
        .await;
    customer.expect("returned_to_ai").await;
    customer
        .send_json(json!({"content": "What are your opening hours?"}))
        .await;
    assert_eq!(customer.expect("message").await["sender_type"], "AI");
}

#[tokio::test]
async fn typing_reaches_the_other_side() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    let id = app.queued_session().await;
    let (mut customer, _) = app.client_ws(&id).await;
    console.claim(&id).await;
    customer.expect("agent_connected").await;

    customer.send_json(json!({"type": "typing"})).await;
    let typing = console.expect("typing").await;
    assert_eq!(typing["sender_type"], "CLIENT");
    assert_eq!(typing["session_id"], id);
    console
        .send_json(json!({"type": "typing", "session_id": id}))
        .await;
    assert_eq!(customer.expect("typing").await["sender_type"], "ADMIN");
}

#[tokio::test]
async fn a_closed_session_says_so_and_accepts_nothing() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let id = app.queued_session().await;
    let closed = app
        .post_as(&format!("/api/admin/sessions/{id}/close"), &agent.access)
        .await;
    assert_eq!(closed.status(), StatusCode::OK);

    let (mut customer, connected) = app.client_ws(&id).await;
    assert_eq!(connected["state"], "CLOSED");
    customer.expect_next("session_closed").await;
    customer.send_json(json!({"content": "hello?"})).await;
    // On PostgreSQL the hand-off's and the close's own events may reach this node after the
    // socket joined: late notices of what the opening already said, nothing else.
    let (error, late) = customer.expect_skipping("error").await;
    assert_eq!(error["code"], "conflict");
    assert!(
        late.iter()
            .all(|e| e["type"] == "handoff_requested" || e["type"] == "session_closed"),
        "{late:?}"
    );
    let history = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["content"] != "hello?")
    );
}

#[tokio::test]
async fn acks_follow_the_commit_and_resends_are_stored_once() {
    let app = spawn_app().await;
    let id = sid(&app.create_session().await);
    let (mut customer, _) = app.client_ws(&id).await;

    customer.send_json(json!({"type": "message", "content": "What are your opening hours?", "client_msg_id": "m-1"})).await;
    let ack = customer.expect_next("ack").await;
    assert_eq!(ack["client_msg_id"], "m-1");
    let stored_id = ack["id"].as_i64().unwrap();
    customer.expect_next("message").await;

    // The ack means it is stored: it is in the history now.
    let history = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history[0]["id"], stored_id);

    // A resend (say the ack was lost) is acknowledged with the same id and not answered twice.
    customer.send_json(json!({"type": "message", "content": "What are your opening hours?", "client_msg_id": "m-1"})).await;
    assert_eq!(customer.expect_next("ack").await["id"], stored_id);
    customer.expect_quiet().await;
    let history = expect_json(
        app.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "one question, one answer: {history}"
    );
}

#[tokio::test]
async fn shutdown_sends_close_1001_to_every_socket() {
    let mut app = spawn_app().await;
    let agent = app.first_agent().await;
    let id = sid(&app.create_session().await);
    let (mut customer, _) = app.client_ws(&id).await;
    let (mut console, _) = app.admin_ws(&agent.access).await;
    app.shut_down();
    assert_eq!(customer.expect_close().await, Some(1001));
    assert_eq!(console.expect_close().await, Some(1001));
}

#[tokio::test]
async fn a_customer_socket_that_stops_reading_is_disconnected_not_buffered() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let id = app.queued_session().await;
    let session_id = SessionId::parse(&id).unwrap();
    let (mut console, _) = app.admin_ws(&agent.access).await;
    console.claim(&id).await;

    // This tab connects and then never reads again.
    let (_stalled, _) = app.client_ws(&id).await;
    assert_eq!(app.state.chat.client_sockets(session_id), 1);

    // The agent writes far more than the socket's queue and the kernel's buffers hold.
    let long = "x".repeat(7_900);
    let mut sent = 0;
    while app.state.chat.client_sockets(session_id) > 0 {
        assert!(sent < 20_000, "the stalled socket was never disconnected");
        console
            .send_json(json!({"type": "message", "session_id": id, "content": long, "client_msg_id": sent.to_string()}))
            .await;
        // Each ack means the message was stored and handed to the hub: the pace is the server's.
        console.expect("ack").await;
        sent += 1;
    }
    // The agent's own socket is unaffected.
    console.send_json(json!({"type": "get_queue"})).await;
    console.expect("queue_update").await;
}
