//! The `switchboard` binary itself: subcommands, configuration errors, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, expect_detail, expect_json, spawn_app_with};

/// The binary with a clean environment, run in `dir` (so no stray `.env` is read).
fn switchboard(dir: &std::path::Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.current_dir(dir).env_clear();
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

#[tokio::test]
async fn create_admin_refuses_weak_passwords_and_creates_a_working_account() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let vars = [("DATABASE_URL", database_url.as_str())];

    let weak = switchboard(dir.path(), &vars)
        .args([
            "create-admin",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password",
            "password1",
        ])
        .output()
        .unwrap();
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("weak password"), "{stderr}");

    let created = switchboard(dir.path(), &vars)
        .args([
            "create-admin",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password",
            PASSWORD,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("created agent account ops"));

    let duplicate = switchboard(dir.path(), &vars)
        .args([
            "create-admin",
            "--username",
            "ops",
            "--email",
            "other@example.com",
            "--password",
            PASSWORD,
        ])
        .output()
        .unwrap();
    assert!(!duplicate.status.success());

    // The account works against a server on the same database, and registration is now closed.
    let app = spawn_app_with(&vars).await;
    expect_json(app.login("ops", PASSWORD).await, StatusCode::OK).await;
    let register = app
        .post_json(
            "/api/auth/register",
            &json!({"username": "late", "email": "late@example.com", "password": PASSWORD}),
        )
        .await;
    expect_detail(register, StatusCode::UNAUTHORIZED).await;
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", path.display());
    let status = switchboard(dir.path(), &[("DATABASE_URL", &url)])
        .arg("migrate")
        .status()
        .unwrap();
    assert!(status.success());
    assert!(path.exists());
}

#[test]
fn invalid_settings_stop_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (vars, variable) in [
        (vec![("PORT", "eighty")], "PORT"),
        (vec![("DEBUG", "false")], "SECRET_KEY"),
        (
            vec![("DEBUG", "false"), ("SECRET_KEY", "too-short")],
            "SECRET_KEY",
        ),
        (
            vec![("DATABASE_URL", "mysql://localhost/db")],
            "DATABASE_URL",
        ),
    ] {
        let output = switchboard(dir.path(), &vars)
            .arg("serve")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{vars:?}: {stderr}");
    }
}

#[test]
fn serve_warns_about_a_generated_key_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("serve.db").display());
    let mut child = switchboard(
        dir.path(),
        &[("DATABASE_URL", &url), ("PORT", "0"), ("NO_COLOR", "1")],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("is serving")) {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server reports it is serving");
        seen.push(line);
    }
    assert!(
        seen.iter().any(|l| l.contains("SECRET_KEY is not set")),
        "{seen:?}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn kb_check_lists_passages_and_what_a_question_retrieves() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    std::fs::create_dir(&kb).unwrap();
    std::fs::write(
        kb.join("returns.md"),
        "# How do I return an item?\nReturns are free within 30 days.\n\n# Do you sell gift cards?\nYes, from 10 to 200 euros.\n",
    )
    .unwrap();
    let kb_path = kb.to_str().unwrap();
    let output = switchboard(dir.path(), &[("KNOWLEDGE_BASE", kb_path)])
        .args(["kb", "check", "--query", "can I return an item I bought?"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("2 passages from 1 file"), "{stdout}");
    assert!(stdout.contains("Do you sell gift cards?"), "{stdout}");
    assert!(stdout.contains("[1]") && stdout.contains("How do I return an item?"));
    assert!(
        stdout.contains("Returns are free within 30 days."),
        "{stdout}"
    );

    // An empty knowledge base is an error, not a silent assistant that knows nothing.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = switchboard(dir.path(), &[("KNOWLEDGE_BASE", empty.to_str().unwrap())])
        .args(["kb", "check"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no passages"));
}

#[test]
fn kb_eval_scores_a_question_file_against_its_knowledge_base() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    std::fs::create_dir(&kb).unwrap();
    std::fs::write(
        kb.join("faq.md"),
        "## How do I return an item?\nReturns are free within 30 days.\n\n## Do you sell gift cards?\nYes, from 10 to 200 euros.\n",
    )
    .unwrap();
    let questions = dir.path().join("questions.json");
    std::fs::write(
        &questions,
        serde_json::json!({
            "knowledge_base": "kb",
            "questions": [
                {"question": "can I return an item I bought?", "expect": ["How do I return an item?"], "language": "en"},
                {"question": "gift cards?", "expect": ["Do you sell gift cards?"], "language": "en"},
                {"question": "what is the capital of Peru", "expect": [], "language": "en"},
            ]
        })
        .to_string(),
    )
    .unwrap();
    let output = switchboard(dir.path(), &[])
        .args(["kb", "eval", questions.to_str().unwrap(), "--misses"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("en "))
        .expect("an en row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    // answerable, right, wrong, declined | out-of-scope, declined
    assert_eq!(&cells[1..5], ["2", "1.00", "0.00", "0.00"], "{stdout}");
    assert_eq!(&cells[6..8], ["1", "1.00"], "{stdout}");

    // A file that is not a question file is a clear error.
    std::fs::write(&questions, "[1, 2]").unwrap();
    let output = switchboard(dir.path(), &[])
        .args(["kb", "eval", questions.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a question file"));
}

/// With the embedding model (scripts/fetch-model; CI sets REQUIRE_MODEL=1), a paraphrase that
/// shares almost no word with the right section is answered; without it, the same question gets
/// the honest "not sure".
#[test]
fn semantic_retrieval_answers_a_paraphrase_that_lexical_retrieval_declines() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = repo.join("models/all-MiniLM-L6-v2");
    if !model.join("model.safetensors").exists() {
        assert!(
            std::env::var("REQUIRE_MODEL").as_deref() != Ok("1"),
            "REQUIRE_MODEL=1 but there is no model: run scripts/fetch-model"
        );
        eprintln!("skipped: no embedding model (scripts/fetch-model)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kb = repo.join("knowledge_base");
    let ask = |embedding_model: &str| {
        let output = switchboard(
            dir.path(),
            &[
                ("KNOWLEDGE_BASE", kb.to_str().unwrap()),
                ("EMBEDDING_MODEL", embedding_model),
            ],
        )
        .args(["kb", "check", "--query", "I never got my delivery"])
        .output()
        .unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let hybrid = ask(model.to_str().unwrap());
    assert!(hybrid.contains("Retrieval: lexical + semantic"), "{hybrid}");
    let answer = hybrid
        .split("The offline responder answers:")
        .nth(1)
        .unwrap();
    assert!(answer.contains("status of every order"), "{hybrid}");
    let lexical = ask("off");
    assert!(lexical.contains("Retrieval: lexical only"), "{lexical}");
    assert!(lexical.contains("I'm not sure"), "{lexical}");

    // A model folder named explicitly must exist.
    let output = switchboard(dir.path(), &[("EMBEDDING_MODEL", "/nonexistent/model")])
        .args(["kb", "check"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("EMBEDDING_MODEL"));
}
