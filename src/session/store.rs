//! What a run does with the store: the cache hook, the history recorder and the baseline
//! gate, all through one connection opened once per run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::SessionError;
use crate::engine::{BaselineGate, ResultCache};
use crate::model::{BaselineComparison, FlakyScenario, Outcome, RunSummary, ScenarioChange};
use crate::store::{
    Change, Comparison, DEFAULT_FLAKY_WINDOW, KeyContext, Location, Recorder, RunCache, RunInfo,
    RunRecord, RunResults, ScenarioRecord, Store, StoreError,
};

/// What `run` needs from the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub cache_dir: PathBuf,
    /// `--store postgres://…`: the shared store, instead of the SQLite file in `cache_dir`.
    pub postgres: Option<crate::store::PgTarget>,
    pub use_cache: bool,
    pub baseline: Option<String>,
    pub fail_on_regressions_only: bool,
    pub key_context: KeyContext,
    /// Which agents' whole outcomes may be reused.
    pub pinning: crate::store::Pinning,
    pub cache_ttl: std::time::Duration,
    pub config_digest: String,
}

impl StoreOptions {
    /// Where the run's store is.
    pub fn location(&self) -> Location {
        match &self.postgres {
            Some(target) => Location::Postgres(target.clone()),
            None => Location::Dir(self.cache_dir.clone()),
        }
    }
}

/// Keeps a shard's `results.json` (in `reports_dir`) in the shared store, for `merge --store`.
pub(super) fn keep_shard_document(
    options: &StoreOptions,
    run_id: &str,
    reports_dir: &Path,
) -> Result<(), StoreError> {
    let Ok(text) = fs_err::read_to_string(reports_dir.join("results.json")) else {
        // Not written (--formats without json): nothing to keep.
        return Ok(());
    };
    Store::open_at(&options.location())?.record_document(run_id, &text)
}

/// The run `run` compares itself with.
#[derive(Debug)]
enum Baseline {
    /// None was asked for.
    NotAsked,
    /// Asked for: the baseline's results (`None` when `latest` was asked for and no run is
    /// recorded, so every failure is new) and the finished runs before this one, for flaky
    /// detection.
    Asked(Arc<StoreBaseline>),
}

/// The engine's baseline gate: compares this run's outcomes with the recorded baseline before
/// any report is written, so the exit code and every report agree.
#[derive(Debug)]
pub(super) struct StoreBaseline {
    baseline: Option<RunResults>,
    /// The last finished runs, oldest first, at most `DEFAULT_FLAKY_WINDOW - 1`.
    earlier: Vec<RunResults>,
    /// The comparison the gate made, for the text printed after the run.
    last: Mutex<Option<Comparison>>,
}

impl StoreBaseline {
    fn load(store: &Store, baseline: Option<RunRecord>) -> Result<Self, StoreError> {
        let baseline = baseline.map(|run| store.run_results(run)).transpose()?;
        let earlier = store
            .finished_runs_until(None, DEFAULT_FLAKY_WINDOW.saturating_sub(1))?
            .into_iter()
            .map(|run| store.run_results(run))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StoreBaseline { baseline, earlier, last: Mutex::new(None) })
    }
}

impl BaselineGate for StoreBaseline {
    fn compare(&self, outcomes: &[&Outcome]) -> Result<BaselineComparison, String> {
        let after = RunResults {
            run: this_run(),
            scenarios: outcomes.iter().map(|o| scenario_record(o)).collect(),
        };
        let before = match &self.baseline {
            Some(run) => run.clone(),
            None => RunResults { run: this_run(), scenarios: Vec::new() },
        };
        let mut window = self.earlier.clone();
        window.push(after.clone());
        let comparison = crate::store::compare(&before, &after, &window);
        let change = |c: &Change| ScenarioChange {
            id: c.id.clone(),
            priority: c.priority,
            before: c.before,
            after: c.after,
            reason: c.reason.clone(),
            flaky: c.flaky,
        };
        let result = BaselineComparison {
            baseline_run: self.baseline.as_ref().map(|b| b.run.id.clone()),
            gating: false,
            newly_failing: comparison.newly_failing.iter().map(change).collect(),
            fixed: comparison.fixed.iter().map(change).collect(),
            still_failing: comparison.still_failing.iter().map(change).collect(),
            flaky: comparison
                .flaky
                .iter()
                .map(|f| FlakyScenario {
                    id: f.id.clone(),
                    priority: f.priority,
                    flips: f.flips,
                    history: f.history.clone(),
                })
                .collect(),
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(comparison);
        }
        Ok(result)
    }
}

