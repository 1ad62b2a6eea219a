//! Typed events the engine emits. Reporters and the store consume the same stream, in order
//! (the nextest way): the engine never formats output itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Outcome, RunSummary};

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The plan is final: `total` scenarios selected, in this order of priorities.
    RunStarted {
        run_id: String,
        /// RFC 3339.
        started_at: String,
        total: usize,
        parallel: usize,
        /// Selected scenarios per agent name, in plan order.
        agents: Vec<AgentPlan>,
        /// The shard of a partitioned run (`--partition hash:K/N`) and the plan it is part of.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<crate::scenario::ShardInfo>,
        /// For a merged run (`merge --allow-incomplete`): the shards of the plan that are not
        /// in it. Non-empty means the results do not cover the whole plan.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missing_shards: Vec<u32>,
    },
    /// An agent was checked once before scheduling. `ok: false` turns all its scenarios into
    /// `error` with this one message.
    AgentChecked { agent: String, url: String, ok: bool, message: String, elapsed_ms: u64 },
    /// A scenario was handed to a worker.
    ScenarioStarted { id: String },
    /// A running scenario pauses for a while (a judge's `Retry-After`, capped), so that a long
    /// silence is explained on the progress line.
    ScenarioWaiting { id: String, message: String },
    /// A scenario has its final outcome.
    // Shared, not copied: every reporter that keeps it holds the same one.
    ScenarioFinished { outcome: Arc<Outcome> },
    /// The run stops scheduling new work (fail-fast, `--max-fail`, budget, Ctrl-C).
    RunCancelled { reason: CancelReason, message: String },
    /// Every scenario has an outcome.
    RunFinished { summary: RunSummary },
}

/// Selected scenarios for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentPlan {
    pub name: String,
    pub url: String,
    pub scenarios: usize,
}

/// Why a run stopped early, in order of precedence.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The P0 pass rate can no longer reach `--p0-threshold`.
    FailFast,
    /// `--max-fail N` failures were reached.
    MaxFail,
    /// `--max-cost` would be exceeded.
    Budget,
    /// Ctrl-C / SIGTERM.
    Interrupted,
}
