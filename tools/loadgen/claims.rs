//! `claims`: how fast a crowd of agents empties the queue, and whether claims stay exactly-once.
//! Agents connect first; `sessions` sessions open with customer sockets; then every session is
//! handed off at once (`request_human`) and each agent claims every `new_session_queued` it sees,
//! racing the others (losers get `session_claimed_by_other` or an `error`, and move on).
//! Measures the time from the first hand-off request until every session is claimed, and the
//! frames each agent received; checks each session was won exactly once and that REST agrees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use tokio::time::Instant;

use crate::api::{Agent, Api, concurrently};
use crate::report::{Report, Table, ms, progress, round};
use crate::server::Target;
use crate::tally::Tally;
use crate::ws::{self, EVENT_TIMEOUT, Outbox, Seen, Socket};

/// Sockets opened at once during set-up.
const SETUP_CONCURRENCY: usize = 64;
/// How long the agents have to claim every session.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(60);

/// What the agents' hooks saw.
#[derive(Default)]
struct Board {
    /// Winners per session id (agent indexes), from `session_claimed`.
    winners: Mutex<HashMap<String, Vec<usize>>>,
    /// Sessions claimed at least once.
    claimed: Tally,
    /// `session_claimed_by_other` frames: another agent won (every agent but the winner gets one).
    claimed_by_other: AtomicU64,
    /// `error` frames: this agent's claim came too late.
    claim_errors: AtomicU64,
}

impl Board {
    fn won(&self, session_id: &str, agent: usize) {
        let first = {
            let mut winners = self.winners.lock().unwrap_or_else(|e| e.into_inner());
            let entry = winners.entry(session_id.to_owned()).or_default();
            entry.push(agent);
            entry.len() == 1
        };
        if first {
            self.claimed.add(1);
        }
    }
}

/// An agent, its socket and the number of frames it received.
struct Racer {
    agent: Agent,
    socket: Socket,
    frames: Arc<AtomicU64>,
}

/// The hook of agent `index`: claims every queued session, records wins and losses.
fn racer_hook(index: usize, board: Arc<Board>, frames: Arc<AtomicU64>, outbox: Outbox) -> ws::Hook {
    Box::new(move |event| {
        frames.fetch_add(1, Ordering::Relaxed);
        match event["type"].as_str() {
            Some("new_session_queued") => {
                let claim = json!({"type": "claim_session", "session_id": event["session_id"]});
                outbox.send_json(&claim);
                Seen::Consumed
            }
            Some("session_claimed") => {
                if let Some(id) = event["session_id"].as_str() {
                    board.won(id, index);
                }
                Seen::Consumed
            }
            Some("session_claimed_by_other") => {
                board.claimed_by_other.fetch_add(1, Ordering::Relaxed);
                Seen::Consumed
            }
            Some("error") => {
                board.claim_errors.fetch_add(1, Ordering::Relaxed);
                Seen::Consumed
            }
            Some("connected") => Seen::Forward,
            _ => Seen::Consumed,
        }
    })
}

