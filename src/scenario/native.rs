//! rogue-runner's own scenario format (YAML or JSON), described by a published JSON Schema
//! (`rogue-runner schema`). Rust types are the schema; serde reads them, schemars prints them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::dialect::FileDialect;
use super::expectation::Expectations;
use super::file_context::FileContext;
use super::node::{Node, Pos};
use super::{
    AgentRef, AgentSource, Conversation, DescriptionRole, Dialect, Layout, Limits, Placement,
    Priority, Rubric, Scenario, SourceLocation,
};

/// The file format version this build reads.
pub const NATIVE_VERSION: u32 = 1;

/// A rogue-runner scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(title = "rogue-runner scenario file")]
pub struct NativeFile {
    /// Format version; must be 1.
    pub version: u32,
    /// The agent every scenario in the file talks to, unless a scenario names its own.
    #[serde(default)]
    pub agent: Option<String>,
    /// The agent's URL; otherwise `--agent NAME=URL` or `{--rogue-server}/a2a/{agent}`.
    #[serde(default)]
    pub agent_url: Option<String>,
    /// What the agent is for, given to the LLM judge.
    #[serde(default)]
    pub business_context: Option<String>,
    /// Judge model for every scenario in the file.
    #[serde(default)]
    pub judge_model: Option<String>,
    pub scenarios: Vec<NativeScenario>,
}

/// File header as read (scenarios are read one by one so every scenario's problems show).
#[derive(Debug, Deserialize)]
struct NativeHeader {
    version: u32,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    agent_url: Option<String>,
    #[serde(default)]
    business_context: Option<String>,
    #[serde(default)]
    judge_model: Option<String>,
    #[serde(default)]
    scenarios: Vec<serde::de::IgnoredAny>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// One scenario.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NativeScenario {
    /// Unique across the run: `[A-Za-z0-9_.:-]+` recommended.
    pub id: String,
    /// P0 (critical, runs first, drives fail-fast), P1 or P2.
    pub priority: Priority,
    #[serde(default = "default_category")]
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A short human title.
    #[serde(default)]
    pub title: Option<String>,
    /// What the scenario tests; defaults to the first message.
    #[serde(default)]
    pub description: Option<String>,
    /// The agent, overriding the file's.
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub agent_url: Option<String>,
    /// One user message. Use `messages` for a scripted multi-turn conversation, or `goal` for
    /// an LLM-driven one.
    #[serde(default)]
    pub message: Option<String>,
    /// User messages sent in order within one conversation.
    #[serde(default)]
    pub messages: Vec<String>,
    /// LLM-driven conversation: the user's goal (needs a driver model).
    #[serde(default)]
    pub goal: Option<String>,
    /// Turns for an LLM-driven conversation (1–100, default 10).
    #[serde(default)]
    pub max_turns: Option<u32>,
    /// Structured input kept with the scenario and shown to the judge.
    #[serde(default)]
    pub input: Option<Value>,
    /// Deterministic checks on the reply.
    #[serde(default)]
    pub expect: NativeExpect,
    /// Statements an LLM judge checks the transcript against.
    #[serde(default)]
    pub rubric: Vec<String>,
    /// Judge model for this scenario.
    #[serde(default)]
    pub judge_model: Option<String>,
    #[serde(default)]
    pub cost_estimate_usd: Option<f64>,
    /// Free-form data kept with the results.
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: BTreeMap<String, Value>,
}

/// Deterministic checks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeExpect {
    /// Words the reply must contain (case-insensitive).
    #[serde(default)]
    pub contains: Vec<String>,
    /// Words the reply must not contain (case-insensitive).
    #[serde(default)]
    pub not_contains: Vec<String>,
    /// Regular expressions the reply must match.
    #[serde(default)]
    pub regex: Vec<String>,
    #[serde(default)]
    pub min_length: Option<u64>,
    #[serde(default)]
    pub max_length: Option<u64>,
    /// Wall-clock limit for the whole conversation.
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Token limit, checked when the agent reports usage.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Checks on fields of a JSON reply: `status: success`, `score: ">0.8"`, `took: "<2s"`,
    /// `items: [a, b]` (includes all), `summary: provided` (present and not empty).
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

fn default_category() -> String {
    "general".to_owned()
}

/// The JSON Schema of the native format, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(NativeFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// The [`FileDialect`] of native files: a mapping with `version` and `scenarios`.
#[derive(Debug)]
pub(crate) struct Native;

