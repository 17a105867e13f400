//! The knowledge base: markdown FAQ sections in one or several languages, indexed for retrieval.
//! The offline responder answers with the best section, or says it is not sure; LLM providers
//! get the best passages in their instructions; agents get them as suggestions. All three use
//! the same engine ([`index`]).
//!
//! A knowledge base is a markdown file, or a folder of them. Each heading is a question or
//! topic and the text under it, up to the next heading, its answer; a long answer is split at
//! paragraph breaks into passages of at most [`MAX_PASSAGE_CHARS`], each keeping its heading.
//!
//! - **Other phrasings.** A line `Also asked: where is my parcel?; has my order shipped?`
//!   inside a section adds ways customers ask it: they count like the heading and are not shown.
//! - **Languages.** A file named `NAME.es.md` (or any file under a folder named `es/`) holds
//!   Spanish sections; likewise `en`, `fr`, `de`, `pt`. Unmarked files are detected from their
//!   text. A question is answered from the sections in its language when the knowledge base has
//!   any; otherwise from the others, but only on a much stronger match.

pub mod embedding;
pub mod eval;
mod index;
mod semantic;
mod synonyms;
mod text;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use embedding::Embedder;
use index::Index;
pub use index::{Answer, Hit};
use semantic::Dense;

use crate::domain::language::{self, Lang};

/// Longest passage; longer answers are split at paragraph breaks (a single longer paragraph
/// stays whole).
pub const MAX_PASSAGE_CHARS: usize = 1200;

/// The prefix of a line listing other phrasings of a section's question.
const ALSO_ASKED: &str = "also asked:";

/// One indexed passage: a heading and (part of) the text under it.
#[derive(Debug, Clone)]
pub struct Passage {
    pub heading: String,
    pub text: String,
    pub source: PathBuf,
    pub language: Lang,
    /// Other phrasings of the heading's question (`Also asked:` lines).
    pub also_asked: Vec<String>,
}

/// An indexed knowledge base.
#[derive(Default)]
pub struct KnowledgeBase {
    passages: Vec<Passage>,
    index: Index,
    /// The passages' embeddings, once computed (lexical retrieval alone until then).
    dense: OnceLock<Dense>,
}

/// What identifies a section: its heading in its file.
fn section_key(passage: &Passage) -> (&str, &Path) {
    (passage.heading.as_str(), passage.source.as_path())
}

/// Keeps the first of each section's passages in `ranked` (best first), in order.
fn one_per_section<'a, T>(ranked: &mut Vec<T>, passage: impl Fn(&T) -> &'a Passage) {
    let mut seen = std::collections::HashSet::new();
    ranked.retain(|item| seen.insert(section_key(passage(item))));
}

/// A markdown section: heading, answer text, other phrasings.
struct Section {
    heading: String,
    text: String,
    also_asked: Vec<String>,
}

