//! Session life-cycle use cases: open, read, list, hand off, claim, release, return to the
//! assistant, close.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;

use super::{Chat, Error, frames, session_audience, to_agent, to_agents, to_session};
use crate::ai::Turn;
use crate::domain::client_info::NewClientInfo;
use crate::domain::ids::{AgentId, SessionId, SessionKey};
use crate::domain::language::Lang;
use crate::domain::session::{SenderType, SessionStatus, TransitionError};
use crate::limits;
use crate::protocol::{AgentEvent, ClientEvent, texts};
use crate::realtime::{Event, QueueChange, QueueEntry};
use crate::store::messages::NewMessage;
use crate::store::{self, Tx, sessions::SessionRecord};

const HOUR: Duration = Duration::from_secs(3600);

impl Chat {
    /// Opens a session for a customer at client `address`; the assistant answers first. One
    /// address may open `SESSIONS_PER_IP_PER_HOUR` sessions an hour, on all instances together.
    pub async fn create_session(
        &self,
        client: &NewClientInfo,
        language: Option<Lang>,
        address: IpAddr,
    ) -> Result<SessionRecord, Error> {
        let now = Utc::now();
        let limit = self.inner.limits.sessions_per_ip_per_hour;
        let key = format!("sessions:{address}");
        if let Err(retry_after) = limits::hit(&self.inner.db, &key, limit, HOUR, now).await? {
            tracing::warn!(%address, limit, "session creation refused: too many from this address");
            return Err(Error::RateLimited {
                message: texts::too_many_sessions(retry_after),
                retry_after: Some(retry_after),
            });
        }
        let session = store::sessions::create(&self.inner.db, client, language, now).await?;
        tracing::info!(session_id = %session.session_id, "session created");
        Ok(session)
    }

    /// The session, or [`Error::NotFound`]: this node's copy if it keeps one (see
    /// [`super::session_cache`]), else read from the database.
    pub async fn find_session(&self, session_id: SessionId) -> Result<SessionRecord, Error> {
        match self.inner.sessions.get(session_id) {
            Some(session) => Ok(session),
            None => self.read_session(session_id).await,
        }
    }

    /// The session as the database has it now (kept as this node's copy).
    pub(super) async fn read_session(&self, session_id: SessionId) -> Result<SessionRecord, Error> {
        let cache = &self.inner.sessions;
        let start = cache.start_read();
        let session = store::sessions::find(&self.inner.db, session_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        cache.keep(start, &session);
        Ok(session)
    }

    /// The session, for a use case that refuses some states: this node's copy when `allowed`
    /// accepts its status, else the session as the database has it now. A copy can be behind by
    /// a change another node made whose event has not arrived yet; it never causes a refusal.
    pub(super) async fn session_allowing(
        &self,
        session_id: SessionId,
        allowed: impl Fn(SessionStatus) -> bool,
    ) -> Result<SessionRecord, Error> {
        let session = self.find_session(session_id).await?;
        if allowed(session.status()) {
            return Ok(session);
        }
        self.read_session(session_id).await
    }

    /// Sessions waiting for an agent, oldest hand-off first.
    pub async fn queue(&self) -> Result<Vec<SessionRecord>, Error> {
        Ok(store::sessions::list_queue(&self.inner.db).await?)
    }

    /// Sessions held by `agent` — or by any agent, with `None` (the team view) — most
    /// recently active first.
    pub async fn active_sessions(
        &self,
        agent: Option<AgentId>,
    ) -> Result<Vec<SessionRecord>, Error> {
        Ok(store::sessions::list_active(&self.inner.db, agent).await?)
    }

    /// All sessions, newest first, one page at a time.
    pub async fn all_sessions(&self, limit: i64, offset: i64) -> Result<Vec<SessionRecord>, Error> {
        Ok(store::sessions::list_all(&self.inner.db, limit, offset).await?)
    }

    /// The queue as it is now, as agents are told of it.
    pub(super) async fn queue_entries(&self) -> Result<Vec<QueueEntry>, Error> {
        Ok(self
            .queue()
            .await?
            .iter()
            .map(frames::queue_entry)
            .collect())
    }

    /// `queue_update` with the queue as it is now, for an agent who asked.
    pub async fn queue_update(&self) -> Result<AgentEvent, Error> {
        Ok(frames::queue_update(&self.queue_entries().await?))
    }

    /// An agent's display name (full name, else username) and username; a placeholder for an
    /// account that is gone.
    async fn agent_names(&self, agent: AgentId) -> Result<(String, String), Error> {
        let cached = (self.inner.agent_names.lock())
            .unwrap_or_else(|p| p.into_inner())
            .get(&agent)
            .cloned();
        if let Some(names) = cached {
            return Ok(names);
        }
        let Some(account) = store::admins::find_by_id(&self.inner.db, agent).await? else {
            return Ok((texts::SOME_AGENT.into(), String::new()));
        };
        let names = (
            account
                .full_name
                .unwrap_or_else(|| account.username.clone()),
            account.username,
        );
        self.inner
            .agent_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent, names.clone());
        Ok(names)
    }

