//! Projected cost of scenarios before they run (`estimate`, and `--max-cost` reservations).
//!
//! Deliberately pessimistic: LLM-driven conversations are assumed to use every turn, no
//! result comes from a cache, and replies are assumed long. Token counts come from text
//! length at 4 characters per token.

use std::collections::BTreeMap;

use crate::cost::Pricing;
use crate::judge::JudgeConfig;
use crate::judge::llm::{model_for, wire_model};
use crate::model::Usage;
use crate::model::{CostGroup, LlmRole, ModelUsage, usd};
use crate::scenario::{Conversation, Priority, Scenario};

/// The token assumptions of an estimate, printed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assumptions {
    /// Characters per token for text we have.
    pub chars_per_token: u64,
    /// Fixed instructions of the judge prompt.
    pub judge_instructions: u64,
    pub judge_output: u64,
    /// Fixed instructions of the driver prompt.
    pub driver_instructions: u64,
    pub driver_output: u64,
    /// One user message of an LLM-driven conversation.
    pub driven_message: u64,
    /// One agent reply.
    pub agent_reply: u64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            chars_per_token: 4,
            judge_instructions: 300,
            judge_output: 120,
            driver_instructions: 250,
            driver_output: 60,
            driven_message: 40,
            agent_reply: 250,
        }
    }
}

/// The projected calls of one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScenarioEstimate {
    pub lines: Vec<ModelUsage>,
}

impl ScenarioEstimate {
    /// Projected cost of the priced calls, pico-dollars.
    pub fn pico(&self) -> u64 {
        self.lines.iter().filter_map(|l| l.cost_pico_usd).sum()
    }

    pub fn unpriced_models(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter(|l| l.cost_pico_usd.is_none()).map(|l| l.model.as_str())
    }
}

/// What one scenario would cost: driver turns, the judge call, and an OpenAI-compatible
/// agent's own tokens (`agent_model`), at `pricing`.
pub fn estimate_scenario(
    scenario: &Scenario,
    judge: Option<&JudgeConfig>,
    agent_model: Option<&str>,
    pricing: &Pricing,
    a: &Assumptions,
) -> ScenarioEstimate {
    let tokens = |text: &str| (text.len() as u64).div_ceil(a.chars_per_token);
    let mut out = ScenarioEstimate::default();
    let mut push = |role: LlmRole, model: &str, calls: u32, usage: Usage| {
        if calls == 0 {
            return;
        }
        let pico = pricing.cost_pico(model, &usage);
        out.lines.push(ModelUsage {
            role,
            model: model.to_owned(),
            calls,
            usage,
            cost_usd: pico.map(usd),
            cost_pico_usd: pico,
        });
    };
    // The user side of the transcript, and how many agent replies.
    let (user_tokens, turns, driven) = match &scenario.conversation {
        Conversation::Scripted { messages } => {
            (messages.iter().map(|m| tokens(m)).sum::<u64>(), messages.len() as u64, false)
        }
        Conversation::Driven { max_turns, .. } => {
            let turns = u64::from((*max_turns).max(1));
            (turns * a.driven_message, turns, judge.is_some())
        }
    };
    let transcript = user_tokens + turns * a.agent_reply;
    let r = &scenario.rubric;
    let scenario_text = tokens(&scenario.description)
        + r.policy_checks
            .iter()
            .chain(&r.success_criteria)
            .chain(&r.criteria)
            .chain(&r.expectations)
            .map(|t| tokens(t) + 2)
            .sum::<u64>()
        + r.expected_outcome.as_deref().map_or(0, tokens)
        + r.business_context.as_deref().map_or(0, tokens)
        + 40;
    if let Some(config) = judge {
        let judge_model = wire_model(&config.endpoint.base_url, &model_for(config, scenario));
        if driven {
            let driver_model = config
                .driver_model
                .as_deref()
                .map_or_else(|| judge_model.clone(), |m| wire_model(&config.endpoint.base_url, m));
            // Turn k sees the k−1 exchanges before it.
            let per_exchange = a.driven_message + a.agent_reply;
            let history: u64 = (0..turns).map(|k| k * per_exchange).sum();
            let base = a.driver_instructions
                + r.expected_outcome.as_deref().map_or(0, tokens)
                + r.business_context.as_deref().map_or(0, tokens)
                + tokens(&scenario.description);
            push(
                LlmRole::Driver,
                &driver_model,
                turns as u32,
                Usage {
                    input_tokens: turns * base + history,
                    cached_input_tokens: 0,
                    output_tokens: turns * a.driver_output,
                },
            );
        }
        if scenario.needs_judge() {
            push(
                LlmRole::Judge,
                &judge_model,
                1,
                Usage {
                    input_tokens: a.judge_instructions + scenario_text + transcript,
                    cached_input_tokens: 0,
                    output_tokens: a.judge_output,
                },
            );
        }
    }
    if let Some(model) = agent_model {
        // A chat agent is sent the whole history every turn.
        let history: u64 =
            (1..=turns).map(|k| k * (user_tokens / turns.max(1)) + (k - 1) * a.agent_reply).sum();
        push(
            LlmRole::Agent,
            model,
            turns as u32,
            Usage {
                input_tokens: history,
                cached_input_tokens: 0,
                output_tokens: turns * a.agent_reply,
            },
        );
    }
    out
}

