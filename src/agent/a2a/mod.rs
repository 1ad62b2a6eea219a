//! The native A2A client: JSON-RPC over HTTP in the 0.2.x, 0.3 and 1.0 dialects, plain and
//! streamed (SSE), with `tasks/get` polling for tasks that are still running.

pub(crate) mod card;
pub(crate) mod dialect;
pub(crate) mod event;
pub(crate) mod reply;
pub(crate) mod sse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use self::card::{Route, Target};
use self::dialect::{Dialect, rpc_request};
use self::event::{parse_event, rpc_result};
use self::reply::Progress;
use super::transport::{Accept, ContentType, Request, Transport};
use super::{AgentError, AgentInfo, AgentReply, ConversationState};
use crate::redact::redact_url;

/// First pause between two `tasks/get` polls; doubles up to [`POLL_MAX_INTERVAL`].
const POLL_FIRST_INTERVAL: Duration = Duration::from_millis(50);
const POLL_MAX_INTERVAL: Duration = Duration::from_secs(1);

/// The card's facts for the probe. When the card sends messages to another server (often a
/// misconfiguration: an internal host name or port), that server must answer HTTP too, so
/// that the problem shows once, at the probe, rather than in every scenario.
pub(crate) async fn probe(transport: &Transport, target: &Target) -> Result<AgentInfo, AgentError> {
    if target.rpc_elsewhere() {
        let request = Request { method: &Method::HEAD, ..Request::get(&target.rpc_url) };
        match transport.execute(request, Accept::AnyStatus, &mut 1).await {
            Ok(_) => {}
            Err(AgentError::Unreachable { url, detail }) => {
                return Err(AgentError::Unreachable {
                    url,
                    detail: format!(
                        "{detail} (the agent card at {} names this URL for messages)",
                        redact_url(&target.card_url)
                    ),
                });
            }
            Err(err) => return Err(err),
        }
    }
    Ok(target.info())
}

/// Sends one user message and waits for the agent's answer.
///
/// `fallen_back` is shared by every conversation with this agent: once a 1.0 call has been
/// refused as if the agent did not speak 1.0, the rest of the run speaks the card's 0.x
/// fallback instead, so the refusal costs one extra request per run, not per message.
pub(crate) async fn send(
    transport: &Transport,
    target: &Target,
    fallen_back: &AtomicBool,
    conversation: &mut ConversationState,
    text: &str,
    attempts: &mut u32,
) -> Result<AgentReply, AgentError> {
    *attempts += 1;
    let mut progress = Progress::default();
    let mut route = target.route(fallen_back.load(Ordering::Relaxed));
    let turn = Turn { transport, streaming: target.streaming, conversation, text };
    let url = match turn.start(route, &mut progress, attempts).await {
        // Only when nothing was absorbed: the agent did not take the message, so sending it
        // again cannot make it act twice.
        Err(AgentError::Remote { code, message })
            if progress.is_empty()
                && refuses_dialect(code)
                && route.dialect == Dialect::V1_0
                && target.fallback.is_some() =>
        {
            fallen_back.store(true, Ordering::Relaxed);
            route = target.route(true);
            *attempts += 1;
            turn.start(route, &mut progress, attempts).await.map_err(|err| {
                let refused = Dialect::V1_0.send_method(target.streaming);
                name_the_refusal(err, route, refused, code, &message)
            })?
        }
        other => other?,
    };
    poll(transport, route, &mut progress, attempts).await?;
    let text = progress.finish(conversation, &url)?;
    Ok(AgentReply { text, usage: None, attempts: *attempts })
}

/// A failed fallback's JSON-RPC error, naming the refusal that led to it.
fn name_the_refusal(
    err: AgentError,
    route: Route<'_>,
    refused_method: &str,
    refused_code: i64,
    refused_message: &str,
) -> AgentError {
    match err {
        AgentError::Remote { code, message } => AgentError::Remote {
            code,
            message: format!(
                "{message} (sent in A2A {} after {refused_method} was refused with \
                 {refused_code}: {refused_message})",
                route.dialect.label(),
            ),
        },
        other => other,
    }
}

