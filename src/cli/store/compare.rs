//! `compare A B`: what changed between two recorded runs; also the text a run with
//! `--baseline` prints after it.

use std::io::Write;

use super::{LISTED, aligned, fmt_time, location, open_existing, short_id, store_error};
use crate::cli::args::{CompareArgs, OutputFormat};
use crate::cli::{CliError, output};
use crate::model::{ExitCode, Status};
use crate::store::{Change, Comparison, RunRecord, Store};
use crate::text::{self, LargestUnit};

pub(in crate::cli) fn compare(
    args: &CompareArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let location = location(&args.dir)?;
    let dir = location.display();
    let Some(store) = open_existing(&location)? else {
        return Err(CliError::usage(
            format!("no run is recorded in {dir} yet"),
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
                        "{} finished run(s) are recorded in {dir}; compare needs two",
                        last.len(),
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
    let page = format!("/compare?a={}&b={}", comparison.a.id, comparison.b.id);
    crate::cli::serve::hint(&args.dir.cache_dir, &page, err)?;
    Ok(ExitCode::Success)
}

fn find(store: &Store, reference: &str) -> Result<RunRecord, CliError> {
    store.find_run(reference).map_err(|e| store_error(&e))
}

/// The text form of a comparison; lists hold at most `listed` scenarios each.
pub(in crate::cli) fn write_comparison(
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
        writeln!(
            out,
            "Duration:  {} → {}",
            text::duration_ms_up_to(d.before, LargestUnit::Minutes),
            text::duration_ms_up_to(d.after, LargestUnit::Minutes)
        )?;
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
