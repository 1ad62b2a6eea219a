//! The mock agent's JSON shapes: JSON-RPC envelopes, messages, tasks, stream events and the
//! agent card, in the 0.x (`kind`-tagged, kebab-case states) and 1.0 (wrapped, ProtoJSON
//! enums) spellings. See `shared/reference/a2a-llm.md` §3–§10 for the observed originals.

use serde_json::{Map, Value, json};

use super::MockDialect;

/// Which JSON spelling a response uses. Follows the method name family of the request:
/// `message/send` & co answer in 0.x shapes, `SendMessage` & co in 1.0 shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    V0,
    V1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Agent,
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    pub id: String,
    pub role: Role,
    pub text: String,
    pub context_id: String,
    pub task_id: Option<String>,
    pub metadata: Option<Value>,
}

impl Msg {
    pub(crate) fn weight(&self) -> usize {
        self.text.len() + self.id.len() + self.context_id.len() + 64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    Submitted,
    Working,
    InputRequired,
    Completed,
    Canceled,
}

impl TaskState {
    pub(crate) fn name(self, wire: Wire) -> &'static str {
        match (wire, self) {
            (Wire::V0, TaskState::Submitted) => "submitted",
            (Wire::V0, TaskState::Working) => "working",
            (Wire::V0, TaskState::InputRequired) => "input-required",
            (Wire::V0, TaskState::Completed) => "completed",
            (Wire::V0, TaskState::Canceled) => "canceled",
            (Wire::V1, TaskState::Submitted) => "TASK_STATE_SUBMITTED",
            (Wire::V1, TaskState::Working) => "TASK_STATE_WORKING",
            (Wire::V1, TaskState::InputRequired) => "TASK_STATE_INPUT_REQUIRED",
            (Wire::V1, TaskState::Completed) => "TASK_STATE_COMPLETED",
            (Wire::V1, TaskState::Canceled) => "TASK_STATE_CANCELED",
        }
    }

    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, TaskState::Completed | TaskState::Canceled)
    }
}

/// A task as the mock remembers it.
#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    pub id: String,
    pub context_id: String,
    pub state: TaskState,
    pub status_message: Option<Msg>,
    pub timestamp: String,
    /// The text parts of the task's one artifact (empty: no artifact yet).
    pub chunks: Vec<String>,
    pub history: Vec<Msg>,
    /// For a `working` task: the reply delivered when it completes.
    pub pending: Option<String>,
    /// Metadata put on the artifact (usage reported by `[tokens:N]`).
    pub metadata: Option<Value>,
}

impl TaskRecord {
    pub(crate) fn weight(&self) -> usize {
        self.chunks.iter().map(String::len).sum::<usize>()
            + self.history.iter().map(Msg::weight).sum::<usize>()
            + self.pending.as_ref().map_or(0, String::len)
            + self.status_message.as_ref().map_or(0, Msg::weight)
            + 256
    }

    /// Moves the task to `state` now.
    pub(crate) fn set_state(&mut self, state: TaskState) {
        self.state = state;
        self.timestamp = now();
    }
}

/// The current time as RFC 3339 (`2026-11-24T10:29:13.026449Z`).
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn text_part(wire: Wire, text: &str) -> Value {
    match wire {
        Wire::V0 => json!({"kind": "text", "text": text}),
        Wire::V1 => json!({"text": text}),
    }
}

pub(crate) fn message(wire: Wire, msg: &Msg) -> Value {
    let mut m = Map::new();
    if wire == Wire::V0 {
        m.insert("kind".into(), "message".into());
    }
    m.insert("messageId".into(), msg.id.clone().into());
    m.insert("contextId".into(), msg.context_id.clone().into());
    if let Some(task_id) = &msg.task_id {
        m.insert("taskId".into(), task_id.clone().into());
    }
    let role = match (wire, msg.role) {
        (Wire::V0, Role::User) => "user",
        (Wire::V0, Role::Agent) => "agent",
        (Wire::V1, Role::User) => "ROLE_USER",
        (Wire::V1, Role::Agent) => "ROLE_AGENT",
    };
    m.insert("role".into(), role.into());
    m.insert("parts".into(), json!([text_part(wire, &msg.text)]));
    if let Some(meta) = &msg.metadata {
        m.insert("metadata".into(), meta.clone());
    }
    Value::Object(m)
}

