//! The assistant that answers customers first. [`Assistant`] is the one interface; providers:
//! the offline [`knowledge_base`] responder (the default, no key needed) and [`gemini`].

pub mod gemini;
pub mod knowledge_base;
pub mod prompt;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures_util::future::BoxFuture;

use crate::config::{AiProvider, DEFAULT_KNOWLEDGE_BASE, Settings};
use crate::domain::session::SenderType;

/// One message of the conversation as the assistant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub sender: SenderType,
    pub text: String,
}

/// Everything a provider is given for one reply: instructions and the recent conversation,
/// oldest first, ending with the customer's latest message.
#[derive(Debug, Clone)]
pub struct AssistantRequest {
    pub system_prompt: String,
    pub history: Vec<Turn>,
}

impl AssistantRequest {
    /// The customer's latest message.
    pub fn latest_question(&self) -> &str {
        self.history
            .iter()
            .rev()
            .find(|t| t.sender == SenderType::Client)
            .map_or("", |t| t.text.as_str())
    }
}

/// What the assistant decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Say this to the customer.
    Text(String),
    /// Hand the conversation to a human, for this reason.
    HandOff { reason: String },
}

/// Why no reply came back. Every variant ends in a polite fallback to the customer.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the provider did not answer within {0} seconds")]
    Timeout(u64),
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    #[error("the provider blocked the exchange: {0}")]
    Blocked(String),
    #[error("the provider's answer could not be read: {0}")]
    Malformed(String),
    #[error("the provider could not be reached: {0}")]
    Transport(String),
}

/// A source of replies.
pub trait Assistant: Send + Sync {
    /// The provider's name, for logs.
    fn name(&self) -> &'static str;

    /// Produces the next reply for the conversation in `request`.
    fn reply<'a>(&'a self, request: &'a AssistantRequest) -> BoxFuture<'a, Result<Reply, AiError>>;
}

/// The assistant `AI_PROVIDER` selects.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Assistant>> {
    Ok(match settings.ai_provider {
        AiProvider::KnowledgeBase => {
            let path = &settings.knowledge_base;
            let kb = if !path.exists() && path == Path::new(DEFAULT_KNOWLEDGE_BASE) {
                // Run from another folder with no KNOWLEDGE_BASE: the sample is built in.
                tracing::info!(
                    "no ./knowledge_base folder: using the built-in sample knowledge base"
                );
                knowledge_base::KnowledgeBase::sample()
            } else {
                knowledge_base::KnowledgeBase::load(path).with_context(|| {
                    format!(
                        "could not load the knowledge base at {} (check KNOWLEDGE_BASE)",
                        path.display()
                    )
                })?
            };
            tracing::info!(entries = kb.len(), "knowledge base loaded");
            Arc::new(knowledge_base::Responder::new(kb))
        }
        AiProvider::Gemini => Arc::new(gemini::Gemini::new(settings)?),
        AiProvider::OpenAi => anyhow::bail!("AI_PROVIDER=openai is not available in this version"),
    })
}
