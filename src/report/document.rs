//! The `results.json` document: a versioned contract, published as JSON Schema in
//! `schemas/results.schema.json`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Outcome, RunEvent, RunSummary};

/// The version of the `results.json` layout. Bump it on any change that could break a reader
/// (a removed or renamed field, a changed meaning); adding an optional field does not.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// Everything a run produced, in one document: `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "rogue-runner results")]
pub struct ResultsDocument {
    /// Layout version of this document (currently 1).
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// True when the run did not finish (interrupted or crashed) and this document was written
    /// from what had finished so far.
    pub partial: bool,
    /// What was planned before the run started.
    pub plan: PlanInfo,
    /// The totals and the exit code.
    pub run: RunSummary,
    /// Every agent of the plan, with the result of its reachability check.
    pub agents: Vec<AgentReport>,
    /// One outcome per finished scenario, sorted by priority, then id.
    // Shared with the events they came from: a run's reports hold one copy of each outcome.
    pub scenarios: Vec<Arc<Outcome>>,
}

impl ResultsDocument {
    /// The outcomes, in document order.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.scenarios.iter().map(AsRef::as_ref)
    }

    /// Whether `outcome` went to `agent`: same name, and same URL when the outcome recorded
    /// one (one name can be reached at several URLs).
    pub fn went_to(outcome: &Outcome, agent: &AgentReport) -> bool {
        outcome.agent == agent.name && outcome.agent_url.as_ref().is_none_or(|u| *u == agent.url)
    }

    /// The counts of the scenarios that went to `agent` (its name and URL).
    pub fn agent_counts(&self, agent: &AgentReport) -> crate::model::StatusCounts {
        let mut counts = crate::model::StatusCounts::default();
        for outcome in self.outcomes().filter(|o| Self::went_to(o, agent)) {
            counts.record(outcome.status);
        }
        counts
    }

    /// The agent an outcome went to, by name and URL.
    pub fn agent_of(&self, outcome: &Outcome) -> Option<&AgentReport> {
        self.agents.iter().find(|a| Self::went_to(outcome, a))
    }
}

/// The program that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    /// This build of rogue-runner.
    pub fn current() -> Self {
        ToolInfo { name: "rogue-runner".to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// The plan a run started with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanInfo {
    /// Scenarios selected to run.
    pub total: usize,
    /// Maximum scenarios in flight at once.
    pub parallel: usize,
    /// Set when this run is one shard of a partitioned selection (`--partition hash:K/N`):
    /// which shard, of how many, and a digest of the whole selection, so that `merge` can
    /// refuse a missing, duplicated or foreign shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<crate::scenario::ShardInfo>,
    /// For a merged run: the shards of the plan that were not merged (`merge
    /// --allow-incomplete`). Non-empty means these results do NOT cover the whole plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u32>,
}

/// One agent of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentReport {
    pub name: String,
    /// The agent's URL, with any credentials written into it replaced by `***`.
    pub url: String,
    /// Scenarios selected for this agent.
    pub scenarios: usize,
    /// The check made once before scheduling; absent when the agent was never checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<AgentCheck>,
}

/// The result of checking an agent once before scheduling its scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentCheck {
    /// False when the agent could not be reached: all its scenarios are then `error`.
    pub ok: bool,
    pub message: String,
    pub elapsed_ms: u64,
}

/// The JSON Schema of `results.json`.
pub fn results_schema() -> schemars::Schema {
    schemars::schema_for!(ResultsDocument)
}

/// The JSON Schema of one line of `events.jsonl`.
pub fn events_schema() -> schemars::Schema {
    schemars::schema_for!(RunEvent)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The committed schemas must match the types. Regenerate with
    /// `UPDATE_SCHEMAS=1 cargo test --lib schemas_are_up_to_date`.
    #[test]
    fn schemas_are_up_to_date() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v != "0");
        let mut stale = Vec::new();
        for (file, schema) in
            [("results.schema.json", results_schema()), ("events.schema.json", events_schema())]
        {
            let path = dir.join(file);
            let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            if update {
                fs_err::create_dir_all(&dir).unwrap();
                fs_err::write(&path, &generated).unwrap();
                continue;
            }
            let committed = fs_err::read_to_string(&path).unwrap_or_default();
            if committed != generated {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "out-of-date JSON Schema: {stale:?}; run `UPDATE_SCHEMAS=1 cargo test --lib \
             schemas_are_up_to_date` and commit the result"
        );
    }
}
