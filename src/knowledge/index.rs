//! Ranking and the decision to answer: BM25 over stemmed terms per language, typo tolerance
//! against the knowledge base's own vocabulary, and abstention on how much of the question the
//! best section actually covers.

use std::collections::HashMap;

use super::synonyms::{SYNONYM_WEIGHT, related};
use super::text::terms;
use super::{Passage, one_per_section};
use crate::domain::language::Lang;

/// BM25 parameters (the usual defaults).
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Heading and `Also asked:` words count this many times a body word: they state the topic.
const HEADING_WEIGHT: f64 = 3.0;
/// A corrected typo counts this much of the word it was corrected to.
const CORRECTED_WEIGHT: f64 = 0.8;
/// Share of the question's weight (idf) the best section must contain to be given as the answer.
pub const MIN_COVERAGE: f64 = 0.55;
/// How far ahead of the runner-up section the best must score: two sections that match about
/// equally well mean the question is ambiguous or off-topic, and guessing would be wrong half
/// the time. (Both values chosen on the tune sets in `eval/retrieval/*/tune.json`: the most right
/// answers while at most 6 % are wrong and at least 90 % of out-of-scope questions are declined.)
const MIN_LEAD: f64 = 1.2;
/// With semantic retrieval (chosen on the tune sets like the two above): the best section's
/// cosine to the question, and its lead over the runner-up's...
const MIN_COSINE: f32 = 0.45;
const MIN_COSINE_LEAD: f32 = 0.08;
/// ...or, when the lexical ranking puts the same section first, this share of the question.
const MIN_AGREED_COVERAGE: f64 = 0.5;
/// The same when the knowledge base has no section in the customer's language: only a near
/// complete match of several words (product names, "wifi password") is trusted.
const MIN_CROSS_COVERAGE: f64 = 0.9;

/// One passage's term counts.
#[derive(Debug, Clone, Default)]
struct Doc {
    terms: HashMap<String, f64>,
    length: f64,
}

/// Per-language statistics.
#[derive(Debug, Clone, Default)]
struct Stats {
    document_frequency: HashMap<String, usize>,
    passages: usize,
    average_length: f64,
}

impl Stats {
    /// Inverse document frequency; a word the knowledge base never uses weighs like one it
    /// uses once (it may be the question's topic, "peru", or a detail, "shoes").
    fn idf(&self, term: &str) -> f64 {
        let n = self.passages as f64;
        let df = self
            .document_frequency
            .get(term)
            .copied()
            .unwrap_or(1)
            .max(1) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The knowledge base's word nearest to an unknown `term`: one edit away (two for long
    /// words), the most common on a tie. Short words are left alone: too many neighbours.
    fn correct(&self, term: &str) -> Option<&str> {
        let len = term.chars().count();
        if len < 4 || term.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let reach = if len >= 8 { 2 } else { 1 };
        self.document_frequency
            .iter()
            .filter(|(word, _)| word.len().abs_diff(term.len()) <= reach)
            .map(|(word, df)| (strsim::osa_distance(word, term), *df, word.as_str()))
            .filter(|(distance, ..)| *distance <= reach)
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)))
            .map(|(.., word)| word)
    }
}

/// One word of a question: the terms that satisfy it, with how much each counts (the word
/// itself 1, a corrected typo less, a synonym less still), and its weight in the question.
struct Slot {
    alternatives: Vec<(String, f64)>,
    idf: f64,
}

/// A question's words as one language's index sees them.
fn slots(stats: &Stats, query: &str, lang: Lang) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for term in terms(query, lang) {
        if seen.contains(&term) {
            continue;
        }
        seen.push(term.clone());
        let known = stats.document_frequency.contains_key(&term);
        let mut alternatives = Vec::new();
        let head = if known {
            alternatives.push((term.clone(), 1.0));
            term
        } else if let Some(corrected) = stats.correct(&term) {
            alternatives.push((corrected.to_owned(), CORRECTED_WEIGHT));
            corrected.to_owned()
        } else {
            term
        };
        for other in related(&head, lang) {
            if stats.document_frequency.contains_key(other)
                && !alternatives.iter().any(|(t, _)| t == other)
            {
                alternatives.push((other.clone(), SYNONYM_WEIGHT));
            }
        }
        out.push(Slot {
            idf: stats.idf(&head),
            alternatives,
        });
    }
    out
}

/// The BM25 index of a knowledge base's passages.
#[derive(Debug, Clone, Default)]
pub struct Index {
    docs: Vec<Doc>,
    stats: HashMap<Lang, Stats>,
}

/// A passage and how well it matches.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub passage: &'a Passage,
    /// BM25 (0 when the passage shares no word with the question).
    pub score: f64,
    /// Share of the question's weight this passage contains (0–1).
    pub coverage: f64,
    /// The semantic similarity to the question, when a model is loaded.
    pub cosine: Option<f32>,
    /// The section's place in the lexical ranking (0 = best), if it matched any word.
    pub lexical_rank: Option<usize>,
    /// What the ranking is by: BM25 alone, or the fused ranks.
    pub fused: f64,
}

/// What the knowledge base says to a question.
#[derive(Debug, Clone)]
pub enum Answer<'a> {
    /// This section answers it.
    Found(Hit<'a>),
    /// Nothing matches well enough: the best candidate, if any, for the record, and the
    /// plausible ones (at most [`MAX_OFFERS`]) the customer may be asking about.
    NotSure {
        best: Option<Hit<'a>>,
        offers: Vec<Hit<'a>>,
    },
}

