//! WebSocket test clients: typed helpers that wait for events with a timeout, never a sleep.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::TestApp;

/// How long a test waits for an expected event.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl TestApp {
    fn ws_url(&self, path: &str) -> String {
        format!("{}{}", self.address.replacen("http://", "ws://", 1), path)
    }

    /// A customer socket, after its `connected` event (returned).
    pub async fn client_ws(&self, session_id: &str) -> (WsClient, Value) {
        let mut ws = self.raw_ws(&format!("/ws/client/{session_id}")).await;
        let connected = ws.expect_next("connected").await;
        (ws, connected)
    }

    /// An agent socket, after its `connected` event (returned).
    pub async fn admin_ws(&self, token: &str) -> (WsClient, Value) {
        let mut ws = self.raw_ws(&format!("/ws/admin?token={token}")).await;
        let connected = ws.expect_next("connected").await;
        (ws, connected)
    }

    pub async fn raw_ws(&self, path: &str) -> WsClient {
        WsClient::connect(&self.ws_url(path)).await
    }
}

/// What arrived next on a socket.
#[derive(Debug)]
pub enum Incoming {
    Event(Value),
    Closed(Option<u16>),
}

impl WsClient {
    pub async fn connect(url: &str) -> WsClient {
        let (stream, _) = connect_async(url).await.expect("websocket handshake");
        WsClient { stream }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_raw(
        &mut self,
        message: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.stream.send(message).await
    }

    /// The next event or close, within [`EVENT_TIMEOUT`].
    pub async fn next(&mut self) -> Incoming {
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .expect("timed out waiting for the server");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Incoming::Event(serde_json::from_str(&text).expect("events are JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Incoming::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Incoming::Closed(None),
            }
        }
    }

    /// The very next event, which must be of `kind`.
    pub async fn expect_next(&mut self, kind: &str) -> Value {
        match self.next().await {
            Incoming::Event(event) => {
                assert_eq!(event["type"], kind, "expected `{kind}` next, got {event}");
                event
            }
            Incoming::Closed(code) => panic!("expected `{kind}`, the socket closed with {code:?}"),
        }
    }

    /// The first event of `kind`, skipping others (returned in order as the second value).
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.expect_skipping(kind).await.0
    }

    pub async fn expect_skipping(&mut self, kind: &str) -> (Value, Vec<Value>) {
        let mut skipped = Vec::new();
        loop {
            match self.next().await {
                Incoming::Event(event) if event["type"] == kind => return (event, skipped),
                Incoming::Event(event) => skipped.push(event),
                Incoming::Closed(code) => panic!(
                    "expected `{kind}`, the socket closed with {code:?}; before: {skipped:?}"
                ),
            }
        }
    }

    /// The first event of `kind` that satisfies `accept` (earlier ones, e.g. stale positions,
    /// are skipped).
    pub async fn expect_where(&mut self, kind: &str, accept: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.expect(kind).await;
            if accept(&event) {
                return event;
            }
        }
    }

    /// The first event whose type is one of `kinds`, and the events skipped before it.
    pub async fn expect_skipping_any(&mut self, kinds: &[&str]) -> (Value, Vec<Value>) {
        let mut skipped = Vec::new();
        loop {
            match self.next().await {
                Incoming::Event(event) if kinds.iter().any(|k| event["type"] == *k) => {
                    return (event, skipped);
                }
                Incoming::Event(event) => skipped.push(event),
                Incoming::Closed(code) => {
                    panic!("expected one of {kinds:?}, the socket closed with {code:?}")
                }
            }
        }
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            if let Incoming::Closed(code) = self.next().await {
                return code;
            }
        }
    }

    /// Proves nothing else is pending: a `get_queue`/`typing` round trip is not needed; instead
    /// send a ping and expect the pong before any other frame.
    pub async fn expect_quiet(&mut self) {
        self.stream
            .send(Message::Ping(b"quiet?".to_vec().into()))
            .await
            .expect("ping");
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .expect("timed out waiting for pong");
            match message {
                Some(Ok(Message::Pong(payload))) if payload.as_ref() == b"quiet?" => return,
                Some(Ok(Message::Text(text))) => panic!("expected no event, got {text}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}
