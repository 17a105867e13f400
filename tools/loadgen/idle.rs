//! `idle`: what an open, idle customer socket costs the server. Reads the server's resident
//! memory, opens `sockets` sessions (64 at a time), reads it again, opens one customer socket on
//! each (64 at a time, each waiting for `connected`), lets the server settle, and reads it a
//! third time — with every socket still open and being read (which answers the server's pings).

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::time::Instant;

use crate::api::{Api, concurrently};
use crate::report::{Report, progress, round};
use crate::server::Target;
use crate::ws::{self, EVENT_TIMEOUT, Seen};

/// Sessions created, or sockets opened, at once.
const CONCURRENCY: usize = 64;
/// The measurement pause before the last memory reading: time for the server's allocator and
/// tasks to settle after the burst of handshakes (nothing is awaited; it is a pause).
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(target: &Target, api: &Api, sockets: usize) -> Result<Report> {
    let rss_before = target.rss_kib()?;
    let started = Instant::now();
    let sessions = concurrently(sockets, CONCURRENCY, |n| api.create_session(n as u64))
        .await
        .context("creating the sessions")?;
    progress(&format!("{sockets} sessions created"), started);
    let rss_sessions = target.rss_kib()?;

    let started = Instant::now();
    let open = concurrently(sockets, CONCURRENCY, |n| {
        let url = api.customer_socket(&sessions[n]);
        async move {
            let hook = |_| -> ws::Hook {
                Box::new(|event| match event["type"].as_str() {
                    Some("connected") => Seen::Forward,
                    _ => Seen::Consumed,
                })
            };
            let mut socket = ws::connect(&url, None, hook).await?;
            socket
                .expect("connected", Instant::now() + EVENT_TIMEOUT, |_| true)
                .await?;
            Ok(socket)
        }
    })
    .await
    .with_context(|| format!("opening {sockets} customer sockets"))?;
    let open_time = started.elapsed();
    progress(&format!("{sockets} customer sockets open"), started);
    tokio::time::sleep(SETTLE).await;
    let rss_after = target.rss_kib()?;
    let closed: Vec<String> = open
        .iter()
        .filter_map(|socket| socket.ending().map(|e| e.to_string()))
        .collect();

    // Signed: memory may also shrink.
    let per_socket = |from: u64| round((rss_after as f64 - from as f64) / sockets as f64, 2);
    let mut report = Report::new("idle");
    report
        .field("sockets", sockets)
        .field("open_seconds", round(open_time.as_secs_f64(), 2))
        .field("server_pid", target.pid())
        .field("rss_before_kib", rss_before)
        .field("rss_after_sessions_kib", rss_sessions)
        .field("rss_after_sockets_kib", rss_after)
        .field("kib_per_socket", per_socket(rss_sessions))
        .field("kib_per_session_and_socket", per_socket(rss_before))
        .field("closed_by_server", closed.len())
        .fail_if(!closed.is_empty(), || {
            format!(
                "{} sockets were closed by the server, first: {}",
                closed.len(),
                closed[0]
            )
        });
    Ok(report)
}
