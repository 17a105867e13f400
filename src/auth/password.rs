//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes — OWASP's minimum).
//!
//! Hashing is deliberately slow, so it runs on the blocking pool, and at most
//! [`MAX_CONCURRENT_HASHES`] run at once: a flood of logins queues instead of exhausting memory.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// Each hash holds 19 MiB for its duration.
const MAX_CONCURRENT_HASHES: usize = 4;

static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| HashError(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HashError(e.to_string()))
}

fn hash_now(password: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$...`).
pub async fn hash(password: String) -> Result<String, HashError> {
    on_blocking_pool(move || hash_now(password.as_bytes())).await?
}

/// Checks `password` against a stored PHC hash. With no stored hash (unknown user) it still
/// spends the time of a real check, so response times do not reveal which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, HashError> {
    on_blocking_pool(move || match &stored {
        Some(stored) => PasswordHash::new(stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false),
        None => {
            if let Ok(parsed) = PasswordHash::new(dummy_hash()) {
                let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
            }
            false
        }
    })
    .await
}

/// A hash of a random password, made once, for timing-equal checks of unknown users.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_now(&random).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(stored))
                .await
                .unwrap()
        );
        assert!(!verify("anything".into(), None).await.unwrap());
        assert!(
            !verify("anything".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }
}