impl FileDialect for Native {
    fn detect(&self, root: &Node) -> bool {
        root.get("version").is_some() && root.get("scenarios").is_some()
    }

    fn normalize(&self, ctx: &mut FileContext<'_>, root: &Node) -> (Option<Layout>, Vec<Scenario>) {
        (Some(Layout::new(Dialect::Native, Placement::TopLevel)), normalize(ctx, root))
    }
}

/// Normalize a native file.
pub(crate) fn normalize(ctx: &mut FileContext<'_>, root: &Node) -> Vec<Scenario> {
    let header: NativeHeader = match read(ctx, root, root.to_json()) {
        Some(h) => h,
        None => return Vec::new(),
    };
    if header.version != NATIVE_VERSION {
        let pos = root.get("version").map_or(root.pos, |n| n.pos);
        ctx.error(pos, format!("unsupported format version {}", header.version))
            .hint("native-version", format!("this rogue-runner reads `version: {NATIVE_VERSION}`"));
        return Vec::new();
    }
    let _ = header.scenarios.len();
    for key in header.extra.keys() {
        let pos = super::fields::key_pos(root, key);
        ctx.warning(pos, format!("unknown key `{key}` in the file header is ignored")).hint(
            "native-unknown-header-key",
            "known keys: version, agent, agent_url, business_context, judge_model, scenarios",
        );
    }
    // The header read above already refuses a `scenarios` that is not a list (with its own
    // hint); this only keeps the two from disagreeing.
    let Some(items) = root.get("scenarios").and_then(Node::as_seq) else {
        let pos = root.get("scenarios").map_or(root.pos, |n| n.pos);
        ctx.error(pos, "`scenarios` must be a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(s) = scenario(ctx, &header, item, index) {
            out.push(s);
        }
    }
    out
}

