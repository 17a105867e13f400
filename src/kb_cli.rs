//! `switchboard kb check`: shows what the knowledge base indexes, and with `--query` which
//! passages a question retrieves (what an LLM is given) and what the offline responder answers.

use std::fmt::Write;
use std::sync::Arc;

use anyhow::bail;

use crate::ai::knowledge_base::{KnowledgeBase, MAX_PASSAGE_CHARS, Responder};
use crate::ai::load_knowledge_base;
use crate::config::Settings;

/// The report for the configured knowledge base; an error when it indexes nothing.
pub fn check(settings: &Settings, query: Option<&str>) -> anyhow::Result<String> {
    let kb = load_knowledge_base(settings)?;
    if kb.is_empty() {
        bail!(
            "the knowledge base at {} has no passages: write markdown with a heading above each answer",
            settings.knowledge_base.display()
        );
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(&kb));
    for passage in kb.passages() {
        let _ = writeln!(
            out,
            "  {}: {} ({} chars)",
            passage.source.display(),
            passage.heading,
            passage.text.chars().count()
        );
    }
    if let Some(query) = query {
        let _ = writeln!(out, "\nPassages for {query:?} (what an LLM is given):");
        let ranked = kb.ranked(query, settings.ai_grounding_passages.max(1));
        if ranked.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (n, (passage, score)) in ranked.iter().enumerate() {
            let _ = writeln!(
                out,
                "  [{}] {:.2}  {}: {}",
                n + 1,
                score,
                passage.source.display(),
                passage.heading
            );
        }
        let answer = Responder::new(Arc::new(kb)).answer(query);
        let _ = writeln!(out, "\nThe offline responder answers:\n  {answer}");
    }
    Ok(out)
}

fn summary(kb: &KnowledgeBase) -> String {
    let mut sources: Vec<_> = kb.passages().iter().map(|p| &p.source).collect();
    sources.sort();
    sources.dedup();
    format!(
        "{} passages from {} file(s) (answers longer than {MAX_PASSAGE_CHARS} characters are split):",
        kb.len(),
        sources.len()
    )
}
