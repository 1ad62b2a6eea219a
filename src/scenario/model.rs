//! The one normalized scenario model every input dialect maps into (design §3).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Assertion, Priority};

/// One test scenario, whatever file format it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub layout: Layout,
    /// Position in the file's scenario list, from 0.
    pub index: usize,
}

/// The shape of the file a scenario came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Genesis dialect A (`policy_checks`), `scenarios` at the top level.
    GenesisATop,
    /// Genesis dialect A, `scenarios` nested in the header mapping.
    GenesisANested,
    /// Genesis dialect B (`judge`, `performance`), `scenarios` at the top level.
    GenesisBTop,
    /// Genesis dialect B, `scenarios` nested in the header mapping.
    GenesisBNested,
    /// Rogue's `{"scenarios": [{"scenario": …}]}`.
    Rogue,
    /// rogue-runner's own format (`version: 1`).
    Native,
    /// A bare top-level list of scenarios.
    Headerless,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::GenesisATop => "genesis-a-top",
            Layout::GenesisANested => "genesis-a-nested",
            Layout::GenesisBTop => "genesis-b-top",
            Layout::GenesisBNested => "genesis-b-nested",
            Layout::Rogue => "rogue",
            Layout::Native => "native",
            Layout::Headerless => "headerless",
        }
    }
}
