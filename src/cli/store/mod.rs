//! `cache`, `history` and `compare`: one file per subcommand, and the one way they open the
//! store (once per command) and explain its errors.

mod cache;
mod compare;
mod history;
mod why;

use std::io::Write;

pub(super) use cache::cache;
pub(super) use compare::{compare, write_comparison};
pub(super) use history::history;

use super::CliError;
use crate::cli::args::CacheDirArg;
use crate::store::{Location, Store, StoreError};
use crate::text;

/// Changes listed per category before "… and N more".
pub(super) const LISTED: usize = 20;

pub(super) fn store_error(error: &StoreError) -> CliError {
    let hint = match error {
        StoreError::UnknownRun(_) | StoreError::AmbiguousRun { .. } => {
            "`rogue-runner history` lists the recorded runs and their ids"
        }
        StoreError::NewerSchema { instead: "--store", .. } => {
            "upgrade rogue-runner, or choose another --store"
        }
        StoreError::NewerSchema { .. } => "upgrade rogue-runner, or choose another --cache-dir",
        StoreError::Postgres { .. } | StoreError::BadUrl { .. } => {
            "check --store (ROGUE_STORE_URL, or [store] url in rogue-runner.toml) and that the \
             server is reachable; the password comes from PGPASSWORD or ~/.pgpass"
        }
        _ => "check --cache-dir; `rogue-runner cache clear` starts the cache afresh",
    };
    CliError::usage(error.to_string(), hint)
}

/// Where `history`, `compare`, `cache` and `serve` find the store: as [`selection_location`].
pub(in crate::cli) fn location(dir: &CacheDirArg) -> Result<Location, CliError> {
    selection_location(&dir.cache_dir, dir.store.as_deref())
}

/// The store a command reads, found as `run` finds the store it records into: `--store URL`
/// (or `ROGUE_STORE_URL`), else `[store] url` in the config file, else the SQLite file in
/// `cache_dir`.
pub(in crate::cli) fn selection_location(
    cache_dir: &std::path::Path,
    store: Option<&str>,
) -> Result<Location, CliError> {
    let from_file;
    let url = match store {
        Some(url) => Some(url),
        None => {
            from_file = super::config::load_file_config(&super::config::process_env)?.store.url;
            from_file.as_deref()
        }
    };
    Location::from_args(cache_dir, url, 2).map_err(|e| store_error(&e))
}

/// Opens the store at `location` when there is one (`None`: nothing recorded yet).
pub(super) fn open_existing(location: &Location) -> Result<Option<Store>, CliError> {
    Store::open_existing_at(location).map_err(|e| store_error(&e))
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

/// Rows with their columns aligned ([`text::table`]); the last column is not padded.
pub(super) fn aligned(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    for line in text::table(rows, usize::MAX) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
