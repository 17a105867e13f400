//! `ramp`: the highest message rate the server sustains. One `chat` set-up, then load steps at
//! `start`, `start + step`, … up to `max` messages a second. A step passes when the achieved send
//! rate is at least 95 % of the offered rate, the delivery p99 is within `p99_ms`, and nothing
//! was lost, duplicated or disconnected; the ramp stops at the first step that fails. The stored
//! histories are checked at the end.
//!
//! Missing the rate or the p99 only ends the ramp (that is the measurement); a lost, duplicated
//! or misrouted message, a missing ack or a disconnected agent also fails the command.

use std::time::Duration;

use anyhow::Result;

use crate::api::Api;
use crate::chat::{Floor, STEP_COLUMNS, step_row};
use crate::report::{Report, Table};
use crate::server::Target;

/// Share of the offered rate a passing step must achieve.
const ACHIEVED_SHARE: f64 = 0.95;

/// `ramp`'s options.
pub struct RampOptions {
    pub sessions: usize,
    pub agents: usize,
    pub start: u32,
    pub step: u32,
    pub max: u32,
    pub seconds: u32,
    pub p99_ms: u32,
}

impl RampOptions {
    /// The offered rates, in order.
    pub fn rates(&self) -> impl Iterator<Item = u32> + use<> {
        (self.start..=self.max).step_by(self.step as usize)
    }
}

pub async fn run(target: &Target, api: &Api, options: &RampOptions) -> Result<Report> {
    let floor = Floor::open(api, options.sessions, options.agents).await?;
    let p99_limit = Duration::from_millis(u64::from(options.p99_ms));
    let mut table = Table::new("steps", STEP_COLUMNS);
    let mut sustained = None;
    let mut unsound = Vec::new();
    for rate in options.rates() {
        let step = floor.step(rate, options.seconds).await;
        let fast_enough = step.achieved() >= ACHIEVED_SHARE * f64::from(rate);
        let p99_ok = step
            .latencies
            .percentile(99.0)
            .is_some_and(|p99| p99 <= p99_limit);
        let passed = fast_enough && p99_ok && step.sound();
        let verdict = match (fast_enough, p99_ok, step.sound()) {
            (_, _, false) => "FAIL: lost/duplicated/disconnected",
            (false, _, _) => "FAIL: rate",
            (_, false, _) => "FAIL: p99",
            _ => "pass",
        };
        eprintln!("loadgen: step {rate} msg/s: {verdict}");
        table.row(step_row(&step, verdict));
        if !step.sound() {
            unsound.push(rate);
        }
        if !passed {
            break;
        }
        sustained = Some(rate);
    }
    let storage = floor.verify_storage(api).await?;

    let mut report = Report::new("ramp");
    report
        .field("sessions", options.sessions)
        .field("agents", options.agents)
        .field("seconds_per_step", options.seconds)
        .field("p99_limit_ms", options.p99_ms)
        .field("max_sustained_rate", sustained.unwrap_or(0))
        .table(table)
        .note(match sustained {
            Some(rate) => format!("max sustained: {rate} msg/s"),
            None => format!(
                "max sustained: none (the first step, {} msg/s, failed)",
                options.start
            ),
        });
    storage.add_to(&mut report);
    report
        .field("server_pid", target.pid())
        .field("server_rss_kib", target.rss_kib()?)
        .fail_if(!unsound.is_empty(), || {
            format!("messages lost, duplicated or misrouted, or an agent disconnected, at {unsound:?} msg/s")
        });
    storage.judge(&mut report);
    Ok(report)
}
