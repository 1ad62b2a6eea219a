//! What an A2A agent sends back, normalized across dialects: 0.x objects tagged with
//! `kind` and 1.0 objects wrapped in `{"task":…}` / `{"message":…}` / `{"statusUpdate":…}` /
//! `{"artifactUpdate":…}` both become an [`Event`]. Parsing is liberal: a shape is recognized
//! by its tag, its wrapper or, failing both, its fields, whatever dialect was asked for.

use serde_json::Value;

use crate::agent::AgentError;
use crate::http::{SNIPPET_CHARS, one_line};

/// One result of `message/send`, `tasks/get` or one streamed event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Message(Message),
    Task(Task),
    Status(StatusUpdate),
    Artifact(ArtifactUpdate),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Message {
    pub(crate) text: String,
    pub(crate) context_id: Option<String>,
    pub(crate) task_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) context_id: Option<String>,
    pub(crate) status: Status,
    pub(crate) artifacts: Vec<Artifact>,
    /// The text of the last agent message in the task's history, a last-resort reply.
    pub(crate) last_agent_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub(crate) state: TaskState,
    /// The text of `status.message`, if any.
    pub(crate) text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusUpdate {
    pub(crate) task_id: Option<String>,
    pub(crate) context_id: Option<String>,
    pub(crate) status: Status,
    /// 0.x `final: true`: the last event of the stream.
    pub(crate) is_final: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArtifactUpdate {
    pub(crate) task_id: Option<String>,
    pub(crate) context_id: Option<String>,
    pub(crate) artifact: Artifact,
    /// Append this chunk to the artifact with the same id instead of replacing it.
    pub(crate) append: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Artifact {
    pub(crate) id: Option<String>,
    /// Its text parts joined with "" (chunked text must not gain separators).
    pub(crate) text: String,
}

/// Task states of both spellings (`input-required`, `TASK_STATE_INPUT_REQUIRED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskState {
    Submitted,
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Failed,
    Canceled,
    Rejected,
    /// `unknown`, `TASK_STATE_UNSPECIFIED` or a state this client does not know.
    Unknown(String),
}

impl TaskState {
    pub(crate) fn parse(raw: &str) -> TaskState {
        let lower = raw.trim().to_ascii_lowercase();
        let name = lower.strip_prefix("task_state_").unwrap_or(&lower).replace('_', "-");
        match name.as_str() {
            "submitted" => TaskState::Submitted,
            "working" => TaskState::Working,
            "input-required" => TaskState::InputRequired,
            "auth-required" => TaskState::AuthRequired,
            "completed" => TaskState::Completed,
            "failed" => TaskState::Failed,
            "canceled" | "cancelled" => TaskState::Canceled,
            "rejected" => TaskState::Rejected,
            _ => TaskState::Unknown(one_line(raw, 60)),
        }
    }

    /// Still running: the client should wait (stream) or poll.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self, TaskState::Submitted | TaskState::Working)
    }

    /// The lower-case kebab spelling, for messages.
    pub(crate) fn name(&self) -> &str {
        match self {
            TaskState::Submitted => "submitted",
            TaskState::Working => "working",
            TaskState::InputRequired => "input-required",
            TaskState::AuthRequired => "auth-required",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Rejected => "rejected",
            TaskState::Unknown(raw) => raw,
        }
    }
}

/// The `result` of a JSON-RPC response, or its `error` as [`AgentError::Remote`].
///
/// A response that names another request `id` than `id` is refused: it answers some other
/// question (a replayed or misrouted response). A missing or `null` id is tolerated, as
/// JSON-RPC allows for errors and some servers send on stream events.
pub(crate) fn rpc_result(url: &str, mut envelope: Value, id: &str) -> Result<Value, AgentError> {
    match envelope.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(got)) if got == id => {}
        Some(other) => {
            return Err(AgentError::Protocol {
                url: url.to_owned(),
                detail: format!(
                    "the JSON-RPC response answers request id {}, not the id {id} that was sent",
                    one_line(&other.to_string(), 80)
                ),
            });
        }
    }
    if let Some(error) = envelope.get("error").filter(|e| !e.is_null()) {
        return Err(remote_error(error));
    }
    match envelope.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(AgentError::Protocol {
            url: url.to_owned(),
            detail: format!(
                "the JSON-RPC response has neither result nor error: {}",
                one_line(&envelope.to_string(), SNIPPET_CHARS)
            ),
        }),
    }
}

/// A JSON-RPC `error` object as an [`AgentError::Remote`] (message trimmed and bounded).
fn remote_error(error: &Value) -> AgentError {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = match error.get("message").and_then(Value::as_str) {
        Some(message) if !message.trim().is_empty() => one_line(message, SNIPPET_CHARS),
        _ => one_line(&error.to_string(), SNIPPET_CHARS),
    };
    AgentError::Remote { code, message }
}

