//! Resuming with `?after=`, and several nodes on one PostgreSQL database behaving as one server.
//! The multi-node tests need `TEST_DATABASE_URL` (the PostgreSQL pass); without it they say so
//! and pass vacuously.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Agent, TEST_SECRET, TestApp, expect_json, knowledge_base, postgres_server, spawn_app,
};
use crate::ws::WsClient;

fn needs_postgres(test: &str) -> bool {
    if postgres_server().is_none() {
        eprintln!("SKIPPED {test}: needs PostgreSQL (set TEST_DATABASE_URL)");
        return false;
    }
    true
}

/// Two nodes on one database, and two agents: the first account and a second one.
async fn two_nodes_two_agents() -> (TestApp, TestApp, Agent, Agent) {
    let node_a = spawn_app().await;
    let node_b = node_a.spawn_node().await;
    let first = node_a.first_agent().await;
    let second = node_a.register("second", Some(&first)).await;
    (node_a, node_b, first, second)
}

/// A new session on `node` whose customer asked for a person (and was told so), with the
/// customer's socket.
async fn customer_asking_for_a_person(node: &TestApp) -> (String, WsClient) {
    let id = node.create_session().await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut customer, _) = node.client_ws(&id).await;
    customer
        .send_json(json!({"content": "I want to talk to a human"}))
        .await;
    customer.expect("handoff_requested").await;
    (id, customer)
}

/// A claimed session with its customer and agent sockets.
async fn claimed_session(app: &TestApp, agent_token: &str) -> (String, WsClient, WsClient) {
    let id = app.queued_session().await;
    let (mut console, _) = app.admin_ws(agent_token).await;
    let (mut customer, _) = app.client_ws(&id).await;
    console.claim(&id).await;
    customer.expect("agent_connected").await;
    (id, customer, console)
}

#[tokio::test]
async fn a_customer_resumes_with_after_and_gets_each_missed_message_once_in_order() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (id, mut customer, mut console) = claimed_session(&app, &agent.access).await;

    customer
        .send_json(json!({"type": "message", "content": "first", "client_msg_id": "c1"}))
        .await;
    let seen = customer.expect("ack").await["id"].as_i64().unwrap();
    console.expect("message").await;
    customer.close().await;

    // While the customer is away, the agent writes three times.
    for n in 1..=3 {
        console
            .send_json(
                json!({"type": "message", "session_id": id, "content": format!("reply {n}")}),
            )
            .await;
    }
    console.send_json(json!({"type": "get_queue"})).await;
    console.expect("queue_update").await;

    let mut resumed = app.raw_ws(&format!("/ws/client/{id}?after={seen}")).await;
    resumed.expect_next("connected").await;
    for n in 1..=3 {
        let message = resumed.expect_next("message").await;
        assert_eq!(message["content"], format!("reply {n}"));
        assert_eq!(message["sender_type"], "ADMIN");
    }
    resumed.expect_quiet().await;
    // And it is live again.
    console
        .send_json(json!({"type": "message", "session_id": id, "content": "welcome back"}))
        .await;
    assert_eq!(
        resumed.expect_next("message").await["content"],
        "welcome back"
    );
}

#[tokio::test]
async fn an_agent_resumes_with_after() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (id, mut customer, mut console) = claimed_session(&app, &agent.access).await;
    console
        .send_json(
            json!({"type": "message", "session_id": id, "content": "hello", "client_msg_id": "a1"}),
        )
        .await;
    let seen = console.expect("ack").await["id"].as_i64().unwrap();
    customer.expect("message").await;
    console.close().await;

    customer
        .send_json(json!({"type": "message", "content": "are you there?", "client_msg_id": "c1"}))
        .await;
    customer.expect("ack").await;
    customer
        .send_json(json!({"type": "message", "content": "hello??", "client_msg_id": "c2"}))
        .await;
    customer.expect("ack").await;

    let mut resumed = app
        .raw_ws(&format!("/ws/admin?token={}&after={seen}", agent.access))
        .await;
    resumed.expect_next("connected").await;
    for content in ["are you there?", "hello??"] {
        let message = resumed.expect_next("message").await;
        assert_eq!(message["content"], content);
        assert_eq!(message["session_id"], id);
        assert_eq!(message["client_name"], "John Doe");
    }
    resumed.expect_quiet().await;
}

