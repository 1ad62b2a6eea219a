//! `rogue-runner merge DIR…`: combine the reports of partitioned runs (`--partition hash:K/N`)
//! into one set of reports with correct totals.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CliError;
use super::args::MergeArgs;
use crate::engine::ExitPolicy;
use crate::model::CostBreakdown;
use crate::model::{AgentPlan, CacheStats, CancelReason, ExitCode, Outcome, RunEvent, RunSummary};
use crate::report::{Progress, RESULTS_SCHEMA_VERSION, ReportPaths, ReportSet, ResultsDocument};
use crate::scenario::ShardInfo;

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
    parse_shard(file, &text)
}

/// The shards of one partitioned run recorded in the shared store (`merge --store URL
/// [--run ID]`), each named `store run ID` in messages.
fn store_shards(args: &MergeArgs) -> Result<Vec<(PathBuf, ResultsDocument)>, CliError> {
    let hint = "record the shards with `run --partition hash:K/N --store URL`, or pass each \
                shard's --output-dir";
    let Some(url) = args.store.as_deref() else {
        return Err(CliError::usage("merge needs the shards' directories, or --store URL", hint));
    };
    let store_error = |e: crate::store::StoreError| CliError::usage(e.to_string(), hint);
    let location =
        crate::store::Location::from_args(&args.cache_dir, Some(url), 1).map_err(store_error)?;
    let documents = match crate::store::Store::open_existing_at(&location).map_err(store_error)? {
        Some(store) => store.shard_documents(args.run.as_deref()).map_err(store_error)?,
        None => Vec::new(),
    };
    if documents.is_empty() {
        return Err(CliError::usage(
            format!("no partitioned run is recorded in {}", location.display()),
            hint,
        ));
    }
    documents
        .into_iter()
        .map(|(id, text)| parse_shard(PathBuf::from(format!("store run {id}")), &text))
        .collect()
}

