//! Real-time delivery. The [`Hub`] knows which sockets are connected to this node and writes
//! frames into their bounded outbound queues; the [`Bus`] carries [`Event`]s from the use cases
//! in `chat/` to the hub of every node. Sockets never talk to each other directly.

pub mod bus;
pub mod hub;

pub use bus::{Bus, Event};
pub use hub::{Audience, ConnId, Hub, Outbound, Peer, Registration};
