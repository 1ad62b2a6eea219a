//! Opening the store: one SQLite file per cache directory, WAL, a busy timeout, and a schema
//! version table that migrations move forward and that stops an older rogue-runner from
//! writing a newer file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StoreError;

/// The file inside `--cache-dir`.
pub const STORE_FILE_NAME: &str = "store.sqlite3";

/// The schema this build reads and writes. Each version adds one entry to [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = 4;

/// How long a statement waits for another process's write before it gives up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `MIGRATIONS[n]` moves the schema from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: the result cache and the run history.
    "
    CREATE TABLE cache (
        key           TEXT PRIMARY KEY,
        scenario_id   TEXT NOT NULL,
        status        TEXT NOT NULL,
        outcome_json  TEXT NOT NULL,
        cost_usd      REAL,
        created_ms    INTEGER NOT NULL,
        tool_version  TEXT NOT NULL
    );
    CREATE INDEX cache_by_created ON cache (created_ms);

    CREATE TABLE runs (
        id               TEXT PRIMARY KEY,
        started_at       TEXT NOT NULL,
        started_ms       INTEGER NOT NULL,
        finished_at      TEXT,
        duration_ms      INTEGER,
        git_commit       TEXT,
        config_digest    TEXT NOT NULL,
        tool_version     TEXT NOT NULL,
        planned          INTEGER NOT NULL,
        exit_code        INTEGER,
        cancelled        TEXT,
        cost_usd         REAL,
        cache_hits       INTEGER,
        cache_misses     INTEGER,
        cache_saved_usd  REAL
    );
    CREATE INDEX runs_by_start ON runs (started_ms);

    CREATE TABLE run_scenarios (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scenario_id  TEXT NOT NULL,
        priority     TEXT NOT NULL,
        agent        TEXT NOT NULL,
        status       TEXT NOT NULL,
        cached       INTEGER NOT NULL,
        cost_usd     REAL,
        latency_ms   INTEGER,
        duration_ms  INTEGER NOT NULL,
        reason       TEXT,
        PRIMARY KEY (run_id, scenario_id)
    ) WITHOUT ROWID;
    CREATE INDEX run_scenarios_by_scenario ON run_scenarios (scenario_id);
    ",
    // 2: the shard a partitioned run was (`K/N`) and the digest of its whole selection.
    "
    ALTER TABLE runs ADD COLUMN partition TEXT;
    ALTER TABLE runs ADD COLUMN selection_digest TEXT;
    ",
    // 3: what each cached outcome's key was made of (for `cache why`), and the judge's
    // verdicts by transcript (the judge cache).
    "
    ALTER TABLE cache ADD COLUMN parts_json TEXT;
    CREATE INDEX cache_by_scenario ON cache (scenario_id);

    CREATE TABLE judge_cache (
        key           TEXT PRIMARY KEY,
        scenario_id   TEXT NOT NULL,
        ruling_json   TEXT NOT NULL,
        cost_usd      REAL,
        created_ms    INTEGER NOT NULL,
        tool_version  TEXT NOT NULL
    );
    CREATE INDEX judge_cache_by_created ON judge_cache (created_ms);
    ",
    // 4: whole outcomes and tags by run, for the dashboard (`serve`).
    super::dashboard::MIGRATION,
];

/// The SQLite store of one cache directory (the default backend of [`super::Store`]). One
/// connection; open one per thread that needs it.
#[derive(Debug)]
pub struct SqliteStore {
    pub(super) conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating the directory and the file if needed) and migrates the store in `dir`.
    /// Fails with [`StoreError::NewerSchema`] when a newer rogue-runner wrote it.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        fs_err::create_dir_all(dir)
            .map_err(|error| StoreError::CreateDir { path: dir.to_path_buf(), error })?;
        SqliteStore::open_file(&dir.join(STORE_FILE_NAME), true)
    }

    /// Opens the store in `dir` if there is one (`None` when nothing was ever recorded there),
    /// without creating anything.
    pub fn open_existing(dir: &Path) -> Result<Option<SqliteStore>, StoreError> {
        let path = dir.join(STORE_FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        SqliteStore::open_file(&path, false).map(Some)
    }

    fn open_file(path: &Path, create: bool) -> Result<SqliteStore, StoreError> {
        let sqlite = |error| StoreError::Sqlite { path: path.to_path_buf(), error };
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        set_wal(&conn).map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(sqlite)?;
        let mut store = SqliteStore { conn, path: path.to_path_buf() };
        store.migrate()?;
        Ok(store)
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version on disk.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        read_version(&self.conn).map_err(|e| self.sqlite(e))
    }

    /// `PRAGMA integrity_check`: `"ok"` when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))
    }

    pub(super) fn sqlite(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), error }
    }

    pub(super) fn json(&self, error: serde_json::Error) -> StoreError {
        StoreError::Json { path: self.path.clone(), error }
    }

    /// Brings the schema to [`SCHEMA_VERSION`] in one write transaction; two processes
    /// opening a new file at once both end up with one migrated schema.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        self.check_not_newer(found)?;
        let path = self.path.clone();
        let sqlite = |error| StoreError::Sqlite { path: path.clone(), error };
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
        let found = read_version(&tx).map_err(sqlite)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
                instead: "--cache-dir",
            });
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version      INTEGER PRIMARY KEY,
                tool_version TEXT NOT NULL,
                applied_at   TEXT NOT NULL
            )",
        )
        .map_err(sqlite)?;
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
            tx.execute_batch(sql).map_err(sqlite)?;
            tx.execute(
                "INSERT INTO schema_version (version, tool_version, applied_at) VALUES (?1, ?2, ?3)",
                (i64::try_from(from + 1).unwrap_or(i64::MAX), env!("CARGO_PKG_VERSION"), jiff::Timestamp::now().to_string()),
            )
            .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)
    }

    fn check_not_newer(&self, found: i64) -> Result<(), StoreError> {
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
                instead: "--cache-dir",
            });
        }
        Ok(())
    }
}

/// WAL lets readers and one writer work at once across processes. Switching a new file to
/// WAL needs a moment of exclusive access, which another process opening it at the same
/// time can deny; the busy timeout does not cover that, so retry briefly.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut attempt = 0;
    loop {
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempt < 50 =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// 0 for a new file.
fn read_version(conn: &Connection) -> rusqlite::Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_is_wal_and_at_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("nested")).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String =
            store.conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(store.integrity_check().unwrap(), "ok");
        // Opening again migrates nothing.
        drop(store);
        let again = SqliteStore::open(&dir.path().join("nested")).unwrap();
        let rows: i64 = again
            .conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO schema_version (version, tool_version, applied_at) VALUES (?1, '9.9.9', 'now')",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
        drop(store);
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1)
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("newer than the {SCHEMA_VERSION} this rogue-runner knows")),
            "{message}"
        );
        assert!(message.contains("upgrade rogue-runner"), "{message}");
    }

    #[test]
    fn open_existing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SqliteStore::open_existing(&dir.path().join("missing")).unwrap().is_none());
        assert!(!dir.path().join("missing").exists());
    }
}
