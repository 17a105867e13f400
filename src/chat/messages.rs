//! Messages and typing: a customer writes (stored, acknowledged, shown to the right agents,
//! answered by the assistant or handed off), an agent writes to the session it holds; and a
//! conversation's history.

use chrono::{DateTime, Utc};

use super::{Chat, Error, frames, to_agent, to_agents, to_session};
use crate::domain::handoff::asks_for_human;
use crate::domain::ids::{AgentId, MessageId, SessionId};
use crate::domain::language;
use crate::domain::session::{SenderType, SessionStatus, TransitionError};
use crate::protocol::{Ack, AgentEvent, ClientEvent, Frame, Typing};
use crate::realtime::{Audience, ConnId, Event};
use crate::store::messages::{Inserted, MessageRecord, NewMessage};
use crate::store::{self, sessions::SessionRecord};

/// What the sender learns once its message is stored.
#[derive(Debug, Clone)]
pub struct MessageReceipt {
    pub id: MessageId,
    pub created_at: DateTime<Utc>,
}

impl From<&MessageRecord> for MessageReceipt {
    fn from(message: &MessageRecord) -> Self {
        Self {
            id: message.id,
            created_at: message.created_at,
        }
    }
}

/// Who wrote a message, for its `ack`.
#[derive(Clone, Copy)]
enum Writer {
    Customer,
    Agent,
}

/// The sender's `ack`, the first event of its message: sent only once the message is stored.
fn ack(
    to: ConnId,
    client_msg_id: Option<String>,
    message: &MessageRecord,
    writer: Writer,
) -> Option<Event> {
    let ack = Ack {
        client_msg_id: client_msg_id?,
        id: message.id,
        created_at: message.created_at,
    };
    let frame: Frame = match writer {
        Writer::Customer => ClientEvent::Ack(ack).to_frame(),
        Writer::Agent => AgentEvent::Ack(ack).to_frame(),
    };
    Some(Event::frame(Audience::Connection { conn: to }, frame))
}

/// A stored message for every socket of the customer's session (except `except`).
fn to_session_sockets(
    session_id: SessionId,
    message: &MessageRecord,
    except: Option<ConnId>,
) -> Event {
    Event::message(
        Audience::Session { session_id, except },
        frames::client_message(session_id, message, None).to_frame(),
        message.id,
    )
}

/// A message a person wrote: the customer, or the agent `agent`.
fn written<'a>(
    session: &SessionRecord,
    agent: Option<AgentId>,
    content: &'a str,
    client_msg_id: Option<&'a str>,
) -> NewMessage<'a> {
    NewMessage {
        session: session.id,
        sender: match agent {
            Some(_) => SenderType::Admin,
            None => SenderType::Client,
        },
        sender_admin_id: agent,
        content,
        client_msg_id,
        provider_data: None,
        created_at: Utc::now(),
    }
}

/// The message as agents see it.
fn for_agents(session: &SessionRecord, message: &MessageRecord) -> AgentEvent {
    frames::agent_message(session.session_id, &session.client.name, message)
}

/// Whom a customer's message is shown to, as the session was when it was written.
struct FromCustomer {
    session: SessionRecord,
    from: ConnId,
    client_msg_id: Option<String>,
    /// The customer's place in line, while queued.
    position: Option<usize>,
    lang: language::Lang,
}

impl FromCustomer {
    /// The sender's `ack`; unless the message is a repeat, the customer's other tabs, the
    /// agents concerned and, while queued, the customer's place in line.
    fn events(self, inserted: &Inserted) -> Vec<Event> {
        let record = inserted.record();
        let session_id = self.session.session_id;
        let mut events: Vec<Event> = ack(self.from, self.client_msg_id, record, Writer::Customer)
            .into_iter()
            .collect();
        if let Inserted::Repeat(_) = inserted {
            // A resend after a lost ack: acknowledged again, nothing else happens twice.
            return events;
        }
        events.push(to_session_sockets(session_id, record, Some(self.from)));
        match self.session.status() {
            SessionStatus::Assigned(agent) => {
                events.push(to_agent(agent, &for_agents(&self.session, record)))
            }
            SessionStatus::Waiting => {
                events.push(to_agents(None, &for_agents(&self.session, record)));
                if let Some(position) = self.position {
                    events.push(to_session(
                        session_id,
                        &ClientEvent::waiting(session_id, position, self.lang),
                    ));
                }
            }
            SessionStatus::Ai | SessionStatus::Closed => {}
        }
        events
    }
}

/// An agent's message: shown to the customer and on the agent's other tabs.
struct FromAgent {
    session: SessionRecord,
    agent: AgentId,
    from: ConnId,
    client_msg_id: Option<String>,
}

