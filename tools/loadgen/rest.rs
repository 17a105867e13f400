//! `rest`: closed-loop HTTP throughput. `concurrency` workers each send one request after
//! another for `seconds`, over one keep-alive connection pool: first `POST /api/sessions`, then
//! `GET /api/sessions/{id}/messages` of one session holding 50 messages. Measures requests per
//! second and the latency of each request (sent until the whole body is read).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use crate::api::{Api, client_info};
use crate::report::{Latencies, Report, Table, progress, round};
use crate::server::Target;
use crate::tally::Tally;
use crate::ws::{self, EVENT_TIMEOUT, Seen};

/// Messages in the history that the second phase reads.
const HISTORY_MESSAGES: u64 = 50;
/// Failed responses kept to show.
const SAMPLES: usize = 3;

/// Runs both phases with `concurrency` workers for `seconds` each.
pub async fn run(target: &Target, api: &Api, concurrency: usize, seconds: u32) -> Result<Report> {
    let duration = Duration::from_secs(u64::from(seconds));
    let started = Instant::now();
    let (http, url) = (api.http().clone(), api.url("/api/sessions"));
    let customers = AtomicU64::new(0);
    let create = hammer(concurrency, duration, move || {
        // Each session gets its own customer details, as real ones would.
        let n = customers.fetch_add(1, Ordering::Relaxed);
        Some(http.post(&url).json(&client_info(n)))
    })
    .await?;
    progress("POST /api/sessions phase done", started);

    let request = history_fixture(api).await?;
    let started = Instant::now();
    let history = hammer(concurrency, duration, move || request.try_clone()).await?;
    progress("GET …/messages phase done", started);

    let mut table = Table::new(
        "phases",
        &[
            "phase",
            "requests",
            "req_per_s",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "non_2xx",
            "errors",
        ],
    );
    let mut report = Report::new("rest");
    for (name, phase) in [
        ("POST /api/sessions", &create),
        ("GET /api/sessions/{id}/messages (50)", &history),
    ] {
        table.row(phase.row(name));
        report.fail_if(phase.non_2xx + phase.errors > 0, || {
            format!(
                "{name}: {} non-2xx answers and {} failed requests; first: {}",
                phase.non_2xx,
                phase.errors,
                phase.samples.join(" | ")
            )
        });
    }
    report
        .field("concurrency", concurrency)
        .field("seconds", seconds)
        .field("server_pid", target.pid())
        .field("server_rss_kib", target.rss_kib()?)
        .table(table);
    Ok(report)
}

/// One session with [`HISTORY_MESSAGES`] customer messages stored (an agent holds it, so no
/// assistant replies add to it); returns the request that reads its history.
async fn history_fixture(api: &Api) -> Result<RequestBuilder> {
    let agent = api.first_agent().await?.clone();
    let session = api.create_session(u64::MAX / 2).await?;
    api.claim(&session.session_id, &agent).await?;
    let acks = Arc::new(Tally::default());
    let hook_acks = Arc::clone(&acks);
    let url = api.customer_socket(&session);
    let mut socket = ws::connect(&url, None, move |_| {
        Box::new(move |event| match event["type"].as_str() {
            Some("ack") => {
                hook_acks.add(1);
                Seen::Consumed
            }
            Some("connected" | "error") => Seen::Forward,
            _ => Seen::Consumed,
        })
    })
    .await?;
    socket
        .expect("connected", Instant::now() + EVENT_TIMEOUT, |_| true)
        .await?;
    for seq in 0..HISTORY_MESSAGES {
        socket.send(&json!({
            "type": "message",
            "content": format!("history message {seq}"),
            "client_msg_id": Uuid::new_v4().to_string(),
        }))?;
    }
    let acked = acks
        .reach(HISTORY_MESSAGES, Instant::now() + EVENT_TIMEOUT)
        .await;
    ensure!(
        acked,
        "only {} of {HISTORY_MESSAGES} history messages were acknowledged",
        acks.get()
    );
    let history = api.history(&session, &agent).await?;
    ensure!(
        history.len() as u64 == HISTORY_MESSAGES,
        "the history holds {} messages, not {HISTORY_MESSAGES}",
        history.len()
    );
    Ok(api.history_request(&session))
}

/// What one phase measured.
struct Phase {
    requests: u64,
    elapsed: Duration,
    latencies: Latencies,
    non_2xx: u64,
    errors: u64,
    /// The first few failures: status and body, or the error.
    samples: Vec<String>,
}

impl Phase {
    fn row(&self, name: &str) -> Vec<Value> {
        let l = &self.latencies;
        vec![
            json!(name),
            json!(self.requests),
            round(self.requests as f64 / self.elapsed.as_secs_f64(), 1),
            l.ms_at(50.0),
            l.ms_at(99.0),
            l.max_ms(),
            json!(self.non_2xx),
            json!(self.errors),
        ]
    }
}

/// What one worker saw.
#[derive(Default)]
struct WorkerLog {
    latencies: Vec<Duration>,
    non_2xx: u64,
    errors: u64,
    samples: Vec<String>,
}

/// `concurrency` workers send `next()`'s request, one after another, for `duration`.
async fn hammer<F>(concurrency: usize, duration: Duration, next: F) -> Result<Phase>
where
    F: Fn() -> Option<RequestBuilder> + Send + Sync + 'static,
{
    let next = Arc::new(next);
    let start = Instant::now();
    let end = start + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut log = WorkerLog::default();
                while Instant::now() < end {
                    let request =
                        next().context("a request with a streamed body cannot be repeated")?;
                    let sent = Instant::now();
                    let outcome = match request.send().await {
                        Ok(response) => {
                            let status = response.status();
                            response.bytes().await.map(|body| (status, body))
                        }
                        Err(err) => Err(err),
                    };
                    log.latencies.push(sent.elapsed());
                    let failure = match outcome {
                        Ok((status, _)) if status.is_success() => continue,
                        Ok((status, body)) => {
                            log.non_2xx += 1;
                            format!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                        }
                        Err(err) => {
                            log.errors += 1;
                            err.to_string()
                        }
                    };
                    if log.samples.len() < SAMPLES {
                        log.samples.push(failure);
                    }
                }
                anyhow::Ok(log)
            })
        })
        .collect();
    let mut total = WorkerLog::default();
    for worker in workers {
        let log = worker.await.context("a worker panicked")??;
        total.latencies.extend(log.latencies);
        total.non_2xx += log.non_2xx;
        total.errors += log.errors;
        total.samples.extend(log.samples);
    }
    total.samples.truncate(SAMPLES);
    Ok(Phase {
        requests: total.latencies.len() as u64,
        elapsed: start.elapsed(),
        latencies: Latencies::new(total.latencies),
        non_2xx: total.non_2xx,
        errors: total.errors,
        samples: total.samples,
    })
}
