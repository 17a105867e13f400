//! The assistant's turn: after a customer's message in an `AI` session, ask the assistant with
//! the recent history, stream its text to the customer as `message_delta` frames, then store and
//! deliver the complete reply — or hand off, or, if it failed, apologise and offer a human (and
//! after two failures in a row, queue the session for one). Replies to one session are taken one
//! at a time, so they arrive in the order the questions were asked, and each session may ask for
//! at most `AI_CALLS_PER_MINUTE` replies.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::sessions::{find_session, hand_off};
use super::{commit, to_session};
use crate::ai::prompt::{FALLBACK_REPLY, REFUSAL_REPLY, REPEATED_FAILURE_REASON};
use crate::ai::{AiError, Deltas, Reply, Turn};
use crate::app::AppState;
use crate::domain::session::{SenderType, SessionState};
use crate::error::ApiError;
use crate::realtime::{Audience, ConnId, Event};
use crate::store::{self, messages::NewMessage};
use crate::ws::protocol::ClientEvent;

/// Longest `message_delta` text; longer chunks are split so each event stays small.
const MAX_DELTA_CHARS: usize = 2000;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Per-session bookkeeping of assistant turns on this node: one lock per session with a reply
/// in progress, and the times of recent calls for the rate limit.
#[derive(Default)]
pub struct AssistantTurns {
    locks: Mutex<HashMap<Uuid, Weak<tokio::sync::Mutex<()>>>>,
    calls: Mutex<HashMap<Uuid, VecDeque<Instant>>>,
}

