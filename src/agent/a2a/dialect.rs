//! The three A2A wire generations and how each spells a request.

use serde_json::{Map, Value, json};

/// An A2A JSON-RPC dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// 0.2.x: `message/send`, `kind` tags, card at `agent.json`.
    V0_2,
    /// 0.3: as 0.2 on the wire; card at `agent-card.json`.
    V0_3,
    /// 1.0: `SendMessage`, `A2A-Version: 1.0`, `ROLE_USER`, flat parts, wrapped results.
    V1_0,
}

impl Dialect {
    /// The dialect for a card or interface `protocolVersion`: `1.x` → 1.0, `0.3.x` → 0.3,
    /// anything else (0.2.5, missing) → 0.2. `None` for versions newer than 1.x.
    pub(crate) fn from_version(version: Option<&str>) -> Option<Dialect> {
        let version = version.unwrap_or("").trim();
        let mut numbers = version.split('.');
        let major = numbers.next().and_then(|n| n.parse::<u32>().ok());
        let minor = numbers.next().and_then(|n| n.parse::<u32>().ok());
        match (major, minor) {
            (Some(1), _) => Some(Dialect::V1_0),
            (Some(0), Some(minor)) if minor >= 3 => Some(Dialect::V0_3),
            (Some(major), _) if major > 1 => None,
            _ => Some(Dialect::V0_2),
        }
    }

    /// The version this client speaks in this dialect, as reported by the probe.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Dialect::V0_2 => "0.2",
            Dialect::V0_3 => "0.3",
            Dialect::V1_0 => "1.0",
        }
    }

    pub(crate) fn send_method(self, streaming: bool) -> &'static str {
        match (self, streaming) {
            (Dialect::V1_0, false) => "SendMessage",
            (Dialect::V1_0, true) => "SendStreamingMessage",
            (_, false) => "message/send",
            (_, true) => "message/stream",
        }
    }

    pub(crate) fn get_task_method(self) -> &'static str {
        match self {
            Dialect::V1_0 => "GetTask",
            _ => "tasks/get",
        }
    }

    /// Headers every JSON-RPC call of this dialect carries.
    pub(crate) fn headers(self, streaming: bool) -> &'static [(&'static str, &'static str)] {
        const EVENT_STREAM: (&str, &str) = ("accept", "text/event-stream");
        const JSON: (&str, &str) = ("accept", "application/json");
        const VERSION: (&str, &str) = ("a2a-version", "1.0");
        match (self, streaming) {
            (Dialect::V1_0, true) => &[VERSION, EVENT_STREAM],
            (Dialect::V1_0, false) => &[VERSION, JSON],
            (_, true) => &[EVENT_STREAM],
            (_, false) => &[JSON],
        }
    }

    /// A user message with one text part, continuing `context_id` / `task_id` when set.
    pub(crate) fn user_message(
        self,
        text: &str,
        context_id: Option<&str>,
        task_id: Option<&str>,
    ) -> Value {
        let mut message = Map::new();
        message.insert("messageId".into(), uuid::Uuid::new_v4().to_string().into());
        if self == Dialect::V1_0 {
            message.insert("role".into(), "ROLE_USER".into());
            message.insert("parts".into(), json!([{ "text": text }]));
        } else {
            message.insert("kind".into(), "message".into());
            message.insert("role".into(), "user".into());
            message.insert("parts".into(), json!([{ "kind": "text", "text": text }]));
        }
        if let Some(context_id) = context_id {
            message.insert("contextId".into(), context_id.into());
        }
        if let Some(task_id) = task_id {
            message.insert("taskId".into(), task_id.into());
        }
        Value::Object(message)
    }
}

/// A JSON-RPC 2.0 request with a fresh id: `(id, body)`. Answers must carry the same id.
pub(crate) fn rpc_request(method: &str, params: &Value) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": method,
        "params": params,
    })
    .to_string();
    (id, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Dialect::from_version(Some("1.0")), Some(Dialect::V1_0));
        assert_eq!(Dialect::from_version(Some("1.1")), Some(Dialect::V1_0));
        assert_eq!(Dialect::from_version(Some("0.3")), Some(Dialect::V0_3));
        assert_eq!(Dialect::from_version(Some("0.3.0")), Some(Dialect::V0_3));
        assert_eq!(Dialect::from_version(Some("0.2.5")), Some(Dialect::V0_2));
        assert_eq!(Dialect::from_version(None), Some(Dialect::V0_2));
        assert_eq!(Dialect::from_version(Some("2.0")), None);
    }

    #[test]
    fn message_shapes() {
        let v1 = Dialect::V1_0.user_message("hi", Some("c"), None);
        assert_eq!(v1["role"], "ROLE_USER");
        assert_eq!(v1["parts"], json!([{"text": "hi"}]));
        assert_eq!(v1["contextId"], "c");
        assert!(v1.get("kind").is_none() && v1.get("taskId").is_none());
        let v0 = Dialect::V0_3.user_message("hi", None, Some("t"));
        assert_eq!(v0["kind"], "message");
        assert_eq!(v0["role"], "user");
        assert_eq!(v0["parts"], json!([{"kind": "text", "text": "hi"}]));
        assert_eq!(v0["taskId"], "t");
        assert!(v0.get("contextId").is_none());
    }
}
