//! [`Store`], the one type the rest of rogue-runner calls: the embedded SQLite file under
//! `--cache-dir` (the default), or a PostgreSQL database shared by a team (`--store
//! postgres://…`). Both backends answer every method the same way; the shared test suite
//! (`store::tests`) runs each test against both.
//!
//! A method added to the store goes on [`SqliteStore`] and [`PgStore`] and is forwarded here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dashboard::{Facets, OutcomeFilter, OutcomePage, RecentOutcome, ScenarioRun};
use super::postgres::{PgStore, PgTarget};
use super::{
    CacheKey, CacheSummary, CachedOutcome, CachedRuling, Lookup, RunRecord, RunResults, RunStart,
    SqliteStore, StoreError, StoredEntry,
};
use crate::model::{JudgeRuling, Outcome, RunSummary};

/// Where a store lives.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per command, never in a collection
pub enum Location {
    /// `store.sqlite3` in this directory (`--cache-dir`).
    Dir(PathBuf),
    /// A PostgreSQL database (`--store postgres://…`).
    Postgres(PgTarget),
}

impl Location {
    /// `--store URL` when given (a `postgres://` or `postgresql://` URL, its password from
    /// `PGPASSWORD` or a `.pgpass` file), else the SQLite file in `cache_dir`. `pool` is how
    /// many connections a PostgreSQL store may open (size it from `--parallel`).
    pub fn from_args(
        cache_dir: &Path,
        store: Option<&str>,
        pool: usize,
    ) -> Result<Location, StoreError> {
        match store.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Location::Dir(cache_dir.to_path_buf())),
            Some(url) => PgTarget::from_env(url, pool).map(Location::Postgres),
        }
    }

    /// For messages: the directory, or the URL without its credentials.
    pub fn display(&self) -> String {
        match self {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Postgres(target) => target.display().to_owned(),
        }
    }

    /// The option that picks another store, for hints.
    pub fn option(&self) -> &'static str {
        match self {
            Location::Dir(_) => "--cache-dir",
            Location::Postgres(_) => "--store",
        }
    }
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per run
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The store: the result cache and the run history. See the module docs.
#[derive(Debug)]
pub struct Store {
    backend: Backend,
}

/// Forwards `$call` to the backend.
macro_rules! forward {
    ($self:ident, $store:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($store) => $call,
            Backend::Postgres($store) => $call,
        }
    };
}

