//! The run history: one `runs` row per run, one `run_scenarios` row per finished scenario.
//!
//! A run is written as it goes: its row when it starts, the outcomes that finish together in
//! one short transaction (the recorder's group commit), the totals when it ends. A run killed
//! half-way keeps its row and every outcome that finished, and shows as unfinished.

use std::path::Path;
use std::process::{Command, Stdio};

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::cache::{now_ms, put};
use super::{CacheKey, SqliteStore, StoreError};
use crate::model::{CacheStats, CancelReason, Outcome, RunSummary, Status, StatusCounts};
use crate::scenario::Priority;

/// What is known of a run when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStart {
    pub run_id: String,
    /// RFC 3339.
    pub started_at: String,
    /// Scenarios selected.
    pub planned: usize,
    /// `HEAD` of the git repository the run was started in, if any.
    pub git_commit: Option<String>,
    /// Digest of the run's configuration (see `store::config_digest`): runs with the same
    /// digest ran the same selection the same way.
    pub config_digest: String,
    /// `K/N` when the run was one shard of a partitioned selection (`--partition hash:K/N`).
    pub partition: Option<String>,
    /// Digest of the whole selection a shard was part of (see `scenario::selection_digest`).
    pub selection_digest: Option<String>,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub started_at: String,
    /// `None` while running, or when the run was killed.
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub git_commit: Option<String>,
    pub config_digest: String,
    pub tool_version: String,
    pub planned: usize,
    /// Of the scenarios recorded so far.
    pub counts: StatusCounts,
    pub cached: usize,
    pub cost_usd: f64,
    pub exit_code: Option<i32>,
    pub cancelled: Option<String>,
    pub cache: Option<CacheStats>,
    /// `K/N` when the run was one shard of a partitioned selection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Digest of the whole selection a shard was part of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_digest: Option<String>,
}

impl RunRecord {
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}

/// One scenario of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRecord {
    pub id: String,
    pub priority: Priority,
    pub agent: String,
    pub status: Status,
    pub cached: bool,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
    pub duration_ms: u64,
    /// The first reason, when the outcome had one.
    pub reason: Option<String>,
}

/// A run with its scenarios.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResults {
    pub run: RunRecord,
    pub scenarios: Vec<ScenarioRecord>,
}

pub(super) const RUN_COLUMNS: &str = "
    r.id, r.started_at, r.finished_at, r.duration_ms, r.git_commit, r.config_digest,
    r.tool_version, r.planned, r.exit_code, r.cancelled, r.cost_usd, r.cache_hits,
    r.cache_misses, r.cache_saved_usd,
    COUNT(s.scenario_id),
    COALESCE(SUM(s.status = 'passed'), 0), COALESCE(SUM(s.status = 'failed'), 0),
    COALESCE(SUM(s.status = 'error'), 0), COALESCE(SUM(s.status = 'skipped'), 0),
    COALESCE(SUM(s.cached), 0), COALESCE(SUM(s.cost_usd), 0.0),
    COALESCE(SUM(s.status = 'unassessed'), 0), r.partition, r.selection_digest
    FROM runs r LEFT JOIN run_scenarios s ON s.run_id = r.id";