pub async fn run(target: &Target, api: &Api, sessions: usize, agents: usize) -> Result<Report> {
    let board = Arc::new(Board::default());
    let started = Instant::now();
    let accounts = api.register_agents(agents).await?;
    let racers = concurrently(agents, SETUP_CONCURRENCY, |index| {
        let (agent, board) = (accounts[index].clone(), Arc::clone(&board));
        async move {
            let frames = Arc::new(AtomicU64::new(0));
            let counter = Arc::clone(&frames);
            let url = api.agent_socket(&agent);
            let mut socket = ws::connect(&url, None, |outbox| {
                racer_hook(index, board, counter, outbox)
            })
            .await?;
            socket
                .expect("connected", Instant::now() + EVENT_TIMEOUT, |_| true)
                .await?;
            Ok(Racer {
                agent,
                socket,
                frames,
            })
        }
    })
    .await
    .context("connecting the agents")?;
    progress(&format!("{agents} agents connected"), started);

    let started = Instant::now();
    let handed_off = Arc::new(Tally::default());
    let customers = concurrently(sessions, SETUP_CONCURRENCY, |n| {
        let handed_off = Arc::clone(&handed_off);
        async move {
            let session = api.create_session(n as u64).await?;
            let hook = move |_| -> ws::Hook {
                Box::new(move |event| match event["type"].as_str() {
                    Some("handoff_requested") => {
                        handed_off.add(1);
                        Seen::Consumed
                    }
                    Some("connected") => Seen::Forward,
                    _ => Seen::Consumed,
                })
            };
            let mut socket = ws::connect(&api.customer_socket(&session), None, hook).await?;
            socket
                .expect("connected", Instant::now() + EVENT_TIMEOUT, |_| true)
                .await?;
            Ok((session, socket))
        }
    })
    .await
    .context("opening the sessions")?;
    progress(&format!("{sessions} sessions open with sockets"), started);

    let start = Instant::now();
    for (_, socket) in &customers {
        socket.send(&json!({"type": "request_human"}))?;
    }
    let deadline = start + CLAIM_TIMEOUT;
    let all_handed_off = handed_off.reach(sessions as u64, deadline).await;
    let handoff_time = start.elapsed();
    let all_claimed = board.claimed.reach(sessions as u64, deadline).await;
    let claim_time = start.elapsed();
    progress("hand-offs and claims done", start);

    // Exactly one winner per session, as the agents saw it and as REST tells.
    let winners = board
        .winners
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let claimed_twice = winners.values().filter(|w| w.len() > 1).count();
    let unclaimed = customers
        .iter()
        .filter(|(s, _)| !winners.contains_key(&s.session_id))
        .count();
    let observer = &racers[0].agent;
    let views = concurrently(customers.len(), SETUP_CONCURRENCY, |n| {
        api.session(&customers[n].0.session_id, observer)
    })
    .await?;
    let rest_mismatches = customers
        .iter()
        .zip(&views)
        .filter(|((session, _), view)| {
            let winner = winners
                .get(&session.session_id)
                .and_then(|w| w.first())
                .map(|&index| racers[index].agent.id);
            view.state != "HUMAN" || view.assigned_admin_id != winner
        })
        .count();
    let ours: std::collections::HashSet<&str> = customers
        .iter()
        .map(|(s, _)| s.session_id.as_str())
        .collect();
    let queue = api.queue(observer).await?;
    let still_queued = queue.iter().filter(|id| ours.contains(id.as_str())).count();

    let mut per_agent = Table::new(
        "agents",
        &["agent", "frames", "claimed", "closed_by_server"],
    );
    let mut closed = Vec::new();
    for (index, racer) in racers.iter().enumerate() {
        let won = winners.values().filter(|w| w.contains(&index)).count();
        let ending = racer.socket.ending().map(|e| e.to_string());
        if let Some(ending) = &ending {
            closed.push(format!("{}: {ending}", racer.agent.username));
        }
        per_agent.row(vec![
            json!(racer.agent.username),
            json!(racer.frames.load(Ordering::Relaxed)),
            json!(won),
            json!(ending),
        ]);
    }

    let mut report = Report::new("claims");
    report
        .field("sessions", sessions)
        .field("agents", agents)
        .field("handed_off", handed_off.get())
        .field("handoff_ms", ms(handoff_time))
        .field("claimed", winners.len())
        .field("all_claimed_ms", ms(claim_time))
        .field(
            "claims_per_s",
            round(winners.len() as f64 / claim_time.as_secs_f64(), 1),
        )
        .field("claimed_twice", claimed_twice)
        .field("unclaimed", unclaimed)
        .field(
            "claimed_by_other_frames",
            board.claimed_by_other.load(Ordering::Relaxed),
        )
        .field(
            "late_claim_errors",
            board.claim_errors.load(Ordering::Relaxed),
        )
        .field("rest_mismatches", rest_mismatches)
        .field("still_queued", still_queued)
        .field("server_pid", target.pid())
        .field("server_rss_kib", target.rss_kib()?)
        .table(per_agent)
        .fail_if(!all_handed_off, || {
            format!(
                "only {} of {sessions} hand-offs were confirmed within {CLAIM_TIMEOUT:?}",
                handed_off.get()
            )
        })
        .fail_if(!all_claimed || unclaimed > 0, || {
            format!("{unclaimed} sessions were not claimed within {CLAIM_TIMEOUT:?}")
        })
        .fail_if(claimed_twice > 0, || {
            format!("{claimed_twice} sessions were claimed twice")
        })
        .fail_if(rest_mismatches > 0, || {
            format!("REST disagrees with the claims for {rest_mismatches} sessions")
        })
        .fail_if(still_queued > 0, || {
            format!("{still_queued} sessions are still queued")
        })
        .fail_if(!closed.is_empty(), || {
            format!("agent sockets closed by the server: {}", closed.join("; "))
        });
    Ok(report)
}