/// Splits markdown into sections; text before the first heading is ignored, and so are
/// headings with nothing under them (a file's title).
fn sections(markdown: &str) -> Vec<Section> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            raw.push((
                trimmed.trim_start_matches('#').trim().to_owned(),
                String::new(),
            ));
        } else if let Some((_, body)) = raw.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    raw.into_iter()
        .filter_map(|(heading, body)| {
            let mut also_asked = Vec::new();
            let mut text = String::new();
            for line in body.lines() {
                let lower = line.trim_start().to_lowercase();
                if lower.starts_with(ALSO_ASKED) {
                    let list = &line.trim_start()[ALSO_ASKED.len()..];
                    also_asked.extend(
                        list.split([';', '|'])
                            .map(str::trim)
                            .filter(|q| !q.is_empty())
                            .map(str::to_owned),
                    );
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            let text = text.trim().to_owned();
            (!heading.is_empty() && !text.is_empty()).then_some(Section {
                heading,
                text,
                also_asked,
            })
        })
        .collect()
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

/// The language a file's name declares: `faq.es.md`, or a folder `es/` on its path.
fn declared_language(file: &Path) -> Option<Lang> {
    let stem = file.file_stem()?.to_str()?;
    if let Some((_, code)) = stem.rsplit_once('.')
        && let Some(lang) = Lang::from_code(code)
    {
        return Some(lang);
    }
    file.parent()?
        .components()
        .rev()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|name| (name.len() == 2).then(|| Lang::from_code(name)).flatten())
}

impl KnowledgeBase {
    /// Reads and indexes every markdown file at `path` (a file or a folder, recursively).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut passages = Vec::new();
        for file in markdown_files(path)? {
            let text = std::fs::read_to_string(&file)?;
            passages.extend(Self::passages_of(&text, &file));
        }
        Ok(Self::index(passages))
    }

    /// The sample shipped in `knowledge_base/faq.md`, compiled in.
    pub fn sample() -> Self {
        let text = include_str!("../../knowledge_base/faq.md");
        Self::index(Self::passages_of(text, Path::new("knowledge_base/faq.md")))
    }

    /// The passages of one markdown file.
    fn passages_of(markdown: &str, file: &Path) -> Vec<Passage> {
        let declared = declared_language(file);
        sections(markdown)
            .into_iter()
            .flat_map(|section| {
                let language = declared.unwrap_or_else(|| {
                    language::detect(&format!("{}\n{}", section.heading, section.text))
                        .map_or(Lang::En, |(lang, _)| lang)
                });
                chunks(&section.text, MAX_PASSAGE_CHARS)
                    .into_iter()
                    .map(move |piece| Passage {
                        heading: section.heading.clone(),
                        text: piece,
                        source: file.to_owned(),
                        language,
                        also_asked: section.also_asked.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Indexes passages.
    pub fn index(passages: Vec<Passage>) -> Self {
        let index = Index::build(&passages);
        Self {
            passages,
            index,
            dense: OnceLock::new(),
        }
    }

    /// Embeds every passage with `embedder` (seconds for a large knowledge base: call it off
    /// the async runtime); from then on retrieval is hybrid.
    pub fn attach(&self, embedder: Arc<Embedder>) {
        let _ = self.dense.set(Dense::build(embedder, &self.passages));
    }

    /// Whether semantic retrieval is on.
    pub fn is_hybrid(&self) -> bool {
        self.dense.get().is_some()
    }

    /// Every candidate section for `query`, best first, and whether they are in another
    /// language than `lang`.
    fn ranked(&self, query: &str, lang: Lang) -> (Vec<Hit<'_>>, bool) {
        let (lexical, cross) = self.index.rank(&self.passages, query, lang);
        match self.dense.get() {
            Some(dense) if !cross && Dense::reads(lang) => {
                (dense.fuse(&self.passages, lexical, query, lang), false)
            }
            _ => (lexical, cross),
        }
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// The languages the knowledge base has sections in.
    pub fn languages(&self) -> Vec<Lang> {
        let mut languages: Vec<Lang> = self.passages.iter().map(|p| p.language).collect();
        languages.sort();
        languages.dedup();
        languages
    }

    /// Up to `limit` passages relevant to `query` (a customer writing in `lang`), best first,
    /// at most one per section.
    pub fn search(&self, query: &str, lang: Lang, limit: usize) -> Vec<Hit<'_>> {
        let (mut hits, _) = self.ranked(query, lang);
        hits.truncate(limit);
        hits
    }

    /// The section that answers `question`, if the match is confident enough to say so.
    pub fn answer(&self, question: &str, lang: Lang) -> Answer<'_> {
        let (hits, cross) = self.ranked(question, lang);
        index::decide(&hits, cross)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn also_asked_lines_are_phrasings_not_text() {
        let parsed = sections(
            "# Title\n\n## Where is my order?\nTrack it in your account.\nAlso asked: parcel missing; has it shipped\n",
        );
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].text, "Track it in your account.");
        assert_eq!(parsed[0].also_asked, ["parcel missing", "has it shipped"]);
    }

    #[test]
    fn file_names_and_folders_declare_languages() {
        assert_eq!(declared_language(Path::new("kb/faq.es.md")), Some(Lang::Es));
        assert_eq!(
            declared_language(Path::new("kb/de/returns.md")),
            Some(Lang::De)
        );
        assert_eq!(declared_language(Path::new("kb/faq.md")), None);
    }
}
