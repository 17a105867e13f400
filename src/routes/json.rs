//! Request input checked the way FastAPI checks it: a JSON body or query string is parsed into a
//! validated type, or the request fails with 422 and one `{"loc","msg","type"}` entry per bad
//! field — all of them, not just the first.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::domain::Invalid;
use crate::error::{ApiError, FieldError};

/// Collects every field error of one request.
#[derive(Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

fn at(loc: &[&str], key: &str) -> Vec<String> {
    loc.iter()
        .copied()
        .chain([key])
        .map(str::to_owned)
        .collect()
}

impl Checker {
    fn push(&mut self, loc: &[String], kind: &'static str, msg: &str) {
        let loc: Vec<&str> = loc.iter().map(String::as_str).collect();
        self.errors
            .push(FieldError::new(&loc, &Invalid::new(kind, msg)));
    }

    /// `value` as a JSON object, or an error at `loc`.
    pub fn object<'v>(&mut self, value: &'v Value, loc: &[&str]) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            let loc: Vec<String> = loc.iter().map(|s| s.to_string()).collect();
            self.push(
                &loc,
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            );
        }
        object
    }

    /// The required object `key` of `parent`.
    pub fn nested<'v>(
        &mut self,
        parent: &'v Map<String, Value>,
        loc: &[&str],
        key: &str,
    ) -> Option<&'v Map<String, Value>> {
        match parent.get(key) {
            None | Some(Value::Null) => {
                self.push(&at(loc, key), "missing", "Field required");
                None
            }
            Some(value) => {
                let mut inner: Vec<&str> = loc.to_vec();
                inner.push(key);
                self.object(value, &inner)
            }
        }
    }

    /// The required string `key` of `object`, parsed by `parse`.
    pub fn field<T>(
        &mut self,
        object: &Map<String, Value>,
        loc: &[&str],
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        match object.get(key) {
            None | Some(Value::Null) => {
                self.push(&at(loc, key), "missing", "Field required");
                None
            }
            Some(value) => self.string(value, loc, key, parse),
        }
    }

    /// The optional string `key` of `object`: absent or null is `Some(None)`.
    pub fn optional_field<T>(
        &mut self,
        object: &Map<String, Value>,
        loc: &[&str],
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<Option<T>> {
        match object.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.string(value, loc, key, parse).map(Some),
        }
    }

    fn string<T>(
        &mut self,
        value: &Value,
        loc: &[&str],
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        let Some(text) = value.as_str() else {
            self.push(
                &at(loc, key),
                "string_type",
                "Input should be a valid string",
            );
            return None;
        };
        parse(text)
            .map_err(|invalid| self.push(&at(loc, key), invalid.kind, &invalid.message))
            .ok()
    }

    /// The optional integer query parameter `key`, within `min..=max`.
    pub fn query_int(
        &mut self,
        query: &HashMap<String, String>,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        let Some(raw) = query.get(key) else {
            return default;
        };
        let loc = at(&["query"], key);
        match raw.parse::<i64>() {
            Err(_) => self.push(
                &loc,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            ),
            Ok(n) if n < min => self.push(
                &loc,
                "greater_than_equal",
                &format!("Input should be greater than or equal to {min}"),
            ),
            Ok(n) if n > max => self.push(
                &loc,
                "less_than_equal",
                &format!("Input should be less than or equal to {max}"),
            ),
            Ok(n) => return n,
        }
        default
    }

    /// The optional query parameter `key`, one of `choices` (the first is the default).
    pub fn query_choice<C: AsRef<str> + Copy>(
        &mut self,
        query: &HashMap<String, String>,
        key: &str,
        choices: &[C],
    ) -> C {
        let default = choices[0];
        let Some(raw) = query.get(key) else {
            return default;
        };
        if let Some(choice) = choices.iter().find(|c| c.as_ref() == raw) {
            return *choice;
        }
        let expected: Vec<String> = choices
            .iter()
            .map(|c| format!("'{}'", c.as_ref()))
            .collect();
        self.push(
            &at(&["query"], key),
            "enum",
            &format!("Input should be {}", expected.join(" or ")),
        );
        default
    }

    /// The parsed value, or a 422 with every error collected.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}

/// A request body type that validates itself from parsed JSON.
pub trait FromJson: Sized {
    /// Reads `body`, reporting every problem to `checker`; `None` if any field was bad.
    fn from_json(body: &Value, checker: &mut Checker) -> Option<Self>;
}

/// Extractor: the raw body bytes, with a JSON 413 when over the limit.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge("Request body is too large".into())
                } else {
                    ApiError::BadRequest("Could not read the request body".into())
                }
            })
    }
}

/// Extractor: the body as JSON, validated into `T`. Malformed JSON and bad fields are 422,
/// a body over the limit is 413.
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: FromJson> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        validate(&bytes).map(ValidJson)
    }
}

/// Parses a JSON body and validates it into `T`: 422 listing every problem.
pub fn validate<T: FromJson>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_body(bytes)?;
    let mut checker = Checker::default();
    let parsed = T::from_json(&value, &mut checker);
    checker.finish(parsed)
}

/// Parses a JSON body; an empty or malformed one is a 422 like FastAPI's.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError::new(
            &["body"],
            &Invalid::new("missing", "Field required"),
        )]));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        let offset = byte_offset(bytes, err.line(), err.column());
        ApiError::Validation(vec![FieldError {
            loc: vec![Value::from("body"), Value::from(offset)],
            msg: "JSON decode error".into(),
            kind: "json_invalid".into(),
            ctx: Some(serde_json::json!({ "error": err.to_string() })),
        }])
    })
}

/// Converts serde_json's 1-based line and column into a byte offset.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes
        .split_inclusive(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    line_start + column.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_reports_where() {
        let ApiError::Validation(errors) = parse_body(b"{\"a\": }").unwrap_err() else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].kind, "json_invalid");
        assert_eq!(errors[0].loc, vec![Value::from("body"), Value::from(6)]);
    }

    #[test]
    fn empty_body_is_missing() {
        let ApiError::Validation(errors) = parse_body(b"  ").unwrap_err() else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].kind, "missing");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let body = serde_json::json!({"a": 5, "c": "ok"});
        let mut checker = Checker::default();
        let object = checker.object(&body, &["body"]).unwrap();
        let a = checker.field(object, &["body"], "a", |s| Ok(s.to_owned()));
        let b = checker.field(object, &["body"], "b", |s| Ok(s.to_owned()));
        let c = checker.field(object, &["body"], "c", |s| Ok(s.to_owned()));
        assert!(a.is_none() && b.is_none());
        assert_eq!(c.as_deref(), Some("ok"));
        let ApiError::Validation(errors) = checker.finish(c).unwrap_err() else {
            panic!("expected a validation error")
        };
        let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["string_type", "missing"]);
        assert_eq!(errors[1].loc, vec![Value::from("body"), Value::from("b")]);
    }
}
