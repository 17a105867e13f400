//! The rule-based reading of a customer's message: does it ask for a human? Decided by
//! meaning, not by substring. It is precise on the phrasings its lexicons know; the classifier
//! beside it (`classifier.rs`) takes it as one feature among many and covers paraphrase and typos.
//!
//! Supported languages: English, Spanish, French, German and Portuguese. Each has its own word
//! lists (a [`Lexicon`], in [`lexicon`]); the algorithm below is shared.
//!
//! 1. **Normalise** the message into words: lower case, accents folded by hand ("atención" →
//!    "atencion", "möchte" → "mochte", "ß" → "ss", decomposed accents dropped), English
//!    contractions expanded ("I'd" → "i would", "don't" → "dont"), French elisions split
//!    ("l'agent" → "l agent"). Commas, colons and "¿"/"¡" become clause breaks; full stops,
//!    "!", "?", ";" and line breaks become sentence breaks.
//! 2. **Guess the language**: every lexicon counts the message's words it knows; only the
//!    best-scoring lexicons (all of them on a tie, e.g. "agente por favor" is Spanish or
//!    Portuguese) judge the message. This keeps each language's homographs apart: "no" negates
//!    in English and Spanish but is "in the" in Portuguese; "nem" is German for "einem".
//! 3. In each sentence, find **human mentions**: phrases ("live agent", "atención al cliente")
//!    and words ("human", "persona", "Mitarbeiter", "atendente"), skipping phrases that only
//!    look like one ("human resources", "recursos humanos"). Indefinite pronouns ("someone",
//!    "alguien", "quelqu'un", "jemand", "alguém") are mentions too, but weaker: see below.
//! 4. The sentence asks for a human when
//!    - it is a **bare request**: the whole sentence, or its last clause, is nothing but human
//!      nouns and filler ("human please", "un humain svp", "This bot is useless, human please",
//!      "bitte einen Menschen", "atendente, por favor"); or
//!    - a **request cue** comes at most a few words before a human mention: a *contact* cue
//!      ("talk to", "is there", "hablar con", "passez-moi", "verbinden Sie mich", "falar com"),
//!      or a *desire* cue ("I want", "quiero", "il me faut", "ich brauche", "preciso") unless
//!      the mention is an indefinite pronoun ("I need someone to sign for the parcel" is not a
//!      handoff, "I need to talk to someone" is). The cue must not itself be a noun (no
//!      determiner before it: "the chat with your agent"), no **barrier** may stand between
//!      them (a question about the assistant, "I'd like to know if you are a person"; a topic,
//!      "complain about an agent"), and no **negation** ("don't", "no", "pas", "keinen", "não")
//!      may precede the mention in its clause near the cue ("I don't want an agent", but "I
//!      don't want a bot, I want a person" is a request); or
//!    - a **trailing cue** closely follows the mention, for German's verb-final word order
//!      ("Kann ich mit einem Menschen sprechen?"), again without a negation.
//!
//! Mentions without a request ("the representative was rude yesterday"), statements about
//! oneself ("soy una persona real") and questions about the assistant ("êtes-vous un robot ?",
//! "bist du ein Mensch?") therefore do not hand off.
//!
//! It runs on every customer message, so the work is linear scans of short static word lists
//! over the message's words, a few small vectors per call, and no regular expressions.

use super::lexicon::{LEXICONS, Lexicon, Phrase};
use crate::domain::features::push_folded;

/// Token that separates clauses ("no, I want a human").
const CLAUSE_BREAK: &str = ",";
/// Token that separates sentences ("I want a refund. The agent was rude.").
const SENTENCE_BREAK: &str = ".";
/// How many words before a human noun a request cue may start.
const LEADING_WINDOW: usize = 7;
/// How many words after a human noun a trailing cue may come.
const TRAILING_WINDOW: usize = 3;
/// How many words before a cue a negation still cancels it ("I really don't want to talk to…").
const NEGATION_REACH: usize = 3;

