//! The result cache: outcomes by [`CacheKey`].
//!
//! What is cached: the outcome of every conversation that reached an end — `passed`,
//! `failed`, and `skipped` after a conversation because nothing in the replies could be
//! checked (that depends only on the replies and on the judge, which is in the key). Never
//! `error` (infrastructure: the next run should try again), and never a `skipped` that had no
//! conversation (fail-fast, `--max-fail`, budget, interrupt, or no deterministic check at
//! all: those are decided afresh by each run, without talking to the agent).
//!
//! A hit comes back as the outcome it was, with `cached: true`, `cache: outcome`,
//! `duration_ms: 0` and `cost_usd` zero when it had a cost (this run spent nothing on it); the
//! id, priority, category, agent and source are the current scenario's. The actual cost it had
//! when it ran (its priced LLM calls, $0 when it made none) is what the hit saved; a file's
//! `cost_estimate` never is. A run
//! reuses an entry only when the agent's identity is pinned and the entry is younger than
//! the TTL (`store::RunCache`); every entry keeps the parts of its key for `cache why`.
//!
//! Beside the outcomes, the judge cache keeps the LLM judge's verdicts by the exact request
//! the judge was sent (transcript, rubric, model, prompt versions): a run that talked to the
//! agent again and got the same conversation reuses the verdict instead of paying for it.

use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::{CacheKey, KeyParts, SqliteStore, StoreError};
use crate::model::{JudgeRuling, Outcome, Status};

/// Whether an outcome may be cached (see the module docs).
pub fn is_cacheable(outcome: &Outcome) -> bool {
    match outcome.status {
        Status::Passed | Status::Failed => true,
        // `attempts` is 0 exactly when no request was made.
        Status::Skipped | Status::Unassessed => outcome.attempts > 0,
        Status::Error => false,
    }
}

/// The answer of one lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Hit(Box<CachedOutcome>),
    Miss,
}

/// A cached outcome as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedOutcome {
    /// As it was recorded (`cached: false`).
    pub outcome: Outcome,
    /// What producing it cost, measured or estimated (USD).
    pub cost_usd: Option<f64>,
    /// When it was stored, Unix milliseconds.
    pub created_ms: i64,
}

/// A stored outcome as `cache why` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub key: String,
    pub status: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// `None` for entries stored before the parts were kept.
    pub parts: Option<KeyParts>,
}

/// A judge verdict as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedRuling {
    pub ruling: JudgeRuling,
    /// What the judge's calls cost when it ruled (USD).
    pub cost_usd: Option<f64>,
    /// Unix milliseconds.
    pub created_ms: i64,
}

/// Whether an entry stored at `created_ms` is still within `ttl` at `now_ms`.
pub fn within_ttl(created_ms: i64, ttl: Duration, now_ms: i64) -> bool {
    now_ms.saturating_sub(created_ms) <= i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// `cache stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CacheSummary {
    pub path: String,
    pub schema_version: i64,
    pub entries: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Summed cost of the cached results (what one fully cached rerun saves), USD.
    pub cost_usd: f64,
    /// Judge verdicts kept by transcript (the judge cache).
    pub judge_entries: u64,
    /// RFC 3339, `None` when empty.
    pub oldest: Option<String>,
    pub newest: Option<String>,
    /// Runs in the history.
    pub runs: u64,
    /// The SQLite file with its WAL, bytes.
    pub size_bytes: u64,
}

impl SqliteStore {
    /// One lookup.
    pub fn cache_lookup(&self, key: &CacheKey) -> Result<Lookup, StoreError> {
        let found = self.cache_lookup_many(std::slice::from_ref(key))?;
        Ok(match found.into_iter().next().flatten() {
            Some(hit) => Lookup::Hit(Box::new(hit)),
            None => Lookup::Miss,
        })
    }

