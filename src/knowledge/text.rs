//! Turning text into index terms, per language: words, minus stop words, Snowball-stemmed
//! (rust-stemmers), with accents folded after stemming so "envío" and a typed "envio" meet.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::domain::features::{fold, words};
use crate::domain::language::Lang;

/// Words too common to tell passages apart, per language (accent-folded, as compared).
fn stop_words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => &[
            "a",
            "about",
            "after",
            "again",
            "all",
            "also",
            "am",
            "an",
            "and",
            "any",
            "are",
            "as",
            "at",
            "be",
            "been",
            "before",
            "being",
            "both",
            "but",
            "by",
            "can",
            "could",
            "did",
            "do",
            "does",
            "doing",
            "each",
            "for",
            "from",
            "further",
            "get",
            "got",
            "had",
            "has",
            "have",
            "having",
            "he",
            "her",
            "here",
            "hers",
            "him",
            "his",
            "how",
            "i",
            "i'd",
            "i'm",
            "i've",
            "if",
            "in",
            "into",
            "is",
            "it",
            "it's",
            "its",
            "just",
            "me",
            "more",
            "most",
            "my",
            "myself",
            "no",
            "nor",
            "not",
            "now",
            "of",
            "off",
            "on",
            "once",
            "only",
            "or",
            "other",
            "our",
            "ours",
            "out",
            "over",
            "own",
            "same",
            "she",
            "should",
            "so",
            "some",
            "such",
            "than",
            "that",
            "that's",
            "the",
            "their",
            "them",
            "then",
            "there",
            "these",
            "they",
            "this",
            "those",
            "through",
            "to",
            "too",
            "under",
            "until",
            "up",
            "very",
            "was",
            "we",
            "were",
            "what",
            "what's",
            "when",
            "where",
            "where's",
            "which",
            "while",
            "who",
            "whom",
            "why",
            "will",
            "with",
            "would",
            "you",
            "your",
            "yours",
            "yourself",
            "hi",
            "hello",
            "hey",
            "thanks",
            "thank",
            "please",
            "pls",
            "plz",
            "ok",
            "okay",
            "u",
            "ur",
            "im",
            "ive",
            "id",
            "dont",
            "cant",
            "yes",
            "yeah",
            "still",
            "really",
            "actually",
            "want",
            "need",
            "know",
            "tell",
            "wondering",
            "question",
            "anyone",
            "someone",
            "something",
            "thing",
            "things",
            "way",
            "much",
            "many",
            "there's",
            "guys",
            "bit",
            "already",
            "even",
            "ever",
            "like",
            "one",
            "ask",
            "asking",
        ],
        Lang::Es => &[
            "a", "al", "algo", "algun", "alguna", "alguno", "ante", "como", "con", "cual",
            "cuando", "de", "del", "desde", "donde", "el", "ella", "ellos", "en", "entre", "era",
            "es", "esa", "ese", "eso", "esta", "estan", "estar", "este", "esto", "estoy", "fue",
            "ha", "hace", "hay", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis",
            "mucho", "muy", "nada", "ni", "no", "nos", "o", "os", "para", "pero", "poco", "por",
            "porque", "que", "quien", "se", "ser", "si", "sin", "sobre", "son", "su", "sus",
            "tambien", "te", "tengo", "tiene", "todo", "tu", "tus", "un", "una", "uno", "unos",
            "usted", "y", "ya", "yo", "hola", "gracias", "favor", "puedo", "puede", "pueden",
            "quiero", "quisiera", "necesito", "saber", "hacer", "buenas", "buenos", "dias",
        ],
        Lang::Fr => &[
            "a", "ai", "au", "aux", "avec", "c", "ce", "ces", "cet", "cette", "d", "dans", "de",
            "des", "du", "elle", "en", "est", "et", "etre", "eu", "il", "ils", "j", "je", "l",
            "la", "le", "les", "leur", "lui", "m", "ma", "mais", "me", "mes", "moi", "mon", "n",
            "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui",
            "s", "sa", "se", "ses", "son", "sont", "sur", "t", "ta", "te", "tes", "toi", "ton",
            "tu", "un", "une", "vos", "votre", "vous", "y", "bonjour", "merci", "svp", "plait",
            "peux", "peut", "pouvez", "voudrais", "veux", "faut", "faire", "savoir", "comment",
            "quand", "quel", "quelle", "quels", "quelles", "est-ce", "ca", "cela", "tres", "aussi",
            "si", "alors",
        ],
        Lang::De => &[
            "aber", "alle", "als", "also", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis",
            "bitte", "da", "das", "dass", "dem", "den", "der", "des", "die", "dies", "diese",
            "dieser", "doch", "du", "ein", "eine", "einem", "einen", "einer", "es", "fur", "gibt",
            "habe", "haben", "hallo", "hat", "ich", "ihr", "ihre", "im", "in", "ist", "ja", "kann",
            "konnen", "konnte", "man", "mein", "meine", "meinen", "mich", "mir", "mit", "mochte",
            "muss", "nach", "nicht", "noch", "nur", "ob", "oder", "sein", "sie", "sind", "so",
            "uber", "um", "und", "uns", "unser", "von", "vor", "war", "was", "weil", "wenn", "wer",
            "wie", "wir", "wird", "wo", "zu", "zum", "zur", "danke", "guten", "tag", "wann",
            "warum", "welche", "welcher", "sehr", "schon", "gerne",
        ],
        Lang::Pt => &[
            "a", "ao", "aos", "as", "com", "como", "da", "das", "de", "do", "dos", "e", "ela",
            "ele", "eles", "em", "entre", "era", "essa", "esse", "esta", "estou", "eu", "foi",
            "ha", "isso", "isto", "ja", "lhe", "mais", "mas", "me", "meu", "minha", "muito", "na",
            "nao", "nas", "nem", "no", "nos", "o", "os", "ou", "para", "pela", "pelo", "por",
            "pra", "qual", "quando", "que", "quem", "se", "sem", "ser", "seu", "sua", "tem",
            "tenho", "um", "uma", "voce", "voces", "ola", "oi", "obrigado", "obrigada", "favor",
            "posso", "pode", "podem", "quero", "queria", "gostaria", "preciso", "saber", "fazer",
            "bom", "boa", "dia", "tudo", "onde",
        ],
    }
}

