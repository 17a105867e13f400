//! WebSocket clients built to run thousands at once. Each socket has a reader task and a writer
//! task, so a scenario never blocks on one slow socket and every socket is always read (the
//! server disconnects a client whose outbound queue fills up, and reading is also what answers
//! its pings). The reader hands each event to the socket's hook first — counting, timing,
//! answering — and forwards the events the hook does not consume to [`Socket::expect`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::tally::Tally;

/// Longest wait for a WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scenario waits for an expected event.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a hook did with an event.
pub enum Seen {
    /// Queue it for [`Socket::expect`].
    Forward,
    /// Done with it.
    Consumed,
}

/// Called by the reader task on every event, in order.
pub type Hook = Box<dyn FnMut(&Value) -> Seen + Send>;

/// Queues frames for a socket's writer task; cheap to clone (hooks keep one to answer events).
#[derive(Clone)]
pub struct Outbox(mpsc::UnboundedSender<Message>);

impl Outbox {
    /// Queues a text frame; false when the socket's writer has stopped.
    pub fn send_text(&self, text: String) -> bool {
        self.0.send(Message::text(text)).is_ok()
    }

    pub fn send_json(&self, value: &Value) -> bool {
        self.send_text(value.to_string())
    }
}

/// How a socket ended, as the server (or the connection) ended it.
#[derive(Debug, Clone)]
pub struct Ending {
    pub code: Option<u16>,
    pub reason: String,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code} \"{}\"", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// One open WebSocket, driven by its two tasks.
pub struct Socket {
    outbox: Outbox,
    events: mpsc::UnboundedReceiver<Value>,
    ending: Arc<OnceLock<Ending>>,
    reader: JoinHandle<()>,
}

/// Small buffers: a run may hold 18,000 sockets, and tungstenite's defaults cost 128 KiB each.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
}

/// Opens a socket to `url`. `make_hook` builds its hook (given the socket's outbox, to answer
/// events); `sent`, when given, counts the text frames written.
pub async fn connect(
    url: &str,
    sent: Option<Arc<Tally>>,
    make_hook: impl FnOnce(Outbox) -> Hook,
) -> Result<Socket> {
    let shown = url.split('?').next().unwrap_or(url);
    // Nagle's algorithm off: latency is what is measured.
    let (stream, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        connect_async_with_config(url, Some(config()), true),
    )
    .await
    .map_err(|_| anyhow!("WebSocket handshake with {shown} timed out"))?
    .with_context(|| format!("WebSocket handshake with {shown}"))?;
    let (sink, stream) = stream.split();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let outbox = Outbox(out_tx);
    let (events_tx, events) = mpsc::unbounded_channel();
    let ending = Arc::new(OnceLock::new());
    tokio::spawn(write(sink, out_rx, sent));
    let hook = make_hook(outbox.clone());
    let reader = tokio::spawn(read(stream, hook, events_tx, Arc::clone(&ending)));
    Ok(Socket {
        outbox,
        events,
        ending,
        reader,
    })
}

impl Socket {
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Queues `value` as a text frame.
    pub fn send(&self, value: &Value) -> Result<()> {
        if self.outbox.send_json(value) {
            Ok(())
        } else {
            bail!("the socket is closed ({})", self.describe_ending())
        }
    }

    /// The next forwarded event of type `kind` that `accept` takes, skipping others; an `error`
    /// event, the socket closing or `deadline` passing is an error naming what was awaited.
    pub async fn expect(
        &mut self,
        kind: &str,
        deadline: Instant,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| anyhow!("timed out waiting for `{kind}`"))?;
            let Some(event) = event else {
                bail!(
                    "the socket closed ({}) while waiting for `{kind}`",
                    self.describe_ending()
                );
            };
            if event["type"] == "error" {
                bail!("the server answered `error` while waiting for `{kind}`: {event}");
            }
            if event["type"] == kind && accept(&event) {
                return Ok(event);
            }
        }
    }

    /// How the socket ended, if it has (closed by the server or the connection lost).
    pub fn ending(&self) -> Option<Ending> {
        self.ending.get().cloned()
    }

    fn describe_ending(&self) -> String {
        self.ending()
            .map_or_else(|| "no Close frame yet".to_owned(), |e| e.to_string())
    }
}

impl Drop for Socket {
    /// Closes politely: a Close frame goes out after anything still queued.
    fn drop(&mut self) {
        self.reader.abort();
        let _ = self.outbox.0.send(Message::Close(None));
    }
}

async fn read(
    mut stream: SplitStream<Stream>,
    mut hook: Hook,
    events: mpsc::UnboundedSender<Value>,
    ending: Arc<OnceLock<Ending>>,
) {
    let end = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                let event = serde_json::from_str(&text)
                    .unwrap_or_else(|_| json!({"type": "not_json", "text": text.as_str()}));
                if let Seen::Forward = hook(&event) {
                    let _ = events.send(event);
                }
            }
            Some(Ok(Message::Close(frame))) => break ending_of(frame),
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                break Ending {
                    code: None,
                    reason: format!("connection failed: {err}"),
                };
            }
            None => {
                break Ending {
                    code: None,
                    reason: "connection ended without a Close frame".into(),
                };
            }
        }
    };
    let _ = ending.set(end);
}

fn ending_of(frame: Option<CloseFrame>) -> Ending {
    match frame {
        Some(frame) => Ending {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.to_string(),
        },
        None => Ending {
            code: None,
            reason: "Close frame without a code".into(),
        },
    }
}

async fn write(
    mut sink: SplitSink<Stream, Message>,
    mut outbox: mpsc::UnboundedReceiver<Message>,
    sent: Option<Arc<Tally>>,
) {
    while let Some(message) = outbox.recv().await {
        let closing = message.is_close();
        if sink.send(message).await.is_err() || closing {
            return;
        }
        if let Some(sent) = &sent {
            sent.add(1);
        }
    }
}
