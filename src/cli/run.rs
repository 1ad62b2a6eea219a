//! `rogue-runner run` (and the bare form): raw arguments → validated configuration in one step,
//! then load, plan, run, report, exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::args::{AgentProtocol, ProgressChoice, RunArgs};
use super::store::{RunStore, StoreOptions};
use super::{CliError, output, selection_from};
use crate::agent::{AgentKind, Auth, ClientOptions};
use crate::engine::{
    AgentRouting, ExitCode, ExitPolicy, Plan, ResultCache, RunOptions, Runner, StopSignal,
    StopSignalCell,
};
use crate::report::{Progress, ProgressMode, ReportFormats, ReportPaths, ReportSet};
use crate::scenario::{LoadOptions, Scenario, Selection, load_paths};
use crate::secret::Secret;
use crate::store::{KeyContext, Recorder};

/// Everything a run needs, checked before any work starts.
#[derive(Debug)]
pub(super) struct RunConfig {
    pub paths: Vec<PathBuf>,
    pub selection: Selection,
    pub load: LoadOptions,
    pub routing: AgentRouting,
    pub options: RunOptions,
    pub output_dir: PathBuf,
    pub formats: ReportFormats,
    pub progress: ProgressMode,
    /// Colour on stderr (`--color`, `NO_COLOR`).
    pub color: bool,
    /// The `-v` count.
    pub verbose: u8,
    /// Append summary.md to `$GITHUB_STEP_SUMMARY` when that is set (not `--no-step-summary`).
    pub step_summary: bool,
    pub store: StoreOptions,
    pub judge: super::judge_args::JudgeSetup,
}

impl RunConfig {
    pub(super) fn from_args(args: &RunArgs) -> Result<Self, CliError> {
        if !(0.0..=1.0).contains(&args.p0_threshold) {
            return Err(CliError::usage(
                format!("--p0-threshold {} is outside 0..1", args.p0_threshold),
                "give a fraction such as 0.8 (80% of P0 scenarios must pass)",
            ));
        }
        let mut routing =
            AgentRouting { rogue_server: args.rogue_server.clone(), ..AgentRouting::default() };
        if !(args.rogue_server.starts_with("http://") || args.rogue_server.starts_with("https://"))
        {
            return Err(CliError::usage(
                format!("--rogue-server `{}` is not an http:// or https:// URL", args.rogue_server),
                "for example --rogue-server http://localhost:8000",
            ));
        }
        for text in &args.agents {
            let (name, url) = AgentRouting::parse_override(text).map_err(|e| {
                CliError::usage(
                    e,
                    "write --agent NAME=URL, e.g. --agent qa_agent=http://localhost:9001",
                )
            })?;
            routing.overrides.insert(name, url);
        }
        let agent_kind = match args.agent_protocol {
            AgentProtocol::A2a => AgentKind::A2a,
            AgentProtocol::HttpJson => AgentKind::HttpJson {
                request_template: args.request_template.clone(),
                reply_pointer: args.reply_pointer.clone(),
            },
            AgentProtocol::Openai => AgentKind::OpenAiChat { model: args.agent_model.clone() },
        };
        let auth = match &args.auth {
            None => Auth::None,
            Some(spec) => parse_auth(spec)?,
        };
        let file = super::judge_args::load_file_config(&super::judge_args::process_env)?;
        let judge = args.judge.resolve(&super::judge_args::process_env, &file)?;
        let rogue_mode = judge.evaluator == super::judge_args::EvaluatorChoice::Rogue;
        let store = StoreOptions {
            cache_dir: args.cache_dir.clone(),
            use_cache: args.use_cache,
            baseline: args.baseline.clone(),
            fail_on_regressions_only: args.fail_on_regressions_only,
            key_context: KeyContext {
                agent_protocol: agent_kind.cache_identity(),
                judge_model: judge_key(&judge),
                ..KeyContext::default()
            },
            pinning: pinning_from(args)?,
            cache_ttl: args.cache_ttl,
            config_digest: config_digest(args),
        };
        let progress = match args.progress {
            ProgressChoice::Auto => ProgressMode::Auto,
            ProgressChoice::Bar => ProgressMode::Bar,
            ProgressChoice::Plain => ProgressMode::Plain,
            ProgressChoice::Quiet => ProgressMode::Quiet,
        };
        Ok(RunConfig {
            paths: args.scenarios_dir.clone(),
            selection: selection_from(&args.filters)?,
            load: args.input.load_options(),
            routing,
            options: RunOptions {
                parallel: args.parallel as usize,
                per_agent_parallel: args.per_agent_parallel.map(|n| n as usize),
                fail_fast: (!args.no_fail_fast).then_some(args.p0_threshold),
                max_fail: args.max_fail.map(|n| n as usize),
                client: ClientOptions {
                    timeout: args.timeout,
                    retries: args.retries,
                    max_body_bytes: args.max_body_bytes,
                    allowed_origins: args.allow_card_origin.clone(),
                    ..ClientOptions::default()
                },
                scenario_timeout: args.scenario_timeout,
                agent_kind,
                auth,
                headers: Vec::new(),
                judge: judge.judge.clone().filter(|_| !rogue_mode).map(|config| {
                    crate::judge::Judge::new(
                        config,
                        std::sync::Arc::new(judge.pricing.clone()),
                        crate::engine::http_client(args.parallel as usize),
                    )
                }),
                pricing: std::sync::Arc::new(judge.pricing.clone()),
                runs_per_day: judge.runs_per_day,
                max_cost_usd: judge.max_cost,
                rogue: rogue_mode.then(|| crate::judge::rogue_evaluator::RogueEvaluator {
                    server: args.rogue_server.clone(),
                    judge_model: None,
                    judge_api_key: judge.would_use.endpoint.api_key.clone(),
                    judge_api_base: judge.explicit_base_url.clone(),
                    poll_interval: judge.rogue_poll_interval,
                    http: crate::engine::http_client(args.parallel as usize),
                    models: Some(judge.would_use.clone()),
                    health: std::sync::Arc::default(),
                }),
                // The baseline gate is added once the store is open (see `execute_plan`).
                exit_policy: ExitPolicy {
                    allow_unassessed: args.allow_unassessed,
                    baseline: None,
                    fail_on_regressions_only: args.fail_on_regressions_only,
                    ..ExitPolicy::default()
                },
            },
            output_dir: args.output_dir.clone(),
            formats: args.formats,
            progress,
            color: crate::report::use_color(args.color, std::io::stderr().is_terminal()),
            verbose: args.verbose,
            step_summary: !args.no_step_summary,
            store,
            judge,
        })
    }
}

