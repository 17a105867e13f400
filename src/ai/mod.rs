//! The assistant that answers customers first.
//!
//! [`Assistant`] is what the chat use cases call: it grounds the request in the knowledge base,
//! then runs one [`Provider`] call under the [`resilience`] rules (timeouts, retries, circuit
//! breaker). Providers: the offline [`knowledge_base`] responder (the default, no key needed),
//! [`gemini`] and any [`openai`]-compatible server. LLM providers stream: text reaches the
//! customer through [`Deltas`] as it arrives.

pub mod gemini;
pub mod knowledge_base;
pub mod openai;
pub mod prompt;
pub mod resilience;
mod sse;
pub mod summary;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::{AiProvider, DEFAULT_EMBEDDING_MODEL, DEFAULT_KNOWLEDGE_BASE, Settings};
use crate::domain::language::Lang;
use crate::domain::session::SenderType;
use crate::knowledge::KnowledgeBase;
use crate::knowledge::embedding::Embedder;
use resilience::Resilience;

/// The tool LLM providers are offered to hand the conversation to a person.
pub const TRANSFER_TOOL: &str = "transfer_to_human";
/// What the tool is for, as the model reads it.
pub const TRANSFER_TOOL_DESCRIPTION: &str = "Transfer the conversation to a human support agent. \
Call this when the customer asks for a person, when they are upset, or when you cannot help \
with what they need.";
/// The tool's result, as echoed back to the model in later requests.
pub const TRANSFER_TOOL_RESULT: &str = "The customer was transferred to a human agent.";

/// The `transfer_to_human` declaration (name, description, JSON-schema parameters), which both
/// APIs accept in this shape inside their own tool wrappers.
fn transfer_tool() -> Value {
    serde_json::json!({
        "name": TRANSFER_TOOL,
        "description": TRANSFER_TOOL_DESCRIPTION,
        "parameters": {
            "type": "object",
            "properties": {"reason": {
                "type": "string",
                "description": "Why a person should take over, in a few words, for the agent.",
            }},
            "required": ["reason"],
        },
    })
}

/// One message of the conversation as the assistant sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub sender: SenderType,
    pub text: String,
    /// What the provider that wrote this turn needs echoed back (see [`Reply`]).
    pub provider_data: Option<Value>,
}

impl Turn {
    pub fn new(sender: SenderType, text: impl Into<String>) -> Self {
        Self {
            sender,
            text: text.into(),
            provider_data: None,
        }
    }
}

/// Everything a provider is given for one reply.
#[derive(Debug, Clone)]
pub struct AssistantRequest {
    /// The system prompt with the knowledge-base passages for this conversation.
    pub system_instruction: String,
    /// The recent conversation, oldest first, ending with the customer's latest message.
    pub history: Vec<Turn>,
    /// Cap on the reply's length.
    pub max_reply_tokens: u32,
    /// The customer's language (what the offline responder answers in; LLMs follow the
    /// customer on their own).
    pub language: Lang,
}

impl AssistantRequest {
    /// The customer's latest message.
    pub fn latest_question(&self) -> &str {
        latest_client_texts(&self.history, 1).next().unwrap_or("")
    }
}

/// The customer's last `count` messages, newest first.
fn latest_client_texts(history: &[Turn], count: usize) -> impl Iterator<Item = &str> {
    history
        .iter()
        .rev()
        .filter(|t| t.sender == SenderType::Client)
        .take(count)
        .map(|t| t.text.as_str())
}

/// What the assistant decided. `provider_data` is what the provider needs echoed back when this
/// turn is part of a later request (Gemini's parts with their thought signatures, OpenAI's tool
/// calls); it is stored with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Say this to the customer.
    Text {
        text: String,
        provider_data: Option<Value>,
    },
    /// Hand the conversation to a human, for this reason.
    HandOff {
        reason: String,
        provider_data: Option<Value>,
    },
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            provider_data: None,
        }
    }
}

/// Why no reply came back.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the provider was silent for {0} seconds")]
    Timeout(u64),
    #[error("the provider answered HTTP {code}")]
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    #[error("the provider blocked the exchange: {0}")]
    Blocked(String),
    #[error("the provider's answer could not be read: {0}")]
    Malformed(String),
    #[error("the provider could not be reached: {0}")]
    Transport(String),
    #[error("the provider failed repeatedly; calls are paused (circuit breaker open)")]
    CircuitOpen,
}

