//! Google Gemini over its REST API, streamed:
//! `POST {GEMINI_BASE_URL}/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse` with the
//! key in the `x-goog-api-key` header, the grounded system prompt as `systemInstruction`, the
//! conversation as `contents` (roles `user` for the customer, `model` for the assistant and human
//! agents) and the `transfer_to_human` function declared as a tool. Each server-sent event is a
//! `GenerateContentResponse` carrying only new text; the stream simply ends.
//!
//! Gemini 3 signs its reasoning: a part may carry a `thoughtSignature` that must be sent back
//! verbatim with that part in later requests (always for function calls). Such replies keep
//! their raw parts as `provider_data` (`{"gemini": [parts]}`), and [`contents`] echoes them.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::sse::{ReplyReader, read_reply};
use super::{
    AiError, AssistantRequest, Deltas, Provider, Reply, TRANSFER_TOOL, TRANSFER_TOOL_RESULT, Turn,
};
use crate::config::{Secret, Settings};
use crate::domain::session::SenderType;

/// Stands in for the customer when the history begins with our side.
const CONVERSATION_START: &str = "(Earlier in this conversation.)";

/// Finish reasons that mean the reply was withheld for policy reasons.
const BLOCKED_FINISH_REASONS: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
];

pub struct Gemini {
    http: reqwest::Client,
    url: String,
    api_key: Secret,
    idle_timeout: Duration,
}

fn text_part(text: impl Into<String>) -> Value {
    json!({ "text": text.into() })
}

/// The raw Gemini parts stored with a turn, if a Gemini reply wrote it.
fn raw_parts(turn: &Turn) -> Option<&Vec<Value>> {
    turn.provider_data.as_ref()?.get("gemini")?.as_array()
}

/// Maps the stored conversation to Gemini's `contents`. Customers are `user`; the assistant and
/// human agents are `model` (agent lines are marked so the model knows a person said them).
/// Assistant turns with stored raw parts are sent back verbatim, a function call followed by its
/// result. Consecutive turns of one role are merged, and the conversation starts with a `user`
/// turn, as the API requires (a placeholder when our side spoke first, so nothing is dropped).
pub fn contents(history: &[Turn]) -> Vec<Value> {
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut push = |role: &'static str, parts: Vec<Value>| match contents.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(parts),
        _ => contents.push((role, parts)),
    };
    if history
        .first()
        .is_some_and(|t| t.sender != SenderType::Client)
    {
        push("user", vec![text_part(CONVERSATION_START)]);
    }
    for turn in history {
        match (turn.sender, raw_parts(turn)) {
            (SenderType::Client, _) => push("user", vec![text_part(&turn.text)]),
            (SenderType::Ai, Some(parts)) => {
                push("model", parts.clone());
                for call in parts.iter().filter_map(|p| p.get("functionCall")) {
                    let name = call.get("name").cloned().unwrap_or(Value::Null);
                    push(
                        "user",
                        vec![json!({"functionResponse": {
                            "name": name,
                            "response": {"result": TRANSFER_TOOL_RESULT},
                        }})],
                    );
                }
            }
            (SenderType::Ai, None) => push("model", vec![text_part(&turn.text)]),
            (SenderType::Admin, _) => push(
                "model",
                vec![text_part(format!("[Human agent] {}", turn.text))],
            ),
        }
    }
    contents
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect()
}

/// The request body for `request`.
pub fn request_body(request: &AssistantRequest) -> Value {
    json!({
        "systemInstruction": {"parts": [text_part(&request.system_instruction)]},
        "contents": contents(&request.history),
        "tools": [{"functionDeclarations": [super::transfer_tool()]}],
        "generationConfig": {
            "temperature": 0.4,
            "maxOutputTokens": request.max_reply_tokens,
        },
    })
}

/// Accumulates a streamed reply, one `GenerateContentResponse` at a time.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    text: String,
    parts: Vec<Value>,
    signed: bool,
    transfer_reason: Option<String>,
    finish_reason: Option<String>,
}

