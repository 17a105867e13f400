//! What the agent who takes over a conversation reads first: the customer's key messages and
//! the topics the assistant matched (built at once, offline), or two sentences written by the
//! LLM when one is configured (a moment later).

use super::Turn;
use crate::domain::session::SenderType;
use crate::knowledge::{Answer, KnowledgeBase};

/// The customer's messages quoted in an offline summary, newest last.
const QUOTED_MESSAGES: usize = 3;
/// Longest quote of one message, in characters.
const QUOTE_CHARS: usize = 160;

/// The instruction for an LLM summary.
pub const SUMMARY_PROMPT: &str = "You summarise customer-support chats for the human agent who \
takes over. Write exactly two short sentences in English: what the customer wants, and what \
has been tried or answered so far. No greeting, no advice, no names of the assistant.";

fn quote(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= QUOTE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(QUOTE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The offline summary of `history` (oldest first): the customer's last messages, quoted, and
/// the knowledge-base topics they matched.
pub fn offline(kb: &KnowledgeBase, history: &[Turn]) -> String {
    let customer: Vec<&str> = history
        .iter()
        .filter(|t| t.sender == SenderType::Client)
        .map(|t| t.text.as_str())
        .collect();
    if customer.is_empty() {
        return "The customer asked for a person before writing anything.".to_owned();
    }
    let quotes: Vec<String> = customer
        .iter()
        .skip(customer.len().saturating_sub(QUOTED_MESSAGES))
        .map(|text| format!("\u{201c}{}\u{201d}", quote(text)))
        .collect();
    let mut topics: Vec<&str> = Vec::new();
    let recent = &customer[customer.len().saturating_sub(QUOTED_MESSAGES)..];
    for text in recent {
        let lang = crate::domain::language::of_question(text);
        if let Answer::Found(hit) = kb.answer(text, lang)
            && !topics.contains(&hit.passage.heading.as_str())
        {
            topics.push(&hit.passage.heading);
        }
    }
    let mut summary = format!("The customer wrote: {}.", quotes.join(" "));
    if !topics.is_empty() {
        let topics = topics.join("; ");
        let stop = if topics.ends_with(['.', '?', '!']) {
            ""
        } else {
            "."
        };
        summary.push_str(&format!(" Topics matched: {topics}{stop}"));
    }
    summary
}

/// The conversation as one text for an LLM to summarise.
pub fn transcript(history: &[Turn]) -> String {
    history
        .iter()
        .map(|turn| {
            let who = match turn.sender {
                SenderType::Client => "Customer",
                SenderType::Ai => "Assistant",
                SenderType::Admin => "Agent",
            };
            format!("{who}: {}", turn.text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_last_messages_and_names_matched_topics() {
        let kb = KnowledgeBase::sample();
        let history = vec![
            Turn::new(SenderType::Client, "hi"),
            Turn::new(SenderType::Ai, "Hello!"),
            Turn::new(SenderType::Client, "how long does delivery take?"),
            Turn::new(SenderType::Client, "it's late and I'm angry ".repeat(20)),
            Turn::new(SenderType::Client, "talk to a human"),
        ];
        let summary = offline(&kb, &history);
        assert!(!summary.contains("\u{201c}hi\u{201d}"), "{summary}");
        assert!(
            summary.contains("\u{201c}talk to a human\u{201d}"),
            "{summary}"
        );
        assert!(summary.contains('…'), "long messages are cut: {summary}");
        assert!(summary.contains("Topics matched:"), "{summary}");
    }
}
