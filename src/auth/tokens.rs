//! JWT (HS256) access and refresh tokens.
//!
//! Both carry `type` (`access` or `refresh`), so one is never accepted as the other. Refresh
//! tokens are also recorded, hashed, in the database; a refresh consumes the presented token and
//! issues a new pair, so each refresh token works exactly once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::domain::ids::AgentId;

/// Clock skew tolerated between nodes when checking `exp`.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The agent's id.
    sub: String,
    #[serde(rename = "type")]
    kind: TokenKind,
    iat: i64,
    exp: i64,
    /// Unique per token, so two tokens issued in the same second differ.
    jti: String,
}

/// A freshly issued pair, with the refresh token's expiry for the database.
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is invalid or expired")]
    Invalid,
    #[error("token is a {0:?} token")]
    WrongKind(TokenKind),
    #[error("could not sign token: {0}")]
    Signing(String),
}

/// Signs and verifies tokens with the configured `SECRET_KEY`.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &Secret, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    fn sign(
        &self,
        admin: AgentId,
        kind: TokenKind,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let iat = now.timestamp();
        let claims = Claims {
            sub: admin.to_string(),
            kind,
            iat,
            exp: iat + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Issues an access token and a refresh token for `admin`.
    pub fn issue_pair(&self, admin: AgentId, now: DateTime<Utc>) -> Result<TokenPair, TokenError> {
        let refresh_expires_at = now
            + chrono::Duration::from_std(self.refresh_ttl)
                .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(TokenPair {
            access_token: self.sign(admin, TokenKind::Access, self.access_ttl, now)?,
            refresh_token: self.sign(admin, TokenKind::Refresh, self.refresh_ttl, now)?,
            refresh_expires_at,
        })
    }

    /// The agent a valid, unexpired token of `expected` kind was issued to.
    pub fn verify(&self, token: &str, expected: TokenKind) -> Result<AgentId, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.kind != expected {
            return Err(TokenError::WrongKind(data.claims.kind));
        }
        data.claims
            .sub
            .parse::<i64>()
            .map(AgentId)
            .map_err(|_| TokenError::Invalid)
    }
}

/// The form in which a refresh token is stored: hex SHA-256. Tokens are long random-bearing
/// JWTs, so a fast hash suffices (no dictionary to attack).
pub fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            &Secret::new("a-test-secret-that-is-long-enough-0123"),
            Duration::from_secs(60),
            Duration::from_secs(3600),
        )
    }

    #[test]
    fn kinds_are_not_interchangeable() {
        let t = tokens();
        let pair = t.issue_pair(AgentId(42), Utc::now()).unwrap();
        assert_eq!(
            t.verify(&pair.access_token, TokenKind::Access).unwrap(),
            AgentId(42)
        );
        assert_eq!(
            t.verify(&pair.refresh_token, TokenKind::Refresh).unwrap(),
            AgentId(42)
        );
        assert!(matches!(
            t.verify(&pair.refresh_token, TokenKind::Access),
            Err(TokenError::WrongKind(TokenKind::Refresh))
        ));
        assert!(t.verify(&pair.access_token, TokenKind::Refresh).is_err());
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_fail() {
        let t = tokens();
        let old = t
            .issue_pair(AgentId(1), Utc::now() - chrono::Duration::hours(2))
            .unwrap();
        assert!(t.verify(&old.access_token, TokenKind::Access).is_err());

        let pair = t.issue_pair(AgentId(1), Utc::now()).unwrap();
        let mut tampered = pair.access_token.clone();
        tampered.pop();
        tampered.push(if pair.access_token.ends_with('A') {
            'B'
        } else {
            'A'
        });
        assert!(t.verify(&tampered, TokenKind::Access).is_err());

        let other = Tokens::new(
            &Secret::new("another-secret-that-is-long-enough-0123"),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(other.verify(&pair.access_token, TokenKind::Access).is_err());
        assert!(t.verify("not.a.jwt", TokenKind::Access).is_err());
    }

    #[test]
    fn pairs_are_unique_and_fingerprints_stable() {
        let t = tokens();
        let now = Utc::now();
        let a = t.issue_pair(AgentId(1), now).unwrap();
        let b = t.issue_pair(AgentId(1), now).unwrap();
        assert_ne!(a.refresh_token, b.refresh_token);
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_eq!(fingerprint("x").len(), 64);
    }
}
