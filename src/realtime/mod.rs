//! Real-time delivery. The [`Hub`] knows which sockets are connected to this node and writes
//! ready frames into their bounded outbound queues; the [`Bus`] carries [`Event`]s from the use
//! cases in `chat/` to every node, where the core's [`EventHandler`] hands them to the hub.
//! Sockets never talk to each other directly; nothing here reads the database for delivery.
//! On PostgreSQL the bus also stores messages in batches with their events (`appends`), since
//! it is the commit that publishes them.

pub mod appends;
pub mod bus;
pub mod hub;
pub mod outbox;
pub mod queue;

pub use bus::{Bus, Event, EventHandler};
pub use hub::{AGENT_OUTBOX, Audience, CLIENT_OUTBOX, ConnId, Hub, Peer, Registration};
pub use outbox::Outbound;
pub use queue::{Effect, Queue, QueueChange, QueueEntry};
