//! Every text a customer reads from Switchboard itself (not the assistant's answers), in each
//! language it speaks, and the few that agents read (in English). One place, so a wording
//! exists once and each translation sits beside it.
//!
//! The offers of a person quote a phrase the hand-off detector recognises in that language (a
//! test checks it).

use crate::domain::language::Lang;

/// The first frame on a customer's socket.
pub fn connected(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Connected to support chat",
        Lang::Es => "Conectado al chat de soporte",
        Lang::Fr => "Connecté au chat d'assistance",
        Lang::De => "Mit dem Support-Chat verbunden",
        Lang::Pt => "Conectado ao chat de suporte",
    }
}

/// The first frame on an agent's socket.
pub fn agent_connected(username: &str) -> String {
    format!("Connected as {username}")
}

/// Said when the conversation is handed to the queue.
pub fn handoff(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "I'm connecting you with a human agent. Please stay on this page; someone will be with you shortly."
        }
        Lang::Es => {
            "Te estoy poniendo en contacto con un agente. Quédate en esta página; alguien te atenderá en breve."
        }
        Lang::Fr => {
            "Je vous mets en relation avec un conseiller. Restez sur cette page ; quelqu'un va vous répondre très vite."
        }
        Lang::De => {
            "Ich verbinde Sie mit einem Mitarbeiter. Bitte bleiben Sie auf dieser Seite; gleich ist jemand für Sie da."
        }
        Lang::Pt => {
            "Estou a ligá-lo a um atendente. Fique nesta página; alguém vai atendê-lo em breve."
        }
    }
}

/// The customer's place in the queue (1 = next).
pub fn waiting(lang: Lang, position: usize) -> String {
    match (lang, position) {
        (Lang::En, 1) => "You are next in line. An agent will be with you shortly.".to_owned(),
        (Lang::En, n) => {
            format!("You are number {n} in the queue. An agent will be with you shortly.")
        }
        (Lang::Es, 1) => "Eres el siguiente. Un agente te atenderá en breve.".to_owned(),
        (Lang::Es, n) => {
            format!("Tienes el puesto {n} en la cola. Un agente te atenderá en breve.")
        }
        (Lang::Fr, 1) => {
            "Vous êtes le prochain. Un conseiller va vous répondre très vite.".to_owned()
        }
        (Lang::Fr, n) => format!(
            "Vous êtes en position {n} dans la file d'attente. Un conseiller va vous répondre très vite."
        ),
        (Lang::De, 1) => {
            "Sie sind als Nächstes dran. Gleich ist ein Mitarbeiter für Sie da.".to_owned()
        }
        (Lang::De, n) => format!(
            "Sie sind auf Platz {n} der Warteschlange. Gleich ist ein Mitarbeiter für Sie da."
        ),
        (Lang::Pt, 1) => "É o próximo da fila. Um atendente vai atendê-lo em breve.".to_owned(),
        (Lang::Pt, n) => {
            format!("Está na posição {n} da fila. Um atendente vai atendê-lo em breve.")
        }
    }
}

/// An agent took the conversation.
pub fn agent_joined(lang: Lang, agent_name: &str) -> String {
    match lang {
        Lang::En => format!("{agent_name} has joined the conversation."),
        Lang::Es => format!("{agent_name} se ha unido a la conversación."),
        Lang::Fr => format!("{agent_name} a rejoint la conversation."),
        Lang::De => format!("{agent_name} ist dem Gespräch beigetreten."),
        Lang::Pt => format!("{agent_name} entrou na conversa."),
    }
}

/// The name shown for an agent whose account cannot be read.
pub const SOME_AGENT: &str = "An agent";

/// The agent handed the conversation back to the assistant.
pub fn returned_to_ai(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "You are chatting with the virtual assistant again.",
        Lang::Es => "Vuelves a hablar con el asistente virtual.",
        Lang::Fr => "Vous discutez de nouveau avec l'assistant virtuel.",
        Lang::De => "Sie chatten wieder mit dem virtuellen Assistenten.",
        Lang::Pt => "Está novamente a conversar com o assistente virtual.",
    }
}

/// The conversation is over (live, on resume, and after a resynchronisation alike).
pub fn session_closed(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "This conversation has been closed. Thank you for contacting us!",
        Lang::Es => "Esta conversación se ha cerrado. ¡Gracias por contactar con nosotros!",
        Lang::Fr => "Cette conversation est terminée. Merci de nous avoir contactés !",
        Lang::De => "Dieses Gespräch wurde beendet. Danke, dass Sie uns kontaktiert haben!",
        Lang::Pt => "Esta conversa foi encerrada. Obrigado por nos contactar!",
    }
}

/// The phrase the offers of a person suggest typing (the hand-off detector knows it).
pub fn ask_for_person(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "talk to a human",
        Lang::Es => "hablar con una persona",
        Lang::Fr => "parler à un conseiller",
        Lang::De => "mit einem Mitarbeiter sprechen",
        Lang::Pt => "falar com um atendente",
    }
}

