//! Pure domain rules: client details, agent accounts and the session state machine.
//!
//! Nothing here does I/O; every type validates when it is constructed, so code that holds one
//! can rely on it. Parse failures are [`Invalid`], which the HTTP layer turns into FastAPI-shaped
//! 422 errors and the socket layer into `error` events.

pub mod account;
pub mod client_info;
pub mod features;
pub mod handoff;
pub mod ids;
pub mod language;
pub mod session;

use std::fmt;

/// Why a value was rejected: a machine-readable kind (Pydantic's error `type`, so existing
/// front ends recognise it) and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub kind: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// Checks a trimmed string's length in characters (not bytes), with Pydantic's messages.
/// Refuses C0 control characters (NUL included, which PostgreSQL cannot store) other than tab
/// and line feed: text people write has no use for them.
pub fn check_text(value: &str) -> Result<(), Invalid> {
    if value
        .chars()
        .any(|c| c.is_ascii_control() && c != '\t' && c != '\n')
    {
        return Err(Invalid::new(
            "value_error",
            "Value error, text must not contain control characters other than tab and newline",
        ));
    }
    Ok(())
}

pub fn check_length(value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let chars = value.chars().count();
    if chars < min {
        let unit = if min == 1 { "character" } else { "characters" };
        return Err(Invalid::new(
            "string_too_short",
            format!("String should have at least {min} {unit}"),
        ));
    }
    if chars > max {
        return Err(Invalid::new(
            "string_too_long",
            format!("String should have at most {max} characters"),
        ));
    }
    Ok(())
}