/// French elided words, split off before the apostrophe ("l'agent" → "l", "agent").
const ELISIONS: &[&str] = &[
    "l", "d", "j", "n", "m", "t", "s", "c", "qu", "jusqu", "lorsqu", "puisqu", "quelqu",
];

/// Whether `text` asks to be handed to a human agent by the rules alone, in any supported
/// language: a sentence that is a bare request, or a request cue governing a human mention.
/// (The classifier reads the same verdict from the signals it already has.)
#[cfg(test)]
pub fn asks_for_human(text: &str) -> bool {
    signals_ask(&signals(text))
}

/// What the lexicons see in `text`, as tags for the classifier: which kinds of words occur
/// (a human noun, "someone", a contact or desire cue, a negation, a barrier), whether a cue
/// governs a mention, and whether the message is a bare request. They generalise across
/// languages: "hablar con" and "verbinden Sie mich" are both a contact cue.
pub fn signals(text: &str) -> Vec<&'static str> {
    let words = normalise(text);
    let scores = LEXICONS.map(|lexicon| words.iter().filter(|w| lexicon.knows(w)).count());
    let best = scores.iter().copied().max().unwrap_or(0);
    let mut tags = Vec::new();
    if best == 0 {
        return tags;
    }
    let mut tag = |t: &'static str| {
        if !tags.contains(&t) {
            tags.push(t);
        }
    };
    for (lexicon, _) in LEXICONS.iter().zip(scores).filter(|&(_, s)| s == best) {
        for sentence in words.split(|w| w == SENTENCE_BREAK) {
            let mentions = human_mentions(lexicon, sentence);
            for m in &mentions {
                tag(if m.indefinite { "someone" } else { "human" });
                if cue_before(lexicon, sentence, *m) || cue_after(lexicon, sentence, *m) {
                    tag(if m.indefinite {
                        "cue-someone"
                    } else {
                        "cue-human"
                    });
                }
            }
            if !mentions.is_empty() && is_bare_request(lexicon, sentence, &mentions) {
                tag("bare");
            }
            for at in 0..sentence.len() {
                let starts =
                    |phrases: &[Phrase]| phrases.iter().any(|p| starts_with_at(sentence, at, p));
                if starts(lexicon.contact_cues) {
                    tag("contact");
                }
                if starts(lexicon.desire_cues) {
                    tag("desire");
                }
                if barrier_at(lexicon, sentence, at) {
                    tag("barrier");
                }
                if is_negation(lexicon, &sentence[at]) {
                    tag("negation");
                }
            }
        }
    }
    tags
}

/// The rules' verdict from their [`signals`]: a bare request, or a cue governing a mention.
pub fn signals_ask(tags: &[&str]) -> bool {
    tags.iter()
        .any(|t| matches!(*t, "bare" | "cue-human" | "cue-someone"))
}

/// Turns "I'd like to TALK to a Human, NOW!" into
/// ["i", "would", "like", "to", "talk", "to", "a", "human", ",", "now"].
fn normalise(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '’' | '‘' | '`' => word.push('\''),
            // Combining accents (decomposed "é"): dropped, which folds them.
            '\u{300}'..='\u{36f}' => {}
            c if c.is_alphanumeric() => push_folded(&mut word, c),
            _ => {
                flush_word(&mut words, &mut word);
                match c {
                    ',' | ':' | '¿' | '¡' => push_break(&mut words, CLAUSE_BREAK),
                    '.' | '!' | '?' | ';' | '…' | '\n' => push_break(&mut words, SENTENCE_BREAK),
                    _ => {}
                }
            }
        }
    }
    flush_word(&mut words, &mut word);
    if words.last().is_some_and(|w| is_break(w)) {
        words.pop();
    }
    words
}

fn is_break(word: &str) -> bool {
    word == CLAUSE_BREAK || word == SENTENCE_BREAK
}

