//! What happened to one scenario.

use serde::{Deserialize, Serialize};

use crate::scenario::Priority;

/// The outcome statuses of design §4.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    /// An assertion or the judge said no: a quality verdict.
    Failed,
    /// Infrastructure: unreachable, timeout, protocol or judge failure after retries.
    Error,
    /// Ran, nothing failed, but some of what the scenario expects could not be checked (no
    /// judge for its rubric, a JSON-field check on a prose reply, only timing or usage
    /// checked): not a pass. The first reason says what was missing.
    Unassessed,
    /// Deliberately not run: filtered at run time, fail-fast, `--max-fail`, budget, interrupt.
    Skipped,
}

impl Status {
    pub const ALL: [Status; 5] =
        [Status::Passed, Status::Failed, Status::Error, Status::Unassessed, Status::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Unassessed => "unassessed",
            Status::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Could not be checked deterministically (for example a field check on a prose reply,
    /// or a rubric item with no judge configured).
    NotAssessed,
}

/// The result of one deterministic assertion or rubric item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    /// `expected_output` key, `rubric.policy_checks[2]`, …
    pub key: String,
    /// What was expected, in words (`contains "validated"`, `latency < 2000 ms`).
    pub expected: String,
    /// What came back, when there was something to compare (`1834 ms`, `"warning"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    pub verdict: Verdict,
    /// Why, when the verdict is not a plain pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Agent,
}

/// One message of the conversation with the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TranscriptEntry {
    pub role: Role,
    pub text: String,
}

/// Token usage reported by an agent or an LLM.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// Everything known about one scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    pub id: String,
    pub priority: Priority,
    pub category: String,
    pub agent: String,
    /// The URL the run contacted for this scenario (credentials hidden): one agent name can
    /// reach different URLs (a file header's own URL, `--agent`). Absent in documents written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_url: Option<String>,
    /// Where the scenario was written, `file:line:col`.
    pub source: String,
    pub status: Status,
    /// Short reasons, the first one is the headline (`contains "validated": not found`).
    pub reasons: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub transcript: Vec<TranscriptEntry>,
    /// Wall-clock time spent talking to the agent, all turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Wall-clock time from start to verdict, including retries.
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub cached: bool,
    /// What the cache gave this outcome: `outcome` (the whole outcome was reused, the agent was
    /// not called), `judge` (the agent was called and gave the same conversation; only the
    /// judge's verdict was reused). Absent when nothing came from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheKind>,
    /// Wall-clock time the judge took to rule on this run's conversation, for the `-v` line
    /// and the log. Not part of any report or the store: it says how this run went, not what
    /// the scenario's outcome is, and a cached outcome had no judge call.
    #[serde(skip)]
    #[schemars(skip)]
    pub judge_ms: Option<u64>,
    /// HTTP attempts made (1 when nothing was retried).
    pub attempts: u32,
    /// The LLM judge's ruling, when one ruled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeRuling>,
    /// Every LLM call made for this scenario (judge, driver, agent), per role and model, with
    /// its real usage and price. `cost_usd` is their priced sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm: Vec<crate::model::ModelUsage>,
}

/// Which kind of cache hit an outcome was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheKind {
    /// The whole outcome came from an earlier run (the agent's identity was pinned).
    Outcome,
    /// The agent was called; the judge's verdict on the identical conversation was reused.
    Judge,
}

/// What the LLM judge (or a Rogue server) decided about a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JudgeRuling {
    pub passed: bool,
    pub reason: String,
    /// 0 to 1, when the judge gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The model that ruled, as the provider named it.
    pub model: String,
    /// `llm` (our judge) or `rogue` (a Rogue server).
    pub evaluator: String,
    /// The judge prompt's version, so that rulings of different prompts are not compared.
    pub prompt_version: String,
}
