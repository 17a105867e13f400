//! What a socket starts with. A socket joins this node's hub first, then reads its opening
//! (`connected`, the messages after `?after=`, where the session stands), so a message stored in
//! between is both replayed and queued — and the writer skips the queued copy: each message once.

use std::collections::HashSet;

use super::{Chat, Error, frames};
use crate::domain::ids::{AgentId, MessageId, SessionId};
use crate::domain::session::SessionStatus;
use crate::protocol::{AgentEvent, ClientEvent, Frame, texts};
use crate::realtime::{Peer, Registration};
use crate::store;

/// The frames a socket sends before anything from its queue, the messages among them (queued
/// copies of which the writer skips), and the socket's place in the hub (dropping it leaves).
pub struct Opening {
    pub frames: Vec<Frame>,
    pub replayed: HashSet<MessageId>,
    pub registration: Registration,
}

impl Chat {
    /// Connects a customer's socket `peer` to `session_id`: `connected`, the messages after
    /// `after` when resuming, and a closed notice or the queue position.
    pub async fn connect_client(
        &self,
        session_id: SessionId,
        peer: &Peer,
        after: Option<MessageId>,
    ) -> Result<Opening, Error> {
        let db = &self.inner.db;
        let session = self.find_session(session_id).await?;
        let registration = self
            .inner
            .hub
            .register_client(session_id, peer, MessageId(0));
        let mut sent = vec![
            ClientEvent::Connected {
                message: texts::connected(session.language()).into(),
                session_id,
                state: session.state,
            }
            .to_frame(),
        ];
        let mut replayed = HashSet::new();
        let mut last_message_id = store::messages::last_id(db, session.id).await?;
        if let Some(after) = after {
            for message in store::messages::list(db, session.id, after, i64::MAX).await? {
                sent.push(frames::client_message(session_id, &message, None).to_frame());
                replayed.insert(message.id);
                last_message_id = last_message_id.max(message.id);
            }
        }
        match session.status() {
            SessionStatus::Closed => {
                sent.push(ClientEvent::session_closed(session_id, session.language()).to_frame())
            }
            SessionStatus::Waiting => {
                if let Some(position) = store::sessions::queue_position(db, session_id).await? {
                    let waiting = ClientEvent::waiting(session_id, position, session.language());
                    sent.push(waiting.to_frame());
                }
            }
            SessionStatus::Assigned(_) | SessionStatus::Ai => {}
        }
        self.inner.hub.saw_message(session_id, last_message_id);
        Ok(Opening {
            frames: sent,
            replayed,
            registration,
        })
    }

    /// Connects an agent's socket `peer`: `connected` with the queue, and when resuming, every
    /// message stored after `after` in the sessions the agent holds.
    pub async fn connect_agent(
        &self,
        agent: AgentId,
        username: &str,
        peer: &Peer,
        after: Option<MessageId>,
    ) -> Result<Opening, Error> {
        // A queue update queued meanwhile merely repeats what `connected` says.
        let registration = self.inner.hub.register_agent(agent, peer);
        let (queue_size, queued_sessions) = frames::queued(&self.queue_entries().await?);
        let mut sent = vec![
            AgentEvent::Connected {
                message: texts::agent_connected(username),
                admin_id: agent,
                queue_size,
                queued_sessions,
            }
            .to_frame(),
        ];
        let mut replayed = HashSet::new();
        if let Some(after) = after {
            for (session_id, client_name, message) in
                store::messages::after_for_agent(&self.inner.db, agent, after).await?
            {
                sent.push(frames::agent_message(session_id, &client_name, &message).to_frame());
                replayed.insert(message.id);
            }
        }
        Ok(Opening {
            frames: sent,
            replayed,
            registration,
        })
    }
}