/// Recognizes one result object.
pub(crate) fn parse_event(result: &Value) -> Result<Event, String> {
    let Some(object) = result.as_object() else {
        return Err(format!("expected a JSON object, got {}", short(result)));
    };
    let kind = object.get("kind").and_then(Value::as_str);
    let wrapped = |key: &str| kind.is_none().then(|| object.get(key)).flatten();
    if kind == Some("message") {
        return Ok(Event::Message(parse_message(result)));
    }
    if kind == Some("task") {
        return parse_task(result).map(Event::Task);
    }
    if kind == Some("status-update") {
        return Ok(Event::Status(parse_status_update(result)));
    }
    if kind == Some("artifact-update") {
        return Ok(Event::Artifact(parse_artifact_update(result)));
    }
    if let Some(kind) = kind {
        return Err(format!("unknown result kind {:?}", one_line(kind, 40)));
    }
    if let Some(inner) = wrapped("message") {
        return Ok(Event::Message(parse_message(inner)));
    }
    if let Some(inner) = wrapped("task") {
        return parse_task(inner).map(Event::Task);
    }
    if let Some(inner) = wrapped("statusUpdate") {
        return Ok(Event::Status(parse_status_update(inner)));
    }
    if let Some(inner) = wrapped("artifactUpdate") {
        return Ok(Event::Artifact(parse_artifact_update(inner)));
    }
    // Bare objects without a tag (1.0 `GetTask` returns a bare Task).
    if object.contains_key("status") && object.contains_key("id") {
        return parse_task(result).map(Event::Task);
    }
    if object.contains_key("parts") {
        return Ok(Event::Message(parse_message(result)));
    }
    Err(format!("neither a message nor a task: {}", short(result)))
}

fn parse_message(message: &Value) -> Message {
    Message {
        text: parts_text(message.get("parts")),
        context_id: string_field(message, "contextId"),
        task_id: string_field(message, "taskId"),
    }
}

fn parse_task(task: &Value) -> Result<Task, String> {
    let id =
        string_field(task, "id").ok_or_else(|| format!("a task without an id: {}", short(task)))?;
    let artifacts = task
        .get("artifacts")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(parse_artifact).collect())
        .unwrap_or_default();
    let last_agent_text = task
        .get("history")
        .and_then(Value::as_array)
        .and_then(|history| {
            history.iter().rev().find(|m| {
                m.get("role").and_then(Value::as_str).is_some_and(|r| {
                    r.eq_ignore_ascii_case("agent") || r.eq_ignore_ascii_case("ROLE_AGENT")
                })
            })
        })
        .map(|m| parts_text(m.get("parts")))
        .filter(|text| !text.is_empty());
    Ok(Task {
        id,
        context_id: string_field(task, "contextId"),
        status: parse_status(task.get("status")),
        artifacts,
        last_agent_text,
    })
}

fn parse_status(status: Option<&Value>) -> Status {
    let state = status
        .and_then(|s| s.get("state"))
        .and_then(Value::as_str)
        .map_or_else(|| TaskState::Unknown("(missing)".to_owned()), TaskState::parse);
    let text = status
        .and_then(|s| s.get("message"))
        .map(|m| parts_text(m.get("parts")))
        .filter(|text| !text.is_empty());
    Status { state, text }
}

