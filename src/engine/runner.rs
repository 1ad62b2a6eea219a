//! The scheduler: bounded concurrency, P0 first, fail-fast, `--max-fail`, Ctrl-C.
//!
//! One loop owns all decisions and emits every event, in order; workers only converse with
//! agents and return outcomes (the nextest shape: one linearizing dispatcher).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::FutureExt;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cache::{ResultCache, lookup_hits};
use super::executor::{ExecContext, execute_bounded, nothing_checkable, outcome_without_run};
use super::plan::Plan;
use super::policy::{FailFast, MaxFail};
use super::{AgentPlan, CacheStats, CancelReason, ExitCode, Outcome, RunEvent, RunSummary, Status};
use crate::agent::{AgentClient, AgentEndpoint, AgentKind, Auth, ClientOptions};
use crate::cost::{Assumptions, BudgetGuard, CostBreakdown, Pricing, estimate_scenario};
use crate::judge::Judge;
use crate::redact::Secrets;
use crate::scenario::Priority;
use crate::secret::Secret;

/// `--scenario-timeout` when not given.
const DEFAULT_SCENARIO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

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
    /// `--scenario-timeout`: the longest one scenario may take, everything included.
    pub scenario_timeout: std::time::Duration,
    /// Decides the exit code (and the baseline comparison) before the reports are written.
    pub exit_policy: super::ExitPolicy,
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
            scenario_timeout: DEFAULT_SCENARIO_TIMEOUT,
            exit_policy: super::ExitPolicy::default(),
        }
    }
}

/// What stopped a run from outside: the signal behind the cancellation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C (SIGINT): exit 130.
    Interrupt,
    /// SIGTERM (CI systems, Kubernetes, `timeout`): exit 143.
    Terminate,
    /// SIGHUP (the terminal went away): exit 129.
    Hangup,
}

impl StopSignal {
    /// The exit code of a run this signal stopped.
    pub fn exit_code(self) -> ExitCode {
        match self {
            StopSignal::Interrupt => ExitCode::Interrupted,
            StopSignal::Terminate => ExitCode::Terminated,
            StopSignal::Hangup => ExitCode::HungUp,
        }
    }

    /// How the exit reason names the signal.
    fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "interrupted",
            StopSignal::Terminate => "terminated (SIGTERM)",
            StopSignal::Hangup => "hung up (SIGHUP)",
        }
    }

    fn message(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "interrupted: no new scenarios were started",
            StopSignal::Terminate => "terminated (SIGTERM): no new scenarios were started",
            StopSignal::Hangup => "hung up (SIGHUP): no new scenarios were started",
        }
    }
}

/// Set by whoever cancels the run's token on a signal, before cancelling it: which signal it
/// was (Ctrl-C when unset).
pub type StopSignalCell = Arc<OnceLock<StopSignal>>;

/// Runs a plan and reports through `sink`.
#[derive(Debug, Clone)]
pub struct Runner {
    options: RunOptions,
    http: reqwest::Client,
    cache: Option<Arc<dyn ResultCache>>,
    stop_signal: StopSignalCell,
}

