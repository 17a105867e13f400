//! A local stand-in for the Gemini REST API: it answers `generateContent` in the real wire
//! format and records every request, so tests can assert what Switchboard sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// How the fake answers.
#[derive(Debug, Clone)]
pub enum Mode {
    Reply(String),
    Status(u16),
    /// Answers only after this long (past the client's timeout).
    Hang(Duration),
    /// A prompt blocked for safety.
    Blocked,
    /// 200 with a body that is not JSON.
    Garbage,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub api_key: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

pub struct FakeGemini {
    pub base_url: String,
    fake: Fake,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeGemini {
    pub async fn start(mode: Mode) -> Self {
        let fake = Fake {
            mode: Arc::new(Mutex::new(mode)),
            requests: Arc::default(),
        };
        let app = Router::new()
            .route("/v1beta/models/{call}", post(generate))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url,
            fake,
            _server: server,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.fake.mode.lock().unwrap() = mode;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.fake.requests.lock().unwrap().clone()
    }

    /// Settings that point Switchboard at this fake.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AI_PROVIDER", "gemini".into()),
            ("GEMINI_API_KEY", "test-gemini-key".into()),
            ("GEMINI_BASE_URL", self.base_url.clone()),
            ("GEMINI_MODEL", "gemini-3.5-flash-lite".into()),
        ]
    }
}

async fn generate(
    State(fake): State<Fake>,
    Path(call): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    fake.requests.lock().unwrap().push(Recorded {
        path: format!("/v1beta/models/{call}"),
        api_key: headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Reply(text) => axum::Json(json!({
            "candidates": [{
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0
            }],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "gemini-3.5-flash-lite"
        }))
        .into_response(),
        Mode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let error = json!({"error": {"code": code, "message": "fake failure", "status": "UNAVAILABLE"}});
            let mut response = (status, axum::Json(error)).into_response();
            if code == 429 {
                response.headers_mut().insert("retry-after", "1".parse().unwrap());
            }
            response
        }
        Mode::Hang(delay) => {
            tokio::time::sleep(delay).await;
            axum::Json(json!({"candidates": [{"content": {"parts": [{"text": "too late"}]}}]})).into_response()
        }
        Mode::Blocked => axum::Json(json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}
        }))
        .into_response(),
        Mode::Garbage => (StatusCode::OK, "<html>not json</html>").into_response(),
    }
}
