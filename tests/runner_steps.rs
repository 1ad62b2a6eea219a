//! The scheduler in-process: the real `Runner` with a fake agent check and a fake executor
//! whose scenarios "take" simulated time and return chosen verdicts. Paused tokio time makes
//! every run take milliseconds and every interleaving exact: no sockets, no real sleeps.
//! What each rule must do is asserted on the events the reporters would see, the exit code
//! and its reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rogue_runner::engine::{
    AgentProbe, AgentRouting, Backend, CacheHit, CacheQuery, Plan, PlannedScenario, ResultCache,
    RunOptions, Runner, ScenarioExecutor, StopSignal, StopSignalCell,
};
use rogue_runner::model::{
    CacheKind, CacheStats, CancelReason, Outcome, RunEvent, RunSummary, Status, Usage,
};
use rogue_runner::model::{LlmRole, ModelUsage};
use rogue_runner::scenario::{LoadOptions, load_text};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a fake scenario does: how long it "takes", its verdict, what its LLM calls cost.
#[derive(Debug, Clone, Copy)]
struct Step {
    ms: u64,
    status: Status,
    cost_pico: Option<u64>,
}

const PASS: Step = Step { ms: 10, status: Status::Passed, cost_pico: None };
const FAIL: Step = Step { ms: 10, status: Status::Failed, cost_pico: None };

fn step(ms: u64, status: Status) -> Step {
    Step { ms, status, cost_pico: None }
}

/// A plan of native scenarios `(id, priority)`, in file order, all for one agent; the real
/// planner orders it (P0 first).
fn plan(items: &[(&str, &str)]) -> Plan {
    let mut text = String::from("version: 1\nagent: shop_agent\nscenarios:\n");
    for (id, priority) in items {
        let _ = write!(
            text,
            "  - id: {id}\n    priority: {priority}\n    message: hello\n    expect:\n      contains: [hello]\n"
        );
    }
    let (_, scenarios, diagnostics) =
        load_text(Path::new("steps.yaml"), &text, false, &LoadOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let routing =
        AgentRouting { rogue_server: "http://agent.test".to_owned(), ..AgentRouting::default() };
    Plan::build(scenarios, &routing).unwrap()
}

/// `n` scenarios `s0`..`s{n-1}` of one priority.
fn many(n: usize, priority: &str) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("s{i}"), priority.to_owned())).collect()
}

fn plan_of(items: &[(String, String)]) -> Plan {
    let items: Vec<(&str, &str)> = items.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    plan(&items)
}

/// An outcome as the real executor would give it, without a conversation.
fn outcome(planned: &PlannedScenario, agent: &str, step: Step) -> Outcome {
    let scenario = &planned.scenario;
    Outcome {
        id: scenario.id.clone(),
        priority: scenario.priority,
        category: scenario.category.clone(),
        agent: agent.to_owned(),
        agent_url: None,
        source: "steps.yaml:1:1".to_owned(),
        status: step.status,
        reasons: vec![format!("{:?} by the fake executor", step.status)],
        checks: Vec::new(),
        transcript: Vec::new(),
        latency_ms: Some(step.ms),
        duration_ms: step.ms,
        usage: None,
        cost_usd: step.cost_pico.map(|p| p as f64 / 1e12),
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 1,
        judge: None,
        llm: step
            .cost_pico
            .map(|p| ModelUsage {
                role: LlmRole::Judge,
                model: "fake-judge".to_owned(),
                calls: 1,
                usage: Usage::default(),
                cost_usd: Some(p as f64 / 1e12),
                cost_pico_usd: Some(p),
            })
            .into_iter()
            .collect(),
    }
}

/// Every agent answers the check, except the listed ones (indexes into the plan's agents).
#[derive(Debug, Default)]
struct FakeProbe {
    down: BTreeSet<usize>,
}

impl AgentProbe for FakeProbe {
    fn probe(&self, agent: usize) -> BoxFuture<'static, Result<Option<serde_json::Value>, String>> {
        let down = self.down.contains(&agent);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if down { Err("connection refused".to_owned()) } else { Ok(None) }
        })
    }
}

/// Runs each scenario as its script says (`PASS` when unscripted) and records which
/// scenarios it was asked to run, in order.
#[derive(Debug, Default)]
struct FakeExecutor {
    script: BTreeMap<String, Step>,
    calls: Mutex<Vec<String>>,
}

