//! The scheduler: bounded concurrency, P0 first, fail-fast, `--max-fail`, the budget, Ctrl-C.
//!
//! One loop owns all decisions and emits every event, in order; workers only converse with
//! agents and return outcomes (the nextest shape: one linearizing dispatcher).
//!
//! A run is six steps, each a function or method below, and one piece of state, `RunState`,
//! that only the dispatching steps change:
//!
//! 1. **probe** (`check_agents`): every agent URL is checked once, all at once, before
//!    anything is scheduled; an unreachable agent's scenarios error without a conversation.
//! 2. **cache** (`Runner::look_up_cache`): one lookup for the whole plan (`--use-cache`);
//!    hits are reported as outcomes without a worker.
//! 3. **dispatch** (`Runner::dispatch`): in plan order (P0 first), scenarios that need no
//!    conversation finish at once, the others start as slots free, and each result is
//!    recorded before the next start, so fail-fast, `--max-fail` and the budget see it.
//! 4. **drain** (`drain`): once done or stopped, what finished in flight is recorded; what the
//!    stop cancelled is not.
//! 5. **fill skipped** (`RunState::fill_skipped`): everything without an outcome is reported
//!    as not run, with the reason the run stopped.
//! 6. **summarize** (`Runner::summarize`): totals, cost, cache, and the exit code, decided
//!    once by the [`super::ExitPolicy`] (the stop signal is one of its inputs) before the last
//!    event reaches any reporter.
//!
//! The agents' check and the execution of one scenario are behind [`AgentProbe`] and
//! [`ScenarioExecutor`] ([`Backend`]), so that `tests/runner_steps.rs` drives this scheduler
//! in-process with fakes under paused tokio time.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::FutureExt;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cache::{CacheHit, ResultCache, lookup_hits};
use super::executor::{ExecContext, nothing_checkable, outcome_without_run};
use super::plan::Plan;
use super::policy::{FailFast, MaxFail};
use super::seam::{AgentProbe, Backend, LiveAgents, ScenarioExecutor};
use super::{Assumptions, BudgetGuard, ExitPolicy, StopSignal, estimate_scenario};
use crate::agent::{AgentClient, AgentEndpoint, AgentKind, Auth, ClientOptions};
use crate::cost::Pricing;
use crate::judge::Judge;
use crate::model::{AgentPlan, CacheStats, CancelReason, Outcome, RunEvent, RunSummary, Status};
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

