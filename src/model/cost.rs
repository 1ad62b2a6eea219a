//! What LLM calls cost, as data: who called which model, with what usage and price, and a
//! run's cost broken down. The pricing tables and the arithmetic that fills these in live in
//! `cost`; reports and the store only read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Usage;
use crate::scenario::Priority;

/// Pico-dollars per USD.
pub const PICO_PER_USD: f64 = 1e12;

/// Pico-dollars as USD.
pub fn usd(pico: u64) -> f64 {
    pico as f64 / PICO_PER_USD
}

/// Who made an LLM call.
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
pub enum LlmRole {
    /// The LLM judge.
    Judge,
    /// The model playing the user in an LLM-driven conversation.
    Driver,
    /// The agent under test (OpenAI-compatible agents that report usage).
    Agent,
}

/// The calls one scenario made to one model in one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelUsage {
    pub role: LlmRole,
    /// The model name as the provider reported it (or as requested, when it reported none).
    pub model: String,
    pub calls: u32,
    pub usage: Usage,
    /// `None` when the model is not in the pricing table: unknown, not free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The same cost, exact, in pico-dollars (1e-12 USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_pico_usd: Option<u64>,
}

impl ModelUsage {
    /// Adds `other` (same role and model) into `self`.
    pub fn absorb(&mut self, other: &ModelUsage) {
        self.calls += other.calls;
        self.usage.add(&other.usage);
        self.cost_pico_usd = match (self.cost_pico_usd, other.cost_pico_usd) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.cost_usd = self.cost_pico_usd.map(usd);
    }
}

/// Totals of one group (a priority, an agent, a model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostGroup {
    pub calls: u64,
    pub usage: Usage,
    pub cost_usd: f64,
    pub cost_pico_usd: u64,
    /// Calls to models the pricing table does not know: their cost is not in `cost_usd`.
    pub unpriced_calls: u64,
}

impl CostGroup {
    /// Adds one usage line to the group.
    pub fn add(&mut self, line: &ModelUsage) {
        self.calls += u64::from(line.calls);
        self.usage.add(&line.usage);
        match line.cost_pico_usd {
            Some(pico) => self.cost_pico_usd += pico,
            None => self.unpriced_calls += u64::from(line.calls),
        }
        self.cost_usd = usd(self.cost_pico_usd);
    }
}

/// The cost of a run, broken down, with a monthly projection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostBreakdown {
    pub total: CostGroup,
    pub by_priority: BTreeMap<Priority, CostGroup>,
    pub by_agent: BTreeMap<String, CostGroup>,
    /// Keyed by `role:model` (`judge:gpt-4o-2024-08-06`).
    pub by_model: BTreeMap<String, CostGroup>,
    /// Models called that have no price: their calls are counted, their cost is unknown.
    /// (Calls that reported no usage are unpriced too, but their model is not listed here.)
    pub unknown_models: Vec<String>,
    /// Runs per day assumed by the projection (`--runs-per-day`).
    pub runs_per_day: u32,
    /// This run's known cost × runs per day × 30 days.
    pub monthly_projection_usd: f64,
    /// Which pricing table priced it.
    pub pricing: String,
}

impl CostBreakdown {
    /// What the run spent, in one phrase shared by every report: `$0.00, no LLM calls`, or
    /// `$0.0123 for 12 LLM calls` (with the calls whose cost is unknown, when any).
    pub fn headline(&self) -> String {
        let t = &self.total;
        if t.calls == 0 {
            return "$0.00, no LLM calls".to_owned();
        }
        let unpriced = if t.unpriced_calls > 0 {
            format!(" ({} unpriced: cost unknown, not counted)", t.unpriced_calls)
        } else {
            String::new()
        };
        format!(
            "${:.4} for {} LLM call{}{unpriced}",
            t.cost_usd,
            t.calls,
            if t.calls == 1 { "" } else { "s" }
        )
    }
}
