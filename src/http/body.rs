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
            Ok(Ok(None)) => {
                if response.content_length().is_none() {
                    // The answer's line said "streamed": its size is known only now.
                    tracing::debug!(
                        target: super::log::TARGET,
                        "<- {} bytes from {}",
                        body.len(),
                        super::log::shown_url(response.url().as_str())
                    );
                }
                return Ok(body);
            }
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
fn error_object(json: &Value) -> &Value {
    match json {
        Value::Array(items) if items.len() == 1 => &items[0],
        _ => json,
    }
}

/// What to quote of an error body, on one line, at most `max_chars` characters: its JSON error
/// message (`error.message`, `message`, `detail` or a string `error`), else an excerpt of the
/// body; with the OpenAI-style `error.code` when the body had a message
/// (`insufficient_quota`, which is not a rate limit to wait out).
pub fn error_message(body: &[u8], max_chars: usize) -> (String, Option<String>) {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let json = error_object(&json);
        let message = json
            .pointer("/error/message")
            .or_else(|| json.get("message"))
            .or_else(|| json.get("detail"))
            .or_else(|| json.get("error"))
            .and_then(Value::as_str);
        if let Some(message) = message {
            let code = json.pointer("/error/code").and_then(Value::as_str).map(str::to_owned);
            return (one_line(message, max_chars), code);
        }
    }
    (one_line(&String::from_utf8_lossy(body), max_chars), None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_quote_their_json_message_and_code() {
        let (m, code) =
            error_message(br#"{"error":{"message":"quota","code":"insufficient_quota"}}"#, 300);
        assert_eq!((m.as_str(), code.as_deref()), ("quota", Some("insufficient_quota")));
        assert_eq!(error_message(br#"[{"error":{"code":400,"message":"bad"}}]"#, 300).0, "bad");
        assert_eq!(error_message(br#"{"error":{"message":"bad key","type":"x"}}"#, 9).0, "bad key");
        assert_eq!(error_message(br#"{"error":"unauthorized"}"#, 200).0, "unauthorized");
        assert_eq!(error_message(br#"{"detail":"no"}"#, 200).0, "no");
        // No message: an excerpt of the body, and no code even if one is there.
        assert_eq!(
            error_message(b"Internal Server Error\n", 200),
            ("Internal Server Error".to_owned(), None)
        );
        assert_eq!(error_message(br#"{"error":{"code":"insufficient_quota"}}"#, 200).1, None);
        assert_eq!(error_message(b"oops, a long body", 4).0, "oops…");
    }
}
