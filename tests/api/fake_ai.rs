//! A local stand-in for the LLM providers. It speaks Gemini's `streamGenerateContent?alt=sse`
//! or OpenAI's streaming `chat/completions`, in their real wire formats, with fault modes
//! scripted per request; it records every request and counts the replies whose client went away
//! before they finished (cancelled calls).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// Which API the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Gemini,
    OpenAi,
}

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The reply streamed in a few chunks.
    Reply(String),
    /// The first chunk at once, the others only after [`FakeAi::release`].
    Gated(Vec<String>),
    /// A call of the `transfer_to_human` tool with this reason.
    Transfer(String),
    /// Some text, then a call of `transfer_to_human` with this reason.
    SayThenTransfer(String, String),
    /// This HTTP status (429 comes with `Retry-After: 1`).
    Status(u16),
    /// Headers, then silence.
    Hang,
    /// One chunk of this text, then silence.
    StallAfter(String),
    /// A safety block (Gemini: `promptFeedback.blockReason`; OpenAI: `content_filter`).
    Blocked,
    /// A stream event that is not JSON.
    Garbage,
    /// Text, then a finish reason (and fields) no client knows yet.
    UnknownFinish(String),
    /// 400 "does not support tools" when the request declares tools (OpenAI), else a reply.
    NoToolSupport(String),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub auth: Option<String>,
    pub body: Value,
    pub at: Instant,
}

#[derive(Clone)]
struct Fake {
    flavour: Flavour,
    default: Arc<Mutex<Mode>>,
    script: Arc<Mutex<VecDeque<Mode>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    gate: Arc<Notify>,
    cancelled: Arc<AtomicUsize>,
}

pub struct FakeAi {
    pub base_url: String,
    fake: Fake,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeAi {
    pub async fn gemini(mode: Mode) -> Self {
        Self::start(Flavour::Gemini, mode).await
    }

    pub async fn openai(mode: Mode) -> Self {
        Self::start(Flavour::OpenAi, mode).await
    }

    pub async fn start(flavour: Flavour, mode: Mode) -> Self {
        let fake = Fake {
            flavour,
            default: Arc::new(Mutex::new(mode)),
            script: Arc::default(),
            requests: Arc::default(),
            gate: Arc::default(),
            cancelled: Arc::default(),
        };
        let app = Router::new()
            .route("/v1beta/models/{call}", post(gemini))
            .route("/v1/chat/completions", post(openai))
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

    /// The mode for every request not scripted.
    pub fn set_mode(&self, mode: Mode) {
        *self.fake.default.lock().unwrap() = mode;
    }

    /// Modes for the next requests, in order; then the default again.
    pub fn script(&self, modes: impl IntoIterator<Item = Mode>) {
        self.fake.script.lock().unwrap().extend(modes);
    }

    /// Lets a [`Mode::Gated`] reply finish.
    pub fn release(&self) {
        self.fake.gate.notify_one();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.fake.requests.lock().unwrap().clone()
    }

    /// Waits until `count` replies were abandoned by the client (the connection closed).
    pub async fn wait_cancelled(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.fake.cancelled.load(Ordering::SeqCst) < count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} of {count} hung calls were cancelled",
                self.fake.cancelled.load(Ordering::SeqCst)
            )
        });
    }

    /// Settings that point Switchboard at this fake.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        match self.fake.flavour {
            Flavour::Gemini => vec![
                ("AI_PROVIDER", "gemini".into()),
                ("GEMINI_API_KEY", "test-gemini-key".into()),
                ("GEMINI_BASE_URL", self.base_url.clone()),
                ("GEMINI_MODEL", "gemini-3.5-flash-lite".into()),
            ],
            Flavour::OpenAi => vec![
                ("AI_PROVIDER", "openai".into()),
                ("OPENAI_API_KEY", "test-openai-key".into()),
                ("OPENAI_BASE_URL", format!("{}/v1", self.base_url)),
                ("OPENAI_MODEL", "llama3.2".into()),
            ],
        }
    }
}