impl ScenarioExecutor for FakeExecutor {
    fn execute<'a>(
        &'a self,
        planned: &'a PlannedScenario,
        agent: &'a str,
    ) -> BoxFuture<'a, Outcome> {
        let id = planned.scenario.id.clone();
        self.calls.lock().unwrap().push(id.clone());
        let step = self.script.get(&id).copied().unwrap_or(PASS);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(step.ms)).await;
            outcome(planned, agent, step)
        })
    }
}

/// Serves an earlier passed outcome, worth `saved_usd`, for every listed scenario.
#[derive(Debug)]
struct FakeCache {
    hits: BTreeSet<&'static str>,
    saved_usd: f64,
}

impl ResultCache for FakeCache {
    fn lookup(&self, queries: &[CacheQuery<'_>]) -> Vec<Option<CacheHit>> {
        queries
            .iter()
            .map(|q| {
                self.hits.contains(q.scenario.id.as_str()).then(|| {
                    let planned =
                        PlannedScenario { scenario: q.scenario.clone(), agent: usize::MAX };
                    let mut outcome = outcome(&planned, &q.agent.name, PASS);
                    outcome.cached = true;
                    outcome.cache = Some(CacheKind::Outcome);
                    CacheHit { outcome, saved_usd: self.saved_usd }
                })
            })
            .collect()
    }
}

/// One in-process run and what it produced.
struct Run {
    events: Vec<RunEvent>,
    summary: RunSummary,
    /// Scenarios the executor was asked to run, in order.
    calls: Vec<String>,
    /// Simulated time the run took.
    took: Duration,
}

impl Run {
    /// The events, one short line each: `start s1`, `finish s1 passed`, `cancel fail_fast`.
    fn trace(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::ScenarioStarted { id } => Some(format!("start {id}")),
                RunEvent::ScenarioFinished { outcome } => {
                    Some(format!("finish {} {:?}", outcome.id, outcome.status).to_lowercase())
                }
                RunEvent::RunCancelled { reason, .. } => Some(format!("cancel {reason:?}")),
                _ => None,
            })
            .collect()
    }

    fn outcome(&self, id: &str) -> Arc<Outcome> {
        self.events
            .iter()
            .find_map(|e| match e {
                RunEvent::ScenarioFinished { outcome } if outcome.id == id => {
                    Some(Arc::clone(outcome))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} never finished: {:?}", self.trace()))
    }

    fn cancelled(&self) -> Vec<(CancelReason, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::RunCancelled { reason, message } => Some((*reason, message.clone())),
                _ => None,
            })
            .collect()
    }

    fn exit(&self) -> (i32, &str) {
        (self.summary.exit_code, self.summary.exit_reason.as_str())
    }
}

/// How a test sets up a run besides the plan and the script.
struct Setup {
    options: RunOptions,
    down: BTreeSet<usize>,
    cache: Option<FakeCache>,
    /// Cancel the run after this much simulated time, naming this signal (`None`: Ctrl-C
    /// without a recorded signal).
    cancel_after: Option<(u64, Option<StopSignal>)>,
    /// Cancel the run (Ctrl-C) from inside the first report of a finished scenario: a signal
    /// that lands while the dispatcher reports scenarios that need no worker.
    cancel_in_first_finish: bool,
}

impl Setup {
    fn parallel(parallel: usize) -> Self {
        Setup {
            options: RunOptions { parallel, ..RunOptions::default() },
            down: BTreeSet::new(),
            cache: None,
            cancel_after: None,
            cancel_in_first_finish: false,
        }
    }
}

