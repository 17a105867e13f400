//! Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp's server,
//! LM Studio): `POST {OPENAI_BASE_URL}/chat/completions` with `messages` (system, user,
//! assistant), `stream: true`, and the `transfer_to_human` function as a tool. The answer is a
//! stream of server-sent `chat.completion.chunk` events ending in `data: [DONE]`.
//!
//! A tool call is stored with its message (`{"openai": {"tool_calls": [...]}}`) and echoed in
//! later requests, followed by the `tool` message that answers it, as the API requires. Servers
//! or models without tool support (some Ollama models answer 400) are retried once without
//! tools, and asked without them from then on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::sse::{ReplyReader, read_reply};
use super::{
    AiError, AssistantRequest, Deltas, Provider, Reply, TRANSFER_TOOL, TRANSFER_TOOL_RESULT, Turn,
};
use crate::config::{Secret, Settings};
use crate::domain::session::SenderType;

pub struct OpenAi {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<Secret>,
    idle_timeout: Duration,
    tools_supported: AtomicBool,
}

/// The stored tool calls of a turn, if an OpenAI-compatible reply wrote it.
fn tool_calls(turn: &Turn) -> Option<&Value> {
    turn.provider_data.as_ref()?.pointer("/openai/tool_calls")
}

/// Maps the conversation to chat `messages`: the system instruction first, customers as `user`,
/// the assistant and human agents as `assistant` (agent lines marked), tool calls echoed with
/// their results.
pub fn messages(request: &AssistantRequest) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": request.system_instruction})];
    for turn in &request.history {
        match (turn.sender, tool_calls(turn)) {
            (SenderType::Client, _) => {
                messages.push(json!({"role": "user", "content": turn.text}));
            }
            (SenderType::Ai, Some(calls)) => {
                messages.push(json!({"role": "assistant", "content": null, "tool_calls": calls}));
                for id in calls
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("id"))
                {
                    messages.push(
                        json!({"role": "tool", "tool_call_id": id, "content": TRANSFER_TOOL_RESULT}),
                    );
                }
            }
            (SenderType::Ai, None) => {
                messages.push(json!({"role": "assistant", "content": turn.text}));
            }
            (SenderType::Admin, _) => messages.push(json!({
                "role": "assistant",
                "content": format!("[Human agent] {}", turn.text),
            })),
        }
    }
    messages
}

/// The request body for `request`.
pub fn request_body(model: &str, request: &AssistantRequest, with_tools: bool) -> Value {
    let mut body = json!({
        "model": model,
        "messages": messages(request),
        "stream": true,
        "temperature": 0.4,
        "max_tokens": request.max_reply_tokens,
    });
    if with_tools {
        body["tools"] = json!([{"type": "function", "function": super::transfer_tool()}]);
    }
    body
}

/// One tool call being assembled from its streamed fragments.
#[derive(Debug, Default)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Accumulates a streamed reply, one chunk at a time.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    text: String,
    calls: Vec<ToolCall>,
    finish_reason: Option<String>,
}

impl ReplyReader for ReplyBuilder {
    fn push(&mut self, chunk: &Value) -> Result<String, AiError> {
        if let Some(error) = chunk.get("error") {
            // Some servers report failures inside the stream.
            let code = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            return Err(AiError::Status {
                code,
                retry_after: None,
            });
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            // Usage-only chunks carry no choice.
            return Ok(String::new());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(String::new());
        };
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(self.calls.len().saturating_sub(1));
            // Indices are small and dense; refuse absurd ones rather than allocate for them.
            if index > 16 {
                return Err(AiError::Malformed(format!("tool call index {index}")));
            }
            if self.calls.len() <= index {
                self.calls.resize_with(index + 1, ToolCall::default);
            }
            let slot = &mut self.calls[index];
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                slot.id = id.to_owned();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                slot.name.push_str(name);
            }
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                slot.arguments.push_str(arguments);
            }
        }
        let text = delta
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.text.push_str(text);
        Ok(text.to_owned())
    }

    fn finish(self) -> Result<Reply, AiError> {
        let finish = self.finish_reason.as_deref().unwrap_or("stop");
        if finish == "content_filter" {
            return Err(AiError::Blocked(finish.to_owned()));
        }
        if let Some(call) = self.calls.iter().find(|c| c.name == TRANSFER_TOOL) {
            let reason = serde_json::from_str::<Value>(&call.arguments)
                .ok()
                .and_then(|args| args.get("reason")?.as_str().map(str::to_owned))
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "the assistant decided a person should help".to_owned());
            let calls: Vec<Value> = self
                .calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            return Ok(Reply::HandOff {
                reason: reason.trim().to_owned(),
                provider_data: Some(json!({"openai": {"tool_calls": calls}})),
            });
        }
        let text = self.text.trim();
        if text.is_empty() {
            return Err(AiError::Malformed(format!(
                "empty reply (finish_reason {finish})"
            )));
        }
        // "length", or a reason added after this was written: keep the text that arrived.
        Ok(Reply::text(text))
    }
}