/// A connection pool sized for a run.
pub fn http_client(parallel: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(parallel.max(8))
        .tcp_nodelay(true)
        .user_agent(concat!("rogue-runner/", env!("CARGO_PKG_VERSION")))
        // No redirect is followed blindly: the agent client follows only those that keep the
        // credentials with their origin, the judge none (see `agent::transport`).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl Runner {
    pub fn new(options: RunOptions) -> Self {
        let http = http_client(options.parallel);
        Runner::with_http(options, http)
    }

    /// A runner whose agents share `http`, a pool the caller built once for the whole run
    /// (the judge and a Rogue evaluator use it too), instead of one of its own.
    pub fn with_http(options: RunOptions, http: reqwest::Client) -> Self {
        Runner { options, http, cache: None, stop_signal: StopSignalCell::default() }
    }

    /// Which signal cancelled the token given to [`Runner::run`], for the message and the exit
    /// code (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
    #[must_use]
    pub fn with_stop_signal(mut self, cell: StopSignalCell) -> Self {
        self.stop_signal = cell;
        self
    }

    /// Every secret this run knows, built once: agent credentials (auth, extra headers, a
    /// user part or password in an agent's URL), the judge's and driver's key and headers.
    /// They are scrubbed from every reply, error and outcome before anything is written or
    /// sent to the judge.
    fn secrets(&self, plan: &Plan) -> Secrets {
        let mut values: Vec<String> =
            self.options.headers.iter().map(|(_, v)| v.expose().to_owned()).collect();
        match &self.options.auth {
            Auth::None => {}
            Auth::Bearer(token) => values.push(token.expose().to_owned()),
            Auth::ApiKey { key, .. } => values.push(key.expose().to_owned()),
            Auth::Basic { user, password } => {
                values.extend(Secrets::basic_auth_forms(user, password.expose()));
            }
        }
        if let Some(judge) = &self.options.judge {
            let endpoint = &judge.config().endpoint;
            values.extend(endpoint.api_key.iter().map(|k| k.expose().to_owned()));
            values.extend(endpoint.headers.iter().map(|(_, v)| v.expose().to_owned()));
        }
        if let Some(rogue) = &self.options.rogue {
            values.extend(rogue.judge_api_key.iter().map(|k| k.expose().to_owned()));
            values.extend(Secrets::url_credentials(&rogue.server));
        }
        for agent in &plan.agents {
            values.extend(Secrets::url_credentials(&agent.url));
        }
        Secrets::new(values.iter().map(String::as_str))
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
            partition: plan.partition.clone(),
            missing_shards: Vec::new(),
        });

        let secrets = Arc::new(self.secrets(&plan));
        // One client per URL: agents of several names at one URL share its card and state.
        let mut clients: Vec<AgentClient> = Vec::with_capacity(plan.agents.len());
        for (i, a) in plan.agents.iter().enumerate() {
            if let Some(j) = plan.agents[..i].iter().position(|b| b.url == a.url) {
                clients.push(clients[j].clone());
                continue;
            }
            let endpoint = AgentEndpoint {
                name: a.name.clone(),
                url: a.url.clone(),
                kind: self.options.agent_kind.clone(),
                auth: self.options.auth.clone(),
                headers: self.options.headers.clone(),
            };
            clients.push(AgentClient::new(
                endpoint,
                self.options.client.clone(),
                self.http.clone(),
            ));
        }

        // What is contacted is checked, once, all at once, before anything is scheduled: one
        // probe per URL (protocol and auth are the run's), whatever names reach it. Agents of
        // one name at different URLs (a file header's own URL) are checked apart, so a dead
        // URL errors only its own scenarios.
        let mut probes: JoinSet<(usize, Result<Option<serde_json::Value>, String>, u64)> =
            JoinSet::new();
        let mut probed: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, client) in clients.iter().enumerate() {
            if per_agent[i] == 0 || probed.insert(plan.agents[i].url.as_str(), i).is_some() {
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
        // Every agent whose URL was probed shares that probe's result.
        let mut shared = Vec::new();
        for (i, result, elapsed_ms) in &checks {
            for (j, agent) in plan.agents.iter().enumerate() {
                if j != *i && per_agent[j] > 0 && agent.url == plan.agents[*i].url {
                    shared.push((j, result.clone(), *elapsed_ms));
                }
            }
        }
        checks.extend(shared);
        checks.sort_by_key(|(i, _, _)| *i);
        for (i, result, elapsed_ms) in checks {
            let (ok, message) = match result {
                Ok(card) => {
                    cards[i] = card;
                    (true, "reachable".to_owned())
                }
                Err(e) => (false, secrets.scrub(&e).into_owned()),
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
        // Long waits inside running scenarios (a judge's Retry-After), for the progress line.
        let (waits_tx, mut waits_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let ctx = Arc::new(ExecContext {
            judge: self.options.judge.clone(),
            pricing: Arc::clone(&self.options.pricing),
            rogue: self.options.rogue.clone(),
            secrets: Arc::clone(&secrets),
            scenario_timeout: self.options.scenario_timeout,
            waits: waits_tx,
        });

        // The URL each outcome's agent was reached at, credentials hidden.
        let agent_urls: Vec<String> =
            plan.agents.iter().map(|a| crate::report::redact_userinfo(&a.url)).collect();
        let mut finish = |index: usize,
                          mut outcome: Outcome,
                          outcomes: &mut Vec<Option<Arc<Outcome>>>,
                          cancelled: &mut Option<(CancelReason, String)>,
                          sink: &mut dyn FnMut(&RunEvent)| {
            // Every outcome, run, cached or not run, is scrubbed before any reporter sees it.
            scrub_outcome(&mut outcome, &secrets);
            outcome.agent_url = Some(agent_urls[plan.scenarios[index].agent].clone());
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
                let signal = self.stop_signal.get().copied().unwrap_or(StopSignal::Interrupt);
                let message = signal.message().to_owned();
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
                    .map(|why| {
                        outcome_without_run(&planned.scenario, agent, Status::Unassessed, why)
                    })
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
                        // A panic in a worker is this scenario's error, never a lost result.
                        let work = std::panic::AssertUnwindSafe(async {
                            test_panic(&scenario.id);
                            execute_bounded(&scenario, &agent, &client, &ctx).await
                        })
                        .catch_unwind()
                        .map(|result| {
                            result.unwrap_or_else(|payload| {
                                outcome_without_run(&scenario, &agent, Status::Error, panic_reason(payload.as_ref()))
                            })
                        });
                        tokio::select! {
                            () = token.cancelled() => (index, None, permit),
                            outcome = work => (index, Some(outcome), permit),
                        }
                    });
                },
                Some((id, message)) = waits_rx.recv() => {
                    sink(&RunEvent::ScenarioWaiting { id, message });
                }
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

        test_stall_after_stop(&cancel).await;
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
                let mut outcome = outcome_without_run(
                    &planned.scenario,
                    agent,
                    Status::Skipped,
                    skip_reason.clone(),
                );
                outcome.agent_url =
                    Some(crate::report::redact_userinfo(&plan.agents[planned.agent].url));
                let outcome = Arc::new(outcome);
                sink(&RunEvent::ScenarioFinished { outcome: Arc::clone(&outcome) });
                *slot = Some(outcome);
            }
        }
        let outcomes: Vec<Arc<Outcome>> = outcomes.into_iter().flatten().collect();
        let mut summary = RunSummary::build_with_policy(
            run_id,
            started_at,
            jiff::Timestamp::now().to_string(),
            millis(started.elapsed()),
            outcomes.iter().map(AsRef::as_ref),
            cancelled,
            &self.options.exit_policy,
        );
        if summary.cancelled == Some(CancelReason::Interrupted)
            && let Some(signal) = self.stop_signal.get()
        {
            summary.exit_code = signal.exit_code().code();
            if *signal != StopSignal::Interrupt {
                // The policy says "interrupted"; name the signal, as the exit code does.
                summary.exit_reason = summary.exit_reason.replacen("interrupted", signal.name(), 1);
            }
        }
        summary.cache = cache_stats;
        // Always: a run that made no LLM call cost $0.00, which is worth saying.
        summary.cost = Some(Box::new(CostBreakdown::of(
            outcomes.iter().map(AsRef::as_ref),
            self.options.runs_per_day,
            &self.options.pricing,
        )));
        // The reporters keep their own copies; this one would only add to the peak while
        // they render the final files.
        drop(outcomes);
        sink(&RunEvent::RunFinished { summary: summary.clone() });
        summary
    }
}