    /// The error for a transition the session's state does not allow: a session held by
    /// someone else names its holder.
    async fn refusal(&self, reason: TransitionError) -> Error {
        match reason {
            TransitionError::AlreadyAssigned { to } => self.taken_by(to).await,
            reason => reason.into(),
        }
    }

    /// The session is held by `holder`.
    async fn taken_by(&self, holder: AgentId) -> Error {
        match self.agent_names(holder).await {
            Ok((agent_name, agent_username)) => Error::Taken {
                agent_name,
                agent_username,
            },
            Err(err) => err,
        }
    }

    /// After a conditional UPDATE in `tx` found nothing to change: the error the state machine
    /// gives for the session as it is now (not found if it is gone). Read in the same
    /// transaction, so a concurrent winner's change is seen.
    async fn explain(
        &self,
        mut tx: Tx,
        session_id: SessionId,
        transition: impl FnOnce(SessionStatus) -> Result<SessionStatus, TransitionError>,
    ) -> Error {
        let current = store::sessions::find_current(&mut tx, session_id).await;
        drop(tx);
        match current {
            Err(err) => err.into(),
            Ok(None) => Error::session_not_found(),
            Ok(Some(current)) => match transition(current.status()) {
                Err(reason) => self.refusal(reason).await,
                // It changed back in between: someone else acted first.
                Ok(_) => Error::Conflict("Session changed concurrently; retry".into()),
            },
        }
    }

    /// The session leaves the assistant and joins the human queue, because the customer asked
    /// or the assistant could not help (`reason`). The customer is told, every agent learns of
    /// it, and everyone's view of the queue is updated. `provider_data` is the assistant's raw
    /// decision to hand off (a tool call), kept with the notice for later requests to the same
    /// provider.
    pub async fn hand_off(
        &self,
        session_id: SessionId,
        reason: Option<String>,
        provider_data: Option<String>,
    ) -> Result<SessionRecord, Error> {
        let now = Utc::now();
        let history = self.recent_turns(session_id).await?;
        let (summary, history) = self
            .with_assistant(move |assistant| (assistant.offline_summary(&history), history))
            .await?;
        let mut tx = self.inner.db.begin().await?;
        let Some(queued) = store::sessions::hand_off(&mut tx, session_id, now).await? else {
            return Err(self.explain(tx, session_id, SessionStatus::hand_off).await);
        };
        store::sessions::set_summary(&mut tx, queued.id, &summary).await?;
        let notice_text = texts::handoff(queued.language());
        let notice = store::messages::insert(
            &mut tx,
            &NewMessage {
                session: queued.id,
                sender: SenderType::Ai,
                sender_admin_id: None,
                content: notice_text,
                client_msg_id: None,
                provider_data: provider_data.as_deref(),
                created_at: now,
            },
        )
        .await?;
        let notice = notice.record();
        let queue_size = store::sessions::queue_size(&mut tx).await?;
        let events = vec![
            Event::message(
                session_audience(session_id),
                ClientEvent::HandoffRequested {
                    message: notice_text.into(),
                    sender_type: SenderType::Ai,
                    session_id,
                    id: Some(notice.id),
                    created_at: Some(notice.created_at),
                }
                .to_frame(),
                notice.id,
            ),
            to_agents(
                None,
                &AgentEvent::NewSessionQueued {
                    session_id,
                    client_name: queued.client.name.clone(),
                    queue_size,
                    reason: reason.clone(),
                    summary: summary.clone(),
                },
            ),
            Event::Queue(QueueChange::Joined(QueueEntry {
                summary: Some(summary),
                ..frames::queue_entry(&queued)
            })),
        ];
        self.commit(tx, events).await?;
        tracing::info!(%session_id, reason = reason.as_deref().unwrap_or("customer request"), "session handed off to the queue");
        let chat = self.clone();
        self.inner.tasks.spawn(async move {
            if let Err(err) = chat.write_llm_summary(session_id, queued.id, history).await {
                tracing::warn!(%session_id, error = %err, "could not store the summary");
            }
        });
        Ok(queued)
    }

    /// With an LLM configured, replaces the hand-off summary with two sentences it writes and
    /// tells the agents.
    async fn write_llm_summary(
        &self,
        session_id: SessionId,
        key: SessionKey,
        history: Vec<Turn>,
    ) -> Result<(), Error> {
        let Some(summary) = self.inner.assistant.summarise(&history).await else {
            return Ok(());
        };
        let mut tx = self.inner.db.begin().await?;
        store::sessions::set_summary(&mut tx, key, &summary).await?;
        let event = AgentEvent::SessionSummary {
            session_id,
            summary: summary.clone(),
        };
        let queued = Event::Queue(QueueChange::Summary {
            session_id,
            summary,
        });
        self.commit(tx, vec![to_agents(None, &event), queued]).await
    }

    /// The customer pressed "talk to a person".
    pub async fn request_human(&self, session_id: SessionId) -> Result<(), Error> {
        self.hand_off(session_id, None, None).await.map(drop)
    }

