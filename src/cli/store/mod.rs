//! `cache`, `history` and `compare`, and what `run` does with the store: the cache hook, the
//! history recorder, and the baseline comparison after the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::args::{CacheAction, CacheArgs, CompareArgs, HistoryArgs, OutputFormat, WhyArgs};
use super::{CliError, output};
use crate::engine::{
    BaselineComparison, BaselineGate, ExitCode, FlakyScenario, Outcome, ResultCache, RunSummary,
    ScenarioChange, Status,
};
use crate::store::{
    Change, Comparison, DEFAULT_FLAKY_WINDOW, KeyContext, Recorder, RunCache, RunInfo, RunRecord,
    RunResults, ScenarioRecord, Store, StoreError, StoredEntry, key_parts, within_ttl,
};

/// Changes listed per category before "… and N more".
const LISTED: usize = 20;

fn store_error(error: &StoreError) -> CliError {
    let hint = match error {
        StoreError::UnknownRun(_) | StoreError::AmbiguousRun { .. } => {
            "`rogue-runner history` lists the recorded runs and their ids"
        }
        StoreError::NewerSchema { .. } => "upgrade rogue-runner, or choose another --cache-dir",
        _ => "check --cache-dir; `rogue-runner cache clear` starts the cache afresh",
    };
    CliError::usage(error.to_string(), hint)
}

fn open_existing(dir: &Path) -> Result<Option<Store>, CliError> {
    Store::open_existing(dir).map_err(|e| store_error(&e))
}

// ---- cache ------------------------------------------------------------------------------

/// Whether `error` says the store file is not a (sound) SQLite database.
fn is_corrupt(error: &StoreError) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    matches!(
        error,
        StoreError::Sqlite { error: rusqlite::Error::SqliteFailure(e, _), .. }
            if matches!(e.code, NotADatabase | DatabaseCorrupt)
    )
}

/// `cache clear` on a store that cannot be opened because the file is corrupt: the file (and
/// its journal) is moved aside to `….corrupt`, so the next run starts afresh and nothing is
/// destroyed that could still be repaired.
fn clear_corrupt(
    dir: &Path,
    error: &StoreError,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let path = dir.join(crate::store::STORE_FILE_NAME);
    let aside = dir.join(format!("{}.corrupt", crate::store::STORE_FILE_NAME));
    let move_aside = |from: &Path, to: &Path| {
        fs_err::rename(from, to).map_err(|e| {
            CliError::usage(
                format!("cannot move the corrupt store aside: {e}"),
                format!("delete {} by hand", from.display()),
            )
        })
    };
    move_aside(&path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let journal = dir.join(format!("{}{suffix}", crate::store::STORE_FILE_NAME));
        if journal.is_file() {
            move_aside(
                &journal,
                &dir.join(format!("{}.corrupt{suffix}", crate::store::STORE_FILE_NAME)),
            )?;
        }
    }
    writeln!(
        out,
        "The store could not be read ({error}): moved it to {}; the next run starts a new \
         cache and history.",
        aside.display()
    )?;
    Ok(ExitCode::Success)
}

