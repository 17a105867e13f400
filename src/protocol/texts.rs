//! Every text a customer reads from Switchboard itself (not the assistant's answers), and the
//! few that agents read. One place, so a wording exists once and a translation has one home.

/// The first frame on a customer's socket.
pub const CONNECTED: &str = "Connected to support chat";

/// The first frame on an agent's socket.
pub fn agent_connected(username: &str) -> String {
    format!("Connected as {username}")
}

/// Said when the conversation is handed to the queue.
pub const HANDOFF: &str = "I'm connecting you with a human agent. \
Please stay on this page; someone will be with you shortly.";

/// The customer's place in the queue (1 = next).
pub fn waiting(position: usize) -> String {
    if position == 1 {
        "You are next in line. An agent will be with you shortly.".to_owned()
    } else {
        format!("You are number {position} in the queue. An agent will be with you shortly.")
    }
}

/// An agent took the conversation.
pub fn agent_joined(agent_name: &str) -> String {
    format!("{agent_name} has joined the conversation.")
}

/// The name shown for an agent whose account cannot be read.
pub const SOME_AGENT: &str = "An agent";

/// The agent handed the conversation back to the assistant.
pub const RETURNED_TO_AI: &str = "You are chatting with the virtual assistant again.";

/// The conversation is over (live, on resume, and after a resynchronisation alike).
pub const SESSION_CLOSED: &str = "This conversation has been closed. Thank you for contacting us!";

/// What the customer is told when the assistant fails: polite, and offering a person.
pub const FALLBACK_REPLY: &str = "Sorry, I'm having trouble answering right now. \
If you'd like, I can connect you with a human agent: just say \"talk to a human\".";

/// What the customer is told when the provider refused the exchange for safety reasons.
pub const REFUSAL_REPLY: &str = "I'm sorry, I can't help with that here. \
If you'd like, I can connect you with a human agent: just say \"talk to a human\".";

/// The customer asked the assistant too often this minute.
pub fn rate_limited(per_minute: u32) -> String {
    format!(
        "The assistant answers at most {per_minute} messages a minute. Your message was saved; \
         please wait a moment before sending another, or ask for a human agent."
    )
}

/// One address opened too many sessions.
pub fn too_many_sessions(retry_after: u64) -> String {
    format!("Too many conversations started from your address; try again in {retry_after} seconds.")
}

/// The assistant's overall budget for this minute is spent.
pub const ASSISTANT_BUSY: &str = "The assistant is very busy right now. Your message was saved; please try again in a minute, or ask for a human agent.";

/// The reason agents see when the session was queued because the assistant kept failing.
pub const REPEATED_FAILURE_REASON: &str = "the assistant failed twice in a row";

/// An unknown session, in an `error` event or a 404.
pub const SESSION_NOT_FOUND: &str = "Session not found";

/// The database did not answer; the action may be retried.
pub const DATABASE_UNAVAILABLE: &str = "Database unavailable, please retry shortly";