fn scenario(
    ctx: &mut FileContext<'_>,
    header: &NativeHeader,
    item: &Node,
    index: usize,
) -> Option<Scenario> {
    let errors_before = ctx.error_count();
    let native: NativeScenario = read(ctx, item, item.to_json())?;
    let mut metadata = native.metadata;
    for (key, value) in native.extra {
        ctx.warning(
            super::fields::key_pos(item, &key),
            format!("unknown key `{key}` is kept as metadata"),
        )
        .hint("native-unknown-key", "put free-form data under `metadata:`");
        metadata.insert(key, value);
    }
    if native.id.trim().is_empty() {
        ctx.error(super::fields::key_pos(item, "id"), "`id` is empty")
            .hint("native-empty-id", "give the scenario a unique id");
    }
    let conversation = match (native.message, native.messages.is_empty(), native.goal) {
        (Some(message), true, None) => Conversation::Scripted { messages: vec![message] },
        (None, false, None) => Conversation::Scripted { messages: native.messages },
        (None, true, Some(goal)) => {
            let max_turns = native.max_turns.unwrap_or(10);
            if !(1..=100).contains(&max_turns) {
                ctx.error(
                    super::fields::key_pos(item, "max_turns"),
                    "`max_turns` must be from 1 to 100",
                );
            }
            Conversation::Driven { goal, max_turns }
        }
        (None, true, None) => {
            ctx.error(item.pos, "the scenario says nothing to the agent")
                .hint("native-no-message", "add `message:`, `messages:` or `goal:`");
            return None;
        }
        _ => {
            ctx.error(item.pos, "use only one of `message`, `messages` and `goal`");
            return None;
        }
    };
    let expect_node = item.get("expect");
    let mut expectations = expect_node
        .and_then(|e| e.get("fields"))
        .map(|fields| Expectations::from_expected_output(ctx, fields))
        .unwrap_or_default();
    let expect_pos = |key: &str| expect_node.map_or(item.pos, |e| super::fields::key_pos(e, key));
    let assertion = |key: &str, raw: &str, kind| super::Assertion {
        key: format!("expect.{key}"),
        raw: raw.to_owned(),
        kind,
    };
    for needle in dedup(native.expect.contains) {
        let kind = super::AssertionKind::Contains { needle: needle.clone() };
        expectations.assertions.push(assertion("contains", &needle, kind));
    }
    for needle in dedup(native.expect.not_contains) {
        let kind = super::AssertionKind::NotContains { needle: needle.clone() };
        expectations.assertions.push(assertion("not_contains", &needle, kind));
    }
    for pattern in native.expect.regex {
        if let Err(e) = regex::Regex::new(&pattern) {
            let detail = e.to_string();
            let detail = detail.lines().last().unwrap_or_default().trim().to_owned();
            ctx.error(
                expect_pos("regex"),
                format!("invalid regular expression `{pattern}`: {detail}"),
            )
            .hint(
                "native-invalid-regex",
                "fix the pattern; see https://docs.rs/regex for the syntax",
            );
            continue;
        }
        let kind = super::AssertionKind::Regex { pattern: pattern.clone() };
        expectations.assertions.push(assertion("regex", &pattern, kind));
    }
    let mut limits = Limits {
        max_latency_ms: native.expect.max_latency_ms,
        max_tokens: native.expect.max_tokens,
    };
    for (key, chars) in
        [("min_length", native.expect.min_length), ("max_length", native.expect.max_length)]
    {
        if let Some(chars) = chars {
            let kind = if key == "min_length" {
                super::AssertionKind::MinLength { chars }
            } else {
                super::AssertionKind::MaxLength { chars }
            };
            expectations.assertions.push(super::Assertion {
                key: format!("expect.{key}"),
                raw: chars.to_string(),
                kind,
            });
        }
    }
    if let Some(ms) = limits.max_latency_ms {
        expectations.add_latency_limit("expect.max_latency_ms", ms.to_string(), ms);
    }
    if let Some(max) = limits.max_tokens {
        expectations.add_token_limit("expect.max_tokens", max.to_string(), max);
    }
    limits.max_latency_ms = native.expect.max_latency_ms;

    let (agent_name, agent_url, resolved_from) = match (native.agent, &header.agent) {
        (Some(name), _) => (name, native.agent_url, AgentSource::Scenario),
        (None, Some(name)) => (
            name.clone(),
            native.agent_url.or_else(|| header.agent_url.clone()),
            AgentSource::FileHeader,
        ),
        (None, None) => (
            String::new(),
            native.agent_url.or_else(|| header.agent_url.clone()),
            AgentSource::Default,
        ),
    };
    if ctx.error_count() > errors_before {
        return None;
    }
    let mut rubric_expectations = expectations.rubric;
    rubric_expectations.extend(native.rubric);
    Some(Scenario {
        description: native.description.unwrap_or_else(|| conversation.first_message().to_owned()),
        description_is: DescriptionRole::Context,
        id: native.id,
        priority: native.priority,
        category: native.category,
        tags: dedup(native.tags),
        title: native.title,
        agent: AgentRef { name: agent_name, url: agent_url, resolved_from },
        conversation,
        payload: native.input.unwrap_or(Value::Null),
        assertions: expectations.assertions,
        rubric: Rubric {
            model: native.judge_model.or_else(|| header.judge_model.clone()),
            expectations: rubric_expectations,
            business_context: header.business_context.clone(),
            ..Rubric::default()
        },
        limits,
        cost_estimate_usd: native.cost_estimate_usd,
        source: SourceLocation {
            file: ctx.path(),
            line: item.pos.line,
            col: item.pos.col,
            layout: Layout::new(Dialect::Native, Placement::TopLevel),
            index,
        },
        metadata,
    })
}

fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// Deserialize with the failing path mapped back to a source position.
fn read<T: serde::de::DeserializeOwned>(
    ctx: &mut FileContext<'_>,
    node: &Node,
    value: Value,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let pos = locate(node, &path);
            let inner = e.into_inner().to_string();
            let at = if path == "." { String::new() } else { format!(" at `{path}`") };
            let recorded = ctx.error(pos, format!("{inner}{at}"));
            if inner.contains("unknown variant") && inner.contains("P0") {
                recorded.hint("native-priority", "priorities are P0, P1 or P2, upper case");
            } else if inner.contains("missing field") {
                recorded.hint(
                    "native-missing-field",
                    "add the field; `rogue-runner schema` prints the format",
                );
            } else {
                recorded.hint("native-wrong-type", "`rogue-runner schema` prints the format");
            }
            None
        }
    }
}

/// The node at a serde path like `expect.fields.score` or `tags[2]`.
fn locate(root: &Node, path: &str) -> Pos {
    let mut node = root;
    for segment in path.split('.').filter(|s| !s.is_empty() && *s != "?") {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            match node.get(key) {
                Some(next) => node = next,
                None => return node.pos,
            }
        }
        for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            match index.parse::<usize>().ok().and_then(|i| node.as_seq()?.get(i)) {
                Some(next) => node = next,
                None => return node.pos,
            }
        }
    }
    node.pos
}
