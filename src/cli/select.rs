//! Loading and selecting the scenarios of a run (`run`, `estimate`, `cache why`), or saying
//! why nothing can run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use super::store::{fmt_time, short_id, store_error};
use super::{CliError, output};
use crate::model::{ExitCode, Status};
use crate::report::ReportPaths;
use crate::scenario::filter::RecordedStatus;
use crate::scenario::{Rerun, Sampling, Scenario, StatusLookup, load_paths};
use crate::session::RunConfig;
use crate::store::{DEFAULT_FLAKY_WINDOW, Location, RunRecord, Store, StoreError};

/// The scenarios a run works on; with `--partition`, this shard's share and what it records
/// of the whole selection.
#[derive(Debug)]
pub(super) struct Selected {
    pub scenarios: Vec<Scenario>,
    pub partition: Option<crate::scenario::ShardInfo>,
}

/// Load and select scenarios, or explain why nothing can run.
pub(super) fn load_selection(
    config: &RunConfig,
    stderr: &mut dyn Write,
) -> Result<Result<Selected, ExitCode>, CliError> {
    let report = load_paths(&config.paths, &config.load);
    let warnings = report.warning_count();
    if report.has_errors() {
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        output::render_diagnostics(stderr, &errors, config.color)?;
        writeln!(
            stderr,
            "error: {} problem(s) in scenario files; nothing was run (see `rogue-runner validate` for details)",
            errors.len()
        )?;
        return Ok(Err(ExitCode::Usage));
    }
    if warnings > 0 && !config.quiet {
        writeln!(
            stderr,
            "note: {warnings} warning(s) in scenario files; `rogue-runner validate` shows them"
        )?;
    }
    // A shard selects from the whole selection, which it records (size and digest) so that
    // `merge` can check that the shards it is given are all of one plan.
    let partition = config.selection.partition();
    let loaded = report.scenarios.len();
    let rerun = config.selection.rerun().map(|r| (r, RerunCheck::of(r, &report.scenarios)));
    if rerun.is_some() {
        // Checked on every loaded scenario: the agents whose scenarios all passed last time
        // are still names the same command line may route.
        check_overrides(config, &report.scenarios)?;
    }
    let whole = config.selection.clone().with_partition(None).apply(report.scenarios);
    match config.selection.sampling() {
        _ if config.quiet => {}
        Sampling::Sample { seed, .. } => {
            writeln!(stderr, "{}", sample_note(whole.len(), loaded, seed))?;
        }
        Sampling::All | Sampling::Limit(_)
            if rerun.is_none() && whole.len() < loaded && !whole.is_empty() =>
        {
            writeln!(stderr, "selected {} of {loaded} scenario(s)", whole.len())?;
        }
        Sampling::All | Sampling::Limit(_) => {}
    }
    if let Some((rerun, check)) = &rerun {
        if !check.write(rerun, whole.len(), stderr)? {
            let Some(partition) = partition else { return Ok(Err(ExitCode::Success)) };
            // A shard still runs (and records) its empty share, so that `merge` finds every
            // shard of the plan.
            let shard = crate::scenario::ShardInfo::of_selection(partition, &whole);
            return Ok(Ok(Selected { scenarios: whole, partition: Some(shard) }));
        }
    }
    if whole.is_empty() {
        writeln!(stderr, "error: no scenario matches the filters; nothing was run")?;
        writeln!(
            stderr,
            "  hint: `rogue-runner list {}` shows what is there",
            shell_paths(&config.paths)
        )?;
        return Ok(Err(ExitCode::Usage));
    }
    // An `--agent` that matches no agent of the selection is a typo, not a no-op. Checked on
    // the whole selection: a shard may hold none of an agent's scenarios. (--rerun-failed
    // checked them on every loaded scenario above.)
    if rerun.is_none() {
        check_overrides(config, &whole)?;
    }
    let Some(partition) = partition else {
        return Ok(Ok(Selected { scenarios: whole, partition: None }));
    };
    // An empty shard is not an error: it runs nothing and says so, and `merge` counts it.
    let shard = crate::scenario::ShardInfo::of_selection(partition, &whole);
    let scenarios = whole.into_iter().filter(|s| partition.contains(&s.id)).collect();
    Ok(Ok(Selected { scenarios, partition: Some(shard) }))
}

/// `paths` as they would be typed after a command, for hints that name one.
pub(super) fn shell_paths(paths: &[std::path::PathBuf]) -> String {
    let quoted: Vec<String> = paths
        .iter()
        .map(|p| {
            let text = p.display().to_string();
            let plain = !text.is_empty()
                && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c));
            if plain { text } else { format!("'{}'", text.replace('\'', "'\\''")) }
        })
        .collect();
    quoted.join(" ")
}

/// An `--agent NAME=URL` whose NAME no scenario of `scenarios` uses is an error.
pub(super) fn check_overrides(config: &RunConfig, scenarios: &[Scenario]) -> Result<(), CliError> {
    config.routing.check_overrides(scenarios).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "write --agent NAME=URL with one of the known names, or '*=URL' for every agent",
        )
    })
}

