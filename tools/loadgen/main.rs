//! `loadgen`: load, soak and correctness runs against Switchboard, speaking only its public wire
//! protocol (HTTP and WebSockets, `PROTOCOL.md`); of the server's code it uses only a URL helper.
//!
//! ```text
//! cargo build --release && cargo run --release --example loadgen -- <command> [options]
//! ```
//!
//! Each run starts its own server (`--server`, default `target/release/switchboard`) on a free
//! loopback port with a fresh database — a SQLite file in a temporary folder, or with
//! `--postgres URL` a new database on that server, dropped afterwards — and kills it when the
//! run ends, also on an error or Ctrl-C. `--url` and `--pid` target a server already running
//! on this machine instead.
//!
//! Results are aligned plain text on stdout; with `--json`, one JSON object per command on
//! stdout and the text on stderr. Exit code: 0 when every check passed, 1 when one failed or the
//! run could not be made, 2 for invalid options.

mod api;
mod chat;
mod claims;
mod idle;
mod ledger;
mod ramp;
mod report;
mod rest;
mod server;
mod tally;
mod ws;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, value_parser};

use crate::api::Api;
use crate::chat::ChatOptions;
use crate::ramp::RampOptions;
use crate::report::Report;
use crate::server::{SpawnOptions, Target};

/// Ceilings: every count and duration is bounded, so no option can take the machine down (its
/// file-descriptor limit is 20,000, shared by the sockets' two ends when the server is local).
const MAX_SOCKETS: i64 = 18_000;
const MAX_SESSIONS: i64 = 5_000;
const MAX_AGENTS: i64 = 100;
const MAX_CONCURRENCY: i64 = 2_000;
const MAX_RATE: i64 = 100_000;
const MAX_SECONDS: i64 = 120;
const MAX_P99_MS: i64 = 60_000;
const MAX_RAMP_STEPS: usize = 100;
/// Messages one run may issue (each costs the ledger 16 bytes).
const MAX_MESSAGES: u64 = 10_000_000;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load and correctness runs against a Switchboard server it starts (or one on loopback)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    target: TargetArgs,
    /// Print one JSON object per command on stdout (the text goes to stderr).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Args)]
struct TargetArgs {
    /// The switchboard binary to start.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "target/release/switchboard"
    )]
    server: PathBuf,
    /// Give the server a fresh database on this PostgreSQL server (dropped afterwards) instead
    /// of SQLite.
    #[arg(long, global = true, value_name = "URL")]
    postgres: Option<String>,
    /// An extra setting for the server (repeatable), e.g. --env SQLITE_SYNCHRONOUS=full.
    #[arg(long = "env", global = true, value_name = "KEY=VALUE", value_parser = parse_setting)]
    env: Vec<(String, String)>,
    /// Target a server already running on this machine (http://127.0.0.1:PORT) instead.
    #[arg(
        long,
        global = true,
        requires = "pid",
        conflicts_with_all = ["server", "postgres", "env"]
    )]
    url: Option<String>,
    /// The process id of the --url server (its memory is read from /proc).
    #[arg(long, global = true, requires = "url")]
    pid: Option<u32>,
}

#[derive(Args)]
struct FloorArgs {
    /// Sessions, each with a customer socket.
    #[arg(long, default_value_t = 500, value_parser = value_parser!(u32).range(1..=MAX_SESSIONS))]
    sessions: u32,
    /// Agents, each with an agent socket.
    #[arg(long, default_value_t = 10, value_parser = value_parser!(u32).range(1..=MAX_AGENTS))]
    agents: u32,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP throughput and latency: POST /api/sessions, then GET a 50-message history.
    Rest {
        /// Workers, each with one request in flight.
        #[arg(long, default_value_t = 64, value_parser = value_parser!(u32).range(1..=MAX_CONCURRENCY))]
        concurrency: u32,
        /// Length of each phase.
        #[arg(long, default_value_t = 10, value_parser = value_parser!(u32).range(1..=MAX_SECONDS))]
        seconds: u32,
    },
    /// Server memory per idle customer socket.
    Idle {
        #[arg(long, default_value_t = 15_000, value_parser = value_parser!(u32).range(1..=MAX_SOCKETS))]
        sockets: u32,
    },
    /// Customers write to agents at a fixed rate: delivery latency, losses, exactly-once storage.
    Chat {
        #[command(flatten)]
        floor: FloorArgs,
        /// Messages per second offered, over all sessions.
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..=MAX_RATE))]
        rate: u32,
        #[arg(long, default_value_t = 10, value_parser = value_parser!(u32).range(1..=MAX_SECONDS))]
        seconds: u32,
    },
    /// `chat` at increasing rates until a step fails: the highest sustained message rate.
    Ramp {
        #[command(flatten)]
        floor: FloorArgs,
        /// First offered rate (messages per second).
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..=MAX_RATE))]
        start: u32,
        /// Increase per step.
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..=MAX_RATE))]
        step: u32,
        /// Last offered rate.
        #[arg(long, default_value_t = 30_000, value_parser = value_parser!(u32).range(1..=MAX_RATE))]
        max: u32,
        /// Length of each step.
        #[arg(long, default_value_t = 5, value_parser = value_parser!(u32).range(1..=MAX_SECONDS))]
        seconds: u32,
        /// A step fails when the delivery p99 exceeds this.
        #[arg(long, default_value_t = 50, value_parser = value_parser!(u32).range(1..=MAX_P99_MS))]
        p99_ms: u32,
    },
    /// Agents race to claim a burst of hand-offs: time to empty the queue, exactly-once claims.
    Claims {
        #[command(flatten)]
        floor: FloorArgs,
    },
    /// Every command, tiny, in a few seconds (for CI).
    Smoke,
}

