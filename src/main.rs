//! The `switchboard` command: parse arguments, load settings, hand over to the library.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use switchboard::app::{Application, shutdown_signal};
use switchboard::config::Settings;
use switchboard::{admin_cli, kb_cli, telemetry};

/// jemalloc rather than glibc's malloc: after a burst (500 hand-offs claimed by 10 agents) glibc
/// kept about 240 MiB resident in its per-thread arenas for a live heap of about 20 MiB;
/// jemalloc returns what it no longer uses (55 MiB after the same burst). See
/// docs/PERFORMANCE.md.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Customer chat: an AI assistant first, human agents on hand-off"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve HTTP and WebSockets (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an agent account (prompts for the password when --password is not given).
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Visible in shell history and process lists: prefer the prompt.
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
    },
    /// Inspect the knowledge base the assistant answers from.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Print what was indexed; with --query, the passages a question retrieves and the offline
    /// answer.
    Check {
        #[arg(long)]
        query: Option<String>,
    },
    /// Run a question file against a knowledge base and print how often the right section is
    /// given, a wrong one, or "not sure" (see docs/ASSISTANT.md for the file's format).
    Eval {
        /// The question file (JSON); its `knowledge_base` is relative to it.
        file: std::path::PathBuf,
        /// Also list every question not handled right (not for a held-out set).
        #[arg(long)]
        misses: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded_env_file = dotenvy::dotenv().ok();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("switchboard: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_json);
    if let Some(path) = loaded_env_file {
        tracing::info!(path = %path.display(), "loaded settings from .env");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("switchboard: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("switchboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            if settings.secret_key_generated {
                tracing::warn!(
                    "SECRET_KEY is not set: using a random key for this process only. Every token \
                     dies when the process stops, and several instances cannot share tokens. \
                     Set SECRET_KEY (32+ random bytes) before going to production."
                );
            }
            if settings.allow_registration {
                tracing::warn!(
                    "ALLOW_REGISTRATION=true: anyone can create an agent account and read every conversation"
                );
            }
            let shutdown = shutdown_signal().context("cannot install signal handlers")?;
            let app = Application::build(settings).await?;
            let state = app.state();
            tracing::info!(
                address = %app.local_addr(),
                database = state.chat.db().backend(),
                "Switchboard is serving; API docs at /docs"
            );
            app.run_until(shutdown).await.context("server error")?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate => {
            let db = switchboard::store::Db::connect(
                settings.database_url.expose(),
                settings.sqlite_sync,
            )
            .await?;
            db.migrate().await?;
            tracing::info!(database = db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::CreateAdmin {
            username,
            email,
            password,
            full_name,
        } => {
            let password = match password {
                Some(password) => password,
                None => prompt_password()?,
            };
            let admin = admin_cli::create_admin(
                &settings,
                &username,
                &email,
                &password,
                full_name.as_deref(),
            )
            .await?;
            println!("created agent account {} (id {})", admin.username, admin.id);
            Ok(())
        }
        Command::Kb {
            command: KbCommand::Check { query },
        } => {
            print!("{}", kb_cli::check(&settings, query.as_deref())?);
            Ok(())
        }
        Command::Kb {
            command: KbCommand::Eval { file, misses },
        } => {
            let embedder = switchboard::ai::load_embedder(&settings)?;
            print!(
                "{}",
                switchboard::knowledge::eval::run(&file, misses, embedder)?
            );
            Ok(())
        }
    }
}

fn prompt_password() -> anyhow::Result<String> {
    let first = rpassword::prompt_password("Password: ")
        .context("cannot read a password from the terminal; pass --password")?;
    let second = rpassword::prompt_password("Repeat password: ")
        .context("cannot read a password from the terminal")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}
