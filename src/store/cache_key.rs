//! The cache key: a blake3 hash of everything that decides a scenario's outcome.
//!
//! The key is made of named parts ([`KeyParts`]): the scenario's content, its rubric, the
//! agent's URL, protocol, identity and card, the judge model, the prompt and assertion
//! versions. Each part is hashed on its own (canonical JSON: object keys sorted at every
//! depth, whatever order serde_json keeps), and the key is the hash of the parts, so that
//! `cache why` can say which part differs from a stored entry. Whatever the key leaves out
//! cannot invalidate a cached result, so it leaves out only what cannot change a verdict:
//! where the scenario is written (file, line, layout) and its cost estimate.
//!
//! What the key cannot see is the agent's code: a redeploy at the same URL with the same card
//! looks the same. So a whole outcome is reused only when the agent's identity is pinned
//! ([`AgentIdentity`]: `--agent-version`, or the card's `version` with
//! `--trust-card-version`); the store checks that and the TTL, the key only records it.
//!
//! Bump [`KEY_VERSION`] when the key's shape changes, [`ASSERTION_SEMANTICS_VERSION`] when a
//! deterministic check would judge the same reply differently; the judge's and the driver's
//! prompt versions live with their prompts (`judge::llm::JUDGE_PROMPT_VERSION`,
//! `judge::driver::DRIVER_PROMPT_VERSION`). Each makes every earlier entry miss.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::digest_hex;
use crate::scenario::Scenario;

/// The layout of [`KeyParts`].
pub const KEY_VERSION: u32 = 2;

/// How `judge::check_assertions` reads replies.
pub const ASSERTION_SEMANTICS_VERSION: u32 = 1;

/// What a whole run contributes to every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyContext {
    /// How the agent is spoken to: `a2a`, `http-json {template} {pointer}`, `openai {model}`.
    /// Never credentials.
    pub agent_protocol: String,
    /// The configured LLM judge models, if any (a scenario's own `judge.model` is part of its
    /// rubric).
    pub judge_model: Option<String>,
    /// The LLM judge's prompt (`judge::llm::JUDGE_PROMPT_VERSION`).
    pub judge_prompt_version: String,
    /// The prompt of the driver that plays the user (`judge::driver::DRIVER_PROMPT_VERSION`).
    pub driver_prompt_version: String,
}

impl Default for KeyContext {
    fn default() -> Self {
        KeyContext {
            agent_protocol: crate::agent::AgentKind::A2a.cache_identity(),
            judge_model: None,
            judge_prompt_version: crate::judge::llm::JUDGE_PROMPT_VERSION.to_owned(),
            driver_prompt_version: crate::judge::driver::DRIVER_PROMPT_VERSION.to_owned(),
        }
    }
}

/// Who the agent under test is, as far as the cache may trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentIdentity {
    /// `--agent-version` (a deployed commit, an image digest).
    Pinned(String),
    /// The card's `version`, trusted with `--trust-card-version`.
    CardVersion(String),
    /// Nothing says which build answers: a whole outcome is never reused.
    Unpinned,
}

impl AgentIdentity {
    pub fn is_pinned(&self) -> bool {
        !matches!(self, AgentIdentity::Unpinned)
    }
}

impl fmt::Display for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentIdentity::Pinned(v) => write!(f, "--agent-version {v}"),
            AgentIdentity::CardVersion(v) => write!(f, "card version {v}"),
            AgentIdentity::Unpinned => f.write_str("not pinned"),
        }
    }
}

/// How a run pins its agents' identities: `--agent-version [NAME=]VALUE`,
/// `--trust-card-version`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pinning {
    /// `--agent-version VALUE`: every agent.
    pub all: Option<String>,
    /// `--agent-version NAME=VALUE`: agent NAME (wins over `all`).
    pub per_agent: BTreeMap<String, String>,
    /// `--trust-card-version`: an agent with no version given is known by its card's
    /// `version`.
    pub trust_card_version: bool,
}

