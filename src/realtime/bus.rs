//! The event bus: how an event published by a use case reaches every node, where the core's
//! [`EventHandler`] delivers it to that node's sockets.
//!
//! - **Local** (SQLite, one node): right after the commit that holds the change (in commit
//!   order, by the writer that commits it), events go to this node's dispatcher task, which
//!   delivers them in that order.
//! - **PostgreSQL** (any number of nodes): events are sent with `pg_notify` *inside* the
//!   transaction that made the change, so they are delivered if and only if it commits, in commit
//!   order, to every node (each LISTENs, the publisher included). A payload too large for NOTIFY's
//!   8,000 bytes is written to `bus_payloads` in the same transaction and announced by id. A
//!   dropped LISTEN connection is re-established by itself, and the handler is then asked to
//!   resynchronise the node's sockets from the database, so nothing is missed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::appends::Appends;
use super::hub::Audience;
use super::queue::QueueChange;
use crate::domain::ids::{MessageId, SessionKey};
use crate::protocol::Frame;
use crate::store::messages::{Inserted, NewMessage};
use crate::store::writer::AfterCommit;
use crate::store::{self, Db, StoreError, Tx, TxConn};

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
        frame: Frame,
        #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
    },
    /// The queue changed: each node's handler updates its copy and tells its agents and
    /// waiting customers.
    #[serde(rename = "q")]
    Queue(QueueChange),
    /// These sessions changed: each node drops the copies of them it keeps.
    #[serde(rename = "s")]
    SessionsChanged {
        #[serde(rename = "s")]
        sessions: Vec<SessionKey>,
    },
}

/// What a node does with the events it receives. The core implements it: it delivers frames to
/// the node's sockets and turns notices (the queue changed) into frames.
pub trait EventHandler: Send + Sync + 'static {
    /// One event, in publication order.
    fn handle(&self, event: Event) -> BoxFuture<'_, ()>;
    /// Events may have been missed (the LISTEN connection dropped and came back).
    fn resync(&self) -> BoxFuture<'_, ()>;
}

