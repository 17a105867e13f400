//! Google Gemini over its REST API:
//! `POST {GEMINI_BASE_URL}/v1beta/models/{GEMINI_MODEL}:generateContent` with the key in the
//! `x-goog-api-key` header, the system prompt as `systemInstruction`, and the conversation as
//! `contents` with roles `user` (the customer) and `model` (the assistant and human agents).

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use super::{AiError, Assistant, AssistantRequest, Reply, Turn};
use crate::config::{Secret, Settings};
use crate::domain::session::SenderType;

/// Stands in for the customer when the history begins with our side.
const CONVERSATION_START: &str = "(Earlier in this conversation.)";

/// Upper bound on reply length; support answers should be short.
const MAX_OUTPUT_TOKENS: u32 = 1024;

pub struct Gemini {
    http: reqwest::Client,
    url: String,
    api_key: Secret,
    timeout: Duration,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Part {
    pub text: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Content {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    temperature: f32,
    max_output_tokens: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest {
    system_instruction: Content,
    contents: Vec<Content>,
    generation_config: GenerationConfig,
}

/// Maps the stored conversation to Gemini's `contents`: customers are `user`; the assistant and
/// human agents are `model` (agent lines are marked so the model knows a person said them).
/// Consecutive turns of one role are merged, and the conversation starts with a `user` turn, as
/// the API requires (a placeholder when our side spoke first, so nothing said is dropped).
pub fn contents(history: &[Turn]) -> Vec<Content> {
    let mut contents: Vec<Content> = Vec::new();
    if history
        .first()
        .is_some_and(|t| t.sender != SenderType::Client)
    {
        contents.push(Content {
            role: Some("user"),
            parts: vec![Part {
                text: CONVERSATION_START.to_owned(),
            }],
        });
    }
    for turn in history {
        let (role, text) = match turn.sender {
            SenderType::Client => ("user", turn.text.clone()),
            SenderType::Ai => ("model", turn.text.clone()),
            SenderType::Admin => ("model", format!("[Human agent] {}", turn.text)),
        };
        match contents.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.push(Part { text }),
            _ => contents.push(Content {
                role: Some(role),
                parts: vec![Part { text }],
            }),
        }
    }
    contents
}

/// Reads the reply text of a `generateContent` response, or why there is none.
pub fn read_reply(body: &Value) -> Result<String, AiError> {
    if let Some(reason) = body
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return Err(AiError::Blocked(reason.to_owned()));
    }
    let candidate = body
        .pointer("/candidates/0")
        .ok_or_else(|| AiError::Malformed("no candidates".into()))?;
    let finish = candidate
        .get("finishReason")
        .and_then(Value::as_str)
        .unwrap_or("STOP");
    let text: String = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                // Thought summaries are not for the customer.
                .filter(|p| !p.get("thought").and_then(Value::as_bool).unwrap_or(false))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if matches!(
        finish,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
    ) {
        return Err(AiError::Blocked(finish.to_owned()));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(AiError::Malformed(format!(
            "empty reply (finishReason {finish})"
        )));
    }
    Ok(text.to_owned())
}

impl Gemini {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let api_key = settings
            .gemini_api_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("GEMINI_API_KEY is required for AI_PROVIDER=gemini"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(settings.ai_timeout)
            .build()?;
        Ok(Self {
            http,
            url: format!(
                "{}/v1beta/models/{}:generateContent",
                settings.gemini_base_url, settings.gemini_model
            ),
            api_key,
            timeout: settings.ai_timeout,
        })
    }

    async fn generate(&self, request: &AssistantRequest) -> Result<Reply, AiError> {
        let body = GenerateContentRequest {
            system_instruction: Content {
                role: None,
                parts: vec![Part {
                    text: request.system_prompt.clone(),
                }],
            },
            contents: contents(&request.history),
            generation_config: GenerationConfig {
                temperature: 0.4,
                max_output_tokens: MAX_OUTPUT_TOKENS,
            },
        };
        let response = self
            .http
            .post(&self.url)
            .header("x-goog-api-key", self.api_key.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AiError::Status(status.as_u16()));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| match self.transport_error(e) {
                AiError::Transport(why) => AiError::Malformed(why),
                other => other,
            })?;
        read_reply(&body).map(Reply::Text)
    }

    fn transport_error(&self, err: reqwest::Error) -> AiError {
        if err.is_timeout() {
            AiError::Timeout(self.timeout.as_secs())
        } else {
            // reqwest's message names the URL but never the headers, so the key stays out.
            AiError::Transport(err.to_string())
        }
    }
}

impl Assistant for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn reply<'a>(&'a self, request: &'a AssistantRequest) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.generate(request)).await {
                Ok(result) => result,
                Err(_) => Err(AiError::Timeout(self.timeout.as_secs())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(sender: SenderType, text: &str) -> Turn {
        Turn {
            sender,
            text: text.into(),
        }
    }

    #[test]
    fn roles_alternate_and_start_with_the_customer() {
        let history = [
            turn(SenderType::Ai, "Welcome!"),
            turn(SenderType::Client, "hi"),
            turn(SenderType::Client, "are you there?"),
            turn(SenderType::Ai, "Yes."),
            turn(SenderType::Admin, "Agent here."),
            turn(SenderType::Client, "thanks"),
        ];
        let contents = contents(&history);
        let roles: Vec<_> = contents.iter().map(|c| c.role.unwrap()).collect();
        assert_eq!(roles, ["user", "model", "user", "model", "user"]);
        assert_eq!(contents[0].parts[0].text, CONVERSATION_START);
        assert_eq!(contents[1].parts[0].text, "Welcome!");
        assert_eq!(contents[2].parts.len(), 2);
        assert_eq!(contents[3].parts[1].text, "[Human agent] Agent here.");
    }

    #[test]
    fn replies_blocks_and_garbage() {
        let ok = json!({"candidates": [{"content": {"parts": [{"text": "Hello"}, {"text": " there"}], "role": "model"}, "finishReason": "STOP"}]});
        assert_eq!(read_reply(&ok).unwrap(), "Hello there");
        let thought = json!({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}, {"text": "Answer"}]}}]});
        assert_eq!(read_reply(&thought).unwrap(), "Answer");
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}});
        assert!(matches!(read_reply(&blocked), Err(AiError::Blocked(_))));
        let unsafe_reply = json!({"candidates": [{"finishReason": "SAFETY"}]});
        assert!(matches!(
            read_reply(&unsafe_reply),
            Err(AiError::Blocked(_))
        ));
        assert!(matches!(read_reply(&json!({})), Err(AiError::Malformed(_))));
        let unknown = json!({"candidates": [{"content": {"parts": [{"text": "fine"}]}, "finishReason": "SOMETHING_NEW"}]});
        assert_eq!(read_reply(&unknown).unwrap(), "fine");
    }
}
