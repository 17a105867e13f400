use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{expect_detail, expect_json, expect_validation, loc, spawn_app};

fn session_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_admin_endpoint_requires_an_access_token() {
    let app = spawn_app().await;
    let id = app.create_session().await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gets = [
        "/api/admin/queue",
        "/api/admin/active",
        "/api/admin/all-sessions",
        "/api/admin/me",
    ];
    let posts = [
        format!("/api/admin/sessions/{id}/claim"),
        format!("/api/admin/sessions/{id}/close"),
    ];
    for path in gets {
        let response = app.get(path).await;
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{path}"
        );
        expect_detail(response, StatusCode::UNAUTHORIZED).await;
        expect_detail(app.get_as(path, "garbage").await, StatusCode::UNAUTHORIZED).await;
        let basic = app
            .client
            .get(app.url(path))
            .header("authorization", "Basic YWRtaW46YWRtaW4=")
            .send()
            .await
            .unwrap();
        expect_detail(basic, StatusCode::UNAUTHORIZED).await;
    }
    for path in &posts {
        expect_detail(
            app.client.post(app.url(path)).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
        )
        .await;
        expect_detail(app.post_as(path, "garbage").await, StatusCode::UNAUTHORIZED).await;
    }
    // Nothing changed.
    let session = app.session(&id).await;
    assert_eq!(session["state"], "AI");
}