/// `outcome` with every known secret replaced, in every text it carries.
fn scrub_outcome(outcome: &mut Outcome, secrets: &Secrets) {
    if secrets.is_empty() {
        return;
    }
    for reason in &mut outcome.reasons {
        secrets.scrub_in_place(reason);
    }
    for entry in &mut outcome.transcript {
        secrets.scrub_in_place(&mut entry.text);
    }
    for check in &mut outcome.checks {
        secrets.scrub_in_place(&mut check.expected);
        for text in check.actual.iter_mut().chain(check.note.iter_mut()) {
            secrets.scrub_in_place(text);
        }
    }
    if let Some(judge) = &mut outcome.judge {
        secrets.scrub_in_place(&mut judge.reason);
    }
}

/// The reason of an outcome whose worker panicked: the panic's message.
fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!(
        "internal error: the worker running this scenario panicked: {message} (a bug in \
         rogue-runner: please report it)"
    )
}

/// Debug builds only: panics the worker of the scenario named by `ROGUE_RUNNER_TEST_PANIC`,
/// so the tests can show that a panic becomes an `error` outcome. A release build has no
/// such hook.
#[cfg(debug_assertions)]
fn test_panic(id: &str) {
    assert!(
        std::env::var_os("ROGUE_RUNNER_TEST_PANIC").is_none_or(|v| v != id),
        "test panic requested by ROGUE_RUNNER_TEST_PANIC for {id}"
    );
}

#[cfg(not(debug_assertions))]
fn test_panic(_id: &str) {}

/// Debug builds only: with `ROGUE_RUNNER_TEST_STALL_AFTER_STOP` set, a run stopped by a signal
/// never finishes, as if a worker ignored cancellation, so the tests can show that a second
/// signal still ends the process at once. A release build has no such hook.
#[cfg(debug_assertions)]
async fn test_stall_after_stop(cancel: &CancellationToken) {
    if cancel.is_cancelled() && std::env::var_os("ROGUE_RUNNER_TEST_STALL_AFTER_STOP").is_some() {
        std::future::pending::<()>().await;
    }
}

#[cfg(not(debug_assertions))]
async fn test_stall_after_stop(_cancel: &CancellationToken) {}

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
        let agent_model = self.options.agent_kind.model();
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
