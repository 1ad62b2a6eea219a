//! `rogue-runner run` (and the bare form): parse → one validated configuration → the
//! library's [`Session`] → print and exit. No policy lives here.

use std::io::Write;

use super::args::RunArgs;
use super::select::{Selected, load_selection, write_failed_shard};
use super::{CliError, config, store};
use crate::engine::Plan;
use crate::model::ExitCode;
use crate::report::ProgressMode;
use crate::session::{BaselineReport, JudgeSetup, Session, SessionError};

pub(super) fn run(args: &RunArgs, stderr: &mut dyn Write) -> Result<ExitCode, CliError> {
    let config = config::run_config(args)?;
    if config.judge.evaluator == crate::session::Evaluator::Rogue {
        crate::judge::rogue_evaluator::protocol_of(&config.options.agent_kind).map_err(|e| {
            CliError::usage(
                format!("--evaluator rogue: {e}"),
                "use --agent-protocol a2a or openai, or --evaluator llm for an http-json agent",
            )
        })?;
    }
    let Selected { scenarios, partition } = match load_selection(&config, stderr)? {
        Ok(s) => s,
        Err(code) => {
            write_failed_shard(&config, stderr)?;
            return Ok(code);
        }
    };
    let session = Session::new(&config);
    if session.uses_rogue() {
        writeln!(
            stderr,
            "evaluator: Rogue server at {} (one job per scenario, {} at once)",
            crate::redact::redact_url(&config.rogue_server),
            config.options.parallel
        )?;
        let warnings = crate::judge::rogue_evaluator::run_warnings(
            &scenarios,
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
    let unpriced = session.unpriced_models(&scenarios);
    if !unpriced.is_empty() {
        writeln!(
            stderr,
            "warning: --max-cost cannot bound calls to models without a price ({}); add them with --pricing FILE",
            unpriced.join(", ")
        )?;
    }
    for found in config.routing.header_overrides(&scenarios) {
        writeln!(
            stderr,
            "warning: {} names its agent URL {}, which overrides --rogue-server for its {} scenario(s); pass --agent NAME=URL to choose",
            found.file.display(),
            crate::redact::redact_url(&found.url),
            found.scenarios
        )?;
    }
    let mut plan = Plan::build(scenarios, &config.routing).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "Rogue files name no agent: pass --agent '*=URL' to send them to one",
        )
    })?;
    plan.partition = partition;
    let dashboard = super::serve::before_run(args.serve, &config.store.cache_dir, stderr)?;
    let result = session.run(plan, stderr).map_err(session_error)?;
    for error in &result.report_errors {
        writeln!(stderr, "warning: {error}")?;
    }
    if config.progress == ProgressMode::Quiet {
        // Otherwise the recap names every report file.
        writeln!(stderr, "reports: {}", result.reports_dir.display())?;
    }
    if let Some(error) = &result.cache_error {
        writeln!(stderr, "warning: the cache could not be read, every scenario ran: {error}")?;
    }
    match &result.baseline {
        None => {}
        Some(BaselineReport::Compared(comparison)) => {
            writeln!(stderr)?;
            store::write_comparison(stderr, comparison, 10)?;
        }
        Some(BaselineReport::NoBaseline { newly_failing }) => {
            writeln!(stderr)?;
            writeln!(stderr, "{newly_failing} newly failing (no baseline)")?;
        }
    }
    super::serve::after_run(dashboard, &config.store.cache_dir, &result.summary.run_id, stderr)?;
    Ok(result.exit_code)
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
            j.endpoint.requests_per_minute.map_or(String::new(), |n| format!("; {n} requests/min")),
        )?,
        None => writeln!(
            stderr,
            "judge: none configured (set OPENAI_API_KEY or --judge-base-url); rubric items are not assessed"
        )?,
    }
    Ok(())
}
