//! Reading answers safely: per-request deadlines that never overflow, bodies read with a
//! byte limit (chunked ones too), the message of a JSON error body, and the root cause of a
//! transport error in words. Shared by the agent clients, the LLM judge and the Rogue client.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;
use tokio::time::Instant;

use super::snippet::one_line;

/// Stands in for "never" where a deadline overflows (`--timeout` of centuries).
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `duration` from now, saturating instead of overflowing: an absurd `--timeout` means "no
/// limit", never a panic.
pub fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// Why a bounded body read stopped early.
#[derive(Debug)]
pub enum ReadError {
    /// More than the limit arrived; holds what was read.
    TooLarge(Vec<u8>),
    Timeout,
    Broken {
        read: usize,
        cause: String,
    },
}

/// Reads `response`'s body chunk by chunk, never holding more than `limit` bytes (chunked
/// bodies included), before `deadline`.
pub async fn read_limited(
    response: &mut Response,
    limit: usize,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(ReadError::TooLarge(Vec::new()));
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_elapsed) => return Err(ReadError::Timeout),
            Ok(Err(err)) if err.is_timeout() => return Err(ReadError::Timeout),
            Ok(Err(err)) => {
                return Err(ReadError::Broken { read: body.len(), cause: root_cause(&err) });
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > limit {
                    let room = limit - body.len();
                    body.extend_from_slice(&chunk[..room]);
                    return Err(ReadError::TooLarge(body));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// The error object of a JSON error body: the body itself, or the one element of the array
/// Gemini's OpenAI layer answers with.
pub fn error_object(json: &Value) -> &Value {
    match json {
        Value::Array(items) if items.len() == 1 => &items[0],
        _ => json,
    }
}

/// The message of a JSON error body: `error.message`, `message`, `detail` or a string `error`.
pub fn error_body_message(json: &Value) -> Option<&str> {
    let json = error_object(json);
    json.pointer("/error/message")
        .or_else(|| json.get("message"))
        .or_else(|| json.get("detail"))
        .or_else(|| json.get("error"))
        .and_then(Value::as_str)
}

/// The innermost cause of `err`, in words: "connection refused" rather than the chain of
/// "error sending request … client error (Connect) … tcp connect error … (os error 111)".
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current: &(dyn StdError + 'static) = err;
    while let Some(source) = current.source() {
        current = source;
    }
    if let Some(io) = current.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
            std::io::ErrorKind::ConnectionAborted => return "connection aborted".to_owned(),
            std::io::ErrorKind::TimedOut => return "connection timed out".to_owned(),
            _ => {}
        }
    }
    let text = current.to_string();
    // "No route to host (os error 113)" → "No route to host".
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => &text,
    };
    one_line(text, 160)
}