/// Adds a break between words: never first, never twice (a sentence break wins).
fn push_break(words: &mut Vec<String>, kind: &str) {
    let Some(last) = words.last_mut() else {
        return;
    };
    if !is_break(last) {
        words.push(kind.to_owned());
    } else if kind == SENTENCE_BREAK {
        kind.clone_into(last);
    }
}

/// Moves the word being built into `words`, resolving apostrophes.
fn flush_word(words: &mut Vec<String>, word: &mut String) {
    let raw = std::mem::take(word);
    let raw = raw.trim_matches('\'');
    if raw.is_empty() {
        return;
    }
    let expansion: &[&str] = match raw {
        "i'd" => &["i", "would"],
        "i'm" => &["i", "am"],
        "you're" => &["you", "are"],
        "can't" | "cannot" => &["cant"],
        "won't" => &["wont"],
        "isn't" => &["is", "not"],
        "aren't" => &["are", "not"],
        "wasn't" => &["was", "not"],
        "weren't" => &["were", "not"],
        _ => &[],
    };
    if !expansion.is_empty() {
        words.extend(expansion.iter().map(|w| (*w).to_owned()));
        return;
    }
    if let Some((prefix, rest)) = raw.split_once('\'')
        && ELISIONS.contains(&prefix)
    {
        words.push(prefix.to_owned());
        words.push(rest.replace('\'', ""));
        return;
    }
    words.push(raw.replace('\'', ""));
}

fn starts_with_at(words: &[String], at: usize, phrase: Phrase) -> bool {
    words
        .get(at..at + phrase.len())
        .is_some_and(|slice| slice.iter().zip(phrase).all(|(w, p)| w == p))
}

/// A human noun or phrase: where it starts, how many words it spans, and whether it is an
/// indefinite pronoun ("someone"), which only contact cues reach.
#[derive(Debug, Clone, Copy)]
struct Mention {
    at: usize,
    len: usize,
    indefinite: bool,
}

fn human_mentions(lexicon: &Lexicon, words: &[String]) -> Vec<Mention> {
    let phrase_at = |phrases: &[Phrase], at| {
        phrases
            .iter()
            .find(|p| starts_with_at(words, at, p))
            .map(|p| p.len())
    };
    let mut mentions = Vec::new();
    let mut at = 0;
    while at < words.len() {
        if let Some(len) = phrase_at(lexicon.not_human_phrases, at) {
            at += len;
        } else if let Some(len) = phrase_at(lexicon.human_phrases, at) {
            mentions.push(Mention {
                at,
                len,
                indefinite: false,
            });
            at += len;
        } else if let Some(len) = phrase_at(lexicon.indefinite_humans, at) {
            mentions.push(Mention {
                at,
                len,
                indefinite: true,
            });
            at += len;
        } else {
            if lexicon.human_words.contains(&words[at].as_str()) {
                mentions.push(Mention {
                    at,
                    len: 1,
                    indefinite: false,
                });
            }
            at += 1;
        }
    }
    mentions
}

/// "human please", "un humain, vite", "This bot is useless, human please": the sentence, or its
/// last clause, is only human nouns and filler.
fn is_bare_request(lexicon: &Lexicon, words: &[String], mentions: &[Mention]) -> bool {
    let mut covered = vec![false; words.len()];
    for mention in mentions {
        covered[mention.at..mention.at + mention.len].fill(true);
    }
    let is_bare = |from: usize| {
        (from..words.len()).all(|i| {
            covered[i] || words[i] == CLAUSE_BREAK || lexicon.fillers.contains(&words[i].as_str())
        }) && !(from..words.len()).any(|i| barrier_at(lexicon, words, i))
    };
    let last_clause = clause_start(words, words.len());
    is_bare(0) || (mentions.iter().any(|m| m.at >= last_clause) && is_bare(last_clause))
}

fn barrier_at(lexicon: &Lexicon, words: &[String], at: usize) -> bool {
    lexicon
        .barriers
        .iter()
        .any(|barrier| starts_with_at(words, at, barrier))
}

