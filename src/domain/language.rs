//! The languages Switchboard speaks to customers in, and telling which one a message is in.
//!
//! Five languages have every customer-facing text and a hand-off lexicon: English, Spanish,
//! French, German and Portuguese. Detection is a naive Bayes model over character 1–4-grams and
//! words, trained at first use on the labelled customer messages in `data/utterances/` (whatlang's
//! general-purpose trigram models were measured first: 83–95 % right on these short messages,
//! against 98–100 % for this model on held-out messages). A short message is often ambiguous,
//! so callers weigh the probability and a session keeps its language until a message is clear.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use super::features::Extractor;

/// A language Switchboard speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Es,
    Fr,
    De,
    Pt,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Es, Lang::Fr, Lang::De, Lang::Pt];

    /// The ISO 639-1 code: `en`, `es`, `fr`, `de`, `pt`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Pt => "pt",
        }
    }

    /// The language of an ISO 639-1 code or a BCP 47 tag (`pt-BR`, `es_MX`), if one of ours.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Labelled customer messages, one file per language (`label<TAB>text`), compiled in: they
/// train the language identifier here and the hand-off classifier.
pub const UTTERANCES: [(Lang, &str); 5] = [
    (Lang::En, include_str!("../../data/utterances/en.tsv")),
    (Lang::Es, include_str!("../../data/utterances/es.tsv")),
    (Lang::Fr, include_str!("../../data/utterances/fr.tsv")),
    (Lang::De, include_str!("../../data/utterances/de.tsv")),
    (Lang::Pt, include_str!("../../data/utterances/pt.tsv")),
];

/// The texts of one language's labelled messages.
pub fn utterances(lang: Lang) -> impl Iterator<Item = (bool, &'static str)> {
    let text = UTTERANCES
        .iter()
        .find(|(l, _)| *l == lang)
        .map_or("", |(_, text)| text);
    text.lines().filter_map(|line| {
        let (label, text) = line.split_once('\t')?;
        Some((label == "1", text))
    })
}

/// Character 1–4-grams and words, accents kept: "ção", "ñ", "ß" and "qu'" are strong clues.
const LANGUAGE_FEATURES: Extractor = Extractor {
    grams: (1, 4),
    pairs: false,
    fold: false,
};

/// Additive smoothing of the naive Bayes counts.
const SMOOTHING: f64 = 0.5;

/// A multinomial naive Bayes model over [`LANGUAGE_FEATURES`].
struct LanguageModel {
    counts: HashMap<u32, [f64; 5]>,
    totals: [f64; 5],
}

impl LanguageModel {
    fn train<'a>(examples: impl Iterator<Item = (Lang, &'a str)>) -> Self {
        let mut counts: HashMap<u32, [f64; 5]> = HashMap::new();
        let mut totals = [0.0; 5];
        for (lang, text) in examples {
            let slot = lang as usize;
            for feature in LANGUAGE_FEATURES.extract(text) {
                counts.entry(feature).or_default()[slot] += 1.0;
                totals[slot] += 1.0;
            }
        }
        Self { counts, totals }
    }

    /// The probability of each language for `text` (uniform prior); `None` with no features.
    fn posterior(&self, text: &str) -> Option<[f64; 5]> {
        let features = LANGUAGE_FEATURES.extract(text);
        if features.is_empty() {
            return None;
        }
        let vocabulary = self.counts.len() as f64;
        let mut log = [0.0; 5];
        for feature in &features {
            let Some(counts) = self.counts.get(feature) else {
                continue;
            };
            for (n, slot) in log.iter_mut().enumerate() {
                *slot += ((counts[n] + SMOOTHING) / (self.totals[n] + SMOOTHING * vocabulary)).ln();
            }
        }
        let best = log.iter().copied().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = log.iter().map(|l| (l - best).exp()).collect();
        let sum: f64 = exp.iter().sum();
        Some(std::array::from_fn(|n| exp[n] / sum))
    }
}

static MODEL: LazyLock<LanguageModel> = LazyLock::new(|| {
    LanguageModel::train(
        Lang::ALL
            .into_iter()
            .flat_map(|lang| utterances(lang).map(move |(_, text)| (lang, text))),
    )
});

/// The language of a customer's message when it says so clearly: a confident reading of at
/// least two words ("ok" or "agent" alone says nothing; "hola" alone is too little to switch
/// a session that is already in another language, but not too little to start with).
pub fn of_message(text: &str) -> Option<Lang> {
    let words = super::features::words(text).len();
    let (lang, p) = detect(text)?;
    (p >= 0.97 && words >= 2 || p >= 0.995).then_some(lang)
}

/// The language to read a question in when nothing else is known about the customer (the
/// knowledge-base tools, a summary's topics): the detected one when fairly sure, else English.
pub fn of_question(text: &str) -> Lang {
    match detect(text) {
        Some((lang, p)) if p >= 0.6 => lang,
        _ => Lang::En,
    }
}

/// Trains the model now rather than on first use.
pub fn warm_up() {
    LazyLock::force(&MODEL);
}

/// The language `text` is most likely written in, with its probability (0–1). Short messages
/// ("ok", "agent") are often ambiguous: callers weigh the probability.
pub fn detect(text: &str) -> Option<(Lang, f64)> {
    let posterior = MODEL.posterior(text)?;
    let (best, p) = posterior
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    Some((Lang::ALL[best], *p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print_accuracy(label: &str, right: &[usize; 5], total: &[usize; 5]) {
        for lang in Lang::ALL {
            let n = lang as usize;
            let share = right[n] as f64 / total[n] as f64;
            println!("{label} {lang}: {share:.3} of {}", total[n]);
        }
    }

    /// Five-fold cross-validation on the training messages, then the held-out messages
    /// (eval/handoff/heldout.tsv, never trained on): accuracy per language.
    #[test]
    #[ignore]
    fn accuracy() {
        let all: Vec<(Lang, &str)> = Lang::ALL
            .into_iter()
            .flat_map(|lang| utterances(lang).map(move |(_, text)| (lang, text)))
            .collect();
        let mut right = [0usize; 5];
        let mut total = [0usize; 5];
        for fold in 0..5 {
            let model = LanguageModel::train(
                all.iter()
                    .enumerate()
                    .filter(|(n, _)| n % 5 != fold)
                    .map(|(_, e)| *e),
            );
            for (_, (lang, text)) in all.iter().enumerate().filter(|(n, _)| n % 5 == fold) {
                total[*lang as usize] += 1;
                let posterior = model.posterior(text).unwrap();
                let best = (0..5)
                    .max_by(|a, b| posterior[*a].total_cmp(&posterior[*b]))
                    .unwrap();
                if best == *lang as usize {
                    right[best] += 1;
                }
            }
        }
        print_accuracy("cv", &right, &total);
        let heldout = std::fs::read_to_string("eval/handoff/heldout.tsv").unwrap();
        let mut right = [0usize; 5];
        let mut total = [0usize; 5];
        for line in heldout.lines() {
            let mut columns = line.split('\t');
            let lang = Lang::from_code(columns.next().unwrap()).unwrap();
            let text = columns.nth(1).unwrap();
            total[lang as usize] += 1;
            if detect(text).is_some_and(|(l, _)| l == lang) {
                right[lang as usize] += 1;
            }
        }
        print_accuracy("held-out", &right, &total);
    }
}
