//! What `serve` (the dashboard) reads beyond the history: each outcome's whole record
//! (checks, judge, transcript), the tags its scenario had, one page of a run's scenarios with
//! filters, one scenario across runs, and the runs of a run in progress.
//!
//! Every query here is read-only and plain SQL (no SQLite-only functions), so that another
//! backend of [`super::Store`] can answer it the same way. The writes are the two the recorder makes:
//! an outcome's record in the same transaction as its history row, and a run's tags once when
//! it starts.

use rusqlite::OptionalExtension;

use super::history::{RUN_COLUMNS, ScenarioRecord, parse_status, to_i64};
use super::{RunRecord, SqliteStore, StoreError};
use crate::model::{Outcome, Status, StatusCounts};
use crate::scenario::Priority;

/// Schema version 4: whole outcomes by run and scenario, and the tags of each run's
/// scenarios (both for the dashboard).
pub(super) const MIGRATION: &str = "
    CREATE TABLE run_outcomes (
        run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scenario_id   TEXT NOT NULL,
        recorded_ms   INTEGER NOT NULL,
        outcome_json  TEXT NOT NULL,
        PRIMARY KEY (run_id, scenario_id)
    );
    CREATE INDEX run_outcomes_by_time ON run_outcomes (run_id, recorded_ms);

    CREATE TABLE run_tags (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scenario_id  TEXT NOT NULL,
        tag          TEXT NOT NULL,
        PRIMARY KEY (run_id, scenario_id, tag)
    );
    CREATE INDEX run_tags_by_tag ON run_tags (run_id, tag);
";

/// The most rows one page of a run holds.
pub const MAX_PAGE: usize = 500;

/// Which of a run's scenarios a page shows. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeFilter {
    /// Any of these statuses.
    pub statuses: Vec<Status>,
    pub priority: Option<Priority>,
    pub agent: Option<String>,
    pub tag: Option<String>,
    /// Part of the scenario id, case-insensitive for ASCII.
    pub search: Option<String>,
}

/// One page of a run's scenarios, problems first (failed, error, unassessed, skipped,
/// passed), by priority and id within each.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomePage {
    pub rows: Vec<ScenarioRecord>,
    /// Scenarios matching the filter, on every page.
    pub matching: usize,
}

/// Counts of a run's scenarios by each filterable field, for the filter menus.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    pub statuses: Vec<(Status, usize)>,
    pub priorities: Vec<(Priority, usize)>,
    pub agents: Vec<(String, usize)>,
    pub tags: Vec<(String, usize)>,
}

/// One run's result for one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRun {
    pub run_id: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub record: ScenarioRecord,
}

/// A run's scenario as it finished, for a live view.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentOutcome {
    pub run_id: String,
    pub recorded_ms: i64,
    pub record: ScenarioRecord,
}

const SCENARIO_COLUMNS: &str = "s.scenario_id, s.priority, s.agent, s.status, s.cached, \
    s.cost_usd, s.latency_ms, s.duration_ms, s.reason";

/// Problems first; the order of the run page.
const STATUS_RANK: &str = "CASE s.status WHEN 'failed' THEN 0 WHEN 'error' THEN 1 \
    WHEN 'unassessed' THEN 2 WHEN 'skipped' THEN 3 ELSE 4 END";

