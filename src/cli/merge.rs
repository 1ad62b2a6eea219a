//! `rogue-runner merge DIR…`: combine the reports of partitioned runs (`--partition hash:K/N`)
//! into one set of reports with correct totals.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CliError;
use super::args::MergeArgs;
use crate::engine::{AgentPlan, CancelReason, ExitCode, Outcome, RunEvent, RunSummary};
use crate::report::{Progress, RESULTS_SCHEMA_VERSION, ReportPaths, ReportSet, ResultsDocument};

/// Which shard's cancellation the merged run reports, in the exit-code order.
fn precedence(reason: CancelReason) -> u8 {
    match reason {
        CancelReason::Interrupted => 0,
        CancelReason::FailFast => 1,
        CancelReason::Budget => 2,
        CancelReason::MaxFail => 3,
    }
}

/// A shard's `results.json`, read and checked.
fn read_shard(path: &Path) -> Result<(PathBuf, ResultsDocument), CliError> {
    let file = if path.is_dir() { path.join("results.json") } else { path.to_path_buf() };
    let text = fs_err::read_to_string(&file).map_err(|e| {
        CliError::usage(
            format!("cannot read {}: {e}", file.display()),
            "pass the --output-dir of each shard, or its results.json",
        )
    })?;
    let doc: ResultsDocument = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(
            format!("{} is not a rogue-runner results.json: {e}", file.display()),
            "pass the --output-dir of each shard",
        )
    })?;
    if doc.schema_version != RESULTS_SCHEMA_VERSION {
        return Err(CliError::usage(
            format!(
                "{} has results schema version {}, this rogue-runner reads {RESULTS_SCHEMA_VERSION}",
                file.display(),
                doc.schema_version
            ),
            "merge with the rogue-runner version that wrote the shards",
        ));
    }
    Ok((file, doc))
}

/// The events that reproduce the merged run, for the standard reporters.
pub(super) fn merged_events(
    shards: &[(PathBuf, ResultsDocument)],
) -> Result<Vec<RunEvent>, CliError> {
    let mut outcomes: Vec<Arc<Outcome>> = Vec::new();
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    let mut agents: BTreeMap<(String, String), (usize, Option<crate::report::AgentCheck>)> =
        BTreeMap::new();
    let mut cancelled: Option<(CancelReason, String)> = None;
    let (mut total, mut parallel, mut duration_ms) = (0, 0, 0);
    for (file, doc) in shards {
        total += doc.plan.total;
        parallel = parallel.max(doc.plan.parallel);
        duration_ms = duration_ms.max(doc.run.duration_ms);
        for outcome in &doc.scenarios {
            if let Some(other) = seen.insert(outcome.id.clone(), file) {
                return Err(CliError::usage(
                    format!(
                        "scenario `{}` is in both {} and {}",
                        outcome.id,
                        other.display(),
                        file.display()
                    ),
                    "merge the shards of one partitioned run (same --partition hash:K/N, every K once)",
                ));
            }
            outcomes.push(Arc::clone(outcome));
        }
        for agent in &doc.agents {
            let entry = agents.entry((agent.name.clone(), agent.url.clone())).or_insert((0, None));
            entry.0 += agent.scenarios;
            // A failed check in any shard is the one to show.
            if entry.1.as_ref().is_none_or(|c| c.ok) && agent.check.is_some() {
                entry.1.clone_from(&agent.check);
            }
        }
        if let (Some(reason), Some(message)) = (doc.run.cancelled, &doc.run.cancel_message)
            && cancelled.as_ref().is_none_or(|(r, _)| precedence(reason) < precedence(*r))
        {
            cancelled = Some((reason, format!("{message} (in {})", file.display())));
        }
    }
    let started_at = shards.iter().map(|(_, d)| d.run.started_at.clone()).min().unwrap_or_default();
    let finished_at =
        shards.iter().map(|(_, d)| d.run.finished_at.clone()).max().unwrap_or_default();
    let run_id =
        format!("merged-{}", shards.first().map_or("none", |(_, d)| d.run.run_id.as_str()));
    let mut events = vec![RunEvent::RunStarted {
        run_id: run_id.clone(),
        started_at: started_at.clone(),
        total,
        parallel,
        agents: agents
            .iter()
            .map(|((name, url), (n, _))| AgentPlan {
                name: name.clone(),
                url: url.clone(),
                scenarios: *n,
            })
            .collect(),
    }];
    for ((name, url), (_, check)) in &agents {
        if let Some(check) = check {
            events.push(RunEvent::AgentChecked {
                agent: name.clone(),
                url: url.clone(),
                ok: check.ok,
                message: check.message.clone(),
                elapsed_ms: check.elapsed_ms,
            });
        }
    }
    outcomes.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
    events.extend(outcomes.iter().map(|o| RunEvent::ScenarioFinished { outcome: Arc::clone(o) }));
    if let Some((reason, message)) = &cancelled {
        events.push(RunEvent::RunCancelled { reason: *reason, message: message.clone() });
    }
    let summary = RunSummary::build(
        run_id,
        started_at,
        finished_at,
        duration_ms,
        outcomes.iter().map(AsRef::as_ref),
        cancelled,
    );
    events.push(RunEvent::RunFinished { summary });
    Ok(events)
}