async fn run(plan: Plan, script: &[(&str, Step)], setup: Setup) -> Run {
    let executor = Arc::new(FakeExecutor {
        script: script.iter().map(|(id, step)| ((*id).to_owned(), *step)).collect(),
        calls: Mutex::new(Vec::new()),
    });
    let signal = StopSignalCell::default();
    let mut runner = Runner::new(setup.options).with_stop_signal(Arc::clone(&signal));
    if let Some(cache) = setup.cache {
        runner = runner.with_cache(Arc::new(cache));
    }
    let cancel = CancellationToken::new();
    if let Some((ms, which)) = setup.cancel_after {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            // As the CLI does: the signal is recorded before the token is cancelled.
            if let Some(which) = which {
                signal.set(which).unwrap();
            }
            cancel.cancel();
        });
    }
    let backend = Backend {
        probe: Arc::new(FakeProbe { down: setup.down }),
        executor: Arc::clone(&executor) as Arc<dyn ScenarioExecutor>,
        waits: None,
    };
    let mut events = Vec::new();
    let started = Instant::now();
    let interrupt = setup.cancel_in_first_finish.then(|| cancel.clone());
    let mut sink = |e: &RunEvent| {
        events.push(e.clone());
        if let (Some(interrupt), RunEvent::ScenarioFinished { .. }) = (&interrupt, e) {
            interrupt.cancel();
        }
    };
    let summary = runner.run_with(plan, &mut sink, cancel, backend).await;
    let took = started.elapsed();
    // The last event carries the same summary, exit code included: decided before any
    // reporter saw it.
    assert_eq!(events.last(), Some(&RunEvent::RunFinished { summary: summary.clone() }));
    let calls = executor.calls.lock().unwrap().clone();
    Run { events, summary, calls, took }
}

#[tokio::test(start_paused = true)]
async fn p0_scenarios_start_first_and_file_order_holds_within_a_priority() {
    let plan = plan(&[("c2", "P2"), ("b1", "P1"), ("a0", "P0"), ("d0", "P0"), ("e1", "P1")]);
    let run = run(plan, &[], Setup::parallel(1)).await;
    assert_eq!(run.calls, ["a0", "d0", "b1", "e1", "c2"]);
    assert_eq!(
        run.trace(),
        [
            "start a0",
            "finish a0 passed",
            "start d0",
            "finish d0 passed",
            "start b1",
            "finish b1 passed",
            "start e1",
            "finish e1 passed",
            "start c2",
            "finish c2 passed"
        ]
    );
    assert_eq!(run.exit(), (0, "all 5 scenarios passed"));
}

