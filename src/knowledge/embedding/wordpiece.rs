//! BERT's uncased WordPiece tokenizer, as the sentence-transformers models use it: clean,
//! lower-case, strip accents, split on whitespace and punctuation, then cut each word into the
//! longest pieces the vocabulary (`vocab.txt`) knows.
//!
//! One simplification against the reference implementation: every character that is neither a
//! letter, a digit nor whitespace splits as punctuation (the reference keeps symbols such as
//! "€" attached to the word); such words are rare in customer messages and FAQ text.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest word cut into pieces; longer ones are `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

pub struct WordPiece {
    ids: HashMap<String, u32>,
    unknown: u32,
    pub cls: u32,
    pub sep: u32,
}

impl WordPiece {
    /// The tokenizer of a `vocab.txt` (one token per line; the line number is its id).
    pub fn from_vocab(vocab: &str) -> Result<Self, String> {
        let ids: HashMap<String, u32> = vocab
            .lines()
            .enumerate()
            .map(|(n, token)| (token.to_owned(), n as u32))
            .collect();
        let special = |token: &str| {
            ids.get(token)
                .copied()
                .ok_or_else(|| format!("the vocabulary has no {token}"))
        };
        Ok(Self {
            unknown: special("[UNK]")?,
            cls: special("[CLS]")?,
            sep: special("[SEP]")?,
            ids,
        })
    }

    /// The words of `text` after cleaning, lower-casing and accent stripping.
    fn words(text: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let lowered: String = text
            .to_lowercase()
            .nfd()
            .filter(|c| !is_combining_mark(*c))
            .collect();
        for c in lowered.chars() {
            if c.is_whitespace() || c.is_control() || c == '\u{fffd}' {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else if c.is_alphanumeric() {
                word.push(c);
            } else {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    /// The pieces of one word, greedily longest first; `[UNK]` when it cannot be cut.
    fn pieces(&self, word: &str, out: &mut Vec<u32>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            out.push(self.unknown);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let found = loop {
                if end == start {
                    break None;
                }
                let piece: String = chars[start..end].iter().collect();
                let key = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece
                };
                if let Some(id) = self.ids.get(&key) {
                    break Some(*id);
                }
                end -= 1;
            };
            match found {
                Some(id) => pieces.push(id),
                None => {
                    out.push(self.unknown);
                    return;
                }
            }
            start = end;
        }
        out.extend(pieces);
    }

    /// `[CLS]`, the pieces of `text` (at most `max_len - 2`), `[SEP]`.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut ids = vec![self.cls];
        for word in Self::words(text) {
            self.pieces(&word, &mut ids);
            if ids.len() >= max_len - 1 {
                ids.truncate(max_len - 1);
                break;
            }
        }
        ids.push(self.sep);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_cut_into_known_pieces() {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nun\n##aff\n##able\ncafe\n";
        let wp = WordPiece::from_vocab(vocab).unwrap();
        assert_eq!(
            wp.encode("Hello, unaffable Café!", 32),
            [2, 4, 5, 6, 7, 8, 9, 1, 3]
        );
        assert_eq!(wp.encode("hello hello hello", 4), [2, 4, 4, 3]);
    }
}
