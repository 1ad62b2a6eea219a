//! The dashboard's reads on PostgreSQL: twins of `store::dashboard`'s `SqliteStore` methods,
//! answering the same. Text is ordered `COLLATE "C"` (byte order, as SQLite's default), and
//! a filter is one fixed statement with optional parameters (`$n IS NULL OR …`), so every
//! query is prepared once per connection.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, parse_status, run_record, to_i64};
use crate::model::Outcome;
use crate::scenario::Priority;
use crate::store::dashboard::{
    Facets, MAX_PAGE, OutcomeFilter, OutcomePage, RecentOutcome, ScenarioRun, like_escape,
};
use crate::store::{RunRecord, ScenarioRecord, StoreError};

/// `run_scenarios s` rows matching `$1` (the run) and the filter `$2`…`$6`.
macro_rules! filtered {
    ([$($head:tt)*], [$($tail:tt)*]) => {
        concat!(
            $($head)*,
            " FROM run_scenarios s
             WHERE s.run_id = $1
               AND (cardinality($2::text[]) = 0 OR s.status = ANY($2::text[]))
               AND ($3::text IS NULL OR s.priority = $3::text)
               AND ($4::text IS NULL OR s.agent = $4::text)
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM run_tags t
                    WHERE t.run_id = s.run_id AND t.scenario_id = s.scenario_id
                      AND t.tag = $5::text))
               -- ASCII-only lowering, as SQLite's LOWER.
               AND ($6::text IS NULL OR translate(s.scenario_id, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                    'abcdefghijklmnopqrstuvwxyz') LIKE $6::text ESCAPE '\\') ",
            $($tail)*
        )
    };
}

/// Problems first; the order of the run page.
macro_rules! status_rank {
    () => {
        "CASE s.status WHEN 'failed' THEN 0 WHEN 'error' THEN 1 \
         WHEN 'unassessed' THEN 2 WHEN 'skipped' THEN 3 ELSE 4 END"
    };
}

macro_rules! scenario_columns {
    () => {
        "s.scenario_id, s.priority, s.agent, s.status, s.cached, s.cost_usd, s.latency_ms, \
         s.duration_ms, s.reason"
    };
}

