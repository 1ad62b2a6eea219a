//! `rogue-runner validate DIR…`

use std::io::Write;

use serde::Serialize;

use super::args::{OutputFormat, ValidateArgs};
use super::output;
use super::{CliError, selection_from};
use crate::model::ExitCode;
use crate::scenario::{Diagnostic, LoadedFile, Stats, load_paths};

#[derive(Serialize)]
struct ValidateDocument<'a> {
    files: &'a [LoadedFile],
    scenarios: usize,
    errors: usize,
    warnings: usize,
    stats: Stats,
    diagnostics: Vec<&'a Diagnostic>,
}

pub(super) fn run(
    args: &ValidateArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let selection = selection_from(&args.filters, None, &|| {
        super::store::selection_location(&args.cache_dir, args.store.as_deref())
    })?;
    let report = load_paths(&args.scenarios.all(), &args.input.load_options());
    let selected: Vec<_> = report.scenarios.iter().filter(|s| selection.matches(s)).collect();
    let stats = Stats::of(selected.iter().copied());
    let shown: Vec<&Diagnostic> =
        report.diagnostics.iter().filter(|d| d.is_error() || !args.quiet).collect();
    let errors = report.error_count();
    let warnings = report.warning_count();
    match args.format {
        OutputFormat::Json => {
            let doc = ValidateDocument {
                files: &report.files,
                scenarios: stats.total,
                errors,
                warnings,
                stats: stats.clone(),
                diagnostics: shown,
            };
            serde_json::to_writer_pretty(&mut *stdout, &doc)?;
            writeln!(stdout)?;
        }
        OutputFormat::Table => {
            output::render_diagnostics(stderr, &shown, output::stderr_color())?;
            let p = stats.by_priority;
            writeln!(
                stdout,
                "checked {} file(s): {} scenario(s) (P0 {}, P1 {}, P2 {}); {} error(s), {} warning(s)",
                report.files.len(),
                stats.total,
                p.p0,
                p.p1,
                p.p2,
                errors,
                warnings
            )?;
        }
    }
    Ok(if errors > 0 { ExitCode::Usage } else { ExitCode::Success })
}
