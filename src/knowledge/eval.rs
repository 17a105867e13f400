//! `switchboard kb eval FILE.json`: how well a knowledge base answers a set of questions.
//!
//! The file names a knowledge base (a path relative to the file) and questions, each with the
//! headings of the sections that answer it (none: the assistant should say it is not sure):
//!
//! ```json
//! {"knowledge_base": "kb",
//!  "questions": [{"question": "do u take amex", "expect": ["Which payment methods do you accept?"], "language": "en"},
//!                {"question": "what's the capital of Peru", "expect": [], "language": "en"}]}
//! ```
//!
//! `language` groups the figures (the question's language is detected, as in a chat); it
//! defaults to the detected one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::embedding::Embedder;
use super::{Answer, KnowledgeBase};
use crate::domain::language;

#[derive(Deserialize)]
struct EvalFile {
    knowledge_base: String,
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    question: String,
    expect: Vec<String>,
    language: Option<String>,
}

/// Counts for one language.
#[derive(Default)]
struct Tally {
    answerable: usize,
    right: usize,
    wrong: usize,
    declined: usize,
    out_of_scope: usize,
    out_of_scope_declined: usize,
    /// Answerable questions whose best candidate is right, answered or not (ranking quality).
    top_right: usize,
    /// Declined answerable questions whose not-sure reply offered the right topic.
    offered: usize,
    /// Declined out-of-scope questions whose not-sure reply offered some topic anyway.
    out_of_scope_offered: usize,
}

fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        "   -".to_owned()
    } else {
        format!("{:.2}", part as f64 / whole as f64)
    }
}

/// Runs the questions of the file at `path`, with semantic retrieval when `embedder` is given;
/// `show_misses` lists every question not handled right (never use it on a held-out set you
/// are tuning against).
pub fn run(
    path: &Path,
    show_misses: bool,
    embedder: Option<Arc<Embedder>>,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let file: EvalFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a question file (see `kb eval --help`)",
            path.display()
        )
    })?;
    let kb_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&file.knowledge_base);
    let kb = KnowledgeBase::load(&kb_path)
        .with_context(|| format!("could not load the knowledge base at {}", kb_path.display()))?;
    if kb.is_empty() {
        bail!(
            "the knowledge base at {} has no sections",
            kb_path.display()
        );
    }
    let retrieval = match embedder {
        Some(embedder) => {
            kb.attach(embedder);
            "lexical + semantic"
        }
        None => "lexical only",
    };
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = String::new();
    for q in &file.questions {
        let lang = language::of_question(&q.question);
        let group = q.language.clone().unwrap_or_else(|| lang.code().to_owned());
        let tally = tallies.entry(group.clone()).or_default();
        let answer = kb.answer(&q.question, lang);
        let best = match &answer {
            Answer::Found(hit)
            | Answer::NotSure {
                best: Some(hit), ..
            } => Some(hit.passage.heading.clone()),
            Answer::NotSure { best: None, .. } => None,
        };
        if best.is_some_and(|b| q.expect.contains(&b)) {
            tally.top_right += 1;
        }
        let verdict = match (&answer, q.expect.is_empty()) {
            (Answer::Found(hit), false) if q.expect.contains(&hit.passage.heading) => {
                tally.right += 1;
                None
            }
            (Answer::Found(hit), false) => {
                tally.wrong += 1;
                Some(format!(
                    "WRONG    {:?} -> {:?}",
                    q.expect, hit.passage.heading
                ))
            }
            (Answer::NotSure { best, offers }, false) => {
                tally.declined += 1;
                if offers.iter().any(|h| q.expect.contains(&h.passage.heading)) {
                    tally.offered += 1;
                }
                Some(format!(
                    "DECLINED {:?} (best: {})",
                    q.expect,
                    best.map_or("none".to_owned(), |h| format!(
                        "{:?} {:.2}",
                        h.passage.heading, h.coverage
                    ))
                ))
            }
            (Answer::Found(hit), true) => Some(format!(
                "ANSWERED out of scope -> {:?}",
                hit.passage.heading
            )),
            (Answer::NotSure { offers, .. }, true) => {
                if !offers.is_empty() {
                    tally.out_of_scope_offered += 1;
                }
                tally.out_of_scope_declined += 1;
                None
            }
        };
        if q.expect.is_empty() {
            tally.out_of_scope += 1;
        } else {
            tally.answerable += 1;
        }
        if show_misses && let Some(verdict) = verdict {
            let _ = writeln!(misses, "  [{group}] {:?}\n      {verdict}", q.question);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} questions, knowledge base {} ({} passages), retrieval {retrieval}\n",
        path.display(),
        file.questions.len(),
        kb_path.display(),
        kb.len()
    );
    let _ = writeln!(
        out,
        "lang  answerable  right  wrong  declined  | out-of-scope  declined  | not-sure answers that were answerable | best candidate right"
    );
    for (group, t) in &tallies {
        let not_sure = t.declined + t.out_of_scope_declined;
        let _ = writeln!(
            out,
            "{group:<4}  {:>10}  {:>5}  {:>5}  {:>8}  | {:>12}  {:>8}  | {:>38} | {}",
            t.answerable,
            share(t.right, t.answerable),
            share(t.wrong, t.answerable),
            share(t.declined, t.answerable),
            t.out_of_scope,
            share(t.out_of_scope_declined, t.out_of_scope),
            share(t.declined, not_sure),
            share(t.top_right, t.answerable),
        );
    }
    let _ = writeln!(
        out,
        "\nNot-sure replies that offer topics:\nlang  answerable declined, the right topic offered  | out-of-scope declined, some topic offered"
    );
    for (group, t) in &tallies {
        let _ = writeln!(
            out,
            "{group:<4}  {:>46}  | {:>40}",
            share(t.offered, t.declined),
            share(t.out_of_scope_offered, t.out_of_scope_declined),
        );
    }
    if show_misses && !misses.is_empty() {
        let _ = writeln!(out, "\nMisses:\n{misses}");
    }
    Ok(out)
}