/// A shard's `results.json` text, checked; `file` names it in messages.
fn parse_shard(file: PathBuf, text: &str) -> Result<(PathBuf, ResultsDocument), CliError> {
    let doc: ResultsDocument = serde_json::from_str(text).map_err(|e| {
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

/// The shards of the plan that are not among `shards` (none when they are complete), after
/// refusing a set that is not of one partitioned plan: a shard without `--partition`, shards
/// of different plans (another N, another selection), the same shard twice, a shard that
/// failed before running, a missing one. `allow_incomplete` lets failed and missing shards
/// through (they are then returned); nothing lets the others through.
pub(super) fn check_shards(
    shards: &[(PathBuf, ResultsDocument)],
    allow_incomplete: bool,
) -> Result<Vec<u32>, CliError> {
    let same_plan = "merge the shards of one partitioned run: the same scenarios, filters and \
                     --partition hash:K/N with one N, every K once";
    let mut first: Option<(&Path, &ShardInfo)> = None;
    let mut present: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut failed: Vec<(u32, &Path, &str)> = Vec::new();
    for (file, doc) in shards {
        let Some(shard) = doc.plan.partition.as_ref() else {
            return Err(CliError::usage(
                format!(
                    "{} is not a shard: that run was not started with --partition",
                    file.display()
                ),
                same_plan,
            ));
        };
        if let Some((first_file, first)) = first {
            let digests_differ = matches!(
                (&first.selection_digest, &shard.selection_digest),
                (Some(a), Some(b)) if a != b
            );
            if first.of != shard.of || digests_differ {
                return Err(CliError::usage(
                    format!(
                        "{} (shard {}/{}, selection {}) and {} (shard {}/{}, selection {}) are \
                         shards of different plans",
                        first_file.display(),
                        first.shard,
                        first.of,
                        short_digest(first),
                        file.display(),
                        shard.shard,
                        shard.of,
                        short_digest(shard),
                    ),
                    same_plan,
                ));
            }
        }
        if first.is_none_or(|(_, f)| f.selection_digest.is_none()) {
            first = Some((file, shard));
        }
        if let Some(other) = present.insert(shard.shard, file) {
            return Err(CliError::usage(
                format!(
                    "shard {}/{} is given twice: {} and {}",
                    shard.shard,
                    shard.of,
                    other.display(),
                    file.display()
                ),
                same_plan,
            ));
        }
        if let Some(error) = &shard.error {
            failed.push((shard.shard, file, error));
        }
    }
    let of = first.map_or(0, |(_, s)| s.of);
    let mut missing: Vec<u32> = (1..=of).filter(|k| !present.contains_key(k)).collect();
    missing.extend(failed.iter().map(|(k, _, _)| *k));
    missing.sort_unstable();
    if missing.is_empty() || allow_incomplete {
        return Ok(missing);
    }
    let mut problems: Vec<String> = failed
        .iter()
        .map(|(k, file, error)| format!("shard {k}/{of} failed ({}): {error}", file.display()))
        .collect();
    let absent: Vec<String> =
        (1..=of).filter(|k| !present.contains_key(k)).map(|k| format!("{k}/{of}")).collect();
    if !absent.is_empty() {
        problems.push(format!("shard(s) {} missing", absent.join(", ")));
    }
    Err(CliError::usage(
        format!("the shards are incomplete: {}", problems.join("; ")),
        "give every shard's output (the merge job should run even when a shard failed), or \
         pass --allow-incomplete to merge what is there (the merged reports then name the \
         missing shards)",
    ))
}

fn short_digest(shard: &ShardInfo) -> &str {
    shard.selection_digest.as_deref().map_or("unknown", |d| d.get(..12).unwrap_or(d))
}

/// The events that reproduce the merged run, for the standard reporters. `missing` are the
/// shards of the plan that are not merged.
pub(super) fn merged_events(
    shards: &[(PathBuf, ResultsDocument)],
    missing: &[u32],
    policy: &ExitPolicy,
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
    // Every merge is a run of its own in the history, even of the same shards.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
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
        partition: None,
        missing_shards: missing.to_vec(),
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
    let mut summary = crate::engine::summarize_with_policy(
        run_id,
        started_at,
        finished_at,
        duration_ms,
        outcomes.iter().map(AsRef::as_ref),
        cancelled,
        policy,
    );
    summary.cost = Some(Box::new(merged_cost(shards, &outcomes)));
    summary.cache = shards.iter().filter_map(|(_, d)| d.run.cache).reduce(|a, b| CacheStats {
        hits: a.hits + b.hits,
        judge_hits: a.judge_hits + b.judge_hits,
        misses: a.misses + b.misses,
        saved_usd: a.saved_usd + b.saved_usd,
    });
    events.push(RunEvent::RunFinished { summary });
    Ok(events)
}

/// The merged run's actual cost: the LLM calls its outcomes record, priced as the shards
/// priced them.
fn merged_cost(shards: &[(PathBuf, ResultsDocument)], outcomes: &[Arc<Outcome>]) -> CostBreakdown {
    let costs: Vec<&CostBreakdown> =
        shards.iter().filter_map(|(_, d)| d.run.cost.as_deref()).collect();
    let runs_per_day = costs.first().map_or(5, |c| c.runs_per_day);
    let mut cost =
        crate::cost::Pricing::shipped().breakdown(outcomes.iter().map(AsRef::as_ref), runs_per_day);
    // The shards' pricing tables (maybe a user's) decided what is priced, not this one's.
    let mut unknown: Vec<String> =
        costs.iter().flat_map(|c| c.unknown_models.iter().cloned()).collect();
    unknown.sort();
    unknown.dedup();
    cost.unknown_models = unknown;
    if let Some(first) = costs.first() {
        cost.pricing.clone_from(&first.pricing);
    }
    cost
}

/// Record the merged run in the store at `location`.
fn import<'a>(
    location: &crate::store::Location,
    selection_digest: Option<&str>,
    summary: &RunSummary,
    outcomes: impl IntoIterator<Item = &'a Outcome>,
) -> Result<(), crate::store::StoreError> {
    let store = crate::store::Store::open_at(location)?;
    store.record_run_started(&crate::store::RunStart {
        run_id: summary.run_id.clone(),
        started_at: summary.started_at.clone(),
        planned: summary.counts.total,
        git_commit: crate::store::git_commit(Path::new(".")),
        config_digest: crate::store::config_digest(&"merge"),
        // A merged run is the whole plan, not a shard; it keeps the plan's digest.
        partition: None,
        selection_digest: selection_digest.map(str::to_owned),
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
    let shards = if args.shards.is_empty() {
        store_shards(args)?
    } else {
        args.shards.iter().map(|p| read_shard(p)).collect::<Result<Vec<_>, _>>()?
    };
    let missing = check_shards(&shards, args.allow_incomplete)?;
    let policy = ExitPolicy { allow_unassessed: args.allow_unassessed, ..ExitPolicy::default() };
    let events = merged_events(&shards, &missing, &policy)?;
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
    let digest = shards
        .iter()
        .find_map(|(_, d)| d.plan.partition.as_ref().and_then(|p| p.selection_digest.as_deref()));
    let location = crate::store::Location::from_args(&args.cache_dir, args.store.as_deref(), 1);
    let recorded = location.and_then(|location| {
        import(&location, digest, summary, outcomes)?;
        Ok(location.display())
    });
    match recorded {
        Err(e) => {
            // The error names the store (redacted) when it is PostgreSQL.
            let place = if args.store.is_some() {
                "the shared store".to_owned()
            } else {
                args.cache_dir.display().to_string()
            };
            writeln!(stderr, "warning: the merged run was not recorded in {place}: {e}")?;
        }
        Ok(place) => writeln!(stdout, "recorded in the run history of {place}")?,
    }
    let c = summary.counts;
    writeln!(
        stdout,
        "merged {} shard(s): {} scenarios: {} passed, {} failed, {} error, {} unassessed, {} skipped\nexit {}: {}",
        shards.len(),
        c.total,
        c.passed,
        c.failed,
        c.error,
        c.unassessed,
        c.skipped,
        summary.exit_code,
        summary.exit_reason
    )?;
    if !missing.is_empty() {
        let of = shards.iter().find_map(|(_, d)| d.plan.partition.as_ref()).map_or(0, |s| s.of);
        let list: Vec<String> = missing.iter().map(|k| format!("{k}/{of}")).collect();
        writeln!(
            stderr,
            "warning: INCOMPLETE: shard(s) {} are missing (--allow-incomplete); these results do not cover the whole plan",
            list.join(", ")
        )?;
    }
    writeln!(stdout, "reports: {}", paths.dir.display())?;
    Ok(ExitCode::from_code(summary.exit_code))
}
