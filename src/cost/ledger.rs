//! Real usage of every LLM call, summed per scenario, priority, agent and model.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Pricing, usd};
use crate::engine::{Outcome, Usage};
use crate::scenario::Priority;

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
    /// One call's usage, priced with `pricing`. A call that reported no usage has an
    /// unknown cost.
    pub fn priced(role: LlmRole, model: &str, usage: Option<Usage>, pricing: &Pricing) -> Self {
        let pico = usage.and_then(|u| pricing.cost_pico(model, &u));
        ModelUsage {
            role,
            model: model.to_owned(),
            calls: 1,
            usage: usage.unwrap_or_default(),
            cost_usd: pico.map(usd),
            cost_pico_usd: pico,
        }
    }

    /// Adds `other` (same role and model) into `self`.
    fn absorb(&mut self, other: &ModelUsage) {
        self.calls += other.calls;
        self.usage.add(&other.usage);
        self.cost_pico_usd = match (self.cost_pico_usd, other.cost_pico_usd) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.cost_usd = self.cost_pico_usd.map(usd);
    }
}

/// Usage lines of one scenario, merged per (role, model).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostLedger {
    lines: Vec<ModelUsage>,
}

impl CostLedger {
    pub fn record(&mut self, line: ModelUsage) {
        match self.lines.iter_mut().find(|l| l.role == line.role && l.model == line.model) {
            Some(existing) => existing.absorb(&line),
            None => self.lines.push(line),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Exact total of the priced lines, `None` when nothing was priced.
    pub fn total_pico(&self) -> Option<u64> {
        let priced: Vec<u64> = self.lines.iter().filter_map(|l| l.cost_pico_usd).collect();
        (!priced.is_empty()).then(|| priced.iter().sum())
    }

    pub fn into_lines(self) -> Vec<ModelUsage> {
        self.lines
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
    pub(crate) fn add(&mut self, line: &ModelUsage) {
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

    /// Sums the `llm` lines of `outcomes` whose calls were made by this run: an outcome reused
    /// from the cache cost nothing now (what it cost when it ran is the cache's "saved").
    pub fn of<'a>(
        outcomes: impl IntoIterator<Item = &'a Outcome>,
        runs_per_day: u32,
        pricing: &Pricing,
    ) -> Self {
        let mut b = CostBreakdown {
            runs_per_day,
            pricing: pricing.snapshot.clone(),
            ..CostBreakdown::default()
        };
        let mut unknown = BTreeSet::new();
        for outcome in outcomes.into_iter().filter(|o| !o.cached) {
            for line in &outcome.llm {
                b.total.add(line);
                b.by_priority.entry(outcome.priority).or_default().add(line);
                b.by_agent.entry(outcome.agent.clone()).or_default().add(line);
                let role = serde_json::to_value(line.role)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                b.by_model.entry(format!("{role}:{}", line.model)).or_default().add(line);
                if pricing.lookup(&line.model).is_none() {
                    unknown.insert(line.model.clone());
                }
            }
        }
        b.unknown_models = unknown.into_iter().collect();
        b.monthly_projection_usd = monthly(b.total.cost_pico_usd, runs_per_day);
        b
    }
}

/// `per_run` pico-dollars × runs per day × 30 days, in USD.
pub fn monthly(per_run_pico: u64, runs_per_day: u32) -> f64 {
    usd(per_run_pico.saturating_mul(u64::from(runs_per_day)).saturating_mul(30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Status;

    fn outcome(id: &str, priority: Priority, agent: &str, llm: Vec<ModelUsage>) -> Outcome {
        Outcome {
            id: id.into(),
            priority,
            category: "c".into(),
            agent: agent.into(),
            agent_url: None,
            source: "f:1:1".into(),
            status: Status::Passed,
            reasons: vec![],
            checks: vec![],
            transcript: vec![],
            latency_ms: None,
            duration_ms: 0,
            usage: None,
            cost_usd: None,
            cached: false,
            cache: None,
            attempts: 1,
            judge: None,
            llm,
        }
    }

    #[test]
    fn breakdown_by_priority_agent_and_model_with_unknown_models() {
        let p = Pricing::shipped();
        let u = |i, o| Some(Usage { input_tokens: i, cached_input_tokens: 0, output_tokens: o });
        let mut ledger = CostLedger::default();
        ledger.record(ModelUsage::priced(LlmRole::Judge, "gpt-4o", u(1000, 100), &p));
        ledger.record(ModelUsage::priced(LlmRole::Judge, "gpt-4o", u(1000, 100), &p));
        ledger.record(ModelUsage::priced(LlmRole::Driver, "local-llm", u(10, 10), &p));
        // 2 × (1000 · 2.5 + 100 · 10) µ$ = 7000 µ$.
        assert_eq!(ledger.total_pico(), Some(7_000_000_000));
        let a = outcome("a", Priority::P0, "x", ledger.into_lines());
        let b = outcome(
            "b",
            Priority::P2,
            "y",
            vec![ModelUsage::priced(LlmRole::Judge, "gpt-4o", None, &p)],
        );
        let bd = CostBreakdown::of(&[a, b], 5, &p);
        assert_eq!(bd.total.calls, 4);
        assert_eq!(bd.total.cost_pico_usd, 7_000_000_000);
        assert_eq!(bd.total.unpriced_calls, 2);
        assert_eq!(bd.by_priority[&Priority::P0].calls, 3);
        assert_eq!(bd.by_agent["y"].unpriced_calls, 1);
        assert_eq!(bd.by_model["judge:gpt-4o"].calls, 3);
        assert_eq!(bd.unknown_models, ["local-llm"]);
        assert!((bd.monthly_projection_usd - 0.007 * 150.0).abs() < 1e-12);
    }
}