pub(super) fn cache(
    args: &CacheArgs,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    if let CacheAction::Why(why_args) = &args.action {
        return why(why_args, out, stderr);
    }
    let dir = &args.dir.cache_dir;
    let opened = match Store::open_existing(dir) {
        Err(e) if matches!(args.action, CacheAction::Clear) && is_corrupt(&e) => {
            return clear_corrupt(dir, &e, out);
        }
        opened => opened.map_err(|e| store_error(&e))?,
    };
    let Some(store) = opened else {
        if let CacheAction::Stats { format: OutputFormat::Json } = args.action {
            writeln!(out, "null")?;
        } else {
            writeln!(
                out,
                "No store in {} yet: nothing is cached, no run is recorded.",
                dir.display()
            )?;
        }
        return Ok(ExitCode::Success);
    };
    match &args.action {
        CacheAction::Stats { format } => {
            let stats = store.cache_summary().map_err(|e| store_error(&e))?;
            if *format == OutputFormat::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
                return Ok(ExitCode::Success);
            }
            writeln!(
                out,
                "Store:    {} (schema {}, {})",
                stats.path,
                stats.schema_version,
                fmt_bytes(stats.size_bytes)
            )?;
            writeln!(
                out,
                "Entries:  {} cached results ({} passed, {} failed, {} skipped)",
                stats.entries, stats.passed, stats.failed, stats.skipped
            )?;
            writeln!(
                out,
                "Cost:     ${:.4} to produce them (what a fully cached rerun saves)",
                stats.cost_usd
            )?;
            if let (Some(oldest), Some(newest)) = (&stats.oldest, &stats.newest) {
                writeln!(out, "Stored:   {} to {} (UTC)", fmt_time(oldest), fmt_time(newest))?;
            }
            writeln!(
                out,
                "Judge:    {} cached verdicts (reused for identical conversations)",
                stats.judge_entries
            )?;
            writeln!(out, "History:  {} recorded runs (`rogue-runner history`)", stats.runs)?;
        }
        CacheAction::Clear => {
            let n = store.cache_clear().map_err(|e| store_error(&e))?;
            writeln!(
                out,
                "Removed {n} cached results from {} (the run history is kept).",
                dir.display()
            )?;
        }
        CacheAction::Why(_) => {}
        CacheAction::Prune { older_than } => {
            let n = store.cache_prune(*older_than).map_err(|e| store_error(&e))?;
            writeln!(
                out,
                "Removed {n} cached results stored more than {} ago.",
                humantime::format_duration(*older_than)
            )?;
        }
    }
    Ok(ExitCode::Success)
}

// ---- cache why ---------------------------------------------------------------------------

