//! Does a customer's message ask for a human? Decided by meaning, not by substring.
//!
//! The message is normalised (case, punctuation, contractions) into words. It asks for a human
//! when a *request cue* ("talk to", "can I speak with", "get me", "connect me", "I want") governs
//! a *human noun* ("human", "person", "agent", "representative", "someone", "live support"), with
//! no negation between them ("no need for a human", "I don't want an agent"); or when the whole
//! message is little more than such a noun ("human please", "representative!", "live agent").
//! Mentions without a request ("the representative was rude yesterday"), statements about oneself
//! ("I am not a real person") and questions about the assistant ("are you a human?") do not
//! hand off.

/// Words that name a human on our side. Multi-word forms are matched as phrases first.
const HUMAN_PHRASES: &[&[&str]] = &[
    &["live", "support"],
    &["live", "agent"],
    &["live", "chat"],
    &["live", "person"],
    &["customer", "service"],
    &["customer", "support"],
    &["support", "team"],
    &["real", "person"],
    &["real", "human"],
    &["actual", "person"],
    &["actual", "human"],
    &["human", "being"],
    &["human", "agent"],
    &["support", "agent"],
];

const HUMAN_WORDS: &[&str] = &[
    "human",
    "humans",
    "person",
    "people",
    "agent",
    "agents",
    "representative",
    "representatives",
    "rep",
    "operator",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "staff",
    "manager",
    "supervisor",
    "employee",
];

/// Verbs and phrases that make a following human noun the object of a request.
const REQUEST_CUES: &[&[&str]] = &[
    &["talk"],
    &["speak"],
    &["chat"],
    &["connect"],
    &["transfer"],
    &["escalate"],
    &["forward"],
    &["reach"],
    &["contact"],
    &["get"],
    &["give"],
    &["put", "me", "through"],
    &["want"],
    &["need"],
    &["like"],
    &["prefer"],
    &["request"],
    &["requesting"],
    &["bring"],
    &["send"],
    &["is", "there"],
    &["are", "there"],
    &["any"],
    &["let", "me"],
    &["switch"],
];

const NEGATIONS: &[&str] = &[
    "not", "no", "dont", "never", "without", "doesnt", "didnt", "wont", "cant", "nobody",
];

const DETERMINERS: &[&str] = &[
    "the", "a", "an", "your", "my", "this", "that", "our", "their",
];

/// Words that may accompany a bare human noun ("a human please", "live agent now").
const FILLERS: &[&str] = &[
    "a",
    "an",
    "the",
    "please",
    "pls",
    "plz",
    "now",
    "asap",
    "i",
    "me",
    "my",
    "to",
    "want",
    "need",
    "just",
    "one",
    "some",
    "real",
    "actual",
    "ok",
    "okay",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "you",
    "immediately",
    "right",
    "away",
    "quickly",
    "urgent",
    "urgently",
    "talk",
    "speak",
    "with",
    "get",
    "give",
    "us",
];

/// Turns "I'd like to TALK to a Human!!" into ["i", "would", "like", "to", "talk", "to", "a", "human"].
fn normalise(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace(['’', '‘', '`'], "'");
    let mut words = Vec::new();
    for raw in lowered.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let word = raw.trim_matches('\'');
        if word.is_empty() {
            continue;
        }
        match word {
            "i'd" => words.extend(["i", "would"].map(String::from)),
            "i'm" => words.extend(["i", "am"].map(String::from)),
            "can't" | "cannot" => words.push("cant".into()),
            "won't" => words.push("wont".into()),
            "isn't" | "aren't" | "wasn't" | "weren't" => {
                words.push(word.trim_end_matches("n't").to_owned());
                words.push("not".into());
            }
            _ => words.push(word.replace('\'', "")),
        }
    }
    words
}

fn starts_with_at(words: &[String], at: usize, phrase: &[&str]) -> bool {
    phrase.len() + at <= words.len() && phrase.iter().zip(&words[at..]).all(|(p, w)| p == w)
}

