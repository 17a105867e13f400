//! The knowledge base: markdown articles, chunked into passages and indexed with BM25 at
//! start-up. LLM providers get the best passages for a conversation in their instructions; the
//! offline [`Responder`] answers with the best passage itself.
//!
//! A knowledge base is a markdown file, or a folder of them. Each heading is a question (or
//! topic) and the text under it, up to the next heading, is its answer; a long answer is split
//! at paragraph breaks into passages of at most [`MAX_PASSAGE_CHARS`], each keeping its heading.
//! A customer's message is matched against heading and text together; headings count double.
//! When the best passage is not a confident match, the responder says it does not know and
//! offers a human.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{AiError, AssistantRequest, Deltas, Provider, Reply};

/// BM25 parameters (the usual defaults).
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Share of the question's meaningful words that the best passage must contain.
const MIN_COVERAGE: f64 = 0.34;
/// Longest passage; longer answers are split at paragraph breaks (a single longer paragraph
/// stays whole).
pub const MAX_PASSAGE_CHARS: usize = 1200;

/// Said when no entry matches well enough.
pub const NOT_FOUND_REPLY: &str = "I'm not sure about that one, and I'd rather not guess. \
Would you like me to connect you with a human agent? Just say \"talk to a human\".";

const GREETING_REPLY: &str = "Hello! I'm the virtual assistant. How can I help you today?";
const THANKS_REPLY: &str = "You're welcome! Is there anything else I can help you with?";

const STOPWORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can",
    "could", "do", "does", "did", "for", "from", "get", "have", "has", "how", "i", "if", "in",
    "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "should", "so", "that",
    "the", "their", "there", "this", "to", "was", "we", "what", "when", "where", "which", "who",
    "why", "will", "with", "would", "you", "your", "hi", "hello", "hey", "thanks", "thank", "need",
    "want", "know", "tell", "much", "many", "just", "also", "some", "these", "those", "them",
    "they", "he", "she", "us", "one", "not", "no", "yes", "ok", "okay",
];

/// One indexed passage: a heading and (part of) the text under it.
#[derive(Debug, Clone)]
pub struct Passage {
    pub heading: String,
    pub text: String,
    pub source: PathBuf,
    terms: HashMap<String, f64>,
    length: f64,
}

/// An indexed knowledge base.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {
    entries: Vec<Passage>,
    document_frequency: HashMap<String, usize>,
    average_length: f64,
}

/// Lower-cases, splits on non-alphanumerics, drops stop words, and strips common English
/// suffixes so "refunds", "refunded" and "refunding" meet.
fn terms(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(stem)
        .collect()
}

fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(root) = word.strip_suffix(suffix)
            && root.chars().count() >= 3
            && !(suffix == "s" && root.ends_with('s'))
        {
            return root.to_owned();
        }
    }
    word.to_owned()
}

