//! The request log (`-vv`, `RUST_LOG=rogue_runner::http=debug`, `--log-file`): one line as a
//! request leaves and one as its answer arrives, for agent, judge and Rogue traffic alike.
//!
//! What is logged is chosen so that no credential can be: the method, the URL with its
//! userinfo and secret-looking query parameters masked ([`crate::redact`]), the status, body
//! sizes and latency. Headers and bodies are never logged, and every text that came from the
//! network (a URL an agent card named, an error) is put on one line with its control
//! characters removed, so that a hostile agent cannot paint or rewrite a terminal through it.

use std::time::Instant;

use reqwest::{RequestBuilder, Response};

/// The `tracing` target of the request log, for `RUST_LOG=rogue_runner::http=debug`.
pub const TARGET: &str = "rogue_runner::http";

/// The longest URL written to the log, in characters.
const MAX_URL_CHARS: usize = 300;

/// Whom a request goes to, named on every log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// An agent under test (its card, messages, streams, polling).
    Agent,
    /// The LLM judge or the LLM driving a conversation.
    Judge,
    /// A Rogue evaluator server.
    Rogue,
}

impl Peer {
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Agent => "agent",
            Peer::Judge => "judge",
            Peer::Rogue => "rogue",
        }
    }
}

/// Sends `request`, logging it and its answer at DEBUG under [`TARGET`] when that is enabled
/// (and costing nothing more than `builder.send()` when it is not).
pub async fn send(request: RequestBuilder, peer: Peer) -> Result<Response, reqwest::Error> {
    if !tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
        return request.send().await;
    }
    let (client, request) = request.build_split();
    let request = request?;
    let method = request.method().clone();
    let url = shown_url(request.url().as_str());
    let sent = request.body().and_then(reqwest::Body::as_bytes).map_or(0, <[u8]>::len);
    tracing::debug!(target: TARGET, peer = %peer.as_str(), "-> {method} {url} ({sent} bytes)");
    let started = Instant::now();
    let result = client.execute(request).await;
    let latency = crate::text::duration_ms(crate::text::millis(started.elapsed()));
    match &result {
        Ok(response) => {
            let size = response
                .content_length()
                .map_or_else(|| "streamed".to_owned(), |n| format!("{n} bytes"));
            tracing::debug!(
                target: TARGET,
                peer = %peer.as_str(),
                "<- {} {method} {url} ({size}, {latency})",
                response.status().as_u16(),
            );
        }
        Err(error) => {
            let cause = crate::redact::redact_text(&super::root_cause(error)).into_owned();
            tracing::debug!(
                target: TARGET,
                peer = %peer.as_str(),
                "<- failed {method} {url}: {} ({latency})",
                crate::text::one_line(&cause, MAX_URL_CHARS),
            );
        }
    }
    result
}

/// `url` as the log shows it: credentials masked, on one line, printable.
pub fn shown_url(url: &str) -> String {
    crate::text::one_line(&crate::redact::redact_url(url), MAX_URL_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_logged_without_credentials_or_control_characters() {
        assert_eq!(
            shown_url("http://user:pa55word@127.0.0.1:9/a2a?api_key=k3y&page=2"),
            "http://***@127.0.0.1:9/a2a?api_key=***&page=2"
        );
        assert_eq!(shown_url("http://h/\x1b[31mred\x07"), "http://h/ [31mred");
    }
}
