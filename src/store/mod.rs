//! The store: one SQLite database per `--cache-dir` (WAL, safe for two runs at once), or one
//! PostgreSQL database a team shares (`--store postgres://…`), holding the result cache and
//! the run history (design §8). [`Store`] is the one type the rest of rogue-runner calls;
//! it picks the backend by [`Location`].
//!
//! ```text
//! plan ──► Runner ──lookup──► RunCache ──┐            (one read transaction)
//!            │                           ├──► store.sqlite3: cache, runs, run_scenarios
//!            └─RunEvent──► Recorder ─────┘            (one short write per finished outcome)
//! history / compare / --baseline ──► Store::runs, find_run, run_results ──► compare()
//! ```
//!
//! - [`backend`]: [`Store`], forwarding each call to [`SqliteStore`] or [`postgres::PgStore`];
//! - [`postgres`]: the shared backend: pool, TLS, password from the environment, migrations
//!   under an advisory lock, upserts;
//! - [`db`]: opening, pragmas (WAL, `synchronous=NORMAL`, busy timeout), schema migrations,
//!   and the refusal to write a file from a newer rogue-runner;
//! - [`cache_key`]: what a cached result depends on;
//! - [`cache`]: lookups and writes, what is cacheable, `cache stats|clear|prune`;
//! - [`history`]: runs and their scenarios;
//! - [`compare`]: newly failing, fixed, still failing, flaky, cost and latency;
//! - [`recorder`]: the engine and report hooks a run plugs in.

mod backend;
pub mod cache;
pub mod cache_key;
pub mod compare;
pub mod dashboard;
pub mod db;
mod error;
pub mod history;
pub mod postgres;
pub mod recorder;
#[cfg(test)]
mod tests;

pub use backend::{Location, Store};
pub use cache::{
    CacheSummary, CachedOutcome, CachedRuling, Lookup, StoredEntry, is_cacheable, now_ms,
    within_ttl,
};
pub use cache_key::{
    ASSERTION_SEMANTICS_VERSION, AgentIdentity, CacheKey, KEY_VERSION, KeyContext, KeyPart,
    KeyParts, Pinning, agent_parts, cache_key, key_parts, key_parts_with,
};
pub use compare::{Change, Comparison, DEFAULT_FLAKY_WINDOW, Flaky, compare};
pub use db::{SCHEMA_VERSION, STORE_FILE_NAME, SqliteStore};
pub use error::StoreError;
pub use history::{OutcomeWrite, RunRecord, RunResults, RunStart, ScenarioRecord, git_commit};
pub use postgres::{POSTGRES_SCHEMA_VERSION, PgTarget};
pub use recorder::{DEFAULT_CACHE_TTL, Recorder, RunCache, RunInfo, SharedStore};

/// A short digest of a run's configuration, for the history: runs with the same digest ran
/// the same selection the same way.
pub fn config_digest(config: &impl serde::Serialize) -> String {
    let mut digest = crate::digest::digest_hex(config);
    digest.truncate(16);
    digest
}

impl Store {
    /// The comparison of run `a` with run `b` (ids, unique prefixes or `latest`), with the
    /// last `window` finished runs up to `b` for flaky detection.
    pub fn compare_runs(
        &self,
        a: &RunRecord,
        b: &RunRecord,
        window: usize,
    ) -> Result<Comparison, StoreError> {
        let runs = self.finished_runs_until(Some(b), window)?;
        let mut results = Vec::with_capacity(runs.len() + 1);
        for run in runs {
            results.push(self.run_results(run)?);
        }
        // An unfinished B is not in the window of finished runs; it still ends it.
        if window > 0 && results.last().is_none_or(|r| r.run.id != b.id) {
            if results.len() == window {
                results.remove(0);
            }
            results.push(self.run_results(b.clone())?);
        }
        let a = self.run_results(a.clone())?;
        let b = match results.last() {
            Some(last) if last.run.id == b.id => last.clone(),
            _ => self.run_results(b.clone())?,
        };
        Ok(compare(&a, &b, &results))
    }
}