#[tokio::test]
async fn a_customer_on_one_node_and_an_agent_on_another_talk_both_ways() {
    if !needs_postgres("a_customer_on_one_node_and_an_agent_on_another_talk_both_ways") {
        return;
    }
    let node_a = spawn_app().await;
    let node_b = node_a.spawn_node().await;
    let agent = node_a.first_agent().await;
    let (mut console, _) = node_b.admin_ws(&agent.access).await;
    let (id, mut customer) = customer_asking_for_a_person(&node_a).await;
    assert_eq!(console.expect("new_session_queued").await["session_id"], id);
    assert_eq!(console.expect("queue_update").await["queue_size"], 1);

    console.claim(&id).await;
    customer.expect("agent_connected").await;
    console
        .send_json(json!({"type": "message", "session_id": id, "content": "Hi from node B"}))
        .await;
    assert_eq!(
        customer.expect("message").await["content"],
        "Hi from node B"
    );
    customer
        .send_json(json!({"content": "Hi from node A"}))
        .await;
    assert_eq!(console.expect("message").await["content"], "Hi from node A");
}

/// Each node keeps copies of the sessions it reads. A claim on another node reaches node A's copy
/// with its events, so node A routes the customer's next message to the holder alone, not to
/// every agent as it did while the session was queued.
#[tokio::test]
async fn a_claim_on_another_node_routes_the_next_message_to_the_holder_only() {
    if !needs_postgres("a_claim_on_another_node_routes_the_next_message_to_the_holder_only") {
        return;
    }
    let (node_a, node_b, first, second) = two_nodes_two_agents().await;
    let (mut holder, _) = node_b.admin_ws(&first.access).await;
    let (mut other, _) = node_b.admin_ws(&second.access).await;
    let (id, mut customer) = customer_asking_for_a_person(&node_a).await;
    // Queued: node A reads the session (and keeps it); every agent sees the message.
    customer.send_json(json!({"content": "still there?"})).await;
    assert_eq!(other.expect("message").await["content"], "still there?");

    holder.claim(&id).await;
    customer.expect("agent_connected").await;
    customer
        .send_json(json!({"content": "for my agent only"}))
        .await;
    assert_eq!(
        holder.expect("message").await["content"],
        "for my agent only"
    );
    // Anything sent to every agent after that message comes after it on `other`'s socket.
    let (later, _later_customer) = customer_asking_for_a_person(&node_a).await;
    let (queued, skipped) = other.expect_skipping("new_session_queued").await;
    assert_eq!(queued["session_id"], later);
    assert!(
        skipped.iter().all(|f| f["content"] != "for my agent only"),
        "another agent got the holder's message: {skipped:?}"
    );
}

#[tokio::test]
async fn queue_events_reach_agents_on_every_node() {
    if !needs_postgres("queue_events_reach_agents_on_every_node") {
        return;
    }
    let (node_a, node_b, ada, grace) = two_nodes_two_agents().await;
    let (mut on_a, _) = node_a.admin_ws(&ada.access).await;
    let (mut on_b, _) = node_b.admin_ws(&grace.access).await;

    let id = node_b.queued_session().await;
    for console in [&mut on_a, &mut on_b] {
        let queued = console.expect("new_session_queued").await;
        assert_eq!(queued["session_id"], id);
        assert_eq!(queued["queue_size"], 1);
        assert_eq!(
            console.expect("queue_update").await["queued_sessions"][0]["session_id"],
            id
        );
    }
    // A claim over REST on node A is seen on node B.
    let claimed = node_a
        .post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
        .await;
    assert_eq!(claimed.status(), StatusCode::OK);
    assert_eq!(
        on_b.expect("session_claimed_by_other").await["session_id"],
        id
    );
    assert_eq!(on_b.expect("queue_update").await["queue_size"], 0);
}