impl OpenAi {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            http: super::http_client()?,
            url: format!(
                "{}/chat/completions",
                settings.openai_base_url.trim_end_matches('/')
            ),
            model: settings.openai_model.clone(),
            api_key: settings.openai_api_key.clone(),
            idle_timeout: settings.ai_timeout,
            tools_supported: AtomicBool::new(true),
        })
    }

    async fn send(
        &self,
        request: &AssistantRequest,
        with_tools: bool,
    ) -> Result<reqwest::Response, AiError> {
        let mut post =
            self.http
                .post(&self.url)
                .json(&request_body(&self.model, request, with_tools));
        if let Some(key) = &self.api_key {
            post = post.bearer_auth(key.expose());
        }
        super::send(post, self.idle_timeout).await
    }

    async fn stream(&self, request: &AssistantRequest, deltas: &Deltas) -> Result<Reply, AiError> {
        let with_tools = self.tools_supported.load(Ordering::Relaxed);
        let mut response = self.send(request, with_tools).await?;
        if with_tools && response.status() == reqwest::StatusCode::BAD_REQUEST {
            let body = response.text().await.unwrap_or_default();
            if !body.to_ascii_lowercase().contains("tool") {
                tracing::warn!(body = %body.chars().take(300).collect::<String>(), "the OpenAI-compatible server refused the request");
                return Err(AiError::Status {
                    code: 400,
                    retry_after: None,
                });
            }
            tracing::warn!(model = %self.model, "the model does not support tools: asking without transfer_to_human from now on");
            self.tools_supported.store(false, Ordering::Relaxed);
            response = self.send(request, false).await?;
        }
        read_reply::<ReplyBuilder>(response, self.idle_timeout, deltas).await
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
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

    fn content(text: &str) -> Value {
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    }

    #[test]
    fn messages_start_with_the_system_instruction_and_echo_tool_calls() {
        let calls = json!([{"id": "call_1", "type": "function", "function": {"name": "transfer_to_human", "arguments": "{\"reason\":\"angry\"}"}}]);
        let mut handed_off = Turn::new(SenderType::Ai, "Connecting you.");
        handed_off.provider_data = Some(json!({"openai": {"tool_calls": calls.clone()}}));
        let request = AssistantRequest {
            system_instruction: "Be nice.".into(),
            history: vec![
                Turn::new(SenderType::Client, "this is useless"),
                handed_off,
                Turn::new(SenderType::Admin, "Hi, I'm Ana."),
                Turn::new(SenderType::Ai, "Welcome back."),
            ],
            max_reply_tokens: 100,
            language: crate::domain::language::Lang::En,
        };
        let messages = messages(&request);
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            [
                "system",
                "user",
                "assistant",
                "tool",
                "assistant",
                "assistant"
            ]
        );
        assert_eq!(messages[2]["tool_calls"], calls);
        assert_eq!(messages[3]["tool_call_id"], "call_1");
        assert_eq!(messages[4]["content"], "[Human agent] Hi, I'm Ana.");
        let body = request_body("llama3.2", &request, false);
        assert!(body.get("tools").is_none());
        assert_eq!(body["max_tokens"], 100);
    }

    #[test]
    fn streamed_text_and_tool_calls() {
        let text = read(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            content("Hel"),
            content("lo"),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ]);
        assert_eq!(text.unwrap(), Reply::text("Hello"));
        let call = read(&[
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "transfer_to_human", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"reason\": \"le"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "gal threat\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        let Ok(Reply::HandOff {
            reason,
            provider_data,
        }) = call
        else {
            panic!("expected a hand-off: {call:?}")
        };
        assert_eq!(reason, "legal threat");
        assert_eq!(
            provider_data.unwrap()["openai"]["tool_calls"][0]["id"],
            "call_9"
        );
    }

    #[test]
    fn filters_errors_and_unknown_values() {
        let filtered = read(&[
            content("I"),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}),
        ]);
        assert!(matches!(filtered, Err(AiError::Blocked(_))));
        let unknown = read(&[
            content("fine"),
            json!({"choices": [{"index": 0, "delta": {"reasoning": "x"}, "finish_reason": "brand_new_reason"}], "service_tier": "flex"}),
        ]);
        assert_eq!(unknown.unwrap(), Reply::text("fine"));
        let error = read(&[json!({"error": {"message": "overloaded", "code": 503}})]);
        assert!(matches!(error, Err(AiError::Status { code: 503, .. })));
        assert!(matches!(read(&[]), Err(AiError::Malformed(_))));
    }
}
