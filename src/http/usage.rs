//! Token usage as OpenAI-compatible APIs report it, read the same way for the judge, the
//! driver and OpenAI-compatible agents.

use serde_json::Value;

use crate::model::Usage;

/// `usage` of a chat completion: prompt, cached prompt and completion tokens.
pub fn usage(reply: &Value) -> Option<Usage> {
    let usage = reply.get("usage").filter(|u| u.is_object())?;
    let number = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        input_tokens: number("/prompt_tokens"),
        cached_input_tokens: number("/prompt_tokens_details/cached_tokens"),
        output_tokens: number("/completion_tokens"),
    })
}
