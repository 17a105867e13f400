//! The ledger of a `chat` or `ramp` run: every message issued, per session — when it was queued
//! for sending and when (if ever) its agent received it — with the counters the sockets' hooks
//! bump (written, acked, delivered, duplicated, misrouted), and the check of the stored
//! histories against it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::api::StoredMessage;
use crate::report::{Latencies, Report};
use crate::tally::Tally;
use crate::ws::{Hook, Seen};

/// What the stored histories hold, against what was issued.
#[derive(Debug, Default, Clone)]
pub struct StorageCheck {
    pub stored: u64,
    /// Issued messages not stored.
    pub missing: u64,
    /// Extra copies: of an issued message, of any other content, or of a message id.
    pub duplicates: u64,
}

impl StorageCheck {
    pub fn merge(self, other: Self) -> Self {
        Self {
            stored: self.stored + other.stored,
            missing: self.missing + other.missing,
            duplicates: self.duplicates + other.duplicates,
        }
    }

    pub fn add_to(&self, report: &mut Report) {
        report
            .field("stored", self.stored)
            .field("stored_missing", self.missing)
            .field("stored_duplicates", self.duplicates);
    }

    pub fn judge(&self, report: &mut Report) {
        report
            .fail_if(self.missing > 0, || {
                format!(
                    "{} sent messages are missing from the histories",
                    self.missing
                )
            })
            .fail_if(self.duplicates > 0, || {
                format!("{} messages are stored more than once", self.duplicates)
            });
    }
}

/// Every message issued, per session: when it was queued and when (if ever) its agent got it.
/// Shared by the scheduler and every socket's hook.
pub struct Ledger {
    epoch: Instant,
    agents: usize,
    logs: Vec<Mutex<SessionLog>>,
    /// The session ids, in index order, once they are all open.
    session_ids: OnceLock<Vec<String>>,
    /// Text frames the customers' sockets wrote.
    pub written: Arc<Tally>,
    /// `ack` frames the customers got.
    pub acked: Tally,
    /// Messages delivered to their agent (first copies only).
    pub received: Tally,
    duplicates: AtomicU64,
    misrouted: AtomicU64,
    customer_errors: AtomicU64,
    first_customer_error: OnceLock<String>,
}

/// Times in nanoseconds since the ledger's epoch; `received[seq]` is [`NOT_YET`] until the
/// agent gets message `seq`.
#[derive(Default)]
struct SessionLog {
    sent: Vec<u64>,
    received: Vec<u64>,
}

const NOT_YET: u64 = u64::MAX;

/// The ledger's counters at one moment.
pub struct Counts {
    pub written: u64,
    pub acked: u64,
    pub received: u64,
    pub duplicates: u64,
    pub misrouted: u64,
    pub customer_errors: u64,
}

