//! The semantic half of retrieval: every passage (and each of its `Also asked:` phrasings) as
//! a sentence embedding, ranked by cosine against the question, and fused with the lexical
//! ranking by reciprocal rank fusion.

use std::collections::HashMap;
use std::sync::Arc;

use super::embedding::{Embedder, cosine};
use super::index::Hit;
use super::{Passage, one_per_section, section_key};
use crate::domain::language::Lang;

/// RRF's k: small, so the first places weigh much more than the tenth.
const FUSION_K: f64 = 10.0;
/// The semantic ranking counts this much more than the lexical one (chosen on the tune sets).
const SEMANTIC_WEIGHT: f64 = 1.5;

/// The passages' vectors, in passage order.
pub struct Dense {
    embedder: Arc<Embedder>,
    /// Per passage: its heading and text, then each other phrasing.
    vectors: Vec<Vec<Vec<f32>>>,
}

impl Dense {
    /// Embeds every passage (a few milliseconds each in a release build).
    pub fn build(embedder: Arc<Embedder>, passages: &[Passage]) -> Self {
        let vectors = passages
            .iter()
            .map(|p| {
                if !Self::reads(p.language) {
                    return Vec::new();
                }
                std::iter::once(embedder.embed(&format!("{}\n\n{}", p.heading, p.text)))
                    .chain(p.also_asked.iter().map(|q| embedder.embed(q)))
                    .collect()
            })
            .collect();
        Self { embedder, vectors }
    }

    /// Whether the model reads `lang` (the shipped model is English-only).
    pub fn reads(lang: Lang) -> bool {
        lang == Lang::En
    }

    /// Every passage in `lang` with its cosine to `query`, best first, one per section.
    fn rank<'a>(
        &self,
        passages: &'a [Passage],
        query: &str,
        lang: Lang,
    ) -> Vec<(&'a Passage, f32)> {
        let question = self.embedder.embed(query);
        let mut ranked: Vec<(&Passage, f32)> = passages
            .iter()
            .zip(&self.vectors)
            .filter(|(p, _)| p.language == lang)
            .map(|(p, vectors)| {
                let best = vectors
                    .iter()
                    .map(|v| cosine(&question, v))
                    .fold(f32::MIN, f32::max);
                (p, best)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        one_per_section(&mut ranked, |(p, _)| p);
        ranked
    }

    /// The lexical hits and the semantic ranking of `query`, fused: each section scores
    /// `1/(k + lexical rank) + w/(k + semantic rank)`. Every section appears, with its cosine.
    pub fn fuse<'a>(
        &self,
        passages: &'a [Passage],
        lexical: Vec<Hit<'a>>,
        query: &str,
        lang: Lang,
    ) -> Vec<Hit<'a>> {
        let semantic = self.rank(passages, query, lang);
        let by_section: HashMap<_, (usize, &Hit<'a>)> = lexical
            .iter()
            .enumerate()
            .map(|(lexical_rank, hit)| (section_key(hit.passage), (lexical_rank, hit)))
            .collect();
        let mut fused: Vec<Hit<'a>> = semantic
            .iter()
            .enumerate()
            .map(|(rank, &(passage, cos))| {
                let mut hit = match by_section.get(&section_key(passage)) {
                    Some(&(lexical_rank, &hit)) => Hit {
                        fused: 1.0 / (FUSION_K + lexical_rank as f64 + 1.0),
                        ..hit
                    },
                    None => Hit {
                        passage,
                        score: 0.0,
                        coverage: 0.0,
                        cosine: None,
                        lexical_rank: None,
                        fused: 0.0,
                    },
                };
                hit.cosine = Some(cos);
                hit.fused += SEMANTIC_WEIGHT / (FUSION_K + rank as f64 + 1.0);
                hit
            })
            .collect();
        fused.sort_by(|a, b| b.fused.total_cmp(&a.fused));
        fused
    }
}
