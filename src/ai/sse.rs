//! Reading a streamed provider response: server-sent events (`data:` lines, events separated by a
//! blank line), the format of Gemini's `alt=sse` and OpenAI's `stream: true`. Every read is
//! bounded by the idle timeout, so a provider that stops talking mid-reply is noticed. A server
//! that answers plain JSON instead of a stream yields that body as one event. [`read_reply`]
//! turns the events into a [`Reply`] with a provider's [`ReplyReader`].

use std::time::Duration;

use serde_json::Value;

use super::{AiError, Deltas, Reply};

/// Builds a provider's reply from its streamed JSON events.
pub trait ReplyReader: Default {
    /// Takes in one event; returns the new text for the customer.
    fn push(&mut self, chunk: &Value) -> Result<String, AiError>;

    /// The reply once the stream has ended.
    fn finish(self) -> Result<Reply, AiError>;
}

/// Reads the reply in `response` with `R`, passing its text to `deltas` as it arrives, until the
/// stream ends (or OpenAI's `data: [DONE]`).
pub async fn read_reply<R: ReplyReader>(
    response: reqwest::Response,
    idle: Duration,
    deltas: &Deltas,
) -> Result<Reply, AiError> {
    if !response.status().is_success() {
        return Err(super::status_error(response).await);
    }
    let mut events = EventStream::new(response, idle);
    let mut reply = R::default();
    while let Some(data) = events.next().await? {
        if data.trim() == "[DONE]" {
            break;
        }
        let chunk: Value = serde_json::from_str(&data)
            .map_err(|e| AiError::Malformed(format!("a stream event is not JSON: {e}")))?;
        deltas.send(&reply.push(&chunk)?).await;
    }
    reply.finish()
}

/// `R`'s reply to these events, for unit tests of the readers.
#[cfg(test)]
pub fn read_events<R: ReplyReader>(chunks: &[Value]) -> Result<Reply, AiError> {
    let mut reply = R::default();
    for chunk in chunks {
        reply.push(chunk)?;
    }
    reply.finish()
}

struct EventStream {
    response: reqwest::Response,
    idle: Duration,
    buffer: Vec<u8>,
    /// Data lines of the event being read.
    data: Vec<String>,
    plain_json: bool,
    finished: bool,
}

impl EventStream {
    fn new(response: reqwest::Response, idle: Duration) -> Self {
        let plain_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        Self {
            response,
            idle,
            buffer: Vec::new(),
            data: Vec::new(),
            plain_json,
            finished: false,
        }
    }

    /// The next event's data, or `None` when the stream has ended.
    async fn next(&mut self) -> Result<Option<String>, AiError> {
        loop {
            if let Some(event) = self.take_event()? {
                return Ok(Some(event));
            }
            if self.finished {
                return Ok(None);
            }
            let chunk = tokio::time::timeout(self.idle, self.response.chunk())
                .await
                .map_err(|_| AiError::Timeout(self.idle.as_secs()))?
                .map_err(|e| super::transport_error(&e))?;
            match chunk {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => {
                    self.finished = true;
                    // A last event without its closing blank line still counts.
                    if !self.buffer.is_empty() && !self.plain_json {
                        self.buffer.extend_from_slice(b"\n\n");
                    }
                }
            }
        }
    }

    fn take_event(&mut self) -> Result<Option<String>, AiError> {
        if self.plain_json {
            if !self.finished || self.buffer.is_empty() {
                return Ok(None);
            }
            return utf8(std::mem::take(&mut self.buffer)).map(Some);
        }
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = utf8(line)?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    return Ok(Some(std::mem::take(&mut self.data).join("\n")));
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
            // Comments (":") and the event, id and retry fields carry nothing we use.
        }
        Ok(None)
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, AiError> {
    String::from_utf8(bytes).map_err(|_| AiError::Malformed("the stream is not UTF-8".into()))
}