fn is_negation(lexicon: &Lexicon, word: &str) -> bool {
    lexicon.negations.contains(&word)
}

/// Where the clause containing position `at` starts.
fn clause_start(words: &[String], at: usize) -> usize {
    words[..at]
        .iter()
        .rposition(|w| w == CLAUSE_BREAK)
        .map_or(0, |i| i + 1)
}

/// A request cue shortly before the human mention governs it.
fn cue_before(lexicon: &Lexicon, words: &[String], mention: Mention) -> bool {
    let noun = mention.at;
    let clause_start = clause_start(words, noun);
    let desire_cues = if mention.indefinite {
        &[][..]
    } else {
        lexicon.desire_cues
    };
    (noun.saturating_sub(LEADING_WINDOW)..noun).any(|cue_at| {
        let Some(cue) = lexicon
            .contact_cues
            .iter()
            .chain(desire_cues)
            .find(|cue| starts_with_at(words, cue_at, cue))
        else {
            return false;
        };
        let cue_end = cue_at + cue.len();
        if cue_end > noun {
            return false;
        }
        // "the chat with your agent", "ma demande": the cue word is a noun here, not a verb.
        if cue_at > 0 && lexicon.determiners.contains(&words[cue_at - 1].as_str()) {
            return false;
        }
        if (cue_end..noun).any(|at| barrier_at(lexicon, words, at)) {
            return false;
        }
        // Negations count only in the noun's clause: "No, I want a human" is a request.
        let from = cue_at.saturating_sub(NEGATION_REACH).max(clause_start);
        !words[from..noun].iter().any(|w| is_negation(lexicon, w))
    })
}

/// A trailing cue right after the human noun governs it ("mit einem Menschen sprechen").
fn cue_after(lexicon: &Lexicon, words: &[String], mention: Mention) -> bool {
    let end = mention.at + mention.len;
    let Some(offset) = words[end..]
        .iter()
        .take(TRAILING_WINDOW)
        .take_while(|w| !is_break(w))
        .position(|w| lexicon.trailing_cues.contains(&w.as_str()))
    else {
        return false;
    };
    let from = mention
        .at
        .saturating_sub(NEGATION_REACH)
        .max(clause_start(words, mention.at));
    !words[from..end + offset]
        .iter()
        .any(|w| is_negation(lexicon, w))
}

#[cfg(test)]
mod tests {
    use super::super::labelled::LABELLED;
    use super::*;
    use crate::domain::language::Lang;

    #[test]
    fn labelled_set_is_large_and_balanced_per_language() {
        assert!(LABELLED.len() >= 200, "{} utterances", LABELLED.len());
        for lang in Lang::ALL {
            let total = LABELLED.iter().filter(|(l, ..)| *l == lang).count();
            let negatives = LABELLED
                .iter()
                .filter(|&&(l, _, expected)| l == lang && !expected)
                .count();
            assert!(total >= 40, "{lang}: only {total} utterances");
            let share = negatives as f64 / total as f64;
            assert!(
                (0.4..=0.6).contains(&share),
                "{lang}: {negatives} of {total} utterances are negatives"
            );
        }
    }

    #[test]
    fn labelled_set_has_no_duplicates() {
        for (i, (_, text, _)) in LABELLED.iter().enumerate() {
            assert!(
                !LABELLED[..i].iter().any(|(_, other, _)| other == text),
                "duplicate: {text}"
            );
        }
    }