/// Whether a JSON-RPC error to a 1.0 call means "not in this dialect" rather than "not this
/// message": -32009 VersionNotSupported (a2a-sdk 1.x without the `A2A-Version` header),
/// -32601 method not found (0.x servers), and -32600 invalid request, which a2a-sdk 0.2.x
/// answers to any method it does not know (observed on 0.2.10, without an `id`).
fn refuses_dialect(code: i64) -> bool {
    matches!(code, -32009 | -32601 | -32600)
}

/// One user message to send.
struct Turn<'a> {
    transport: &'a Transport,
    streaming: bool,
    conversation: &'a ConversationState,
    text: &'a str,
}

impl Turn<'_> {
    /// Sends the message on `route` and absorbs the answer: the whole JSON result, or the
    /// event stream up to the point where the answer is complete. Returns the URL for error
    /// messages.
    async fn start(
        &self,
        route: Route<'_>,
        progress: &mut Progress,
        attempts: &mut u32,
    ) -> Result<String, AgentError> {
        let (transport, streaming, dialect) = (self.transport, self.streaming, route.dialect);
        let message = dialect.user_message(
            self.text,
            self.conversation.context_id.as_deref(),
            self.conversation.task_id.as_deref(),
        );
        let (id, body) =
            rpc_request(dialect.send_method(streaming), &json!({ "message": message }));
        let request = Request {
            headers: dialect.headers(streaming),
            ..Request::post_json(route.rpc_url, &body)
        };
        let answer = transport.execute(request, Accept::Success, attempts).await?;
        let url = answer.url.clone();
        if streaming {
            sse::read(transport, answer, &id, progress).await?;
            if progress.is_empty() {
                return Err(AgentError::Protocol {
                    url,
                    detail: "the event stream ended before any event".to_owned(),
                });
            }
            if !progress.is_settled() && progress.pending_task().is_none() {
                return Err(AgentError::Protocol {
                    url,
                    detail: "the event stream ended before the answer was complete".to_owned(),
                });
            }
        } else {
            let envelope = transport.read_json(answer, ContentType::Json).await?;
            let event = parse_event(&rpc_result(&url, envelope, &id)?)
                .map_err(|detail| AgentError::Protocol { url: url.clone(), detail })?;
            progress.absorb(event);
        }
        Ok(url)
    }
}

/// Polls `tasks/get` / `GetTask` while the task is submitted or working, until the turn's
/// deadline, with an interval that starts short and doubles.
async fn poll(
    transport: &Transport,
    route: Route<'_>,
    progress: &mut Progress,
    attempts: &mut u32,
) -> Result<(), AgentError> {
    let Some(task_id) = progress.pending_task().map(str::to_owned) else {
        return Ok(());
    };
    let dialect = route.dialect;
    let give_up = transport.turn_deadline();
    let mut interval = POLL_FIRST_INTERVAL;
    loop {
        if Instant::now().checked_add(interval).is_none_or(|next| next > give_up) {
            return Err(AgentError::Protocol {
                url: redact_url(route.rpc_url),
                detail: format!(
                    "task {task_id} was still running after {} ms of polling",
                    transport.options.timeout.as_millis()
                ),
            });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(POLL_MAX_INTERVAL);
        let (id, body) = rpc_request(dialect.get_task_method(), &json!({ "id": task_id }));
        let request =
            Request { headers: dialect.headers(false), ..Request::post_json(route.rpc_url, &body) };
        let answer = transport.execute(request, Accept::Success, attempts).await?;
        let url = answer.url.clone();
        let envelope = transport.read_json(answer, ContentType::Json).await?;
        let event = parse_event(&rpc_result(&url, envelope, &id)?)
            .map_err(|detail| AgentError::Protocol { url, detail })?;
        if progress.absorb(event) {
            return Ok(());
        }
    }
}
