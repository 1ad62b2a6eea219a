//! Reading a `message/stream` / `SendStreamingMessage` answer: Server-Sent Events whose
//! `data:` lines each carry one JSON-RPC response (CR, LF and CRLF line ends all occur).

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};

use super::event::{parse_event, rpc_result};
use super::reply::Progress;
use crate::agent::AgentError;
use crate::agent::transport::{
    Answer, ContentType, Transport, broken_body, is_json_content_type, parse_json,
};
use crate::http::{one_line, root_cause, snippet};

/// Why the byte stream under the event parser stopped.
#[derive(Debug)]
enum StreamFault {
    TooLarge,
    Broken(String),
}

impl std::fmt::Display for StreamFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamFault::TooLarge => f.write_str("too large"),
            StreamFault::Broken(cause) => f.write_str(cause),
        }
    }
}

/// Feeds the events of a streaming answer into `progress` until the answer is complete or
/// the stream ends. A plain JSON body (an error instead of a stream) is handled too.
pub(crate) async fn read(
    transport: &Transport,
    mut answer: Answer,
    id: &str,
    progress: &mut Progress,
) -> Result<(), AgentError> {
    let content_type = answer.content_type();
    let url = answer.url.clone();
    if is_json_content_type(&content_type) {
        let body = transport.read_body(&mut answer).await?;
        let envelope = parse_json(&url, &content_type, &body, ContentType::Json)?;
        absorb_result(&url, envelope, id, progress)?;
        return Ok(());
    }
    if !content_type.starts_with("text/event-stream") {
        let body = transport.read_body(&mut answer).await.unwrap_or_default();
        return Err(AgentError::Protocol {
            url,
            detail: format!(
                "expected an event stream but got Content-Type {}: {}",
                if content_type.is_empty() {
                    "(none)".to_owned()
                } else {
                    one_line(&content_type, 80)
                },
                snippet(&body)
            ),
        });
    }

    let limit = transport.options.max_body_bytes;
    let mut read = 0usize;
    let mut bom = Bom::default();
    let bytes = answer.response.bytes_stream().map(move |chunk| match chunk {
        Ok(chunk) => {
            read += chunk.len();
            if read > limit { Err(StreamFault::TooLarge) } else { Ok(bom.strip(chunk)) }
        }
        Err(err) => Err(StreamFault::Broken(root_cause(&err))),
    });
    let mut events = std::pin::pin!(events(bytes));
    let mut received = 0usize;
    let turn_deadline = transport.turn_deadline();
    loop {
        // `--timeout` bounds the silence between two events and the whole turn.
        let silence = transport.request_deadline();
        let next = tokio::time::timeout_at(silence.min(turn_deadline), events.next()).await;
        let event = match next {
            Err(_elapsed) if silence < turn_deadline => {
                return Err(transport.timeout_error(&url));
            }
            Err(_elapsed) => return Err(transport.turn_timeout_error(&url)),
            Ok(None) => return Ok(()),
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(EventStreamError::Transport(StreamFault::TooLarge)))) => {
                return Err(AgentError::BodyTooLarge { url, limit });
            }
            Ok(Some(Err(EventStreamError::Transport(StreamFault::Broken(cause))))) => {
                return Err(broken_body(&url, received, &format!("event stream cut: {cause}")));
            }
            Ok(Some(Err(err))) => {
                return Err(AgentError::Protocol {
                    url,
                    detail: format!("unreadable event stream: {}", one_line(&err.to_string(), 200)),
                });
            }
        };
        received += event.data.len();
        if event.data.trim().is_empty() {
            continue;
        }
        let envelope = parse_json(&url, "", event.data.as_bytes(), ContentType::Json)?;
        if absorb_result(&url, envelope, id, progress)? {
            return Ok(());
        }
    }
}

/// Drops a UTF-8 byte order mark at the very start of a stream (some servers write one; the
/// SSE standard says to ignore it), even when it arrives split over several chunks.
#[derive(Debug, Default)]
struct Bom {
    /// The first bytes, held back until they can be told apart from a BOM.
    head: Vec<u8>,
    done: bool,
}

