//! The event bus: how an event published by a use case reaches the [`Hub`] of every node.
//!
//! - **Local** (SQLite, one node): after the transaction commits, events go to this node's
//!   dispatcher task, which delivers them in publication order.
//! - **PostgreSQL** (any number of nodes): events are sent with `pg_notify` *inside* the
//!   transaction that made the change, so they are delivered if and only if it commits, in commit
//!   order, to every node (each LISTENs, the publisher included). A payload too large for NOTIFY's
//!   8,000 bytes is written to `bus_payloads` in the same transaction and announced by id. A
//!   dropped LISTEN connection is re-established by itself, and the hub then resynchronises its
//!   sockets from the database, so nothing is missed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::{Audience, Hub};
use crate::store::{self, Db, StoreError, Tx};

/// Events waiting for the local dispatcher; publishers wait (briefly) when it falls behind.
const BUS_CAPACITY: usize = 4096;
/// The NOTIFY channel.
const CHANNEL: &str = "switchboard_events";
/// NOTIFY payloads must stay under 8,000 bytes; larger ones travel through `bus_payloads`.
const MAX_NOTIFY_BYTES: usize = 7_500;
/// Delay between attempts to (re)establish the LISTEN connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long large payloads are kept for the nodes to read.
const PAYLOAD_RETENTION: chrono::Duration = chrono::Duration::hours(1);

/// Something connected parties should learn about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Event {
    /// A ready-made frame for an audience; `message_id` when it carries a stored message.
    #[serde(rename = "f")]
    Frame {
        #[serde(rename = "a")]
        audience: Audience,
        #[serde(rename = "f", with = "as_string")]
        frame: Utf8Bytes,
        #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
        message_id: Option<i64>,
    },
    /// The queue changed: agents get `queue_update`, waiting customers their new position.
    #[serde(rename = "q")]
    QueueChanged,
}

mod as_string {
    use axum::extract::ws::Utf8Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(frame: &Utf8Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(frame.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Utf8Bytes, D::Error> {
        String::deserialize(deserializer).map(Utf8Bytes::from)
    }
}

/// What travels over NOTIFY: an event, or the id of a large one in `bus_payloads`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Notice {
    Ref { r: i64 },
    Event(Event),
}

impl Event {
    pub fn frame(audience: Audience, frame: impl Into<Utf8Bytes>) -> Self {
        Self::Frame {
            audience,
            frame: frame.into(),
            message_id: None,
        }
    }

    /// A frame that carries the stored message `message_id`.
    pub fn message(audience: Audience, frame: impl Into<Utf8Bytes>, message_id: i64) -> Self {
        Self::Frame {
            audience,
            frame: frame.into(),
            message_id: Some(message_id),
        }
    }
}

/// Hands events to every node's hub.
#[derive(Clone)]
pub enum Bus {
    Local(mpsc::Sender<Event>),
    Postgres(PgPool),
}

impl Bus {
    /// Starts delivery for `hub` (the local dispatcher, or the LISTEN task) until `shutdown`.
    pub fn start(db: &Db, hub: Arc<Hub>, shutdown: CancellationToken) -> Self {
        match db {
            Db::Sqlite(_) => {
                let (tx, rx) = mpsc::channel::<Event>(BUS_CAPACITY);
                tokio::spawn(dispatch_local(rx, hub, shutdown));
                Self::Local(tx)
            }
            Db::Postgres(pool) => {
                tokio::spawn(listen(pool.clone(), db.clone(), hub, shutdown.clone()));
                tokio::spawn(prune_payloads(db.clone(), shutdown));
                Self::Postgres(pool.clone())
            }
        }
    }

