//! `switchboard kb check`: shows what the knowledge base indexes, and with `--query` which
//! passages a question retrieves (what an LLM is given) and what the offline responder answers.
//! `switchboard kb eval FILE.json` is `knowledge::eval`.

use std::fmt::Write;

use anyhow::bail;

use crate::ai::knowledge_base::Responder;
use crate::ai::knowledge_with_embeddings;
use crate::config::Settings;
use crate::domain::language;
use crate::knowledge::{KnowledgeBase, MAX_PASSAGE_CHARS};

/// The report for the configured knowledge base; an error when it indexes nothing.
pub fn check(settings: &Settings, query: Option<&str>) -> anyhow::Result<String> {
    let kb = knowledge_with_embeddings(settings, true)?;
    if kb.is_empty() {
        bail!(
            "the knowledge base at {} has no passages: write markdown with a heading above each answer",
            settings.knowledge_base.display()
        );
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(&kb));
    let retrieval = if kb.is_hybrid() {
        "lexical + semantic (embedding model loaded)"
    } else {
        "lexical only (no embedding model: scripts/fetch-model)"
    };
    let _ = writeln!(out, "Retrieval: {retrieval}");
    for passage in kb.passages() {
        let _ = writeln!(
            out,
            "  [{}] {}: {} ({} chars)",
            passage.language,
            passage.source.display(),
            passage.heading,
            passage.text.chars().count()
        );
    }
    if let Some(query) = query {
        let lang = language::of_question(query);
        let _ = writeln!(
            out,
            "\nPassages for {query:?}, read as {lang} (what an LLM is given):"
        );
        let hits = kb.search(query, lang, settings.ai_grounding_passages.max(1));
        if hits.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (n, hit) in hits.iter().enumerate() {
            let _ = writeln!(
                out,
                "  [{}] score {:.2}, covers {:.0} % of the question  {}: {}",
                n + 1,
                hit.score,
                hit.coverage * 100.0,
                hit.passage.source.display(),
                hit.passage.heading
            );
        }
        let answer = Responder::new(kb.clone()).answer(query, lang);
        let _ = writeln!(out, "\nThe offline responder answers:\n  {answer}");
    }
    Ok(out)
}

fn summary(kb: &KnowledgeBase) -> String {
    let mut sources: Vec<_> = kb.passages().iter().map(|p| &p.source).collect();
    sources.sort();
    sources.dedup();
    let languages: Vec<&str> = kb.languages().iter().map(|l| l.code()).collect();
    format!(
        "{} passages from {} file(s) in {} (answers longer than {MAX_PASSAGE_CHARS} characters are split):",
        kb.len(),
        sources.len(),
        languages.join(", ")
    )
}