/// `cache why ID`: the key a run with these flags would compute for scenario ID, part by part,
/// against the closest entry stored for it.
fn why(args: &WhyArgs, out: &mut dyn Write, stderr: &mut dyn Write) -> Result<ExitCode, CliError> {
    let config = super::run::RunConfig::from_args(&args.run)?;
    let scenarios = match super::run::load_selection(&config, stderr)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let plan = crate::engine::Plan::build(scenarios.scenarios, &config.routing).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "Rogue files name no agent: pass --agent '*=URL' to send them to one",
        )
    })?;
    let Some(planned) = plan.scenarios.iter().find(|p| p.scenario.id == args.scenario) else {
        return Err(CliError::usage(
            format!("no scenario `{}` in the selected scenarios", args.scenario),
            "`rogue-runner list --scenarios-dir DIR` shows the ids",
        ));
    };
    let agent = &plan.agents[planned.agent];
    let card = agent_card(&config, agent)?;
    let pinning = &config.store.pinning;
    let identity = pinning.identity(&agent.name, card.as_ref().ok().and_then(Option::as_ref));
    let parts = key_parts(
        &planned.scenario,
        &agent.url,
        card.as_ref().ok().and_then(Option::as_ref),
        &identity,
        &config.store.key_context,
    );
    let key = parts.key();
    let dir = &config.store.cache_dir;
    let store = open_existing(dir)?;
    let (entries, verdicts) = match &store {
        Some(store) => (
            store.cache_entries_for(&args.scenario).map_err(|e| store_error(&e))?,
            store.judge_entries_for(&args.scenario).map_err(|e| store_error(&e))?,
        ),
        None => (Vec::new(), 0),
    };
    let now = crate::store::now_ms();
    let ttl = config.store.cache_ttl;
    writeln!(
        out,
        "scenario {} ({}:{}), agent {} at {}",
        output::sanitize(&args.scenario),
        planned.scenario.source.file.display(),
        planned.scenario.source.line,
        output::sanitize(&agent.name),
        crate::agent::redact_url(&agent.url)
    )?;
    if let Err(problem) = &card {
        writeln!(
            out,
            "note: the agent check failed ({problem}); a run would report its scenarios as \
             errors without looking anything up"
        )?;
    }
    // The entry with this very key, else the one with the most parts in common (newest first
    // on a tie: the entries come newest first).
    let exact = entries.iter().find(|e| e.key == key.as_str());
    let closest = exact.or_else(|| {
        entries
            .iter()
            .filter(|e| e.parts.is_some())
            .rev()
            .max_by_key(|e| {
                e.parts.as_ref().map_or(0, |stored| {
                    parts
                        .0
                        .iter()
                        .filter(|p| stored.get(&p.name).is_some_and(|s| s.digest == p.digest))
                        .count()
                })
            })
            .or_else(|| entries.first())
    });
    let differing: Vec<&str> = closest
        .and_then(|e| e.parts.as_ref())
        .map(|stored| {
            parts
                .0
                .iter()
                .filter(|p| stored.get(&p.name).is_none_or(|s| s.digest != p.digest))
                .map(|p| p.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let fresh = |e: &StoredEntry| within_ttl(e.created_ms, ttl, now);
    let ttl_text = humantime::format_duration(ttl).to_string();
    let verdict = if identity.is_pinned() {
        match (exact, closest) {
            (Some(e), _) if fresh(e) => format!(
                "HIT: the whole outcome ({}) would be reused, the agent not called",
                e.status
            ),
            (Some(_), _) => {
                format!("MISS: the entry with this key is older than --cache-ttl {ttl_text}")
            }
            (None, None) => "MISS: nothing is stored for this scenario".to_owned(),
            (None, Some(_)) if differing.is_empty() => {
                "MISS: the stored entries were written by an older rogue-runner".to_owned()
            }
            (None, Some(_)) => format!("MISS: the key differs in {}", differing.join(", ")),
        }
    } else {
        "MISS: the agent's identity is not pinned, so it is always called (pin it with \
         --agent-version VALUE, or --trust-card-version if its card's version changes with \
         every deploy)"
            .to_owned()
    };
    let verdict = if config.store.use_cache {
        verdict
    } else {
        format!("{verdict} (with --use-cache; these flags have none, so nothing is reused)")
    };
    writeln!(out, "outcome cache: {verdict}")?;
    if let Some(entry) = closest {
        let age = humantime::format_duration(std::time::Duration::from_secs(
            u64::try_from(now.saturating_sub(entry.created_ms) / 1000).unwrap_or(0),
        ));
        let stored_at = jiff::Timestamp::from_millisecond(entry.created_ms)
            .map_or_else(|_| String::new(), |t| fmt_time(&t.to_string()));
        let which = if exact.is_some() { "the entry with this key" } else { "the closest entry" };
        writeln!(
            out,
            "compared with {which} ({} stored for this scenario): {}, stored {stored_at} UTC, \
             {age} ago",
            entries.len(),
            entry.status,
        )?;
        let mut rows = vec![vec![
            "  ".to_owned(),
            "PART".to_owned(),
            "THIS RUN".to_owned(),
            "STORED".to_owned(),
        ]];
        for part in &parts.0 {
            let stored = entry.parts.as_ref().and_then(|s| s.get(&part.name));
            rows.push(vec![
                if stored.is_some_and(|s| s.digest == part.digest) {
                    "  same".to_owned()
                } else {
                    "  DIFFERS".to_owned()
                },
                part.name.clone(),
                output::sanitize(&part.shown),
                stored.map_or_else(|| "(not recorded)".to_owned(), |s| output::sanitize(&s.shown)),
            ]);
        }
        rows.push(vec![
            if fresh(entry) { "  ok".to_owned() } else { "  EXPIRED".to_owned() },
            "TTL".to_owned(),
            format!("--cache-ttl {ttl_text}"),
            if fresh(entry) { "within it".to_owned() } else { "expired".to_owned() },
        ]);
        aligned(out, &rows)?;
    }
    writeln!(
        out,
        "judge cache: {verdicts} verdict(s) stored for this scenario; one is reused when the \
         agent gives the very same conversation, judged by the same model and prompts"
    )?;
    Ok(ExitCode::Success)
}

/// The card of `agent`, fetched as a run's agent check would (`Ok(None)`: it has none).
fn agent_card(
    config: &super::run::RunConfig,
    agent: &crate::engine::AgentTarget,
) -> Result<Result<Option<serde_json::Value>, String>, CliError> {
    let runtime = super::current_thread_runtime()?;
    let endpoint = crate::agent::AgentEndpoint {
        name: agent.name.clone(),
        url: agent.url.clone(),
        kind: config.options.agent_kind.clone(),
        auth: config.options.auth.clone(),
        headers: config.options.headers.clone(),
    };
    let client = crate::agent::AgentClient::new(
        endpoint,
        config.options.client.clone(),
        crate::engine::http_client(1),
    );
    Ok(runtime.block_on(client.probe()).map(|info| info.card).map_err(|e| e.to_string()))
}

// ---- history ----------------------------------------------------------------------------

pub(super) fn history(args: &HistoryArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let runs = match open_existing(&args.dir.cache_dir)? {
        Some(store) => store.runs(args.limit).map_err(|e| store_error(&e))?,
        None => Vec::new(),
    };
    if args.format == OutputFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
        return Ok(ExitCode::Success);
    }
    if runs.is_empty() {
        writeln!(out, "No run is recorded in {} yet.", args.dir.cache_dir.display())?;
        return Ok(ExitCode::Success);
    }
    let rows: Vec<Vec<String>> = runs.iter().map(history_row).collect();
    output::table(
        out,
        &[
            "RUN",
            "STARTED (UTC)",
            "COMMIT",
            "EXIT",
            "TOTAL",
            "PASSED",
            "FAILED",
            "ERROR",
            "UNASSESSED",
            "SKIPPED",
            "CACHED",
            "PASS RATE",
            "DURATION",
            "COST",
        ],
        &rows,
        4,
    )?;
    Ok(ExitCode::Success)
}

fn history_row(run: &RunRecord) -> Vec<String> {
    let c = &run.counts;
    vec![
        short_id(&run.id).to_owned(),
        fmt_time(&run.started_at),
        run.git_commit.as_deref().map_or_else(|| "-".to_owned(), |c| c.chars().take(8).collect()),
        match (run.exit_code, run.is_finished()) {
            (Some(code), true) => code.to_string(),
            _ => "-".to_owned(),
        },
        c.total.to_string(),
        c.passed.to_string(),
        c.failed.to_string(),
        c.error.to_string(),
        c.unassessed.to_string(),
        c.skipped.to_string(),
        run.cached.to_string(),
        c.pass_rate().map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0)),
        match run.duration_ms {
            Some(ms) if run.is_finished() => fmt_ms(ms),
            _ => "unfinished".to_owned(),
        },
        format!("${:.4}", run.cost_usd),
    ]
}

