//! A database outage: with PostgreSQL stopped, REST answers 503 with Retry-After, `/ready` 503,
//! socket writes an `error` with code `unavailable`, and nothing panics; when it returns, service
//! resumes without a restart. Uses a PostgreSQL cluster of its own (initdb on a spare port, run
//! as the `postgres` user), never the shared server; it runs in the PostgreSQL pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{client_info, expect_detail, expect_json, postgres_server, spawn_app_with};

/// A throwaway PostgreSQL cluster.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_postgres(program: &Path, args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .map(|out| {
            if !out.status.success() {
                eprintln!(
                    "{}: {}",
                    program.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            out.status.success()
        })
        .unwrap_or(false)
}

impl OwnPostgres {
    fn create() -> Option<Self> {
        let bin = postgres_bin()?;
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let data = dir.path().join("data");
        let ok = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str()?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        let cluster = Self { dir, bin, port };
        (ok && cluster.start()).then_some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    fn stop(&self) -> bool {
        as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        )
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

#[tokio::test]
async fn a_database_outage_is_503_and_service_resumes_by_itself() {
    if postgres_server().is_none() {
        eprintln!(
            "SKIPPED a_database_outage_is_503_and_service_resumes_by_itself: runs in the PostgreSQL pass"
        );
        return;
    }
    let Some(postgres) = OwnPostgres::create() else {
        panic!(
            "could not start a PostgreSQL cluster of the test's own (initdb, runuser as postgres)"
        );
    };
    let app = spawn_app_with(&[("DATABASE_URL", &postgres.url())]).await;
    let session = app.create_session().await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let (mut customer, _) = app.client_ws(&id).await;

    assert!(postgres.stop(), "stop PostgreSQL");

    let response = app.post_json("/api/sessions", &client_info()).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_detail(response, StatusCode::SERVICE_UNAVAILABLE).await;
    // (The session itself may be answered from the node's copy; its history needs the
    // database.)
    let response = app.get(&format!("/api/sessions/{id}/messages")).await;
    expect_detail(response, StatusCode::SERVICE_UNAVAILABLE).await;
    expect_detail(app.get("/ready").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "the process itself is fine"
    );

    customer.send_json(json!({"content": "Hello?"})).await;
    let error = customer.expect_next("error").await;
    assert_eq!(error["code"], "unavailable");

    assert!(postgres.start(), "start PostgreSQL again");
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/ready").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    expect_json(
        app.post_json("/api/sessions", &client_info()).await,
        StatusCode::CREATED,
    )
    .await;
    // The same socket works again, events included. (While the node re-establishes its event
    // connection it may replay the customer's own message first: resynchronisation errs on the
    // side of repeating rather than losing.)
    customer
        .send_json(json!({"content": "What are your opening hours?"}))
        .await;
    let reply = customer
        .expect_where("message", |m| m["sender_type"] == "AI")
        .await;
    assert!(reply["content"].as_str().unwrap().contains("Monday"));
}