impl Store {
    /// Opens (creating the directory and the file if needed) and migrates the SQLite store in
    /// `dir`. Fails with [`StoreError::NewerSchema`] when a newer rogue-runner wrote it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        SqliteStore::open(dir).map(Store::from)
    }

    /// Opens the SQLite store in `dir` if there is one (`None` when nothing was ever
    /// recorded there), without creating anything.
    pub fn open_existing(dir: &Path) -> Result<Option<Store>, StoreError> {
        Ok(SqliteStore::open_existing(dir)?.map(Store::from))
    }

    /// [`Store::open`] at `location`: a PostgreSQL database is connected to and migrated
    /// (under an advisory lock, so that many shards starting at once migrate it once).
    pub fn open_at(location: &Location) -> Result<Store, StoreError> {
        match location {
            Location::Dir(dir) => Store::open(dir),
            Location::Postgres(target) => Ok(Store {
                backend: Backend::Postgres(PgStore::open(target, true)?.ok_or_else(|| {
                    StoreError::Postgres {
                        store: target.display().to_owned(),
                        message: "the database has no rogue-runner schema".to_owned(),
                    }
                })?),
            }),
        }
    }

    /// [`Store::open_existing`] at `location`: `None` when nothing was ever recorded there.
    pub fn open_existing_at(location: &Location) -> Result<Option<Store>, StoreError> {
        match location {
            Location::Dir(dir) => Store::open_existing(dir),
            Location::Postgres(target) => {
                Ok(PgStore::open(target, false)?.map(|pg| Store { backend: Backend::Postgres(pg) }))
            }
        }
    }

    /// The SQLite file, or the PostgreSQL URL without its credentials.
    pub fn path(&self) -> &Path {
        forward!(self, s => s.path())
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        forward!(self, s => s.schema_version())
    }

    /// `"ok"` when the store is sound (SQLite's `PRAGMA integrity_check`; PostgreSQL keeps
    /// its own integrity and answers `"ok"` when it is reachable).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        forward!(self, s => s.integrity_check())
    }

    /// One lookup.
    pub fn cache_lookup(&self, key: &CacheKey) -> Result<Lookup, StoreError> {
        forward!(self, s => s.cache_lookup(key))
    }

    /// Looks up every key at once; one slot per key, in order. An entry that no longer
    /// decodes (an older outcome format) is a miss.
    pub fn cache_lookup_many(
        &self,
        keys: &[CacheKey],
    ) -> Result<Vec<Option<CachedOutcome>>, StoreError> {
        forward!(self, s => s.cache_lookup_many(keys))
    }

    /// Stores `outcome` under `key`, replacing what was there; false (and nothing stored)
    /// when it may not be cached (see [`super::is_cacheable`]).
    pub fn cache_put(
        &self,
        key: &CacheKey,
        outcome: &Outcome,
        cost_usd: Option<f64>,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.cache_put(key, outcome, cost_usd))
    }

    /// Deletes every cached outcome and judge verdict; returns how many outcomes there were.
    pub fn cache_clear(&self) -> Result<usize, StoreError> {
        forward!(self, s => s.cache_clear())
    }

    /// Deletes entries stored more than `age` ago; returns how many outcomes.
    pub fn cache_prune(&self, age: Duration) -> Result<usize, StoreError> {
        forward!(self, s => s.cache_prune(age))
    }

    /// Every stored outcome of scenario `id`, newest first (for `cache why`).
    pub fn cache_entries_for(&self, id: &str) -> Result<Vec<StoredEntry>, StoreError> {
        forward!(self, s => s.cache_entries_for(id))
    }

    /// How many judge verdicts are stored for scenario `id`.
    pub fn judge_entries_for(&self, id: &str) -> Result<u64, StoreError> {
        forward!(self, s => s.judge_entries_for(id))
    }

    /// The judge's verdict stored under `key`, if any.
    pub fn judge_lookup(&self, key: &str) -> Result<Option<CachedRuling>, StoreError> {
        forward!(self, s => s.judge_lookup(key))
    }

    /// Stores the judge's verdict on `scenario_id` under `key`, replacing what was there.
    pub fn judge_put(
        &self,
        key: &str,
        scenario_id: &str,
        ruling: &JudgeRuling,
        cost_usd: Option<f64>,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.judge_put(key, scenario_id, ruling, cost_usd))
    }

    /// Counts for `cache stats`.
    pub fn cache_summary(&self) -> Result<CacheSummary, StoreError> {
        forward!(self, s => s.cache_summary())
    }

    /// Records that a run started. Recording the same run twice keeps the first.
    pub fn record_run_started(&self, start: &RunStart) -> Result<(), StoreError> {
        forward!(self, s => s.record_run_started(start))
    }

    /// Records one finished outcome of run `run_id`, and with `cache` (its key and cost)
    /// stores it in the cache too, atomically: once this returns, a crash loses neither.
    pub fn record_outcome(
        &self,
        run_id: &str,
        outcome: &Outcome,
        cache: Option<(&CacheKey, Option<f64>)>,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.record_outcome(run_id, outcome, cache))
    }

    /// Records finished outcomes of run `run_id`, each with its cache entry when given, in one
    /// transaction: the recorder's group commit.
    pub fn record_outcome_batch(
        &self,
        run_id: &str,
        batch: &[super::OutcomeWrite<'_>],
    ) -> Result<(), StoreError> {
        forward!(self, s => s.record_outcome_batch(run_id, batch))
    }

    /// Records several finished outcomes of run `run_id` at once, without touching the cache.
    pub fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.record_outcomes(run_id, outcomes))
    }

    /// Records a run's totals. Returns false when the run was never recorded as started.
    pub fn finish_run(&self, summary: &RunSummary) -> Result<bool, StoreError> {
        forward!(self, s => s.finish_run(summary))
    }

    /// The last `limit` runs, newest first (finished or not).
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        forward!(self, s => s.runs(limit))
    }

    /// The last `limit` finished runs that started no later than `until` (the newest run when
    /// `None`), oldest first.
    pub fn finished_runs_until(
        &self,
        until: Option<&RunRecord>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        forward!(self, s => s.finished_runs_until(until, limit))
    }

    /// A run by its id, a unique prefix of it, or `latest` (the newest finished run).
    pub fn find_run(&self, reference: &str) -> Result<RunRecord, StoreError> {
        forward!(self, s => s.find_run(reference))
    }

    /// The scenarios recorded for `run`, by id.
    pub fn run_results(&self, run: RunRecord) -> Result<RunResults, StoreError> {
        forward!(self, s => s.run_results(run))
    }

    /// Keeps a shard's `results.json` for `merge --store`. The shared store only: SQLite
    /// shards keep theirs in their --output-dir, and this does nothing.
    pub fn record_document(&self, run_id: &str, results_json: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => p.record_document(run_id, results_json),
        }
    }

    /// The shards of one partitioned run as `(run id, results.json)` (see
    /// [`PgStore::shard_documents`]); none in a SQLite store.
    pub fn shard_documents(
        &self,
        anchor: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Vec::new()),
            Backend::Postgres(p) => p.shard_documents(anchor),
        }
    }

    /// Runs SQL that both backends understand, for tests that backdate entries.
    #[cfg(test)]
    pub(crate) fn execute_for_tests(&self, sql: &str) {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres(p) => p.execute_for_tests(sql),
        }
    }
}