fn parse_status_update(update: &Value) -> StatusUpdate {
    StatusUpdate {
        task_id: string_field(update, "taskId"),
        context_id: string_field(update, "contextId"),
        status: parse_status(update.get("status")),
        is_final: update.get("final").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn parse_artifact_update(update: &Value) -> ArtifactUpdate {
    ArtifactUpdate {
        task_id: string_field(update, "taskId"),
        context_id: string_field(update, "contextId"),
        artifact: update.get("artifact").map(parse_artifact).unwrap_or_default(),
        append: update.get("append").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn parse_artifact(artifact: &Value) -> Artifact {
    Artifact { id: string_field(artifact, "artifactId"), text: parts_text(artifact.get("parts")) }
}

/// The text of a part list, joined with "": text parts as they are, data parts as JSON;
/// file parts carry no text and are skipped.
fn parts_text(parts: Option<&Value>) -> String {
    let Some(parts) = parts.and_then(Value::as_array) else {
        return String::new();
    };
    let mut text = String::new();
    for part in parts {
        let kind = part.get("kind").and_then(Value::as_str);
        if let Some(t) = part.get("text").and_then(Value::as_str)
            && matches!(kind, None | Some("text"))
        {
            text.push_str(t);
        } else if let Some(data) = part.get("data")
            && matches!(kind, None | Some("data"))
        {
            text.push_str(&data.to_string());
        }
    }
    text
}

fn string_field(object: &Value, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn short(value: &Value) -> String {
    one_line(&value.to_string(), SNIPPET_CHARS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn states_in_both_spellings() {
        assert_eq!(TaskState::parse("input-required"), TaskState::InputRequired);
        assert_eq!(TaskState::parse("TASK_STATE_INPUT_REQUIRED"), TaskState::InputRequired);
        assert_eq!(TaskState::parse("TASK_STATE_CANCELED"), TaskState::Canceled);
        assert_eq!(TaskState::parse("cancelled"), TaskState::Canceled);
        assert_eq!(TaskState::parse("completed"), TaskState::Completed);
        assert_eq!(
            TaskState::parse("TASK_STATE_UNSPECIFIED"),
            TaskState::Unknown("TASK_STATE_UNSPECIFIED".into())
        );
    }

    #[test]
    fn v0_task_with_chunked_artifact() {
        let result = json!({"artifacts":[{"artifactId":"a","name":"response","parts":[
            {"kind":"text","text":"Refunds are poss"},{"kind":"text","text":"ible within 30 d"},
            {"kind":"text","text":"ays of purchase."}]}],
            "contextId":"ctx-t","id":"t1","kind":"task","status":{"state":"completed"}});
        let Ok(Event::Task(task)) = parse_event(&result) else { panic!() };
        assert_eq!(task.artifacts[0].text, "Refunds are possible within 30 days of purchase.");
        assert_eq!(task.context_id.as_deref(), Some("ctx-t"));
        assert_eq!(task.status.state, TaskState::Completed);
    }

    #[test]
    fn v1_wrappers() {
        let msg = json!({"message":{"messageId":"m","contextId":"c","role":"ROLE_AGENT",
            "parts":[{"text":"You said: hello v1"}]}});
        assert_eq!(
            parse_event(&msg),
            Ok(Event::Message(Message {
                text: "You said: hello v1".into(),
                context_id: Some("c".into()),
                task_id: None
            }))
        );
        let update = json!({"artifactUpdate":{"taskId":"t","contextId":"c","append":true,
            "artifact":{"artifactId":"a","parts":[{"text":"ible"}]}}});
        let Ok(Event::Artifact(update)) = parse_event(&update) else { panic!() };
        assert!(update.append);
        assert_eq!(update.artifact.text, "ible");
        let status =
            json!({"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_COMPLETED"}}});
        let Ok(Event::Status(status)) = parse_event(&status) else { panic!() };
        assert_eq!(status.status.state, TaskState::Completed);
        assert!(!status.is_final);
    }

    #[test]
    fn bare_task_from_get_task() {
        let task = json!({"id":"t","contextId":"c","status":{"state":"TASK_STATE_WORKING"}});
        let Ok(Event::Task(task)) = parse_event(&task) else { panic!() };
        assert!(task.status.state.is_running());
    }

    #[test]
    fn status_message_and_history_text() {
        let task = json!({"id":"t","kind":"task","status":{"state":"input-required",
            "message":{"kind":"message","role":"agent","parts":[{"kind":"text","text":"Which date?"}]}},
            "history":[{"role":"user","parts":[{"kind":"text","text":"book"}]},
                       {"role":"agent","parts":[{"kind":"text","text":"On it"}]}]});
        let Ok(Event::Task(task)) = parse_event(&task) else { panic!() };
        assert_eq!(task.status.text.as_deref(), Some("Which date?"));
        assert_eq!(task.last_agent_text.as_deref(), Some("On it"));
    }

    #[test]
    fn data_parts_render_as_json_and_files_are_skipped() {
        let msg = json!({"kind":"message","parts":[{"kind":"data","data":{"a":1}},
            {"kind":"file","file":{"uri":"http://x"}},{"url":"http://y"}]});
        let Ok(Event::Message(msg)) = parse_event(&msg) else { panic!() };
        assert_eq!(msg.text, r#"{"a":1}"#);
    }

    #[test]
    fn rpc_errors_become_remote_errors() {
        let err = rpc_result(
            "http://a",
            json!({"jsonrpc":"2.0","id":"r1","error":{"code":-32001,"message":"  Task not found\n"}}),
            "r1",
        )
        .unwrap_err();
        assert_eq!(err, AgentError::Remote { code: -32001, message: "Task not found".into() });
        let long = "y".repeat(5000);
        let err = rpc_result("http://a", json!({"error":{"code":-32603,"message":long}}), "r1")
            .unwrap_err();
        assert!(err.to_string().len() < 300);
    }

    #[test]
    fn neither_result_nor_error_is_a_protocol_error() {
        let err = rpc_result("http://a", json!({"jsonrpc":"2.0","id":"r1"}), "r1").unwrap_err();
        assert!(matches!(err, AgentError::Protocol { .. }), "{err}");
    }

    #[test]
    fn a_response_to_another_request_id_is_refused() {
        let answer = json!({"jsonrpc":"2.0","id":"other","result":{"kind":"message","parts":[]}});
        let err = rpc_result("http://a", answer, "mine").unwrap_err();
        assert!(err.to_string().contains("answers request id \"other\""), "{err}");
        let numeric = json!({"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}});
        assert!(matches!(rpc_result("http://a", numeric, "7"), Err(AgentError::Protocol { .. })));
        let null = json!({"jsonrpc":"2.0","id":null,"result":{}});
        assert!(rpc_result("http://a", null, "mine").is_ok());
    }

    #[test]
    fn unknown_shapes_are_rejected() {
        assert!(parse_event(&json!({"kind":"weird"})).is_err());
        assert!(parse_event(&json!("text")).is_err());
        assert!(parse_event(&json!({"foo":1})).is_err());
    }
}