impl AssistantTurns {
    fn lock_for(&self, session_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = locks.get(&session_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(session_id, Arc::downgrade(&lock));
        lock
    }

    /// Counts a call for `session_id` if fewer than `per_minute` were made in the last minute.
    fn allow(&self, session_id: Uuid, per_minute: u32, now: Instant) -> bool {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let recent_in = |times: &VecDeque<Instant>| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < RATE_WINDOW)
        };
        // Forget idle sessions now and then, so the map stays as small as the live traffic.
        if calls.len() > 1024 {
            calls.retain(|_, times| recent_in(times));
        }
        let times = calls.entry(session_id).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= per_minute as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

/// Answers the session's latest message in the background — unless the session has used up its
/// assistant calls for this minute: then the customer's socket `from` is told (`rate_limited`);
/// their message is stored all the same.
pub(super) async fn answer(
    state: &AppState,
    session_id: Uuid,
    from: ConnId,
) -> Result<(), ApiError> {
    let per_minute = state.settings.ai_calls_per_minute;
    if !state
        .assistant_turns
        .allow(session_id, per_minute, Instant::now())
    {
        let error = ClientEvent::Error {
            message: format!(
                "The assistant answers at most {per_minute} messages a minute. Your message was \
                 saved; please wait a moment before sending another, or ask for a human agent."
            ),
            code: "rate_limited",
        };
        let event = Event::frame(Audience::Connection { conn: from }, error.to_frame());
        return Ok(state.bus.publish(vec![event]).await?);
    }
    let task_state = state.clone();
    state.tasks.spawn(async move {
        if let Err(err) = reply(&task_state, session_id).await {
            tracing::warn!(%session_id, error = %err, "assistant turn failed");
        }
    });
    Ok(())
}

async fn still_with_assistant(state: &AppState, session_id: Uuid) -> Result<Option<i64>, ApiError> {
    let session = find_session(state, session_id).await?;
    Ok((session.state == SessionState::Ai).then_some(session.id))
}

/// Hands off for the assistant; a session that left the assistant meanwhile stays as it is.
async fn assistant_hands_off(
    state: &AppState,
    session_id: Uuid,
    reason: String,
    provider_data: Option<String>,
) -> Result<(), ApiError> {
    match hand_off(state, session_id, Some(reason), provider_data).await {
        Ok(_) | Err(ApiError::Conflict(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

async fn reply(state: &AppState, session_id: Uuid) -> Result<(), ApiError> {
    let lock = state.assistant_turns.lock_for(session_id);
    let _turn = lock.lock().await;
    // Handed off or claimed while waiting for the lock: a person answers now.
    let Some(session_pk) = still_with_assistant(state, session_id).await? else {
        return Ok(());
    };
    let history_len = i64::try_from(state.settings.ai_history_messages).unwrap_or(20);
    let history: Vec<Turn> = store::messages::recent(&state.db, session_pk, history_len)
        .await?
        .into_iter()
        .map(|m| Turn {
            sender: m.sender_type,
            text: m.content,
            provider_data: m
                .provider_data
                .and_then(|raw| serde_json::from_str(&raw).ok()),
        })
        .collect();
    // The assistant's last word before the customer's latest message(s) was an apology for a
    // failure: one more failure is two in a row.
    let failed_before = history
        .iter()
        .rev()
        .find(|t| t.sender != SenderType::Client)
        .is_some_and(|t| t.sender == SenderType::Ai && t.text == FALLBACK_REPLY);

    let stream_id = Uuid::new_v4().to_string();
    let (deltas, mut receiver) = Deltas::channel();
    let call = async move {
        let reply = state.assistant.reply(history, &deltas).await;
        drop(deltas);
        reply
    };
    let forward = async {
        let mut shown = String::new();
        while let Some(text) = receiver.recv().await {
            forward_delta(state, session_id, &stream_id, &text).await;
            shown.push_str(&text);
        }
        shown
    };
    let (result, shown) = tokio::join!(call, forward);
    let shown = shown.trim();

    let (text, provider_data) = match result {
        Ok(Reply::Text {
            text,
            provider_data,
        }) => (text, provider_data),
        Ok(Reply::HandOff {
            reason,
            provider_data,
        }) => {
            // Words the model wrote before calling the tool were shown: they are kept, so the
            // deltas end in their message as always.
            if !shown.is_empty() {
                store_reply(state, session_id, session_pk, shown, None, &stream_id).await?;
            }
            let raw = provider_data.map(|data| data.to_string());
            return assistant_hands_off(state, session_id, reason, raw).await;
        }
        Err(AiError::Blocked(why)) => {
            tracing::info!(%session_id, provider = state.assistant.name(), reason = %why, "the provider refused; sending the refusal");
            (REFUSAL_REPLY.to_owned(), None)
        }
        Err(err) => {
            tracing::warn!(%session_id, provider = state.assistant.name(), error = %err, "assistant failed");
            if failed_before && state.settings.ai_failure_handoff {
                if !shown.is_empty() {
                    // The half-written reply on screen is replaced by the apology.
                    store_reply(
                        state,
                        session_id,
                        session_pk,
                        FALLBACK_REPLY,
                        None,
                        &stream_id,
                    )
                    .await?;
                }
                let reason = REPEATED_FAILURE_REASON.to_owned();
                return assistant_hands_off(state, session_id, reason, None).await;
            }
            (FALLBACK_REPLY.to_owned(), None)
        }
    };
    // Taken over by a person meanwhile: the reply is dropped, unless the customer saw it being
    // written — then it is completed, so no half-written message is left on their screen.
    match find_session(state, session_id).await?.state {
        SessionState::Ai => {}
        SessionState::Human if !shown.is_empty() => {}
        SessionState::Human | SessionState::Closed => return Ok(()),
    }
    let provider_data = provider_data.map(|data| data.to_string());
    store_reply(
        state,
        session_id,
        session_pk,
        &text,
        provider_data.as_deref(),
        &stream_id,
    )
    .await
}

/// Stores an assistant reply and sends it to the customer as the message that completes the
/// deltas of `stream_id`.
async fn store_reply(
    state: &AppState,
    session_id: Uuid,
    session_pk: i64,
    text: &str,
    provider_data: Option<&str>,
    stream_id: &str,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let stored = store::messages::insert(
        &mut tx,
        &NewMessage {
            session_pk,
            sender: SenderType::Ai,
            sender_admin_id: None,
            content: text,
            client_msg_id: None,
            provider_data,
            created_at: Utc::now(),
        },
    )
    .await?;
    let stored = stored.record();
    let frame = ClientEvent::Message {
        id: stored.id,
        session_id,
        content: stored.content.clone(),
        sender_type: stored.sender_type,
        created_at: stored.created_at,
        client_msg_id: None,
        stream_id: Some(stream_id.to_owned()),
    }
    .to_frame();
    let event = Event::message(super::session_audience(session_id), frame, stored.id);
    commit(state, tx, vec![event]).await
}

/// Shows new reply text on the customer's sockets. Deltas are ephemeral: one that cannot be
/// delivered is skipped, since the complete message follows.
async fn forward_delta(state: &AppState, session_id: Uuid, stream_id: &str, text: &str) {
    let pieces = split_chars(text, MAX_DELTA_CHARS);
    let events = pieces
        .into_iter()
        .map(|delta| {
            to_session(
                session_id,
                &ClientEvent::MessageDelta {
                    session_id,
                    stream_id: stream_id.to_owned(),
                    delta: delta.to_owned(),
                },
            )
        })
        .collect();
    if let Err(err) = state.bus.publish(events).await {
        tracing::debug!(%session_id, error = %err, "a reply delta was not delivered");
    }
}

/// `text` in pieces of at most `max` characters, split on character boundaries.
fn split_chars(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(index, _)| index);
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_slides_over_one_minute_per_session() {
        let turns = AssistantTurns::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let start = Instant::now();
        assert!(turns.allow(a, 2, start));
        assert!(turns.allow(a, 2, start + Duration::from_secs(1)));
        assert!(!turns.allow(a, 2, start + Duration::from_secs(2)));
        assert!(
            turns.allow(b, 2, start + Duration::from_secs(2)),
            "per session"
        );
        assert!(turns.allow(a, 2, start + Duration::from_secs(61)));
    }

    #[test]
    fn long_deltas_split_on_character_boundaries() {
        assert_eq!(split_chars("héllo", 2), ["hé", "ll", "o"]);
        assert!(split_chars("", 5).is_empty());
    }
}
