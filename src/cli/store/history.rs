//! `history`: the runs recorded in --cache-dir, newest first.

use std::io::Write;

use super::{fmt_time, location, open_existing, short_id, store_error};
use crate::cli::args::{HistoryArgs, OutputFormat};
use crate::cli::{CliError, output};
use crate::model::ExitCode;
use crate::store::RunRecord;
use crate::text::{self, LargestUnit};

pub(in crate::cli) fn history(
    args: &HistoryArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let location = location(&args.dir)?;
    let runs = match open_existing(&location)? {
        Some(store) => store.runs(args.limit).map_err(|e| store_error(&e))?,
        None => Vec::new(),
    };
    if args.format == OutputFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
        return Ok(ExitCode::Success);
    }
    if runs.is_empty() {
        writeln!(out, "No run is recorded in {} yet.", location.display())?;
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
            Some(ms) if run.is_finished() => text::duration_ms_up_to(ms, LargestUnit::Minutes),
            _ => "unfinished".to_owned(),
        },
        format!("${:.4}", run.cost_usd),
    ]
}