#[tokio::test]
async fn the_queue_lists_waiting_sessions_oldest_handoff_first() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let _with_assistant = app.create_session().await;
    let first = app.queued_session().await;
    let second = app.queued_session().await;
    let third = app.queued_session().await;

    let queue = expect_json(
        app.get_as("/api/admin/queue", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        session_ids(&queue),
        [first.clone(), second.clone(), third.clone()]
    );
    for session in queue.as_array().unwrap() {
        assert_eq!(session["state"], "HUMAN");
        assert_eq!(session["assigned_admin_id"], Value::Null);
        assert!(session["queued_at"].is_string());
        assert_eq!(session["client_info"]["name"], "John Doe");
    }

    // Claiming takes a session out of the queue and into the active list.
    expect_json(
        app.post_as(
            &format!("/api/admin/sessions/{second}/claim"),
            &agent.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let queue = expect_json(
        app.get_as("/api/admin/queue", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session_ids(&queue), [first, third]);
    let active = expect_json(
        app.get_as("/api/admin/active", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session_ids(&active), [second]);
}

/// The reference's console lists `/api/admin/active` as "Your Active Chats": each agent sees the
/// sessions it holds; `scope=all` is the team view.
#[tokio::test]
async fn active_lists_the_callers_sessions_unless_the_team_view_is_asked_for() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let grace = app.register("grace", Some(&ada)).await;
    let (mine, hers) = (app.queued_session().await, app.queued_session().await);
    for (id, agent) in [(&mine, &ada), (&hers, &grace)] {
        let path = format!("/api/admin/sessions/{id}/claim");
        expect_json(app.post_as(&path, &agent.access).await, StatusCode::OK).await;
    }

    let active = |agent: &crate::helpers::Agent, query: &'static str| {
        let path = format!("/api/admin/active{query}");
        let token = agent.access.clone();
        let app = &app;
        async move { app.get_as(&path, &token).await }
    };
    let ada_sees = expect_json(active(&ada, "").await, StatusCode::OK).await;
    assert_eq!(session_ids(&ada_sees), std::slice::from_ref(&mine));
    let grace_sees = expect_json(active(&grace, "?scope=mine").await, StatusCode::OK).await;
    assert_eq!(session_ids(&grace_sees), std::slice::from_ref(&hers));
    let team = expect_json(active(&ada, "?scope=all").await, StatusCode::OK).await;
    let mut team = session_ids(&team);
    team.sort();
    let mut both = vec![mine, hers];
    both.sort();
    assert_eq!(team, both);
    let errors = expect_validation(active(&ada, "?scope=everyone").await).await;
    assert_eq!(errors, [(loc(&["query", "scope"]), "enum".to_owned())]);
}

#[tokio::test]
async fn claiming_assigns_the_session_and_a_second_claim_is_a_conflict() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let grace = app.register("grace", Some(&ada)).await;
    let id = app.queued_session().await;

    let claimed = expect_json(
        app.post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(claimed["state"], "HUMAN");
    assert_eq!(claimed["assigned_admin_id"], ada.id);

    // Defect 3 of the reference: a second agent must not steal the session.
    let stolen = app
        .post_as(&format!("/api/admin/sessions/{id}/claim"), &grace.access)
        .await;
    expect_detail(stolen, StatusCode::CONFLICT).await;
    let again = app
        .post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
        .await;
    expect_detail(again, StatusCode::CONFLICT).await;
    let session = app.session(&id).await;
    assert_eq!(session["assigned_admin_id"], ada.id);
}

#[tokio::test]
async fn an_agent_can_take_over_from_the_assistant() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let id = app.create_session().await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claimed = expect_json(
        app.post_as(&format!("/api/admin/sessions/{id}/claim"), &agent.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(claimed["state"], "HUMAN");
    assert_eq!(claimed["assigned_admin_id"], agent.id);
}

#[tokio::test]
async fn claiming_or_closing_unknown_sessions_is_404() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    for action in ["claim", "close"] {
        for id in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
            let response = app
                .post_as(&format!("/api/admin/sessions/{id}/{action}"), &agent.access)
                .await;
            assert_eq!(
                expect_detail(response, StatusCode::NOT_FOUND).await,
                "Session not found"
            );
        }
    }
}

#[tokio::test]
async fn only_the_holder_closes_and_a_closed_session_stays_closed() {
    let app = spawn_app().await;
    let ada = app.first_agent().await;
    let grace = app.register("grace", Some(&ada)).await;
    let id = app.queued_session().await;
    expect_json(
        app.post_as(&format!("/api/admin/sessions/{id}/claim"), &ada.access)
            .await,
        StatusCode::OK,
    )
    .await;

    // Defect 4 of the reference: another agent may not close it.
    let detail = expect_detail(
        app.post_as(&format!("/api/admin/sessions/{id}/close"), &grace.access)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail.contains("another agent"), "{detail}");

    let closed = expect_json(
        app.post_as(&format!("/api/admin/sessions/{id}/close"), &ada.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["state"], "CLOSED");
    assert!(closed["closed_at"].is_string());

    expect_detail(
        app.post_as(&format!("/api/admin/sessions/{id}/close"), &ada.access)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    // Defect 3 of the reference: a REST claim must not reopen a closed session.
    for agent in [&ada, &grace] {
        let detail = expect_detail(
            app.post_as(&format!("/api/admin/sessions/{id}/claim"), &agent.access)
                .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(detail, "Session is closed");
    }
    let session = app.session(&id).await;
    assert_eq!(session["state"], "CLOSED");
    let active = expect_json(
        app.get_as("/api/admin/active", &ada.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active, serde_json::json!([]));
}

#[tokio::test]
async fn an_unclaimed_session_can_be_closed_by_any_agent() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let id = app.queued_session().await;
    let closed = expect_json(
        app.post_as(&format!("/api/admin/sessions/{id}/close"), &agent.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["state"], "CLOSED");
    let queue = expect_json(
        app.get_as("/api/admin/queue", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue, serde_json::json!([]));
}

#[tokio::test]
async fn ten_agents_claiming_at_once_have_exactly_one_winner() {
    let app = spawn_app().await;
    let first = app.first_agent().await;
    let mut agents = vec![first.clone()];
    for n in 1..10 {
        agents.push(app.register(&format!("agent{n}"), Some(&first)).await);
    }
    let id = app.queued_session().await;

    let mut claims = tokio::task::JoinSet::new();
    for agent in &agents {
        let request = app
            .client
            .post(app.url(&format!("/api/admin/sessions/{id}/claim")))
            .bearer_auth(&agent.access);
        let agent_id = agent.id;
        claims.spawn(async move { (agent_id, request.send().await.unwrap().status()) });
    }
    let results = claims.join_all().await;
    let winners: Vec<i64> = results
        .iter()
        .filter(|(_, s)| *s == StatusCode::OK)
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, s)| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{results:?}"
    );

    let session = app.session(&id).await;
    assert_eq!(session["assigned_admin_id"], winners[0]);
}

#[tokio::test]
async fn all_sessions_pages_newest_first() {
    let app = spawn_app().await;
    let agent = app.first_agent().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(
            app.create_session().await["session_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    created.reverse();

    let all = expect_json(
        app.get_as("/api/admin/all-sessions", &agent.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session_ids(&all), created);
    let page = expect_json(
        app.get_as("/api/admin/all-sessions?limit=2&offset=1", &agent.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session_ids(&page), created[1..3]);

    for (query, field, kind) in [
        ("limit=0", "limit", "greater_than_equal"),
        ("limit=1001", "limit", "less_than_equal"),
        ("limit=ten", "limit", "int_parsing"),
        ("offset=-1", "offset", "greater_than_equal"),
    ] {
        let errors = expect_validation(
            app.get_as(&format!("/api/admin/all-sessions?{query}"), &agent.access)
                .await,
        )
        .await;
        assert_eq!(
            errors,
            vec![(loc(&["query", field]), kind.to_owned())],
            "{query}"
        );
    }
}