/// Positions of human nouns, with the length of the phrase at each.
fn human_mentions(words: &[String]) -> Vec<(usize, usize)> {
    let mut mentions = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Some(phrase) = HUMAN_PHRASES.iter().find(|p| starts_with_at(words, i, p)) {
            mentions.push((i, phrase.len()));
            i += phrase.len();
        } else {
            if HUMAN_WORDS.contains(&words[i].as_str()) {
                mentions.push((i, 1));
            }
            i += 1;
        }
    }
    mentions
}

/// "are you a human", "is this a real person", "am i talking to a bot": identity questions.
fn is_identity_question(words: &[String]) -> bool {
    let first_two: Vec<&str> = words.iter().take(3).map(String::as_str).collect();
    matches!(
        first_two.as_slice(),
        ["are", "you", ..]
            | ["is", "this", ..]
            | ["is", "it", ..]
            | ["am", "i", ..]
            | ["r", "u", ..]
    ) || words
        .windows(2)
        .any(|w| w[0] == "you" && (w[1] == "human" || w[1] == "real"))
        && !words
            .iter()
            .any(|w| REQUEST_CUES.iter().any(|c| c.len() == 1 && c[0] == w))
}

/// Whether `text` asks to be handed to a human agent.
pub fn asks_for_human(text: &str) -> bool {
    let words = normalise(text);
    if words.is_empty() {
        return false;
    }
    let mentions = human_mentions(&words);
    if mentions.is_empty() {
        return false;
    }
    if is_identity_question(&words) {
        return false;
    }

    // A bare request: nothing but the noun and polite filler ("human please", "live agent").
    let mut covered = vec![false; words.len()];
    for &(at, len) in &mentions {
        covered[at..at + len].iter_mut().for_each(|c| *c = true);
    }
    let bare = words
        .iter()
        .zip(&covered)
        .all(|(word, covered)| *covered || FILLERS.contains(&word.as_str()));
    let negated_anywhere = words.iter().any(|w| NEGATIONS.contains(&w.as_str()));
    if bare && !negated_anywhere {
        return true;
    }

    // A request cue governing a human noun within a short window, not negated in between or
    // just before the cue.
    const WINDOW: usize = 7;
    mentions.iter().any(|&(noun, _)| {
        let start = noun.saturating_sub(WINDOW);
        (start..noun).any(|cue_at| {
            let Some(cue) = REQUEST_CUES
                .iter()
                .find(|c| starts_with_at(&words, cue_at, c))
            else {
                return false;
            };
            if cue_at + cue.len() > noun {
                return false;
            }
            // "the chat with your agent", "my request": the cue word is a noun here, not a verb.
            if cue_at > 0 && DETERMINERS.contains(&words[cue_at - 1].as_str()) {
                return false;
            }
            let negation_from = cue_at.saturating_sub(3);
            !words[negation_from..noun]
                .iter()
                .any(|w| NEGATIONS.contains(&w.as_str()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labelled utterances: (text, asks for a human).
    const LABELLED: &[(&str, bool)] = &[
        // Requests.
        ("I want to speak to a human", true),
        ("talk to a human", true),
        ("Talk to a human!", true),
        ("can I speak to a person?", true),
        ("Can I speak with a person please", true),
        ("get me an agent", true),
        ("Get me a real agent NOW", true),
        ("live support", true),
        ("Live support please", true),
        ("representative please", true),
        ("Representative!", true),
        ("human", true),
        ("HUMAN PLEASE", true),
        ("agent", true),
        ("operator", true),
        ("a real person please", true),
        ("I need a human", true),
        ("I need to talk to someone", true),
        ("I'd like to talk to a representative", true),
        ("I would like to speak with an agent", true),
        ("connect me to a human agent", true),
        ("Please connect me with customer service", true),
        ("transfer me to a person", true),
        ("Can you transfer me to a live agent?", true),
        ("put me through to someone", true),
        ("is there a human I can talk to?", true),
        ("Is there anyone there who can help me", true),
        ("let me talk to a person", true),
        ("I want a human", true),
        ("i want an actual person", true),
        ("can i get a human", true),
        ("Could I chat with a real person?", true),
        ("I need to speak to your manager", true),
        ("escalate this to a supervisor", true),
        ("I'd prefer to talk to a human being", true),
        ("This bot is useless, give me a human", true),
        ("you're not helping. I want to talk to someone real", true),
        ("speak to agent", true),
        ("talk to human pls", true),
        ("can I talk to somebody from support", true),
        ("I’d like to reach a live person", true),
        ("get me someone from the support team", true),
        ("need human help", true),
        ("I don't want to talk to a bot, I want a person", true),
        ("Can I contact a staff member?", true),
        // Not requests: mentions, negations, questions about the assistant, unrelated text.
        ("I am not a real person", false),
        ("no need for a human", false),
        ("No need for a human, thanks", false),
        ("the representative was rude yesterday", false),
        ("The agent I spoke to last week was very helpful", false),
        ("are you a human?", false),
        ("Are you a real person?", false),
        ("is this a real person or a bot", false),
        ("am I talking to a human", false),
        ("I don't want to talk to a human", false),
        (
            "I don't need an agent, just tell me the opening hours",
            false,
        ),
        ("never mind the human, what are your prices?", false),
        ("What are your opening hours?", false),
        ("How do I reset my password?", false),
        ("Hello", false),
        ("thanks, that solved it", false),
        ("My order hasn't arrived", false),
        ("Where is my parcel?", false),
        ("human resources department phone number?", false),
        ("How many people work at your company?", false),
        ("Can I return an item bought by another person?", false),
        (
            "My husband is the account holder, he's a busy person",
            false,
        ),
        ("I'm a travel agent booking for a client", false),
        ("Do you have agents in Germany?", false),
        ("Your agents did a great job", false),
        ("Is customer service open on Sundays?", false),
        (
            "The chat with your support agent yesterday solved it",
            false,
        ),
        ("I spoke to someone yesterday about my refund", false),
        ("I'm human, not a robot", false),
        ("Which person should the invoice be addressed to?", false),
        ("My password doesn't work", false),
        ("Can I speak Spanish here?", false),
        ("Can I get a refund?", false),
        ("I need help with my order", false),
        ("I want to cancel my subscription", false),
        ("I'd like to change my delivery address", false),
        ("no human needed", false),
        ("I'm not looking for a human, just the FAQ", false),
        ("Please don't transfer me to an agent", false),
        ("What does a representative earn?", false),
        ("Is someone already handling my ticket?", false),
        ("Can someone else use my account?", false),
    ];

    #[test]
    fn labelled_set_is_large_and_balanced_enough() {
        let positives = LABELLED.iter().filter(|(_, p)| *p).count();
        assert!(LABELLED.len() >= 80, "{} utterances", LABELLED.len());
        assert!(positives >= 30 && LABELLED.len() - positives >= 30);
    }

    #[test]
    fn precision_and_recall_on_the_labelled_set() {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        let mut wrong = Vec::new();
        for &(text, expected) in LABELLED {
            let got = asks_for_human(text);
            match (got, expected) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                (false, false) => {}
            }
            if got != expected {
                wrong.push(text);
            }
        }
        let precision = f64::from(tp) / f64::from(tp + fp);
        let recall = f64::from(tp) / f64::from(tp + fn_);
        println!(
            "handoff detector: {} utterances, precision {precision:.3}, recall {recall:.3}",
            LABELLED.len()
        );
        assert!(wrong.is_empty(), "misclassified: {wrong:#?}");
    }

    #[test]
    fn normalisation_handles_contractions_and_punctuation() {
        assert_eq!(normalise("I'd like, NOW!"), ["i", "would", "like", "now"]);
        assert_eq!(normalise("don’t"), ["dont"]);
        assert_eq!(normalise("isn't"), ["is", "not"]);
    }
}
