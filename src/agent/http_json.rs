//! A plain HTTP agent: POST a JSON body built from a template, read the reply at a JSON
//! Pointer.

use reqwest::Method;
use serde_json::Value;

use super::transport::{Accept, ContentType, Request, Transport};
use super::{AgentError, AgentInfo, AgentReply, ConversationState};
use crate::http::{SNIPPET_CHARS, one_line};
use crate::redact::redact_url;

const MESSAGE: &str = "message";
const CONTEXT_ID: &str = "context_id";

/// Checks the template, then that something answers HTTP at the URL: any status counts
/// (many such agents answer 404 or 405 to anything but their POST).
pub(crate) async fn probe(transport: &Transport, template: &str) -> Result<AgentInfo, AgentError> {
    let url = &transport.endpoint.url;
    render_template(template, "probe", "probe")
        .map_err(|detail| AgentError::Protocol { url: redact_url(url), detail })?;
    let request = Request { method: &Method::HEAD, ..Request::get(url) };
    transport.execute(request, Accept::AnyStatus, &mut 1).await?;
    Ok(AgentInfo::default())
}

/// Sends one message. The conversation's `context_id` is generated on the first turn so
/// that the agent can tell conversations apart.
pub(crate) async fn send(
    transport: &Transport,
    template: &str,
    reply_pointer: &str,
    conversation: &mut ConversationState,
    text: &str,
    attempts: &mut u32,
) -> Result<AgentReply, AgentError> {
    let url = &transport.endpoint.url;
    let context_id =
        conversation.context_id.get_or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone();
    let body = render_template(template, text, &context_id)
        .map_err(|detail| AgentError::Protocol { url: redact_url(url), detail })?;
    *attempts += 1;
    let answer =
        transport.execute(Request::post_json(url, &body), Accept::Success, attempts).await?;
    let answer_url = answer.url.clone();
    let reply = transport.read_json(answer, ContentType::Lenient).await?;
    let text = reply_text(&reply, reply_pointer)
        .map_err(|detail| AgentError::Protocol { url: answer_url, detail })?;
    Ok(AgentReply { text, usage: None, attempts: *attempts })
}

/// The template with `{{message}}` and `{{context_id}}` (spaces inside the braces allowed)
/// replaced by the JSON-escaped values, without quotes: the placeholders belong inside JSON
/// string literals. The result must be valid JSON.
pub(crate) fn render_template(
    template: &str,
    message: &str,
    context_id: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + message.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        let name = rest[start + 2..start + 2 + len].trim();
        out.push_str(&rest[..start]);
        match name {
            MESSAGE => out.push_str(&escape(message)),
            CONTEXT_ID => out.push_str(&escape(context_id)),
            _ => out.push_str(&rest[start..start + 2 + len + 2]),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    match serde_json::from_str::<Value>(&out) {
        Ok(_) => Ok(out),
        Err(err) => Err(format!(
            "the request template is not valid JSON once filled in ({err}); \
             placeholders go inside JSON strings, as in {{\"input\": \"{{{{message}}}}\"}}"
        )),
    }
}

/// `text` as the inside of a JSON string literal.
fn escape(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The value at `pointer`: a string as is, anything else as JSON.
fn reply_text(reply: &Value, pointer: &str) -> Result<String, String> {
    match reply.pointer(pointer) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!(
            "the reply has nothing at {:?}: {}",
            one_line(pointer, 80),
            one_line(&reply.to_string(), SNIPPET_CHARS)
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn fills_placeholders_escaped() {
        let body = render_template(
            r#"{"input": "{{message}}", "session": "{{ context_id }}", "keep": "{{other}}"}"#,
            "say \"hi\"\n\\ now",
            "c-1",
        )
        .unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["input"], "say \"hi\"\n\\ now");
        assert_eq!(value["session"], "c-1");
        assert_eq!(value["keep"], "{{other}}");
    }

    #[test]
    fn placeholder_outside_a_string_is_a_clear_error() {
        let err = render_template(r#"{"input": {{message}}}"#, "hi", "c").unwrap_err();
        assert!(err.contains("placeholders go inside JSON strings"), "{err}");
    }

    #[test]
    fn reply_pointer() {
        let reply = json!({"output": {"text": "hello", "n": 3}});
        assert_eq!(reply_text(&reply, "/output/text").unwrap(), "hello");
        assert_eq!(reply_text(&reply, "/output/n").unwrap(), "3");
        assert_eq!(reply_text(&reply, "/output").unwrap(), r#"{"n":3,"text":"hello"}"#);
        assert!(reply_text(&reply, "/missing").unwrap_err().contains("nothing at"));
    }

    proptest! {
        #[test]
        fn any_message_round_trips(message in any::<String>(), context in "[a-z0-9-]{0,12}") {
            let body = render_template(
                r#"{"m": "{{message}}", "c": "{{context_id}}", "both": "{{message}}|{{context_id}}"}"#,
                &message,
                &context,
            )
            .unwrap();
            let value: Value = serde_json::from_str(&body).unwrap();
            prop_assert_eq!(value["m"].as_str().unwrap(), message.as_str());
            prop_assert_eq!(value["c"].as_str().unwrap(), context.as_str());
            prop_assert_eq!(value["both"].as_str().unwrap(), format!("{message}|{context}"));
        }
    }
}