/// One finished outcome to record, with its cache key and what it cost when it is to be
/// cached too.
pub type OutcomeWrite<'a> = (&'a Outcome, Option<(&'a CacheKey, Option<f64>)>);

impl SqliteStore {
    /// Records that a run started. Recording the same run twice keeps the first.
    pub fn record_run_started(&self, start: &RunStart) -> Result<(), StoreError> {
        let started_ms = start
            .started_at
            .parse::<jiff::Timestamp>()
            .map_or_else(|_| now_ms(), jiff::Timestamp::as_millisecond);
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO runs
                     (id, started_at, started_ms, git_commit, config_digest, tool_version, planned,
                      partition, selection_digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                (
                    &start.run_id,
                    &start.started_at,
                    started_ms,
                    &start.git_commit,
                    &start.config_digest,
                    env!("CARGO_PKG_VERSION"),
                    i64::try_from(start.planned).unwrap_or(i64::MAX),
                    &start.partition,
                    &start.selection_digest,
                ),
            )?;
            Ok(())
        })
    }

    /// Records one finished outcome of run `run_id`, and when `cache` is given (its key and
    /// what it cost) stores it in the cache too, in one transaction: once this returns, a
    /// crash loses neither. The cache part is skipped for outcomes that may not be cached.
    pub fn record_outcome(
        &self,
        run_id: &str,
        outcome: &Outcome,
        cache: Option<(&CacheKey, Option<f64>)>,
    ) -> Result<(), StoreError> {
        self.record_outcome_batch(run_id, &[(outcome, cache)])
    }

    /// Records finished outcomes of run `run_id`, each with its cache entry when given, in one
    /// transaction (the recorder's group commit): once this returns, a crash loses none of
    /// them, and a failure writes none of them.
    pub fn record_outcome_batch(
        &self,
        run_id: &str,
        batch: &[OutcomeWrite<'_>],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for &(outcome, cache) in batch {
                insert_outcome(tx, run_id, outcome)?;
                if let Some((key, cost)) = cache {
                    put(tx, key, outcome, cost)?;
                }
            }
            Ok(())
        })
    }

    /// Records several finished outcomes of run `run_id` in one transaction, without
    /// touching the cache (for outcomes that came from it).
    pub fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for outcome in outcomes {
                insert_outcome(tx, run_id, outcome)?;
            }
            Ok(())
        })
    }

    /// Records a run's totals. Returns false when the run was never recorded as started.
    pub fn finish_run(&self, summary: &RunSummary) -> Result<bool, StoreError> {
        let cache = summary.cache;
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE runs SET finished_at = ?2, duration_ms = ?3, exit_code = ?4, cancelled = ?5,
                     cost_usd = ?6, cache_hits = ?7, cache_misses = ?8, cache_saved_usd = ?9
                 WHERE id = ?1",
                (
                    &summary.run_id,
                    &summary.finished_at,
                    to_i64(summary.duration_ms),
                    summary.exit_code,
                    summary.cancelled.map(cancel_name),
                    summary.cost_usd,
                    cache.map(|c| to_i64(c.hits as u64)),
                    cache.map(|c| to_i64(c.misses as u64)),
                    cache.map(|c| c.saved_usd),
                ),
            )?;
            Ok(updated == 1)
        })
    }

    /// The last `limit` runs, newest first (finished or not).
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT ?1"
        );
        self.query_runs(&sql, (to_i64(limit as u64),))
    }

    /// The last `limit` finished runs that started no later than `until` (the newest run when
    /// `None`), oldest first.
    pub fn finished_runs_until(
        &self,
        until: Option<&RunRecord>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let (until_ms, until_id) = match until {
            Some(run) => (self.started_ms(&run.id)?, run.id.clone()),
            None => (i64::MAX, String::new()),
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS}
             WHERE r.finished_at IS NOT NULL
               AND (r.started_ms < ?1 OR r.id = ?2 OR (r.started_ms = ?1 AND r.id < ?2))
             GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT ?3"
        );
        let mut runs = self.query_runs(&sql, (until_ms, until_id, to_i64(limit as u64)))?;
        runs.reverse();
        Ok(runs)
    }

    /// A run by its id, a unique prefix of it, or `latest` (the newest finished run).
    pub fn find_run(&self, reference: &str) -> Result<RunRecord, StoreError> {
        if reference == "latest" {
            return self
                .finished_runs_until(None, 1)?
                .pop()
                .ok_or_else(|| StoreError::UnknownRun(reference.to_owned()));
        }
        let sql = format!(
            "SELECT {RUN_COLUMNS} WHERE substr(r.id, 1, length(?1)) = ?1
             GROUP BY r.id ORDER BY r.started_ms DESC LIMIT 2"
        );
        let mut found = self.query_runs(&sql, (reference.to_ascii_lowercase(),))?;
        match found.len() {
            0 => Err(StoreError::UnknownRun(reference.to_owned())),
            1 => Ok(found.remove(0)),
            _ => {
                let count: i64 = self
                    .conn
                    .query_row(
                        "SELECT COUNT(*) FROM runs WHERE substr(id, 1, length(?1)) = ?1",
                        [reference.to_ascii_lowercase()],
                        |row| row.get(0),
                    )
                    .map_err(|e| self.sqlite(e))?;
                Err(StoreError::AmbiguousRun {
                    prefix: reference.to_owned(),
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                })
            }
        }
    }

    /// The scenarios recorded for `run`, by id.
    pub fn run_results(&self, run: RunRecord) -> Result<RunResults, StoreError> {
        let mut select = self
            .conn
            .prepare_cached(
                "SELECT scenario_id, priority, agent, status, cached, cost_usd, latency_ms,
                        duration_ms, reason
                 FROM run_scenarios WHERE run_id = ?1 ORDER BY scenario_id",
            )
            .map_err(|e| self.sqlite(e))?;
        let scenarios = select
            .query_map([&run.id], |row| {
                Ok(ScenarioRecord {
                    id: row.get(0)?,
                    priority: row.get::<_, String>(1)?.parse().unwrap_or(Priority::P2),
                    agent: row.get(2)?,
                    status: parse_status(&row.get::<_, String>(3)?),
                    cached: row.get(4)?,
                    cost_usd: row.get(5)?,
                    latency_ms: row.get::<_, Option<i64>>(6)?.map(i64::unsigned_abs),
                    duration_ms: row.get::<_, i64>(7)?.unsigned_abs(),
                    reason: row.get(8)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| self.sqlite(e))?;
        Ok(RunResults { run, scenarios })
    }

    fn started_ms(&self, id: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT started_ms FROM runs WHERE id = ?1", [id], |row| row.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))?
            .ok_or_else(|| StoreError::UnknownRun(id.to_owned()))
    }

    pub(super) fn query_runs(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut select = self.conn.prepare_cached(sql).map_err(|e| self.sqlite(e))?;
        select
            .query_map(params, run_record)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| self.sqlite(e))
    }
}

fn insert_outcome(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    outcome: &Outcome,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO run_scenarios
             (run_id, scenario_id, priority, agent, status, cached, cost_usd, latency_ms,
              duration_ms, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute((
        run_id,
        &outcome.id,
        outcome.priority.as_str(),
        &outcome.agent,
        outcome.status.as_str(),
        outcome.cached,
        outcome.cost_usd,
        outcome.latency_ms.map(to_i64),
        to_i64(outcome.duration_ms),
        outcome.reasons.first(),
    ))?;
    super::dashboard::insert_outcome_record(tx, run_id, outcome)
}

fn run_record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let count = |i: usize| row.get::<_, i64>(i).map(|n| usize::try_from(n).unwrap_or(0));
    let counts = StatusCounts {
        total: count(14)?,
        passed: count(15)?,
        failed: count(16)?,
        error: count(17)?,
        skipped: count(18)?,
        unassessed: count(21)?,
    };
    let hits: Option<i64> = row.get(11)?;
    let misses: Option<i64> = row.get(12)?;
    let saved: Option<f64> = row.get(13)?;
    let cache = hits.map(|hits| CacheStats {
        hits: usize::try_from(hits).unwrap_or(0),
        misses: misses.and_then(|m| usize::try_from(m).ok()).unwrap_or(0),
        saved_usd: saved.unwrap_or(0.0),
        ..CacheStats::default()
    });
    Ok(RunRecord {
        id: row.get(0)?,
        started_at: row.get(1)?,
        finished_at: row.get(2)?,
        duration_ms: row.get::<_, Option<i64>>(3)?.map(i64::unsigned_abs),
        git_commit: row.get(4)?,
        config_digest: row.get(5)?,
        tool_version: row.get(6)?,
        planned: count(7)?,
        exit_code: row.get(8)?,
        cancelled: row.get(9)?,
        cost_usd: match row.get::<_, Option<f64>>(10)? {
            Some(cost) => cost,
            None => row.get(20)?,
        },
        cache,
        counts,
        cached: count(19)?,
        partition: row.get(22)?,
        selection_digest: row.get(23)?,
    })
}

fn cancel_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::FailFast => "fail-fast",
        CancelReason::MaxFail => "max-fail",
        CancelReason::Budget => "budget",
        CancelReason::Interrupted => "interrupted",
    }
}

pub(super) fn parse_status(text: &str) -> Status {
    Status::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(Status::Error)
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `HEAD` of the git repository `dir` is in, if git is installed and it is one. Honours
/// `GITHUB_SHA` first (CI checkouts can be detached or shallow).
pub fn git_commit(dir: &Path) -> Option<String> {
    if let Some(sha) = std::env::var("GITHUB_SHA").ok().filter(|s| is_hex_id(s)) {
        return Some(sha);
    }
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && is_hex_id(&sha)).then_some(sha)
}

fn is_hex_id(text: &str) -> bool {
    (7..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}