fn scenario_record(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ScenarioRecord> {
    Ok(ScenarioRecord {
        id: row.get(at)?,
        priority: row.get::<_, String>(at + 1)?.parse().unwrap_or(Priority::P2),
        agent: row.get(at + 2)?,
        status: parse_status(&row.get::<_, String>(at + 3)?),
        cached: row.get(at + 4)?,
        cost_usd: row.get(at + 5)?,
        latency_ms: row.get::<_, Option<i64>>(at + 6)?.map(i64::unsigned_abs),
        duration_ms: row.get::<_, i64>(at + 7)?.unsigned_abs(),
        reason: row.get(at + 8)?,
    })
}

/// `%`, `_` and the escape itself stand for themselves in a `LIKE … ESCAPE '\'` pattern.
pub(super) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `?, ?, ?` for `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Writes `outcome`'s whole record beside its history row (in the caller's transaction).
pub(super) fn insert_outcome_record(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    outcome: &Outcome,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(outcome)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO run_outcomes (run_id, scenario_id, recorded_ms, outcome_json)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((run_id, &outcome.id, super::now_ms(), json))?;
    Ok(())
}

impl SqliteStore {
    /// Records the tags of a run's scenarios (`(id, tags)`), once, when it starts; scenarios
    /// without tags write nothing.
    pub fn record_run_tags<'a>(
        &self,
        run_id: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO run_tags (run_id, scenario_id, tag) VALUES (?1, ?2, ?3)",
            )?;
            for (id, tags) in tags {
                for tag in tags {
                    insert.execute((run_id, id, tag))?;
                }
            }
            Ok(())
        })
    }

    /// One page (`offset`, at most `limit` ≤ [`MAX_PAGE`] rows) of run `run_id`'s scenarios
    /// matching `filter`, problems first.
    pub fn outcome_page(
        &self,
        run_id: &str,
        filter: &OutcomeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<OutcomePage, StoreError> {
        let mut sql = String::from("WHERE s.run_id = ?");
        let mut params: Vec<rusqlite::types::Value> = vec![run_id.to_owned().into()];
        if !filter.statuses.is_empty() {
            sql.push_str(" AND s.status IN (");
            sql.push_str(&placeholders(filter.statuses.len()));
            sql.push(')');
            params.extend(filter.statuses.iter().map(|s| s.as_str().to_owned().into()));
        }
        if let Some(priority) = filter.priority {
            sql.push_str(" AND s.priority = ?");
            params.push(priority.as_str().to_owned().into());
        }
        if let Some(agent) = &filter.agent {
            sql.push_str(" AND s.agent = ?");
            params.push(agent.clone().into());
        }
        if let Some(tag) = &filter.tag {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = s.run_id \
                 AND t.scenario_id = s.scenario_id AND t.tag = ?)",
            );
            params.push(tag.clone().into());
        }
        if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
            sql.push_str(" AND LOWER(s.scenario_id) LIKE ? ESCAPE '\\'");
            params.push(format!("%{}%", like_escape(&search.to_ascii_lowercase())).into());
        }
        let matching: i64 = self
            .conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM run_scenarios s {sql}"))
            .and_then(|mut select| {
                select.query_row(rusqlite::params_from_iter(params.iter()), |row| row.get(0))
            })
            .map_err(|e| self.sqlite(e))?;
        let limit = limit.min(MAX_PAGE);
        let page_sql = format!(
            "SELECT {SCENARIO_COLUMNS} FROM run_scenarios s {sql}
             ORDER BY {STATUS_RANK}, s.priority, s.scenario_id LIMIT ? OFFSET ?"
        );
        params.push(to_i64(limit as u64).into());
        params.push(to_i64(offset as u64).into());
        let rows = self
            .conn
            .prepare_cached(&page_sql)
            .and_then(|mut select| {
                select
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        scenario_record(row, 0)
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.sqlite(e))?;
        Ok(OutcomePage { rows, matching: usize::try_from(matching).unwrap_or(0) })
    }

    /// Run `run_id`'s scenarios counted by status, priority, agent and tag.
    pub fn run_facets(&self, run_id: &str) -> Result<Facets, StoreError> {
        let counts = |sql: &str| -> Result<Vec<(String, usize)>, StoreError> {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut select| {
                    select
                        .query_map([run_id], |row| {
                            let n: i64 = row.get(1)?;
                            Ok((row.get::<_, String>(0)?, usize::try_from(n).unwrap_or(0)))
                        })?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(|e| self.sqlite(e))
        };
        let statuses =
            counts("SELECT status, COUNT(*) FROM run_scenarios WHERE run_id = ?1 GROUP BY status")?
                .into_iter()
                .map(|(s, n)| (parse_status(&s), n))
                .collect();
        let priorities = counts(
            "SELECT priority, COUNT(*) FROM run_scenarios WHERE run_id = ?1
             GROUP BY priority ORDER BY priority",
        )?
        .into_iter()
        .filter_map(|(p, n)| Some((p.parse().ok()?, n)))
        .collect();
        let agents = counts(
            "SELECT agent, COUNT(*) FROM run_scenarios WHERE run_id = ?1
             GROUP BY agent ORDER BY agent",
        )?;
        let tags = counts(
            "SELECT tag, COUNT(*) FROM run_tags WHERE run_id = ?1 GROUP BY tag ORDER BY tag",
        )?;
        Ok(Facets { statuses, priorities, agents, tags })
    }

    /// The whole outcome of `scenario_id` in run `run_id`, when it was recorded (runs
    /// recorded before schema version 4 kept only the history row).
    pub fn outcome_record(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Option<Outcome>, StoreError> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT outcome_json FROM run_outcomes WHERE run_id = ?1 AND scenario_id = ?2",
            )
            .and_then(|mut select| {
                select.query_row((run_id, scenario_id), |row| row.get(0)).optional()
            })
            .map_err(|e| self.sqlite(e))?;
        json.map(|json| serde_json::from_str(&json).map_err(|e| self.json(e))).transpose()
    }

    /// The tags run `run_id` recorded for `scenario_id`.
    pub fn scenario_tags(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT tag FROM run_tags WHERE run_id = ?1 AND scenario_id = ?2 ORDER BY tag",
            )
            .and_then(|mut select| {
                select.query_map((run_id, scenario_id), |row| row.get(0))?.collect()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// `scenario_id`'s results in the last `limit` runs that recorded it, oldest first.
    pub fn scenario_history(
        &self,
        scenario_id: &str,
        limit: usize,
    ) -> Result<Vec<ScenarioRun>, StoreError> {
        let sql = format!(
            "SELECT r.id, r.started_at, r.git_commit, {SCENARIO_COLUMNS}
             FROM run_scenarios s JOIN runs r ON r.id = s.run_id
             WHERE s.scenario_id = ?1
             ORDER BY r.started_ms DESC, r.id DESC LIMIT ?2"
        );
        let mut runs = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut select| {
                select
                    .query_map((scenario_id, to_i64(limit as u64)), |row| {
                        Ok(ScenarioRun {
                            run_id: row.get(0)?,
                            started_at: row.get(1)?,
                            git_commit: row.get(2)?,
                            record: scenario_record(row, 3)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.sqlite(e))?;
        runs.reverse();
        Ok(runs)
    }

    /// The measured latencies (ms) of run `run_id`'s scenarios, smallest first.
    pub fn run_latencies(&self, run_id: &str) -> Result<Vec<u64>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT latency_ms FROM run_scenarios WHERE run_id = ?1 AND latency_ms IS NOT NULL
                 ORDER BY latency_ms",
            )
            .and_then(|mut select| {
                select
                    .query_map([run_id], |row| row.get::<_, i64>(0).map(i64::unsigned_abs))?
                    .collect()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// The runs of one partitioned run: every shard recorded with `selection_digest`, oldest
    /// first.
    pub fn runs_of_selection(&self, selection_digest: &str) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} WHERE r.selection_digest = ?1 AND r.partition IS NOT NULL
             GROUP BY r.id ORDER BY r.started_ms, r.id"
        );
        self.query_runs(&sql, (selection_digest,))
    }

    /// The ids of the last `limit` runs, newest first, each with whether it has finished (no
    /// counting: cheap at any size of history).
    pub fn run_ids(&self, limit: usize) -> Result<Vec<(String, bool)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, finished_at IS NOT NULL FROM runs
                 ORDER BY started_ms DESC, id DESC LIMIT ?1",
            )
            .and_then(|mut select| {
                select
                    .query_map([to_i64(limit as u64)], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// The ids of the last `limit` finished runs that started no later than run `until`
    /// (itself included when finished), oldest first: the runs of
    /// [`Store::finished_runs_until`], without counting their scenarios.
    pub fn finished_run_ids_until(
        &self,
        until: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT r.id FROM runs r, (SELECT started_ms FROM runs WHERE id = ?1) u
                 WHERE r.finished_at IS NOT NULL
                   AND (r.started_ms < u.started_ms OR r.id = ?1
                        OR (r.started_ms = u.started_ms AND r.id < ?1))
                 ORDER BY r.started_ms DESC, r.id DESC LIMIT ?2",
            )
            .and_then(|mut select| {
                select.query_map((until, to_i64(limit as u64)), |row| row.get(0))?.collect()
            })
            .map_err(|e| self.sqlite(e))?;
        ids.reverse();
        Ok(ids)
    }

    /// The newest run that has not finished, if any.
    pub fn newest_unfinished_run(&self) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} WHERE r.finished_at IS NULL
             GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT 1"
        );
        Ok(self.query_runs(&sql, ())?.pop())
    }

    /// The last `limit` failed or errored outcomes of the runs `run_ids`, newest first.
    pub fn recent_failures(
        &self,
        run_ids: &[String],
        limit: usize,
    ) -> Result<Vec<RecentOutcome>, StoreError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT o.run_id, o.recorded_ms, {SCENARIO_COLUMNS}
             FROM run_outcomes o JOIN run_scenarios s
               ON s.run_id = o.run_id AND s.scenario_id = o.scenario_id
             WHERE o.run_id IN ({}) AND s.status IN ('failed', 'error')
             ORDER BY o.recorded_ms DESC, s.scenario_id LIMIT ?",
            placeholders(run_ids.len())
        );
        let mut params: Vec<rusqlite::types::Value> =
            run_ids.iter().map(|id| id.clone().into()).collect();
        params.push(to_i64(limit as u64).into());
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut select| {
                select
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        Ok(RecentOutcome {
                            run_id: row.get(0)?,
                            recorded_ms: row.get(1)?,
                            record: scenario_record(row, 2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// When the last outcome of the runs `run_ids` was recorded (Unix ms), if any was.
    pub fn last_recorded_ms(&self, run_ids: &[String]) -> Result<Option<i64>, StoreError> {
        if run_ids.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT MAX(recorded_ms) FROM run_outcomes WHERE run_id IN ({})",
            placeholders(run_ids.len())
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut select| {
                select.query_row(rusqlite::params_from_iter(run_ids.iter()), |row| row.get(0))
            })
            .map_err(|e| self.sqlite(e))
    }
}

/// The counts of several runs together (the shards of one partitioned run).
pub fn combined_counts(runs: &[RunRecord]) -> StatusCounts {
    let mut total = StatusCounts::default();
    for run in runs {
        let c = &run.counts;
        total.total += c.total;
        total.passed += c.passed;
        total.failed += c.failed;
        total.error += c.error;
        total.skipped += c.skipped;
        total.unassessed += c.unassessed;
    }
    total
}
