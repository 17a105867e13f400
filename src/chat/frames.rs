//! Stored records as wire frames: each conversion written once, whoever sends it (a live event,
//! a socket's opening, a resynchronisation).

use crate::domain::ids::SessionId;
use crate::protocol::{AgentEvent, ClientContact, ClientEvent, QueuedSession};
use crate::realtime::QueueEntry;
use crate::store::messages::MessageRecord;
use crate::store::sessions::SessionRecord;

/// A stored message as the customer sees it; `stream_id` when it completes streamed deltas.
pub(super) fn client_message(
    session_id: SessionId,
    message: &MessageRecord,
    stream_id: Option<String>,
) -> ClientEvent {
    ClientEvent::Message {
        id: message.id,
        session_id,
        content: message.content.clone(),
        sender_type: message.sender_type,
        created_at: message.created_at,
        client_msg_id: None,
        stream_id,
    }
}

/// A stored message as agents see it.
pub(super) fn agent_message(
    session_id: SessionId,
    client_name: &str,
    message: &MessageRecord,
) -> AgentEvent {
    AgentEvent::Message {
        id: message.id,
        session_id,
        content: message.content.clone(),
        sender_type: message.sender_type,
        client_name: client_name.to_owned(),
        created_at: message.created_at,
    }
}

/// The customer's contact details, for the agent who claimed the session.
pub(super) fn contact(session: &SessionRecord) -> ClientContact {
    ClientContact {
        name: session.client.name.clone(),
        email: session.client.email.clone(),
        phone: session.client.phone.clone(),
    }
}

/// A waiting session as the queue holds it.
pub(super) fn queue_entry(session: &SessionRecord) -> QueueEntry {
    QueueEntry {
        session_id: session.session_id,
        key: session.id,
        queued_at: session.queued_at,
        client_name: session.client.name.clone(),
        summary: session.summary.clone(),
        language: session.language(),
    }
}

/// The queue as agents see it: its size and its sessions, oldest hand-off first.
pub(super) fn queued(queue: &[QueueEntry]) -> (usize, Vec<QueuedSession>) {
    let sessions = queue
        .iter()
        .map(|s| QueuedSession {
            session_id: s.session_id,
            queued_at: s.queued_at,
            client_name: s.client_name.clone(),
            summary: s.summary.clone(),
        })
        .collect();
    (queue.len(), sessions)
}

/// `queue_update` for agents.
pub(super) fn queue_update(queue: &[QueueEntry]) -> AgentEvent {
    let (queue_size, queued_sessions) = queued(queue);
    AgentEvent::QueueUpdate {
        queue_size,
        queued_sessions,
    }
}