#[tokio::test(start_paused = true)]
async fn every_p0_starts_before_any_p1_even_when_slots_free_up_early() {
    // Two slots: the slot the quick P0 frees goes to the next P0, never to the P1 scenario
    // written first in the file.
    let plan = plan(&[("p1", "P1"), ("quick", "P0"), ("slow", "P0"), ("last", "P0")]);
    let script = [("quick", step(1, Status::Passed)), ("slow", step(100, Status::Passed))];
    let run = run(plan, &script, Setup::parallel(2)).await;
    assert_eq!(run.calls, ["quick", "slow", "last", "p1"]);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_keeps_going_one_failure_short_of_the_threshold() {
    // 10 P0 at the default 80%: two failures still allow 80%.
    let script = [("s0", FAIL), ("s1", FAIL)];
    let run = run(plan_of(&many(10, "P0")), &script, Setup::parallel(1)).await;
    assert_eq!(run.calls.len(), 10, "{:?}", run.trace());
    assert!(run.cancelled().is_empty(), "{:?}", run.cancelled());
    assert_eq!(run.exit(), (1, "2 scenarios failed"));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_stops_at_the_failure_that_puts_the_threshold_out_of_reach() {
    let script = [("s0", FAIL), ("s1", FAIL), ("s2", FAIL)];
    let run = run(plan_of(&many(10, "P0")), &script, Setup::parallel(1)).await;
    assert_eq!(run.calls, ["s0", "s1", "s2"]);
    // The decision comes right after the third result, before anything else starts.
    let trace = run.trace();
    assert_eq!(
        trace[..7],
        [
            "start s0",
            "finish s0 failed",
            "start s1",
            "finish s1 failed",
            "start s2",
            "finish s2 failed",
            "cancel FailFast"
        ]
    );
    assert!(trace[7..].iter().all(|t| t.ends_with(" skipped")), "{trace:?}");
    let (reason, message) = &run.cancelled()[0];
    assert_eq!(*reason, CancelReason::FailFast);
    assert!(message.starts_with("3 of 10 P0 scenarios failed or errored"), "{message}");
    assert_eq!(
        run.outcome("s9").reasons,
        [format!("not run: fail-fast stopped the run ({message})")]
    );
    assert_eq!(
        run.exit(),
        (
            3,
            "fail-fast stopped the run: 3 P0 scenarios failed (--p0-threshold); 7 scenarios not run"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_scenarios_in_flight_and_reports_them_not_run() {
    // Three slots. s0 fails at 10 ms (s3 starts), s3 fails at 15 ms (s4 starts), s1 fails at
    // 20 ms: the third failure. s2 (1 s) and s4 (10 ms, due at 25 ms) are in flight.
    let script = [
        ("s0", step(10, Status::Failed)),
        ("s1", step(20, Status::Failed)),
        ("s2", step(1000, Status::Passed)),
        ("s3", step(5, Status::Failed)),
    ];
    let run = run(plan_of(&many(10, "P0")), &script, Setup::parallel(3)).await;
    assert_eq!(run.calls, ["s0", "s1", "s2", "s3", "s4"]);
    for id in ["s2", "s4"] {
        let outcome = run.outcome(id);
        assert_eq!(outcome.status, Status::Skipped, "{id}");
        assert!(outcome.reasons[0].starts_with("not run: fail-fast stopped the run"), "{id}");
    }
    // Nobody waited for the slow one.
    assert!(run.took < Duration::from_millis(100), "{:?}", run.took);
    assert_eq!(run.summary.counts.failed, 3);
    assert_eq!(run.summary.counts.skipped, 7);
    assert_eq!(run.exit().0, 3);
}

#[tokio::test(start_paused = true)]
async fn max_fail_stops_after_exactly_n_failed_or_errored_scenarios() {
    let items = many(6, "P1");
    let script = [("s1", FAIL), ("s3", step(10, Status::Error))];

    // One short of the limit: everything runs.
    let mut setup = Setup::parallel(1);
    setup.options.max_fail = Some(3);
    let run_under = run(plan_of(&items), &script, setup).await;
    assert_eq!(run_under.calls.len(), 6);
    assert!(run_under.cancelled().is_empty());
    assert_eq!(run_under.exit(), (1, "1 scenario failed, 1 errored"));

    // At the limit: nothing starts after the second.
    let mut setup = Setup::parallel(1);
    setup.options.max_fail = Some(2);
    let run = run(plan_of(&items), &script, setup).await;
    assert_eq!(run.calls, ["s0", "s1", "s2", "s3"]);
    assert_eq!(
        run.cancelled(),
        [(CancelReason::MaxFail, "2 scenario(s) failed or errored (--max-fail 2)".to_owned())]
    );
    assert_eq!(
        run.outcome("s5").reasons,
        ["not run: 2 scenario(s) failed or errored (--max-fail 2)"]
    );
    assert_eq!(run.exit(), (1, "1 scenario failed, 1 errored; 2 scenarios not run"));
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_new_starts_once_what_was_spent_could_exceed_max_cost() {
    // Each scenario's LLM calls cost $0.004; the limit is $0.01. After three, $0.012 is spent:
    // the fourth may not start.
    let cost = Some(4_000_000_000);
    let script: Vec<(String, Step)> = (0..5)
        .map(|i| (format!("s{i}"), Step { ms: 10, status: Status::Passed, cost_pico: cost }))
        .collect();
    let script: Vec<(&str, Step)> = script.iter().map(|(id, s)| (id.as_str(), *s)).collect();
    let mut setup = Setup::parallel(1);
    setup.options.max_cost_usd = Some(0.01);
    let run = run(plan_of(&many(5, "P1")), &script, setup).await;
    assert_eq!(run.calls, ["s0", "s1", "s2"]);
    let (reason, message) = &run.cancelled()[0];
    assert_eq!(*reason, CancelReason::Budget);
    assert!(
        message.starts_with(
            "starting s3 (projected $0.0000) could exceed --max-cost $0.0100: $0.0120 spent"
        ),
        "{message}"
    );
    assert_eq!(run.outcome("s4").reasons, [format!("not run: budget exhausted ({message})")]);
    assert_eq!(run.exit(), (4, "the cost budget (--max-cost) was exhausted; 2 scenarios not run"));
}

#[tokio::test(start_paused = true)]
async fn the_budget_lets_scenarios_in_flight_finish() {
    // Two slots: s0 and s1 start together; when s0 settles ($0.012 spent) s2 is refused, but
    // s1, in flight, still finishes with its verdict.
    let expensive = Step { ms: 10, status: Status::Passed, cost_pico: Some(12_000_000_000) };
    let script = [("s0", expensive), ("s1", step(50, Status::Failed))];
    let mut setup = Setup::parallel(2);
    setup.options.max_cost_usd = Some(0.01);
    let run = run(plan_of(&many(4, "P1")), &script, setup).await;
    assert_eq!(run.calls, ["s0", "s1"]);
    assert_eq!(run.outcome("s1").status, Status::Failed);
    assert_eq!(run.exit(), (4, "the cost budget (--max-cost) was exhausted; 2 scenarios not run"));
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_stops_scheduling_cancels_what_is_in_flight_and_exits_130() {
    // One slot, 100 ms a scenario after a 5 ms agent check, Ctrl-C at 150 ms: s0 is done,
    // s1 in flight.
    let script: Vec<(&str, Step)> =
        ["s0", "s1", "s2", "s3"].into_iter().map(|id| (id, step(100, Status::Passed))).collect();
    let mut setup = Setup::parallel(1);
    setup.cancel_after = Some((150, Some(StopSignal::Interrupt)));
    let run = run(plan_of(&many(4, "P1")), &script, setup).await;
    assert_eq!(run.calls, ["s0", "s1"]);
    assert_eq!(
        run.cancelled(),
        [(CancelReason::Interrupted, "interrupted: no new scenarios were started".to_owned())]
    );
    assert_eq!(run.outcome("s1").reasons, ["not run: interrupted"]);
    assert_eq!(run.took, Duration::from_millis(150));
    assert_eq!(run.exit(), (130, "interrupted; 3 scenarios not run"));
}

#[tokio::test(start_paused = true)]
async fn the_signal_that_stopped_the_run_decides_its_exit_code_and_reason() {
    for (signal, code, reason, message) in [
        (None, 130, "interrupted; 2 scenarios not run", "interrupted: no new"),
        (
            Some(StopSignal::Terminate),
            143,
            "terminated (SIGTERM); 2 scenarios not run",
            "terminated (SIGTERM): no new",
        ),
        (
            Some(StopSignal::Hangup),
            129,
            "hung up (SIGHUP); 2 scenarios not run",
            "hung up (SIGHUP): no new",
        ),
    ] {
        let mut setup = Setup::parallel(1);
        setup.cancel_after = Some((20, signal));
        let run = run(plan_of(&many(3, "P1")), &[], setup).await;
        assert_eq!(run.exit(), (code, reason), "{signal:?}");
        assert!(run.cancelled()[0].1.starts_with(message), "{signal:?}: {:?}", run.cancelled());
    }
}

#[tokio::test(start_paused = true)]
async fn cache_hits_are_reported_without_running_and_counted() {
    let mut setup = Setup::parallel(2);
    setup.cache = Some(FakeCache { hits: BTreeSet::from(["s1", "s3"]), saved_usd: 0.25 });
    let run = run(plan_of(&many(4, "P1")), &[], setup).await;
    assert_eq!(run.calls, ["s0", "s2"]);
    assert!(run.outcome("s1").cached);
    assert_eq!(
        run.summary.cache,
        Some(CacheStats { hits: 2, judge_hits: 0, misses: 2, saved_usd: 0.5 })
    );
    assert_eq!(run.summary.cached, 2);
    // A hit finishes in plan order without a worker: s1 is reported as soon as s0 started.
    assert_eq!(run.trace()[..3], ["start s0", "finish s1 passed", "start s2"]);
    assert_eq!(run.exit(), (0, "all 4 scenarios passed"));
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_agent_errors_its_scenarios_without_a_conversation() {
    let mut setup = Setup::parallel(2);
    setup.down = BTreeSet::from([0]);
    let run = run(plan_of(&many(2, "P1")), &[], setup).await;
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    assert_eq!(run.outcome("s0").reasons, ["agent shop_agent is unreachable: connection refused"]);
    assert_eq!(run.exit().0, 5);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_cache_hits_are_reported_is_still_an_interruption() {
    let mut setup = Setup::parallel(2);
    setup.cache = Some(FakeCache { hits: BTreeSet::from(["s0", "s1", "s2"]), saved_usd: 0.0 });
    setup.cancel_in_first_finish = true;
    let run = run(plan_of(&many(4, "P1")), &[], setup).await;
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    assert_eq!(
        run.cancelled(),
        [(CancelReason::Interrupted, "interrupted: no new scenarios were started".to_owned())]
    );
    assert_eq!(run.outcome("s1").reasons, ["not run: interrupted"]);
    // Before the fix this run said "1 passed; 3 not run" and exited 0.
    assert_eq!(run.exit(), (130, "interrupted; 3 scenarios not run"));
}