fn status(wire: Wire, task: &TaskRecord) -> Value {
    let mut s = Map::new();
    s.insert("state".into(), task.state.name(wire).into());
    if let Some(msg) = &task.status_message {
        s.insert("message".into(), message(wire, msg));
    }
    s.insert("timestamp".into(), task.timestamp.clone().into());
    Value::Object(s)
}

fn artifact(wire: Wire, task: &TaskRecord, parts: &[String]) -> Value {
    let mut a = Map::new();
    a.insert("artifactId".into(), format!("artifact-{}", task.id).into());
    a.insert("name".into(), "response".into());
    a.insert("parts".into(), parts.iter().map(|p| text_part(wire, p)).collect());
    if let Some(meta) = &task.metadata {
        a.insert("metadata".into(), meta.clone());
    }
    Value::Object(a)
}

/// A task object; `history_length` keeps only the last N history messages.
pub(crate) fn task(wire: Wire, task: &TaskRecord, history_length: Option<usize>) -> Value {
    let mut t = Map::new();
    if wire == Wire::V0 {
        t.insert("kind".into(), "task".into());
    }
    t.insert("id".into(), task.id.clone().into());
    t.insert("contextId".into(), task.context_id.clone().into());
    t.insert("status".into(), status(wire, task));
    if !task.chunks.is_empty() {
        t.insert("artifacts".into(), json!([artifact(wire, task, &task.chunks)]));
    }
    let skip = history_length.map_or(0, |n| task.history.len().saturating_sub(n));
    t.insert("history".into(), task.history[skip..].iter().map(|m| message(wire, m)).collect());
    Value::Object(t)
}

/// The `result` of a reply that is a message.
pub(crate) fn result_message(wire: Wire, msg: &Msg) -> Value {
    match wire {
        Wire::V0 => message(wire, msg),
        Wire::V1 => wrap("message", message(wire, msg)),
    }
}

/// The `result` of a reply that is a task.
pub(crate) fn result_task(wire: Wire, t: &TaskRecord, history_length: Option<usize>) -> Value {
    match wire {
        Wire::V0 => task(wire, t, history_length),
        Wire::V1 => wrap("task", task(wire, t, history_length)),
    }
}

/// A status-update stream event. `last` marks the end of the stream (`final` in 0.x; 1.0
/// has no such field).
pub(crate) fn status_update(wire: Wire, task: &TaskRecord, last: bool) -> Value {
    match wire {
        Wire::V0 => json!({
            "kind": "status-update",
            "taskId": task.id,
            "contextId": task.context_id,
            "status": status(wire, task),
            "final": last,
        }),
        Wire::V1 => json!({"statusUpdate": {
            "taskId": task.id,
            "contextId": task.context_id,
            "status": status(wire, task),
        }}),
    }
}

/// The artifact-update stream event carrying chunk `index` of the task's artifact.
pub(crate) fn artifact_update(wire: Wire, task: &TaskRecord, index: usize) -> Value {
    let append = index > 0;
    let last_chunk = index + 1 == task.chunks.len();
    let parts = task.chunks.get(index..=index).unwrap_or_default();
    let mut e = Map::new();
    if wire == Wire::V0 {
        e.insert("kind".into(), "artifact-update".into());
    }
    e.insert("taskId".into(), task.id.clone().into());
    e.insert("contextId".into(), task.context_id.clone().into());
    e.insert("artifact".into(), artifact(wire, task, parts));
    // ProtoJSON (1.0) leaves out fields at their default (false).
    if wire == Wire::V0 || append {
        e.insert("append".into(), append.into());
    }
    if wire == Wire::V0 || last_chunk {
        e.insert("lastChunk".into(), last_chunk.into());
    }
    match wire {
        Wire::V0 => Value::Object(e),
        Wire::V1 => wrap("artifactUpdate", Value::Object(e)),
    }
}

