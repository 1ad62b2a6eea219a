//! `cache stats`, `cache clear`, `cache prune` (and the dispatch to `cache why`).

use std::io::Write;
use std::path::Path;

use super::{fmt_time, store_error};
use crate::cli::CliError;
use crate::cli::args::{CacheAction, CacheArgs, OutputFormat};
use crate::model::ExitCode;
use crate::store::{Store, StoreError};
use crate::text::{self, ByteStyle};

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

pub(in crate::cli) fn cache(
    args: &CacheArgs,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    if let CacheAction::Why(why_args) = &args.action {
        return super::why::why(why_args, out, stderr);
    }
    let dir = &args.dir.cache_dir;
    let location = super::location(&args.dir)?;
    let opened = match Store::open_existing_at(&location) {
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
                location.display()
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
                text::bytes(stats.size_bytes, ByteStyle::Size)
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
                location.display()
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