impl Runner {
    pub fn new(options: RunOptions) -> Self {
        let http = crate::http::client(options.parallel);
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

    /// Run every scenario of `plan` against the real agents. `cancel` is the user's
    /// interrupt (Ctrl-C, or the signal named by [`Runner::with_stop_signal`]).
    pub async fn run(
        &self,
        plan: Plan,
        sink: &mut dyn FnMut(&RunEvent),
        cancel: CancellationToken,
    ) -> RunSummary {
        let secrets = Arc::new(self.secrets(&plan));
        // Long waits inside running scenarios (a judge's Retry-After), for the progress line.
        let (waits_tx, waits_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let live = Arc::new(LiveAgents {
            clients: self.clients(&plan),
            ctx: Arc::new(ExecContext {
                judge: self.options.judge.clone(),
                pricing: Arc::clone(&self.options.pricing),
                rogue: self.options.rogue.clone(),
                secrets: Arc::clone(&secrets),
                scenario_timeout: self.options.scenario_timeout,
                waits: waits_tx,
            }),
        });
        let backend = Backend {
            probe: Arc::clone(&live) as Arc<dyn AgentProbe>,
            executor: live,
            waits: Some(waits_rx),
        };
        self.drive(plan, sink, cancel, backend, secrets).await
    }

    /// [`Runner::run`] with another outside world: the agents' check and the execution of
    /// each scenario go to `backend`. Everything the runner decides is the same.
    pub async fn run_with(
        &self,
        plan: Plan,
        sink: &mut dyn FnMut(&RunEvent),
        cancel: CancellationToken,
        backend: Backend,
    ) -> RunSummary {
        let secrets = Arc::new(self.secrets(&plan));
        self.drive(plan, sink, cancel, backend, secrets).await
    }

    /// The run, step by step (see the module documentation).
    async fn drive(
        &self,
        plan: Plan,
        sink: &mut dyn FnMut(&RunEvent),
        cancel: CancellationToken,
        backend: Backend,
        secrets: Arc<Secrets>,
    ) -> RunSummary {
        let clock = RunClock::start();
        let plan = Arc::new(plan);
        sink(&self.run_started(&plan, &clock));
        let checks = check_agents(&plan, backend.probe.as_ref(), &cancel, &secrets, sink).await;
        let (hits, cache_stats) = self.look_up_cache(&plan, &checks, &cancel);
        let mut state = RunState {
            fail_fast: self.options.fail_fast.map(|t| {
                FailFast::new(
                    t,
                    plan.scenarios.iter().filter(|s| s.scenario.priority == Priority::P0).count(),
                )
            }),
            max_fail: self.options.max_fail.map(MaxFail::new),
            budget: self.options.max_cost_usd.map(BudgetGuard::new),
            budget_exhausted: false,
            judged: self.judged(),
            outcomes: vec![None; plan.scenarios.len()],
            next: 0,
            cancelled: None,
            signal: None,
            agent_urls: plan.agents.iter().map(|a| crate::redact::redact_url(&a.url)).collect(),
            agent_down: checks.down,
            hits,
            cache_stats,
            stop: cancel.child_token(),
            secrets,
            plan: Arc::clone(&plan),
        };
        let mut workers = Workers {
            set: JoinSet::new(),
            global: Arc::new(Semaphore::new(self.options.parallel.max(1))),
            per_agent: plan
                .agents
                .iter()
                .map(|_| {
                    self.options.per_agent_parallel.map(|n| Arc::new(Semaphore::new(n.max(1))))
                })
                .collect(),
            executor: backend.executor,
        };
        let mut waits = backend.waits;
        self.dispatch(&mut state, &mut workers, &mut waits, &cancel, sink).await;
        test_stall_after_stop(&cancel).await;
        drain(&mut state, &mut workers, sink).await;
        state.fill_skipped(sink);
        let summary = self.summarize(state, &clock);
        sink(&RunEvent::RunFinished { summary: summary.clone() });
        summary
    }

    /// Whether anything judges (our LLM judge or a Rogue server): without, rubric items and
    /// LLM-driven goals cannot be assessed.
    fn judged(&self) -> bool {
        self.options.judge.is_some() || self.options.rogue.is_some()
    }

    /// One client per URL: agents of several names at one URL share its card and state.
    fn clients(&self, plan: &Plan) -> Vec<AgentClient> {
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
        clients
    }

    /// The first event: what is about to run, per agent.
    fn run_started(&self, plan: &Plan, clock: &RunClock) -> RunEvent {
        RunEvent::RunStarted {
            run_id: clock.run_id.clone(),
            started_at: clock.started_at.clone(),
            total: plan.scenarios.len(),
            parallel: self.options.parallel,
            agents: plan
                .agents
                .iter()
                .zip(plan.per_agent())
                .map(|(a, n)| AgentPlan { name: a.name.clone(), url: a.url.clone(), scenarios: n })
                .collect(),
            partition: plan.partition.clone(),
            missing_shards: Vec::new(),
        }
    }

    /// Step 2, the cache: earlier results of unchanged scenarios (`--use-cache`). One lookup
    /// covers the whole plan, made once the agents are checked (a hit depends on the agent's
    /// card) and before anything is scheduled; the hits finish in plan order without a worker.
    fn look_up_cache(
        &self,
        plan: &Plan,
        checks: &AgentChecks,
        cancel: &CancellationToken,
    ) -> (Vec<Option<CacheHit>>, Option<CacheStats>) {
        match &self.cache {
            Some(cache) if !cancel.is_cancelled() => {
                let (hits, misses) =
                    lookup_hits(cache.as_ref(), plan, &checks.down, &checks.cards, self.judged());
                (hits, Some(CacheStats { misses, ..CacheStats::default() }))
            }
            _ => (Vec::new(), None),
        }
    }

    /// Step 3, dispatch: until the plan is done or the run is stopped, finish what needs no
    /// conversation, fill free slots in plan order (P0 first) and record each result as it
    /// comes. One loop owns every decision, so the events are in order and fail-fast,
    /// `--max-fail` and the budget see every result before the next start.
    async fn dispatch(
        &self,
        state: &mut RunState,
        workers: &mut Workers,
        waits: &mut Option<UnboundedReceiver<(String, String)>>,
        cancel: &CancellationToken,
        sink: &mut dyn FnMut(&RunEvent),
    ) {
        loop {
            if cancel.is_cancelled() {
                state.interrupted(self.stop_signal.get().copied(), sink);
            }
            if state.stop.is_cancelled() {
                break;
            }
            state.finish_without_conversation(sink);
            if state.stop.is_cancelled() {
                // Back to the top, which says why: a signal that came while the scenarios
                // above were reported (a long run of cache hits) is an interruption, not a
                // run that merely stopped.
                continue;
            }
            if !state.can_start() && workers.set.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                () = state.stop.cancelled() => {}
                // A free slot is filled before the next finished scenario is recorded. A slot
                // frees only once its scenario is recorded here (the permit travels with the
                // outcome), so fail-fast, --max-fail and the budget still decide first; the
                // sink only queues the event (the reporters, the store's among them, run on a
                // thread of their own), so a burst of finished scenarios never waits for the
                // store or the files before its slots are refilled.
                Ok(permit) = workers.global.clone().acquire_owned(), if state.can_start() => {
                    self.start(state, workers, permit, sink);
                }
                Some((id, message)) = next_wait(waits) => {
                    sink(&RunEvent::ScenarioWaiting { id, message });
                }
                Some(joined) = workers.set.join_next(), if !workers.set.is_empty() => {
                    if let Ok((index, Some(outcome), permit)) = joined {
                        state.settle(index, &outcome);
                        state.record(index, outcome, sink);
                        drop(permit);
                    }
                }
            }
        }
    }

    /// Starts the next planned scenario in the slot `permit` holds, unless the budget refuses
    /// it (then nothing new starts: see `RunState::admit`).
    fn start(
        &self,
        state: &mut RunState,
        workers: &mut Workers,
        permit: OwnedSemaphorePermit,
        sink: &mut dyn FnMut(&RunEvent),
    ) {
        let index = state.next;
        let planned = &state.plan.scenarios[index];
        if state.budget.is_some() {
            let projected = self.projected_pico(&planned.scenario);
            if !state.admit(index, projected, sink) {
                return;
            }
        }
        state.next += 1;
        sink(&RunEvent::ScenarioStarted { id: state.plan.scenarios[index].scenario.id.clone() });
        workers.spawn(Arc::clone(&state.plan), index, state.stop.clone(), permit);
    }

    /// Step 6, summarize: totals, cache and cost, and the exit code, decided once by the
    /// policy (the stop signal included) before the last event reaches any reporter.
    fn summarize(&self, state: RunState, clock: &RunClock) -> RunSummary {
        let outcomes: Vec<Arc<Outcome>> = state.outcomes.into_iter().flatten().collect();
        let policy = ExitPolicy { stop_signal: state.signal, ..self.options.exit_policy.clone() };
        let mut summary = super::summarize_with_policy(
            clock.run_id.clone(),
            clock.started_at.clone(),
            jiff::Timestamp::now().to_string(),
            crate::text::millis(clock.started.elapsed()),
            outcomes.iter().map(AsRef::as_ref),
            state.cancelled,
            &policy,
        );
        summary.cache = state.cache_stats;
        // Always: a run that made no LLM call cost $0.00, which is worth saying.
        summary.cost = Some(Box::new(
            self.options
                .pricing
                .breakdown(outcomes.iter().map(AsRef::as_ref), self.options.runs_per_day),
        ));
        // The reporters keep their own copies; this one would only add to the peak while
        // they render the final files.
        drop(outcomes);
        summary
    }
}

/// When and as what a run started.
struct RunClock {
    started: Instant,
    started_at: String,
    run_id: String,
}

impl RunClock {
    fn start() -> Self {
        RunClock {
            started: Instant::now(),
            started_at: jiff::Timestamp::now().to_string(),
            run_id: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

/// What the agents' check found, one slot per planned agent.
struct AgentChecks {
    /// Why the agent cannot be reached; its scenarios error without a conversation.
    down: Vec<Option<String>>,
    /// Its agent card (A2A), part of the cache key.
    cards: Vec<Option<serde_json::Value>>,
}

/// Step 1, probe: what is contacted is checked, once, all at once, before anything is
/// scheduled: one probe per URL (protocol and auth are the run's), whatever names reach it.
/// Agents of one name at different URLs (a file header's own URL) are checked apart, so a dead
/// URL errors only its own scenarios. Ctrl-C abandons the checks still running.
async fn check_agents(
    plan: &Plan,
    probe: &dyn AgentProbe,
    cancel: &CancellationToken,
    secrets: &Secrets,
    sink: &mut dyn FnMut(&RunEvent),
) -> AgentChecks {
    let per_agent = plan.per_agent();
    let mut probes: JoinSet<(usize, Result<Option<serde_json::Value>, String>, u64)> =
        JoinSet::new();
    let mut probed: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, agent) in plan.agents.iter().enumerate() {
        if per_agent[i] == 0 || probed.insert(agent.url.as_str(), i).is_some() {
            continue;
        }
        let check = probe.probe(i);
        probes.spawn(async move {
            let t = Instant::now();
            let result = check.await;
            (i, result, crate::text::millis(t.elapsed()))
        });
    }
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
    let mut found =
        AgentChecks { down: vec![None; plan.agents.len()], cards: vec![None; plan.agents.len()] };
    for (i, result, elapsed_ms) in checks {
        let (ok, message) = match result {
            Ok(card) => {
                found.cards[i] = card;
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
            found.down[i] = Some(message);
        }
    }
    found
}

/// What the dispatcher has decided so far. It has one owner, the run loop (and, after it, the
/// drain and the fill), which is what keeps the events in order.
struct RunState {
    plan: Arc<Plan>,
    secrets: Arc<Secrets>,
    /// See `Runner::judged`.
    judged: bool,
    /// The URL each agent was reached at, credentials hidden, for its outcomes.
    agent_urls: Vec<String>,
    /// Why each agent is unreachable, if it is.
    agent_down: Vec<Option<String>>,
    /// One slot per planned scenario, filled as it finishes. Shared with the events: the
    /// reporters keep the same outcomes, not copies.
    outcomes: Vec<Option<Arc<Outcome>>>,
    /// The next planned scenario to finish without a conversation or to start.
    next: usize,
    /// Why the run stopped early: the first reason wins.
    cancelled: Option<(CancelReason, String)>,
    /// Which signal interrupted the run, when one did: an input of the exit policy.
    signal: Option<StopSignal>,
    fail_fast: Option<FailFast>,
    max_fail: Option<MaxFail>,
    budget: Option<BudgetGuard>,
    /// Once the budget refuses a start, nothing new starts; scenarios in flight finish (their
    /// cost is reserved, and cancelling them would waste what they already spent).
    budget_exhausted: bool,
    /// Cache hits by planned index, taken as they are reported.
    hits: Vec<Option<CacheHit>>,
    cache_stats: Option<CacheStats>,
    /// Cancelled by fail-fast, `--max-fail` or the user's interrupt (a child of its token):
    /// the scenarios in flight stop, and are reported as not run.
    stop: CancellationToken,
}

impl RunState {
    /// Whether another planned scenario may start.
    fn can_start(&self) -> bool {
        self.next < self.plan.scenarios.len() && !self.budget_exhausted
    }

    /// The user interrupted the run: says so once, unless it was already stopped for another
    /// reason. `signal` is the one that did it (Ctrl-C when unknown).
    fn interrupted(&mut self, signal: Option<StopSignal>, sink: &mut dyn FnMut(&RunEvent)) {
        if self.cancelled.is_some() {
            return;
        }
        let signal = signal.unwrap_or(StopSignal::Interrupt);
        let message = signal.message().to_owned();
        sink(&RunEvent::RunCancelled {
            reason: CancelReason::Interrupted,
            message: message.clone(),
        });
        self.cancelled = Some((CancelReason::Interrupted, message));
        self.signal = Some(signal);
    }

    /// Scenarios that need no conversation (agent down, cache hit, nothing checkable) finish
    /// in plan order, without a worker, up to the next one that must run.
    fn finish_without_conversation(&mut self, sink: &mut dyn FnMut(&RunEvent)) {
        while self.can_start() {
            let Some(outcome) = self.immediate_outcome(self.next) else { break };
            self.record(self.next, outcome, sink);
            self.next += 1;
            if self.stop.is_cancelled() {
                break;
            }
        }
    }

    /// The outcome of planned scenario `index` when it needs no conversation.
    fn immediate_outcome(&mut self, index: usize) -> Option<Outcome> {
        let planned = &self.plan.scenarios[index];
        let agent = &self.plan.agents[planned.agent].name;
        if let Some(down) = &self.agent_down[planned.agent] {
            return Some(outcome_without_run(
                &planned.scenario,
                agent,
                Status::Error,
                format!("agent {agent} is unreachable: {down}"),
            ));
        }
        if let Some(hit) = self.hits.get_mut(index).and_then(Option::take) {
            if let Some(stats) = &mut self.cache_stats {
                stats.hits += 1;
                stats.saved_usd += hit.saved_usd;
            }
            return Some(hit.outcome);
        }
        nothing_checkable(&planned.scenario, self.judged)
            .map(|why| outcome_without_run(&planned.scenario, agent, Status::Unassessed, why))
    }

    /// Reserves the projected cost of scenario `index`, or stops new starts with the budget
    /// as the reason. Returns whether it may start.
    fn admit(&mut self, index: usize, projected: u64, sink: &mut dyn FnMut(&RunEvent)) -> bool {
        let Some(guard) = self.budget.as_mut() else { return true };
        let id = &self.plan.scenarios[index].scenario.id;
        match guard.admit(index, id, projected) {
            Ok(()) => true,
            Err(message) => {
                sink(&RunEvent::RunCancelled {
                    reason: CancelReason::Budget,
                    message: message.clone(),
                });
                self.cancelled = Some((CancelReason::Budget, message));
                self.budget_exhausted = true;
                false
            }
        }
    }

    /// Books what a finished scenario really cost against the budget, and counts a judge
    /// verdict that came from the judge cache.
    fn settle(&mut self, index: usize, outcome: &Outcome) {
        if let Some(guard) = &mut self.budget {
            let priced: Vec<u64> = outcome.llm.iter().filter_map(|l| l.cost_pico_usd).collect();
            let complete = priced.len() == outcome.llm.len();
            guard.settle(index, complete.then(|| priced.iter().sum()));
        }
        if let Some(stats) = &mut self.cache_stats {
            stats.judge_hits += usize::from(outcome.cache == Some(crate::model::CacheKind::Judge));
        }
    }

    /// Records a finished scenario (run, cached or not run) and reports it; then fail-fast and
    /// `--max-fail` decide whether the run stops.
    fn record(&mut self, index: usize, mut outcome: Outcome, sink: &mut dyn FnMut(&RunEvent)) {
        // Every outcome is scrubbed before any reporter sees it.
        scrub_outcome(&mut outcome, &self.secrets);
        outcome.agent_url = Some(self.agent_urls[self.plan.scenarios[index].agent].clone());
        let (priority, status) = (outcome.priority, outcome.status);
        let outcome = Arc::new(outcome);
        log_finished(&outcome);
        sink(&RunEvent::ScenarioFinished { outcome: Arc::clone(&outcome) });
        self.outcomes[index] = Some(outcome);
        if self.cancelled.is_some() {
            return;
        }
        let reason = self
            .fail_fast
            .as_mut()
            .and_then(|ff| ff.record(priority, status))
            .map(|m| (CancelReason::FailFast, m))
            .or_else(|| {
                self.max_fail
                    .as_mut()
                    .and_then(|mf| mf.record(status))
                    .map(|m| (CancelReason::MaxFail, m))
            });
        if let Some((reason, message)) = reason {
            sink(&RunEvent::RunCancelled { reason, message: message.clone() });
            self.cancelled = Some((reason, message));
            self.stop.cancel();
        }
    }

    /// Step 5, fill skipped: every scenario without an outcome (never started, or stopped in
    /// flight) is reported as not run, saying why.
    fn fill_skipped(&mut self, sink: &mut dyn FnMut(&RunEvent)) {
        let skip_reason = self.cancelled.as_ref().map_or_else(
            || "not run".to_owned(),
            |(reason, message)| match reason {
                CancelReason::FailFast => {
                    format!("not run: fail-fast stopped the run ({message})")
                }
                CancelReason::MaxFail => format!("not run: {message}"),
                CancelReason::Budget => format!("not run: budget exhausted ({message})"),
                CancelReason::Interrupted => "not run: interrupted".to_owned(),
            },
        );
        for (index, slot) in self.outcomes.iter_mut().enumerate() {
            if slot.is_none() {
                let planned = &self.plan.scenarios[index];
                let agent = &self.plan.agents[planned.agent].name;
                let mut outcome = outcome_without_run(
                    &planned.scenario,
                    agent,
                    Status::Skipped,
                    skip_reason.clone(),
                );
                outcome.agent_url = Some(self.agent_urls[planned.agent].clone());
                let outcome = Arc::new(outcome);
                log_finished(&outcome);
                sink(&RunEvent::ScenarioFinished { outcome: Arc::clone(&outcome) });
                *slot = Some(outcome);
            }
        }
    }
}

/// The `tracing` target of the per-scenario log line (`--log-file`,
/// `RUST_LOG=rogue_runner::scenario=info`).
pub const SCENARIO_LOG_TARGET: &str = "rogue_runner::scenario";

/// One log event per finished scenario, with its timings; the terminal's `-v` line is the
/// reporter's (see `report::progress`), this one is for the log file. Ids and names come
/// from scenario files: put on one line, control characters removed.
fn log_finished(outcome: &Outcome) {
    let ms = |ms: Option<u64>| ms.map_or_else(|| "-".to_owned(), |ms| ms.to_string());
    tracing::info!(
        target: SCENARIO_LOG_TARGET,
        id = %crate::text::one_line(&outcome.id, 200),
        agent = %crate::text::one_line(&outcome.agent, 200),
        outcome = %outcome.status.as_str(),
        latency_ms = %ms(outcome.latency_ms),
        judge_ms = %ms(outcome.judge_ms),
        total_ms = outcome.duration_ms,
        cost_usd = %outcome.cost_usd.map_or_else(|| "-".to_owned(), |c| format!("{c:.6}")),
        cached = %outcome.cache.map_or("no", |c| match c {
            crate::model::CacheKind::Outcome => "outcome",
            crate::model::CacheKind::Judge => "judge",
        }),
        "scenario finished"
    );
}

/// A worker's result: the planned index, its outcome (`None` when the run stopped it) and
/// the slot it held, freed once the dispatcher has recorded the outcome.
type Finished = (usize, Option<Outcome>, OwnedSemaphorePermit);

/// The scenarios in flight, and the slots they take.
struct Workers {
    set: JoinSet<Finished>,
    /// `--parallel`.
    global: Arc<Semaphore>,
    /// `--per-agent-parallel`, one per planned agent.
    per_agent: Vec<Option<Arc<Semaphore>>>,
    executor: Arc<dyn ScenarioExecutor>,
}

impl Workers {
    /// Runs planned scenario `index` on its own task, until it finishes or `stop` is
    /// cancelled. Workers only execute; every decision stays with the dispatcher.
    fn spawn(
        &mut self,
        plan: Arc<Plan>,
        index: usize,
        stop: CancellationToken,
        permit: OwnedSemaphorePermit,
    ) {
        let limit = self.per_agent[plan.scenarios[index].agent].clone();
        let executor = Arc::clone(&self.executor);
        self.set.spawn(async move {
            let _agent_permit = match limit {
                Some(limit) => limit.acquire_owned().await.ok(),
                None => None,
            };
            let planned = &plan.scenarios[index];
            let agent = &plan.agents[planned.agent].name;
            // A panic in a worker is this scenario's error, never a lost result.
            let work = std::panic::AssertUnwindSafe(async {
                test_panic(&planned.scenario.id);
                executor.execute(planned, agent).await
            })
            .catch_unwind()
            .map(|result| {
                result.unwrap_or_else(|payload| {
                    outcome_without_run(
                        &planned.scenario,
                        agent,
                        Status::Error,
                        panic_reason(payload.as_ref()),
                    )
                })
            });
            tokio::select! {
                () = stop.cancelled() => (index, None, permit),
                outcome = work => (index, Some(outcome), permit),
            }
        });
    }
}

/// Step 4, drain: stopped or done, collect what finished; what the stop cancelled reports no
/// outcome and is filled as not run.
async fn drain(state: &mut RunState, workers: &mut Workers, sink: &mut dyn FnMut(&RunEvent)) {
    while let Some(joined) = workers.set.join_next().await {
        if let Ok((index, Some(outcome), _permit)) = joined {
            state.settle(index, &outcome);
            state.record(index, outcome, sink);
        }
    }
}

/// The next long wait a running scenario reports; never, without a channel.
async fn next_wait(
    waits: &mut Option<UnboundedReceiver<(String, String)>>,
) -> Option<(String, String)> {
    match waits {
        Some(waits) => waits.recv().await,
        None => std::future::pending().await,
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