    /// The refusal for a claim by `agent` that the session's state rules out (see
    /// [`Chat::session_allowing`]).
    async fn claimable(&self, session_id: SessionId, agent: AgentId) -> Result<(), Error> {
        let session = self
            .session_allowing(session_id, |s| s.claim(agent).is_ok())
            .await?;
        match session.status().claim(agent) {
            Ok(_) => Ok(()),
            Err(reason) => Err(self.refusal(reason).await),
        }
    }

    /// `agent` takes the session, from the queue or from the assistant. Exactly one concurrent
    /// claimer wins; the others get a conflict, as does a claim of a closed session.
    pub async fn claim_session(
        &self,
        session_id: SessionId,
        agent: AgentId,
    ) -> Result<SessionRecord, Error> {
        // Losers of a race for a new hand-off are told from a read, without queueing for the
        // writer; the conditional UPDATE below still decides between nodes.
        self.claimable(session_id, agent).await?;
        // The rest queue behind the first claimer on this node, then are told from its outcome.
        let _turn = self.inner.claim_turns.turn(session_id).await;
        self.claimable(session_id, agent).await?;
        let (agent_name, agent_username) = self.agent_names(agent).await?;
        let mut tx = self.inner.db.begin().await?;
        let Some(claimed) = store::sessions::claim(&mut tx, session_id, agent, Utc::now()).await?
        else {
            return Err(self.explain(tx, session_id, |s| s.claim(agent)).await);
        };
        let queue_size = store::sessions::queue_size(&mut tx).await?;
        let events = vec![
            to_agent(
                agent,
                &AgentEvent::SessionClaimed {
                    session_id,
                    client_info: frames::contact(&claimed),
                },
            ),
            to_agents(
                Some(agent),
                &AgentEvent::SessionClaimedByOther {
                    session_id,
                    queue_size,
                    claimed_by: agent,
                    agent_name: agent_name.clone(),
                    agent_username,
                },
            ),
            to_session(
                session_id,
                &ClientEvent::AgentConnected {
                    message: texts::agent_joined(claimed.language(), &agent_name),
                    session_id,
                    agent_name,
                },
            ),
            Event::Queue(QueueChange::Left { session_id }),
        ];
        self.commit(tx, events).await?;
        tracing::info!(%session_id, %agent, "session claimed");
        Ok(claimed)
    }

    /// The holding agent puts the session back in the queue (keeping its place in line).
    pub async fn release_session(
        &self,
        session_id: SessionId,
        agent: AgentId,
    ) -> Result<SessionRecord, Error> {
        let mut tx = self.inner.db.begin().await?;
        let Some(released) =
            store::sessions::release(&mut tx, session_id, agent, Utc::now()).await?
        else {
            return Err(self.explain(tx, session_id, |s| s.release(agent)).await);
        };
        let events = vec![
            to_agent(agent, &AgentEvent::SessionReleased { session_id }),
            Event::Queue(QueueChange::Joined(frames::queue_entry(&released))),
        ];
        self.commit(tx, events).await?;
        tracing::info!(%session_id, %agent, "session released to the queue");
        Ok(released)
    }

    /// The holding agent hands the conversation back to the assistant.
    pub async fn return_to_ai(
        &self,
        session_id: SessionId,
        agent: AgentId,
    ) -> Result<SessionRecord, Error> {
        let mut tx = self.inner.db.begin().await?;
        let Some(returned) =
            store::sessions::return_to_ai(&mut tx, session_id, agent, Utc::now()).await?
        else {
            return Err(self
                .explain(tx, session_id, |s| s.return_to_ai(agent))
                .await);
        };
        let events = vec![
            to_agent(agent, &AgentEvent::SessionReleased { session_id }),
            to_session(
                session_id,
                &ClientEvent::ReturnedToAi {
                    message: texts::returned_to_ai(returned.language()).into(),
                    session_id,
                },
            ),
        ];
        self.commit(tx, events).await?;
        tracing::info!(%session_id, %agent, "session returned to the assistant");
        Ok(returned)
    }

    /// `agent` closes the session: only its holder may (forbidden otherwise), and only once
    /// (conflict).
    pub async fn close_session(
        &self,
        session_id: SessionId,
        agent: AgentId,
    ) -> Result<SessionRecord, Error> {
        let before = self.find_session(session_id).await?;
        let mut tx = self.inner.db.begin().await?;
        let Some(closed) = store::sessions::close(&mut tx, session_id, agent, Utc::now()).await?
        else {
            return Err(self.explain(tx, session_id, |s| s.close(agent)).await);
        };
        let mut events = vec![
            to_session(
                session_id,
                &ClientEvent::session_closed(session_id, closed.language()),
            ),
            to_agent(agent, &AgentEvent::SessionClosed { session_id }),
        ];
        if before.status() == SessionStatus::Waiting {
            events.push(Event::Queue(QueueChange::Left { session_id }));
        }
        self.commit(tx, events).await?;
        tracing::info!(%session_id, %agent, "session closed");
        Ok(closed)
    }
}