    /// Looks up every key in one read transaction; one slot per key, in order. An entry that
    /// no longer decodes (an older outcome format) is a miss.
    pub fn cache_lookup_many(
        &self,
        keys: &[CacheKey],
    ) -> Result<Vec<Option<CachedOutcome>>, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sqlite(e))?;
        let mut found = Vec::with_capacity(keys.len());
        {
            let mut select = tx
                .prepare_cached(
                    "SELECT outcome_json, cost_usd, created_ms FROM cache WHERE key = ?1",
                )
                .map_err(|e| self.sqlite(e))?;
            for key in keys {
                let row = select
                    .query_row([key.as_str()], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, Option<f64>>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    })
                    .optional()
                    .map_err(|e| self.sqlite(e))?;
                found.push(row.and_then(|(json, cost_usd, created_ms)| {
                    let outcome: Outcome = serde_json::from_str(&json).ok()?;
                    Some(CachedOutcome { outcome, cost_usd, created_ms })
                }));
            }
        }
        tx.finish().map_err(|e| self.sqlite(e))?;
        Ok(found)
    }

    /// Stores `outcome` under `key`, replacing what was there. Returns false (and stores
    /// nothing) when the outcome may not be cached: see [`is_cacheable`]; a cached outcome is
    /// not stored again either.
    pub fn cache_put(
        &self,
        key: &CacheKey,
        outcome: &Outcome,
        cost_usd: Option<f64>,
    ) -> Result<bool, StoreError> {
        self.write(|tx| put(tx, key, outcome, cost_usd))
    }

    /// Deletes every entry, outcomes and judge verdicts; returns how many outcomes there
    /// were. The history stays.
    pub fn cache_clear(&self) -> Result<usize, StoreError> {
        let deleted = self.conn.execute("DELETE FROM cache", []).map_err(|e| self.sqlite(e))?;
        self.conn.execute("DELETE FROM judge_cache", []).map_err(|e| self.sqlite(e))?;
        self.vacuum_wal();
        Ok(deleted)
    }

    /// Deletes entries (outcomes and judge verdicts) stored more than `age` ago; returns how
    /// many outcomes.
    pub fn cache_prune(&self, age: Duration) -> Result<usize, StoreError> {
        let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let deleted = self
            .conn
            .execute("DELETE FROM cache WHERE created_ms < ?1", [cutoff])
            .map_err(|e| self.sqlite(e))?;
        self.conn
            .execute("DELETE FROM judge_cache WHERE created_ms < ?1", [cutoff])
            .map_err(|e| self.sqlite(e))?;
        self.vacuum_wal();
        Ok(deleted)
    }

    /// Every stored outcome of scenario `id`, newest first (for `cache why`).
    pub fn cache_entries_for(&self, id: &str) -> Result<Vec<StoredEntry>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached(
                "SELECT key, status, created_ms, parts_json FROM cache
                 WHERE scenario_id = ?1 ORDER BY created_ms DESC",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = select
            .query_map([id], |row| {
                Ok(StoredEntry {
                    key: row.get(0)?,
                    status: row.get(1)?,
                    created_ms: row.get(2)?,
                    parts: row
                        .get::<_, Option<String>>(3)?
                        .and_then(|json| serde_json::from_str(&json).ok()),
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sqlite(e))
    }

    /// How many judge verdicts are stored for scenario `id`.
    pub fn judge_entries_for(&self, id: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM judge_cache WHERE scenario_id = ?1", [id], |row| {
                row.get::<_, i64>(0)
            })
            .map(i64::unsigned_abs)
            .map_err(|e| self.sqlite(e))
    }

    /// The judge's verdict stored under `key`, if any (one that no longer decodes misses).
    pub fn judge_lookup(&self, key: &str) -> Result<Option<CachedRuling>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT ruling_json, cost_usd, created_ms FROM judge_cache WHERE key = ?1",
            )
            .map_err(|e| self.sqlite(e))?
            .query_row([key], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Option<f64>>(1)?, row.get::<_, i64>(2)?))
            })
            .optional()
            .map_err(|e| self.sqlite(e))?;
        Ok(row.and_then(|(json, cost_usd, created_ms)| {
            let ruling = serde_json::from_str(&json).ok()?;
            Some(CachedRuling { ruling, cost_usd, created_ms })
        }))
    }

    /// Stores the judge's verdict on `scenario_id` under `key`, replacing what was there.
    pub fn judge_put(
        &self,
        key: &str,
        scenario_id: &str,
        ruling: &JudgeRuling,
        cost_usd: Option<f64>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let json = serde_json::to_string(ruling)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO judge_cache
                     (key, scenario_id, ruling_json, cost_usd, created_ms, tool_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute((
                key,
                scenario_id,
                json,
                cost_usd,
                now_ms(),
                env!("CARGO_PKG_VERSION"),
            ))?;
            Ok(())
        })
    }

    /// Counts for `cache stats`.
    pub fn cache_summary(&self) -> Result<CacheSummary, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sqlite(e))?;
        let (entries, passed, failed, skipped, cost_usd, oldest, newest) = tx
            .query_row(
                "SELECT COUNT(*),
                        COALESCE(SUM(status = 'passed'), 0),
                        COALESCE(SUM(status = 'failed'), 0),
                        COALESCE(SUM(status = 'skipped'), 0),
                        COALESCE(SUM(cost_usd), 0.0),
                        MIN(created_ms), MAX(created_ms)
                 FROM cache",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, f64>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                        row.get::<_, Option<i64>>(6)?,
                    ))
                },
            )
            .map_err(|e| self.sqlite(e))?;
        let runs: i64 = tx
            .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        let judge_entries: i64 = tx
            .query_row("SELECT COUNT(*) FROM judge_cache", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        tx.finish().map_err(|e| self.sqlite(e))?;
        let size_bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path().as_os_str().to_owned();
                name.push(suffix);
                fs_err::metadata(std::path::PathBuf::from(name)).ok().map(|m| m.len())
            })
            .sum();
        Ok(CacheSummary {
            path: self.path().display().to_string(),
            schema_version: self.schema_version()?,
            entries: entries.unsigned_abs(),
            passed: passed.unsigned_abs(),
            failed: failed.unsigned_abs(),
            skipped: skipped.unsigned_abs(),
            cost_usd,
            judge_entries: judge_entries.unsigned_abs(),
            oldest: oldest.map(rfc3339),
            newest: newest.map(rfc3339),
            runs: runs.unsigned_abs(),
            size_bytes,
        })
    }

    fn put_error(&self, error: PutError) -> StoreError {
        match error {
            PutError::Sqlite(e) => self.sqlite(e),
            PutError::Json(e) => self.json(e),
        }
    }

    /// Gives the space of deleted rows back to the file system, best effort.
    fn vacuum_wal(&self) {
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`, so it waits up to the busy
    /// timeout for another process's write instead of failing when it upgrades a read).
    pub(super) fn write<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, PutError>,
    ) -> Result<T, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.sqlite(e))?;
        // Dropping the transaction on error rolls it back.
        let value = body(&tx).map_err(|e| self.put_error(e))?;
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(value)
    }
}

/// An error inside a write.
#[derive(Debug)]
pub(super) enum PutError {
    Sqlite(rusqlite::Error),
    Json(serde_json::Error),
}

impl From<rusqlite::Error> for PutError {
    fn from(e: rusqlite::Error) -> Self {
        PutError::Sqlite(e)
    }
}

impl From<serde_json::Error> for PutError {
    fn from(e: serde_json::Error) -> Self {
        PutError::Json(e)
    }
}

pub(super) fn put(
    conn: &rusqlite::Connection,
    key: &CacheKey,
    outcome: &Outcome,
    cost_usd: Option<f64>,
) -> Result<bool, PutError> {
    if outcome.cached || !is_cacheable(outcome) {
        return Ok(false);
    }
    let json = serde_json::to_string(outcome)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO cache
             (key, scenario_id, status, outcome_json, cost_usd, created_ms, tool_version,
              parts_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        key.as_str(),
        &outcome.id,
        outcome.status.as_str(),
        json,
        cost_usd,
        now_ms(),
        env!("CARGO_PKG_VERSION"),
        key.parts_json(),
    ))?;
    Ok(true)
}

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub(super) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