impl From<SqliteStore> for Store {
    fn from(store: SqliteStore) -> Self {
        Store { backend: Backend::Sqlite(store) }
    }
}

/// The dashboard's reads (`store::dashboard`), answered the same by both backends.
impl Store {
    /// [`SqliteStore::record_run_tags`].
    pub fn record_run_tags<'a>(
        &self,
        run_id: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.record_run_tags(run_id, tags))
    }

    /// [`SqliteStore::outcome_page`].
    pub fn outcome_page(
        &self,
        run_id: &str,
        filter: &OutcomeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<OutcomePage, StoreError> {
        forward!(self, s => s.outcome_page(run_id, filter, offset, limit))
    }

    /// [`SqliteStore::run_facets`].
    pub fn run_facets(&self, run_id: &str) -> Result<Facets, StoreError> {
        forward!(self, s => s.run_facets(run_id))
    }

    /// [`SqliteStore::outcome_record`].
    pub fn outcome_record(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Option<Outcome>, StoreError> {
        forward!(self, s => s.outcome_record(run_id, scenario_id))
    }

    /// [`SqliteStore::scenario_tags`].
    pub fn scenario_tags(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.scenario_tags(run_id, scenario_id))
    }

    /// [`SqliteStore::scenario_history`].
    pub fn scenario_history(
        &self,
        scenario_id: &str,
        limit: usize,
    ) -> Result<Vec<ScenarioRun>, StoreError> {
        forward!(self, s => s.scenario_history(scenario_id, limit))
    }

    /// [`SqliteStore::run_latencies`].
    pub fn run_latencies(&self, run_id: &str) -> Result<Vec<u64>, StoreError> {
        forward!(self, s => s.run_latencies(run_id))
    }

    /// [`SqliteStore::runs_of_selection`].
    pub fn runs_of_selection(&self, selection_digest: &str) -> Result<Vec<RunRecord>, StoreError> {
        forward!(self, s => s.runs_of_selection(selection_digest))
    }

    /// [`SqliteStore::run_ids`].
    pub fn run_ids(&self, limit: usize) -> Result<Vec<(String, bool)>, StoreError> {
        forward!(self, s => s.run_ids(limit))
    }

    /// [`SqliteStore::finished_run_ids_until`].
    pub fn finished_run_ids_until(
        &self,
        until: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.finished_run_ids_until(until, limit))
    }

    /// [`SqliteStore::newest_unfinished_run`].
    pub fn newest_unfinished_run(&self) -> Result<Option<RunRecord>, StoreError> {
        forward!(self, s => s.newest_unfinished_run())
    }

    /// [`SqliteStore::recent_failures`].
    pub fn recent_failures(
        &self,
        run_ids: &[String],
        limit: usize,
    ) -> Result<Vec<RecentOutcome>, StoreError> {
        forward!(self, s => s.recent_failures(run_ids, limit))
    }

    /// [`SqliteStore::last_recorded_ms`].
    pub fn last_recorded_ms(&self, run_ids: &[String]) -> Result<Option<i64>, StoreError> {
        forward!(self, s => s.last_recorded_ms(run_ids))
    }
}