    /// Commits `tx` with its events: delivered if and only if the commit succeeds.
    pub async fn commit(&self, mut tx: Tx, events: Vec<Event>) -> Result<(), StoreError> {
        match self {
            Self::Local(sender) => {
                tx.commit().await?;
                send_local(sender, events).await;
            }
            Self::Postgres(_) => {
                for event in &events {
                    notify_in(&mut tx, event).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Publishes events that report no stored change (typing indicators).
    pub async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        match self {
            Self::Local(sender) => send_local(sender, events).await,
            Self::Postgres(pool) => {
                for event in &events {
                    let payload = serde_json::to_string(event).unwrap_or_default();
                    // Ephemeral events that do not fit are dropped rather than stored.
                    if payload.len() <= MAX_NOTIFY_BYTES {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(CHANNEL)
                            .bind(payload)
                            .execute(pool)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn send_local(sender: &mpsc::Sender<Event>, events: Vec<Event>) {
    for event in events {
        if sender.send(event).await.is_err() {
            // The dispatcher stops only at shutdown; nobody is left to tell.
            return;
        }
    }
}

async fn notify_in(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
    let mut payload = serde_json::to_string(event).unwrap_or_default();
    if payload.len() > MAX_NOTIFY_BYTES {
        let id = store::bus_payloads::insert(tx, &payload, Utc::now()).await?;
        payload = serde_json::to_string(&Notice::Ref { r: id }).unwrap_or_default();
    }
    let Tx::Postgres(tx) = tx else {
        return Ok(());
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn deliver(hub: &Hub, event: Event) {
    match event {
        Event::Frame {
            audience,
            frame,
            message_id,
        } => hub.deliver(&audience, &frame, message_id),
        Event::QueueChanged => hub.queue_changed().await,
    }
}

async fn dispatch_local(mut rx: mpsc::Receiver<Event>, hub: Arc<Hub>, shutdown: CancellationToken) {
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            () = shutdown.cancelled() => None,
        };
        let Some(event) = event else { break };
        deliver(&hub, event).await;
    }
}

/// Decodes one notification, fetching a large payload from the table.
async fn decode(db: &Db, payload: &str) -> Option<Event> {
    match serde_json::from_str::<Notice>(payload) {
        Ok(Notice::Event(event)) => Some(event),
        Ok(Notice::Ref { r }) => match store::bus_payloads::find(db, r).await {
            Ok(Some(stored)) => serde_json::from_str(&stored).ok(),
            Ok(None) => {
                tracing::warn!(payload_id = r, "event payload missing");
                None
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not fetch an event payload");
                None
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, "ignoring a malformed notification");
            None
        }
    }
}

/// LISTENs for events, re-establishing the connection whenever it drops; after each
/// reconnection the hub resynchronises its sockets from the database.
async fn listen(pool: PgPool, db: Db, hub: Arc<Hub>, shutdown: CancellationToken) {
    let mut reconnecting = false;
    while !shutdown.is_cancelled() {
        let mut listener = match connect_listener(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot LISTEN for events; retrying");
                tokio::select! {
                    () = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
        };
        if reconnecting {
            tracing::info!("event connection re-established; resynchronising sockets");
            hub.resync().await;
        }
        reconnecting = true;
        loop {
            let next = tokio::select! {
                next = listener.try_recv() => next,
                () = shutdown.cancelled() => return,
            };
            match next {
                Ok(Some(notification)) => {
                    if let Some(event) = decode(&db, notification.payload()).await {
                        deliver(&hub, event).await;
                    }
                }
                Ok(None) => {
                    tracing::warn!("event connection lost");
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "event connection failed");
                    break;
                }
            }
        }
    }
}

async fn connect_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn prune_payloads(db: Db, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(err) = store::bus_payloads::prune(&db, Utc::now() - PAYLOAD_RETENTION).await {
            tracing::debug!(error = %err, "could not prune event payloads");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn events_round_trip_through_the_wire_format() {
        let events = [
            Event::message(
                Audience::Session {
                    session_id: Uuid::nil(),
                    except: Some(Uuid::nil()),
                },
                r#"{"type":"message"}"#,
                42,
            ),
            Event::frame(
                Audience::Agents {
                    except_admin: Some(3),
                },
                "{}",
            ),
            Event::frame(Audience::Connection { conn: Uuid::nil() }, "{}"),
            Event::QueueChanged,
        ];
        for event in events {
            let wire = serde_json::to_string(&event).unwrap();
            match serde_json::from_str::<Notice>(&wire).unwrap() {
                Notice::Event(back) => assert_eq!(back, event),
                Notice::Ref { .. } => panic!("decoded as a reference: {wire}"),
            }
        }
        assert!(matches!(
            serde_json::from_str::<Notice>(r#"{"r":7}"#).unwrap(),
            Notice::Ref { r: 7 }
        ));
    }
}