#[tokio::test]
async fn fifty_rounds_of_four_agents_on_two_nodes_claiming_at_once_have_one_winner_each() {
    if !needs_postgres(
        "fifty_rounds_of_four_agents_on_two_nodes_claiming_at_once_have_one_winner_each",
    ) {
        return;
    }
    let node_a = spawn_app().await;
    let node_b = node_a.spawn_node().await;
    let first = node_a.first_agent().await;
    let mut agents = vec![first.clone()];
    for n in 1..4 {
        agents.push(node_a.register(&format!("agent{n}"), Some(&first)).await);
    }
    let mut consoles = Vec::new();
    for (n, agent) in agents.iter().enumerate() {
        let node = if n % 2 == 0 { &node_a } else { &node_b };
        consoles.push(node.admin_ws(&agent.access).await.0);
    }

    for round in 0..50 {
        let id = node_a.queued_session().await;
        let claim = json!({"type": "claim_session", "session_id": id});
        futures_util::future::join_all(consoles.iter_mut().map(|c| c.send_json(claim.clone())))
            .await;
        let mut winners = 0;
        for console in &mut consoles {
            let (result, _) = console
                .expect_skipping_any(&["session_claimed", "error"])
                .await;
            if result["type"] == "session_claimed" {
                assert_eq!(result["session_id"], id);
                winners += 1;
            } else {
                assert_eq!(result["code"], "conflict", "round {round}: {result}");
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn a_dropped_event_connection_reconnects_and_nothing_is_missed() {
    if !needs_postgres("a_dropped_event_connection_reconnects_and_nothing_is_missed") {
        return;
    }
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let (id, mut customer, mut console) = claimed_session(&app, &agent.access).await;

    // Cut this node's LISTEN connection from the database side.
    let db_name = app
        .database_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let server = postgres_server().unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&db_name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "found the LISTEN connection");

    for n in 1..=3 {
        console.send_json(json!({"type": "message", "session_id": id, "content": format!("after the cut {n}")})).await;
    }
    // Delivered live after the reconnection or replayed by the resynchronisation: either way
    // each arrives, in order.
    let mut received = Vec::new();
    while received.len() < 3 {
        let message = customer.expect("message").await;
        let content = message["content"].as_str().unwrap().to_owned();
        if !received.contains(&content) {
            received.push(content);
        }
    }
    assert_eq!(
        received,
        ["after the cut 1", "after the cut 2", "after the cut 3"]
    );
}

/// A `switchboard serve` process: a node that can be killed outright.
struct NodeProcess {
    child: Child,
    address: String,
}

impl NodeProcess {
    fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env_clear()
            .envs([
                ("DATABASE_URL", database_url),
                ("PORT", "0"),
                ("SECRET_KEY", TEST_SECRET),
                ("DEBUG", "false"),
                ("KNOWLEDGE_BASE", &knowledge_base()),
                ("NO_COLOR", "1"),
                ("LOG_FORMAT", "json"),
            ])
            .arg("serve")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let address = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the node starts");
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(address) = entry["address"].as_str() {
                break address.to_owned();
            }
        };
        Self {
            child,
            address: format!("ws://{address}"),
        }
    }

    async fn client_ws(&self, session_id: &str) -> WsClient {
        WsClient::connect(&format!("{}/ws/client/{session_id}", self.address)).await
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_node_killed_mid_conversation_loses_no_acknowledged_message() {
    if !needs_postgres("a_node_killed_mid_conversation_loses_no_acknowledged_message") {
        return;
    }
    let node_b = spawn_app().await;
    let agent = node_b.first_agent().await;
    let id = node_b.queued_session().await;
    let (mut console, _) = node_b.admin_ws(&agent.access).await;
    console.claim(&id).await;

    let mut node_a = NodeProcess::start(&node_b.database_url);
    let mut customer = node_a.client_ws(&id).await;
    customer.expect_next("connected").await;
    let mut acked = Vec::new();
    let mut last_seen = 0;
    for n in 1..=5 {
        customer.send_json(json!({"type": "message", "content": format!("question {n}"), "client_msg_id": format!("q{n}")})).await;
        let ack = customer.expect("ack").await;
        last_seen = ack["id"].as_i64().unwrap();
        acked.push(format!("question {n}"));
        assert_eq!(
            console.expect("message").await["content"],
            format!("question {n}")
        );
    }

    // Node A dies without a chance to say goodbye.
    node_a.child.kill().unwrap();
    node_a.child.wait().unwrap();
    assert_eq!(
        customer.expect_close().await,
        None,
        "no Close frame from a killed node"
    );

    // Meanwhile the agent answers; the customer reconnects to node B and catches up.
    console
        .send_json(
            json!({"type": "message", "session_id": id, "content": "answer while you were away"}),
        )
        .await;
    console.send_json(json!({"type": "get_queue"})).await;
    console.expect("queue_update").await;
    let mut resumed = node_b
        .raw_ws(&format!("/ws/client/{id}?after={last_seen}"))
        .await;
    resumed.expect_next("connected").await;
    assert_eq!(
        resumed.expect_next("message").await["content"],
        "answer while you were away"
    );

    let history = expect_json(
        node_b.get(&format!("/api/sessions/{id}/messages")).await,
        StatusCode::OK,
    )
    .await;
    let contents: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    for question in &acked {
        assert_eq!(
            contents.iter().filter(|c| *c == question).count(),
            1,
            "{question} stored exactly once"
        );
    }
}