impl Command {
    /// Checks what the per-option ranges cannot.
    fn check(&self) -> Result<(), String> {
        match self {
            Command::Chat { rate, seconds, .. } => {
                let messages = u64::from(*rate) * u64::from(*seconds);
                if messages > MAX_MESSAGES {
                    return Err(format!(
                        "--rate × --seconds is {messages} messages; at most {MAX_MESSAGES}"
                    ));
                }
            }
            Command::Ramp { .. } => {
                let options = self.ramp_options().expect("a ramp");
                if options.max < options.start {
                    return Err("--max must not be below --start".into());
                }
                let steps = options.rates().count();
                if steps > MAX_RAMP_STEPS {
                    return Err(format!("{steps} steps; at most {MAX_RAMP_STEPS}"));
                }
                let messages: u64 = options
                    .rates()
                    .map(|rate| u64::from(rate) * u64::from(options.seconds))
                    .sum();
                if messages > MAX_MESSAGES {
                    return Err(format!(
                        "the ramp would issue {messages} messages; at most {MAX_MESSAGES}"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn ramp_options(&self) -> Option<RampOptions> {
        match *self {
            Command::Ramp {
                ref floor,
                start,
                step,
                max,
                seconds,
                p99_ms,
            } => Some(RampOptions {
                sessions: floor.sessions as usize,
                agents: floor.agents as usize,
                start,
                step,
                max,
                seconds,
                p99_ms,
            }),
            _ => None,
        }
    }

    /// Idle keep-alive connections the HTTP client keeps.
    fn pool_size(&self) -> usize {
        match self {
            Command::Rest { concurrency, .. } => *concurrency as usize,
            _ => 64,
        }
    }
}

/// `KEY=VALUE`, the key in upper case, digits and `_`.
fn parse_setting(raw: &str) -> Result<(String, String), String> {
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}` is not KEY=VALUE"))?;
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(format!(
            "`{key}` is not a setting name like SQLITE_SYNCHRONOUS"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = cli.command.check() {
        Cli::command()
            .error(ErrorKind::ValueValidation, message)
            .exit();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loadgen: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the run is dropped, and with it the server it started.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(&cli) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; whether every check passed.
async fn run(cli: &Cli) -> Result<bool> {
    let args = &cli.target;
    let target = match (&args.url, args.pid) {
        (Some(url), Some(pid)) => Target::attach(url, pid).await?,
        _ => {
            let options = SpawnOptions {
                binary: args.server.clone(),
                postgres: args.postgres.clone(),
                env: args.env.clone(),
            };
            Target::spawn(&options).await?
        }
    };
    eprintln!(
        "loadgen: server pid {} at {} ({} KiB resident)",
        target.pid(),
        target.base_url(),
        target.rss_kib()?
    );
    let api = Api::new(target.base_url(), cli.command.pool_size())?;
    let mut printer = Printer {
        json: cli.json,
        passed: true,
    };
    let outcome = execute(&cli.command, &target, &api, &mut printer).await;
    // A server that died explains any error, and fails any success.
    if let Some(notice) = target.death_notice() {
        return Err(match outcome {
            Err(err) => err.context(notice),
            Ok(()) => anyhow!(notice),
        });
    }
    outcome?;
    Ok(printer.passed)
}

async fn execute(command: &Command, target: &Target, api: &Api, out: &mut Printer) -> Result<()> {
    match command {
        Command::Rest {
            concurrency,
            seconds,
        } => out.show(&rest::run(target, api, *concurrency as usize, *seconds).await?),
        Command::Idle { sockets } => out.show(&idle::run(target, api, *sockets as usize).await?),
        Command::Chat {
            floor,
            rate,
            seconds,
        } => {
            let options = ChatOptions {
                sessions: floor.sessions as usize,
                agents: floor.agents as usize,
                rate: *rate,
                seconds: *seconds,
            };
            out.show(&chat::run(target, api, &options).await?);
        }
        Command::Ramp { .. } => {
            let options = command.ramp_options().expect("a ramp");
            out.show(&ramp::run(target, api, &options).await?);
        }
        Command::Claims { floor } => {
            let (sessions, agents) = (floor.sessions as usize, floor.agents as usize);
            out.show(&claims::run(target, api, sessions, agents).await?);
        }
        Command::Smoke => smoke(target, api, out).await?,
    }
    Ok(())
}

/// Every command, tiny, against one server.
async fn smoke(target: &Target, api: &Api, out: &mut Printer) -> Result<()> {
    out.show(&rest::run(target, api, 8, 2).await?);
    out.show(&idle::run(target, api, 50).await?);
    let chat = ChatOptions {
        sessions: 20,
        agents: 2,
        rate: 200,
        seconds: 2,
    };
    out.show(&chat::run(target, api, &chat).await?);
    let ramp = RampOptions {
        sessions: 20,
        agents: 2,
        start: 100,
        step: 100,
        max: 200,
        seconds: 1,
        p99_ms: 1000,
    };
    out.show(&ramp::run(target, api, &ramp).await?);
    out.show(&claims::run(target, api, 20, 2).await?);
    Ok(())
}

/// Prints reports as they come, and remembers whether all passed.
struct Printer {
    json: bool,
    passed: bool,
}

impl Printer {
    fn show(&mut self, report: &Report) {
        if self.json {
            println!("{}", report.to_json());
            eprint!("{}", report.render());
        } else {
            print!("{}", report.render());
        }
        self.passed &= report.passed();
    }
}