mod as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::protocol::Frame;

    pub fn serialize<S: Serializer>(frame: &Frame, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(frame.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Frame, D::Error> {
        String::deserialize(deserializer).map(Frame::from)
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
    pub fn frame(audience: Audience, frame: impl Into<Frame>) -> Self {
        Self::Frame {
            audience,
            frame: frame.into(),
            message_id: None,
        }
    }

    /// A frame that carries the stored message `message_id`.
    pub fn message(audience: Audience, frame: impl Into<Frame>, message_id: MessageId) -> Self {
        Self::Frame {
            audience,
            frame: frame.into(),
            message_id: Some(message_id),
        }
    }
}

/// Carries events to every node.
#[derive(Clone)]
pub enum Bus {
    /// Unbounded, so the writer never waits on delivery: the dispatcher only copies frames into
    /// socket queues, far faster than commits arrive.
    Local(mpsc::UnboundedSender<Event>),
    Postgres {
        pool: PgPool,
        /// Messages, stored in batches (see `appends`).
        appends: Arc<Appends>,
    },
}

impl Bus {
    /// Starts handing received events to `handler` (the local dispatcher, or the LISTEN task)
    /// until `shutdown`.
    pub fn start(db: &Db, handler: Arc<dyn EventHandler>, shutdown: CancellationToken) -> Self {
        match db {
            Db::Sqlite(_) => {
                let (tx, rx) = mpsc::unbounded_channel::<Event>();
                tokio::spawn(dispatch_local(rx, handler, shutdown));
                Self::Local(tx)
            }
            Db::Postgres(pool) => {
                tokio::spawn(listen(pool.clone(), db.clone(), handler, shutdown.clone()));
                tokio::spawn(prune_payloads(db.clone(), shutdown.clone()));
                Self::Postgres {
                    pool: pool.clone(),
                    appends: Appends::start(db.clone(), shutdown),
                }
            }
        }
    }

    /// Commits `tx` with its events: delivered if and only if the commit succeeds. On the
    /// committing node `on_commit` runs first, once the change is visible to reads. Every node
    /// hears of the sessions `tx` changed (other nodes through [`Event::SessionsChanged`]).
    pub async fn commit(
        &self,
        mut tx: Tx,
        mut events: Vec<Event>,
        on_commit: Option<AfterCommit>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Local(sender) => {
                let sender = sender.clone();
                tx.commit_then(Box::new(move || {
                    if let Some(on_commit) = on_commit {
                        on_commit();
                    }
                    send_local(&sender, events);
                }))
                .await?;
            }
            Self::Postgres { .. } => {
                if !tx.changed_sessions().is_empty() {
                    let sessions = tx.changed_sessions().to_vec();
                    events.insert(0, Event::SessionsChanged { sessions });
                }
                notify_all_in(&mut tx, &events).await?;
                tx.commit().await?;
                if let Some(on_commit) = on_commit {
                    on_commit();
                }
            }
        }
        Ok(())
    }

    /// Stores a message and publishes the events `events` makes from what was stored (the
    /// message, or the one stored before with its `client_msg_id`): delivered if and only if it
    /// commits. On SQLite the messages waiting for the writer are stored together (see
    /// `store::writer`).
    pub async fn append(
        &self,
        db: &Db,
        message: &NewMessage<'_>,
        events: impl FnOnce(&Inserted) -> Vec<Event> + Send + 'static,
    ) -> Result<Inserted, StoreError> {
        match (self, db) {
            (Self::Local(sender), Db::Sqlite(sqlite)) => {
                let sender = sender.clone();
                let publish = move |inserted: &Inserted| {
                    let events = events(inserted);
                    Some(Box::new(move || send_local(&sender, events)) as AfterCommit)
                };
                sqlite.append(message.to_append(), Box::new(publish)).await
            }
            (Self::Postgres { appends, .. }, _) => {
                appends.append(message.to_append(), Box::new(events)).await
            }
            (Self::Local(_), Db::Postgres(_)) => unreachable!("the bus is chosen by the database"),
        }
    }

    /// Publishes events that report no stored change (typing indicators).
    pub async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        match self {
            Self::Local(sender) => send_local(sender, events),
            Self::Postgres { pool, .. } => {
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

fn send_local(sender: &mpsc::UnboundedSender<Event>, events: Vec<Event>) {
    for event in events {
        if sender.send(event).is_err() {
            // The dispatcher stops only at shutdown; nobody is left to tell.
            return;
        }
    }
}

/// Sends `events` with `pg_notify` inside `tx`, in order, in one statement; a payload too large
/// for NOTIFY goes to `bus_payloads` first and is announced by id.
pub(super) async fn notify_all_in(tx: &mut Tx, events: &[Event]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut payloads = Vec::with_capacity(events.len());
    for event in events {
        let mut payload = serde_json::to_string(event).unwrap_or_default();
        if payload.len() > MAX_NOTIFY_BYTES {
            let id = store::bus_payloads::insert(tx, &payload, Utc::now()).await?;
            payload = serde_json::to_string(&Notice::Ref { r: id }).unwrap_or_default();
        }
        payloads.push(payload);
    }
    let TxConn::Postgres(tx) = &mut tx.conn else {
        return Ok(());
    };
    // unnest yields the array in order, and each row's pg_notify runs as it is produced.
    sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind(CHANNEL)
        .bind(payloads)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn dispatch_local(
    mut rx: mpsc::UnboundedReceiver<Event>,
    handler: Arc<dyn EventHandler>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            () = shutdown.cancelled() => None,
        };
        let Some(event) = event else { break };
        handler.handle(event).await;
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
/// reconnection the handler resynchronises this node's sockets from the database.
async fn listen(pool: PgPool, db: Db, handler: Arc<dyn EventHandler>, shutdown: CancellationToken) {
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
            handler.resync().await;
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
                        handler.handle(event).await;
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
    use crate::domain::ids::{AgentId, SessionId, SessionKey};
    use crate::domain::language::Lang;
    use crate::realtime::QueueEntry;
    use uuid::Uuid;

    #[test]
    fn events_round_trip_through_the_wire_format() {
        let events = [
            Event::message(
                Audience::Session {
                    session_id: SessionId(Uuid::nil()),
                    except: Some(Uuid::nil()),
                },
                r#"{"type":"message"}"#,
                MessageId(42),
            ),
            Event::frame(
                Audience::Agents {
                    except_admin: Some(AgentId(3)),
                },
                "{}",
            ),
            Event::frame(Audience::Connection { conn: Uuid::nil() }, "{}"),
            Event::Queue(QueueChange::Left {
                session_id: SessionId(Uuid::nil()),
            }),
            Event::Queue(QueueChange::Joined(QueueEntry {
                session_id: SessionId(Uuid::nil()),
                key: SessionKey(7),
                queued_at: Some(Utc::now()),
                client_name: "Ana".into(),
                summary: Some("Wants a refund.".into()),
                language: Lang::Pt,
            })),
            Event::Queue(QueueChange::Summary {
                session_id: SessionId(Uuid::nil()),
                summary: "Better.".into(),
            }),
            Event::SessionsChanged {
                sessions: vec![SessionKey(7), SessionKey(9)],
            },
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