/// What the customer is told when the assistant fails: polite, and offering a person.
pub fn fallback_reply(lang: Lang) -> String {
    let ask = ask_for_person(lang);
    match lang {
        Lang::En => format!(
            "Sorry, I'm having trouble answering right now. If you'd like, I can connect you with a human agent: just say \"{ask}\"."
        ),
        Lang::Es => format!(
            "Lo siento, ahora mismo tengo problemas para responder. Si quieres, te paso con un agente: solo escribe «{ask}»."
        ),
        Lang::Fr => format!(
            "Désolé, j'ai du mal à répondre pour le moment. Si vous le souhaitez, je peux vous mettre en relation avec un conseiller : écrivez simplement « {ask} »."
        ),
        Lang::De => format!(
            "Entschuldigung, ich kann gerade nicht antworten. Wenn Sie möchten, verbinde ich Sie mit einem Mitarbeiter: schreiben Sie einfach „{ask}“."
        ),
        Lang::Pt => format!(
            "Desculpe, estou com dificuldades para responder agora. Se quiser, posso ligá-lo a um atendente: basta escrever «{ask}»."
        ),
    }
}

/// Whether `content` is the failure apology in any language (the assistant's previous message
/// is read back from the stored history to decide on a hand-off after two failures).
pub fn is_fallback_reply(content: &str) -> bool {
    Lang::ALL
        .into_iter()
        .any(|lang| content == fallback_reply(lang))
}

/// What the customer is told when the provider refused the exchange for safety reasons.
pub fn refusal_reply(lang: Lang) -> String {
    let ask = ask_for_person(lang);
    match lang {
        Lang::En => format!(
            "I'm sorry, I can't help with that here. If you'd like, I can connect you with a human agent: just say \"{ask}\"."
        ),
        Lang::Es => format!(
            "Lo siento, no puedo ayudarte con eso aquí. Si quieres, te paso con un agente: solo escribe «{ask}»."
        ),
        Lang::Fr => format!(
            "Désolé, je ne peux pas vous aider sur ce point ici. Si vous le souhaitez, je peux vous mettre en relation avec un conseiller : écrivez simplement « {ask} »."
        ),
        Lang::De => format!(
            "Das kann ich hier leider nicht beantworten. Wenn Sie möchten, verbinde ich Sie mit einem Mitarbeiter: schreiben Sie einfach „{ask}“."
        ),
        Lang::Pt => format!(
            "Desculpe, não posso ajudar com isso aqui. Se quiser, posso ligá-lo a um atendente: basta escrever «{ask}»."
        ),
    }
}

/// The offline assistant found nothing it is sure of: it says so rather than guess.
pub fn not_sure(lang: Lang) -> String {
    let ask = ask_for_person(lang);
    match lang {
        Lang::En => format!(
            "I'm not sure about that one, and I'd rather not guess. Would you like me to connect you with a human agent? Just say \"{ask}\"."
        ),
        Lang::Es => format!(
            "No estoy seguro de eso y prefiero no adivinar. ¿Quieres que te pase con un agente? Solo escribe «{ask}»."
        ),
        Lang::Fr => format!(
            "Je ne suis pas sûr de la réponse et je préfère ne pas deviner. Voulez-vous que je vous mette en relation avec un conseiller ? Écrivez simplement « {ask} »."
        ),
        Lang::De => format!(
            "Da bin ich mir nicht sicher, und raten möchte ich nicht. Soll ich Sie mit einem Mitarbeiter verbinden? Schreiben Sie einfach „{ask}“."
        ),
        Lang::Pt => format!(
            "Não tenho a certeza sobre isso e prefiro não adivinhar. Quer que o ligue a um atendente? Basta escrever «{ask}»."
        ),
    }
}

/// "Not sure", offering the knowledge base's closest topics as a list (plain `not_sure` when
/// there are none).
pub fn not_sure_about(lang: Lang, topics: &[&str]) -> String {
    if topics.is_empty() {
        return not_sure(lang);
    }
    let ask = ask_for_person(lang);
    let list: String = topics.iter().map(|t| format!("\n• {t}")).collect();
    match lang {
        Lang::En => format!(
            "I'm not sure I understood, and I'd rather not guess. Is your question about one of these?{list}\n\nIf so, just ask about it; if not, say \"{ask}\" and a person will help."
        ),
        Lang::Es => format!(
            "No estoy seguro de haberte entendido y prefiero no adivinar. ¿Tu pregunta es sobre alguno de estos temas?{list}\n\nSi es así, pregúntame por él; si no, escribe «{ask}» y te atenderá una persona."
        ),
        Lang::Fr => format!(
            "Je ne suis pas sûr d'avoir compris et je préfère ne pas deviner. Votre question porte-t-elle sur l'un de ces sujets ?{list}\n\nSi oui, posez-la simplement ; sinon, écrivez « {ask} » et une personne vous aidera."
        ),
        Lang::De => format!(
            "Ich bin mir nicht sicher, ob ich Sie verstanden habe, und raten möchte ich nicht. Geht es um eines dieser Themen?{list}\n\nWenn ja, fragen Sie einfach danach; wenn nicht, schreiben Sie „{ask}“, dann hilft Ihnen ein Mensch."
        ),
        Lang::Pt => format!(
            "Não tenho a certeza de ter percebido e prefiro não adivinhar. A sua pergunta é sobre um destes temas?{list}\n\nSe sim, pergunte-me sobre ele; se não, escreva «{ask}» e uma pessoa vai ajudar."
        ),
    }
}