fn algorithm(lang: Lang) -> Algorithm {
    match lang {
        Lang::En => Algorithm::English,
        Lang::Es => Algorithm::Spanish,
        Lang::Fr => Algorithm::French,
        Lang::De => Algorithm::German,
        Lang::Pt => Algorithm::Portuguese,
    }
}

static STEMMERS: LazyLock<Vec<Stemmer>> = LazyLock::new(|| {
    Lang::ALL
        .iter()
        .map(|l| Stemmer::create(algorithm(*l)))
        .collect()
});

/// The index terms of `text` read as `lang`, in order, with repeats.
pub fn terms(text: &str, lang: Lang) -> Vec<String> {
    let stop = stop_words(lang);
    let stemmer = &STEMMERS[lang as usize];
    words(text)
        .into_iter()
        .map(|w| w.replace('’', "'"))
        // French elisions: "l'échange" is "échange".
        .map(|w| match w.split_once('\'') {
            Some((head, tail)) if lang == Lang::Fr && head.chars().count() <= 2 => tail.to_owned(),
            _ => w,
        })
        .filter(|w| !stop.contains(&fold(w).as_str()))
        .map(|w| fold(&stemmer.stem(&w)))
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_and_missing_accents_meet() {
        assert_eq!(terms("refunds", Lang::En), terms("refunded", Lang::En));
        assert_eq!(terms("envío", Lang::Es), terms("envio", Lang::Es));
        assert_eq!(terms("Where is my order?", Lang::En), ["order"]);
        assert_eq!(terms("l'échange", Lang::Fr), terms("échanges", Lang::Fr));
    }
}
