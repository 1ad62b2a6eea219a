//! The one normalized scenario model every input dialect maps into (design §3).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Assertion, Priority};

/// One test scenario, whatever file format it came from. Serialized for `list --json` and the
/// cache key; never read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Unique across the whole run. Rogue files have no ids: `<file-stem>#<index>`.
    pub id: String,
    pub priority: Priority,
    pub category: String,
    /// Deduplicated, file order kept.
    pub tags: Vec<String>,
    /// A short human title (`name` in Genesis dialect B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    /// What `description` is to the judges: background, or the policy under test (Rogue).
    /// Not serialized: it was the file's layout until it became a field, and neither
    /// `list --json` nor the cache key held that.
    #[serde(skip)]
    pub description_is: DescriptionRole,
    pub agent: AgentRef,
    pub conversation: Conversation,
    /// The structured input as written (`input` minus what became the message), for agents
    /// that take JSON and for the judge.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub payload: serde_json::Value,
    /// Deterministic checks.
    pub assertions: Vec<Assertion>,
    /// What only an LLM judge can assess.
    pub rubric: Rubric,
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_estimate_usd: Option<f64>,
    pub source: SourceLocation,
    /// Everything else from the file, kept verbatim (header fields, unknown keys, tail sections).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Scenario {
    /// Whether the LLM judge rules on this scenario: it has rubric items, it is an LLM-driven
    /// conversation, or its description is the policy under test.
    pub fn needs_judge(&self) -> bool {
        !self.rubric.is_empty()
            || matches!(self.conversation, Conversation::Driven { .. })
            || self.description_is == DescriptionRole::Policy
    }
}

/// What a scenario's `description` is to the judges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DescriptionRole {
    /// Background: the rubric and the conversation say what is checked, and Rogue's evaluator
    /// is given a scenario text built from the description, the rubric and the messages.
    #[default]
    Context,
    /// The policy under test, as Rogue writes scenarios: a judge rules on the scenario even
    /// when its rubric is empty, and Rogue's evaluator receives the description verbatim.
    Policy,
}

/// Which agent a scenario talks to, and how we decided that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    /// Empty when no agent could be resolved (Rogue files: the CLI names it).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub resolved_from: AgentSource,
}

/// Where an agent name or URL came from, first match wins (design §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSource {
    /// `--agent NAME=URL` on the command line.
    CommandLine,
    /// The scenario names its own agent.
    Scenario,
    /// The file header names the agent.
    FileHeader,
    /// Inferred from the scenario id through the alias table (multi-agent files only).
    IdPrefix,
    /// Nothing named one: the run's default agent is used.
    Default,
}

impl AgentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentSource::CommandLine => "command line",
            AgentSource::Scenario => "scenario",
            AgentSource::FileHeader => "file header",
            AgentSource::IdPrefix => "id prefix",
            AgentSource::Default => "default",
        }
    }
}

/// What the run says to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conversation {
    /// Fixed user messages, sent in order in one conversation (one `contextId`).
    Scripted { messages: Vec<String> },
    /// An LLM plays the user toward `goal` for up to `max_turns` (Rogue's multi-turn).
    /// Needs a driver model; without one the first message is `goal` itself.
    Driven { goal: String, max_turns: u32 },
}

impl Conversation {
    /// The first thing sent to the agent.
    pub fn first_message(&self) -> &str {
        match self {
            Conversation::Scripted { messages } => messages.first().map_or("", String::as_str),
            Conversation::Driven { goal, .. } => goal,
        }
    }
}

/// Judge-only material: the rubric an LLM judge checks the transcript against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rubric {
    /// The scenario's own judge model (`judge.model`, or the file's `judge_llm.model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success_criteria: Vec<String>,
    /// Rogue's `expected_outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_outcome: Option<String>,
    /// Expectations written as prose, or comparators we cannot check mechanically
    /// (`speedup: ">=2x vs sequential"`), as `key: text` lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<String>,
    /// The business context of the agent under test (file header or Rogue file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_context: Option<String>,
    /// A kind of evaluation other than a policy check (Rogue's `scenario_type:
    /// prompt_injection`), with the dataset it names; `None` is a policy check. Kept so that
    /// `--evaluator rogue` sends the scenario as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_type: Option<ScenarioType>,
}

/// Rogue's `scenario_type` other than `policy`, and its `dataset` / `dataset_sample_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioType {
    /// `prompt_injection`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_sample_size: Option<u64>,
}

impl Rubric {
    /// Number of rubric items an LLM judge would have to assess.
    pub fn item_count(&self) -> usize {
        self.criteria.len()
            + self.policy_checks.len()
            + self.success_criteria.len()
            + usize::from(self.expected_outcome.is_some())
            + self.expectations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.item_count() == 0
    }
}

/// Performance limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

/// Where a scenario was written: file, 1-based line and column, and the file's layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub layout: Layout,
    /// Position in the file's scenario list, from 0.
    pub index: usize,
}

/// The shape of the file a scenario came from: which dialect it is written in, and where the
/// file keeps its scenario list. Shown as one label (`genesis-b-nested`, `rogue`, …) in
/// `validate --json` and `list --json`; nothing decides behaviour by it (what a dialect means
/// for a run is normalized into the scenario, e.g. [`Scenario::description_is`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layout {
    pub dialect: Dialect,
    pub placement: Placement,
}

/// The input format a scenario is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// Genesis dialect A (`policy_checks`).
    GenesisA,
    /// Genesis dialect B (`judge`, `performance`).
    GenesisB,
    /// Rogue's `{"scenarios": [{"scenario": …}]}`.
    Rogue,
    /// rogue-runner's own format (`version: 1`).
    Native,
}

/// Where a file keeps its scenario list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// `scenarios:` at the top level.
    TopLevel,
    /// `scenarios:` inside the header mapping (`qa_agent: {scenarios: …}`).
    Nested,
    /// The file is a bare list of scenarios with no header.
    Bare,
}

impl Layout {
    pub const fn new(dialect: Dialect, placement: Placement) -> Self {
        Layout { dialect, placement }
    }

    /// The label shown for the layout. A bare list is `headerless` whatever its items are
    /// written in; Rogue and native files have only one placement, so their label is the
    /// dialect's.
    pub fn as_str(self) -> &'static str {
        match (self.dialect, self.placement) {
            (_, Placement::Bare) => "headerless",
            (Dialect::GenesisA, Placement::TopLevel) => "genesis-a-top",
            (Dialect::GenesisA, Placement::Nested) => "genesis-a-nested",
            (Dialect::GenesisB, Placement::TopLevel) => "genesis-b-top",
            (Dialect::GenesisB, Placement::Nested) => "genesis-b-nested",
            (Dialect::Rogue, _) => "rogue",
            (Dialect::Native, _) => "native",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Layout {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
