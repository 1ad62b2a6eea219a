//! Totals of a run, as reported. The engine builds them (`engine::summarize`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BaselineComparison, CancelReason, CostBreakdown, Status};
use crate::scenario::Priority;

/// Counts per status.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct StatusCounts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub error: usize,
    pub skipped: usize,
    /// Ran, nothing failed, but not everything the scenario expects could be checked.
    #[serde(default)]
    pub unassessed: usize,
}

impl StatusCounts {
    pub fn record(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Error => self.error += 1,
            Status::Skipped => self.skipped += 1,
            Status::Unassessed => self.unassessed += 1,
        }
    }

    /// Passed over everything that got a verdict (passed + failed + error); `None` when
    /// nothing did. Unassessed and skipped scenarios count for neither side.
    pub fn pass_rate(&self) -> Option<f64> {
        let judged = self.passed + self.failed + self.error;
        (judged > 0).then(|| self.passed as f64 / judged as f64)
    }
}

/// The totals a run ends with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub counts: StatusCounts,
    pub by_priority: BTreeMap<Priority, StatusCounts>,
    pub by_agent: BTreeMap<String, StatusCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<CancelReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_message: Option<String>,
    /// Sum of known costs (USD).
    pub cost_usd: f64,
    pub cached: usize,
    /// The process's exit code, decided once before any report is written.
    pub exit_code: i32,
    /// Why the run exits with `exit_code`, in one sentence (`3 scenarios failed`).
    #[serde(default)]
    pub exit_reason: String,
    /// This run compared with `--baseline`, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Box<BaselineComparison>>,
    /// LLM cost per priority, agent and model, with the monthly projection; absent when no
    /// LLM call was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Box<CostBreakdown>>,
    /// The result cache, when the run used one (`--use-cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheStats>,
}

/// What the result cache did for a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CacheStats {
    /// Scenarios reported from the cache instead of run (whole outcomes reused).
    pub hits: usize,
    /// Scenarios whose agent was called and whose judge verdict was reused (counted in
    /// `misses` too: the outcome was not reused).
    #[serde(default)]
    pub judge_hits: usize,
    /// Scenarios looked up and not found (they ran). Scenarios that need no conversation
    /// (nothing checkable, agent down) are not looked up.
    pub misses: usize,
    /// What the hits cost when they ran (USD), so what this run did not spend.
    pub saved_usd: f64,
}

impl CacheStats {
    /// Hits over lookups; `None` when nothing was looked up.
    pub fn hit_rate(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}
