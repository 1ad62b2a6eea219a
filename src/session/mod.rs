//! One run, start to finish, behind one entry point: [`Session::new`] takes the validated
//! [`RunConfig`] and builds what the run shares — one HTTP pool, the judge, a Rogue
//! evaluator, the budget — once; [`Session::run`] opens the store once, runs the plan with
//! the standard reports and returns the summary with its exit code, which the engine decided
//! before the reports were finalized. The command line only parses, calls and prints.
//!
//! Layer: above `engine`, `judge`, `report` and `store`; below `cli`.

mod config;
mod store;
pub mod watch;

use std::io::Write;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::{Evaluator, JudgeSetup, RunConfig, Setting, Source};
pub use store::{BaselineReport, StoreOptions};

use crate::engine::{Plan, RunOptions, Runner, StopSignal, StopSignalCell};

use crate::judge::Judge;
use crate::judge::rogue_evaluator::RogueEvaluator;
use crate::model::{ExitCode, RunSummary};
use crate::report::{Progress, ReportError, ReportPaths, ReportSet, ReportThread};
use crate::scenario::Scenario;
use crate::store::{Recorder, StoreError};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store asked for (`--baseline`, `--fail-on-regressions-only`) cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report directory cannot be created.
    #[error("{0}")]
    OutputDir(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A note could not be written.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

/// What a finished run hands back to whoever prints it.
#[derive(Debug)]
pub struct RunResult {
    pub summary: RunSummary,
    /// Decided by the engine before any report was written; every report shows it.
    pub exit_code: ExitCode,
    /// Reports that could not be written.
    pub report_errors: Vec<ReportError>,
    /// Where the reports are.
    pub reports_dir: std::path::PathBuf,
    /// A cache lookup that failed (every scenario ran).
    pub cache_error: Option<String>,
    /// The comparison with `--baseline`, when one was asked for.
    pub baseline: Option<BaselineReport>,
}

/// A run's shared machinery, built once from its configuration.
#[derive(Debug)]
pub struct Session<'a> {
    config: &'a RunConfig,
    /// The one connection pool of the run: agents, judge, driver and Rogue evaluator.
    http: reqwest::Client,
    judge: Option<Judge>,
    rogue: Option<RogueEvaluator>,
}

impl<'a> Session<'a> {
    /// Builds the HTTP pool (sized for `--parallel`), the judge or the Rogue evaluator, once.
    pub fn new(config: &'a RunConfig) -> Self {
        let http = crate::http::client(config.options.parallel);
        let setup = &config.judge;
        let pricing = Arc::clone(&config.options.pricing);
        let rogue_mode = setup.evaluator == Evaluator::Rogue;
        let judge = setup
            .judge
            .clone()
            .filter(|_| !rogue_mode)
            .map(|judge| Judge::new(judge, Arc::clone(&pricing), http.clone()));
        let rogue = rogue_mode.then(|| RogueEvaluator {
            server: config.rogue_server.clone(),
            judge_model: None,
            judge_api_key: setup.would_use.endpoint.api_key.clone(),
            judge_api_base: setup.explicit_base_url.clone(),
            judge_api_version: setup.would_use.endpoint.azure_api_version.clone(),
            poll_interval: setup.rogue_poll_interval,
            http: http.clone(),
            models: Some(setup.would_use.clone()),
            health: Arc::default(),
            cards: Arc::default(),
        });
        Session { config, http, judge, rogue }
    }

    /// Whether scenarios are delegated to a Rogue server.
    pub fn uses_rogue(&self) -> bool {
        self.rogue.is_some()
    }

    /// The models `--max-cost` cannot bound because the pricing table does not know them
    /// (empty without a budget).
    pub fn unpriced_models(&self, scenarios: &[Scenario]) -> Vec<String> {
        if self.config.judge.max_cost.is_none() {
            return Vec::new();
        }
        let agent_model = self.config.options.agent_kind.model();
        let mut unknown = std::collections::BTreeSet::new();
        for scenario in scenarios {
            let estimate = crate::engine::estimate_scenario(
                scenario,
                self.config.judge.judge.as_ref(),
                agent_model,
                &self.config.judge.pricing,
                &crate::engine::Assumptions::default(),
            );
            unknown.extend(estimate.unpriced_models().map(str::to_owned));
        }
        unknown.into_iter().collect()
    }

    /// The engine's options: the configuration's, with the clients and the budget of this
    /// session.
    fn run_options(&self) -> RunOptions {
        RunOptions {
            judge: self.judge.clone(),
            rogue: self.rogue.clone(),
            // The budget enters the engine here, and only here.
            max_cost_usd: self.config.judge.max_cost,
            ..self.config.options.clone()
        }
    }

    /// Runs `plan` and writes the standard reports. Notes and warnings about the store go to
    /// `diag` as they arise. Ctrl-C, SIGTERM and SIGHUP stop scheduling and still write every
    /// report; a second signal writes what it can and exits at once.
    pub fn run(&self, plan: Plan, diag: &mut dyn Write) -> Result<RunResult, SessionError> {
        self.run_until(plan, diag, None)
    }

