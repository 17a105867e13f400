//! Drives one WebSocket: a writer task drains the socket's bounded outbound queue, and the
//! reader loop hands each text frame to a handler. Both stop when the socket closes, when the
//! hub kicks it (slow consumer), or at shutdown, when a Close frame (1001) is sent first.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::chat::Opening;
use crate::domain::ids::MessageId;
use crate::protocol::{Close, FrameError, close};
use crate::realtime::{Outbound, Peer};

/// How often an idle socket is pinged, so dead connections are noticed.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long a Close frame may take to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

fn close_message(close: Close) -> Message {
    Message::Close(Some(CloseFrame {
        code: close.code,
        reason: close.reason.into(),
    }))
}

/// A socket, boxed: its 368 bytes move between the functions that drive it as a pointer instead
/// of being copied into each one's future (they would be, once per level, for every idle socket).
pub type Socket = Box<WebSocket>;

/// Sends a Close frame on a socket that has not been split, then drops it.
pub async fn close_now(mut socket: Socket, close: Close) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close_message(close))).await;
}

/// Opens a socket and runs it until it ends. `connect` joins the socket's peer (whose outbox
/// holds up to `capacity` frames) to the hub and reads its opening, or names the Close frame
/// that refuses it; `on_frame` handles each text frame the socket receives, or the error for a
/// frame it cannot take (binary).
pub async fn serve<C, CF, H, HF>(
    socket: Socket,
    capacity: usize,
    shutdown: CancellationToken,
    connect: C,
    mut on_frame: H,
) where
    C: FnOnce(Peer) -> CF,
    CF: Future<Output = Result<Opening, Close>>,
    H: FnMut(Peer, Result<String, FrameError>) -> HF,
    HF: Future<Output = ()>,
{
    let peer = Peer::new(capacity);
    // Boxed, like each frame's handling below: an idle socket's task then holds pointers, not
    // the space of the largest use case it might run (about 14 KB when inlined).
    let opening = match Box::pin(connect(peer.clone())).await {
        Ok(opening) => opening,
        Err(refused) => return close_now(socket, refused).await,
    };
    tracing::debug!("socket open");
    let on_frame = |frame| on_frame(peer.clone(), frame);
    drive(socket, peer.clone(), opening, shutdown, on_frame).await;
    tracing::debug!("socket closed");
}

/// Runs the socket until it ends: first the `opening` frames, then whatever is queued for it
/// (skipping queued frames that carry a message the opening replayed, so a resumed socket sees
/// each message exactly once).
async fn drive<H, F>(
    socket: Socket,
    peer: Peer,
    opening: Opening,
    shutdown: CancellationToken,
    mut on_frame: H,
) where
    H: FnMut(Result<String, FrameError>) -> F,
    F: Future<Output = ()>,
{
    let Opening {
        frames,
        replayed,
        registration,
    } = opening;
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write(
        sink,
        peer.clone(),
        (frames, replayed),
        shutdown.clone(),
    ));
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = peer.kicked.cancelled() => break,
            () = shutdown.cancelled() => break,
        };
        match next {
            Some(Ok(Message::Text(text))) => Box::pin(on_frame(Ok(text.to_string()))).await,
            Some(Ok(Message::Binary(_))) => {
                let refused =
                    FrameError::bad_request("Binary frames are not supported; send JSON text");
                Box::pin(on_frame(Err(refused))).await;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(err)) => {
                match read_failure(&err) {
                    Some(refusal) => peer.close(refusal),
                    None => {
                        tracing::debug!(error = %err, "socket read failed");
                        peer.close(close::PROTOCOL_ERROR);
                    }
                }
                break;
            }
        }
    }
    // Let the writer send what is queued (a last error, the Close frame), unless it is stuck on
    // a peer that stopped reading: then the connection is simply dropped.
    if !shutdown.is_cancelled() && !peer.kicked.is_cancelled() {
        peer.close(close::NORMAL);
    }
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_TIMEOUT * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    drop(registration);
}

/// The Close frame for a frame the socket refused to read: too big (1009) or not UTF-8 text
/// (1007). `None` for other failures (the connection broke, or the peer broke the protocol).
fn read_failure(err: &axum::Error) -> Option<Close> {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(cause) = source {
        match cause.downcast_ref::<tungstenite::Error>() {
            Some(tungstenite::Error::Capacity(_)) => return Some(close::TOO_BIG),
            Some(tungstenite::Error::Utf8(_)) => return Some(close::INVALID_TEXT),
            _ => {}
        }
        source = cause.source();
    }
    None
}

async fn write(
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    peer: Peer,
    (opening, replayed): (Vec<Utf8Bytes>, HashSet<MessageId>),
    shutdown: CancellationToken,
) {
    let kicked = &peer.kicked;
    for frame in opening {
        if sink.send(Message::Text(frame)).await.is_err() {
            kicked.cancel();
            return;
        }
    }
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => close_message(close::GOING_AWAY),
            () = kicked.cancelled() => close_message(close::SLOW_CONSUMER),
            next = peer.outbox().next() => match next {
                Outbound::Text(_, Some(id)) if replayed.contains(&id) => continue,
                Outbound::Text(text, _) => Message::Text(text),
                Outbound::Close(close) => close_message(close),
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
