//! The cache key: a blake3 hash of everything that decides a scenario's outcome.
//!
//! The inputs are one `Serialize` struct ([`KeyInput`]) turned into canonical JSON (object keys
//! sorted at every depth, whatever order serde_json keeps) and hashed. Whatever the key leaves
//! out cannot invalidate a cached result, so it leaves out only what cannot change a verdict:
//! where the scenario is written (file, line, layout) and its cost estimate. Bump
//! [`KEY_VERSION`] when the key's shape changes, [`ASSERTION_SEMANTICS_VERSION`] when a
//! deterministic check would judge the same reply differently, and [`JUDGE_PROMPT_VERSION`]
//! when the LLM judge's prompt changes: each makes every earlier entry miss.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::scenario::Scenario;

/// The layout of [`KeyInput`].
pub const KEY_VERSION: u32 = 1;

/// How `judge::check_assertions` reads replies.
pub const ASSERTION_SEMANTICS_VERSION: u32 = 1;

/// The LLM judge's prompt. A placeholder until the judge exists: no rubric is assessed yet.
pub const JUDGE_PROMPT_VERSION: u32 = 0;

/// What a whole run contributes to every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyContext {
    /// How the agent is spoken to: `a2a`, `http-json {template} {pointer}`, `openai {model}`.
    /// Never credentials.
    pub agent_protocol: String,
    /// The configured LLM judge model, if any (a scenario's own `judge.model` is part of the
    /// scenario).
    pub judge_model: Option<String>,
    pub judge_prompt_version: u32,
}

impl Default for KeyContext {
    fn default() -> Self {
        KeyContext {
            agent_protocol: "a2a".to_owned(),
            judge_model: None,
            judge_prompt_version: JUDGE_PROMPT_VERSION,
        }
    }
}

/// A cache key: 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn from_hex_for_tests(hex: &str) -> Self {
        CacheKey(hex.to_owned())
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything hashed into a key.
#[derive(Debug, Serialize)]
struct KeyInput<'a> {
    key_version: u32,
    assertion_semantics_version: u32,
    scenario: Value,
    agent_url: &'a str,
    agent_card: Option<&'a Value>,
    context: &'a KeyContext,
}

/// The key of `scenario` sent to `agent_url`, whose card (if it has one) is `card`.
pub fn cache_key(
    scenario: &Scenario,
    agent_url: &str,
    card: Option<&Value>,
    context: &KeyContext,
) -> CacheKey {
    let input = KeyInput {
        key_version: KEY_VERSION,
        assertion_semantics_version: ASSERTION_SEMANTICS_VERSION,
        scenario: normalized_scenario(scenario),
        agent_url: agent_url.trim_end_matches('/'),
        agent_card: card,
        context,
    };
    CacheKey(digest_hex(&input))
}

/// The scenario as JSON, minus what cannot change its verdict.
fn normalized_scenario(scenario: &Scenario) -> Value {
    let mut value = serde_json::to_value(scenario).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("source");
        map.remove("cost_estimate_usd");
    }
    value
}

/// blake3 of the canonical JSON of `value`, as 64 hex digits.
pub fn digest_hex(value: &impl Serialize) -> String {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut hasher = blake3::Hasher::new();
    write_canonical(&value, &mut hasher);
    hasher.finalize().to_hex().to_string()
}

/// Compact JSON with object keys sorted by their UTF-8 bytes, at every depth.
fn write_canonical(value: &Value, hasher: &mut blake3::Hasher) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            hasher.update(b"{");
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_scalar(&Value::String(key.clone()), hasher);
                hasher.update(b":");
                write_canonical(value, hasher);
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_canonical(item, hasher);
            }
            hasher.update(b"]");
        }
        scalar => write_scalar(scalar, hasher),
    }
}