impl AiError {
    /// Worth trying again: overload and server errors, and failures to connect.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            Self::Transport(_) => true,
            _ => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this says the provider is unwell (a refusal is a healthy answer).
    pub fn is_provider_failure(&self) -> bool {
        !matches!(self, Self::Blocked(_) | Self::CircuitOpen)
    }
}

/// Where a provider sends reply text as it arrives; the chat layer forwards it to the customer.
pub struct Deltas {
    sender: mpsc::Sender<String>,
    started: AtomicBool,
}

impl Deltas {
    /// A sink and the receiver the chat layer reads.
    pub fn channel() -> (Self, mpsc::Receiver<String>) {
        let (sender, receiver) = mpsc::channel(64);
        (
            Self {
                sender,
                started: AtomicBool::new(false),
            },
            receiver,
        )
    }

    /// Passes `text` on (nothing for empty text). Waits while the reader is behind.
    pub async fn send(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.started.store(true, Ordering::Relaxed);
        // A reader that has gone only means nobody is watching; the reply still completes.
        let _ = self.sender.send(text.to_owned()).await;
    }

    /// Whether any text was sent: a call that already showed text is not retried.
    pub fn started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }
}

/// A source of replies: one call, without retries (see [`resilience`]).
pub trait Provider: Send + Sync {
    /// The provider's name, for logs.
    fn name(&self) -> &'static str;

    /// Produces the next reply for the conversation in `request`, streaming its text into
    /// `deltas` when the provider can.
    fn call<'a>(
        &'a self,
        request: &'a AssistantRequest,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<Reply, AiError>>;
}

/// The configured provider, grounded in the knowledge base and called resiliently.
pub struct Assistant {
    provider: Box<dyn Provider>,
    knowledge: Arc<KnowledgeBase>,
    resilience: Resilience,
    system_prompt: String,
    /// Passages per request; 0 for the offline responder, which searches by itself.
    passages: usize,
    max_reply_tokens: u32,
}

impl Assistant {
    /// The assistant `AI_PROVIDER` selects.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let knowledge = knowledge_with_embeddings(settings, false)?;
        tracing::info!(passages = knowledge.len(), "knowledge base indexed");
        let provider: Box<dyn Provider> = match settings.ai_provider {
            AiProvider::KnowledgeBase => {
                Box::new(knowledge_base::Responder::new(knowledge.clone()))
            }
            AiProvider::Gemini => Box::new(gemini::Gemini::new(settings)?),
            AiProvider::OpenAi => Box::new(openai::OpenAi::new(settings)?),
        };
        let passages = match settings.ai_provider {
            AiProvider::KnowledgeBase => 0,
            _ => settings.ai_grounding_passages,
        };
        Ok(Self {
            provider,
            knowledge,
            resilience: Resilience::from_settings(settings),
            system_prompt: settings
                .system_prompt
                .clone()
                .unwrap_or_else(|| prompt::DEFAULT_SYSTEM_PROMPT.to_owned()),
            passages,
            max_reply_tokens: settings.ai_max_reply_tokens,
        })
    }

    /// The provider's name, for logs.
    pub fn name(&self) -> &'static str {
        self.provider.name()
    }

    /// The knowledge base the assistant answers from.
    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.knowledge
    }

    /// What the agent who takes over reads at once: built offline from `history`.
    pub fn offline_summary(&self, history: &[Turn]) -> String {
        summary::offline(&self.knowledge, history)
    }

    /// Two sentences about `history` written by the LLM; `None` for the offline responder, or
    /// when the call fails (the offline summary stands).
    pub async fn summarise(&self, history: &[Turn]) -> Option<String> {
        if self.passages == 0 {
            return None;
        }
        let request = AssistantRequest {
            system_instruction: summary::SUMMARY_PROMPT.to_owned(),
            history: vec![Turn::new(SenderType::Client, summary::transcript(history))],
            max_reply_tokens: 200,
            language: Lang::En,
        };
        // Nobody watches a summary being written: the receiver goes at once.
        let (deltas, receiver) = Deltas::channel();
        drop(receiver);
        match self
            .resilience
            .run(self.provider.as_ref(), &request, &deltas)
            .await
        {
            Ok(Reply::Text { text, .. }) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(provider = self.provider.name(), error = %err, "could not summarise the conversation");
                None
            }
        }
    }

    /// The next reply to the conversation `history` (oldest first).
    pub async fn reply(
        &self,
        history: Vec<Turn>,
        language: Lang,
        deltas: &Deltas,
    ) -> Result<Reply, AiError> {
        let request = self.request(history, language);
        self.resilience
            .run(self.provider.as_ref(), &request, deltas)
            .await
    }

    /// The request for `history`: the system prompt grounded in the passages that match the
    /// customer's last two messages (the last alone is often a follow-up like "how long?").
    pub fn request(&self, history: Vec<Turn>, language: Lang) -> AssistantRequest {
        let system_instruction = if self.passages == 0 {
            self.system_prompt.clone()
        } else {
            let query: Vec<&str> = latest_client_texts(&history, 2).collect();
            let hits = self
                .knowledge
                .search(&query.join("\n"), language, self.passages);
            let passages: Vec<_> = hits.iter().map(|hit| hit.passage).collect();
            prompt::grounded_instruction(&self.system_prompt, &passages)
        };
        AssistantRequest {
            system_instruction,
            history,
            max_reply_tokens: self.max_reply_tokens,
            language,
        }
    }
}