/// Splits `text` at paragraph breaks into pieces of at most `max` characters (a longer single
/// paragraph stays whole).
fn chunks(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !current.is_empty() && current.chars().count() + paragraph.chars().count() + 2 > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(paragraph);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Splits markdown into (heading, body) pairs; text before the first heading is ignored.
fn sections(markdown: &str) -> Vec<(String, String)> {
    let mut sections = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            let heading = trimmed.trim_start_matches('#').trim();
            if let Some(done) = current.take() {
                sections.push(done);
            }
            current = Some((heading.to_owned(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections.extend(current);
    sections
        .into_iter()
        .map(|(h, b)| (h, b.trim().to_owned()))
        .filter(|(h, b)| !h.is_empty() && !b.is_empty())
        .collect()
}

fn markdown_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?.path();
        if entry.is_dir() {
            files.extend(markdown_files(&entry)?);
        } else if entry
            .extension()
            .is_some_and(|e| e == "md" || e == "markdown")
        {
            files.push(entry);
        }
    }
    files.sort();
    Ok(files)
}

impl KnowledgeBase {
    /// Reads and indexes every markdown file at `path` (a file or a folder, recursively).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut documents = Vec::new();
        for file in markdown_files(path)? {
            let text = std::fs::read_to_string(&file)?;
            for (question, answer) in sections(&text) {
                documents.push((question, answer, file.clone()));
            }
        }
        Ok(Self::index(documents))
    }

    /// The sample shipped in `knowledge_base/faq.md`, compiled in.
    pub fn sample() -> Self {
        let text = include_str!("../../knowledge_base/faq.md");
        let source = PathBuf::from("knowledge_base/faq.md");
        Self::index(
            sections(text)
                .into_iter()
                .map(|(q, a)| (q, a, source.clone()))
                .collect(),
        )
    }

    /// Indexes (heading, text, source) triples, splitting long texts into passages.
    pub fn index(documents: Vec<(String, String, PathBuf)>) -> Self {
        let documents: Vec<(String, String, PathBuf)> = documents
            .into_iter()
            .flat_map(|(heading, text, source)| {
                chunks(&text, MAX_PASSAGE_CHARS)
                    .into_iter()
                    .map(move |piece| (heading.clone(), piece, source.clone()))
            })
            .collect();
        let mut entries = Vec::with_capacity(documents.len());
        let mut document_frequency: HashMap<String, usize> = HashMap::new();
        for (question, answer, source) in documents {
            let mut counts: HashMap<String, f64> = HashMap::new();
            // The heading states the topic: its words count double.
            for term in terms(&question) {
                *counts.entry(term).or_default() += 2.0;
            }
            for term in terms(&answer) {
                *counts.entry(term).or_default() += 1.0;
            }
            for term in counts.keys() {
                *document_frequency.entry(term.clone()).or_default() += 1;
            }
            let length = counts.values().sum();
            entries.push(Passage {
                heading: question,
                text: answer,
                source,
                terms: counts,
                length,
            });
        }
        let average_length = if entries.is_empty() {
            0.0
        } else {
            entries.iter().map(|e| e.length).sum::<f64>() / entries.len() as f64
        };
        Self {
            entries,
            document_frequency,
            average_length,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn passages(&self) -> &[Passage] {
        &self.entries
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.entries.len() as f64;
        let df = self.document_frequency.get(term).copied().unwrap_or(0) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    fn bm25(&self, entry: &Passage, query: &[String]) -> f64 {
        query
            .iter()
            .filter_map(|term| entry.terms.get(term).map(|tf| (term, tf)))
            .map(|(term, tf)| {
                let norm = K1 * (1.0 - B + B * entry.length / self.average_length.max(1.0));
                self.idf(term) * tf * (K1 + 1.0) / (tf + norm)
            })
            .sum()
    }

    /// Up to `limit` passages that share words with `query`, best first, with their scores.
    pub fn ranked(&self, query: &str, limit: usize) -> Vec<(&Passage, f64)> {
        self.rank(&query_terms(query), limit)
    }

    fn rank(&self, query: &[String], limit: usize) -> Vec<(&Passage, f64)> {
        let mut scored: Vec<(&Passage, f64)> = self
            .entries
            .iter()
            .map(|e| (e, self.bm25(e, query)))
            .filter(|(_, score)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(limit);
        scored
    }

    /// Up to `limit` passages relevant to `query`, best first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Passage> {
        self.ranked(query, limit)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// The best passage for `question` if it is a confident match: it must contain at least a
    /// third of the question's meaningful words.
    pub fn best_match(&self, question: &str) -> Option<&Passage> {
        let query = query_terms(question);
        let (entry, _) = self.rank(&query, 1).into_iter().next()?;
        let covered = query
            .iter()
            .filter(|t| entry.terms.contains_key(*t))
            .count();
        let coverage = covered as f64 / query.len() as f64;
        (coverage >= MIN_COVERAGE).then_some(entry)
    }
}

/// The distinct meaningful terms of a query.
fn query_terms(query: &str) -> Vec<String> {
    let mut terms = terms(query);
    terms.sort();
    terms.dedup();
    terms
}

/// Small talk that deserves a friendly answer rather than a search.
fn small_talk(question: &str) -> Option<&'static str> {
    let words: Vec<String> = question
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let only = |set: &[&str]| !words.is_empty() && words.iter().all(|w| set.contains(&w.as_str()));
    if only(&[
        "hi",
        "hello",
        "hey",
        "there",
        "good",
        "morning",
        "afternoon",
        "evening",
    ]) {
        Some(GREETING_REPLY)
    } else if only(&[
        "thanks", "thank", "you", "so", "much", "great", "ok", "okay", "cheers",
    ]) {
        Some(THANKS_REPLY)
    } else {
        None
    }
}

/// The offline [`Provider`]: answers with the best passage.
pub struct Responder {
    kb: Arc<KnowledgeBase>,
}

impl Responder {
    pub fn new(kb: Arc<KnowledgeBase>) -> Self {
        Self { kb }
    }

    /// The reply to `question`, synchronously.
    pub fn answer(&self, question: &str) -> String {
        if let Some(reply) = small_talk(question) {
            return reply.to_owned();
        }
        match self.kb.best_match(question) {
            Some(passage) => passage.text.clone(),
            None => NOT_FOUND_REPLY.to_owned(),
        }
    }
}

impl Provider for Responder {
    fn name(&self) -> &'static str {
        "knowledge_base"
    }

    fn call<'a>(
        &'a self,
        request: &'a AssistantRequest,
        _deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<Reply, AiError>> {
        // The answer is ready at once: nothing to stream.
        Box::pin(async move { Ok(Reply::text(self.answer(request.latest_question()))) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = "# Shop FAQ\nIntro text is ignored.\n\n\
        ## What are your opening hours?\nWe are open 9:00–17:00, Monday to Friday.\n\n\
        ## How do I reset my password?\nUse the \"Forgot password\" link on the sign-in page.\n\n\
        ## How long does shipping take?\nOrders ship within 2 working days; delivery takes 3–5 days.\n\n\
        ## Can I return an item?\nYes: returns are free within 30 days. Refunds arrive in 5 days.\n";

    fn kb() -> KnowledgeBase {
        let docs = sections(FAQ)
            .into_iter()
            .map(|(q, a)| (q, a, PathBuf::from("faq.md")))
            .collect();
        KnowledgeBase::index(docs)
    }

    #[test]
    fn headings_split_entries() {
        let kb = kb();
        let questions: Vec<&str> = kb.passages().iter().map(|e| e.heading.as_str()).collect();
        assert_eq!(questions.len(), 5, "{questions:?}");
        assert_eq!(questions[1], "What are your opening hours?");
    }

    #[test]
    fn finds_the_right_answer_for_paraphrases() {
        let kb = kb();
        let cases: [(&str, &str); 6] = [
            ("when are you open?", "opening hours"),
            ("what time do you open", "opening hours"),
            ("I forgot my password", "reset my password"),
            ("how long is delivery", "shipping"),
            ("I want a refund", "return an item"),
            ("can I return these shoes", "return an item"),
        ];
        for (question, expected) in cases {
            let entry = kb
                .best_match(question)
                .unwrap_or_else(|| panic!("no match for {question}"));
            assert!(
                entry.heading.contains(expected),
                "{question} -> {}",
                entry.heading
            );
        }
    }

    #[test]
    fn unknown_topics_are_not_guessed() {
        let kb = kb();
        for question in ["do you sell bicycles", "what is the meaning of life", "???"] {
            assert!(kb.best_match(question).is_none(), "{question}");
        }
        let responder = Responder::new(Arc::new(kb));
        assert_eq!(responder.answer("do you sell bicycles"), NOT_FOUND_REPLY);
        assert_eq!(responder.answer("Hello!"), GREETING_REPLY);
        assert!(responder.answer("When are you open?").contains("9:00"));
    }

    #[test]
    fn the_shipped_sample_answers_common_questions() {
        let responder = Responder::new(Arc::new(KnowledgeBase::sample()));
        assert!(
            responder
                .answer("How long does delivery take?")
                .contains("working days")
        );
        assert!(
            responder
                .answer("I forgot my password")
                .contains("Forgot password")
        );
        assert!(responder.answer("can I pay with paypal").contains("PayPal"));
        assert!(
            responder
                .answer("how do I return something")
                .contains("30 days")
        );
        assert_eq!(
            responder.answer("what's the weather on mars"),
            NOT_FOUND_REPLY
        );
    }

    #[test]
    fn long_answers_become_passages_that_keep_their_heading() {
        let paragraph = "Parcels travel by courier. ".repeat(20);
        let long = format!(
            "# Delivery\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n\nAsk us about express options.\n"
        );
        let docs = sections(&long)
            .into_iter()
            .map(|(q, a)| (q, a, PathBuf::from("delivery.md")))
            .collect();
        let kb = KnowledgeBase::index(docs);
        assert!(kb.len() >= 2, "{} passages", kb.len());
        for passage in kb.passages() {
            assert_eq!(passage.heading, "Delivery");
            assert!(passage.text.chars().count() <= MAX_PASSAGE_CHARS);
        }
        let found = kb.search("express options", 3);
        assert!(found[0].text.contains("express options"));
    }

    #[test]
    fn search_ranks_passages_for_grounding() {
        let kb = kb();
        let found = kb.search("refund for shoes I returned", 2);
        assert_eq!(found[0].heading, "Can I return an item?");
        assert!(kb.search("zebra", 3).is_empty());
    }

    #[test]
    fn stems_meet() {
        assert_eq!(stem("refunds"), "refund");
        assert_eq!(stem("refunded"), "refund");
        assert_eq!(stem("shipping"), "shipp");
        assert_eq!(stem("address"), "address");
        assert_eq!(stem("is"), "is");
    }
}