impl FromAgent {
    fn events(self, inserted: &Inserted) -> Vec<Event> {
        let record = inserted.record();
        let mut events: Vec<Event> = ack(self.from, self.client_msg_id, record, Writer::Agent)
            .into_iter()
            .collect();
        if let Inserted::New(_) = inserted {
            events.push(to_session_sockets(self.session.session_id, record, None));
            events.push(Event::message(
                Audience::Agent {
                    admin_id: self.agent,
                    except: Some(self.from),
                },
                for_agents(&self.session, record).to_frame(),
                record.id,
            ));
        }
        events
    }
}

impl Chat {
    /// A session's messages after `after`, oldest first, at most `limit`.
    pub async fn history(
        &self,
        session_id: SessionId,
        after: MessageId,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, Error> {
        let session = self.find_session(session_id).await?;
        Ok(store::messages::list(&self.inner.db, session.id, after, limit).await?)
    }

    /// A customer's message, sent from socket `from`. It is stored (once per `client_msg_id`)
    /// and acknowledged; then shown on the customer's other tabs and to the agents concerned,
    /// and answered: by the assistant, by a hand-off if it asks for a person, or — while queued
    /// — with the customer's queue position.
    pub async fn client_message(
        &self,
        session_id: SessionId,
        from: ConnId,
        content: &str,
        client_msg_id: Option<String>,
    ) -> Result<MessageReceipt, Error> {
        let db = &self.inner.db;
        let session = self
            .session_allowing(session_id, |s| s != SessionStatus::Closed)
            .await?;
        let status = session.status();
        if status == SessionStatus::Closed {
            return Err(TransitionError::Closed.into());
        }
        let position = match status {
            SessionStatus::Waiting => store::sessions::queue_position(db, session_id).await?,
            _ => None,
        };
        // The customer's language follows what they write, once a message says it clearly.
        let switch_to = language::of_message(content).filter(|written_in| {
            *written_in != session.language() || session.language_code.is_none()
        });
        let lang = switch_to.unwrap_or(session.language());
        let message = written(&session, None, content, client_msg_id.as_deref());
        let key = session.id;
        let route = FromCustomer {
            session,
            from,
            client_msg_id: client_msg_id.clone(),
            position,
            lang,
        };
        let inserted = match switch_to {
            // The message and the language it says, in one transaction.
            Some(written_in) => {
                let mut tx = db.begin().await?;
                let inserted = store::messages::insert(&mut tx, &message).await?;
                store::sessions::set_language(&mut tx, key, written_in).await?;
                self.commit(tx, route.events(&inserted)).await?;
                inserted
            }
            // Usually the message is the one change.
            None => {
                self.inner
                    .bus
                    .append(db, &message, move |inserted| route.events(inserted))
                    .await?
            }
        };
        let receipt = MessageReceipt::from(inserted.record());
        if let Inserted::New(_) = inserted
            && status == SessionStatus::Ai
        {
            if asks_for_human(content) {
                self.hand_off(session_id, None, None).await?;
            } else {
                self.answer(session_id, from, lang).await?;
            }
        }
        Ok(receipt)
    }

    /// An agent's message to the session it holds, sent from socket `from`.
    pub async fn agent_message(
        &self,
        session_id: SessionId,
        agent: AgentId,
        from: ConnId,
        content: &str,
        client_msg_id: Option<String>,
    ) -> Result<MessageReceipt, Error> {
        let session = self
            .session_allowing(session_id, |s| s.can_agent_write(agent).is_ok())
            .await?;
        session.status().can_agent_write(agent)?;
        let message = written(&session, Some(agent), content, client_msg_id.as_deref());
        let route = FromAgent {
            session,
            agent,
            from,
            client_msg_id: client_msg_id.clone(),
        };
        let inserted = self
            .inner
            .bus
            .append(&self.inner.db, &message, move |inserted| {
                route.events(inserted)
            })
            .await?;
        Ok(MessageReceipt::from(inserted.record()))
    }

    /// The customer is typing: their agent sees it.
    pub async fn client_typing(&self, session_id: SessionId) -> Result<(), Error> {
        let session = self
            .session_allowing(session_id, |s| s != SessionStatus::Closed)
            .await?;
        match session.status() {
            SessionStatus::Closed => Err(TransitionError::Closed.into()),
            SessionStatus::Assigned(agent) => {
                let event = AgentEvent::Typing(Typing {
                    session_id,
                    sender_type: SenderType::Client,
                });
                self.publish(vec![to_agent(agent, &event)]).await
            }
            SessionStatus::Ai | SessionStatus::Waiting => Ok(()),
        }
    }

    /// The agent is typing: the customer sees it.
    pub async fn agent_typing(&self, session_id: SessionId, agent: AgentId) -> Result<(), Error> {
        let session = self
            .session_allowing(session_id, |s| s.can_agent_write(agent).is_ok())
            .await?;
        session.status().can_agent_write(agent)?;
        let event = ClientEvent::Typing(Typing {
            session_id,
            sender_type: SenderType::Admin,
        });
        self.publish(vec![to_session(session_id, &event)]).await
    }
}
