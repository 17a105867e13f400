//! The assistant's turn: after a customer's message in an `AI` session, ask the configured
//! assistant with the system prompt and the recent history, then store and deliver its reply —
//! or hand off, or, if it failed, apologise and offer a human. Replies to one session are taken
//! one at a time, so they arrive in the order the questions were asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::Utc;
use uuid::Uuid;

use super::sessions::{find_session, hand_off};
use super::{commit, message_to_session};
use crate::ai::prompt::{DEFAULT_SYSTEM_PROMPT, FALLBACK_REPLY};
use crate::ai::{AssistantRequest, Reply, Turn};
use crate::app::AppState;
use crate::domain::session::{SenderType, SessionState};
use crate::error::ApiError;
use crate::store::{self, messages::NewMessage};

/// One lock per session with a reply in progress.
#[derive(Default)]
pub struct AssistantLocks(Mutex<HashMap<Uuid, Weak<tokio::sync::Mutex<()>>>>);

impl AssistantLocks {
    fn for_session(&self, session_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = locks.get(&session_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(session_id, Arc::downgrade(&lock));
        lock
    }
}

/// Answers the session's latest message in the background.
pub(super) fn spawn_reply(state: &AppState, session_id: Uuid) {
    let task_state = state.clone();
    state.tasks.spawn(async move {
        if let Err(err) = reply(&task_state, session_id).await {
            tracing::warn!(%session_id, error = %err, "assistant turn failed");
        }
    });
}

async fn still_with_assistant(state: &AppState, session_id: Uuid) -> Result<Option<i64>, ApiError> {
    let session = find_session(state, session_id).await?;
    Ok((session.state == SessionState::Ai).then_some(session.id))
}

async fn reply(state: &AppState, session_id: Uuid) -> Result<(), ApiError> {
    let lock = state.assistant_locks.for_session(session_id);
    let _turn = lock.lock().await;
    // Handed off or claimed while waiting for the lock: a person answers now.
    let Some(session_pk) = still_with_assistant(state, session_id).await? else {
        return Ok(());
    };
    let history_len = i64::try_from(state.settings.ai_history_messages).unwrap_or(20);
    let history = store::messages::recent(&state.db, session_pk, history_len)
        .await?
        .into_iter()
        .map(|m| Turn {
            sender: m.sender_type,
            text: m.content,
        })
        .collect();
    let request = AssistantRequest {
        system_prompt: state
            .settings
            .system_prompt
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_owned()),
        history,
    };
    let text = match state.assistant.reply(&request).await {
        Ok(Reply::Text(text)) => text,
        Ok(Reply::HandOff { reason }) => {
            hand_off(state, session_id, Some(reason)).await?;
            return Ok(());
        }
        Err(err) => {
            tracing::warn!(%session_id, provider = state.assistant.name(), error = %err, "assistant failed; sending the fallback");
            FALLBACK_REPLY.to_owned()
        }
    };
    if still_with_assistant(state, session_id).await?.is_none() {
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    let stored = store::messages::insert(
        &mut tx,
        &NewMessage {
            session_pk,
            sender: SenderType::Ai,
            sender_admin_id: None,
            content: &text,
            client_msg_id: None,
            created_at: Utc::now(),
        },
    )
    .await?;
    let event = message_to_session(session_id, stored.record(), None);
    commit(state, tx, vec![event]).await
}
