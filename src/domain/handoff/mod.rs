//! Does a customer's message ask for a human? Two readings, combined:
//!
//! - [`rules`]: per-language lexicons and a shared algorithm (request cues near human
//!   mentions, negation, "a mention is not a request", questions about the assistant). Precise
//!   on what it knows, blind to paraphrase and typos.
//! - [`classifier`]: logistic regression over words, word pairs and character n-grams, with
//!   the rules' verdict as one more feature, trained at first use on the labelled messages in
//!   `data/utterances/` (a few thousand, five languages, half of them hard negatives).
//!
//! The classifier decides. Its figures on a held-out set it never trained on, and how to
//! reproduce them, are in `docs/ASSISTANT.md`.

mod classifier;
#[cfg(test)]
mod labelled;
mod lexicon;
mod rules;

pub use classifier::warm_up;

/// Whether `text` asks to be handed to a human agent, in any supported language.
pub fn asks_for_human(text: &str) -> bool {
    classifier::probability(text) >= classifier::THRESHOLD
}
