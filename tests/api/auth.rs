use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::domain::ids::AgentId;
use switchboard::store;

use crate::helpers::{
    PASSWORD, TEST_SECRET, expect_detail, expect_json, expect_validation, loc, spawn_app,
    spawn_app_with,
};

fn registration(username: &str, email: &str, password: &str) -> serde_json::Value {
    json!({"username": username, "email": email, "password": password})
}

#[tokio::test]
async fn the_first_account_registers_freely_and_gets_working_tokens() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/auth/register",
            &registration("ada", "ada@example.com", PASSWORD),
        )
        .await;
    let token = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(token["token_type"], "bearer");
    let me = expect_json(
        app.get_as("/api/admin/me", token["access_token"].as_str().unwrap())
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "ada");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["is_active"], true);
    assert_eq!(me["full_name"], serde_json::Value::Null);
    assert!(me["id"].is_i64() && me["created_at"].is_string());
    assert!(me.get("password_hash").is_none() && me.get("password").is_none());
}

#[tokio::test]
async fn later_registrations_need_an_agent_token() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;

    let stranger = app
        .post_json(
            "/api/auth/register",
            &registration("mallory", "m@example.com", PASSWORD),
        )
        .await;
    let detail = expect_detail(stranger, StatusCode::UNAUTHORIZED).await;
    assert!(detail.contains("Registration is closed"), "{detail}");

    let forged = app
        .client
        .post(app.url("/api/auth/register"))
        .bearer_auth("not-a-token")
        .json(&registration("mallory", "m@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    expect_detail(forged, StatusCode::UNAUTHORIZED).await;

    // An agent's refresh token is not an access token.
    let with_refresh = app
        .client
        .post(app.url("/api/auth/register"))
        .bearer_auth(&admin.refresh)
        .json(&registration("mallory", "m@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    expect_detail(with_refresh, StatusCode::UNAUTHORIZED).await;

    let colleague = app.register("grace", Some(&admin)).await;
    assert_ne!(colleague.id, admin.id);
    // The new agent can log in with the password it registered with.
    expect_json(app.login("grace", PASSWORD).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_stranger_learns_nothing_about_accounts_while_registration_is_closed() {
    let app = spawn_app().await;
    app.first_agent().await;
    // Same answer whether or not the username exists.
    let taken = app
        .post_json(
            "/api/auth/register",
            &registration("admin", "x@example.com", PASSWORD),
        )
        .await;
    let free = app
        .post_json(
            "/api/auth/register",
            &registration("nobody", "y@example.com", PASSWORD),
        )
        .await;
    assert_eq!(
        expect_detail(taken, StatusCode::UNAUTHORIZED).await,
        expect_detail(free, StatusCode::UNAUTHORIZED).await
    );
}

#[tokio::test]
async fn allow_registration_opens_signup_to_anyone() {
    let app = spawn_app_with(&[("ALLOW_REGISTRATION", "true")]).await;
    app.first_agent().await;
    let response = app
        .post_json(
            "/api/auth/register",
            &registration("walkin", "walkin@example.com", PASSWORD),
        )
        .await;
    expect_json(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn taken_usernames_and_emails_are_400() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    let again = |body| {
        app.client
            .post(app.url("/api/auth/register"))
            .bearer_auth(&admin.access)
            .json(&body)
            .send()
    };
    let same_name = again(registration("ADMIN", "other@example.com", PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        expect_detail(same_name, StatusCode::BAD_REQUEST).await,
        "Username already registered"
    );
    let same_email = again(registration("other", "Admin@Example.com", PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        expect_detail(same_email, StatusCode::BAD_REQUEST).await,
        "Email already registered"
    );
}

#[tokio::test]
async fn registration_fields_are_validated() {
    let app = spawn_app().await;
    let cases = [
        (
            registration("ab", "a@example.com", PASSWORD),
            "username",
            "string_too_short",
        ),
        (
            registration(&"a".repeat(101), "a@example.com", PASSWORD),
            "username",
            "string_too_long",
        ),
        (
            registration("bad name", "a@example.com", PASSWORD),
            "username",
            "string_pattern_mismatch",
        ),
        (
            registration("agent", "not-an-email", PASSWORD),
            "email",
            "value_error",
        ),
        (
            registration("agent", "a@example.com", "short"),
            "password",
            "string_too_short",
        ),
        (
            registration("agent", "a@example.com", "password123"),
            "password",
            "value_error",
        ),
        (
            registration("agent", "a@example.com", "aaaaaaaaaaaa"),
            "password",
            "value_error",
        ),
        (
            json!({"username": "agent", "email": "a@example.com"}),
            "password",
            "missing",
        ),
    ];
    for (body, field, kind) in cases {
        let errors = expect_validation(app.post_json("/api/auth/register", &body).await).await;
        assert_eq!(
            errors,
            vec![(loc(&["body", field]), kind.to_owned())],
            "{body}"
        );
    }
    // Nothing was created by the failed attempts: the first account can still register.
    app.first_agent().await;
}

#[tokio::test]
async fn login_failures_look_the_same_for_unknown_users_and_wrong_passwords() {
    let app = spawn_app().await;
    app.first_agent().await;
    let wrong_password = app.login("admin", "wrong password 123").await;
    let unknown_user = app.login("ghost", PASSWORD).await;
    assert!(
        wrong_password.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let a = expect_json(wrong_password, StatusCode::UNAUTHORIZED).await;
    let b = expect_json(unknown_user, StatusCode::UNAUTHORIZED).await;
    assert_eq!(a, b);
    assert_eq!(a["detail"], "Incorrect username or password");

    let token = expect_json(app.login("admin", PASSWORD).await, StatusCode::OK).await;
    assert!(token["access_token"].is_string() && token["refresh_token"].is_string());

    let errors = expect_validation(
        app.post_json("/api/auth/login", &json!({"username": "admin"}))
            .await,
    )
    .await;
    assert_eq!(
        errors,
        vec![(loc(&["body", "password"]), "missing".to_owned())]
    );
}

#[tokio::test]
async fn deactivated_agents_are_locked_out() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    store::admins::set_active(app.state.chat.db(), AgentId(admin.id), false)
        .await
        .unwrap();

    assert_eq!(
        expect_detail(app.login("admin", PASSWORD).await, StatusCode::FORBIDDEN).await,
        "Inactive user"
    );
    expect_detail(
        app.get_as("/api/admin/me", &admin.access).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let refresh = app
        .client
        .post(app.url("/api/auth/refresh"))
        .query(&[("refresh_token", &admin.refresh)])
        .send()
        .await
        .unwrap();
    expect_detail(refresh, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_stops_working() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;

    let refresh = |token: String| {
        app.client
            .post(app.url("/api/auth/refresh"))
            .query(&[("refresh_token", token)])
            .send()
    };
    let renewed = expect_json(
        refresh(admin.refresh.clone()).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let new_refresh = renewed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, admin.refresh);
    expect_json(
        app.get_as("/api/admin/me", renewed["access_token"].as_str().unwrap())
            .await,
        StatusCode::OK,
    )
    .await;

    // The JSON body form works too, and rotates again.
    let by_body = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": new_refresh}))
        .await;
    let newest = expect_json(by_body, StatusCode::OK).await;
    let newest = newest["refresh_token"].as_str().unwrap().to_owned();

    // The first one was used: presented again, it is refused.
    expect_detail(
        refresh(admin.refresh.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // ...and taken as theft: the whole family is revoked, the newest token too.
    expect_detail(refresh(newest).await.unwrap(), StatusCode::UNAUTHORIZED).await;
}

/// The thief who replays a stolen, already-used token cannot keep the session either: the
/// legitimate holder's newer token dies with the family, while the agent's other sign-ins live.
#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family_only() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    let laptop = expect_json(app.login("admin", PASSWORD).await, StatusCode::OK).await;
    let refresh = |token: &str| {
        let body = json!({"refresh_token": token});
        let app = &app;
        async move { app.post_json("/api/auth/refresh", &body).await }
    };
    let renewed = expect_json(refresh(&admin.refresh).await, StatusCode::OK).await;
    expect_detail(refresh(&admin.refresh).await, StatusCode::UNAUTHORIZED).await;
    let newer = renewed["refresh_token"].as_str().unwrap();
    expect_detail(refresh(newer).await, StatusCode::UNAUTHORIZED).await;
    // Another sign-in of the same agent is another family.
    let other = laptop["refresh_token"].as_str().unwrap();
    expect_json(refresh(other).await, StatusCode::OK).await;
}

#[tokio::test]
async fn signing_out_revokes_that_sign_in() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    let phone = expect_json(app.login("admin", PASSWORD).await, StatusCode::OK).await;
    let renewed = expect_json(
        app.post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": admin.refresh}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let current = renewed["refresh_token"].as_str().unwrap();
    let logout = app
        .post_json("/api/auth/logout", &json!({"refresh_token": current}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    for token in [admin.refresh.as_str(), current] {
        let refused = app
            .post_json("/api/auth/refresh", &json!({"refresh_token": token}))
            .await;
        expect_detail(refused, StatusCode::UNAUTHORIZED).await;
    }
    let again = app
        .post_json("/api/auth/logout", &json!({"refresh_token": current}))
        .await;
    expect_detail(again, StatusCode::UNAUTHORIZED).await;
    // The phone's sign-in is untouched.
    let phone = phone["refresh_token"].as_str().unwrap();
    expect_json(
        app.post_json("/api/auth/refresh", &json!({"refresh_token": phone}))
            .await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn a_password_change_revokes_every_sign_in_of_the_agent() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    let other = expect_json(app.login("admin", PASSWORD).await, StatusCode::OK).await;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/auth/password"))
            .bearer_auth(&admin.access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let wrong = change("not my password", "a brand new passphrase")
        .await
        .unwrap();
    expect_detail(wrong, StatusCode::BAD_REQUEST).await;
    let weak = change(PASSWORD, "password").await.unwrap();
    let errors = expect_validation(weak).await;
    assert_eq!(errors[0].0, loc(&["body", "new_password"]));

    let changed = expect_json(
        change(PASSWORD, "a brand new passphrase").await.unwrap(),
        StatusCode::OK,
    )
    .await;
    for token in [
        admin.refresh.as_str(),
        other["refresh_token"].as_str().unwrap(),
    ] {
        let refused = app
            .post_json("/api/auth/refresh", &json!({"refresh_token": token}))
            .await;
        expect_detail(refused, StatusCode::UNAUTHORIZED).await;
    }
    // The answer's pair keeps this sign-in going; the old password is gone.
    let fresh = changed["refresh_token"].as_str().unwrap();
    expect_json(
        app.post_json("/api/auth/refresh", &json!({"refresh_token": fresh}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_detail(app.login("admin", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    expect_json(
        app.login("admin", "a brand new passphrase").await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_have_one_winner() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let request = app
            .client
            .post(app.url("/api/auth/refresh"))
            .query(&[("refresh_token", admin.refresh.clone())]);
        tasks.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn refresh_requires_a_refresh_token() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;

    let errors = expect_validation(
        app.client
            .post(app.url("/api/auth/refresh"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        errors,
        vec![(loc(&["query", "refresh_token"]), "missing".to_owned())]
    );

    // An access token is not a refresh token.
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .query(&[("refresh_token", &admin.access)])
        .send()
        .await
        .unwrap();
    expect_detail(response, StatusCode::UNAUTHORIZED).await;
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .query(&[("refresh_token", "garbage")])
        .send()
        .await
        .unwrap();
    expect_detail(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_refresh_token_is_never_accepted_as_an_access_token() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;
    expect_detail(
        app.get_as("/api/admin/me", &admin.refresh).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_detail(
        app.get_as("/api/admin/queue", &admin.refresh).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[derive(serde::Serialize)]
struct ForgedClaims<'a> {
    sub: String,
    #[serde(rename = "type")]
    kind: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
}

fn forge(secret: &str, sub: i64, kind: &str, exp_offset_seconds: i64) -> String {
    let now = Utc::now().timestamp();
    let claims = ForgedClaims {
        sub: sub.to_string(),
        kind,
        iat: now,
        exp: now + exp_offset_seconds,
        jti: "forged",
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_rejected() {
    let app = spawn_app().await;
    let admin = app.first_agent().await;

    // Sanity: a token forged with the server's key and a future expiry is accepted...
    let valid = forge(TEST_SECRET, admin.id, "access", 600);
    expect_json(app.get_as("/api/admin/me", &valid).await, StatusCode::OK).await;

    // ...but not once expired, nor signed with another key, nor altered.
    let expired = forge(TEST_SECRET, admin.id, "access", -120);
    expect_detail(
        app.get_as("/api/admin/me", &expired).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let foreign = forge(
        "some-other-secret-key-of-sufficient-length",
        admin.id,
        "access",
        600,
    );
    expect_detail(
        app.get_as("/api/admin/me", &foreign).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let (head, _) = admin.access.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{}", "A".repeat(43));
    expect_detail(
        app.get_as("/api/admin/me", &tampered).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A valid signature over someone else's id that does not exist.
    let ghost = forge(TEST_SECRET, 9999, "access", 600);
    expect_detail(
        app.get_as("/api/admin/me", &ghost).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // An expired refresh token cannot be exchanged.
    let expired_refresh = forge(TEST_SECRET, admin.id, "refresh", -120);
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .query(&[("refresh_token", expired_refresh)])
        .send()
        .await
        .unwrap();
    expect_detail(response, StatusCode::UNAUTHORIZED).await;
    // A correctly signed refresh token that was never issued (not in the store) is refused.
    let unissued = forge(TEST_SECRET, admin.id, "refresh", 600);
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .query(&[("refresh_token", unissued)])
        .send()
        .await
        .unwrap();
    expect_detail(response, StatusCode::UNAUTHORIZED).await;
}

/// NUL cannot be stored by PostgreSQL (a 500 there before), and no field has a use for other
/// control characters: they are 422s on both databases. A login name with one cannot exist, so
/// that login is an ordinary wrong login (as the documented schema lets a client send it).
#[tokio::test]
async fn control_characters_in_names_are_refused_not_500() {
    let app = spawn_app().await;
    let register = app
        .post_json(
            "/api/auth/register",
            &json!({"username": "ada", "email": "ada@example.com",
                    "password": PASSWORD, "full_name": "Ada\u{0}Lovelace"}),
        )
        .await;
    assert_eq!(
        expect_validation(register).await,
        [(loc(&["body", "full_name"]), "value_error".to_owned())]
    );
    let login = app.login("ad\u{0}min", PASSWORD).await;
    expect_detail(login, StatusCode::UNAUTHORIZED).await;
    let session = app
        .post_json(
            "/api/sessions",
            &json!({"client_info": {"name": "Jo\u{0}hn", "email": "john@example.com", "phone": "+1234567890"}}),
        )
        .await;
    assert_eq!(
        expect_validation(session).await,
        [(
            loc(&["body", "client_info", "name"]),
            "value_error".to_owned()
        )]
    );
}