fn scenario_record(row: &Row, at: usize) -> ScenarioRecord {
    ScenarioRecord {
        id: row.get(at),
        priority: row.get::<_, &str>(at + 1).parse().unwrap_or(Priority::P2),
        agent: row.get(at + 2),
        status: parse_status(row.get(at + 3)),
        cached: row.get(at + 4),
        cost_usd: row.get(at + 5),
        latency_ms: row.get::<_, Option<i64>>(at + 6).map(i64::unsigned_abs),
        duration_ms: row.get::<_, i64>(at + 7).unsigned_abs(),
        reason: row.get(at + 8),
    }
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl PgStore {
    /// [`crate::store::SqliteStore::record_run_tags`]: all of them in one statement.
    pub fn record_run_tags<'a>(
        &self,
        run_id: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(), StoreError> {
        let (mut ids, mut names) = (Vec::new(), Vec::new());
        for (id, tags) in tags {
            for tag in tags {
                ids.push(id);
                names.push(tag.as_str());
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        self.with(async |c| {
            c.execute(
                "INSERT INTO run_tags (run_id, scenario_id, tag)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[])
                 ON CONFLICT DO NOTHING",
                &[&run_id, &ids, &names],
            )
            .await
        })?;
        Ok(())
    }

    /// [`crate::store::SqliteStore::outcome_page`].
    pub fn outcome_page(
        &self,
        run_id: &str,
        filter: &OutcomeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<OutcomePage, StoreError> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let priority = filter.priority.map(Priority::as_str);
        let search = filter
            .search
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| format!("%{}%", like_escape(&s.to_ascii_lowercase())));
        let limit = to_i64(limit.min(MAX_PAGE) as u64);
        let offset = to_i64(offset as u64);
        let (matching, rows) = self.with(async |c| {
            let params: [&(dyn ToSql + Sync); 6] =
                [&run_id, &statuses, &priority, &filter.agent, &filter.tag, &search];
            let counted = c.query(filtered!(["SELECT COUNT(*)"], [""]), &params).await?;
            let matching: i64 = counted.first().map_or(0, |row| row.get(0));
            let mut page = params.to_vec();
            page.extend([&limit as &(dyn ToSql + Sync), &offset]);
            let rows = c
                .query(
                    filtered!(
                        [concat!("SELECT ", scenario_columns!())],
                        [concat!(
                            "ORDER BY ",
                            status_rank!(),
                            ", s.priority COLLATE \"C\", s.scenario_id COLLATE \"C\"
                             LIMIT $7 OFFSET $8"
                        )]
                    ),
                    &page,
                )
                .await?;
            Ok((matching, rows))
        })?;
        Ok(OutcomePage {
            rows: rows.iter().map(|row| scenario_record(row, 0)).collect(),
            matching: count(matching),
        })
    }

    /// [`crate::store::SqliteStore::run_facets`].
    pub fn run_facets(&self, run_id: &str) -> Result<Facets, StoreError> {
        let [statuses, priorities, agents, tags] = self.with(async |c| {
            let mut all = Vec::with_capacity(4);
            for sql in [
                "SELECT status, COUNT(*) FROM run_scenarios WHERE run_id = $1
                 GROUP BY status ORDER BY status COLLATE \"C\"",
                "SELECT priority, COUNT(*) FROM run_scenarios WHERE run_id = $1
                 GROUP BY priority ORDER BY priority COLLATE \"C\"",
                "SELECT agent, COUNT(*) FROM run_scenarios WHERE run_id = $1
                 GROUP BY agent ORDER BY agent COLLATE \"C\"",
                "SELECT tag, COUNT(*) FROM run_tags WHERE run_id = $1
                 GROUP BY tag ORDER BY tag COLLATE \"C\"",
            ] {
                let rows = c.query(sql, &[&run_id]).await?;
                all.push(
                    rows.iter()
                        .map(|row| (row.get::<_, String>(0), count(row.get(1))))
                        .collect::<Vec<_>>(),
                );
            }
            Ok(<[Vec<(String, usize)>; 4]>::try_from(all).unwrap_or_default())
        })?;
        Ok(Facets {
            statuses: statuses.into_iter().map(|(s, n)| (parse_status(&s), n)).collect(),
            priorities: priorities
                .into_iter()
                .filter_map(|(p, n)| Some((p.parse().ok()?, n)))
                .collect(),
            agents,
            tags,
        })
    }

    /// [`crate::store::SqliteStore::outcome_record`].
    pub fn outcome_record(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Option<Outcome>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT outcome_json FROM run_outcomes WHERE run_id = $1 AND scenario_id = $2",
                &[&run_id, &scenario_id],
            )
            .await
        })?;
        rows.first()
            .map(|row| serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| self.json(&e)))
            .transpose()
    }

    /// [`crate::store::SqliteStore::scenario_tags`].
    pub fn scenario_tags(
        &self,
        run_id: &str,
        scenario_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT tag FROM run_tags WHERE run_id = $1 AND scenario_id = $2
                 ORDER BY tag COLLATE \"C\"",
                &[&run_id, &scenario_id],
            )
            .await
        })?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// [`crate::store::SqliteStore::scenario_history`].
    pub fn scenario_history(
        &self,
        scenario_id: &str,
        limit: usize,
    ) -> Result<Vec<ScenarioRun>, StoreError> {
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                concat!(
                    "SELECT r.id, r.started_at, r.git_commit, ",
                    scenario_columns!(),
                    " FROM run_scenarios s JOIN runs r ON r.id = s.run_id
                     WHERE s.scenario_id = $1
                     ORDER BY r.started_ms DESC, r.id DESC LIMIT $2"
                ),
                &[&scenario_id, &limit],
            )
            .await
        })?;
        let mut runs: Vec<ScenarioRun> = rows
            .iter()
            .map(|row| ScenarioRun {
                run_id: row.get(0),
                started_at: row.get(1),
                git_commit: row.get(2),
                record: scenario_record(row, 3),
            })
            .collect();
        runs.reverse();
        Ok(runs)
    }

    /// [`crate::store::SqliteStore::run_latencies`].
    pub fn run_latencies(&self, run_id: &str) -> Result<Vec<u64>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT latency_ms FROM run_scenarios
                 WHERE run_id = $1 AND latency_ms IS NOT NULL ORDER BY latency_ms",
                &[&run_id],
            )
            .await
        })?;
        Ok(rows.iter().map(|row| row.get::<_, i64>(0).unsigned_abs()).collect())
    }

    /// [`crate::store::SqliteStore::runs_of_selection`].
    pub fn runs_of_selection(&self, selection_digest: &str) -> Result<Vec<RunRecord>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                const_format_runs!(
                    "WHERE r.selection_digest = $1 AND r.partition IS NOT NULL
                     GROUP BY r.id ORDER BY r.started_ms, r.id"
                ),
                &[&selection_digest],
            )
            .await
        })?;
        Ok(rows.iter().map(run_record).collect())
    }

    /// [`crate::store::SqliteStore::run_ids`].
    pub fn run_ids(&self, limit: usize) -> Result<Vec<(String, bool)>, StoreError> {
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                "SELECT id, finished_at IS NOT NULL FROM runs
                 ORDER BY started_ms DESC, id DESC LIMIT $1",
                &[&limit],
            )
            .await
        })?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// [`crate::store::SqliteStore::finished_run_ids_until`]: the runs of
    /// [`PgStore::finished_runs_until`], without counting their scenarios.
    pub fn finished_run_ids_until(
        &self,
        until: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                "SELECT r.id FROM runs r, (SELECT started_ms FROM runs WHERE id = $1) u
                 WHERE r.finished_at IS NOT NULL
                   AND (r.started_ms < u.started_ms OR r.id = $1
                        OR (r.started_ms = u.started_ms AND r.id < $1))
                 ORDER BY r.started_ms DESC, r.id DESC LIMIT $2",
                &[&until, &limit],
            )
            .await
        })?;
        let mut ids: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        ids.reverse();
        Ok(ids)
    }

    /// [`crate::store::SqliteStore::newest_unfinished_run`].
    pub fn newest_unfinished_run(&self) -> Result<Option<RunRecord>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                const_format_runs!(
                    "WHERE r.finished_at IS NULL
                     GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT 1"
                ),
                &[],
            )
            .await
        })?;
        Ok(rows.first().map(run_record))
    }

    /// [`crate::store::SqliteStore::recent_failures`].
    pub fn recent_failures(
        &self,
        run_ids: &[String],
        limit: usize,
    ) -> Result<Vec<RecentOutcome>, StoreError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                concat!(
                    "SELECT o.run_id, o.recorded_ms, ",
                    scenario_columns!(),
                    " FROM run_outcomes o JOIN run_scenarios s
                       ON s.run_id = o.run_id AND s.scenario_id = o.scenario_id
                     WHERE o.run_id = ANY($1) AND s.status IN ('failed', 'error')
                     ORDER BY o.recorded_ms DESC, s.scenario_id COLLATE \"C\" LIMIT $2"
                ),
                &[&run_ids, &limit],
            )
            .await
        })?;
        Ok(rows
            .iter()
            .map(|row| RecentOutcome {
                run_id: row.get(0),
                recorded_ms: row.get(1),
                record: scenario_record(row, 2),
            })
            .collect())
    }

    /// [`crate::store::SqliteStore::last_recorded_ms`].
    pub fn last_recorded_ms(&self, run_ids: &[String]) -> Result<Option<i64>, StoreError> {
        if run_ids.is_empty() {
            return Ok(None);
        }
        let rows = self.with(async |c| {
            c.query("SELECT MAX(recorded_ms) FROM run_outcomes WHERE run_id = ANY($1)", &[&run_ids])
                .await
        })?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }
}