/// What decides which scenarios a run selects and how it judges them, for the history
/// (not --parallel, --output-dir or --progress).
fn config_digest(args: &RunArgs) -> String {
    let f = &args.filters;
    crate::store::config_digest(&serde_json::json!({
        "scenarios_dir": args.scenarios_dir,
        "priority": f.priority, "category": f.category, "tag": f.tag, "id": f.id,
        "rogue_server": args.rogue_server, "agents": args.agents,
        "agent_protocol": format!("{:?}", args.agent_protocol),
        "request_template": args.request_template, "reply_pointer": args.reply_pointer,
        "agent_model": args.agent_model,
        "fail_fast": (!args.no_fail_fast).then_some(args.p0_threshold),
        "max_fail": args.max_fail, "timeout_ms": args.timeout.as_millis() as u64,
        "retries": args.retries,
    }))
}

/// `bearer:ENV`, `api-key:HEADER:ENV`, `basic:USER:ENV` — secrets come from the environment.
fn parse_auth(spec: &str) -> Result<Auth, CliError> {
    let hint = "write --auth bearer:ENV_VAR, api-key:HEADER:ENV_VAR or basic:USER:ENV_VAR";
    let secret = |var: &str| {
        std::env::var(var).map(Secret::new).map_err(|_| {
            CliError::usage(
                format!("--auth names the environment variable {var}, which is not set"),
                format!("export {var}=… before running"),
            )
        })
    };
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["bearer", var] => Ok(Auth::Bearer(secret(var)?)),
        ["api-key", header, var] => {
            Ok(Auth::ApiKey { header: (*header).to_owned(), key: secret(var)? })
        }
        ["basic", user, var] => {
            Ok(Auth::Basic { user: (*user).to_owned(), password: secret(var)? })
        }
        _ => Err(CliError::usage(format!("--auth `{spec}` is not a known scheme"), hint)),
    }
}

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
    if warnings > 0 {
        writeln!(
            stderr,
            "note: {warnings} warning(s) in scenario files; `rogue-runner validate` shows them"
        )?;
    }
    // A shard selects from the whole selection, which it records (size and digest) so that
    // `merge` can check that the shards it is given are all of one plan.
    let partition = config.selection.partition();
    let whole = config.selection.clone().with_partition(None).apply(report.scenarios);
    if whole.is_empty() {
        writeln!(stderr, "error: no scenario matches the filters; nothing was run")?;
        writeln!(stderr, "  hint: `rogue-runner list DIR` shows what is there")?;
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

/// A shard that exits 2 before running (its scenario files cannot be loaded, nothing is
/// selected) still leaves a `results.json` with its partition and exit code, so that the
/// merge job sees which shard failed instead of a silently missing one.
fn write_failed_shard(config: &RunConfig, stderr: &mut dyn Write) -> Result<(), CliError> {
    let Some(partition) = config.selection.partition() else { return Ok(()) };
    let now = jiff::Timestamp::now().to_string();
    let mut run = crate::engine::RunSummary::build(
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

pub(super) fn run(args: &RunArgs, stderr: &mut dyn Write) -> Result<ExitCode, CliError> {
    let config = RunConfig::from_args(args)?;
    let Selected { scenarios, partition } = match load_selection(&config, stderr)? {
        Ok(s) => s,
        Err(code) => {
            write_failed_shard(&config, stderr)?;
            return Ok(code);
        }
    };
    if config.options.rogue.is_some() {
        writeln!(
            stderr,
            "evaluator: Rogue server at {} (one job per scenario, {} at once)",
            crate::agent::redact_url(&args.rogue_server),
            args.parallel
        )?;
    } else {
        describe_judge(&config.judge, stderr)?;
    }
    warn_unbounded_budget(&config, &scenarios, stderr)?;
    for found in config.routing.header_overrides(&scenarios) {
        writeln!(
            stderr,
            "warning: {} names its agent URL {}, which overrides --rogue-server for its {} scenario(s); pass --agent NAME=URL to choose",
            found.file.display(),
            crate::agent::redact_url(&found.url),
            found.scenarios
        )?;
    }
    execute_plan(&config, scenarios, partition, stderr)
}

/// `--max-cost` cannot bound calls to models the pricing table does not know: say so.
fn warn_unbounded_budget(
    config: &RunConfig,
    scenarios: &[Scenario],
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    if config.judge.max_cost.is_none() {
        return Ok(());
    }
    let agent_model = config.options.agent_kind.model();
    let mut unknown = std::collections::BTreeSet::new();
    for scenario in scenarios {
        let estimate = crate::cost::estimate_scenario(
            scenario,
            config.judge.judge.as_ref(),
            agent_model,
            &config.judge.pricing,
            &crate::cost::Assumptions::default(),
        );
        unknown.extend(estimate.unpriced_models().map(str::to_owned));
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        writeln!(
            stderr,
            "warning: --max-cost cannot bound calls to models without a price ({}); add them with --pricing FILE",
            names.join(", ")
        )?;
    }
    Ok(())
}

/// One line on stderr saying which judge rules (never the key itself).
fn describe_judge(
    setup: &super::judge_args::JudgeSetup,
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    match &setup.judge {
        Some(j) => writeln!(
            stderr,
            "judge: {} at {} (key: {}); models P0 {} / P1 {} / P2 {}{}",
            j.force_model.as_deref().map_or("per priority", |m| m),
            crate::agent::redact_url(&j.endpoint.base_url),
            setup.key_source,
            j.models.p0,
            j.models.p1,
            j.models.p2,
            j.endpoint.requests_per_minute.map_or(String::new(), |n| format!("; {n} requests/min")),
        )?,
        None => writeln!(
            stderr,
            "judge: none configured (set OPENAI_API_KEY or --judge-base-url); rubric items are not assessed"
        )?,
    }
    Ok(())
}

/// Plan and run `scenarios` with `config`, writing the standard reports.
pub(super) fn execute_plan(
    config: &RunConfig,
    scenarios: Vec<Scenario>,
    partition: Option<crate::scenario::ShardInfo>,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let mut plan = Plan::build(scenarios, &config.routing).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "Rogue files name no agent: pass --agent '*=URL' to send them to one",
        )
    })?;
    plan.partition = partition;
    let mut paths = ReportPaths::new(&config.output_dir).with_formats(config.formats);
    if config.step_summary {
        paths = paths.with_github_step_summary_from_env();
    }
    paths
        .create_dir()
        .map_err(|e| CliError::usage(e.to_string(), "choose another --output-dir"))?;
    let mut store = RunStore::open(&config.store, stderr)?;
    let mut options = config.options.clone();
    options.exit_policy.baseline = store.baseline_gate();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
            CliError::usage(
                format!("cannot start the async runtime: {e}"),
                "check the process limits",
            )
        })?;
    let progress =
        Progress::stderr(config.progress).with_color(config.color).with_verbosity(config.verbose);
    if let Some(cache) = &store.cache {
        // The judge cache rides on the same store: identical requests reuse the verdict.
        options.judge = options.judge.map(|judge| {
            judge.with_verdict_cache(Arc::clone(cache) as Arc<dyn crate::judge::VerdictCache>)
        });
    }
    let (summary, errors) = runtime.block_on(run_with_store(
        options,
        plan,
        &paths,
        progress,
        store.result_cache(),
        store.recorder.take(),
    ));
    // The reports are written and synced. Dropping the runtime would close the pooled
    // connections (up to one per --parallel slot) and free their buffers one by one on this
    // thread before the process can exit: 8-30 ms at --parallel 500. Leave that to the exit.
    runtime.shutdown_background();
    for error in errors {
        writeln!(stderr, "warning: {error}")?;
    }
    if config.progress == ProgressMode::Quiet {
        // Otherwise the recap names every report file.
        writeln!(stderr, "reports: {}", paths.dir.display())?;
    }
    store.after_run(&summary, stderr)?;
    // Decided by the engine before any report was written; every report shows this code.
    Ok(ExitCode::from_code(summary.exit_code))
}

