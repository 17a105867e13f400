//! The HTTP half of the wire contract (`PROTOCOL.md`) as the scenarios need it: open sessions,
//! register agents, claim, read histories, and build the WebSocket URLs.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// Longest wait for one HTTP answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A password the account policy accepts.
const PASSWORD: &str = "loadgen correct horse battery";
/// Messages per history page.
const HISTORY_PAGE: usize = 1000;

/// A client of one server.
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// The server's first account, registered without a token; it registers the others.
    first_agent: OnceCell<Agent>,
    /// Makes this run's usernames unique.
    run_tag: String,
    agents_made: AtomicU32,
}

/// An agent account and its access token.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// A session as `POST /api/sessions` returned it.
#[derive(Debug, Clone, Deserialize)]
pub struct NewSession {
    pub session_id: String,
    pub client_token: Option<String>,
}

/// A stored message, as the history endpoint returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredMessage {
    pub id: i64,
    pub sender_type: String,
    pub content: String,
}

/// Where a session stands, as `GET /api/sessions/{id}` tells.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionView {
    pub state: String,
    pub assigned_admin_id: Option<i64>,
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
}

#[derive(Deserialize)]
struct Me {
    id: i64,
}

impl Api {
    /// A client keeping up to `pool` idle keep-alive connections to `base_url`.
    pub fn new(base_url: &str, pool: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Self {
            http,
            base: base_url.to_owned(),
            first_agent: OnceCell::new(),
            run_tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            agents_made: AtomicU32::new(0),
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    /// `/ws/client/{id}` (with the customer's token, which the server may require).
    pub fn customer_socket(&self, session: &NewSession) -> String {
        match &session.client_token {
            Some(token) => self.ws_url(&format!(
                "/ws/client/{}?client_token={token}",
                session.session_id
            )),
            None => self.ws_url(&format!("/ws/client/{}", session.session_id)),
        }
    }

    /// `/ws/admin?token=`.
    pub fn agent_socket(&self, agent: &Agent) -> String {
        self.ws_url(&format!("/ws/admin?token={}", agent.token))
    }

    /// Opens a session for customer number `n`.
    pub async fn create_session(&self, n: u64) -> Result<NewSession> {
        let request = self
            .http
            .post(self.url("/api/sessions"))
            .json(&client_info(n));
        fetch(request, StatusCode::CREATED, "POST /api/sessions").await
    }

    /// `GET /api/sessions/{id}/messages` (the first page, as a customer reads it).
    pub fn history_request(&self, session: &NewSession) -> RequestBuilder {
        let mut request = self
            .http
            .get(self.url(&format!("/api/sessions/{}/messages", session.session_id)));
        if let Some(token) = &session.client_token {
            request = request.query(&[("client_token", token)]);
        }
        request
    }

    /// A session's whole history, page by page, read as `agent`.
    pub async fn history(&self, session: &NewSession, agent: &Agent) -> Result<Vec<StoredMessage>> {
        let path = format!("/api/sessions/{}/messages", session.session_id);
        let mut messages: Vec<StoredMessage> = Vec::new();
        loop {
            let after = messages.last().map_or(0, |m| m.id);
            let request = self
                .http
                .get(self.url(&path))
                .bearer_auth(&agent.token)
                .query(&[("after", after), ("limit", HISTORY_PAGE as i64)]);
            let page: Vec<StoredMessage> =
                fetch(request, StatusCode::OK, &format!("GET {path}")).await?;
            let full = page.len() == HISTORY_PAGE;
            messages.extend(page);
            if !full {
                return Ok(messages);
            }
        }
    }

    /// `GET /api/sessions/{id}`, read as `agent`.
    pub async fn session(&self, session_id: &str, agent: &Agent) -> Result<SessionView> {
        let path = format!("/api/sessions/{session_id}");
        let request = self.http.get(self.url(&path)).bearer_auth(&agent.token);
        fetch(request, StatusCode::OK, &format!("GET {path}")).await
    }

    /// The session ids waiting in the human queue (`GET /api/admin/queue`).
    pub async fn queue(&self, agent: &Agent) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Queued {
            session_id: String,
        }
        let request = self
            .http
            .get(self.url("/api/admin/queue"))
            .bearer_auth(&agent.token);
        let queue: Vec<Queued> = fetch(request, StatusCode::OK, "GET /api/admin/queue").await?;
        Ok(queue.into_iter().map(|q| q.session_id).collect())
    }

    /// `agent` claims the session over REST.
    pub async fn claim(&self, session_id: &str, agent: &Agent) -> Result<()> {
        let path = format!("/api/admin/sessions/{session_id}/claim");
        let request = self.http.post(self.url(&path)).bearer_auth(&agent.token);
        send(request, StatusCode::OK, &format!("POST {path}")).await?;
        Ok(())
    }

    /// The server's first agent: registered (without a token) on first use.
    pub async fn first_agent(&self) -> Result<&Agent> {
        self.first_agent
            .get_or_try_init(|| async {
                let username = format!("loadgen-{}", self.run_tag);
                self.register(&username, None).await.context(
                    "cannot register the first agent account; loadgen needs a server without \
                     accounts (the default: it starts its own)",
                )
            })
            .await
    }

    /// Registers `count` new agents (with the first agent's token).
    pub async fn register_agents(&self, count: usize) -> Result<Vec<Agent>> {
        let first = self.first_agent().await?.clone();
        // Password hashing is deliberately slow: a few at a time.
        concurrently(count, 4, |_| {
            let first = &first;
            async move {
                let n = self.agents_made.fetch_add(1, Ordering::Relaxed);
                let username = format!("lg-{}-{n}", self.run_tag);
                self.register(&username, Some(first)).await
            }
        })
        .await
    }

    async fn register(&self, username: &str, by: Option<&Agent>) -> Result<Agent> {
        let mut request = self.http.post(self.url("/api/auth/register")).json(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
            "full_name": format!("Load agent {username}"),
        }));
        if let Some(by) = by {
            request = request.bearer_auth(&by.token);
        }
        let tokens: Tokens = fetch(request, StatusCode::CREATED, "POST /api/auth/register").await?;
        let request = self
            .http
            .get(self.url("/api/admin/me"))
            .bearer_auth(&tokens.access_token);
        let me: Me = fetch(request, StatusCode::OK, "GET /api/admin/me").await?;
        Ok(Agent {
            id: me.id,
            username: username.to_owned(),
            token: tokens.access_token,
        })
    }
}

