//! The scheduler: bounded concurrency, P0 first, fail-fast, `--max-fail`, Ctrl-C.
//!
//! One loop owns all decisions and emits every event, in order; workers only converse with
//! agents and return outcomes (the nextest shape: one linearizing dispatcher).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cache::{ResultCache, lookup_hits};
use super::executor::{ExecContext, execute, nothing_checkable, outcome_without_run};
use super::plan::Plan;
use super::policy::{FailFast, MaxFail};
use super::{AgentPlan, CacheStats, CancelReason, Outcome, RunEvent, RunSummary, Status};
use crate::agent::{AgentClient, AgentEndpoint, AgentKind, Auth, ClientOptions};
use crate::cost::{Assumptions, BudgetGuard, CostBreakdown, Pricing, estimate_scenario};
use crate::judge::Judge;
use crate::scenario::Priority;
use crate::secret::Secret;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Conversations in flight at once.
    pub parallel: usize,
    /// Conversations in flight at once per agent.
    pub per_agent_parallel: Option<usize>,
    /// `Some(threshold)` enables fail-fast on P0.
    pub fail_fast: Option<f64>,
    pub max_fail: Option<usize>,
    pub client: ClientOptions,
    pub agent_kind: AgentKind,
    pub auth: Auth,
    pub headers: Vec<(String, Secret)>,
    /// The LLM judge and driver; `None` leaves rubric items "not assessed".
    pub judge: Option<Judge>,
    /// Prices every LLM call (judge, driver, agents that report usage).
    pub pricing: Arc<Pricing>,
    /// Runs per day assumed by the monthly cost projection.
    pub runs_per_day: u32,
    /// `--max-cost`: no scenario starts whose projected cost, plus what was spent and what is
    /// reserved for the scenarios in flight, could exceed this (USD).
    pub max_cost_usd: Option<f64>,
    /// `--evaluator rogue`: each scenario is delegated to this Rogue server instead.
    pub rogue: Option<crate::judge::rogue_evaluator::RogueEvaluator>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            parallel: 5,
            per_agent_parallel: None,
            fail_fast: Some(0.8),
            max_fail: None,
            client: ClientOptions::default(),
            agent_kind: AgentKind::A2a,
            auth: Auth::None,
            headers: Vec::new(),
            judge: None,
            pricing: Arc::new(Pricing::shipped()),
            runs_per_day: 5,
            max_cost_usd: None,
            rogue: None,
        }
    }
}

/// Runs a plan and reports through `sink`.
#[derive(Debug, Clone)]
pub struct Runner {
    options: RunOptions,
    http: reqwest::Client,
    cache: Option<Arc<dyn ResultCache>>,
}