impl Index {
    pub fn build(passages: &[Passage]) -> Self {
        let mut docs = Vec::with_capacity(passages.len());
        let mut stats: HashMap<Lang, Stats> = HashMap::new();
        for passage in passages {
            let mut counts: HashMap<String, f64> = HashMap::new();
            let topic = std::iter::once(&passage.heading).chain(&passage.also_asked);
            for line in topic {
                for term in terms(line, passage.language) {
                    *counts.entry(term).or_default() += HEADING_WEIGHT;
                }
            }
            for term in terms(&passage.text, passage.language) {
                *counts.entry(term).or_default() += 1.0;
            }
            let language = stats.entry(passage.language).or_default();
            for term in counts.keys() {
                *language.document_frequency.entry(term.clone()).or_default() += 1;
            }
            let length = counts.values().sum();
            language.passages += 1;
            language.average_length += length;
            docs.push(Doc {
                terms: counts,
                length,
            });
        }
        for language in stats.values_mut() {
            language.average_length /= language.passages.max(1) as f64;
        }
        Self { docs, stats }
    }

    /// The languages to search for a customer writing in `lang`, and whether that is a
    /// fallback to other languages.
    fn targets(&self, lang: Lang) -> (Vec<Lang>, bool) {
        if self.stats.contains_key(&lang) {
            return (vec![lang], false);
        }
        let mut all: Vec<Lang> = self.stats.keys().copied().collect();
        all.sort();
        (all, true)
    }

    /// Every matching passage in the target languages, best first, one per section; and
    /// whether those are other languages than the customer's.
    pub fn rank<'a>(
        &self,
        passages: &'a [Passage],
        query: &str,
        lang: Lang,
    ) -> (Vec<Hit<'a>>, bool) {
        let (targets, cross) = self.targets(lang);
        let mut hits: Vec<Hit<'a>> = Vec::new();
        for target in targets {
            let stats = &self.stats[&target];
            let slots = slots(stats, query, target);
            let total: f64 = slots.iter().map(|slot| slot.idf).sum();
            if total <= 0.0 {
                continue;
            }
            for (passage, doc) in passages.iter().zip(&self.docs) {
                if passage.language != target {
                    continue;
                }
                let norm = K1 * (1.0 - B + B * doc.length / stats.average_length.max(1.0));
                let (mut score, mut covered) = (0.0_f64, 0.0);
                for slot in &slots {
                    // The best-matching alternative answers for the word.
                    let best = slot
                        .alternatives
                        .iter()
                        .filter_map(|(term, weight)| {
                            let tf = doc.terms.get(term)?;
                            let bm25 = stats.idf(term) * tf * (K1 + 1.0) / (tf + norm);
                            Some((weight * bm25, *weight))
                        })
                        .max_by(|a, b| a.0.total_cmp(&b.0));
                    if let Some((contribution, weight)) = best {
                        score += contribution;
                        covered += weight * slot.idf;
                    }
                }
                if score > 0.0 {
                    hits.push(Hit {
                        passage,
                        score,
                        coverage: covered / total,
                        cosine: None,
                        lexical_rank: None,
                        fused: score,
                    });
                }
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        one_per_section(&mut hits, |hit| hit.passage);
        for (rank, hit) in hits.iter_mut().enumerate() {
            hit.lexical_rank = Some(rank);
        }
        (hits, cross)
    }
}

/// The answer the ranked `hits` give: the best section if it covers enough of the question
/// and leads the runner-up, else not sure. `cross`: the sections are in another language than
/// the customer's.
pub fn decide<'a>(hits: &[Hit<'a>], cross: bool) -> Answer<'a> {
    let Some(best) = hits.first().copied() else {
        return Answer::NotSure {
            best: None,
            offers: Vec::new(),
        };
    };
    if let Some(cosine) = best.cosine {
        // Hybrid: the meaning matches clearly better than any other section's, or the words
        // match well and both rankings agree on the section.
        let runner_up = hits.get(1).and_then(|h| h.cosine).unwrap_or(0.0);
        let semantic = cosine >= MIN_COSINE && cosine - runner_up >= MIN_COSINE_LEAD;
        let lexical = best.coverage >= MIN_AGREED_COVERAGE && best.lexical_rank == Some(0);
        return if semantic || lexical {
            Answer::Found(best)
        } else {
            not_sure(hits)
        };
    }
    let needed = if cross {
        MIN_CROSS_COVERAGE
    } else {
        MIN_COVERAGE
    };
    let leads = hits
        .get(1)
        .is_none_or(|second| best.score >= MIN_LEAD * second.score);
    if best.coverage >= needed && leads {
        Answer::Found(best)
    } else {
        not_sure(hits)
    }
}

/// Topics offered with a "not sure" reply, at most.
pub const MAX_OFFERS: usize = 3;
/// What makes a candidate plausible enough to offer: a cosine this high with the model (most
/// out-of-scope questions score below it on the tune sets)...
const MIN_OFFER_COSINE: f32 = 0.38;
/// ...or, without the model, this share of the question's weight.
const MIN_OFFER_COVERAGE: f64 = 0.34;

fn not_sure<'a>(hits: &[Hit<'a>]) -> Answer<'a> {
    let offers = hits
        .iter()
        .filter(|h| match h.cosine {
            Some(cosine) => cosine >= MIN_OFFER_COSINE,
            None => h.coverage >= MIN_OFFER_COVERAGE,
        })
        .take(MAX_OFFERS)
        .copied()
        .collect();
    Answer::NotSure {
        best: hits.first().copied(),
        offers,
    }
}
