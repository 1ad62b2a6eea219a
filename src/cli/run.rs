//! `rogue-runner run` (and the bare form): parse → one validated configuration → the
//! library's [`Session`] → print and exit. No policy lives here.

use std::io::Write;

use super::args::RunArgs;
use super::select::{Selected, load_selection, write_failed_shard};
use super::{CliError, config, store};
use crate::engine::Plan;
use crate::model::ExitCode;
use crate::report::ProgressMode;
use crate::session::{BaselineReport, JudgeSetup, RunConfig, Session, SessionError};

pub(super) fn run(args: &RunArgs, stderr: &mut dyn Write) -> Result<ExitCode, CliError> {
    let config = config::run_config(args)?;
    check_evaluator(&config)?;
    let selected = match load_selection(&config, stderr)? {
        Ok(s) => s,
        Err(code) => {
            write_failed_shard(&config, stderr)?;
            return Ok(code);
        }
    };
    run_selected(&config, selected, args.serve, None, stderr)
}

/// `--evaluator rogue` needs an agent protocol the Rogue server speaks.
pub(super) fn check_evaluator(config: &RunConfig) -> Result<(), CliError> {
    if config.judge.evaluator == crate::session::Evaluator::Rogue {
        crate::judge::rogue_evaluator::protocol_of(&config.options.agent_kind).map_err(|e| {
            CliError::usage(
                format!("--evaluator rogue: {e}"),
                "use --agent-protocol a2a or openai, or --evaluator llm for an http-json agent",
            )
        })?;
    }
    Ok(())
}

/// Runs the scenarios selected and prints what a person needs besides the progress and the
/// recap: how they are judged, warnings, where the reports are, the baseline comparison.
/// `run` does it once; `watch` once per change.
pub(super) fn run_selected(
    config: &RunConfig,
    Selected { scenarios, partition }: Selected,
    serve: bool,
    stop: Option<&crate::session::watch::StopRequest>,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let session = Session::new(config);
    // `-q`: notes and warnings go nowhere; errors are returned, and the progress prints the
    // one-line result.
    let dashboard =
        super::serve::before_run(serve, &config.store.cache_dir, &config.store.location(), stderr)?;
    let mut sink = std::io::sink();
    let notes: &mut dyn Write = if config.quiet { &mut sink } else { &mut *stderr };
    write_notes(config, &session, &scenarios, notes)?;
    let mut plan = Plan::build(scenarios, &config.routing).map_err(|e| unrouted_error(&e))?;
    plan.partition = partition;
    let result = session.run_until(plan, notes, stop).map_err(session_error)?;
    for error in &result.report_errors {
        writeln!(stderr, "warning: {error}")?;
    }
    let notes: &mut dyn Write = if config.quiet { &mut sink } else { &mut *stderr };
    if config.progress == ProgressMode::Quiet {
        // Otherwise the recap names every report file.
        writeln!(notes, "reports: {}", result.reports_dir.display())?;
    }
    if let Some(error) = &result.cache_error {
        writeln!(notes, "warning: the cache could not be read, every scenario ran: {error}")?;
    }
    match &result.baseline {
        None => {}
        Some(BaselineReport::Compared(comparison)) => {
            writeln!(notes)?;
            store::write_comparison(notes, comparison, 10)?;
        }
        Some(BaselineReport::NoBaseline { newly_failing }) => {
            writeln!(notes)?;
            writeln!(notes, "{newly_failing} newly failing (no baseline)")?;
        }
    }
    super::serve::after_run(dashboard, &config.store.cache_dir, &result.summary.run_id, stderr)?;
    Ok(result.exit_code)
}

/// What the run is about to do, and what might surprise: the judge or evaluator, models
/// without a price, file headers that override --rogue-server.
fn write_notes(
    config: &crate::session::RunConfig,
    session: &Session<'_>,
    scenarios: &[crate::scenario::Scenario],
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    if session.uses_rogue() {
        writeln!(
            stderr,
            "evaluator: Rogue server at {} (one job per scenario, {} at once)",
            crate::redact::redact_url(&config.rogue_server),
            config.options.parallel
        )?;
        let warnings = crate::judge::rogue_evaluator::run_warnings(
            scenarios,
            &config.options.agent_kind,
            &config.options.auth,
            config.judge.would_use.driver_model.as_deref(),
            config.options.client.timeout,
        );
        for warning in warnings {
            writeln!(stderr, "warning: {warning}")?;
        }
    } else {
        describe_judge(&config.judge, stderr)?;
    }
    let unpriced = session.unpriced_models(scenarios);
    if !unpriced.is_empty() {
        writeln!(
            stderr,
            "warning: --max-cost cannot bound calls to models without a price ({}); add them with --pricing FILE",
            unpriced.join(", ")
        )?;
    }
    for found in config.routing.header_overrides(scenarios) {
        writeln!(
            stderr,
            "warning: {} names its agent URL {}, which overrides --rogue-server for its {} scenario(s); pass --agent NAME=URL to choose",
            found.file.display(),
            crate::redact::redact_url(&found.url),
            found.scenarios
        )?;
    }
    Ok(())
}

/// Scenarios that name no agent (Rogue files, files with no agent header) and no `--agent`
/// that routes them: say how to route them.
pub(super) fn unrouted_error(error: &crate::engine::UnroutedScenarios) -> CliError {
    CliError::usage(
        error.to_string(),
        "send them to an agent with --agent 'default=URL' (only the scenarios that name no agent) or --agent '*=URL' (every agent)",
    )
}

/// A run that could not start, with what to do about it.
fn session_error(error: SessionError) -> CliError {
    match error {
        SessionError::Store(e) => store::store_error(&e),
        SessionError::OutputDir(message) => CliError::usage(message, "choose another --output-dir"),
        SessionError::Runtime(_) => CliError::usage(error.to_string(), "check the process limits"),
        SessionError::Io(e) => CliError::Io(e),
    }
}

/// One line on stderr saying which judge rules (never the key itself).
fn describe_judge(setup: &JudgeSetup, stderr: &mut dyn Write) -> Result<(), CliError> {
    match &setup.judge {
        Some(j) => writeln!(
            stderr,
            "judge: {} at {} (key: {}); models P0 {} / P1 {} / P2 {}{}",
            j.force_model.as_deref().map_or("per priority", |m| m),
            crate::redact::redact_url(&j.endpoint.base_url),
            setup.key_source,
            j.models.p0,
            j.models.p1,
            j.models.p2,
            j.endpoint.requests_per_minute.map_or(String::new(), |n| format!(
                "; {}",
                crate::http::describe_rate(n, j.endpoint.rate_share)
            )),
        )?,
        None => writeln!(
            stderr,
            "judge: none configured (set OPENAI_API_KEY or --judge-base-url); rubric items are not assessed"
        )?,
    }
    Ok(())
}