impl Ledger {
    pub fn new(sessions: usize, agents: usize) -> Self {
        Self {
            epoch: Instant::now(),
            agents,
            logs: (0..sessions).map(|_| Mutex::default()).collect(),
            session_ids: OnceLock::new(),
            written: Arc::default(),
            acked: Tally::default(),
            received: Tally::default(),
            duplicates: AtomicU64::new(0),
            misrouted: AtomicU64::new(0),
            customer_errors: AtomicU64::new(0),
            first_customer_error: OnceLock::new(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn log(&self, session: usize) -> MutexGuard<'_, SessionLog> {
        // A poisoned lock only means a hook panicked; the data is still counts and times.
        self.logs[session].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Names the sessions, in index order, once all are open (deliveries are checked against
    /// them).
    pub fn set_session_ids(&self, ids: Vec<String>) {
        let _ = self.session_ids.set(ids);
    }

    /// Records that session `session`'s next message is queued now; returns its seq.
    pub fn issue(&self, session: usize) -> usize {
        let now = self.now();
        let mut log = self.log(session);
        log.sent.push(now);
        log.received.push(NOT_YET);
        log.sent.len() - 1
    }

    /// Agent `agent` got `event`, a customer's message.
    fn deliver(&self, agent: usize, event: &Value) {
        let Some((session, seq)) = event["content"].as_str().and_then(parse_content) else {
            self.misrouted.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let right_session = self
            .session_ids
            .get()
            .and_then(|ids| ids.get(session))
            .is_some_and(|id| event["session_id"] == id.as_str());
        if !right_session || session % self.agents != agent {
            self.misrouted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = self.now();
        let first = {
            let mut log = self.log(session);
            match log.received.get_mut(seq) {
                Some(received) if *received == NOT_YET => {
                    *received = now;
                    true
                }
                _ => false,
            }
        };
        if first {
            self.received.add(1);
        } else {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The hook of agent `agent`'s socket: times customers' messages; forwards what set-up awaits.
    pub fn agent_hook(self: &Arc<Self>, agent: usize) -> Hook {
        let ledger = Arc::clone(self);
        Box::new(move |event| match event["type"].as_str() {
            Some("message") if event["sender_type"] == "CLIENT" => {
                ledger.deliver(agent, event);
                Seen::Consumed
            }
            Some("connected" | "session_claimed" | "error") => Seen::Forward,
            _ => Seen::Consumed,
        })
    }

    /// The hook of a customer's socket: counts acks and errors; forwards what set-up awaits.
    pub fn customer_hook(self: &Arc<Self>) -> Hook {
        let ledger = Arc::clone(self);
        Box::new(move |event| match event["type"].as_str() {
            Some("ack") => {
                ledger.acked.add(1);
                Seen::Consumed
            }
            Some("error") => {
                ledger.customer_errors.fetch_add(1, Ordering::Relaxed);
                let _ = ledger.first_customer_error.set(event.to_string());
                Seen::Forward
            }
            Some("connected" | "handoff_requested") => Seen::Forward,
            _ => Seen::Consumed,
        })
    }

    pub fn first_customer_error(&self) -> Option<String> {
        self.first_customer_error.get().cloned()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            written: self.written.get(),
            acked: self.acked.get(),
            received: self.received.get(),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            misrouted: self.misrouted.load(Ordering::Relaxed),
            customer_errors: self.customer_errors.load(Ordering::Relaxed),
        }
    }

    /// Each session's next seq.
    pub fn next_seqs(&self) -> Vec<usize> {
        (0..self.logs.len())
            .map(|s| self.log(s).sent.len())
            .collect()
    }

    /// Latencies of the messages with seqs in `from[s]..to[s]`, and how many were not delivered.
    pub fn deliveries(&self, from: &[usize], to: &[usize]) -> (Latencies, u64) {
        let mut samples = Vec::new();
        let mut lost = 0;
        for (session, range) in from.iter().zip(to).enumerate() {
            let log = self.log(session);
            for seq in *range.0..*range.1 {
                match log.received[seq] {
                    NOT_YET => lost += 1,
                    at => samples.push(Duration::from_nanos(at.saturating_sub(log.sent[seq]))),
                }
            }
        }
        (Latencies::new(samples), lost)
    }

    /// Compares session `session`'s stored history with what was issued.
    pub fn check_history(&self, session: usize, history: &[StoredMessage]) -> StorageCheck {
        let issued = self.log(session).sent.len();
        let mut copies = vec![0u32; issued];
        let mut others = HashMap::<&str, u32>::new();
        let mut ids = HashSet::new();
        let mut check = StorageCheck::default();
        for message in history {
            if !ids.insert(message.id) {
                check.duplicates += 1;
                continue;
            }
            match parse_content(&message.content) {
                Some((s, seq))
                    if s == session && seq < issued && message.sender_type == "CLIENT" =>
                {
                    copies[seq] += 1;
                    check.stored += 1;
                }
                _ => *others.entry(message.content.as_str()).or_default() += 1,
            }
        }
        check.missing = copies.iter().filter(|&&n| n == 0).count() as u64;
        check.duplicates += copies
            .iter()
            .chain(others.values())
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum::<u64>();
        check
    }
}

/// `"m <session> <seq>"` → `(session, seq)`.
fn parse_content(content: &str) -> Option<(usize, usize)> {
    let (session, seq) = content.strip_prefix("m ")?.split_once(' ')?;
    Some((session.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, content: &str) -> StoredMessage {
        StoredMessage {
            id,
            sender_type: "CLIENT".into(),
            content: content.into(),
        }
    }

    #[test]
    fn contents_parse() {
        assert_eq!(parse_content("m 12 7"), Some((12, 7)));
        assert_eq!(parse_content("m 12"), None);
        assert_eq!(parse_content("hello"), None);
    }

    #[test]
    fn histories_are_checked_for_missing_and_duplicate_messages() {
        let ledger = Ledger::new(2, 1);
        for _ in 0..3 {
            ledger.issue(1);
        }
        let history = [
            StoredMessage {
                id: 1,
                sender_type: "AI".into(),
                content: "handed off".into(),
            },
            stored(2, "m 1 0"),
            stored(3, "m 1 2"),
            stored(4, "m 1 2"),
            stored(4, "m 1 2"),
        ];
        let check = ledger.check_history(1, &history);
        assert_eq!(check.stored, 3);
        assert_eq!(check.missing, 1, "seq 1");
        assert_eq!(check.duplicates, 2, "seq 2 twice, and id 4 twice");
    }
}
