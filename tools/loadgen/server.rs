//! The server under test. Normally spawned fresh for each run — its own free port on 127.0.0.1,
//! its own database (a SQLite file in a temporary folder, or a new PostgreSQL database that is
//! dropped afterwards), limits raised so one load generator is not throttled — and killed when
//! the run ends, however it ends. Or an already running server on loopback, named by URL and PID.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use switchboard::store::with_database;
use tokio::time::Instant;
use uuid::Uuid;

/// How long a started server may take to answer `GET /ready` with 200.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server said to be running may take.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a dead server's log is shown.
const LOG_TAIL_LINES: usize = 40;

/// How to start a server.
pub struct SpawnOptions {
    /// The `switchboard` binary.
    pub binary: PathBuf,
    /// A PostgreSQL server to create the run's database on; SQLite when `None`.
    pub postgres: Option<String>,
    /// Settings added to (or replacing) the defaults below.
    pub env: Vec<(String, String)>,
}

/// The server a run talks to.
pub struct Target {
    base_url: String,
    pid: u32,
    spawned: Option<Spawned>,
}

/// A server this run started, killed (and its database dropped) when dropped.
struct Spawned {
    child: Mutex<Child>,
    log: PathBuf,
    // Dropped in this order, after the server is killed.
    _database: Option<TempDatabase>,
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Target {
    /// Starts `switchboard serve` on a free loopback port with a fresh database, and waits until
    /// it is ready.
    pub async fn spawn(options: &SpawnOptions) -> Result<Self> {
        // Absolute: the server runs in its temporary folder.
        let binary = std::fs::canonicalize(&options.binary)
            .ok()
            .filter(|path| path.is_file())
            .with_context(|| {
                format!(
                    "no server binary at {} (build it with `cargo build --release`, or pass --server)",
                    options.binary.display()
                )
            })?;
        let dir = tempfile::Builder::new()
            .prefix("loadgen-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        let database = match &options.postgres {
            Some(server) => Some(TempDatabase::create(server).await?),
            None => None,
        };
        let database_url = match &database {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.path().join("switchboard.db").display()),
        };
        let port = free_port()?;
        let log_path = dir.path().join("server.log");
        let log = File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let stderr = log.try_clone().context("cannot share the server log")?;
        let env = settings(port, &database_url, &options.env);
        let child = Command::new(&binary)
            .arg("serve")
            // Away from the repository, so no `.env` there is read and nothing is written there.
            .current_dir(dir.path())
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Its own process group: Ctrl-C reaches the load generator, which then kills it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let target = Target {
            base_url: format!("http://127.0.0.1:{port}"),
            pid: child.id(),
            spawned: Some(Spawned {
                child: Mutex::new(child),
                log: log_path,
                _database: database,
                _dir: dir,
            }),
        };
        target.wait_ready(START_TIMEOUT).await?;
        Ok(target)
    }

    /// A server already running at `url` (loopback only) as process `pid`.
    pub async fn attach(url: &str, pid: u32) -> Result<Self> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("`{url}` is not a URL"))?;
        ensure!(parsed.scheme() == "http", "--url must be http://");
        let host = parsed.host_str().unwrap_or_default();
        ensure!(
            matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1"),
            "--url must point at this machine (127.0.0.1, localhost or ::1), not `{host}`"
        );
        ensure!(
            parsed.path() == "/" && parsed.query().is_none(),
            "--url is the server's root, e.g. http://127.0.0.1:8000"
        );
        let target = Target {
            base_url: url.trim_end_matches('/').to_owned(),
            pid,
            spawned: None,
        };
        target
            .rss_kib()
            .with_context(|| format!("--pid {pid} is not a process this user can inspect"))?;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if name.trim() != "switchboard" {
            eprintln!(
                "loadgen: warning: --pid {pid} is `{}`, not `switchboard`: its memory is what will be reported",
                name.trim()
            );
        }
        target.wait_ready(ATTACH_TIMEOUT).await?;
        Ok(target)
    }

    /// `http://host:port`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS in {path}"))
    }

    /// When the server this run started has exited: how, with the end of its log.
    pub fn death_notice(&self) -> Option<String> {
        let spawned = self.spawned.as_ref()?;
        let status = {
            let mut child = spawned.child.lock().unwrap_or_else(|e| e.into_inner());
            child.try_wait().ok().flatten()?
        };
        Some(format!(
            "the server exited ({status}); the end of its log:\n{}",
            log_tail(&spawned.log)
        ))
    }

    /// Waits for `GET /ready` to answer 200 (polling: a starting process sends no event).
    async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .context("cannot build an HTTP client")?;
        let url = format!("{}/ready", self.base_url);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(notice) = self.death_notice() {
                bail!("{notice}");
            }
            let last = match http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("HTTP {}", response.status()),
                Err(err) => err.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "the server at {} was not ready within {timeout:?} (last: {last})",
                    self.base_url
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The server's environment: the defaults below, with `extra` added or replacing them.
fn settings(port: u16, database_url: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = default_env(port, database_url);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    env
}

