//! The offline responder: answers with the knowledge base's best section for the customer's
//! latest message, in the customer's language, or says plainly that it is not sure and offers a
//! person. No network, no key. (The engine itself is `crate::knowledge`.)

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{AiError, AssistantRequest, Deltas, Provider, Reply};
use crate::domain::features::{fold, words};
use crate::domain::language::Lang;
use crate::knowledge::{Answer, KnowledgeBase};
use crate::protocol::texts;

/// Words of greetings and thanks in the five languages (accent-folded).
const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "there",
    "good",
    "morning",
    "afternoon",
    "evening",
    "hola",
    "buenas",
    "buenos",
    "dias",
    "tardes",
    "noches",
    "bonjour",
    "bonsoir",
    "salut",
    "coucou",
    "hallo",
    "guten",
    "tag",
    "morgen",
    "abend",
    "moin",
    "servus",
    "ola",
    "oi",
    "bom",
    "boa",
    "dia",
    "tarde",
    "noite",
];
const THANKS_WORDS: &[&str] = &[
    "thanks", "thank", "you", "so", "much", "great", "ok", "okay", "cheers", "gracias", "muchas",
    "vale", "perfecto", "merci", "beaucoup", "super", "parfait", "danke", "vielen", "dank",
    "schon", "prima", "obrigado", "obrigada", "muito", "valeu", "perfeito",
];

/// Small talk that deserves a friendly answer rather than a search.
fn small_talk(question: &str, lang: Lang) -> Option<&'static str> {
    let words: Vec<String> = words(question).iter().map(|w| fold(w)).collect();
    let only = |set: &[&str]| !words.is_empty() && words.iter().all(|w| set.contains(&w.as_str()));
    if only(GREETING_WORDS) {
        Some(texts::greeting(lang))
    } else if only(THANKS_WORDS) {
        Some(texts::thanks(lang))
    } else {
        None
    }
}

/// The offline [`Provider`]: answers with the best section.
pub struct Responder {
    kb: Arc<KnowledgeBase>,
}

impl Responder {
    pub fn new(kb: Arc<KnowledgeBase>) -> Self {
        Self { kb }
    }

    /// The reply to `question` from a customer writing in `lang`.
    pub fn answer(&self, question: &str, lang: Lang) -> String {
        if let Some(reply) = small_talk(question, lang) {
            return reply.to_owned();
        }
        match self.kb.answer(question, lang) {
            Answer::Found(hit) => hit.passage.text.clone(),
            Answer::NotSure { offers, .. } => {
                let topics: Vec<&str> = offers.iter().map(|h| h.passage.heading.as_str()).collect();
                texts::not_sure_about(lang, &topics)
            }
        }
    }
}

impl Provider for Responder {
    fn name(&self) -> &'static str {
        "knowledge_base"
    }

    fn call<'a>(
        &'a self,
        request: &'a AssistantRequest,
        _deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<Reply, AiError>> {
        // Nothing to stream; the search (an embedding, with a model) runs off the async threads.
        let responder = Responder::new(self.kb.clone());
        let question = request.latest_question().to_owned();
        let lang = request.language;
        Box::pin(async move {
            let answer = tokio::task::spawn_blocking(move || responder.answer(&question, lang))
                .await
                .map_err(|e| AiError::Malformed(format!("the offline responder failed: {e}")))?;
            Ok(Reply::text(answer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = "# Shop FAQ\nIntro text is ignored.\n\n\
        ## What are your opening hours?\nWe are open 9:00–17:00, Monday to Friday.\n\n\
        ## How do I reset my password?\nUse the \"Forgot password\" link on the sign-in page.\n\n\
        ## How long does shipping take?\nOrders ship within 2 working days; delivery takes 3–5 days.\n\n\
        ## Can I return an item?\nYes: returns are free within 30 days. Refunds arrive in 5 days.\n";

    fn responder() -> Responder {
        // A folder of its own per call: tests run in parallel in one process.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("faq.md"), FAQ).unwrap();
        let kb = KnowledgeBase::load(dir.path()).unwrap();
        Responder::new(Arc::new(kb))
    }

    #[test]
    fn answers_paraphrases_and_declines_the_unknown() {
        let responder = responder();
        assert!(
            responder
                .answer("When are you open?", Lang::En)
                .contains("9:00")
        );
        assert!(
            responder
                .answer("I forgot my pasword", Lang::En)
                .contains("Forgot password")
        );
        assert!(responder.answer("refund?", Lang::En).contains("30 days"));
        for question in ["do you sell bicycles", "what's the capital of Peru", "???"] {
            assert_eq!(
                responder.answer(question, Lang::En),
                texts::not_sure(Lang::En),
                "{question}"
            );
        }
        assert_eq!(
            responder.answer("Hello!", Lang::En),
            texts::greeting(Lang::En)
        );
        assert_eq!(
            responder.answer("hola", Lang::Es),
            texts::greeting(Lang::Es)
        );
    }

    #[test]
    fn a_partial_match_is_offered_as_a_topic_not_given_as_the_answer() {
        let responder = responder();
        let reply = responder.answer("my password and the shipping", Lang::En);
        assert!(reply.starts_with("I'm not sure I understood"), "{reply}");
        assert!(reply.contains("\n• How do I reset my password?"), "{reply}");
        assert!(
            reply.contains("\n• How long does shipping take?"),
            "{reply}"
        );
        let spanish = responder.answer("my password and the shipping", Lang::Es);
        assert!(
            spanish.contains("¿Tu pregunta es sobre alguno de estos temas?"),
            "{spanish}"
        );
    }

    #[test]
    fn the_shipped_sample_answers_common_questions() {
        let responder = Responder::new(Arc::new(KnowledgeBase::sample()));
        let answer = |q| responder.answer(q, Lang::En);
        assert!(answer("How long does delivery take?").contains("working days"));
        assert!(answer("I forgot my password").contains("Forgot password"));
        assert!(answer("can I pay with paypal").contains("PayPal"));
        assert!(answer("how do I return something").contains("30 days"));
        assert_eq!(
            answer("what's the weather on mars"),
            texts::not_sure(Lang::En)
        );
    }
}