impl Pinning {
    /// The identity of agent `name`, whose card (if it has one) is `card`.
    pub fn identity(&self, name: &str, card: Option<&Value>) -> AgentIdentity {
        if let Some(v) = self.per_agent.get(name).or(self.all.as_ref()) {
            return AgentIdentity::Pinned(v.clone());
        }
        if self.trust_card_version {
            let version = card.and_then(|c| c.get("version")).and_then(Value::as_str);
            if let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) {
                return AgentIdentity::CardVersion(v.to_owned());
            }
        }
        AgentIdentity::Unpinned
    }

    /// Whether any agent could be pinned.
    pub fn pins_anything(&self) -> bool {
        self.all.is_some() || !self.per_agent.is_empty() || self.trust_card_version
    }
}

/// One named part of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPart {
    /// `scenario content`, `agent identity`, …
    pub name: String,
    /// blake3 of the part's canonical JSON.
    pub digest: String,
    /// The part in words (a short digest for what is long; never credentials).
    pub shown: String,
}

/// Everything a key is made of, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyParts(pub Vec<KeyPart>);

impl KeyParts {
    /// The key: the hash of the parts' names and digests.
    pub fn key(&self) -> CacheKey {
        let mut key = self.bare_key();
        key.parts = serde_json::to_string(self).ok().map(Arc::from);
        key
    }

    /// [`KeyParts::key`] without the parts kept beside it (enough for a lookup).
    pub fn bare_key(&self) -> CacheKey {
        let mut hasher = blake3::Hasher::new();
        for part in &self.0 {
            hasher.update(part.name.as_bytes());
            hasher.update(b"\0");
            hasher.update(part.digest.as_bytes());
            hasher.update(b"\0");
        }
        CacheKey { hex: hasher.finalize().to_hex().to_string(), parts: None }
    }

    pub fn get(&self, name: &str) -> Option<&KeyPart> {
        self.0.iter().find(|p| p.name == name)
    }
}

/// A cache key: 64 lower-case hex digits (with the parts it was made of, when known, which
/// the store keeps beside the entry for `cache why`).
#[derive(Debug, Clone)]
pub struct CacheKey {
    hex: String,
    parts: Option<Arc<str>>,
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.hex == other.hex
    }
}

impl Eq for CacheKey {}

impl std::hash::Hash for CacheKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.hex.hash(state);
    }
}

