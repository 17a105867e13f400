//! `chat`: customers write to the human agents holding their sessions, at a fixed offered rate.
//!
//! Set-up (not measured): agents register and connect; sessions open, each with a customer
//! socket; every session is handed off (`request_human`) and claimed over the agents' sockets,
//! round-robin. Then a load step sends `{"type":"message","content":"m <session> <seq>",
//! "client_msg_id":…}` on an open-loop schedule — a ticker works out how many messages are due,
//! so a slow server does not slow the offered load down — spread evenly over the sessions. It
//! measures, per message, the time from being queued for sending to reaching its agent, counts
//! acks and losses, and finally checks every history: each message stored exactly once
//! (`ledger` keeps the books).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::api::{Agent, Api, NewSession, concurrently};
use crate::ledger::{Ledger, StorageCheck};
use crate::report::{Latencies, Report, progress, round};
use crate::server::Target;
use crate::ws::{self, EVENT_TIMEOUT, Socket};

/// Sockets opened, or hand-offs made, at once during set-up.
const SETUP_CONCURRENCY: usize = 64;
/// Histories read at once when checking storage.
const VERIFY_CONCURRENCY: usize = 16;
/// How long, after the schedule ends, acks and deliveries are awaited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The scheduler's tick.
const TICK: Duration = Duration::from_millis(1);

/// `chat`'s options.
pub struct ChatOptions {
    pub sessions: usize,
    pub agents: usize,
    pub rate: u32,
    pub seconds: u32,
}

/// Runs `chat`: one set-up, one load step, the storage check.
pub async fn run(target: &Target, api: &Api, options: &ChatOptions) -> Result<Report> {
    let floor = Floor::open(api, options.sessions, options.agents).await?;
    let step = floor.step(options.rate, options.seconds).await;
    let storage = floor.verify_storage(api).await?;
    let mut report = Report::new("chat");
    report
        .field("sessions", options.sessions)
        .field("agents", options.agents)
        .field("seconds", options.seconds);
    step.add_to(&mut report);
    storage.add_to(&mut report);
    report
        .field("server_pid", target.pid())
        .field("server_rss_kib", target.rss_kib()?);
    step.judge(&mut report);
    storage.judge(&mut report);
    Ok(report)
}

/// Everything a load step runs on: agents holding every session, all sockets open.
pub struct Floor {
    agents: Vec<Seat>,
    customers: Vec<Customer>,
    ledger: Arc<Ledger>,
}

/// An agent and its socket.
struct Seat {
    agent: Agent,
    socket: Socket,
}

/// A session and its customer's socket. Session `i` is held by agent `i % agents`.
struct Customer {
    session: NewSession,
    socket: Socket,
}

impl Floor {
    /// Registers and connects `agents` agents, opens `sessions` sessions with a customer socket
    /// each, hands every session off and has the agents claim them round-robin.
    pub async fn open(api: &Api, sessions: usize, agents: usize) -> Result<Self> {
        let ledger = Arc::new(Ledger::new(sessions, agents));
        let started = Instant::now();
        let accounts = api.register_agents(agents).await?;
        let mut seats = concurrently(agents, SETUP_CONCURRENCY, |index| {
            let (agent, ledger) = (accounts[index].clone(), Arc::clone(&ledger));
            async move {
                let hook = ledger.agent_hook(index);
                let mut socket = ws::connect(&api.agent_socket(&agent), None, |_| hook).await?;
                socket.expect("connected", deadline(), |_| true).await?;
                Ok(Seat { agent, socket })
            }
        })
        .await
        .context("connecting the agents")?;
        progress(&format!("{agents} agents connected"), started);

        let started = Instant::now();
        let mut customers = concurrently(sessions, SETUP_CONCURRENCY, |index| {
            let ledger = Arc::clone(&ledger);
            async move {
                let session = api.create_session(index as u64).await?;
                let hook = ledger.customer_hook();
                let written = Some(Arc::clone(&ledger.written));
                let url = api.customer_socket(&session);
                let mut socket = ws::connect(&url, written, |_| hook).await?;
                socket.expect("connected", deadline(), |_| true).await?;
                Ok(Customer { session, socket })
            }
        })
        .await
        .context("opening the sessions")?;
        let ids = customers.iter().map(|c| c.session.session_id.clone());
        ledger.set_session_ids(ids.collect());
        progress(&format!("{sessions} sessions open with sockets"), started);

        let started = Instant::now();
        stream::iter(customers.iter_mut())
            .map(|customer| async move {
                customer.socket.send(&json!({"type": "request_human"}))?;
                customer
                    .socket
                    .expect("handoff_requested", deadline(), |_| true)
                    .await
                    .with_context(|| format!("handing off {}", customer.session.session_id))
            })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        progress(&format!("{sessions} sessions handed off"), started);

        let started = Instant::now();
        let customers_ref = &customers;
        stream::iter(seats.iter_mut().enumerate())
            .map(|(index, seat)| async move {
                for customer in customers_ref.iter().skip(index).step_by(agents) {
                    seat.claim(&customer.session.session_id).await?;
                }
                anyhow::Ok(())
            })
            .buffer_unordered(agents)
            .try_collect::<Vec<_>>()
            .await?;
        progress(&format!("{sessions} sessions claimed"), started);
        Ok(Self {
            agents: seats,
            customers,
            ledger,
        })
    }