    /// [`Session::run`], also stopped (as by that signal) when `stop` is: `watch` listens for
    /// signals between runs, and a signal it heard just before this run listened stops the
    /// run all the same.
    pub fn run_until(
        &self,
        plan: Plan,
        diag: &mut dyn Write,
        stop: Option<&watch::StopRequest>,
    ) -> Result<RunResult, SessionError> {
        let config = self.config;
        let mut paths = ReportPaths::new(&config.output_dir).with_formats(config.formats);
        if config.step_summary {
            paths = paths.with_github_step_summary_from_env();
        }
        paths.create_dir().map_err(|e| SessionError::OutputDir(e.to_string()))?;
        let mut store = store::RunStore::open(&config.store, diag)?;
        let mut options = self.run_options();
        options.exit_policy.baseline = store.baseline_gate();
        if let Some(cache) = &store.cache {
            // The judge cache rides on the same store: identical requests reuse the verdict.
            options.judge = options.judge.map(|judge| {
                judge.with_verdict_cache(Arc::clone(cache) as Arc<dyn crate::judge::VerdictCache>)
            });
        }
        let mut runner = Runner::with_http(options, self.http.clone());
        if let Some(cache) = store.result_cache() {
            runner = runner.with_cache(cache);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(SessionError::Runtime)?;
        let progress = Progress::stderr(config.progress)
            .with_color(config.color)
            .with_verbosity(config.verbose)
            .with_quiet(config.quiet);
        let tags: Vec<(String, Vec<String>)> = plan
            .scenarios
            .iter()
            .filter(|p| !p.scenario.tags.is_empty())
            .map(|p| (p.scenario.id.clone(), p.scenario.tags.clone()))
            .collect();
        let recorder = store.recorder.take().map(|recorder| recorder.with_tags(tags));
        let partitioned = plan.partition.is_some();
        let (summary, report_errors) =
            runtime.block_on(run_with_store(runner, plan, &paths, progress, recorder, stop));
        // The reports are written and synced. Dropping the runtime would close the pooled
        // connections (up to one per --parallel slot) and free their buffers one by one on
        // this thread before the process can exit: 8-30 ms at --parallel 500. Leave that to
        // the exit.
        runtime.shutdown_background();
        let after = store.finish(&summary);
        if partitioned && config.store.postgres.is_some() {
            // `merge --store` reads the shards from the shared store, not from artifacts.
            if let Err(error) =
                store::keep_shard_document(&config.store, &summary.run_id, &paths.dir)
            {
                writeln!(diag, "warning: this shard's results are not kept in the store: {error}")?;
            }
        }
        Ok(RunResult {
            exit_code: ExitCode::from_code(summary.exit_code),
            summary,
            report_errors,
            reports_dir: paths.dir.clone(),
            cache_error: after.cache_error,
            baseline: after.baseline,
        })
    }
}

/// Run the plan with the standard reporters and `progress`; Ctrl-C stops scheduling and still
/// writes the reports, a second Ctrl-C writes what it can and exits at once.
pub async fn run_with_reports(
    options: RunOptions,
    plan: Plan,
    paths: &ReportPaths,
    progress: Progress,
) -> (crate::model::RunSummary, Vec<crate::report::ReportError>) {
    run_with_store(Runner::new(options), plan, paths, progress, None, None).await
}

/// [`run_with_reports`] with `runner` (its cache hook set) and the store's recorder when
/// given. The recorder sees each event before the other reporters, so whatever
/// `events.jsonl` shows finished is already in the store.
async fn run_with_store(
    runner: Runner,
    plan: Plan,
    paths: &ReportPaths,
    progress: Progress,
    recorder: Option<Recorder>,
    stop: Option<&watch::StopRequest>,
) -> (crate::model::RunSummary, Vec<crate::report::ReportError>) {
    let stop = stop.cloned();
    let mut set = ReportSet::standard(paths, progress.with_reports(paths));
    if let Some(recorder) = recorder {
        set = set.with_first(recorder);
    }
    // The reporters run on their own thread: the engine never waits for the store or a file.
    let reports = Arc::new(ReportThread::spawn(set));
    let cancel = CancellationToken::new();
    let stop_signal = StopSignalCell::default();
    let interrupt = tokio::spawn({
        let cancel = cancel.clone();
        let stop_signal = Arc::clone(&stop_signal);
        let reports = Arc::clone(&reports);
        async move {
            let mut signals = StopSignals::new();
            let first = match stop {
                Some(stop) => tokio::select! {
                    signal = signals.next() => signal,
                    signal = stop.stopped() => Some(signal),
                },
                None => signals.next().await,
            };
            // Ctrl-C, SIGTERM and SIGHUP take the same path: stop scheduling, write every
            // report. A second signal writes what it can and exits at once.
            if let Some(first) = first {
                let _ = stop_signal.set(first);
                cancel.cancel();
                if let Some(second) = signals.next().await {
                    reports.flush_partial_now();
                    std::process::exit(second.exit_code().code());
                }
            }
        }
    });
    let runner = runner.with_stop_signal(stop_signal);
    let mut sink = |event: &crate::model::RunEvent| reports.send(event.clone());
    let summary = runner.run(plan, &mut sink, cancel).await;
    interrupt.abort();
    // Every event is handed over (the reports written) before the run returns.
    let errors = reports.finish();
    (summary, errors)
}

/// The signals that stop a run: Ctrl-C everywhere, SIGTERM and SIGHUP on Unix.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next stop signal; `None` when none can be listened for.
    async fn next(&mut self) -> Option<StopSignal> {
        #[cfg(unix)]
        {
            async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
                match signal {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => Some(StopSignal::Interrupt),
                Some(()) = recv(self.term.as_mut()) => Some(StopSignal::Terminate),
                Some(()) = recv(self.hup.as_mut()) => Some(StopSignal::Hangup),
                else => None,
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.ok().map(|()| StopSignal::Interrupt)
    }
}