/// A JSON-RPC success response.
pub(crate) fn rpc_result(id: &Value, result: Value) -> Value {
    let mut r = Map::new();
    r.insert("jsonrpc".into(), "2.0".into());
    r.insert("id".into(), id.clone());
    r.insert("result".into(), result);
    Value::Object(r)
}

/// `{key: value}` without copying `value`.
fn wrap(key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), value);
    Value::Object(m)
}

/// A JSON-RPC error response; 1.0 errors carry a `google.rpc.ErrorInfo` in `data`.
pub(crate) fn rpc_error(wire: Wire, id: &Value, code: i64, message: &str) -> Value {
    let reason = match code {
        -32001 => Some("TASK_NOT_FOUND"),
        -32002 => Some("TASK_NOT_CANCELABLE"),
        -32004 => Some("UNSUPPORTED_OPERATION"),
        -32009 => Some("VERSION_NOT_SUPPORTED"),
        _ => None,
    };
    let error = match (wire, reason) {
        (Wire::V1, Some(reason)) => json!({
            "code": code,
            "message": message,
            "data": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "a2a-protocol.org",
                "metadata": {},
            }],
        }),
        _ => json!({"code": code, "message": message}),
    };
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// The text of a message's parts, in either spelling: text parts as they are, data parts
/// as compact JSON, file parts by name or URI; joined with newlines.
pub(crate) fn text_of_parts(parts: &[Value]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for part in parts {
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            out.push(text.to_owned());
        } else if let Some(data) = part.get("data") {
            out.push(data.to_string());
        } else if let Some(file) = part.get("file") {
            let name = file.get("name").or_else(|| file.get("uri")).and_then(Value::as_str);
            out.push(format!("[file {}]", name.unwrap_or("(bytes)")));
        } else if let Some(url) = part.get("url").and_then(Value::as_str) {
            out.push(format!("[file {url}]"));
        }
    }
    out.join("\n")
}

/// The agent card for agent `name` reachable at `url`.
pub(crate) fn agent_card(dialect: MockDialect, name: &str, url: &str, streaming: bool) -> Value {
    let protocol_version = match dialect {
        MockDialect::V0_2 => "0.2.5",
        MockDialect::V0_3 => "0.3.0",
        MockDialect::V1_0 => "0.3",
    };
    let mut card = json!({
        "name": name,
        "description": format!(
            "rogue-runner mock agent '{name}': deterministic echo replies steered by \
             [directives] in the user text."
        ),
        "url": url,
        "version": env!("CARGO_PKG_VERSION"),
        "protocolVersion": protocol_version,
        "preferredTransport": "JSONRPC",
        "capabilities": {"streaming": streaming, "pushNotifications": false},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain", "application/json"],
        "skills": [{
            "id": "echo",
            "name": "Deterministic echo",
            "description": "Echoes the user's text with the agent's name in front; \
                            [reply:…], [json:{…}], [task] and other directives change the reply.",
            "tags": ["mock", "test"],
            "examples": ["hello", "[reply:Refunds are possible within 30 days.]"],
        }],
    });
    if let Some(obj) = card.as_object_mut() {
        if dialect == MockDialect::V1_0 {
            obj.insert(
                "supportedInterfaces".into(),
                json!([
                    {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
                    {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
                ]),
            );
        } else if let Some(caps) = obj.get_mut("capabilities").and_then(Value::as_object_mut) {
            caps.insert("stateTransitionHistory".into(), false.into());
        }
    }
    card
}
