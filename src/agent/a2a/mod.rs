//! The native A2A client: JSON-RPC over HTTP in the 0.2.x, 0.3 and 1.0 dialects, plain and
//! streamed (SSE), with `tasks/get` polling for tasks that are still running.

pub(crate) mod card;
pub(crate) mod dialect;
pub(crate) mod event;
pub(crate) mod reply;
pub(crate) mod sse;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use self::card::Target;
use self::dialect::rpc_request;
use self::event::{parse_event, rpc_result};
use self::reply::Progress;
use super::snippet::redact_url;
use super::transport::{Accept, ContentType, Request, Transport};
use super::{AgentError, AgentInfo, AgentReply, ConversationState};

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
pub(crate) async fn send(
    transport: &Transport,
    target: &Target,
    conversation: &mut ConversationState,
    text: &str,
) -> Result<AgentReply, AgentError> {
    let dialect = target.dialect;
    let message = dialect.user_message(
        text,
        conversation.context_id.as_deref(),
        conversation.task_id.as_deref(),
    );
    let body = rpc_request(dialect.send_method(target.streaming), &json!({ "message": message }));
    let request = Request {
        headers: dialect.headers(target.streaming),
        ..Request::post_json(&target.rpc_url, &body)
    };
    let mut attempts = 1;
    let answer = transport.execute(request, Accept::Success, &mut attempts).await?;
    let url = answer.url.clone();
    let mut progress = Progress::default();
    if target.streaming {
        sse::read(transport, answer, &mut progress).await?;
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
        let event = parse_event(&rpc_result(&url, envelope)?)
            .map_err(|detail| AgentError::Protocol { url: url.clone(), detail })?;
        progress.absorb(event);
    }
    poll(transport, target, &mut progress, &mut attempts).await?;
    let text = progress.finish(conversation, &url)?;
    Ok(AgentReply { text, usage: None, attempts })
}

/// Polls `tasks/get` / `GetTask` while the task is submitted or working, for at most the
/// request timeout, with an interval that starts short and doubles.
async fn poll(
    transport: &Transport,
    target: &Target,
    progress: &mut Progress,
    attempts: &mut u32,
) -> Result<(), AgentError> {
    let Some(task_id) = progress.pending_task().map(str::to_owned) else {
        return Ok(());
    };
    let dialect = target.dialect;
    let give_up = Instant::now() + transport.options.timeout;
    let mut interval = POLL_FIRST_INTERVAL;
    loop {
        if Instant::now() + interval > give_up {
            return Err(AgentError::Protocol {
                url: target.rpc_url.clone(),
                detail: format!(
                    "task {task_id} was still running after {} ms of polling",
                    transport.options.timeout.as_millis()
                ),
            });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(POLL_MAX_INTERVAL);
        let body = rpc_request(dialect.get_task_method(), &json!({ "id": task_id }));
        let request = Request {
            headers: dialect.headers(false),
            ..Request::post_json(&target.rpc_url, &body)
        };
        let answer = transport.execute(request, Accept::Success, attempts).await?;
        let url = answer.url.clone();
        let envelope = transport.read_json(answer, ContentType::Json).await?;
        let event = parse_event(&rpc_result(&url, envelope)?)
            .map_err(|detail| AgentError::Protocol { url, detail })?;
        if progress.absorb(event) {
            return Ok(());
        }
    }
}