/// What `--rerun-failed` finds in the loaded scenario files: how many of its failures are
/// still there, and which are gone.
#[derive(Debug)]
pub(super) struct RerunCheck {
    present: usize,
    gone: Vec<String>,
}

/// The most ids a message lists before it says how many more there are.
const LISTED_IDS: usize = 10;

impl RerunCheck {
    pub(super) fn of(rerun: &Rerun, loaded: &[Scenario]) -> Self {
        let loaded: HashSet<&str> = loaded.iter().map(|s| s.id.as_str()).collect();
        let gone: Vec<String> =
            rerun.ids.iter().filter(|id| !loaded.contains(id.as_str())).cloned().collect();
        RerunCheck { present: rerun.ids.len() - gone.len(), gone }
    }

    /// Says on stderr what is selected (`selected` of the failures the other filters keep), and
    /// which failures are gone from the files. False when there is nothing to rerun (said so
    /// too): nothing failed, or nothing that failed is still there. A selection the other
    /// filters empty is left to the usual "no scenario matches" error.
    pub(super) fn write(
        &self,
        rerun: &Rerun,
        selected: usize,
        stderr: &mut dyn Write,
    ) -> std::io::Result<bool> {
        let source = rerun_source(rerun);
        if !self.gone.is_empty() {
            writeln!(
                stderr,
                "warning: {} scenario(s) that failed or errored in {source} are no longer in the scenario files (deleted, renamed, or outside the paths given) and are not rerun: {}",
                self.gone.len(),
                listed(&self.gone)
            )?;
        }
        if rerun.ids.is_empty() {
            writeln!(stderr, "nothing to rerun: no scenario failed or errored in {source}")?;
            return Ok(false);
        }
        if self.present == 0 {
            writeln!(
                stderr,
                "nothing to rerun: none of the scenarios that failed or errored in {source} is still in the scenario files"
            )?;
            return Ok(false);
        }
        if selected == self.present {
            writeln!(
                stderr,
                "--rerun-failed: the {selected} scenario(s) that failed or errored in {source}"
            )?;
        } else if selected > 0 {
            writeln!(
                stderr,
                "--rerun-failed: {selected} of the {} scenario(s) that failed or errored in {source} (the other filters leave out the rest)",
                self.present
            )?;
        } else {
            writeln!(
                stderr,
                "--rerun-failed: {} scenario(s) failed or errored in {source}, and the other filters leave out all of them",
                self.present
            )?;
        }
        Ok(true)
    }
}

/// `a, b, c` or `a, b, c and 4 more`.
fn listed(ids: &[String]) -> String {
    let shown = ids.iter().take(LISTED_IDS).map(String::as_str).collect::<Vec<_>>().join(", ");
    match ids.len().checked_sub(LISTED_IDS) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

/// How messages name the run(s) `--rerun-failed` read.
fn rerun_source(rerun: &Rerun) -> String {
    match rerun.runs.as_slice() {
        [one] => format!("run {one}"),
        runs => format!("runs {} (the shards of one partitioned run)", runs.join(", ")),
    }
}

/// `--rerun-failed[=RUN]`: the scenarios that failed or errored in run `reference` (`latest`,
/// an id or a unique prefix) recorded in `store`. A run that was one shard of a
/// partitioned run stands for the whole partitioned run: the newest recorded run of each of
/// its shards is read.
pub(super) fn rerun_failed(location: &Location, reference: &str) -> Result<Rerun, CliError> {
    let none_recorded = || {
        CliError::usage(
            format!(
                "--rerun-failed reads the runs recorded in {}, and no finished run is recorded there",
                location.display()
            ),
            none_recorded_hint(location),
        )
    };
    let store = super::store::open_existing(location)?.ok_or_else(none_recorded)?;
    let run = match store.find_run(reference) {
        Ok(run) => run,
        Err(StoreError::UnknownRun(_)) if reference == "latest" => return Err(none_recorded()),
        Err(e) => return Err(store_error(&e)),
    };
    let mut rerun = Rerun::default();
    for run in shards_of(&store, run)? {
        rerun.runs.push(run_label(&run));
        let statuses = recorded_statuses(&store, run)?;
        rerun.ids.extend(statuses.into_iter().filter_map(|(id, status)| {
            matches!(status, RecordedStatus::Failed | RecordedStatus::Error).then_some(id)
        }));
    }
    Ok(rerun)
}

/// The fix when no run is recorded in the store at `location`, naming the option that chose it.
fn none_recorded_hint(location: &Location) -> &'static str {
    match location {
        Location::Dir(_) => {
            "run once first (every run records its results there), or point --cache-dir at the store of earlier runs"
        }
        Location::Postgres(_) => {
            "run once first with the same --store (every run records its results there), or check that --store (ROGUE_STORE_URL, [store] url) names the store of earlier runs"
        }
    }
}

/// How far back the shards of a partitioned run are looked for.
const SHARD_SEARCH: usize = 500;