// ---- compare ----------------------------------------------------------------------------

pub(super) fn compare(args: &CompareArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let dir = &args.dir.cache_dir;
    let Some(store) = open_existing(dir)? else {
        return Err(CliError::usage(
            format!("no run is recorded in {} yet", dir.display()),
            "every `rogue-runner run` records itself there; run twice, then compare",
        ));
    };
    let (a, b) = match (&args.a, &args.b) {
        (Some(a), Some(b)) => (find(&store, a)?, find(&store, b)?),
        (Some(a), None) => (find(&store, a)?, find(&store, "latest")?),
        (None, _) => {
            let mut last = store.finished_runs_until(None, 2).map_err(|e| store_error(&e))?;
            if last.len() < 2 {
                return Err(CliError::usage(
                    format!(
                        "{} finished run(s) are recorded in {}; compare needs two",
                        last.len(),
                        dir.display()
                    ),
                    "name the runs: `rogue-runner compare A B` (ids from `rogue-runner history`)",
                ));
            }
            let b = last.remove(1);
            (last.remove(0), b)
        }
    };
    let comparison = store.compare_runs(&a, &b, args.flaky_window).map_err(|e| store_error(&e))?;
    if args.format == OutputFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&comparison)?)?;
    } else {
        write_comparison(out, &comparison, LISTED)?;
    }
    Ok(ExitCode::Success)
}

fn find(store: &Store, reference: &str) -> Result<RunRecord, CliError> {
    store.find_run(reference).map_err(|e| store_error(&e))
}

