//! The judge cache: the LLM judge's verdicts by the exact request it was sent.
//!
//! The key is the hash of everything the judge sees and how it is asked: the rendered
//! messages (the transcript, the rubric, the scenario's goal, the prompt's wording), the
//! model, the endpoint (without credentials), the temperature, and the judge's and the
//! driver's prompt versions. The same conversation judged the same way gets the same verdict
//! without a call; a reply that differs by one character is judged afresh. The agent is
//! always called for such a hit: only the judge's work is reused.

use std::fmt;

use serde::Serialize;

use super::llm::ChatMessage;
use crate::model::JudgeRuling;

/// Earlier verdicts, by key. Lookups and writes never fail a run: a cache that cannot answer
/// misses, and a verdict that cannot be stored is judged again next time.
pub trait VerdictCache: Send + Sync + fmt::Debug {
    fn get(&self, key: &str) -> Option<JudgeRuling>;
    fn put(&self, key: &str, scenario_id: &str, ruling: &JudgeRuling, cost_usd: Option<f64>);
}

#[derive(Serialize)]
struct KeyInput<'a> {
    judge_prompt_version: &'a str,
    driver_prompt_version: &'a str,
    model: &'a str,
    wire_model: &'a str,
    endpoint: String,
    temperature: f64,
    messages: Vec<(&'a str, &'a str)>,
}

/// The key of one verdict request.
pub fn verdict_key(
    model: &str,
    wire_model: &str,
    base_url: &str,
    temperature: f64,
    messages: &[ChatMessage],
) -> String {
    crate::digest::digest_hex(&KeyInput {
        judge_prompt_version: super::llm::JUDGE_PROMPT_VERSION,
        driver_prompt_version: super::driver::DRIVER_PROMPT_VERSION,
        model,
        wire_model,
        endpoint: crate::redact::redact_url(base_url.trim_end_matches('/')),
        temperature,
        messages: messages.iter().map(|m| (m.role, m.content.as_str())).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_character_of_the_transcript_or_the_model_changes_the_key() {
        let ask = |reply: &str| {
            vec![ChatMessage::system("judge this"), ChatMessage::user(format!("agent: {reply}"))]
        };
        let base = verdict_key("gpt-4o", "gpt-4o", "https://api.openai.com/v1", 0.0, &ask("a"));
        assert_eq!(
            base,
            verdict_key("gpt-4o", "gpt-4o", "https://api.openai.com/v1/", 0.0, &ask("a"))
        );
        for other in [
            verdict_key("gpt-4o", "gpt-4o", "https://api.openai.com/v1", 0.0, &ask("b")),
            verdict_key("gpt-4o-mini", "gpt-4o-mini", "https://api.openai.com/v1", 0.0, &ask("a")),
            verdict_key("gpt-4o", "gpt-4o", "http://localhost:4000/v1", 0.0, &ask("a")),
            verdict_key("gpt-4o", "gpt-4o", "https://api.openai.com/v1", 0.7, &ask("a")),
        ] {
            assert_ne!(other, base);
        }
    }
}
