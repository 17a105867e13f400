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

use super::{Chat, Error, frames, session_audience, to_session};
use crate::ai::{AiError, Assistant, Deltas, Reply, Turn};
use crate::domain::ids::{SessionId, SessionKey};
use crate::domain::language::Lang;
use crate::domain::session::{SenderType, SessionState};
use crate::limits;
use crate::protocol::texts::{self, REPEATED_FAILURE_REASON};
use crate::protocol::{ClientEvent, ErrorCode, FrameError};
use crate::realtime::{Audience, ConnId, Event};
use crate::store::{self, messages::NewMessage};

/// Longest `message_delta` text; longer chunks are split so each event stays small.
const MAX_DELTA_CHARS: usize = 2000;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Per-session bookkeeping of assistant turns on this node: one lock per session with a reply
/// in progress, and the times of recent calls for the rate limit.
#[derive(Default)]
pub struct AssistantTurns {
    locks: Mutex<HashMap<SessionId, Weak<tokio::sync::Mutex<()>>>>,
    calls: Mutex<HashMap<SessionId, VecDeque<Instant>>>,
}

impl AssistantTurns {
    fn lock_for(&self, session_id: SessionId) -> Arc<tokio::sync::Mutex<()>> {
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
    fn allow(&self, session_id: SessionId, per_minute: u32, now: Instant) -> bool {
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

impl Chat {
    /// Answers the session's latest message in the background — unless the session has used up
    /// its assistant calls for this minute: then the customer's socket `from` is told
    /// (`rate_limited`); their message is stored all the same.
    pub(super) async fn answer(
        &self,
        session_id: SessionId,
        from: ConnId,
        lang: Lang,
    ) -> Result<(), Error> {
        let per_minute = self.inner.limits.ai_calls_per_minute;
        if !self
            .inner
            .turns
            .allow(session_id, per_minute, Instant::now())
        {
            let refusal = FrameError::new(
                ErrorCode::RateLimited,
                texts::rate_limited(lang, per_minute),
            );
            let error = ClientEvent::error(&refusal);
            let event = Event::frame(Audience::Connection { conn: from }, error.to_frame());
            return self.publish(vec![event]).await;
        }
        let global = self.inner.limits.ai_calls_per_minute_global;
        if let Err(retry_after) = limits::hit(
            &self.inner.db,
            "assistant-calls",
            global,
            RATE_WINDOW,
            Utc::now(),
        )
        .await?
        {
            tracing::warn!(
                global,
                retry_after,
                "assistant ceiling reached: no call made"
            );
            let refusal = FrameError::new(ErrorCode::RateLimited, texts::assistant_busy(lang));
            let event = Event::frame(
                Audience::Connection { conn: from },
                ClientEvent::error(&refusal).to_frame(),
            );
            return self.publish(vec![event]).await;
        }
        let chat = self.clone();
        self.inner.tasks.spawn(async move {
            if let Err(err) = chat.reply(session_id).await {
                tracing::warn!(%session_id, error = %err, "assistant turn failed");
            }
        });
        Ok(())
    }

    /// The last `AI_HISTORY_MESSAGES` messages of a session, oldest first, as the assistant
    /// reads them.
    pub(super) async fn assistant_history(
        &self,
        session_key: SessionKey,
    ) -> Result<Vec<Turn>, Error> {
        let history_len = i64::try_from(self.inner.limits.ai_history_messages).unwrap_or(20);
        let recent = store::messages::recent(&self.inner.db, session_key, history_len).await?;
        Ok(recent
            .into_iter()
            .map(|m| Turn {
                sender: m.sender_type,
                text: m.content,
                provider_data: m
                    .provider_data
                    .and_then(|raw| serde_json::from_str(&raw).ok()),
            })
            .collect())
    }

    /// Runs `work` with the assistant on the blocking pool: a knowledge-base search embeds text
    /// with the model, milliseconds of CPU that must not hold an async worker.
    pub(super) async fn with_assistant<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Assistant) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let assistant = self.inner.assistant.clone();
        tokio::task::spawn_blocking(move || work(&assistant))
            .await
            .map_err(|e| Error::Internal(e.into()))
    }

    /// The recent conversation of `session_id` (see `assistant_history`).
    pub(super) async fn recent_turns(&self, session_id: SessionId) -> Result<Vec<Turn>, Error> {
        let session = self.find_session(session_id).await?;
        self.assistant_history(session.id).await
    }

    /// The session's row key and the customer's language while the assistant still answers it.
    async fn still_with_assistant(
        &self,
        session_id: SessionId,
    ) -> Result<Option<(SessionKey, Lang)>, Error> {
        // From the database: an agent may have taken it over on another node a moment ago.
        let session = self.read_session(session_id).await?;
        Ok((session.state == SessionState::Ai).then(|| (session.id, session.language())))
    }

    /// Hands off for the assistant; a session that left the assistant meanwhile stays as it is.
    async fn assistant_hands_off(
        &self,
        session_id: SessionId,
        reason: String,
        provider_data: Option<String>,
    ) -> Result<(), Error> {
        match self.hand_off(session_id, Some(reason), provider_data).await {
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn reply(&self, session_id: SessionId) -> Result<(), Error> {
        let lock = self.inner.turns.lock_for(session_id);
        let _turn = lock.lock().await;
        // Handed off or claimed while waiting for the lock: a person answers now.
        let Some((session_key, lang)) = self.still_with_assistant(session_id).await? else {
            return Ok(());
        };
        let assistant = &self.inner.assistant;
        let history = self.assistant_history(session_key).await?;
        // The assistant's last word before the customer's latest message(s) was an apology for
        // a failure: one more failure is two in a row.
        let failed_before = history
            .iter()
            .rev()
            .find(|t| t.sender != SenderType::Client)
            .is_some_and(|t| t.sender == SenderType::Ai && texts::is_fallback_reply(&t.text));

        let stream_id = Uuid::new_v4().to_string();
        let (deltas, mut receiver) = Deltas::channel();
        let call = async move {
            let reply = assistant.reply(history, lang, &deltas).await;
            drop(deltas);
            reply
        };
        let forward = async {
            let mut shown = String::new();
            while let Some(text) = receiver.recv().await {
                self.forward_delta(session_id, &stream_id, &text).await;
                shown.push_str(&text);
            }
            shown
        };
        let (result, shown) = tokio::join!(call, forward);
        let shown = shown.trim();
        let reply = StoredReply {
            session_id,
            session_key,
            stream_id: &stream_id,
        };

        let (text, provider_data) = match result {
            Ok(Reply::Text {
                text,
                provider_data,
            }) => (text, provider_data),
            Ok(Reply::HandOff {
                reason,
                provider_data,
            }) => {
                // Words the model wrote before calling the tool were shown: they are kept, so
                // the deltas end in their message as always.
                if !shown.is_empty() {
                    self.store_reply(&reply, shown, None).await?;
                }
                let raw = provider_data.map(|data| data.to_string());
                return self.assistant_hands_off(session_id, reason, raw).await;
            }
            Err(AiError::Blocked(why)) => {
                tracing::info!(%session_id, provider = assistant.name(), reason = %why, "the provider refused; sending the refusal");
                (texts::refusal_reply(lang), None)
            }
            Err(err) => {
                tracing::warn!(%session_id, provider = assistant.name(), error = %err, "assistant failed");
                if failed_before && self.inner.limits.ai_failure_handoff {
                    if !shown.is_empty() {
                        // The half-written reply on screen is replaced by the apology.
                        self.store_reply(&reply, &texts::fallback_reply(lang), None)
                            .await?;
                    }
                    let reason = REPEATED_FAILURE_REASON.to_owned();
                    return self.assistant_hands_off(session_id, reason, None).await;
                }
                (texts::fallback_reply(lang), None)
            }
        };
        // Taken over by a person meanwhile: the reply is dropped, unless the customer saw it
        // being written — then it is completed, so no half-written message is left on their
        // screen.
        match self.read_session(session_id).await?.state {
            SessionState::Ai => {}
            SessionState::Human if !shown.is_empty() => {}
            SessionState::Human | SessionState::Closed => return Ok(()),
        }
        let provider_data = provider_data.map(|data| data.to_string());
        self.store_reply(&reply, &text, provider_data.as_deref())
            .await
    }

    /// Stores an assistant reply and sends it to the customer as the message that completes
    /// the deltas of its stream.
    async fn store_reply(
        &self,
        reply: &StoredReply<'_>,
        text: &str,
        provider_data: Option<&str>,
    ) -> Result<(), Error> {
        let mut tx = self.inner.db.begin().await?;
        let stored = store::messages::insert(
            &mut tx,
            &NewMessage {
                session: reply.session_key,
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
        let frame =
            frames::client_message(reply.session_id, stored, Some(reply.stream_id.to_owned()))
                .to_frame();
        let event = Event::message(session_audience(reply.session_id), frame, stored.id);
        self.commit(tx, vec![event]).await
    }

    /// Shows new reply text on the customer's sockets. Deltas are ephemeral: one that cannot be
    /// delivered is skipped, since the complete message follows.
    async fn forward_delta(&self, session_id: SessionId, stream_id: &str, text: &str) {
        let events = split_chars(text, MAX_DELTA_CHARS)
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
        if let Err(err) = self.publish(events).await {
            tracing::debug!(%session_id, error = %err, "a reply delta was not delivered");
        }
    }
}

/// Where an assistant reply is stored and which stream it completes.
struct StoredReply<'a> {
    session_id: SessionId,
    session_key: SessionKey,
    stream_id: &'a str,
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
        let (a, b) = (SessionId::new(), SessionId::new());
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