    #[test]
    fn precision_and_recall_per_language() {
        println!("lang  total  pos  neg   tp  fp  fn  precision  recall");
        let mut misclassified = Vec::new();
        let mut failing = Vec::new();
        for lang in Lang::ALL {
            let (mut tp, mut fp, mut fn_, mut tn) = (0_u32, 0_u32, 0_u32, 0_u32);
            for &(l, text, expected) in LABELLED.iter().filter(|(l, ..)| *l == lang) {
                let got = asks_for_human(text);
                match (got, expected) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    (false, false) => tn += 1,
                }
                if got != expected {
                    misclassified.push((l, text, expected));
                }
            }
            let ratio = |num: u32, den: u32| {
                if den == 0 {
                    1.0
                } else {
                    f64::from(num) / f64::from(den)
                }
            };
            let precision = ratio(tp, tp + fp);
            let recall = ratio(tp, tp + fn_);
            println!(
                "{lang:<4}  {:>5}  {:>3}  {:>3}  {tp:>3}  {fp:>2}  {fn_:>2}  {precision:>9.3}  {recall:>6.3}",
                tp + fp + fn_ + tn,
                tp + fn_,
                fp + tn,
            );
            if precision < 0.95 || recall < 0.95 {
                failing.push(lang);
            }
        }
        if misclassified.is_empty() {
            println!("misclassified: none");
        }
        for (lang, text, expected) in &misclassified {
            let kind = if *expected {
                "missed request"
            } else {
                "false request"
            };
            println!("misclassified [{lang}] {kind}: {text}");
        }
        assert!(
            failing.is_empty(),
            "precision or recall below 0.95 for {failing:?}"
        );
    }

    #[test]
    fn normalisation_handles_contractions_and_punctuation() {
        assert_eq!(
            normalise("I'd like, NOW!"),
            ["i", "would", "like", ",", "now"]
        );
        assert_eq!(normalise("don’t"), ["dont"]);
        assert_eq!(normalise("isn't"), ["is", "not"]);
        assert_eq!(normalise("Hi. Human?!"), ["hi", ".", "human"]);
        assert_eq!(normalise(", ... ,"), Vec::<String>::new());
    }

    #[test]
    fn normalisation_folds_accents_and_splits_elisions() {
        assert_eq!(
            normalise("¿Podría hablar con atención al cliente?"),
            ["podria", "hablar", "con", "atencion", "al", "cliente"]
        );
        assert_eq!(
            normalise("Ich möchte MIT der Straße"),
            ["ich", "mochte", "mit", "der", "strasse"]
        );
        assert_eq!(
            normalise("Je n'ai pas besoin d'un conseiller, quelqu’un d’autre"),
            [
                "je",
                "n",
                "ai",
                "pas",
                "besoin",
                "d",
                "un",
                "conseiller",
                ",",
                "quelqu",
                "un",
                "d",
                "autre"
            ]
        );
        assert_eq!(normalise("Não, obrigação"), ["nao", ",", "obrigacao"]);
        // Decomposed accents (e + combining acute) fold the same way.
        assert_eq!(normalise("atencio\u{301}n"), ["atencion"]);
    }

    #[test]
    fn lexicon_entries_are_in_normalised_form() {
        let all_words = LEXICONS.iter().flat_map(|lexicon| {
            let phrases = [
                lexicon.human_phrases,
                lexicon.indefinite_humans,
                lexicon.not_human_phrases,
                lexicon.contact_cues,
                lexicon.desire_cues,
                lexicon.barriers,
            ];
            let lists = [
                lexicon.human_words,
                lexicon.trailing_cues,
                lexicon.negations,
                lexicon.determiners,
                lexicon.fillers,
            ];
            phrases
                .into_iter()
                .flatten()
                .flat_map(|phrase| phrase.iter())
                .chain(lists.into_iter().flatten())
        });
        for word in all_words {
            assert_eq!(normalise(word), [*word], "lexicon entry {word:?}");
        }
    }

    #[test]
    fn language_is_guessed_from_the_words() {
        // "no" negates in Spanish but is "in the" in Portuguese.
        assert!(!asks_for_human("No quiero transferir a un agente"));
        assert!(asks_for_human("Quero falar no chat com um atendente"));
        // Ambiguous between Spanish and Portuguese: both judge it.
        assert!(asks_for_human("humano, por favor"));
        assert!(!asks_for_human(""));
        assert!(!asks_for_human("?!"));
    }
}