/// A connection pool sized for a run.
pub fn http_client(parallel: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(parallel.max(8))
        .tcp_nodelay(true)
        .user_agent(concat!("rogue-runner/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

impl Runner {
    pub fn new(options: RunOptions) -> Self {
        let http = http_client(options.parallel);
        Runner { options, http, cache: None }
    }

    /// Report earlier results of unchanged scenarios instead of running them (`--use-cache`).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<dyn ResultCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Run every scenario of `plan`. `cancel` is the user's interrupt (Ctrl-C).
    pub async fn run(
        &self,
        plan: Plan,
        sink: &mut dyn FnMut(&RunEvent),
        cancel: CancellationToken,
    ) -> RunSummary {
        let started = Instant::now();
        let started_at = jiff::Timestamp::now().to_string();
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let total = plan.scenarios.len();
        let per_agent = plan.per_agent();
        sink(&RunEvent::RunStarted {
            run_id: run_id.clone(),
            started_at: started_at.clone(),
            total,
            parallel: self.options.parallel,
            agents: plan
                .agents
                .iter()
                .zip(&per_agent)
                .map(|(a, n)| AgentPlan { name: a.name.clone(), url: a.url.clone(), scenarios: *n })
                .collect(),
        });

        let clients: Vec<AgentClient> = plan
            .agents
            .iter()
            .map(|a| {
                let endpoint = AgentEndpoint {
                    name: a.name.clone(),
                    url: a.url.clone(),
                    kind: self.options.agent_kind.clone(),
                    auth: self.options.auth.clone(),
                    headers: self.options.headers.clone(),
                };
                AgentClient::new(endpoint, self.options.client.clone(), self.http.clone())
            })
            .collect();

        // Each agent is checked once, all at once, before anything is scheduled.
        let mut probes: JoinSet<(usize, Result<Option<serde_json::Value>, String>, u64)> =
            JoinSet::new();
        for (i, client) in clients.iter().enumerate() {
            if per_agent[i] == 0 {
                continue;
            }
            let client = client.clone();
            probes.spawn(async move {
                let t = Instant::now();
                let result = client.probe().await.map(|info| info.card).map_err(|e| e.to_string());
                (i, result, millis(t.elapsed()))
            });
        }
        let mut agent_down: Vec<Option<String>> = vec![None; clients.len()];
        let mut cards: Vec<Option<serde_json::Value>> = vec![None; clients.len()];
        let mut checks = Vec::new();
        tokio::select! {
            () = cancel.cancelled() => {}
            () = async { while let Some(joined) = probes.join_next().await { if let Ok(r) = joined { checks.push(r); } } } => {}
        }
        probes.abort_all();
        checks.sort_by_key(|(i, _, _)| *i);
        for (i, result, elapsed_ms) in checks {
            let (ok, message) = match result {
                Ok(card) => {
                    cards[i] = card;
                    (true, "reachable".to_owned())
                }
                Err(e) => (false, e),
            };
            sink(&RunEvent::AgentChecked {
                agent: plan.agents[i].name.clone(),
                url: plan.agents[i].url.clone(),
                ok,
                message: message.clone(),
                elapsed_ms,
            });
            if !ok {
                agent_down[i] = Some(message);
            }
        }

        // Cache hits finish in plan order without a worker, like the outcomes below that need
        // no conversation; one lookup covers the whole plan.
        let (mut hits, mut cache_stats) = match &self.cache {
            Some(cache) if !cancel.is_cancelled() => {
                let (hits, misses) = lookup_hits(
                    cache.as_ref(),
                    &plan,
                    &agent_down,
                    &cards,
                    self.options.judge.is_some() || self.options.rogue.is_some(),
                );
                (hits, Some(CacheStats { misses, ..CacheStats::default() }))
            }
            _ => (Vec::new(), None),
        };

        let stop = cancel.child_token();
        let mut cancelled: Option<(CancelReason, String)> = None;
        let mut fail_fast = self.options.fail_fast.map(|t| {
            FailFast::new(
                t,
                plan.scenarios.iter().filter(|s| s.scenario.priority == Priority::P0).count(),
            )
        });
        let mut max_fail = self.options.max_fail.map(MaxFail::new);
        let global = Arc::new(Semaphore::new(self.options.parallel.max(1)));
        let agent_limits: Vec<Option<Arc<Semaphore>>> = plan
            .agents
            .iter()
            .map(|_| self.options.per_agent_parallel.map(|n| Arc::new(Semaphore::new(n.max(1)))))
            .collect();
        // Shared with the events: the reporters keep the same outcomes, not copies.
        let mut outcomes: Vec<Option<Arc<Outcome>>> = vec![None; total];
        // Workers hand their permit back with the outcome: the slot frees only once the dispatcher
        // has recorded the result, so fail-fast sees every result before the next start.
        let mut workers: JoinSet<(usize, Option<Outcome>, OwnedSemaphorePermit)> = JoinSet::new();
        let mut next = 0;
        let mut budget = self.options.max_cost_usd.map(BudgetGuard::new);
        // Once the budget refuses a start, nothing new starts; scenarios in flight finish (their
        // cost is reserved, and cancelling them would waste what they already spent).
        let mut budget_exhausted = false;
        let ctx = Arc::new(ExecContext {
            judge: self.options.judge.clone(),
            pricing: Arc::clone(&self.options.pricing),
            rogue: self.options.rogue.clone(),
        });

        let mut finish = |index: usize,
                          outcome: Outcome,
                          outcomes: &mut Vec<Option<Arc<Outcome>>>,
                          cancelled: &mut Option<(CancelReason, String)>,
                          sink: &mut dyn FnMut(&RunEvent)| {
            let (priority, status) = (outcome.priority, outcome.status);
            let outcome = Arc::new(outcome);
            sink(&RunEvent::ScenarioFinished { outcome: Arc::clone(&outcome) });
            outcomes[index] = Some(outcome);
            if cancelled.is_some() {
                return;
            }
            let reason = fail_fast
                .as_mut()
                .and_then(|ff| ff.record(priority, status))
                .map(|m| (CancelReason::FailFast, m))
                .or_else(|| {
                    max_fail
                        .as_mut()
                        .and_then(|mf| mf.record(status))
                        .map(|m| (CancelReason::MaxFail, m))
                });
            if let Some((reason, message)) = reason {
                sink(&RunEvent::RunCancelled { reason, message: message.clone() });
                *cancelled = Some((reason, message));
                stop.cancel();
            }
        };

        loop {
            if cancel.is_cancelled() && cancelled.is_none() {
                let message = "interrupted: no new scenarios were started".to_owned();
                sink(&RunEvent::RunCancelled {
                    reason: CancelReason::Interrupted,
                    message: message.clone(),
                });
                cancelled = Some((CancelReason::Interrupted, message));
            }
            if stop.is_cancelled() {
                break;
            }
            // Scenarios that need no conversation finish in plan order, without a worker.
            while next < total && !budget_exhausted {
                let planned = &plan.scenarios[next];
                let agent = &plan.agents[planned.agent].name;
                let immediate = if let Some(down) = &agent_down[planned.agent] {
                    Some(outcome_without_run(
                        &planned.scenario,
                        agent,
                        Status::Error,
                        format!("agent {agent} is unreachable: {down}"),
                    ))
                } else if let Some(hit) = hits.get_mut(next).and_then(Option::take) {
                    if let Some(stats) = &mut cache_stats {
                        stats.hits += 1;
                        stats.saved_usd += hit.saved_usd;
                    }
                    Some(hit.outcome)
                } else {
                    nothing_checkable(
                        &planned.scenario,
                        self.options.judge.is_some() || self.options.rogue.is_some(),
                    )
                    .map(|why| outcome_without_run(&planned.scenario, agent, Status::Skipped, why))
                };
                let Some(outcome) = immediate else { break };
                finish(next, outcome, &mut outcomes, &mut cancelled, sink);
                next += 1;
                if stop.is_cancelled() {
                    break;
                }
            }
            if stop.is_cancelled() || ((next >= total || budget_exhausted) && workers.is_empty()) {
                break;
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => {}
                // A free slot is filled before the next finished scenario is recorded. A slot
                // frees only once its scenario is recorded (the permit travels with the
                // outcome), so fail-fast, --max-fail and the budget still decide first; but a
                // burst of finished scenarios no longer waits, as a whole, for the reporters
                // (the store's transaction, events.jsonl) before any slot is refilled: at
                // --parallel 500 that wait was ~13 ms a scenario on the critical path.
                Ok(permit) = global.clone().acquire_owned(), if next < total && !budget_exhausted => 'start: {
                    let index = next;
                    if let Some(guard) = budget.as_mut() {
                        let scenario = &plan.scenarios[index].scenario;
                        if let Err(message) = guard.admit(index, &scenario.id, self.projected_pico(scenario)) {
                            sink(&RunEvent::RunCancelled { reason: CancelReason::Budget, message: message.clone() });
                            cancelled = Some((CancelReason::Budget, message));
                            budget_exhausted = true;
                            drop(permit);
                            break 'start;
                        }
                    }
                    next += 1;
                    let planned = &plan.scenarios[index];
                    let scenario = planned.scenario.clone();
                    let client = clients[planned.agent].clone();
                    let agent = plan.agents[planned.agent].name.clone();
                    let limit = agent_limits[planned.agent].clone();
                    let token = stop.clone();
                    let ctx = Arc::clone(&ctx);
                    sink(&RunEvent::ScenarioStarted { id: scenario.id.clone() });
                    workers.spawn(async move {
                        let _agent_permit = match limit {
                            Some(limit) => limit.acquire_owned().await.ok(),
                            None => None,
                        };
                        tokio::select! {
                            () = token.cancelled() => (index, None, permit),
                            outcome = execute(&scenario, &agent, &client, &ctx) => (index, Some(outcome), permit),
                        }
                    });
                },
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    if let Ok((index, Some(outcome), permit)) = joined {
                        settle(budget.as_mut(), index, &outcome);
                        count_judge_hit(cache_stats.as_mut(), &outcome);
                        finish(index, outcome, &mut outcomes, &mut cancelled, sink);
                        drop(permit);
                    }
                }
            }
        }

        // Stopped or done: collect what finished, cancel what did not.
        while let Some(joined) = workers.join_next().await {
            if let Ok((index, Some(outcome), _permit)) = joined {
                settle(budget.as_mut(), index, &outcome);
                count_judge_hit(cache_stats.as_mut(), &outcome);
                finish(index, outcome, &mut outcomes, &mut cancelled, sink);
            }
        }
        let skip_reason = cancelled.as_ref().map_or_else(
            || "not run".to_owned(),
            |(reason, message)| match reason {
                CancelReason::FailFast => format!("not run: fail-fast stopped the run ({message})"),
                CancelReason::MaxFail => format!("not run: {message}"),
                CancelReason::Budget => format!("not run: budget exhausted ({message})"),
                CancelReason::Interrupted => "not run: interrupted".to_owned(),
            },
        );
        for (index, slot) in outcomes.iter_mut().enumerate() {
            if slot.is_none() {
                let planned = &plan.scenarios[index];
                let agent = &plan.agents[planned.agent].name;
                let outcome = Arc::new(outcome_without_run(
                    &planned.scenario,
                    agent,
                    Status::Skipped,
                    skip_reason.clone(),
                ));
                sink(&RunEvent::ScenarioFinished { outcome: Arc::clone(&outcome) });
                *slot = Some(outcome);
            }
        }
        let outcomes: Vec<Arc<Outcome>> = outcomes.into_iter().flatten().collect();
        let mut summary = RunSummary::build(
            run_id,
            started_at,
            jiff::Timestamp::now().to_string(),
            millis(started.elapsed()),
            outcomes.iter().map(AsRef::as_ref),
            cancelled,
        );
        summary.cache = cache_stats;
        if outcomes.iter().any(|o| !o.llm.is_empty()) {
            summary.cost = Some(Box::new(CostBreakdown::of(
                outcomes.iter().map(AsRef::as_ref),
                self.options.runs_per_day,
                &self.options.pricing,
            )));
        }
        // The reporters keep their own copies; this one would only add to the peak while
        // they render the final files.
        drop(outcomes);
        sink(&RunEvent::RunFinished { summary: summary.clone() });
        summary
    }
}

/// Counts an outcome whose judge verdict came from the judge cache.
fn count_judge_hit(stats: Option<&mut CacheStats>, outcome: &Outcome) {
    if let Some(stats) = stats {
        stats.judge_hits += usize::from(outcome.cache == Some(super::CacheKind::Judge));
    }
}

/// Books what a finished scenario really cost against the budget.
fn settle(budget: Option<&mut BudgetGuard>, index: usize, outcome: &Outcome) {
    if let Some(guard) = budget {
        let priced: Vec<u64> = outcome.llm.iter().filter_map(|l| l.cost_pico_usd).collect();
        let complete = priced.len() == outcome.llm.len();
        guard.settle(index, complete.then(|| priced.iter().sum()));
    }
}

impl Runner {
    /// Projected cost of `scenario` with this run's judge, driver and agent, pico-dollars.
    fn projected_pico(&self, scenario: &crate::scenario::Scenario) -> u64 {
        let agent_model = match &self.options.agent_kind {
            AgentKind::OpenAiChat { model } => Some(model.as_str()),
            _ => None,
        };
        estimate_scenario(
            scenario,
            self.options.judge.as_ref().map(Judge::config),
            agent_model,
            &self.options.pricing,
            &Assumptions::default(),
        )
        .pico()
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