/// The knowledge base at `KNOWLEDGE_BASE`, or the built-in sample when the default folder is
/// absent (a server started from another folder still answers).
pub fn load_knowledge_base(settings: &Settings) -> anyhow::Result<KnowledgeBase> {
    let path = &settings.knowledge_base;
    if !path.exists() && path == Path::new(DEFAULT_KNOWLEDGE_BASE) {
        tracing::info!("no ./knowledge_base folder: using the built-in sample knowledge base");
        return Ok(KnowledgeBase::sample());
    }
    KnowledgeBase::load(path).with_context(|| {
        format!(
            "could not load the knowledge base at {} (check KNOWLEDGE_BASE)",
            path.display()
        )
    })
}

/// The sentence-embedding model at `EMBEDDING_MODEL`: `None` when it is `off`, or when the
/// default folder is absent (lexical retrieval alone); an error when a named folder is missing
/// or not a model.
pub fn load_embedder(settings: &Settings) -> anyhow::Result<Option<Arc<Embedder>>> {
    let Some(path) = &settings.embedding_model else {
        return Ok(None);
    };
    if !path.exists() && path == Path::new(DEFAULT_EMBEDDING_MODEL) {
        tracing::info!(
            "no embedding model at {DEFAULT_EMBEDDING_MODEL} (scripts/fetch-model installs it): lexical retrieval only"
        );
        return Ok(None);
    }
    let embedder = Embedder::load(path).with_context(|| {
        format!(
            "could not load the embedding model at {} (check EMBEDDING_MODEL, or run scripts/fetch-model)",
            path.display()
        )
    })?;
    Ok(Some(Arc::new(embedder)))
}

/// The knowledge base with semantic retrieval attached when a model is configured: at once
/// (`wait`), or on a background thread while lexical retrieval serves (the server).
pub fn knowledge_with_embeddings(
    settings: &Settings,
    wait: bool,
) -> anyhow::Result<Arc<KnowledgeBase>> {
    let knowledge = Arc::new(load_knowledge_base(settings)?);
    if let Some(embedder) = load_embedder(settings)? {
        let kb = knowledge.clone();
        let attach = move || {
            let started = std::time::Instant::now();
            kb.attach(embedder);
            tracing::info!(
                passages = kb.len(),
                took_ms = started.elapsed().as_millis() as u64,
                "knowledge base embedded: semantic retrieval on"
            );
        };
        if wait {
            attach();
        } else {
            std::thread::Builder::new()
                .name("kb-embeddings".into())
                .spawn(attach)?;
        }
    }
    Ok(knowledge)
}

/// An HTTP client for a provider: connection set-up is bounded here; silence during a call is
/// bounded by the provider with `AI_TIMEOUT_SECONDS` (a streamed reply may take longer in
/// total, as long as text keeps coming).
fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?)
}

/// Sends a provider request, waiting at most `idle` for the response head.
async fn send(
    request: reqwest::RequestBuilder,
    idle: Duration,
) -> Result<reqwest::Response, AiError> {
    tokio::time::timeout(idle, request.send())
        .await
        .map_err(|_| AiError::Timeout(idle.as_secs()))?
        .map_err(|e| transport_error(&e))
}

/// Reads a failed response: its status and `Retry-After` (in seconds), and the start of its
/// body for the log (never the request, so keys stay out).
async fn status_error(response: reqwest::Response) -> AiError {
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    if matches!(code, 401 | 403) {
        tracing::error!(code, %body, "the provider refused the request: check the API key and model settings");
    } else {
        tracing::debug!(code, %body, "provider error response");
    }
    AiError::Status { code, retry_after }
}

/// Maps a reqwest error without leaking request headers (reqwest's messages name the URL only).
fn transport_error(err: &reqwest::Error) -> AiError {
    AiError::Transport(err.to_string())
}