impl PartialOrd for CacheKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CacheKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.hex.cmp(&other.hex)
    }
}

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.hex
    }

    /// The parts as JSON ([`KeyParts`]), when the key was made from them.
    pub fn parts_json(&self) -> Option<&str> {
        self.parts.as_deref()
    }

    #[cfg(test)]
    pub(crate) fn from_hex_for_tests(hex: &str) -> Self {
        CacheKey { hex: hex.to_owned(), parts: None }
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

/// The names of the parts, in order.
pub mod part {
    pub const KEY_VERSION: &str = "key version";
    pub const SCENARIO: &str = "scenario content";
    pub const RUBRIC: &str = "rubric";
    pub const AGENT_URL: &str = "agent URL";
    pub const AGENT_PROTOCOL: &str = "agent protocol";
    pub const AGENT_IDENTITY: &str = "agent identity";
    pub const AGENT_CARD: &str = "agent card";
    pub const JUDGE_MODEL: &str = "judge model";
    pub const JUDGE_PROMPT: &str = "judge prompt version";
    pub const DRIVER_PROMPT: &str = "driver prompt version";
    pub const ASSERTIONS: &str = "assertion semantics version";
}

/// The parts of a key that depend on the agent and the run, not on the scenario: computed once
/// per agent ([`key_parts_with`]).
#[derive(Debug, Clone)]
pub struct AgentParts(Vec<KeyPart>);

/// The agent's and the run's parts of every key for the agent at `agent_url`, whose card (if
/// it has one) is `card` and whose identity is `identity`.
pub fn agent_parts(
    agent_url: &str,
    card: Option<&Value>,
    identity: &AgentIdentity,
    context: &KeyContext,
) -> AgentParts {
    let url = agent_url.trim_end_matches('/');
    let identity_text = identity.to_string();
    let text = |name: &str, value: &str, shown: String| KeyPart {
        name: name.to_owned(),
        digest: digest_hex(&value),
        shown,
    };
    let card_part = match card {
        Some(card) => json_part(part::AGENT_CARD, card),
        None => KeyPart {
            name: part::AGENT_CARD.to_owned(),
            digest: digest_hex(&Value::Null),
            shown: "none".to_owned(),
        },
    };
    let model = context.judge_model.as_deref().unwrap_or("none");
    AgentParts(vec![
        text(part::KEY_VERSION, &KEY_VERSION.to_string(), KEY_VERSION.to_string()),
        text(part::AGENT_URL, url, crate::redact::redact_url(url)),
        text(part::AGENT_PROTOCOL, &context.agent_protocol, context.agent_protocol.clone()),
        text(part::AGENT_IDENTITY, &identity_text, identity_text.clone()),
        card_part,
        text(part::JUDGE_MODEL, model, model.to_owned()),
        text(
            part::JUDGE_PROMPT,
            &context.judge_prompt_version,
            context.judge_prompt_version.clone(),
        ),
        text(
            part::DRIVER_PROMPT,
            &context.driver_prompt_version,
            context.driver_prompt_version.clone(),
        ),
        text(
            part::ASSERTIONS,
            &ASSERTION_SEMANTICS_VERSION.to_string(),
            ASSERTION_SEMANTICS_VERSION.to_string(),
        ),
    ])
}

fn json_part(name: &str, value: &Value) -> KeyPart {
    let digest = digest_hex(value);
    KeyPart { name: name.to_owned(), shown: digest[..12].to_owned(), digest }
}

/// The parts of the key of `scenario` with its agent's parts.
pub fn key_parts_with(scenario: &Scenario, agent: &AgentParts) -> KeyParts {
    let mut content = normalized_scenario(scenario);
    let rubric = match &mut content {
        Value::Object(map) => map.remove("rubric").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let mut parts = Vec::with_capacity(agent.0.len() + 2);
    let mut rest = agent.0.iter().cloned();
    parts.extend(rest.next());
    parts.push(json_part(part::SCENARIO, &content));
    parts.push(json_part(part::RUBRIC, &rubric));
    parts.extend(rest);
    KeyParts(parts)
}

/// The parts of the key of `scenario` sent to `agent_url`, whose card (if it has one) is
/// `card` and whose identity is `identity`.
pub fn key_parts(
    scenario: &Scenario,
    agent_url: &str,
    card: Option<&Value>,
    identity: &AgentIdentity,
    context: &KeyContext,
) -> KeyParts {
    key_parts_with(scenario, &agent_parts(agent_url, card, identity, context))
}

/// The key of `scenario` sent to `agent_url`, whose card (if it has one) is `card`.
pub fn cache_key(
    scenario: &Scenario,
    agent_url: &str,
    card: Option<&Value>,
    identity: &AgentIdentity,
    context: &KeyContext,
) -> CacheKey {
    key_parts(scenario, agent_url, card, identity, context).key()
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::scenario::{
        AgentRef, AgentSource, Assertion, AssertionKind, Conversation, DescriptionRole, Dialect,
        Layout, Limits, Placement, Priority, Rubric, SourceLocation,
    };

    fn scenario() -> Scenario {
        Scenario {
            id: "qa_001".to_owned(),
            priority: Priority::P0,
            category: "success".to_owned(),
            tags: vec!["smoke".to_owned()],
            title: None,
            description: "Answers a basic question".to_owned(),
            description_is: DescriptionRole::Context,
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
                layout: Layout::new(Dialect::GenesisA, Placement::TopLevel),
                index: 0,
            },
            metadata: std::collections::BTreeMap::default(),
        }
    }

    const URL: &str = "http://localhost:8000/a2a/qa_agent";

    fn ck(s: &Scenario, url: &str, card: Option<&Value>, ctx: &KeyContext) -> CacheKey {
        cache_key(s, url, card, &AgentIdentity::Pinned("v1".to_owned()), ctx)
    }

    fn key(s: &Scenario) -> String {
        ck(s, URL, None, &KeyContext::default()).to_string()
    }

    /// The key of a fixed input, pinned: if this changes, every cache on disk goes stale.
    /// Change it only together with KEY_VERSION (or one of the other versions).
    #[test]
    fn a_known_key_is_pinned() {
        let card =
            json!({"name": "qa_agent", "version": "1.0.0", "capabilities": {"streaming": false}});
        let key = ck(&scenario(), URL, Some(&card), &KeyContext::default());
        assert_eq!(
            key.as_str(),
            "0bf21abe2be279378abe4620aeb61b2fda4321321cb962903be5f82da8e84436"
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
            ck(&s, "http://localhost:9000/a2a/qa_agent", None, &KeyContext::default()).to_string(),
        );
        changed.push(
            ck(&s, URL, Some(&json!({"version": "1.0.1"})), &KeyContext::default()).to_string(),
        );
        let judge = KeyContext { judge_model: Some("gpt-4o".to_owned()), ..KeyContext::default() };
        changed.push(ck(&s, URL, None, &judge).to_string());
        let prompt =
            KeyContext { judge_prompt_version: "judge-v0".to_owned(), ..KeyContext::default() };
        changed.push(ck(&s, URL, None, &prompt).to_string());
        let driver =
            KeyContext { driver_prompt_version: "driver-v0".to_owned(), ..KeyContext::default() };
        changed.push(ck(&s, URL, None, &driver).to_string());
        for identity in [
            AgentIdentity::Pinned("v2".to_owned()),
            AgentIdentity::CardVersion("v1".to_owned()),
            AgentIdentity::Unpinned,
        ] {
            changed.push(cache_key(&s, URL, None, &identity, &KeyContext::default()).to_string());
        }
        let protocol =
            KeyContext { agent_protocol: "openai gpt-4o-mini".to_owned(), ..KeyContext::default() };
        changed.push(ck(&s, URL, None, &protocol).to_string());
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
        let slash = ck(&scenario(), &format!("{URL}/"), None, &KeyContext::default());
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
        assert_eq!(ck(&sa, URL, Some(&card_a), &ctx), ck(&sa, URL, Some(&card_b), &ctx));
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

#[cfg(test)]
mod identity_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_agent_is_pinned_by_name_then_for_all_then_by_its_card_only_when_trusted() {
        let card = json!({"name": "qa_agent", "version": "1.2.0"});
        let mut pinning = Pinning::default();
        assert_eq!(pinning.identity("qa_agent", Some(&card)), AgentIdentity::Unpinned);
        pinning.trust_card_version = true;
        assert_eq!(
            pinning.identity("qa_agent", Some(&card)),
            AgentIdentity::CardVersion("1.2.0".to_owned())
        );
        // A card without a version pins nothing, even when trusted.
        assert_eq!(pinning.identity("qa_agent", Some(&json!({}))), AgentIdentity::Unpinned);
        pinning.all = Some("abc123".to_owned());
        pinning.per_agent.insert("other".to_owned(), "sha256:ff".to_owned());
        assert_eq!(
            pinning.identity("qa_agent", Some(&card)),
            AgentIdentity::Pinned("abc123".to_owned())
        );
        assert_eq!(
            pinning.identity("other", Some(&card)),
            AgentIdentity::Pinned("sha256:ff".to_owned())
        );
    }

    #[test]
    fn parts_round_trip_through_json_and_give_the_same_key() {
        let parts = KeyParts(vec![KeyPart {
            name: part::AGENT_IDENTITY.to_owned(),
            digest: digest_hex(&"not pinned"),
            shown: "not pinned".to_owned(),
        }]);
        let key = parts.key();
        let back: KeyParts = serde_json::from_str(key.parts_json().unwrap()).unwrap();
        assert_eq!(back, parts);
        assert_eq!(back.key(), key);
    }

    #[test]
    fn each_protocol_says_its_model_and_keeps_the_cache_identity_keys_were_made_with() {
        use crate::agent::AgentKind;
        let http = AgentKind::HttpJson {
            request_template: r#"{"q":"{{message}}"}"#.to_owned(),
            reply_pointer: "/answer".to_owned(),
        };
        let openai = AgentKind::OpenAiChat { model: "gpt-4.1-mini".to_owned() };
        // These texts are hashed into every stored key: changing one makes every cached
        // result of that protocol miss.
        assert_eq!(AgentKind::A2a.cache_identity(), "a2a");
        assert_eq!(http.cache_identity(), r#"http-json {"q":"{{message}}"} /answer"#);
        assert_eq!(openai.cache_identity(), "openai gpt-4.1-mini");
        assert_eq!(KeyContext::default().agent_protocol, "a2a");
        // Only a protocol that names a model has its own tokens priced.
        assert_eq!(AgentKind::A2a.model(), None);
        assert_eq!(http.model(), None);
        assert_eq!(openai.model(), Some("gpt-4.1-mini"));
    }
}