/// The settings every spawned server gets: loopback, the offline assistant, and per-address
/// limits at their maxima (all the load comes from one address).
fn default_env(port: u16, database_url: &str) -> Vec<(String, String)> {
    let secret: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let knowledge_base = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge_base");
    [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", port.to_string()),
        ("DATABASE_URL", database_url.to_owned()),
        ("SECRET_KEY", secret),
        ("AI_PROVIDER", "knowledge_base".into()),
        ("KNOWLEDGE_BASE", knowledge_base.display().to_string()),
        ("EMBEDDING_MODEL", "off".into()),
        ("SESSIONS_PER_IP_PER_HOUR", "1000000".into()),
        ("SOCKETS_PER_IP", "100000".into()),
        ("AI_CALLS_PER_MINUTE", "10000".into()),
        ("AI_CALLS_PER_MINUTE_GLOBAL", "1000000".into()),
        ("DEBUG", "false".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A port nobody listens on now (the kernel's pick for port 0).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener
        .local_addr()
        .context("cannot read the port")?
        .port())
}

/// The last lines of the server's log.
fn log_tail(path: &Path) -> String {
    let Ok(file) = File::open(path) else {
        return format!("(cannot open {})", path.display());
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..].join("\n")
}

/// A PostgreSQL database created for one run and dropped (`WITH (FORCE)`) after it.
struct TempDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TempDatabase {
    async fn create(server_url: &str) -> Result<Self> {
        use sqlx::Connection;
        ensure!(
            server_url.starts_with("postgres://") || server_url.starts_with("postgresql://"),
            "--postgres takes a postgres:// URL"
        );
        let name = format!("loadgen_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .context("cannot connect to the --postgres server")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        let _ = conn.close().await;
        Ok(Self {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        })
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.server_url.clone(), self.name.clone());
        // Drop may run inside the async runtime, which must not be blocked on: use a thread
        // with a runtime of its own.
        let dropped = std::thread::spawn(move || -> Result<()> {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await?;
                Ok(())
            })
        });
        match dropped.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("loadgen: could not drop database {}: {err:#}", self.name),
            Err(_) => eprintln!("loadgen: dropping database {} panicked", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_settings_replace_defaults() {
        let extra = [
            ("SQLITE_SYNCHRONOUS".to_owned(), "full".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        let env = settings(8123, "sqlite://x.db", &extra);
        let get = |key: &str| {
            let mut values = env
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str());
            let value = values.next();
            assert_eq!(values.next(), None, "{key} is set once");
            value.map(str::to_owned)
        };
        assert_eq!(get("PORT").as_deref(), Some("8123"));
        assert_eq!(get("SECRET_KEY").map(|k| k.len()), Some(64));
        assert_eq!(get("RUST_LOG").as_deref(), Some("info"));
        assert_eq!(get("SQLITE_SYNCHRONOUS").as_deref(), Some("full"));
    }
}
