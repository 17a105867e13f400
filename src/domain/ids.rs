//! Typed identifiers, so the compiler catches a mixed-up id: a session's public UUID is not its
//! row key, and neither is an agent's or a message's id. Each is transparent on the wire (serde)
//! and in the database (sqlx), so JSON shapes and columns are unchanged.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$inner> for $name {
            fn from(inner: $inner) -> Self {
                Self(inner)
            }
        }
    };
}

id_type!(
    /// A session's public id (`chat_sessions.session_id`): the UUID customers and agents use.
    SessionId(Uuid)
);
id_type!(
    /// A session's row key (`chat_sessions.id`), which `messages.session_id` refers to. Never
    /// leaves the server except as `id` in a `Session` body.
    SessionKey(i64)
);
id_type!(
    /// An agent account's id (`admin_users.id`).
    AgentId(i64)
);
id_type!(
    /// A stored message's id (`messages.id`): increasing, so it doubles as a resume point.
    MessageId(i64)
);

impl SessionId {
    /// A new random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses a UUID in any of its usual spellings; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw.trim()).ok().map(Self)
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_transparent_on_the_wire() {
        let id = SessionId(Uuid::nil());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", Uuid::nil())
        );
        assert_eq!(serde_json::to_string(&AgentId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<MessageId>("42").unwrap(),
            MessageId(42)
        );
        assert_eq!(SessionId::parse(" nope "), None);
        assert_eq!(SessionId::parse(&Uuid::nil().to_string()), Some(id));
    }
}