impl Fake {
    fn record(&self, path: String, headers: &HeaderMap, body: &str) -> Mode {
        let auth = headers
            .get("x-goog-api-key")
            .or_else(|| headers.get(header::AUTHORIZATION))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.requests.lock().unwrap().push(Recorded {
            path,
            auth,
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        let scripted = self.script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| self.default.lock().unwrap().clone())
    }
}

/// Counts a reply stream dropped before it finished: the client hung up.
struct CancelGuard {
    cancelled: Arc<AtomicUsize>,
    finished: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What to send: events, optionally a wait for the gate after the first, and whether the
/// stream then stays open forever.
struct Plan {
    events: Vec<String>,
    gated: bool,
    hang: bool,
}

fn plan(events: Vec<String>, gated: bool, hang: bool) -> Plan {
    Plan {
        events,
        gated,
        hang,
    }
}

fn sse(fake: &Fake, plan: Plan) -> Response {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    let gate = fake.gate.clone();
    let guard = CancelGuard {
        cancelled: fake.cancelled.clone(),
        finished: false,
    };
    tokio::spawn(async move {
        let mut guard = guard;
        for (n, event) in plan.events.into_iter().enumerate() {
            if n == 1 && plan.gated {
                gate.notified().await;
            }
            if sender.send(Ok(Bytes::from(event))).await.is_err() {
                return; // the client went away: the guard counts it
            }
        }
        if plan.hang {
            sender.closed().await;
            return;
        }
        guard.finished = true;
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn status(flavour: Flavour, code: u16) -> Response {
    let body = match flavour {
        Flavour::Gemini => {
            json!({"error": {"code": code, "message": "fake failure", "status": "UNAVAILABLE"}})
        }
        Flavour::OpenAi => {
            json!({"error": {"message": "fake failure", "type": "server_error", "code": null}})
        }
    };
    let mut response = (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response();
    if code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().unwrap());
    }
    response
}

/// Splits `text` into three pieces (fewer for short texts), on character boundaries.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn gemini_event(value: Value) -> String {
    format!("data: {value}\r\n\r\n")
}

fn gemini_text(text: &str, finish: Option<&str>) -> String {
    let mut candidate =
        json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    gemini_event(json!({"candidates": [candidate], "modelVersion": "gemini-3.5-flash-lite"}))
}

fn gemini_stream(texts: Vec<String>, finish: &str) -> Vec<String> {
    let last = texts.len().saturating_sub(1);
    texts
        .iter()
        .enumerate()
        .map(|(n, t)| gemini_text(t, (n == last).then_some(finish)))
        .collect()
}

fn gemini_transfer(said: Option<&str>, reason: &str) -> Vec<String> {
    let mut events: Vec<String> = said.map(|t| gemini_text(t, None)).into_iter().collect();
    events.push(gemini_event(json!({"candidates": [{
        "content": {"role": "model", "parts": [{
            "functionCall": {"name": "transfer_to_human", "args": {"reason": reason}},
            "thoughtSignature": "c2lnbmVkLXJlYXNvbmluZw=="
        }]},
        "finishReason": "STOP", "index": 0
    }]})));
    events
}

async fn gemini(
    State(fake): State<Fake>,
    Path(call): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    let mode = fake.record(format!("/v1beta/models/{call}{query}"), &headers, &body);
    match mode {
        Mode::Reply(text) | Mode::NoToolSupport(text) => sse(
            &fake,
            plan(gemini_stream(pieces(&text), "STOP"), false, false),
        ),
        Mode::Gated(texts) => sse(&fake, plan(gemini_stream(texts, "STOP"), true, false)),
        Mode::Transfer(reason) => sse(&fake, plan(gemini_transfer(None, &reason), false, false)),
        Mode::SayThenTransfer(text, reason) => sse(
            &fake,
            plan(gemini_transfer(Some(&text), &reason), false, false),
        ),
        Mode::Status(code) => status(fake.flavour, code),
        Mode::Hang => sse(&fake, plan(vec![], false, true)),
        Mode::StallAfter(text) => sse(&fake, plan(vec![gemini_text(&text, None)], false, true)),
        Mode::Blocked => sse(
            &fake,
            plan(
                vec![gemini_event(
                    json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}}),
                )],
                false,
                false,
            ),
        ),
        Mode::Garbage => sse(
            &fake,
            plan(
                vec!["data: {\"candidates\": [\r\n\r\n".into()],
                false,
                false,
            ),
        ),
        Mode::UnknownFinish(text) => {
            let mut events = gemini_stream(pieces(&text), "A_REASON_FROM_THE_FUTURE");
            events.push(gemini_event(json!({"usageMetadata": {"totalTokenCount": 12}, "brandNewField": {"nested": true}})));
            sse(&fake, plan(events, false, false))
        }
    }
}

