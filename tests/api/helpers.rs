//! `spawn_app()` and typed helpers shared by every test.

use std::collections::HashMap;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use switchboard::app::{AppState, Application};
use switchboard::config::Settings;
use switchboard::domain::ids::SessionId;
use switchboard::store::with_database;
use tempfile::TempDir;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::ws::WsClient;

/// The signing key every test server uses, so tests can forge expired or foreign tokens.
pub const TEST_SECRET: &str = "integration-test-secret-key-0123456789abcdef";

/// The sample knowledge base shipped in the repository.
pub fn knowledge_base() -> String {
    format!("{}/knowledge_base", env!("CARGO_MANIFEST_DIR"))
}

/// A strong password accepted by the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server with its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The database this server uses (another node can be started on it).
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    postgres: Option<PostgresDatabase>,
    _dir: TempDir,
}

/// A fresh PostgreSQL database for one test, dropped when the test ends.
pub(crate) struct PostgresDatabase {
    server_url: String,
    name: String,
}

/// With `TEST_DATABASE_URL` set (a PostgreSQL server), tests run on PostgreSQL instead of SQLite.
pub fn postgres_server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
}

impl PostgresDatabase {
    pub(crate) async fn create(server_url: &str) -> Self {
        use sqlx::Connection;
        let name = format!("switchboard_test_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .expect("TEST_DATABASE_URL is reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        Self {
            server_url: server_url.to_owned(),
            name,
        }
    }

    pub(crate) fn url(&self) -> String {
        with_database(&self.server_url, &self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// An agent's tokens.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: i64,
    pub access: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// With `TEST_LOG=1`, the servers' logs go to the test's output, which the test runner shows
/// for a failing test (`RUST_LOG` picks the verbosity, default `info,sqlx=warn`).
fn init_test_log() {
    static INIT: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("TEST_LOG").is_some_and(|v| !v.is_empty() && v != "0") {
        INIT.call_once(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        });
    }
}

/// Starts a server with the test defaults plus `vars` (environment-style settings).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    init_test_log();
    let dir = tempfile::tempdir().expect("temp dir");
    // A test that names its own database gets no fresh one.
    let own_database = vars.iter().any(|(key, _)| *key == "DATABASE_URL");
    let postgres = match postgres_server() {
        Some(server) if !own_database => Some(PostgresDatabase::create(&server).await),
        _ => None,
    };
    let database_url = match &postgres {
        Some(db) => db.url(),
        None => format!("sqlite://{}", dir.path().join("test.db").display()),
    };
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("DATABASE_URL".into(), database_url),
        ("SECRET_KEY".into(), TEST_SECRET.into()),
        ("DEBUG".into(), "false".into()),
        ("KNOWLEDGE_BASE".into(), knowledge_base()),
        // Semantic retrieval has its own tests; the rest need not load a model.
        ("EMBEDDING_MODEL".into(), "off".into()),
    ]);
    for (key, value) in vars {
        env.insert((*key).into(), (*value).into());
    }
    let settings =
        Settings::from_lookup(|key| env.get(key).cloned()).expect("test settings are valid");
    let app = Application::build(settings).await.expect("server starts");
    let address = format!("http://{}", app.local_addr());
    let database_url = env["DATABASE_URL"].clone();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap(),
        state,
        database_url,
        shutdown: Some(tx),
        server: Some(server),
        postgres,
        _dir: dir,
    }
}

impl TestApp {
    /// A second server on the same database: another node of the cluster.
    pub async fn spawn_node(&self) -> TestApp {
        spawn_app_with(&[("DATABASE_URL", &self.database_url)]).await
    }

    /// Signals the server to shut down, as SIGTERM would.
    pub fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        // Dropping the database (FORCE ends the server's connections) happens after the above.
        self.postgres.take();
    }
}

/// Reads a response as JSON, asserting its status first (with the body in the message).
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// The `detail` string of an error body.
pub async fn expect_detail(response: Response, status: StatusCode) -> String {
    let body = expect_json(response, status).await;
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no string detail in {body}"))
        .to_owned()
}

/// The `(loc, type)` pairs of a 422 body.
pub async fn expect_validation(response: Response) -> Vec<(Vec<Value>, String)> {
    let body = expect_json(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail is not a list: {body}"))
        .iter()
        .map(|e| {
            assert!(e["msg"].is_string(), "every error has a msg: {e}");
            (
                e["loc"].as_array().unwrap().clone(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn loc(parts: &[&str]) -> Vec<Value> {
    parts.iter().map(|p| json!(p)).collect()
}

pub fn client_info() -> Value {
    json!({"client_info": {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"}})
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_as(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Opens a session and returns its JSON.
    pub async fn create_session(&self) -> Value {
        expect_json(
            self.post_json("/api/sessions", &client_info()).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The session as `GET /api/sessions/{id}` returns it (asserting 200).
    pub async fn session(&self, id: &str) -> Value {
        expect_json(
            self.get(&format!("/api/sessions/{id}")).await,
            StatusCode::OK,
        )
        .await
    }

    /// The session's `state`: `AI`, `HUMAN` or `CLOSED`.
    pub async fn session_state(&self, id: &str) -> String {
        let session = self.session(id).await;
        session["state"].as_str().expect("a state").to_owned()
    }

    /// Opens a session and a customer socket on it; returns both.
    pub async fn customer(&self) -> (WsClient, String) {
        let id = self.create_session().await["session_id"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let (ws, _) = self.client_ws(&id).await;
        (ws, id)
    }

    /// Opens a session and puts it in the human queue; returns its session_id.
    pub async fn queued_session(&self) -> String {
        let session = self.create_session().await;
        let id = session["session_id"].as_str().unwrap().to_owned();
        let session_id = SessionId::parse(&id).expect("a session id");
        self.state
            .chat
            .hand_off(session_id, None, None)
            .await
            .expect("hand off");
        id
    }

    /// Registers `username`, with `by`'s token if given, and returns the new agent's tokens.
    pub async fn register(&self, username: &str, by: Option<&Agent>) -> Agent {
        let mut request = self
            .client
            .post(self.url("/api/auth/register"))
            .json(&json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
                "full_name": "Test Agent",
            }));
        if let Some(by) = by {
            request = request.bearer_auth(&by.access);
        }
        let token = expect_json(request.send().await.unwrap(), StatusCode::CREATED).await;
        self.agent_from(token).await
    }

    /// The first agent (registration is open while no account exists).
    pub async fn first_agent(&self) -> Agent {
        self.register("admin", None).await
    }

    /// Logs in and returns the agent's tokens.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn agent_from(&self, token: Value) -> Agent {
        assert_eq!(token["token_type"], "bearer");
        let access = token["access_token"].as_str().unwrap().to_owned();
        let refresh = token["refresh_token"].as_str().unwrap().to_owned();
        let me = expect_json(self.get_as("/api/admin/me", &access).await, StatusCode::OK).await;
        Agent {
            id: me["id"].as_i64().unwrap(),
            access,
            refresh,
        }
    }
}

impl WsClient {
    /// Claims `session_id` over this agent socket and waits for `session_claimed`.
    pub async fn claim(&mut self, session_id: &str) -> Value {
        self.send_json(json!({"type": "claim_session", "session_id": session_id}))
            .await;
        self.expect("session_claimed").await
    }
}
