//! Real usage of every LLM call, summed per scenario, priority, agent and model.

use std::collections::BTreeSet;

use super::Pricing;
use crate::model::{CostBreakdown, LlmRole, ModelUsage, Outcome, Usage, usd};

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

impl Pricing {
    /// One call's usage, priced with `pricing`. A call that reported no usage has an
    /// unknown cost.
    pub fn priced(&self, role: LlmRole, model: &str, usage: Option<Usage>) -> ModelUsage {
        let pico = usage.and_then(|u| self.cost_pico(model, &u));
        ModelUsage {
            role,
            model: model.to_owned(),
            calls: 1,
            usage: usage.unwrap_or_default(),
            cost_usd: pico.map(usd),
            cost_pico_usd: pico,
        }
    }

    /// Sums the `llm` lines of `outcomes` whose calls were made by this run: an outcome reused
    /// from the cache cost nothing now (what it cost when it ran is the cache's "saved").
    pub fn breakdown<'a>(
        &self,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
        runs_per_day: u32,
    ) -> CostBreakdown {
        let mut b = CostBreakdown {
            runs_per_day,
            pricing: self.snapshot.clone(),
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
                if self.lookup(&line.model).is_none() {
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
    use crate::model::Status;
    use crate::scenario::Priority;

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
            judge_ms: None,
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
        ledger.record(p.priced(LlmRole::Judge, "gpt-4o", u(1000, 100)));
        ledger.record(p.priced(LlmRole::Judge, "gpt-4o", u(1000, 100)));
        ledger.record(p.priced(LlmRole::Driver, "local-llm", u(10, 10)));
        // 2 × (1000 · 2.5 + 100 · 10) µ$ = 7000 µ$.
        assert_eq!(ledger.total_pico(), Some(7_000_000_000));
        let a = outcome("a", Priority::P0, "x", ledger.into_lines());
        let b = outcome("b", Priority::P2, "y", vec![p.priced(LlmRole::Judge, "gpt-4o", None)]);
        let bd = p.breakdown(&[a, b], 5);
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
