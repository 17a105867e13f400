//! Agent accounts: usernames and the password policy.

use super::client_info::Email;
use super::{Invalid, check_length, check_text};

/// An agent's login name: 3–100 characters of letters, digits and `_ . -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        check_length(name, 3, 100)?;
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Invalid::new(
                "string_pattern_mismatch",
                "Username may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new agent account, every field checked: what registration (REST) and `create-admin` (CLI)
/// both take. It is also the documented request body of `POST /api/auth/register`.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = RegisterBody)]
pub struct NewAccount {
    /// Letters, digits, `_ . -`; 3–100 characters.
    #[schema(value_type = String, min_length = 3, max_length = 100, example = "agent_ada")]
    pub username: Username,
    #[schema(value_type = String, format = Email, example = "ada@example.com")]
    pub email: Email,
    /// At least 8 characters, not a common password, not the username or email.
    #[schema(value_type = String, min_length = 8, max_length = 1024, format = Password)]
    pub password: Password,
    #[schema(max_length = 255)]
    pub full_name: Option<String>,
}

/// A full name, optional on registration: trimmed, at most 255 characters.
pub fn parse_full_name(raw: &str) -> Result<Option<String>, Invalid> {
    let name = raw.trim();
    check_length(name, 0, 255)?;
    check_text(name)?;
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// Passwords that pass a length rule yet are the first ones an attacker tries.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "87654321",
    "11111111",
    "00000000",
    "qwertyui",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "letmein1",
    "trustno1",
    "abc12345",
    "abcd1234",
    "admin123",
    "administrator",
    "changeme",
    "superman",
    "starwars",
    "whatever",
    "computer",
];

/// A password good enough for an account that can read every conversation: 8–1024
/// characters, at least 5 different characters, not a well-known password, and not the
/// username or email. The upper bound keeps hashing cost bounded.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, username: &str, email: &str) -> Result<Self, Invalid> {
        check_length(raw, 8, 1024)?;
        let weak = |why: &str| Invalid::new("value_error", format!("Value error, {why}"));
        let lowered = raw.to_lowercase();
        if COMMON_PASSWORDS.contains(&lowered.as_str()) {
            return Err(weak("password is too common"));
        }
        let mut distinct: Vec<char> = raw.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 5 {
            return Err(weak("password must use at least 5 different characters"));
        }
        if lowered == username.to_lowercase() || lowered == email.to_lowercase() {
            return Err(weak("password must differ from the username and email"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" agent_1 ").unwrap().as_str(), "agent_1");
        assert_eq!(Username::parse("ab").unwrap_err().kind, "string_too_short");
        assert!(Username::parse(&"a".repeat(100)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(101)).unwrap_err().kind,
            "string_too_long"
        );
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("x<script>").is_err());
    }

    #[test]
    fn weak_passwords_are_refused() {
        let ok = |p: &str| Password::parse(p, "agent", "agent@example.com").is_ok();
        assert!(ok("correct horse battery"));
        assert!(ok("S3cure!pass"));
        assert!(!ok("short1!"), "under 8 characters");
        assert!(!ok("Password123"), "common, case-insensitively");
        assert!(!ok("aaaaaaaaaaaa"), "one repeated character");
        assert!(!ok("abababab12"), "too few distinct characters");
        assert!(Password::parse("agent_smith", "agent_smith", "a@example.com").is_err());
        assert!(!ok(&"x1y2z3w4v5".repeat(103)), "over 1024 characters");
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("correct horse battery", "u", "e").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn full_name_is_optional() {
        assert_eq!(parse_full_name("  ").unwrap(), None);
        assert_eq!(parse_full_name(" Ada ").unwrap().as_deref(), Some("Ada"));
        assert!(parse_full_name(&"x".repeat(256)).is_err());
    }
}