impl ReplyReader for ReplyBuilder {
    fn push(&mut self, chunk: &Value) -> Result<String, AiError> {
        if let Some(error) = chunk.get("error") {
            let code = error.get("code").and_then(Value::as_u64).unwrap_or(500);
            return Err(AiError::Status {
                code: u16::try_from(code).unwrap_or(500),
                retry_after: None,
            });
        }
        if let Some(reason) = chunk
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            return Err(AiError::Blocked(reason.to_owned()));
        }
        let Some(candidate) = chunk.pointer("/candidates/0") else {
            // Usage-only chunks carry no candidate.
            return Ok(String::new());
        };
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        let mut new_text = String::new();
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for part in parts {
            // Thought summaries are not for the customer, nor needed in history.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            self.signed |= part.get("thoughtSignature").is_some();
            if let Some(call) = part.get("functionCall") {
                if call.get("name").and_then(Value::as_str) == Some(TRANSFER_TOOL) {
                    let reason = call
                        .pointer("/args/reason")
                        .and_then(Value::as_str)
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or("the assistant decided a person should help");
                    self.transfer_reason = Some(reason.trim().to_owned());
                }
                self.signed = true;
            } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                new_text.push_str(text);
            }
            self.parts.push(part.clone());
        }
        self.text.push_str(&new_text);
        Ok(new_text)
    }

    fn finish(self) -> Result<Reply, AiError> {
        let finish = self.finish_reason.as_deref().unwrap_or("STOP");
        if BLOCKED_FINISH_REASONS.contains(&finish) {
            return Err(AiError::Blocked(finish.to_owned()));
        }
        let provider_data = self.signed.then(|| json!({ "gemini": self.parts }));
        if let Some(reason) = self.transfer_reason {
            return Ok(Reply::HandOff {
                reason,
                provider_data,
            });
        }
        let text = self.text.trim();
        if text.is_empty() {
            return Err(AiError::Malformed(format!(
                "empty reply (finishReason {finish})"
            )));
        }
        // Any other finish reason (MAX_TOKENS, or one added after this was written) keeps the
        // text that arrived.
        Ok(Reply::Text {
            text: text.to_owned(),
            provider_data,
        })
    }
}

impl Gemini {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let api_key = settings
            .gemini_api_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("GEMINI_API_KEY is required for AI_PROVIDER=gemini"))?;
        Ok(Self {
            http: super::http_client()?,
            url: format!(
                "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
                settings.gemini_base_url, settings.gemini_model
            ),
            api_key,
            idle_timeout: settings.ai_timeout,
        })
    }

    async fn stream(&self, request: &AssistantRequest, deltas: &Deltas) -> Result<Reply, AiError> {
        let post = self
            .http
            .post(&self.url)
            .header("x-goog-api-key", self.api_key.expose())
            .json(&request_body(request));
        let response = super::send(post, self.idle_timeout).await?;
        read_reply::<ReplyBuilder>(response, self.idle_timeout, deltas).await
    }
}

