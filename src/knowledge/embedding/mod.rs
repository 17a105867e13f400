//! Sentence embeddings from a small BERT model run in process (all-MiniLM-L6-v2 by default,
//! 22 M parameters, installed by `scripts/fetch-model` from a PyPI package), for the semantic
//! half of retrieval: a question and a section that mean the same thing get close vectors even
//! when they share no word ("where's my parcel" and "Tracking your order").
//!
//! A model folder holds `config.json`, `model.safetensors` (f32) and `vocab.txt`, as
//! sentence-transformers saves BERT models; `sentence_bert_config.json` may cap the length.

mod bert;
mod wordpiece;

use std::path::Path;

use anyhow::{Context, bail};
use bert::{Bert, Config};
use wordpiece::WordPiece;

/// Longest input when the model folder does not say (what sentence-transformers uses).
const DEFAULT_MAX_TOKENS: usize = 256;

/// A loaded model.
pub struct Embedder {
    tokenizer: WordPiece,
    model: Bert,
    max_tokens: usize,
}

#[derive(serde::Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

impl Embedder {
    /// Loads the model in `folder`.
    pub fn load(folder: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            std::fs::read(folder.join(name))
                .with_context(|| format!("could not read {}", folder.join(name).display()))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .context("config.json is not a BERT configuration")?;
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            bail!("config.json: hidden_size is not a multiple of num_attention_heads");
        }
        let vocab = String::from_utf8(read("vocab.txt")?).context("vocab.txt is not UTF-8")?;
        let tokenizer = WordPiece::from_vocab(&vocab).map_err(anyhow::Error::msg)?;
        let model = Bert::load(config, &read("model.safetensors")?).map_err(anyhow::Error::msg)?;
        let max_tokens = std::fs::read(folder.join("sentence_bert_config.json"))
            .ok()
            .and_then(|raw| serde_json::from_slice::<SentenceConfig>(&raw).ok())
            .map_or(DEFAULT_MAX_TOKENS, |c| c.max_seq_length)
            .min(model.max_tokens());
        Ok(Self {
            tokenizer,
            model,
            max_tokens,
        })
    }

    /// The unit-length vector of `text`.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.model
            .embed(&self.tokenizer.encode(text, self.max_tokens))
    }
}

/// The cosine of two unit-length vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model fetched by `scripts/fetch-model`; `None` (the test is skipped) when it is not
    /// there, unless REQUIRE_MODEL=1 (CI sets it).
    pub fn test_model() -> Option<Embedder> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        if !folder.join("model.safetensors").exists() {
            assert!(
                std::env::var("REQUIRE_MODEL").as_deref() != Ok("1"),
                "REQUIRE_MODEL=1 but {} is missing: run scripts/fetch-model",
                folder.display()
            );
            eprintln!(
                "skipped: no model at {} (scripts/fetch-model)",
                folder.display()
            );
            return None;
        }
        Some(Embedder::load(&folder).unwrap())
    }

    #[test]
    fn vectors_match_the_reference_implementation() {
        let Some(model) = test_model() else { return };
        let reset = model.embed("How do I reset my password?");
        assert_eq!(reset.len(), 384);
        let forgot = model.embed("I forgot my password");
        let hours = model.embed("What are your opening hours?");
        // sentence-transformers gives 0.780 and 0.087 for these pairs.
        assert!(
            (cosine(&reset, &forgot) - 0.780).abs() < 0.005,
            "{}",
            cosine(&reset, &forgot)
        );
        assert!(
            (cosine(&reset, &hours) - 0.087).abs() < 0.005,
            "{}",
            cosine(&reset, &hours)
        );
    }
}