/// Run the plan with the standard reporters; Ctrl-C stops scheduling and still writes the
/// reports, a second Ctrl-C writes what it can and exits at once.
pub(super) async fn run_with_reports(
    options: RunOptions,
    plan: Plan,
    paths: &ReportPaths,
    progress: ProgressMode,
) -> (crate::engine::RunSummary, Vec<crate::report::ReportError>) {
    run_with_store(options, plan, paths, Progress::stderr(progress), None, None).await
}

/// [`run_with_reports`], with the store's cache hook and recorder when given. The recorder
/// sees each event before the other reporters, so whatever `events.jsonl` shows finished is
/// already in the store.
pub(super) async fn run_with_store(
    options: RunOptions,
    plan: Plan,
    paths: &ReportPaths,
    progress: Progress,
    cache: Option<Arc<dyn ResultCache>>,
    recorder: Option<Recorder>,
) -> (crate::engine::RunSummary, Vec<crate::report::ReportError>) {
    let mut set = ReportSet::standard(paths, progress.with_reports(paths));
    if let Some(recorder) = recorder {
        set = set.with_first(recorder);
    }
    let reports = Arc::new(Mutex::new(set));
    let cancel = CancellationToken::new();
    let stop_signal = StopSignalCell::default();
    let interrupt = tokio::spawn({
        let cancel = cancel.clone();
        let stop_signal = Arc::clone(&stop_signal);
        let reports = Arc::clone(&reports);
        async move {
            let mut signals = StopSignals::new();
            // Ctrl-C, SIGTERM and SIGHUP take the same path: stop scheduling, write every
            // report. A second signal writes what it can and exits at once.
            if let Some(first) = signals.next().await {
                let _ = stop_signal.set(first);
                cancel.cancel();
                if let Some(second) = signals.next().await {
                    if let Ok(mut set) = reports.try_lock() {
                        set.flush_partial();
                    }
                    std::process::exit(second.exit_code().code());
                }
            }
        }
    });
    let mut runner = Runner::new(options).with_stop_signal(stop_signal);
    if let Some(cache) = cache {
        runner = runner.with_cache(cache);
    }
    let mut sink = |event: &crate::engine::RunEvent| {
        if let Ok(mut set) = reports.lock() {
            set.on_event(event);
        }
    };
    let summary = runner.run(plan, &mut sink, cancel).await;
    interrupt.abort();
    let errors = reports.lock().map(|mut set| set.take_errors()).unwrap_or_default();
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

/// What of the judge decides outcomes, for the cache key: its models (the prompt versions
/// are parts of their own), never the endpoint's credentials. `None` when no judge is
/// configured.
fn judge_key(judge: &super::judge_args::JudgeSetup) -> Option<String> {
    judge.judge.as_ref().map(|config| {
        let m = &config.models;
        let models = match &config.force_model {
            Some(force) => format!("{force} (forced)"),
            None => format!("P0 {} / P1 {} / P2 {}", m.p0, m.p1, m.p2),
        };
        match &config.driver_model {
            Some(driver) => format!("{models}, driver {driver}"),
            None => models,
        }
    })
}

/// `--agent-version [NAME=]VALUE` (repeatable) and `--trust-card-version`.
fn pinning_from(args: &RunArgs) -> Result<crate::store::Pinning, CliError> {
    let mut pinning = crate::store::Pinning {
        trust_card_version: args.trust_card_version,
        ..crate::store::Pinning::default()
    };
    for text in &args.agent_versions {
        let named = text.split_once('=').filter(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
        let (name, value) = match named {
            Some((name, value)) => (Some(name), value.trim()),
            None => (None, text.trim()),
        };
        if value.is_empty() {
            return Err(CliError::usage(
                format!("--agent-version `{text}` gives no version"),
                "write --agent-version VALUE (e.g. a commit or an image digest) or NAME=VALUE",
            ));
        }
        match name {
            Some(name) => {
                pinning.per_agent.insert(name.to_owned(), value.to_owned());
            }
            None if pinning.all.as_deref().is_some_and(|v| v != value) => {
                return Err(CliError::usage(
                    format!("--agent-version is given twice for every agent ({text})"),
                    "give one --agent-version VALUE, or NAME=VALUE per agent",
                ));
            }
            None => pinning.all = Some(value.to_owned()),
        }
    }
    Ok(pinning)
}
