//! The instructions sent with every assistant call.

/// Used when `SYSTEM_PROMPT` is not set.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are the customer support assistant of this business, \
chatting with a customer on its website. Be friendly, concise and accurate; answer in the \
customer's language. If you do not know the answer, say so plainly and never invent policies, \
prices or order details. If the customer asks for a person, or you cannot help, tell them you \
can connect them with a human agent.";

/// What the customer is told when the assistant fails: polite, and offering a person.
pub const FALLBACK_REPLY: &str = "Sorry, I'm having trouble answering right now. \
If you'd like, I can connect you with a human agent: just say \"talk to a human\".";

/// Said when the conversation is handed to the queue.
pub const HANDOFF_MESSAGE: &str = "I'm connecting you with a human agent. \
Please stay on this page; someone will be with you shortly.";
