//! One socket's outbound queue: frames wait here, in delivery order, for the socket's writer.
//!
//! Bounded, and it never makes a sender wait: a socket that lets more than its capacity pile up
//! is a slow consumer and is disconnected. Frames that only state the latest value of something
//! (the queue an agent sees, a customer's place in it) replace the one still waiting instead of
//! queueing behind it ("latest wins"), so a burst of queue changes costs a slow socket one frame,
//! never its connection. Nothing is allocated until a frame waits.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::domain::ids::MessageId;
use crate::protocol::{Close, Frame};

/// What a socket's writer sends next.
#[derive(Debug)]
pub enum Outbound {
    /// A frame; `message_id` when it carries a stored message (so a resuming socket can skip
    /// what it was already replayed).
    Text(Frame, Option<MessageId>),
    /// Send this Close frame, then stop.
    Close(Close),
}

/// How a frame is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Each one is sent.
    Each,
    /// Only the newest is sent: it replaces a waiting one of the same kind (and takes its turn
    /// behind what was queued since, so the socket still sees events in delivery order).
    Latest,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The socket has `capacity` frames waiting: it is not reading.
    Full,
}

struct Queued {
    outbound: Outbound,
    kind: Kind,
}

pub struct Outbox {
    capacity: usize,
    queue: Mutex<VecDeque<Queued>>,
    ready: Notify,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Queued>> {
        // Every change below is a single push or remove: a panic cannot leave it half done.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame for the writer.
    pub fn push(
        &self,
        frame: Frame,
        message_id: Option<MessageId>,
        kind: Kind,
    ) -> Result<(), Refused> {
        let mut queue = self.lock();
        if kind == Kind::Latest
            && let Some(stale) = queue.iter().position(|q| q.kind == Kind::Latest)
        {
            queue.remove(stale);
        } else if queue.len() >= self.capacity {
            return Err(Refused::Full);
        }
        queue.push_back(Queued {
            outbound: Outbound::Text(frame, message_id),
            kind,
        });
        drop(queue);
        self.ready.notify_one();
        Ok(())
    }

    /// Queues a Close frame, after what is waiting (beyond the capacity: it is the last one).
    pub fn close(&self, close: Close) {
        self.lock().push_back(Queued {
            outbound: Outbound::Close(close),
            kind: Kind::Each,
        });
        self.ready.notify_one();
    }

    /// The next frame to write, waiting for one. Meant for one reader, the socket's writer.
    pub async fn next(&self) -> Outbound {
        loop {
            if let Some(queued) = self.lock().pop_front() {
                return queued.outbound;
            }
            // `notify_one` leaves a permit when nobody waits, so a push between the check above
            // and this wait is not missed.
            self.ready.notified().await;
        }
    }

    /// Frames waiting (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(outbound: Outbound) -> String {
        match outbound {
            Outbound::Text(frame, _) => frame.as_str().to_owned(),
            Outbound::Close(close) => format!("close {}", close.code),
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_and_the_latest_replaces_its_stale_copy() {
        let outbox = Outbox::new(8);
        outbox.push("queue 1".into(), None, Kind::Latest).unwrap();
        outbox.push("a".into(), None, Kind::Each).unwrap();
        outbox.push("queue 2".into(), None, Kind::Latest).unwrap();
        outbox.push("b".into(), None, Kind::Each).unwrap();
        outbox.push("queue 3".into(), None, Kind::Latest).unwrap();
        assert_eq!(outbox.len(), 3);
        assert_eq!(text(outbox.next().await), "a");
        assert_eq!(text(outbox.next().await), "b");
        assert_eq!(text(outbox.next().await), "queue 3");
    }

    #[tokio::test]
    async fn a_full_outbox_refuses_frames_but_still_takes_latest_values_and_the_close() {
        let outbox = Outbox::new(2);
        outbox.push("a".into(), None, Kind::Each).unwrap();
        outbox.push("b".into(), None, Kind::Each).unwrap();
        assert_eq!(
            outbox.push("c".into(), None, Kind::Each),
            Err(Refused::Full)
        );
        // A latest value replacing a waiting one does not grow the queue.
        outbox
            .push("queue 1".into(), None, Kind::Latest)
            .unwrap_err();
        assert_eq!(text(outbox.next().await), "a");
        outbox.push("queue 1".into(), None, Kind::Latest).unwrap();
        for n in 2..100 {
            outbox
                .push(format!("queue {n}").into(), None, Kind::Latest)
                .unwrap();
        }
        outbox.close(crate::protocol::close::NORMAL);
        assert_eq!(text(outbox.next().await), "b");
        assert_eq!(text(outbox.next().await), "queue 99");
        assert_eq!(text(outbox.next().await), "close 1000");
    }

    #[tokio::test]
    async fn the_reader_wakes_for_a_frame_pushed_while_it_waits() {
        let outbox = std::sync::Arc::new(Outbox::new(4));
        let reader = tokio::spawn({
            let outbox = std::sync::Arc::clone(&outbox);
            async move { text(outbox.next().await) }
        });
        tokio::task::yield_now().await;
        outbox.push("late".into(), None, Kind::Each).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(got, "late");
    }
}
