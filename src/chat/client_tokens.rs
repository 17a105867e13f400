//! Customer-side secrecy (`CLIENT_TOKENS=required`): each session has a `client_token`, an HMAC
//! of its id under the server's key, handed to the customer when the session opens. It needs no
//! storage, works on every instance that shares `SECRET_KEY`, and cannot be guessed from the id.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Chat, Error};
use crate::domain::ids::SessionId;

type HmacSha256 = Hmac<Sha256>;

/// What the tokens are for, so they can never be confused with another use of the key.
const PURPOSE: &[u8] = b"switchboard client token v1:";

/// Makes and checks client tokens.
pub(super) struct ClientTokens {
    key: Vec<u8>,
    required: bool,
}

impl ClientTokens {
    pub(super) fn new(key: &[u8], required: bool) -> Self {
        Self {
            key: key.to_vec(),
            required,
        }
    }

    fn mac(&self, session_id: SessionId) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(PURPOSE);
        mac.update(session_id.0.as_bytes());
        mac
    }

    fn token(&self, session_id: SessionId) -> String {
        self.mac(session_id)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn valid(&self, session_id: SessionId, token: &str) -> bool {
        let Some(bytes) = decode_hex(token.trim()) else {
            return false;
        };
        // Constant-time comparison.
        self.mac(session_id).verify_slice(&bytes).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Chat {
    /// The customer's secret for `session_id`.
    pub fn client_token(&self, session_id: SessionId) -> String {
        self.inner.client_tokens.token(session_id)
    }

    /// Whether a customer presenting `token` (or an agent, `agent = true`) may read the session
    /// or open its socket: always when client tokens are optional.
    pub fn check_client(
        &self,
        session_id: SessionId,
        token: Option<&str>,
        agent: bool,
    ) -> Result<(), Error> {
        let tokens = &self.inner.client_tokens;
        if !tokens.required || agent || token.is_some_and(|t| tokens.valid(session_id, t)) {
            return Ok(());
        }
        Err(Error::Forbidden(
            "A valid client_token is required for this session".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_belong_to_one_session_and_one_key() {
        let tokens = ClientTokens::new(b"key one", true);
        let (a, b) = (SessionId::new(), SessionId::new());
        let token = tokens.token(a);
        assert_eq!(token.len(), 64);
        assert!(tokens.valid(a, &token));
        assert!(!tokens.valid(b, &token));
        assert!(!ClientTokens::new(b"key two", true).valid(a, &token));
        assert!(!tokens.valid(a, "not hex"));
        assert!(!tokens.valid(a, &token[..62]));
    }
}
