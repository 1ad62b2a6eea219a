//! `rogue-runner list DIR…`

use std::io::Write;

use serde::Serialize;

use super::args::{ListArgs, OutputFormat};
use super::{CliError, output, selection_from};
use crate::model::ExitCode;
use crate::scenario::escape::escape_invisible;
use crate::scenario::{Sampling, Scenario, Stats, UNASSIGNED_AGENT, load_paths};

#[derive(Serialize)]
struct ListDocument<'a> {
    stats: &'a Stats,
    /// Scenarios loaded before any filter: `stats.total` of them are selected.
    loaded: usize,
    /// The seed of `--sample`, to repeat it.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    files: usize,
    errors: usize,
    warnings: usize,
    scenarios: &'a [&'a Scenario],
}

pub(super) fn run(
    args: &ListArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let selection = selection_from(&args.filters, Some(&args.sample), &|| {
        super::store::selection_location(&args.cache_dir, args.store.as_deref())
    })?;
    let report = load_paths(&args.scenarios.all(), &args.input.load_options());
    // What a run with the same flags would select (`Selection::apply` is what it uses).
    let selected: Vec<&Scenario> = selection.apply(report.scenarios.iter().collect());
    let loaded = report.scenarios.len();
    let stats = Stats::of(selected.iter().copied());
    if let Some(rerun) = selection.rerun() {
        // The same notes as `run`'s; an empty list says the rest.
        super::select::RerunCheck::of(rerun, &report.scenarios).write(
            rerun,
            selected.len(),
            stderr,
        )?;
    }
    let seed = match selection.sampling() {
        Sampling::Sample { seed, .. } => Some(seed),
        Sampling::All | Sampling::Limit(_) => None,
    };
    if let Some(seed) = seed {
        writeln!(stderr, "{}", super::select::sample_note(selected.len(), loaded, seed))?;
    }
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        output::render_diagnostics(stderr, &errors, output::stderr_color())?;
        writeln!(
            stderr,
            "{} error(s) in scenario files; the scenarios with errors are not listed (see `rogue-runner validate`)",
            errors.len()
        )?;
    }
    match args.format {
        OutputFormat::Json => {
            let doc = ListDocument {
                stats: &stats,
                loaded,
                seed,
                files: report.files.len(),
                errors: errors.len(),
                warnings: report.warning_count(),
                scenarios: if args.summary { &[] } else { &selected },
            };
            serde_json::to_writer_pretty(&mut *stdout, &doc)?;
            writeln!(stdout)?;
        }
        OutputFormat::Table => {
            if !args.summary {
                let rows: Vec<Vec<String>> = selected
                    .iter()
                    .map(|s| {
                        vec![
                            cell(&s.id),
                            s.priority.to_string(),
                            cell(&s.category),
                            agent_label(s),
                            cell(&format!(
                                "{}:{}:{}",
                                s.source.file.display(),
                                s.source.line,
                                s.source.col
                            )),
                        ]
                    })
                    .collect();
                output::table(
                    stdout,
                    &["ID", "PRI", "CATEGORY", "AGENT", "SOURCE"],
                    &rows,
                    usize::MAX,
                )?;
                writeln!(stdout)?;
            }
            write_stats(stdout, &stats, loaded, report.files.len())?;
        }
    }
    Ok(if errors.is_empty() { ExitCode::Success } else { ExitCode::Usage })
}

/// A table cell from scenario-file text: newlines, ANSI and bidi controls are shown as
/// escapes (`\n`, `\u{1B}`, `\u{202E}`), so one scenario is one row and reads as written.
fn cell(text: &str) -> String {
    escape_invisible(text).into_owned()
}

fn agent_label(s: &Scenario) -> String {
    if s.agent.name.is_empty() { UNASSIGNED_AGENT.to_owned() } else { cell(&s.agent.name) }
}

fn write_stats(
    out: &mut dyn Write,
    stats: &Stats,
    loaded: usize,
    files: usize,
) -> std::io::Result<()> {
    let p = stats.by_priority;
    // Out of how many, when the selection left some out.
    let selected = if stats.total == loaded {
        format!("{} scenario(s)", stats.total)
    } else {
        format!("{} of {loaded} scenario(s) selected", stats.total)
    };
    writeln!(out, "{selected} in {files} file(s): P0 {}, P1 {}, P2 {}", p.p0, p.p1, p.p2)?;
    writeln!(out)?;
    let counts = |c: &crate::scenario::PriorityCounts| {
        vec![c.p0.to_string(), c.p1.to_string(), c.p2.to_string(), c.total.to_string()]
    };
    let rows: Vec<Vec<String>> = stats
        .by_agent
        .iter()
        .map(|(agent, c)| {
            let mut row = vec![cell(agent)];
            row.extend(counts(c));
            row
        })
        .collect();
    output::table(out, &["AGENT", "P0", "P1", "P2", "TOTAL"], &rows, 1)?;
    writeln!(out)?;
    let mut categories: Vec<(&String, &usize)> = stats.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Vec<String>> =
        categories.iter().map(|(c, n)| vec![cell(c), n.to_string()]).collect();
    output::table(out, &["CATEGORY", "SCENARIOS"], &rows, 1)?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = stats
        .by_file
        .iter()
        .map(|(file, c)| {
            let mut row = vec![cell(&file.display().to_string())];
            row.extend(counts(c));
            row
        })
        .collect();
    output::table(out, &["FILE", "P0", "P1", "P2", "TOTAL"], &rows, 1)?;
    Ok(())
}