/// The run being compared, before it is recorded as finished.
fn this_run() -> RunRecord {
    RunRecord {
        id: "this run".to_owned(),
        started_at: String::new(),
        finished_at: None,
        duration_ms: None,
        git_commit: None,
        config_digest: String::new(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        planned: 0,
        counts: crate::model::StatusCounts::default(),
        cached: 0,
        cost_usd: 0.0,
        exit_code: None,
        cancelled: None,
        cache: None,
        partition: None,
        selection_digest: None,
    }
}

fn scenario_record(outcome: &Outcome) -> ScenarioRecord {
    ScenarioRecord {
        id: outcome.id.clone(),
        priority: outcome.priority,
        agent: outcome.agent.clone(),
        status: outcome.status,
        cached: outcome.cached,
        cost_usd: outcome.cost_usd,
        latency_ms: outcome.latency_ms,
        duration_ms: outcome.duration_ms,
        reason: outcome.reasons.first().cloned(),
    }
}

/// The store's part in one run: hooks for the engine and the reports, and the baseline.
#[derive(Debug)]
pub(super) struct RunStore {
    pub cache: Option<Arc<RunCache>>,
    pub recorder: Option<Recorder>,
    baseline: Baseline,
}

impl RunStore {
    /// Opens the store for a run. A store that cannot be opened is a warning, and the run
    /// goes on without history or cache; only an unknown `--baseline ID` is an error.
    pub(super) fn open(options: &StoreOptions, diag: &mut dyn Write) -> Result<Self, SessionError> {
        let mut run_store = RunStore { cache: None, recorder: None, baseline: Baseline::NotAsked };
        // One connection for the whole run: the baseline is read, the history written and the
        // cache consulted through it.
        let location = options.location();
        let store = match Store::open_at(&location) {
            Ok(store) => store,
            Err(error) => {
                writeln!(diag, "warning: {error}")?;
                writeln!(
                    diag,
                    "warning: this run is not recorded{}",
                    if options.use_cache { " and uses no cache" } else { "" }
                )?;
                if options.baseline.is_some() || options.fail_on_regressions_only {
                    return Err(SessionError::Store(error));
                }
                return Ok(run_store);
            }
        };
        let wants_baseline = options.baseline.is_some() || options.fail_on_regressions_only;
        if wants_baseline {
            let reference = options.baseline.as_deref().unwrap_or("latest");
            let baseline = match store.find_run(reference) {
                Ok(run) => Some(run),
                Err(StoreError::UnknownRun(_)) if reference == "latest" => {
                    writeln!(
                        diag,
                        "note: no finished run is recorded in {} yet; without a baseline every \
                         failure is new",
                        location.display()
                    )?;
                    None
                }
                Err(error) => return Err(SessionError::Store(error)),
            };
            let loaded = StoreBaseline::load(&store, baseline)?;
            run_store.baseline = Baseline::Asked(Arc::new(loaded));
        }
        let info = RunInfo { git_commit: None, config_digest: options.config_digest.clone() };
        // `git rev-parse` takes milliseconds: asked beside the run, answered when the run's
        // start is recorded (on the report thread), so no scenario waits for it.
        let git_commit = std::thread::Builder::new()
            .name("git-commit".to_owned())
            .spawn(|| crate::store::git_commit(Path::new(".")))
            .ok();
        if !options.use_cache {
            run_store.recorder = Some(Recorder::new(store, info).with_git_commit(git_commit));
            return Ok(run_store);
        }
        if !options.pinning.pins_anything() {
            writeln!(
                diag,
                "note: --use-cache without --agent-version or --trust-card-version: every \
                 scenario calls its agent, and only the judge's verdicts on identical \
                 conversations are reused; pin the agent's identity (e.g. --agent-version \
                 \"$GIT_SHA\") to reuse whole results"
            )?;
        }
        let cache = Arc::new(RunCache::new(
            store,
            options.key_context.clone(),
            options.pinning.clone(),
            options.cache_ttl,
        ));
        let recorder = Recorder::on_shared(cache.shared_store(), info)
            .with_cache(&cache)
            .with_git_commit(git_commit);
        run_store.cache = Some(cache);
        run_store.recorder = Some(recorder);
        Ok(run_store)
    }

    /// The engine's cache hook.
    pub(super) fn result_cache(&self) -> Option<Arc<dyn ResultCache>> {
        self.cache.clone().map(|cache| cache as Arc<dyn ResultCache>)
    }

    /// The engine's baseline gate, when `--baseline` or `--fail-on-regressions-only` asked
    /// for one.
    pub(super) fn baseline_gate(&self) -> Option<Arc<dyn BaselineGate>> {
        match &self.baseline {
            Baseline::NotAsked => None,
            Baseline::Asked(gate) => Some(Arc::clone(gate) as Arc<dyn BaselineGate>),
        }
    }

    /// After the run: a failed cache lookup, and the baseline comparison the engine made
    /// (its exit code was decided by the engine, before the reports were written).
    pub(super) fn finish(&self, summary: &RunSummary) -> StoreAfterRun {
        let cache_error = self.cache.as_ref().and_then(|c| c.take_error()).map(|e| e.to_string());
        let Baseline::Asked(gate) = &self.baseline else {
            return StoreAfterRun { cache_error, baseline: None };
        };
        let comparison = gate.last.lock().ok().and_then(|mut last| last.take());
        let baseline = comparison.map(|mut comparison| match &gate.baseline {
            Some(baseline) => {
                // This run as it finished, now that its totals are known.
                comparison.b.id.clone_from(&summary.run_id);
                comparison.b.started_at.clone_from(&summary.started_at);
                comparison.b.finished_at = Some(summary.finished_at.clone());
                comparison.b.duration_ms = Some(summary.duration_ms);
                comparison.cost_usd.after = summary.cost_usd;
                comparison.duration_ms = baseline.run.duration_ms.map(|before| {
                    crate::store::compare::Delta { before, after: summary.duration_ms }
                });
                comparison.a = baseline.run.clone();
                BaselineReport::Compared(Box::new(comparison))
            }
            None => BaselineReport::NoBaseline { newly_failing: comparison.newly_failing.len() },
        });
        StoreAfterRun { cache_error, baseline }
    }
}

/// What the store has to say once a run is over.
#[derive(Debug)]
pub(super) struct StoreAfterRun {
    pub cache_error: Option<String>,
    pub baseline: Option<BaselineReport>,
}

/// The comparison with `--baseline`, for the text printed after the run.
#[derive(Debug)]
pub enum BaselineReport {
    /// Compared with a recorded run.
    Compared(Box<Comparison>),
    /// No finished run was recorded: every failure is new.
    NoBaseline { newly_failing: usize },
}