/// `run` alone, or when it was shard K/N of a partitioned run, the newest finished run of
/// each shard of that plan (the same N and selection digest) up to `run`, by shard.
fn shards_of(store: &Store, run: RunRecord) -> Result<Vec<RunRecord>, CliError> {
    let shard_of = |r: &RunRecord| {
        let (k, n) = r.partition.as_deref()?.split_once('/')?;
        Some((k.parse::<u32>().ok()?, n.to_owned(), r.selection_digest.clone()?))
    };
    let Some((k, n, digest)) = shard_of(&run) else { return Ok(vec![run]) };
    let mut newest = BTreeMap::new();
    // Oldest first: a later run of a shard replaces an earlier one.
    for other in store.finished_runs_until(Some(&run), SHARD_SEARCH).map_err(|e| store_error(&e))? {
        if let Some((k, other_n, other_digest)) = shard_of(&other) {
            if other_n == n && other_digest == digest {
                newest.insert(k, other);
            }
        }
    }
    // The run named, finished or not.
    newest.insert(k, run);
    Ok(newest.into_values().collect())
}

/// `1a2b3c4d (2026-12-02 16:03:34)`, with `, shard 2/4` for a shard.
fn run_label(run: &RunRecord) -> String {
    let shard = run.partition.as_deref().map_or(String::new(), |p| format!(", shard {p}"));
    format!("{} ({}{shard})", short_id(&run.id), fmt_time(&run.started_at))
}

/// Each scenario's status in `run`.
fn recorded_statuses(
    store: &Store,
    run: RunRecord,
) -> Result<HashMap<String, RecordedStatus>, CliError> {
    let results = store.run_results(run).map_err(|e| store_error(&e))?;
    Ok(results
        .scenarios
        .into_iter()
        .map(|s| {
            let status = match s.status {
                Status::Passed => RecordedStatus::Passed,
                Status::Failed => RecordedStatus::Failed,
                Status::Error => RecordedStatus::Error,
                Status::Unassessed => RecordedStatus::Unassessed,
                Status::Skipped => RecordedStatus::Skipped,
            };
            (s.id, status)
        })
        .collect())
}

/// What `--sample` chose, and the seed that chooses it again.
pub(super) fn sample_note(selected: usize, loaded: usize, seed: u64) -> String {
    format!(
        "sampled {selected} of {loaded} scenario(s) with --seed {seed} (pass it again to repeat this sample)"
    )
}

/// The latest finished run in the store at `location`, as `-E 'status(…)'` sees it: each scenario's
/// status, and which ones the store's flaky detection flags.
pub(super) fn status_lookup(location: &Location) -> Result<StatusLookup, CliError> {
    let none_recorded = || {
        CliError::usage(
            format!(
                "status() reads the latest run recorded in {}, and no finished run is recorded there",
                location.display()
            ),
            none_recorded_hint(location),
        )
    };
    let store = super::store::open_existing(location)?.ok_or_else(none_recorded)?;
    let latest = match store.find_run("latest") {
        Ok(run) => run,
        Err(StoreError::UnknownRun(_)) => return Err(none_recorded()),
        Err(e) => return Err(store_error(&e)),
    };
    let flaky = store
        .compare_runs(&latest, &latest, DEFAULT_FLAKY_WINDOW)
        .map_err(|e| store_error(&e))?
        .flaky
        .into_iter()
        .map(|f| f.id)
        .collect();
    let latest = recorded_statuses(&store, latest)?;
    Ok(StatusLookup { latest, flaky })
}

/// A shard that exits 2 before running (its scenario files cannot be loaded, nothing is
/// selected) still leaves a `results.json` with its partition and exit code, so that the
/// merge job sees which shard failed instead of a silently missing one.
pub(super) fn write_failed_shard(
    config: &RunConfig,
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    let Some(partition) = config.selection.partition() else { return Ok(()) };
    let now = jiff::Timestamp::now().to_string();
    let mut run = crate::engine::summarize(
        uuid::Uuid::new_v4().simple().to_string(),
        now.clone(),
        now,
        0,
        std::iter::empty(),
        None,
    );
    run.exit_code = ExitCode::Usage.code();
    let doc = crate::report::ResultsDocument {
        schema_version: crate::report::RESULTS_SCHEMA_VERSION,
        tool: crate::report::ToolInfo::current(),
        partial: false,
        plan: crate::report::PlanInfo {
            partition: Some(crate::scenario::ShardInfo {
                shard: partition.shard,
                of: partition.total,
                selected: 0,
                selection_digest: None,
                error: Some(format!(
                    "shard {partition} exited 2 before running: its scenarios could not be loaded or selected (see its log)"
                )),
            }),
            ..crate::report::PlanInfo::default()
        },
        run,
        agents: Vec::new(),
        scenarios: Vec::new(),
    };
    let paths = ReportPaths::new(&config.output_dir);
    let written = paths.create_dir().map_err(|e| e.to_string()).and_then(|()| {
        let json = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        fs_err::write(paths.dir.join("results.json"), json).map_err(|e| e.to_string())
    });
    if let Err(e) = written {
        writeln!(stderr, "warning: could not write the failed shard's results.json: {e}")?;
    }
    Ok(())
}