    /// Offers `rate` messages a second for `seconds`, then waits (up to [`DRAIN_TIMEOUT`]) for
    /// every message to be written, acknowledged and delivered.
    pub async fn step(&self, rate: u32, seconds: u32) -> StepResult {
        let ledger = &self.ledger;
        let first_seq = ledger.next_seqs();
        let base = ledger.counts();
        let sessions = self.customers.len();
        let total = u64::from(rate) * u64::from(seconds);
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let start = Instant::now();
        let mut issued = 0u64;
        while issued < total {
            ticker.tick().await;
            // Message k is due k/rate seconds after the start.
            let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1;
            while issued < due.min(total) {
                let index = (issued % sessions as u64) as usize;
                let seq = ledger.issue(index);
                let frame = json!({
                    "type": "message",
                    "content": format!("m {index} {seq}"),
                    "client_msg_id": Uuid::new_v4().to_string(),
                });
                // A socket the server closed takes no more; its messages count as lost.
                self.customers[index].socket.outbox().send_json(&frame);
                issued += 1;
            }
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        ledger.written.reach(base.written + issued, deadline).await;
        // On schedule, the last message goes out at the end of the nominal span.
        let send_time = start.elapsed().max(Duration::from_secs(u64::from(seconds)));
        ledger.acked.reach(base.acked + issued, deadline).await;
        ledger
            .received
            .reach(base.received + issued, deadline)
            .await;
        let counts = ledger.counts();
        let (latencies, lost) = ledger.deliveries(&first_seq, &ledger.next_seqs());
        StepResult {
            offered: rate,
            issued,
            written: counts.written - base.written,
            send_time,
            acks: counts.acked - base.acked,
            received: counts.received - base.received,
            lost,
            duplicate_deliveries: counts.duplicates - base.duplicates,
            misrouted: counts.misrouted - base.misrouted,
            customer_errors: counts.customer_errors - base.customer_errors,
            first_customer_error: ledger.first_customer_error(),
            latencies,
            agents_closed: self.agents_closed(),
            customers_closed: self
                .customers
                .iter()
                .filter_map(|c| c.socket.ending())
                .count(),
        }
    }

    /// Agent sockets the server closed, with how.
    fn agents_closed(&self) -> Vec<String> {
        self.agents
            .iter()
            .filter_map(|seat| {
                let ending = seat.socket.ending()?;
                Some(format!("{}: {ending}", seat.agent.username))
            })
            .collect()
    }

    /// Reads every session's stored history (as its agent) and checks each message the run
    /// issued is stored exactly once, and nothing else twice.
    pub async fn verify_storage(&self, api: &Api) -> Result<StorageCheck> {
        let started = Instant::now();
        let agents = self.agents.len();
        let checks = concurrently(self.customers.len(), VERIFY_CONCURRENCY, |index| {
            let customer = &self.customers[index];
            let agent = &self.agents[index % agents].agent;
            async move {
                let history = api.history(&customer.session, agent).await?;
                Ok(self.ledger.check_history(index, &history))
            }
        })
        .await
        .context("reading the stored histories")?;
        progress("histories checked", started);
        Ok(checks
            .into_iter()
            .fold(StorageCheck::default(), StorageCheck::merge))
    }
}

impl Seat {
    /// Claims `session_id` and waits for `session_claimed`.
    async fn claim(&mut self, session_id: &str) -> Result<()> {
        self.socket
            .send(&json!({"type": "claim_session", "session_id": session_id}))?;
        self.socket
            .expect("session_claimed", deadline(), |e| {
                e["session_id"] == session_id
            })
            .await
            .with_context(|| format!("{} claiming {session_id}", self.agent.username))?;
        Ok(())
    }
}

/// What one load step measured.
pub struct StepResult {
    pub offered: u32,
    pub issued: u64,
    pub written: u64,
    /// From the first message due until the last one was written, or the schedule's span when
    /// all were written by then.
    pub send_time: Duration,
    pub acks: u64,
    pub received: u64,
    /// Issued but never delivered to an agent.
    pub lost: u64,
    pub duplicate_deliveries: u64,
    /// Delivered to an agent who does not hold the session, or under another session's id.
    pub misrouted: u64,
    pub customer_errors: u64,
    pub first_customer_error: Option<String>,
    /// From being queued for sending to reaching the agent.
    pub latencies: Latencies,
    pub agents_closed: Vec<String>,
    pub customers_closed: usize,
}

impl StepResult {
    /// Messages written per second.
    pub fn achieved(&self) -> f64 {
        self.written as f64 / self.send_time.as_secs_f64().max(1e-9)
    }

