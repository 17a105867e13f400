//! The customer's details collected before a chat starts: name, email and phone.

use super::{Invalid, check_length};

/// A customer's display name: trimmed, 1–255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName(String);

impl ClientName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        check_length(name, 1, 255)?;
        if name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "value_error",
                "Value error, name must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked against RFC 5322's addr-spec with a dotted domain
/// (what Pydantic's `EmailStr` accepts). The domain part is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim();
        let invalid = |why: &str| {
            Invalid::new(
                "value_error",
                format!("value is not a valid email address: {why}"),
            )
        };
        if email.chars().count() > 254 {
            return Err(invalid("The email address is too long."));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            email,
            // Like Pydantic's `EmailStr`: no display names, no IP literals, and a dotted
            // domain (`user@localhost` is refused).
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal()
                .with_required_tld(),
        )
        .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self(format!(
            "{}@{}",
            parsed.local_part(),
            parsed.domain().to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a phone number must look like: at least seven digits, separated by any of
/// `space + - ( ) .`, starting with a digit after an optional `+` or `(`, ending with a digit or
/// a closing `) . -`; spaces around it are dropped. Between 10 and 50 characters as sent.
pub const PHONE_PATTERN: &str = r"^ *[+(]*[0-9](?:[ +().-]*[0-9]){6,}[ ().-]*$";

/// A phone number as typed (see [`PHONE_PATTERN`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        check_length(raw, 10, 50)?;
        let mismatch = || {
            Invalid::new(
                "string_pattern_mismatch",
                format!("String should match pattern '{PHONE_PATTERN}'"),
            )
        };
        let separator = |c: char| matches!(c, ' ' | '+' | '-' | '(' | ')' | '.');
        if !raw.chars().all(|c| c.is_ascii_digit() || separator(c)) {
            return Err(mismatch());
        }
        let number = raw.trim_start_matches(' ').trim_start_matches(['+', '(']);
        let starts_with_digit = number.starts_with(|c: char| c.is_ascii_digit());
        let after_last_digit = &number[number
            .rfind(|c: char| c.is_ascii_digit())
            .map_or(0, |i| i + 1)..];
        let digits = number.chars().filter(char::is_ascii_digit).count();
        if !starts_with_digit || after_last_digit.contains('+') || digits < 7 {
            return Err(mismatch());
        }
        Ok(Self(raw.trim_matches(' ').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validated details for a new session.
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(as = ClientInfoBody)]
pub struct NewClientInfo {
    /// Trimmed; 1–255 characters, no control characters.
    #[schema(
        value_type = String,
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$",
        example = "John Doe"
    )]
    pub name: ClientName,
    #[schema(value_type = String, format = Email, example = "john@example.com")]
    pub email: Email,
    /// At least seven digits, separated by spaces and `+ - ( ) .`; 10–50 characters.
    #[schema(
        value_type = String,
        min_length = 10,
        max_length = 50,
        pattern = r"^ *[+(]*[0-9](?:[ +().-]*[0-9]){6,}[ ().-]*$",
        example = "+1234567890"
    )]
    pub phone: Phone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ClientName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(
            ClientName::parse("   ").unwrap_err().kind,
            "string_too_short"
        );
        assert!(ClientName::parse(&"é".repeat(255)).is_ok());
        assert_eq!(
            ClientName::parse(&"x".repeat(256)).unwrap_err().kind,
            "string_too_long"
        );
        assert!(ClientName::parse("Ada\u{0}Lovelace").is_err());
    }

    #[test]
    fn emails_follow_the_address_grammar() {
        for good in [
            "john@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
        ] {
            assert!(Email::parse(good).is_ok(), "{good} should be accepted");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "john@",
            "john@localhost",
            "john@@example.com",
            "john doe@example.com",
            "john@exa mple.com",
            "John <john@example.com>",
            "john@[127.0.0.1]",
            "john..doe@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().as_str(),
            "Ada@example.com"
        );
    }

    #[test]
    fn the_documented_phone_pattern_is_the_one_checked() {
        let schema = serde_json::to_value(<NewClientInfo as utoipa::PartialSchema>::schema());
        assert_eq!(
            schema.unwrap()["properties"]["phone"]["pattern"],
            PHONE_PATTERN
        );
    }

    #[test]
    fn phones_allow_common_punctuation_only() {
        for good in [
            "+1234567890",
            "+44 (0)20 7946-0958",
            "555.123.4567",
            "0123456789",
        ] {
            assert!(Phone::parse(good).is_ok(), "{good} should be accepted");
        }
        assert_eq!(Phone::parse("12345").unwrap_err().kind, "string_too_short");
        assert_eq!(
            Phone::parse(&"1".repeat(51)).unwrap_err().kind,
            "string_too_long"
        );
        assert_eq!(
            Phone::parse("+1 555 CALL NOW").unwrap_err().kind,
            "string_pattern_mismatch"
        );
        assert!(Phone::parse("(((( ))))--").is_err(), "needs digits");
        assert!(Phone::parse("12 - - - - 3").is_err(), "needs seven digits");
        assert!(Phone::parse("1234567890+").is_err(), "no trailing plus");
        assert_eq!(
            Phone::parse(" (555) 123-4567. ").unwrap().as_str(),
            "(555) 123-4567."
        );
    }
}