/// The body of `POST /api/sessions` for customer number `n`.
pub fn client_info(n: u64) -> Value {
    json!({"client_info": {
        "name": format!("Load customer {n}"),
        "email": format!("customer{n}@example.com"),
        "phone": format!("+1555{:07}", n % 10_000_000),
    }})
}

/// Sends `request` (`what` names it in errors) and reads the JSON body of its `expected` answer.
async fn fetch<T: DeserializeOwned>(
    request: RequestBuilder,
    expected: StatusCode,
    what: &str,
) -> Result<T> {
    let body = send(request, expected, what).await?;
    serde_json::from_str(&body).with_context(|| format!("{what}: unexpected body: {body}"))
}

/// Sends `request` (`what` names it in errors) and reads the body of its answer, which must
/// have `expected` status; otherwise an error quoting it.
async fn send(request: RequestBuilder, expected: StatusCode, what: &str) -> Result<String> {
    let response = request.send().await.with_context(|| what.to_owned())?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("{what}: cannot read the body"))?;
    if status != expected {
        bail!("{what}: HTTP {status} (expected {expected}): {body}");
    }
    Ok(body)
}

/// Runs `task(0..count)` with at most `limit` at once; the results in index order, or the first
/// error.
pub async fn concurrently<T, F, Fut>(count: usize, limit: usize, task: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    stream::iter(0..count)
        .map(task)
        .buffered(limit.max(1))
        .try_collect()
        .await
}