impl Provider for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn call<'a>(
        &'a self,
        request: &'a AssistantRequest,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(self.stream(request, deltas))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[Value]) -> Result<Reply, AiError> {
        crate::ai::sse::read_events::<ReplyBuilder>(chunks)
    }

    #[test]
    fn roles_alternate_and_start_with_the_customer() {
        let history = [
            Turn::new(SenderType::Ai, "Welcome!"),
            Turn::new(SenderType::Client, "hi"),
            Turn::new(SenderType::Client, "are you there?"),
            Turn::new(SenderType::Ai, "Yes."),
            Turn::new(SenderType::Admin, "Agent here."),
            Turn::new(SenderType::Client, "thanks"),
        ];
        let contents = contents(&history);
        let roles: Vec<_> = contents
            .iter()
            .map(|c| c["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "model", "user", "model", "user"]);
        assert_eq!(contents[0]["parts"][0]["text"], CONVERSATION_START);
        assert_eq!(contents[1]["parts"][0]["text"], "Welcome!");
        assert_eq!(contents[2]["parts"].as_array().unwrap().len(), 2);
        assert_eq!(contents[3]["parts"][1]["text"], "[Human agent] Agent here.");
    }

    #[test]
    fn signed_function_calls_are_echoed_with_their_result() {
        let call = json!({"functionCall": {"name": "transfer_to_human", "args": {"reason": "refund dispute"}}, "thoughtSignature": "c2lnbmF0dXJl"});
        let mut handed_off = Turn::new(SenderType::Ai, "I'm connecting you with a human agent.");
        handed_off.provider_data = Some(json!({"gemini": [call.clone()]}));
        let history = [
            Turn::new(SenderType::Client, "I want my money back"),
            handed_off,
            Turn::new(SenderType::Admin, "Refund done."),
            Turn::new(SenderType::Client, "thanks!"),
        ];
        let contents = contents(&history);
        assert_eq!(contents[1]["role"], "model");
        assert_eq!(contents[1]["parts"][0], call);
        assert_eq!(contents[2]["role"], "user");
        assert_eq!(
            contents[2]["parts"][0]["functionResponse"]["name"],
            "transfer_to_human"
        );
        assert_eq!(
            contents[3]["parts"][0]["text"],
            "[Human agent] Refund done."
        );
        assert_eq!(contents[4]["parts"][0]["text"], "thanks!");
    }

    #[test]
    fn streamed_chunks_build_the_reply() {
        let chunks = [
            json!({"candidates": [{"content": {"parts": [{"text": "Hello"}], "role": "model"}}]}),
            json!({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}, {"text": " there"}]}}]}),
            json!({"candidates": [{"content": {"parts": [{"text": "", "thoughtSignature": "sig"}]}, "finishReason": "STOP"}], "usageMetadata": {"totalTokenCount": 9}}),
        ];
        let Reply::Text {
            text,
            provider_data,
        } = read(&chunks).unwrap()
        else {
            panic!("expected text")
        };
        assert_eq!(text, "Hello there");
        let parts = provider_data.unwrap()["gemini"].as_array().unwrap().len();
        assert_eq!(parts, 3, "the signature part is kept, the thought is not");
    }

    #[test]
    fn a_function_call_hands_off_with_its_reason() {
        let chunks = [
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "transfer_to_human", "args": {"reason": "wants a refund exception"}}, "thoughtSignature": "abc"}]}, "finishReason": "STOP"}]}),
        ];
        let Reply::HandOff {
            reason,
            provider_data,
        } = read(&chunks).unwrap()
        else {
            panic!("expected a hand-off")
        };
        assert_eq!(reason, "wants a refund exception");
        assert_eq!(
            provider_data.unwrap()["gemini"][0]["thoughtSignature"],
            "abc"
        );
    }

    #[test]
    fn blocks_garbage_and_unknown_values() {
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}});
        assert!(matches!(read(&[blocked]), Err(AiError::Blocked(_))));
        let unsafe_reply = json!({"candidates": [{"content": {"parts": [{"text": "par"}]}, "finishReason": "SAFETY"}]});
        assert!(matches!(read(&[unsafe_reply]), Err(AiError::Blocked(_))));
        let unknown_block = json!({"promptFeedback": {"blockReason": "SOMETHING_NEW"}});
        assert!(matches!(read(&[unknown_block]), Err(AiError::Blocked(_))));
        assert!(matches!(read(&[json!({})]), Err(AiError::Malformed(_))));
        let unknown = json!({"candidates": [{"content": {"parts": [{"text": "fine"}]}, "finishReason": "SOMETHING_NEW", "newField": {"x": 1}}]});
        assert_eq!(read(&[unknown]).unwrap(), Reply::text("fine"));
        let error =
            json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}});
        assert!(matches!(
            read(&[error]),
            Err(AiError::Status { code: 503, .. })
        ));
    }
}
