//! An agent behind an OpenAI-compatible chat completions API.

use serde_json::{Value, json};

use super::transport::{Accept, ContentType, Request, Transport};
use super::{AgentError, AgentInfo, AgentReply, ConversationState};
use crate::http::{SNIPPET_CHARS, one_line};
use crate::model::Role;
use crate::redact::redact_url;

fn join(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// `GET {url}/models`: any HTTP answer means the server is there, except a refusal of the
/// credentials, which would fail every scenario.
pub(crate) async fn probe(transport: &Transport, model: &str) -> Result<AgentInfo, AgentError> {
    let url = join(&transport.endpoint.url, "models");
    let answer = transport.execute(Request::get(&url), Accept::AnyStatus, &mut 1).await?;
    let status = answer.status().as_u16();
    if matches!(status, 401 | 403) {
        return Err(AgentError::Http {
            url: answer.url,
            status,
            snippet: if matches!(transport.endpoint.auth, super::Auth::None) {
                "the server wants credentials and none are configured".to_owned()
            } else {
                "the server rejected the credentials".to_owned()
            },
        });
    }
    Ok(AgentInfo { name: Some(model.to_owned()), ..AgentInfo::default() })
}

/// Sends the conversation so far plus `text`; on success both are added to the history.
pub(crate) async fn send(
    transport: &Transport,
    model: &str,
    conversation: &mut ConversationState,
    text: &str,
    attempts: &mut u32,
) -> Result<AgentReply, AgentError> {
    let url = join(&transport.endpoint.url, "chat/completions");
    let mut messages: Vec<Value> = conversation
        .history
        .iter()
        .map(|(role, content)| {
            let role = match role {
                Role::User => "user",
                Role::Agent => "assistant",
            };
            json!({ "role": role, "content": content })
        })
        .collect();
    messages.push(json!({ "role": "user", "content": text }));
    let body = json!({ "model": model, "messages": messages }).to_string();
    *attempts += 1;
    let answer =
        transport.execute(Request::post_json(&url, &body), Accept::Success, attempts).await?;
    let reply = transport.read_json(answer, ContentType::Json).await?;
    let content = reply_text(&reply)
        .map_err(|detail| AgentError::Protocol { url: redact_url(&url), detail })?;
    conversation.history.push((Role::User, text.to_owned()));
    conversation.history.push((Role::Agent, content.clone()));
    Ok(AgentReply { text: content, usage: usage(&reply), attempts: *attempts })
}

/// `choices[0].message.content`, or the refusal when the model refused.
fn reply_text(reply: &Value) -> Result<String, String> {
    let message = reply.pointer("/choices/0/message");
    let content = message.and_then(|m| m.get("content"));
    if let Some(Value::String(text)) = content {
        return Ok(text.clone());
    }
    if let Some(Value::String(refusal)) = message.and_then(|m| m.get("refusal")) {
        return Ok(refusal.clone());
    }
    // Content as a list of parts: [{"type": "text", "text": …}].
    if let Some(Value::Array(parts)) = content {
        return Ok(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect());
    }
    Err(format!(
        "no choices[0].message.content in the reply: {}",
        one_line(&reply.to_string(), SNIPPET_CHARS)
    ))
}

/// Chat-completion `usage` is read the same way for agents and for the judge.
use crate::http::usage;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Usage;

    #[test]
    fn reads_content_refusal_and_parts() {
        let ok = json!({"choices":[{"message":{"role":"assistant","content":"hi"}}]});
        assert_eq!(reply_text(&ok).unwrap(), "hi");
        let refused = json!({"choices":[{"message":{"content":null,"refusal":"no"}}]});
        assert_eq!(reply_text(&refused).unwrap(), "no");
        let parts = json!({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]});
        assert_eq!(reply_text(&parts).unwrap(), "ab");
        assert!(reply_text(&json!({"choices":[]})).is_err());
    }

    #[test]
    fn usage_with_and_without_details() {
        let reply = json!({"usage":{"prompt_tokens":26,"completion_tokens":20,"total_tokens":46,
            "prompt_tokens_details":{"cached_tokens":8}}});
        assert_eq!(
            usage(&reply),
            Some(Usage { input_tokens: 26, cached_input_tokens: 8, output_tokens: 20 })
        );
        let bare = json!({"usage":{"prompt_tokens":1,"completion_tokens":2}});
        assert_eq!(usage(&bare).unwrap().cached_input_tokens, 0);
        assert_eq!(usage(&json!({})), None);
    }

    #[test]
    fn url_join() {
        assert_eq!(join("http://h/v1/", "models"), "http://h/v1/models");
        assert_eq!(join("http://h/v1", "chat/completions"), "http://h/v1/chat/completions");
    }
}