fn write_scalar(value: &Value, hasher: &mut blake3::Hasher) {
    // A scalar always serializes.
    let text = serde_json::to_string(value).unwrap_or_default();
    hasher.update(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::scenario::{
        AgentRef, AgentSource, Assertion, AssertionKind, Conversation, Layout, Limits, Priority,
        Rubric, SourceLocation,
    };

    fn scenario() -> Scenario {
        Scenario {
            id: "qa_001".to_owned(),
            priority: Priority::P0,
            category: "success".to_owned(),
            tags: vec!["smoke".to_owned()],
            title: None,
            description: "Answers a basic question".to_owned(),
            agent: AgentRef {
                name: "qa_agent".to_owned(),
                url: None,
                resolved_from: AgentSource::FileHeader,
            },
            conversation: Conversation::Scripted { messages: vec!["What is 2+2?".to_owned()] },
            payload: json!({"question": "2+2", "options": {"a": 1, "b": 2}}),
            assertions: vec![Assertion {
                key: "expected_output.answer".to_owned(),
                raw: "contains 4".to_owned(),
                kind: AssertionKind::Contains { needle: "4".to_owned() },
            }],
            rubric: Rubric::default(),
            limits: Limits { max_latency_ms: Some(2000), max_tokens: None },
            cost_estimate_usd: Some(0.0001),
            source: SourceLocation {
                file: PathBuf::from("tests/qa.yaml"),
                line: 12,
                col: 5,
                layout: Layout::GenesisATop,
                index: 0,
            },
            metadata: std::collections::BTreeMap::default(),
        }
    }

    const URL: &str = "http://localhost:8000/a2a/qa_agent";

    fn key(s: &Scenario) -> String {
        cache_key(s, URL, None, &KeyContext::default()).to_string()
    }

    /// The key of a fixed input, pinned: if this changes, every cache on disk goes stale.
    /// Change it only together with KEY_VERSION (or one of the other versions).
    #[test]
    fn a_known_key_is_pinned() {
        let card =
            json!({"name": "qa_agent", "version": "1.0.0", "capabilities": {"streaming": false}});
        let key = cache_key(&scenario(), URL, Some(&card), &KeyContext::default());
        assert_eq!(
            key.as_str(),
            "2b322c85f4549853d6695e892e6ad9d576729fa935d97bd82d47f1979e959c29"
        );
        assert_eq!(key.as_str().len(), 64);
    }

    #[test]
    fn what_decides_an_outcome_changes_the_key() {
        let base = key(&scenario());
        let mut changed = Vec::new();
        let mut s = scenario();
        s.conversation = Conversation::Scripted { messages: vec!["What is 3+3?".to_owned()] };
        changed.push(key(&s));
        let mut s = scenario();
        s.assertions[0].kind = AssertionKind::Contains { needle: "5".to_owned() };
        changed.push(key(&s));
        let mut s = scenario();
        s.rubric.criteria.push("is polite".to_owned());
        changed.push(key(&s));
        let mut s = scenario();
        s.rubric.model = Some("gpt-4o".to_owned());
        changed.push(key(&s));
        let mut s = scenario();
        s.limits.max_latency_ms = Some(1000);
        changed.push(key(&s));
        let mut s = scenario();
        s.payload = json!({"question": "2+3"});
        changed.push(key(&s));
        let s = scenario();
        changed.push(
            cache_key(&s, "http://localhost:9000/a2a/qa_agent", None, &KeyContext::default())
                .to_string(),
        );
        changed.push(
            cache_key(&s, URL, Some(&json!({"version": "1.0.1"})), &KeyContext::default())
                .to_string(),
        );
        let judge = KeyContext { judge_model: Some("gpt-4o".to_owned()), ..KeyContext::default() };
        changed.push(cache_key(&s, URL, None, &judge).to_string());
        let prompt = KeyContext { judge_prompt_version: 7, ..KeyContext::default() };
        changed.push(cache_key(&s, URL, None, &prompt).to_string());
        let protocol =
            KeyContext { agent_protocol: "openai gpt-4o-mini".to_owned(), ..KeyContext::default() };
        changed.push(cache_key(&s, URL, None, &protocol).to_string());
        for (i, k) in changed.iter().enumerate() {
            assert_ne!(*k, base, "change #{i} kept the key");
        }
        let mut unique = changed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), changed.len(), "two different changes gave the same key");
    }

    #[test]
    fn where_a_scenario_is_written_does_not_change_the_key() {
        let base = key(&scenario());
        let mut s = scenario();
        s.source.file = PathBuf::from("moved/qa.yaml");
        s.source.line = 99;
        s.source.index = 3;
        s.cost_estimate_usd = Some(0.5);
        assert_eq!(key(&s), base);
        // A trailing slash on the URL is the same agent.
        let slash = cache_key(&scenario(), &format!("{URL}/"), None, &KeyContext::default());
        assert_eq!(slash.to_string(), base);
    }

    #[test]
    fn map_key_order_does_not_change_the_key() {
        let a: Value =
            serde_json::from_str(r#"{"question": "2+2", "options": {"a": 1, "b": 2}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"options": {"b": 2, "a": 1}, "question": "2+2"}"#).unwrap();
        let mut sa = scenario();
        sa.payload = a;
        let mut sb = scenario();
        sb.payload = b;
        assert_eq!(key(&sa), key(&sb));
        let card_a: Value =
            serde_json::from_str(r#"{"name": "x", "skills": [{"id": 1, "tags": []}]}"#).unwrap();
        let card_b: Value =
            serde_json::from_str(r#"{"skills": [{"tags": [], "id": 1}], "name": "x"}"#).unwrap();
        let ctx = KeyContext::default();
        assert_eq!(
            cache_key(&sa, URL, Some(&card_a), &ctx),
            cache_key(&sa, URL, Some(&card_b), &ctx)
        );
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let value = json!({"b": [{"z": 1, "a": null}], "a": "\u{e9}\"", "c": 1.5});
        let mut expected = blake3::Hasher::new();
        expected.update(br#"{"a":"\u00e9\"","b":[{"a":null,"z":1}],"c":1.5}"#);
        // serde_json writes é as UTF-8, not \u00e9.
        let mut utf8 = blake3::Hasher::new();
        utf8.update("{\"a\":\"\u{e9}\\\"\",\"b\":[{\"a\":null,\"z\":1}],\"c\":1.5}".as_bytes());
        assert_eq!(digest_hex(&value), utf8.finalize().to_hex().to_string());
        assert_ne!(digest_hex(&value), expected.finalize().to_hex().to_string());
    }
}
