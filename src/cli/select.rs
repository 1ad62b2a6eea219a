//! Loading and selecting the scenarios of a run (`run`, `estimate`, `cache why`), or saying
//! why nothing can run.

use std::io::Write;
use std::path::Path;

use super::{CliError, output};
use crate::model::{ExitCode, Status};
use crate::report::ReportPaths;
use crate::scenario::filter::RecordedStatus;
use crate::scenario::{Sampling, Scenario, StatusLookup, load_paths};
use crate::session::RunConfig;
use crate::store::{DEFAULT_FLAKY_WINDOW, Store, StoreError};

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
    let whole = config.selection.clone().with_partition(None).apply(report.scenarios);
    match config.selection.sampling() {
        _ if config.quiet => {}
        Sampling::Sample { seed, .. } => {
            writeln!(stderr, "{}", sample_note(whole.len(), loaded, seed))?;
        }
        Sampling::All | Sampling::Limit(_) if whole.len() < loaded && !whole.is_empty() => {
            writeln!(stderr, "selected {} of {loaded} scenario(s)", whole.len())?;
        }
        Sampling::All | Sampling::Limit(_) => {}
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
    // the whole selection: a shard may hold none of an agent's scenarios.
    config.routing.check_overrides(&whole).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "write --agent NAME=URL with one of the known names, or '*=URL' for every agent",
        )
    })?;
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

/// What `--sample` chose, and the seed that chooses it again.
pub(super) fn sample_note(selected: usize, loaded: usize, seed: u64) -> String {
    format!(
        "sampled {selected} of {loaded} scenario(s) with --seed {seed} (pass it again to repeat this sample)"
    )
}

/// The latest finished run in `cache_dir`, as `-E 'status(…)'` sees it: each scenario's
/// status, and which ones the store's flaky detection flags.
pub(super) fn status_lookup(cache_dir: &Path) -> Result<StatusLookup, CliError> {
    let none_recorded = || {
        CliError::usage(
            format!(
                "status() reads the latest run recorded in {}, and no finished run is recorded there",
                cache_dir.display()
            ),
            "run once first (every run records its results there), or point --cache-dir at the store of earlier runs",
        )
    };
    let store = Store::open_existing(cache_dir)
        .map_err(|e| super::store::store_error(&e))?
        .ok_or_else(none_recorded)?;
    let latest = match store.find_run("latest") {
        Ok(run) => run,
        Err(StoreError::UnknownRun(_)) => return Err(none_recorded()),
        Err(e) => return Err(super::store::store_error(&e)),
    };
    let flaky = store
        .compare_runs(&latest, &latest, DEFAULT_FLAKY_WINDOW)
        .map_err(|e| super::store::store_error(&e))?
        .flaky
        .into_iter()
        .map(|f| f.id)
        .collect();
    let results = store.run_results(latest).map_err(|e| super::store::store_error(&e))?;
    let latest = results
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
        .collect();
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