/// An estimate of a whole selection, by priority and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectionEstimate {
    pub scenarios: usize,
    pub total: CostGroup,
    pub by_priority: BTreeMap<Priority, (usize, CostGroup)>,
    pub by_model: BTreeMap<String, CostGroup>,
    pub unknown_models: Vec<String>,
}

impl SelectionEstimate {
    pub fn add(&mut self, priority: Priority, estimate: &ScenarioEstimate) {
        self.scenarios += 1;
        let entry = self.by_priority.entry(priority).or_default();
        entry.0 += 1;
        for line in &estimate.lines {
            self.total.add(line);
            entry.1.add(line);
            let role = match line.role {
                LlmRole::Judge => "judge",
                LlmRole::Driver => "driver",
                LlmRole::Agent => "agent",
            };
            self.by_model.entry(format!("{role}:{}", line.model)).or_default().add(line);
            if line.cost_pico_usd.is_none() && !self.unknown_models.contains(&line.model) {
                self.unknown_models.push(line.model.clone());
            }
        }
    }
}

/// `--max-cost`: admits a scenario only if what was spent, plus what is reserved for the
/// scenarios in flight, plus its own projection stays within the budget.
#[derive(Debug, Clone)]
pub struct BudgetGuard {
    limit_pico: u64,
    spent_pico: u64,
    reserved: BTreeMap<usize, u64>,
}

impl BudgetGuard {
    pub fn new(limit_usd: f64) -> Self {
        BudgetGuard {
            limit_pico: (limit_usd * crate::model::PICO_PER_USD).floor() as u64,
            spent_pico: 0,
            reserved: BTreeMap::new(),
        }
    }

    /// Reserves `projected` for scenario `index`, or says why it may not start.
    pub fn admit(&mut self, index: usize, id: &str, projected: u64) -> Result<(), String> {
        let reserved: u64 = self.reserved.values().sum();
        let needed = self.spent_pico + reserved + projected;
        if needed > self.limit_pico {
            return Err(format!(
                "starting {id} (projected ${:.4}) could exceed --max-cost ${:.4}: ${:.4} spent, ${:.4} reserved for {} scenario(s) in flight",
                usd(projected),
                usd(self.limit_pico),
                usd(self.spent_pico),
                usd(reserved),
                self.reserved.len()
            ));
        }
        self.reserved.insert(index, projected);
        Ok(())
    }

    /// Scenario `index` finished having cost `actual` (its reservation when unknown).
    pub fn settle(&mut self, index: usize, actual: Option<u64>) {
        let reserved = self.reserved.remove(&index).unwrap_or(0);
        self.spent_pico += actual.unwrap_or(reserved);
    }

    pub fn spent_usd(&self) -> f64 {
        usd(self.spent_pico)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_reserves_for_in_flight_work() {
        let mut b = BudgetGuard::new(1.0);
        let half = 500_000_000_000;
        assert!(b.admit(0, "a", half).is_ok());
        assert!(b.admit(1, "b", half).is_ok());
        // Both in flight: nothing else fits.
        let err = b.admit(2, "c", 1).unwrap_err();
        assert!(err.contains("reserved for 2 scenario(s) in flight"), "{err}");
        // a cost less than projected: room frees up.
        b.settle(0, Some(100_000_000_000));
        assert!(b.admit(2, "c", 400_000_000_000).is_ok());
        // Unknown actual cost counts as the reservation.
        b.settle(1, None);
        assert!((b.spent_usd() - 0.6).abs() < 1e-12);
    }
}
