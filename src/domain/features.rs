//! Text features for the small statistical models (language identification, hand-off
//! detection): words, word pairs and character n-grams, hashed to `u32` ids.
//!
//! Character n-grams are what make the models robust to typos and inflection ("ablar",
//! "hablar" and "hablarle" share most of theirs); words and word pairs carry the phrasing
//! ("no need", "call me back").

/// One kind of feature, mixed into its hash so a word and an n-gram never collide by design.
#[derive(Clone, Copy)]
enum Kind {
    Word = 1,
    Pair = 2,
    Gram = 3,
    Tag = 4,
}

/// The feature id of a named tag (a signal computed elsewhere, such as "negation").
pub fn tag(name: &str) -> u32 {
    hash(Kind::Tag, &[name])
}

/// FNV-1a over the kind and the text.
fn hash(kind: Kind, parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |byte: u8| {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    };
    eat(kind as u8);
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            eat(b' ');
        }
        part.bytes().for_each(&mut eat);
    }
    h
}

/// Lower-cases `text` and splits it into words (letters, digits and apostrophes inside words).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Folds accents and `ß` so that "atención" and "atencion", "möchte" and "mochte" meet.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        match c {
            '’' => out.push('\''),
            // Combining accents typed as separate characters.
            '\u{300}'..='\u{36f}' => {}
            c => push_folded(&mut out, c),
        }
    }
    out
}

/// Appends `c` without its accent ("é" → "e", "ß" → "ss", "œ" → "oe").
pub fn push_folded(word: &mut String, c: char) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'œ' => "oe",
        'æ' => "ae",
        _ => {
            word.push(c);
            return;
        }
    };
    word.push_str(folded);
}

/// Which features to extract.
#[derive(Debug, Clone, Copy)]
pub struct Extractor {
    /// Character n-gram lengths, inclusive (each word padded with a space on both sides).
    pub grams: (usize, usize),
    /// Also adjacent word pairs.
    pub pairs: bool,
    /// Fold accents first.
    pub fold: bool,
}

impl Extractor {
    /// The feature ids of `text`, with repeats (a count model sees them as counts).
    pub fn extract(&self, text: &str) -> Vec<u32> {
        let words: Vec<String> = words(text)
            .into_iter()
            .map(|w| if self.fold { fold(&w) } else { w })
            .collect();
        let mut out = Vec::with_capacity(words.len() * 8);
        for word in &words {
            out.push(hash(Kind::Word, &[word]));
            let padded: Vec<char> = format!(" {word} ").chars().collect();
            for n in self.grams.0..=self.grams.1 {
                for window in padded.windows(n) {
                    let gram: String = window.iter().collect();
                    if gram.trim().is_empty() {
                        continue;
                    }
                    out.push(hash(Kind::Gram, &[&gram]));
                }
            }
        }
        if self.pairs {
            let edge = "·";
            let mut previous = edge;
            for word in words.iter().map(String::as_str).chain([edge]) {
                out.push(hash(Kind::Pair, &[previous, word]));
                previous = word;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_inner_apostrophes_and_drop_punctuation() {
        assert_eq!(
            words("I'd like a HUMAN, pls!"),
            ["i'd", "like", "a", "human", "pls"]
        );
        assert_eq!(fold("atención möchte groß"), "atencion mochte gross");
    }

    #[test]
    fn typos_share_most_character_grams() {
        let x = Extractor {
            grams: (3, 4),
            pairs: false,
            fold: true,
        };
        let a = x.extract("hablar");
        let b = x.extract("ablar");
        let shared = b.iter().filter(|f| a.contains(f)).count();
        assert!(shared * 2 > b.len(), "{shared} of {}", b.len());
    }
}
