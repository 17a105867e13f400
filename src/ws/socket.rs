//! Drives one WebSocket: a writer task drains the socket's bounded outbound queue, and the
//! reader loop hands each text frame to a handler. Both stop when the socket closes, when the
//! hub kicks it (slow consumer), or at shutdown, when a Close frame (1001) is sent first.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{FrameError, close};
use crate::realtime::{Outbound, Peer};

/// How often an idle socket is pinged, so dead connections are noticed.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long a Close frame may take to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends a Close frame on a socket that has not been split, then drops it.
pub async fn close_now(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(frame)).await;
}

/// The frames a socket starts with: its `connected` event and any replayed messages, sent
/// before anything from its queue. Queued frames carrying a replayed message are skipped, so a
/// resumed socket sees each message exactly once.
#[derive(Default)]
pub struct Opening {
    pub frames: Vec<Utf8Bytes>,
    pub replayed: HashSet<i64>,
}

/// Runs the socket until it ends. `on_frame` handles each text frame, or the error for a frame
/// the socket cannot take (binary).
pub async fn drive<H, F>(
    socket: WebSocket,
    peer: Peer,
    outbound: mpsc::Receiver<Outbound>,
    opening: Opening,
    shutdown: CancellationToken,
    mut on_frame: H,
) where
    H: FnMut(Result<String, FrameError>) -> F,
    F: Future<Output = ()>,
{
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write(
        sink,
        outbound,
        opening,
        peer.kicked.clone(),
        shutdown.clone(),
    ));
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = peer.kicked.cancelled() => break,
            () = shutdown.cancelled() => break,
        };
        match next {
            Some(Ok(Message::Text(text))) => on_frame(Ok(text.to_string())).await,
            Some(Ok(Message::Binary(_))) => {
                let refused =
                    FrameError::bad_request("Binary frames are not supported; send JSON text");
                on_frame(Err(refused)).await;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(err)) => {
                if is_too_big(&err) {
                    peer.close(close::TOO_BIG, "frame larger than 64 KiB");
                } else {
                    tracing::debug!(error = %err, "socket read failed");
                    peer.kicked.cancel();
                }
                break;
            }
        }
    }
    // Let the writer send what is queued (a last error, the Close frame), unless it is stuck on
    // a peer that stopped reading: then the connection is simply dropped.
    if !shutdown.is_cancelled() && !peer.kicked.is_cancelled() {
        peer.close(1000, "");
    }
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_TIMEOUT * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

fn is_too_big(err: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(tungstenite::Error::Capacity(_)) = cause.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Outbound>,
    opening: Opening,
    kicked: CancellationToken,
    shutdown: CancellationToken,
) {
    for frame in opening.frames {
        if sink.send(Message::Text(frame)).await.is_err() {
            kicked.cancel();
            return;
        }
    }
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let close_with = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => close_with(close::GOING_AWAY, "server shutting down"),
            () = kicked.cancelled() => close_with(close::POLICY, "too slow: outbound queue full"),
            next = outbound.recv() => match next {
                Some(Outbound::Text(_, Some(id))) if opening.replayed.contains(&id) => continue,
                Some(Outbound::Text(text, _)) => Message::Text(text),
                Some(Outbound::Close(code, reason)) => close_with(code, reason),
                None => break,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        let closing = matches!(message, Message::Close(_));
        let sent = if closing {
            tokio::time::timeout(CLOSE_TIMEOUT, sink.send(message))
                .await
                .unwrap_or(Ok(()))
        } else {
            tokio::select! {
                sent = sink.send(message) => sent,
                // Stuck writing to a peer that does not read, and now kicked: give up.
                () = kicked.cancelled() => break,
            }
        };
        if closing || sent.is_err() {
            break;
        }
    }
    // The reader stops too.
    kicked.cancel();
}