impl Bom {
    const MARK: &'static [u8] = b"\xEF\xBB\xBF";

    fn strip(&mut self, chunk: axum::body::Bytes) -> axum::body::Bytes {
        if self.done {
            return chunk;
        }
        self.head.extend_from_slice(&chunk);
        let n = self.head.len().min(Self::MARK.len());
        if self.head[..n] != Self::MARK[..n] {
            self.done = true;
            return axum::body::Bytes::from(std::mem::take(&mut self.head));
        }
        if self.head.len() < Self::MARK.len() {
            return axum::body::Bytes::new();
        }
        self.done = true;
        let rest = self.head.split_off(Self::MARK.len());
        self.head = Vec::new();
        axum::body::Bytes::from(rest)
    }
}

/// The events of a byte stream. A line end is appended at the end of the stream so that a
/// last event ended by a lone CR (which might still be the first half of a CRLF) is not lost.
fn events<S, B, E>(bytes: S) -> impl Stream<Item = Result<Event, EventStreamError<E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]> + From<&'static [u8]>,
{
    bytes.chain(futures_util::stream::once(std::future::ready(Ok(B::from(b"\n"))))).eventsource()
}

/// One JSON-RPC response into `progress`; true when the answer is complete.
fn absorb_result(
    url: &str,
    envelope: serde_json::Value,
    id: &str,
    progress: &mut Progress,
) -> Result<bool, AgentError> {
    let result = rpc_result(url, envelope, id)?;
    let event = parse_event(&result).map_err(|detail| AgentError::Protocol {
        url: url.to_owned(),
        detail: format!("unexpected result: {detail}"),
    })?;
    Ok(progress.absorb(event))
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::events;

    /// The parser splits events on CR, LF and CRLF, also when a CRLF straddles two chunks.
    #[tokio::test]
    async fn line_endings() {
        for chunks in [
            vec!["data: {\"a\":1}\r\n\r\ndata: {\"a\":2}\r\n\r\n"],
            vec!["data: {\"a\":1}\n\ndata: {\"a\":2}\n\n"],
            vec!["data: {\"a\":1}\r\rdata: {\"a\":2}\r\r"],
            vec!["data: {\"a\":1}\r", "\n\r", "\ndata: {\"a\"", ":2}\r\n", "\r\n"],
            vec![": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata: {\"a\":2}\r\n\r\n"],
        ] {
            let stream = futures_util::stream::iter(
                chunks.iter().map(|c| Ok::<_, std::convert::Infallible>(c.as_bytes().to_vec())),
            );
            let data: Vec<String> = events(stream).map(|e| e.unwrap().data).collect().await;
            assert_eq!(data, ["{\"a\":1}", "{\"a\":2}"], "{chunks:?}");
        }
    }

    /// A leading byte order mark is dropped, whole or split; one later in the stream is data.
    #[test]
    fn byte_order_mark() {
        for chunks in [vec!["\u{feff}data: x\n\n"], vec!["\u{feff}", "data: x\n\n"]] {
            let mut bom = super::Bom::default();
            let out: Vec<u8> = chunks
                .iter()
                .flat_map(|c| bom.strip(axum::body::Bytes::copy_from_slice(c.as_bytes())).to_vec())
                .collect();
            assert_eq!(out, b"data: x\n\n", "{chunks:?}");
        }
        let mut bom = super::Bom::default();
        let split: Vec<u8> = [&b"\xEF"[..], b"\xBB", b"\xBFdata", b"\xEF\xBB\xBF"]
            .iter()
            .flat_map(|c| bom.strip(axum::body::Bytes::copy_from_slice(c)).to_vec())
            .collect();
        assert_eq!(split, b"data\xEF\xBB\xBF");
        let mut plain = super::Bom::default();
        assert_eq!(&plain.strip(axum::body::Bytes::from_static(b"d"))[..], b"d");
    }
}
