//! Agent assist: the knowledge-base passages that best match the customer's latest message,
//! for the agent to read or quote.

use super::{Chat, Error};
use crate::domain::ids::SessionId;
use crate::domain::session::SenderType;
use crate::knowledge::Passage;

/// A passage and how much of the customer's message it covers (0–1).
pub struct Suggested {
    pub passage: Passage,
    pub coverage: f64,
}

impl Chat {
    /// Up to `limit` passages for the customer's latest message in `session_id` (none before
    /// the customer has written).
    pub async fn suggestions(
        &self,
        session_id: SessionId,
        limit: usize,
    ) -> Result<Vec<Suggested>, Error> {
        let session = self.find_session(session_id).await?;
        let history = self.assistant_history(session.id).await?;
        let Some(latest) = history
            .into_iter()
            .rev()
            .find(|t| t.sender == SenderType::Client)
        else {
            return Ok(Vec::new());
        };
        let lang = session.language();
        self.with_assistant(move |assistant| {
            assistant
                .knowledge()
                .search(&latest.text, lang, limit)
                .into_iter()
                .map(|hit| Suggested {
                    passage: hit.passage.clone(),
                    coverage: hit.coverage,
                })
                .collect()
        })
        .await
    }
}