/// The text form of a comparison; lists hold at most `listed` scenarios each.
pub(super) fn write_comparison(
    out: &mut dyn Write,
    c: &Comparison,
    listed: usize,
) -> std::io::Result<()> {
    writeln!(out, "Comparing {} → {}", describe_run(&c.a), describe_run(&c.b))?;
    writeln!(
        out,
        "{} newly failing, {} fixed, {} still failing, {} flaky",
        c.newly_failing.len(),
        c.fixed.len(),
        c.still_failing.len(),
        c.flaky.len()
    )?;
    write_changes(out, "Newly failing", &c.newly_failing, listed)?;
    write_changes(out, "Fixed", &c.fixed, listed)?;
    write_changes(out, "Still failing", &c.still_failing, listed)?;
    if !c.flaky.is_empty() {
        writeln!(
            out,
            "\nFlaky (verdict changed twice or more in the last {} runs):",
            c.flaky_window
        )?;
        let rows: Vec<Vec<String>> = c
            .flaky
            .iter()
            .take(listed)
            .map(|f| {
                vec![
                    format!("  {}", f.priority),
                    output::sanitize(&f.id),
                    f.history.clone(),
                    format!("{} changes", f.flips),
                ]
            })
            .collect();
        aligned(out, &rows)?;
        more(out, c.flaky.len(), listed)?;
    }
    writeln!(out)?;
    if c.only_in_a + c.only_in_b > 0 {
        writeln!(
            out,
            "Scenarios: {} only in the later run, {} only in the earlier one",
            c.only_in_b, c.only_in_a
        )?;
    }
    let cost_change = c.cost_usd.after - c.cost_usd.before;
    writeln!(
        out,
        "Cost:      ${:.4} → ${:.4} ({}${:.4})",
        c.cost_usd.before,
        c.cost_usd.after,
        if cost_change < 0.0 { "-" } else { "+" },
        cost_change.abs()
    )?;
    if let Some(d) = c.duration_ms {
        writeln!(out, "Duration:  {} → {}", fmt_ms(d.before), fmt_ms(d.after))?;
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms} ms"));
    writeln!(
        out,
        "Latency:   median {} → {}, p95 {} → {}",
        opt(c.latency.median_ms.before),
        opt(c.latency.median_ms.after),
        opt(c.latency.p95_ms.before),
        opt(c.latency.p95_ms.after)
    )?;
    if !c.slower.is_empty() {
        writeln!(out, "Slower:")?;
        for s in &c.slower {
            writeln!(out, "  {}  {} ms → {} ms", output::sanitize(&s.id), s.before_ms, s.after_ms)?;
        }
    }
    Ok(())
}

fn write_changes(
    out: &mut dyn Write,
    title: &str,
    changes: &[Change],
    listed: usize,
) -> std::io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title} ({}):", changes.len())?;
    let rows: Vec<Vec<String>> = changes
        .iter()
        .take(listed)
        .map(|change| {
            let before = change.before.map_or("(new)", |s| s.as_str());
            let mut why = change.reason.as_deref().map(output::sanitize).unwrap_or_default();
            if why.chars().count() > 100 {
                why = why.chars().take(99).collect::<String>() + "…";
            }
            let why = why.replace('\n', " ");
            // A fixed scenario's reason is why it failed before.
            let why = if change.after == Status::Passed && !why.is_empty() {
                format!("was: {why}")
            } else {
                why
            };
            vec![
                format!("  {}", change.priority),
                output::sanitize(&change.id),
                format!("{before} → {}", change.after),
                if change.flaky { format!("[flaky] {why}") } else { why },
            ]
        })
        .collect();
    aligned(out, &rows)?;
    more(out, changes.len(), listed)
}