fn openai_chunk(delta: Value, finish: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "llama3.2",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {chunk}\n\n")
}

fn openai_transfer(said: Option<&str>, reason: &str) -> Vec<String> {
    let arguments = json!({"reason": reason}).to_string();
    let (head, tail) = arguments.split_at(arguments.len() / 2);
    let mut events: Vec<String> = said
        .map(|t| openai_chunk(json!({"role": "assistant", "content": t}), None))
        .into_iter()
        .collect();
    events.extend([
        openai_chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_fake1", "type": "function", "function": {"name": "transfer_to_human", "arguments": ""}}]}),
            None,
        ),
        openai_chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": head}}]}),
            None,
        ),
        openai_chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": tail}}]}),
            None,
        ),
        openai_chunk(json!({}), Some("tool_calls")),
        "data: [DONE]\n\n".into(),
    ]);
    events
}

fn openai_stream(texts: Vec<String>, finish: &str) -> Vec<String> {
    let mut events = vec![openai_chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    events.extend(
        texts
            .iter()
            .map(|t| openai_chunk(json!({"content": t}), None)),
    );
    events.push(openai_chunk(json!({}), Some(finish)));
    events.push("data: [DONE]\n\n".into());
    events
}

async fn openai(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let mode = fake.record("/v1/chat/completions".into(), &headers, &body);
    match mode {
        Mode::Reply(text) => sse(
            &fake,
            plan(openai_stream(pieces(&text), "stop"), false, false),
        ),
        Mode::NoToolSupport(text) => {
            if body.contains("\"tools\"") {
                let error = json!({"error": {"message": "registry.ollama.ai/library/gemma:2b does not support tools", "type": "api_error"}});
                return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
            }
            sse(
                &fake,
                plan(openai_stream(pieces(&text), "stop"), false, false),
            )
        }
        Mode::Gated(texts) => {
            // The role chunk carries no text: gate after the first text instead.
            let mut events = openai_stream(texts, "stop");
            events.remove(0);
            sse(&fake, plan(events, true, false))
        }
        Mode::Transfer(reason) => sse(&fake, plan(openai_transfer(None, &reason), false, false)),
        Mode::SayThenTransfer(text, reason) => sse(
            &fake,
            plan(openai_transfer(Some(&text), &reason), false, false),
        ),
        Mode::Status(code) => status(fake.flavour, code),
        Mode::Hang => sse(&fake, plan(vec![], false, true)),
        Mode::StallAfter(text) => sse(
            &fake,
            plan(
                vec![openai_chunk(json!({"content": text}), None)],
                false,
                true,
            ),
        ),
        Mode::Blocked => sse(
            &fake,
            plan(
                vec![
                    openai_chunk(json!({"content": "I"}), None),
                    openai_chunk(json!({}), Some("content_filter")),
                    "data: [DONE]\n\n".into(),
                ],
                false,
                false,
            ),
        ),
        Mode::Garbage => sse(
            &fake,
            plan(vec!["data: {\"choices\": [{\n\n".into()], false, false),
        ),
        Mode::UnknownFinish(text) => {
            let mut events = openai_stream(pieces(&text), "a_reason_from_the_future");
            events.insert(
                1,
                openai_chunk(json!({"reasoning_content": "hmm", "annotations": []}), None),
            );
            sse(&fake, plan(events, false, false))
        }
    }
}
