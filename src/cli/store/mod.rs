//! `cache`, `history` and `compare`: one file per subcommand, and the one way they open the
//! store (once per command) and explain its errors.

mod cache;
mod compare;
mod history;
mod why;

use std::io::Write;
use std::path::Path;

pub(super) use cache::cache;
pub(super) use compare::{compare, write_comparison};
pub(super) use history::history;

use super::CliError;
use crate::store::{Store, StoreError};

/// Changes listed per category before "… and N more".
pub(super) const LISTED: usize = 20;

pub(super) fn store_error(error: &StoreError) -> CliError {
    let hint = match error {
        StoreError::UnknownRun(_) | StoreError::AmbiguousRun { .. } => {
            "`rogue-runner history` lists the recorded runs and their ids"
        }
        StoreError::NewerSchema { .. } => "upgrade rogue-runner, or choose another --cache-dir",
        _ => "check --cache-dir; `rogue-runner cache clear` starts the cache afresh",
    };
    CliError::usage(error.to_string(), hint)
}

/// Opens the store in `dir` when there is one (`None`: nothing recorded yet).
pub(super) fn open_existing(dir: &Path) -> Result<Option<Store>, CliError> {
    Store::open_existing(dir).map_err(|e| store_error(&e))
}

pub(super) fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `2026-11-25 15:08:03` (UTC) from RFC 3339.
pub(super) fn fmt_time(rfc3339: &str) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map_or_else(|_| rfc3339.to_owned(), |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
}

pub(super) fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let secs = ms / 1000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

pub(super) fn fmt_bytes(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// Rows with their columns aligned; the last column is not padded.
pub(super) fn aligned(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
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
