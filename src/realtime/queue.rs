//! The human queue as each node knows it, kept up to date from the bus.
//!
//! Every change to the queue is published with the transaction that made it, as a
//! [`QueueChange`] (a session joined or left, or its summary changed), so each node can keep its
//! own copy in commit order and tell its sockets what moved without reading the database: who
//! is waiting, in which order, and from which place on positions changed. A node loads the
//! queue from the database when it starts and again after it may have missed events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{SessionId, SessionKey};
use crate::domain::language::Lang;

/// One waiting session, as agents and the waiting customer are told of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    #[serde(rename = "s")]
    pub session_id: SessionId,
    /// The row key: the tie-break between equal hand-off times, as in the database's order.
    /// (Not `k`: the bus's event tag shares this object.)
    #[serde(rename = "i")]
    pub key: SessionKey,
    #[serde(rename = "t")]
    pub queued_at: Option<DateTime<Utc>>,
    #[serde(rename = "n")]
    pub client_name: String,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(rename = "l")]
    pub language: Lang,
}

impl QueueEntry {
    /// Its place in line: the database orders the queue by `queued_at, id`.
    fn order(&self) -> (Option<DateTime<Utc>>, SessionKey) {
        (self.queued_at, self.key)
    }
}

/// How the queue changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "c")]
pub enum QueueChange {
    /// A session joined the queue, or came back to its place in it.
    #[serde(rename = "j")]
    Joined(QueueEntry),
    /// A session left it (claimed or closed); nothing happens if it was not there.
    #[serde(rename = "l")]
    Left {
        #[serde(rename = "s")]
        session_id: SessionId,
    },
    /// A waiting session has a better summary.
    #[serde(rename = "m")]
    Summary {
        #[serde(rename = "s")]
        session_id: SessionId,
        #[serde(rename = "m")]
        summary: String,
    },
}

/// What a change did to the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: the session was not there, or the change was already applied.
    None,
    /// The list changed, and every session from this index on has a new place in line
    /// (the length of the queue: only a detail changed, nobody moved).
    MovedFrom(usize),
}

/// The waiting sessions, oldest hand-off first.
#[derive(Debug, Default)]
pub struct Queue {
    entries: Vec<QueueEntry>,
}

impl Queue {
    /// The queue as read from the database (in any order).
    pub fn new(mut entries: Vec<QueueEntry>) -> Self {
        entries.sort_by_key(QueueEntry::order);
        Self { entries }
    }

    pub fn entries(&self) -> &[QueueEntry] {
        &self.entries
    }

    fn index_of(&self, session_id: SessionId) -> Option<usize> {
        self.entries.iter().position(|e| e.session_id == session_id)
    }

    /// Applies one change. Changes are idempotent (a join of a session already in place, a
    /// leave of one not there), so replaying events the database already reflected is safe.
    pub fn apply(&mut self, change: QueueChange) -> Effect {
        match change {
            QueueChange::Joined(entry) => {
                if self.entries.contains(&entry) {
                    return Effect::None;
                }
                let was = self.index_of(entry.session_id);
                if let Some(was) = was {
                    self.entries.remove(was);
                }
                let at = self.entries.partition_point(|e| e.order() < entry.order());
                let moved = match was {
                    // Same place, new details (a name or a summary): nobody moved.
                    Some(was) if was == at => self.entries.len() + 1,
                    Some(was) => was.min(at),
                    None => at,
                };
                self.entries.insert(at, entry);
                Effect::MovedFrom(moved)
            }
            QueueChange::Left { session_id } => match self.index_of(session_id) {
                Some(at) => {
                    self.entries.remove(at);
                    Effect::MovedFrom(at)
                }
                None => Effect::None,
            },
            QueueChange::Summary {
                session_id,
                summary,
            } => match self.index_of(session_id) {
                Some(at) if self.entries[at].summary.as_ref() != Some(&summary) => {
                    self.entries[at].summary = Some(summary);
                    Effect::MovedFrom(self.entries.len())
                }
                _ => Effect::None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn entry(n: u128, at_second: i64) -> QueueEntry {
        QueueEntry {
            session_id: SessionId(Uuid::from_u128(n)),
            key: SessionKey(n as i64),
            queued_at: DateTime::from_timestamp(at_second, 0),
            client_name: format!("customer {n}"),
            summary: None,
            language: Lang::En,
        }
    }

    fn order(queue: &Queue) -> Vec<i64> {
        queue.entries().iter().map(|e| e.key.0).collect()
    }

    #[test]
    fn sessions_wait_in_hand_off_order_and_moves_are_reported_from_where_they_start() {
        let mut queue = Queue::new(vec![entry(3, 30), entry(1, 10)]);
        assert_eq!(order(&queue), [1, 3]);
        assert_eq!(
            queue.apply(QueueChange::Joined(entry(4, 40))),
            Effect::MovedFrom(2)
        );
        // Released back to its earlier place in line: everyone from there on moves down.
        assert_eq!(
            queue.apply(QueueChange::Joined(entry(2, 20))),
            Effect::MovedFrom(1)
        );
        assert_eq!(order(&queue), [1, 2, 3, 4]);
        // The same time: the row key decides, as in the database.
        assert_eq!(
            queue.apply(QueueChange::Joined(entry(5, 20))),
            Effect::MovedFrom(2)
        );
        assert_eq!(order(&queue), [1, 2, 5, 3, 4]);
        let left = QueueChange::Left {
            session_id: entry(2, 0).session_id,
        };
        assert_eq!(queue.apply(left.clone()), Effect::MovedFrom(1));
        assert_eq!(order(&queue), [1, 5, 3, 4]);
    }

    #[test]
    fn replayed_changes_do_nothing_and_details_move_nobody() {
        let mut queue = Queue::new(vec![entry(1, 10), entry(2, 20)]);
        assert_eq!(queue.apply(QueueChange::Joined(entry(2, 20))), Effect::None);
        let gone = QueueChange::Left {
            session_id: entry(9, 0).session_id,
        };
        assert_eq!(queue.apply(gone), Effect::None);
        let summary = QueueChange::Summary {
            session_id: entry(1, 0).session_id,
            summary: "Wants a refund.".into(),
        };
        assert_eq!(queue.apply(summary.clone()), Effect::MovedFrom(2));
        assert_eq!(queue.apply(summary), Effect::None);
        assert_eq!(
            queue.entries()[0].summary.as_deref(),
            Some("Wants a refund.")
        );
        let mut renamed = entry(2, 20);
        renamed.client_name = "Ana".into();
        assert_eq!(
            queue.apply(QueueChange::Joined(renamed)),
            Effect::MovedFrom(2)
        );
        assert_eq!(order(&queue), [1, 2]);
    }
}