/// The offline assistant's answer to a greeting.
pub fn greeting(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Hello! I'm the virtual assistant. How can I help you today?",
        Lang::Es => "¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?",
        Lang::Fr => "Bonjour ! Je suis l'assistant virtuel. Comment puis-je vous aider ?",
        Lang::De => "Hallo! Ich bin der virtuelle Assistent. Wie kann ich Ihnen helfen?",
        Lang::Pt => "Olá! Sou o assistente virtual. Como posso ajudar?",
    }
}

/// The offline assistant's answer to thanks.
pub fn thanks(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "You're welcome! Is there anything else I can help you with?",
        Lang::Es => "¡De nada! ¿Puedo ayudarte en algo más?",
        Lang::Fr => "Avec plaisir ! Puis-je vous aider pour autre chose ?",
        Lang::De => "Gern geschehen! Kann ich Ihnen sonst noch helfen?",
        Lang::Pt => "De nada! Posso ajudar em mais alguma coisa?",
    }
}

/// The customer asked the assistant too often this minute.
pub fn rate_limited(lang: Lang, per_minute: u32) -> String {
    match lang {
        Lang::En => format!(
            "The assistant answers at most {per_minute} messages a minute. Your message was saved; please wait a moment before sending another, or ask for a human agent."
        ),
        Lang::Es => format!(
            "El asistente responde como máximo {per_minute} mensajes por minuto. Tu mensaje se ha guardado; espera un momento antes de enviar otro, o pide hablar con un agente."
        ),
        Lang::Fr => format!(
            "L'assistant répond à {per_minute} messages par minute au plus. Votre message est enregistré ; patientez un instant avant d'en envoyer un autre, ou demandez un conseiller."
        ),
        Lang::De => format!(
            "Der Assistent beantwortet höchstens {per_minute} Nachrichten pro Minute. Ihre Nachricht wurde gespeichert; bitte warten Sie kurz oder fragen Sie nach einem Mitarbeiter."
        ),
        Lang::Pt => format!(
            "O assistente responde no máximo a {per_minute} mensagens por minuto. A sua mensagem foi guardada; aguarde um momento antes de enviar outra, ou peça um atendente."
        ),
    }
}

/// One address opened too many sessions (before any language is known).
pub fn too_many_sessions(retry_after: u64) -> String {
    format!("Too many conversations started from your address; try again in {retry_after} seconds.")
}

/// The assistant's overall budget for this minute is spent.
pub fn assistant_busy(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "The assistant is very busy right now. Your message was saved; please try again in a minute, or ask for a human agent."
        }
        Lang::Es => {
            "El asistente está muy ocupado ahora mismo. Tu mensaje se ha guardado; inténtalo de nuevo en un minuto o pide hablar con un agente."
        }
        Lang::Fr => {
            "L'assistant est très sollicité en ce moment. Votre message est enregistré ; réessayez dans une minute ou demandez un conseiller."
        }
        Lang::De => {
            "Der Assistent ist gerade sehr ausgelastet. Ihre Nachricht wurde gespeichert; versuchen Sie es in einer Minute erneut oder fragen Sie nach einem Mitarbeiter."
        }
        Lang::Pt => {
            "O assistente está muito ocupado neste momento. A sua mensagem foi guardada; tente de novo dentro de um minuto ou peça um atendente."
        }
    }
}

/// The reason agents see when the session was queued because the assistant kept failing.
pub const REPEATED_FAILURE_REASON: &str = "the assistant failed twice in a row";

/// An unknown session, in an `error` event or a 404.
pub const SESSION_NOT_FOUND: &str = "Session not found";

/// The database did not answer; the action may be retried.
pub const DATABASE_UNAVAILABLE: &str = "Database unavailable, please retry shortly";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::handoff::asks_for_human;
    use crate::domain::language;

    #[test]
    fn the_suggested_phrase_hands_off_in_every_language() {
        for lang in Lang::ALL {
            assert!(asks_for_human(ask_for_person(lang)), "{lang}");
        }
    }

    #[test]
    fn offers_of_a_person_do_not_hand_off_themselves_and_read_as_their_language() {
        for lang in Lang::ALL {
            for text in [not_sure(lang), handoff(lang).to_owned(), waiting(lang, 3)] {
                assert_eq!(language::detect(&text).map(|d| d.0), Some(lang), "{text}");
            }
            assert!(is_fallback_reply(&fallback_reply(lang)));
        }
    }
}
