//! The instructions sent with every assistant call. (What the customer is told when the
//! assistant cannot answer is in `protocol::texts`.)

use crate::knowledge::Passage;

/// Used when `SYSTEM_PROMPT` is not set.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are the customer support assistant of this business, \
chatting with a customer on its website. Be friendly, concise and accurate; answer in the \
customer's language. If you do not know the answer, say so plainly and never invent policies, \
prices or order details. If the customer asks for a person, or you cannot help, tell them you \
can connect them with a human agent.";

/// The system prompt followed by the knowledge-base passages the model must answer from.
pub fn grounded_instruction(system_prompt: &str, passages: &[&Passage]) -> String {
    let mut out = String::with_capacity(system_prompt.len() + 600 + passages.len() * 800);
    out.push_str(system_prompt.trim_end());
    out.push_str(
        "\n\nAnswer questions about the business only from the knowledge-base passages below. \
If they do not cover the question, say plainly that you are not sure and offer to connect the \
customer with a human agent; never invent facts, prices or policies. Greetings and small talk \
need no passage. If the customer asks for a person, or you cannot help them, call the \
transfer_to_human tool with a short reason.\n",
    );
    if passages.is_empty() {
        out.push_str("\nNo knowledge-base passage matches this conversation.\n");
        return out;
    }
    out.push_str("\n<knowledge_base>\n");
    for (n, passage) in passages.iter().enumerate() {
        out.push_str(&format!(
            "[{}] {} (source: {})\n{}\n\n",
            n + 1,
            passage.heading,
            passage.source.display(),
            passage.text
        ));
    }
    out.push_str("</knowledge_base>\n");
    out
}