    /// No message lost, duplicated or misrouted, every one acknowledged, every socket open.
    pub fn sound(&self) -> bool {
        self.lost == 0
            && self.duplicate_deliveries == 0
            && self.misrouted == 0
            && self.acks >= self.written
            && self.agents_closed.is_empty()
    }

    fn add_to(&self, report: &mut Report) {
        let l = &self.latencies;
        report
            .field("offered_rate", self.offered)
            .field("issued", self.issued)
            .field("sent", self.written)
            .field("achieved_rate", round(self.achieved(), 1))
            .field("acks", self.acks)
            .field("received_by_agents", self.received)
            .field("lost", self.lost)
            .field("duplicate_deliveries", self.duplicate_deliveries)
            .field("misrouted", self.misrouted)
            .field("latency_p50_ms", l.ms_at(50.0))
            .field("latency_p90_ms", l.ms_at(90.0))
            .field("latency_p99_ms", l.ms_at(99.0))
            .field("latency_p999_ms", l.ms_at(99.9))
            .field("latency_max_ms", l.max_ms())
            .field("customer_errors", self.customer_errors)
            .field("first_customer_error", self.first_customer_error.clone())
            .field("customer_sockets_closed", self.customers_closed)
            .field("agent_sockets_closed", self.agents_closed.clone());
    }

    fn judge(&self, report: &mut Report) {
        report
            .fail_if(self.lost > 0, || {
                format!("{} messages never reached their agent", self.lost)
            })
            .fail_if(self.duplicate_deliveries > 0, || {
                format!(
                    "{} messages reached an agent twice",
                    self.duplicate_deliveries
                )
            })
            .fail_if(self.misrouted > 0, || {
                format!(
                    "{} messages reached the wrong agent or session",
                    self.misrouted
                )
            })
            .fail_if(self.acks < self.written, || {
                format!(
                    "{} of {} messages were not acknowledged",
                    self.written - self.acks,
                    self.written
                )
            })
            .fail_if(!self.agents_closed.is_empty(), || {
                format!(
                    "agent sockets closed by the server: {}",
                    self.agents_closed.join("; ")
                )
            });
    }
}

/// The deadline for one expected event.
fn deadline() -> Instant {
    Instant::now() + EVENT_TIMEOUT
}

/// A step's headline figures as a table row.
pub fn step_row(step: &StepResult, verdict: &str) -> Vec<Value> {
    let l = &step.latencies;
    vec![
        json!(step.offered),
        round(step.achieved(), 1),
        json!(step.acks),
        json!(step.received),
        json!(step.lost),
        l.ms_at(50.0),
        l.ms_at(99.0),
        l.max_ms(),
        json!(verdict),
    ]
}

/// The columns of [`step_row`].
pub const STEP_COLUMNS: &[&str] = &[
    "offered", "achieved", "acks", "received", "lost", "p50_ms", "p99_ms", "max_ms", "result",
];