/// Record the merged run in the store under `cache_dir`.
fn import<'a>(
    cache_dir: &Path,
    summary: &RunSummary,
    outcomes: impl IntoIterator<Item = &'a Outcome>,
) -> Result<(), crate::store::StoreError> {
    let store = crate::store::Store::open(cache_dir)?;
    store.record_run_started(&crate::store::RunStart {
        run_id: summary.run_id.clone(),
        started_at: summary.started_at.clone(),
        planned: summary.counts.total,
        git_commit: crate::store::git_commit(Path::new(".")),
        config_digest: crate::store::config_digest(&"merge"),
    })?;
    store.record_outcomes(&summary.run_id, outcomes)?;
    store.finish_run(summary)?;
    Ok(())
}

pub(super) fn merge(
    args: &MergeArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let shards = args.shards.iter().map(|p| read_shard(p)).collect::<Result<Vec<_>, _>>()?;
    let events = merged_events(&shards)?;
    let paths = ReportPaths::new(&args.output_dir);
    paths
        .create_dir()
        .map_err(|e| CliError::usage(e.to_string(), "choose another --output-dir"))?;
    let mut reports = ReportSet::standard(&paths, Progress::quiet());
    for event in &events {
        reports.on_event(event);
    }
    for error in reports.take_errors() {
        writeln!(stderr, "warning: {error}")?;
    }
    let Some(RunEvent::RunFinished { summary }) = events.last() else {
        return Ok(ExitCode::Usage);
    };
    let outcomes = events.iter().filter_map(|e| match e {
        RunEvent::ScenarioFinished { outcome } => Some(outcome.as_ref()),
        _ => None,
    });
    // The merged run joins the local history, so `history` and `compare` see it. A store
    // problem is a warning: the reports are already written.
    if let Err(e) = import(&args.cache_dir, summary, outcomes) {
        writeln!(
            stderr,
            "warning: the merged run was not recorded in {}: {e}",
            args.cache_dir.display()
        )?;
    } else {
        writeln!(stdout, "recorded in the run history of {}", args.cache_dir.display())?;
    }
    let c = summary.counts;
    writeln!(
        stdout,
        "merged {} shard(s): {} scenarios: {} passed, {} failed, {} error, {} skipped (exit {})",
        shards.len(),
        c.total,
        c.passed,
        c.failed,
        c.error,
        c.skipped,
        summary.exit_code
    )?;
    writeln!(stdout, "reports: {}", paths.dir.display())?;
    Ok(ExitCode::from_code(summary.exit_code))
}