/// Rows with their columns aligned; the last column is not padded.
fn aligned(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn more(out: &mut dyn Write, total: usize, listed: usize) -> std::io::Result<()> {
    if total > listed {
        writeln!(out, "  … and {} more (--format json lists all)", total - listed)?;
    }
    Ok(())
}

fn describe_run(run: &RunRecord) -> String {
    let mut text = format!("{} ({}", short_id(&run.id), fmt_time(&run.started_at));
    if let Some(commit) = &run.git_commit {
        text.push_str(", ");
        text.extend(commit.chars().take(8));
    }
    if !run.is_finished() {
        text.push_str(", unfinished");
    }
    text.push(')');
    text
}

// ---- run --------------------------------------------------------------------------------

/// What `run` needs from the store.
#[derive(Debug, Clone)]
pub(super) struct StoreOptions {
    pub cache_dir: PathBuf,
    pub use_cache: bool,
    pub baseline: Option<String>,
    pub fail_on_regressions_only: bool,
    pub key_context: KeyContext,
    /// Which agents' whole outcomes may be reused.
    pub pinning: crate::store::Pinning,
    pub cache_ttl: std::time::Duration,
    pub config_digest: String,
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
        counts: crate::engine::StatusCounts::default(),
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
    pub(super) fn open(options: &StoreOptions, stderr: &mut dyn Write) -> Result<Self, CliError> {
        let mut run_store = RunStore { cache: None, recorder: None, baseline: Baseline::NotAsked };
        let opened = Store::open(&options.cache_dir).and_then(|recorder_store| {
            let cache =
                if options.use_cache { Some(Store::open(&options.cache_dir)?) } else { None };
            Ok((recorder_store, cache))
        });
        let (recorder_store, cache_store) = match opened {
            Ok(stores) => stores,
            Err(error) => {
                writeln!(stderr, "warning: {error}")?;
                writeln!(
                    stderr,
                    "warning: this run is not recorded{}",
                    if options.use_cache { " and uses no cache" } else { "" }
                )?;
                if options.baseline.is_some() || options.fail_on_regressions_only {
                    return Err(store_error(&error));
                }
                return Ok(run_store);
            }
        };
        let wants_baseline = options.baseline.is_some() || options.fail_on_regressions_only;
        if wants_baseline {
            let reference = options.baseline.as_deref().unwrap_or("latest");
            let baseline = match recorder_store.find_run(reference) {
                Ok(run) => Some(run),
                Err(StoreError::UnknownRun(_)) if reference == "latest" => {
                    writeln!(
                        stderr,
                        "note: no finished run is recorded in {} yet; without a baseline every \
                         failure is new",
                        options.cache_dir.display()
                    )?;
                    None
                }
                Err(error) => return Err(store_error(&error)),
            };
            let loaded =
                StoreBaseline::load(&recorder_store, baseline).map_err(|e| store_error(&e))?;
            run_store.baseline = Baseline::Asked(Arc::new(loaded));
        }
        let info = RunInfo {
            git_commit: crate::store::git_commit(Path::new(".")),
            config_digest: options.config_digest.clone(),
        };
        let mut recorder = Recorder::new(recorder_store, info);
        if let Some(store) = cache_store {
            if !options.pinning.pins_anything() {
                writeln!(
                    stderr,
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
            recorder = recorder.with_cache(&cache);
            run_store.cache = Some(cache);
        }
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

    /// After the run: warn about a failed lookup and print the baseline comparison the engine
    /// made. The exit code was decided by the engine, before the reports were written.
    pub(super) fn after_run(
        &self,
        summary: &RunSummary,
        stderr: &mut dyn Write,
    ) -> Result<(), CliError> {
        if let Some(error) = self.cache.as_ref().and_then(|c| c.take_error()) {
            writeln!(stderr, "warning: the cache could not be read, every scenario ran: {error}")?;
        }
        let Baseline::Asked(gate) = &self.baseline else { return Ok(()) };
        let comparison = gate.last.lock().ok().and_then(|mut last| last.take());
        let Some(mut comparison) = comparison else { return Ok(()) };
        writeln!(stderr)?;
        match &gate.baseline {
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
                write_comparison(stderr, &comparison, 10)?;
            }
            None => {
                writeln!(stderr, "{} newly failing (no baseline)", comparison.newly_failing.len())?;
            }
        }
        Ok(())
    }
}

// ---- formatting -------------------------------------------------------------------------

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `2026-11-25 15:08:03` (UTC) from RFC 3339.
fn fmt_time(rfc3339: &str) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map_or_else(|_| rfc3339.to_owned(), |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
}

fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let secs = ms / 1000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn fmt_bytes(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}
