//! The PostgreSQL backend of [`super::Store`] (`--store postgres://…`): one database shared by
//! every shard, runner and branch of a team.
//!
//! - **Tables** live in their own schema, `rogue_runner`, beside whatever else the database
//!   holds; migrations are versioned like SQLite's and applied on first use under an advisory
//!   lock, so N shards starting at once migrate once; a newer schema is refused.
//! - **Writes** are single statements (upserts), so concurrent writers never duplicate or
//!   corrupt a row, and an outcome and its cache entry are written together or not at all.
//!   Sessions use `synchronous_commit = off`: a runner killed with SIGKILL loses nothing it
//!   committed (the server has it); only a crash of the server itself can lose the last
//!   moment of commits, as SQLite's `synchronous = NORMAL` does on power loss. For a cache
//!   and a history that is the right trade for a fast run.
//! - **Connections**: a small pool, at most `pool` connections, opened when needed.
//!   tokio-postgres is asynchronous and the store's API is not: the connections are driven by
//!   one thread of the store's own runtime, and a call waits for its answer on the calling
//!   thread ([`block_on`], which needs no runtime: it never nests one in a tokio worker).
//! - **TLS** with rustls (the provider reqwest already brings): `sslmode=disable|prefer|
//!   require` (`verify-ca`/`verify-full` are `require`: rustls always verifies), the system's
//!   roots, or `sslrootcert=FILE`.
//! - **The password** comes from `PGPASSWORD` or a `.pgpass` file (`PGPASSFILE`, else
//!   `~/.pgpass`), never from the URL (refused there: URLs end up in logs, shell history and
//!   CI output); the URL is shown redacted everywhere.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::cache::{now_ms, rfc3339};
use super::{
    CacheKey, CacheSummary, CachedOutcome, CachedRuling, Lookup, OutcomeWrite, RunRecord,
    RunResults, RunStart, ScenarioRecord, StoreError, StoredEntry, is_cacheable,
};
use crate::model::StatusCounts;
use crate::model::{CacheStats, CancelReason, JudgeRuling, Outcome, RunSummary, Status};
use crate::scenario::Priority;
use crate::secret::Secret;

/// The query behind every list of runs, with `$tail` (its `WHERE`, `GROUP BY`, …).
macro_rules! const_format_runs {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, r.started_at, r.finished_at, r.duration_ms, r.git_commit,
                    r.config_digest, r.tool_version, r.planned, r.exit_code, r.cancelled,
                    r.cost_usd, r.cache_hits, r.cache_misses, r.cache_saved_usd,
                    COUNT(s.scenario_id),
                    COALESCE(SUM((s.status = 'passed')::int), 0)::bigint,
                    COALESCE(SUM((s.status = 'failed')::int), 0)::bigint,
                    COALESCE(SUM((s.status = 'error')::int), 0)::bigint,
                    COALESCE(SUM((s.status = 'skipped')::int), 0)::bigint,
                    COALESCE(SUM(s.cached::int), 0)::bigint,
                    COALESCE(SUM(s.cost_usd), 0.0)::double precision,
                    COALESCE(SUM((s.status = 'unassessed')::int), 0)::bigint,
                    r.partition, r.selection_digest
             FROM runs r LEFT JOIN run_scenarios s ON s.run_id = r.id ",
            $tail
        )
    };
}

/// The schema this build reads and writes in PostgreSQL. Each version adds one entry to
/// [`MIGRATIONS`].
pub const POSTGRES_SCHEMA_VERSION: i64 = 2;

/// The advisory lock that serialises migrations (any constant; "rogue" in ASCII).
const MIGRATION_LOCK: i64 = 0x0072_6f67_7565;

/// How long connecting may take when the URL says nothing (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `MIGRATIONS[n]` moves the schema from version `n` to `n + 1`. Version 1 is SQLite's
/// version 3; version 2 adds what SQLite's version 4 added (for the dashboard).
const MIGRATIONS: [&str; POSTGRES_SCHEMA_VERSION as usize] = [
    "
    CREATE TABLE cache (
        key           TEXT PRIMARY KEY,
        scenario_id   TEXT NOT NULL,
        status        TEXT NOT NULL,
        outcome_json  TEXT NOT NULL,
        cost_usd      DOUBLE PRECISION,
        created_ms    BIGINT NOT NULL,
        tool_version  TEXT NOT NULL,
        parts_json    TEXT
    );
    CREATE INDEX cache_by_created ON cache (created_ms);
    CREATE INDEX cache_by_scenario ON cache (scenario_id);

    CREATE TABLE judge_cache (
        key           TEXT PRIMARY KEY,
        scenario_id   TEXT NOT NULL,
        ruling_json   TEXT NOT NULL,
        cost_usd      DOUBLE PRECISION,
        created_ms    BIGINT NOT NULL,
        tool_version  TEXT NOT NULL
    );
    CREATE INDEX judge_cache_by_created ON judge_cache (created_ms);

    CREATE TABLE runs (
        id               TEXT PRIMARY KEY,
        started_at       TEXT NOT NULL,
        started_ms       BIGINT NOT NULL,
        finished_at      TEXT,
        duration_ms      BIGINT,
        git_commit       TEXT,
        config_digest    TEXT NOT NULL,
        tool_version     TEXT NOT NULL,
        planned          BIGINT NOT NULL,
        exit_code        INTEGER,
        cancelled        TEXT,
        cost_usd         DOUBLE PRECISION,
        cache_hits       BIGINT,
        cache_misses     BIGINT,
        cache_saved_usd  DOUBLE PRECISION,
        partition        TEXT,
        selection_digest TEXT
    );
    CREATE INDEX runs_by_start ON runs (started_ms);
    CREATE INDEX runs_by_selection ON runs (selection_digest) WHERE selection_digest IS NOT NULL;

    CREATE TABLE run_scenarios (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scenario_id  TEXT NOT NULL,
        priority     TEXT NOT NULL,
        agent        TEXT NOT NULL,
        status       TEXT NOT NULL,
        cached       BOOLEAN NOT NULL,
        cost_usd     DOUBLE PRECISION,
        latency_ms   BIGINT,
        duration_ms  BIGINT NOT NULL,
        reason       TEXT,
        PRIMARY KEY (run_id, scenario_id)
    );
    CREATE INDEX run_scenarios_by_scenario ON run_scenarios (scenario_id);

    -- A shard's whole results.json, for `merge --store` (no artifact directories).
    CREATE TABLE run_documents (
        run_id        TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        results_json  TEXT NOT NULL
    );
",
    "
    -- Whole outcomes by run and scenario, and the tags of each run's scenarios (the
    -- dashboard's; SQLite's schema version 4).
    CREATE TABLE run_outcomes (
        run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scenario_id   TEXT NOT NULL,
        recorded_ms   BIGINT NOT NULL,
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
",
];

/// The dashboard's reads and its tags write (twins of `store::dashboard`'s).
mod dashboard;

/// A PostgreSQL store to connect to: the parsed URL, its password (from the environment),
/// and the pool size.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    display: String,
    root_cert: Option<PathBuf>,
    tls: TlsMode,
    pool: usize,
}

#[allow(clippy::missing_fields_in_debug)] // the connection settings stay out of logs
impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio-postgres's Config debug hides the password already; the URL shown is redacted.
        f.debug_struct("PgTarget").field("store", &self.display).field("pool", &self.pool).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
}

impl PgTarget {
    /// Parses `url`; the password comes from `PGPASSWORD`, else the `.pgpass` file
    /// (`PGPASSFILE`, else `~/.pgpass`).
    pub fn from_env(url: &str, pool: usize) -> Result<PgTarget, StoreError> {
        let mut target = PgTarget::parse(url, pool)?;
        let password = match std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            Some(password) => Some(password),
            None => {
                let file = std::env::var_os("PGPASSFILE").map(PathBuf::from).or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass"))
                });
                file.and_then(|file| fs_err::read_to_string(file).ok())
                    .and_then(|text| target.pgpass_match(&text))
            }
        };
        if let Some(password) = password {
            target = target.with_password(&Secret::new(password));
        }
        Ok(target)
    }

    /// Parses `url` (`postgres://` or `postgresql://`), without a password.
    pub fn parse(url: &str, pool: usize) -> Result<PgTarget, StoreError> {
        let display = crate::redact::redact_url(url);
        let bad = |message: String| StoreError::BadUrl { store: display.clone(), message };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad(
                "is not a postgres:// or postgresql:// URL; without --store the run uses the \
                 SQLite store in --cache-dir"
                    .to_owned(),
            ));
        }
        // `sslrootcert` and the verifying `sslmode`s are libpq's, not tokio-postgres's: take
        // them out of the query before it parses the rest.
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut root_cert = None;
        let mut tls = TlsMode::Prefer;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value))),
                "sslmode" => {
                    tls = match value {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" | "verify-ca" | "verify-full" => TlsMode::Require,
                        other => {
                            return Err(bad(format!(
                                "sslmode={other} is not one of disable, prefer, require, \
                                 verify-ca, verify-full"
                            )));
                        }
                    }
                }
                "password" => return Err(bad(password_in_url())),
                _ => kept.push(pair),
            }
        }
        let rest =
            if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        let config: tokio_postgres::Config =
            rest.parse().map_err(|e: tokio_postgres::Error| bad(e.to_string()))?;
        if config.get_password().is_some() {
            return Err(bad(password_in_url()));
        }
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("rogue-runner");
        }
        // The URL's own sslmode is what `tls` now says; tokio-postgres is told below.
        config.ssl_mode(match tls {
            TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
            TlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            TlsMode::Require => tokio_postgres::config::SslMode::Require,
        });
        Ok(PgTarget { config, display, root_cert, tls, pool: pool.max(1) })
    }

    /// The same target, authenticating with `password`.
    #[must_use]
    pub fn with_password(mut self, password: &Secret) -> PgTarget {
        self.config.password(password.expose());
        self
    }

    /// The URL without credentials.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// How many connections the store may open.
    pub fn pool_size(&self) -> usize {
        self.pool
    }

    /// The password a `.pgpass` file (`host:port:database:user:password`, `*` matches
    /// anything, `\` escapes) gives this target, if a line matches.
    fn pgpass_match(&self, text: &str) -> Option<String> {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(_)) | None => "localhost".to_owned(),
            #[cfg(not(unix))]
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432).to_string();
        let user = self.config.get_user().map_or_else(default_user, str::to_owned);
        let dbname = self.config.get_dbname().map_or_else(|| user.clone(), str::to_owned);
        pgpass_lookup(text, [&host, &port, &dbname, &user])
    }
}

fn password_in_url() -> String {
    "has a password in it; give the password in PGPASSWORD or a .pgpass file (PGPASSFILE), \
     never in the URL, which ends up in logs"
        .to_owned()
}

fn default_user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_default()
}

/// The password of the first line of a `.pgpass` file matching `[host, port, db, user]`.
pub(crate) fn pgpass_lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        let [host, port, db, user, password] = fields.as_slice() else { continue };
        let matches = [host, port, db, user]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field.as_str() == "*" || field.as_str() == want);
        if matches {
            return Some(password.clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) =
                text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits on this thread for `future`: tokio-postgres's client futures only talk to the
/// connection task over channels, so they need no runtime; the connection tasks run on the
/// store's own runtime thread. Blocking here is what a SQLite call does too.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(value) => return value,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    async fn prepare(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    async fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.prepare(sql).await?;
        self.client.query(&statement, params).await
    }

    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        let statement = self.prepare(sql).await?;
        self.client.execute(&statement, params).await
    }
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

/// A PostgreSQL store. Thread-safe: calls from several threads use several connections, up
/// to the pool size.
pub struct PgStore {
    target: PgTarget,
    /// Drives the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pool: Mutex<PoolState>,
    returned: Condvar,
    display: PathBuf,
}

#[allow(clippy::missing_fields_in_debug)] // the pool and the runtime say nothing useful
impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("store", &self.target.display).finish()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The store may be dropped inside a run's async code, where dropping a runtime
        // panics; closing the connections can be left to the background.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A connection taken from the pool; back into it when dropped.
struct Lease<'a> {
    store: &'a PgStore,
    conn: Option<Conn>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.pool.lock().unwrap_or_else(PoisonError::into_inner);
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => pool.idle.push(conn),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        self.store.returned.notify_one();
    }
}

impl PgStore {
    /// Connects and, with `create`, migrates. Without `create`, `None` when the database
    /// has no rogue-runner schema yet (nothing recorded).
    pub fn open(target: &PgTarget, create: bool) -> Result<Option<PgStore>, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rogue-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Postgres {
                store: target.display.clone(),
                message: format!("cannot start the store's thread: {e}"),
            })?;
        let tls = match target.tls {
            TlsMode::Disable => None,
            TlsMode::Prefer | TlsMode::Require => Some(tls_connector(target)?),
        };
        let store = PgStore {
            target: target.clone(),
            runtime: Some(runtime),
            tls,
            pool: Mutex::default(),
            returned: Condvar::new(),
            display: PathBuf::from(&target.display),
        };
        let found = store.schema_version()?;
        if found == 0 && !create {
            return Ok(None);
        }
        store.check_not_newer(found)?;
        if found < POSTGRES_SCHEMA_VERSION {
            store.migrate()?;
        }
        Ok(Some(store))
    }

    fn error(&self, error: &tokio_postgres::Error) -> StoreError {
        StoreError::Postgres { store: self.target.display.clone(), message: describe(error) }
    }

    fn json(&self, error: &serde_json::Error) -> StoreError {
        StoreError::Postgres {
            store: self.target.display.clone(),
            message: format!("cannot encode or decode a stored outcome: {error}"),
        }
    }

    fn check_not_newer(&self, found: i64) -> Result<(), StoreError> {
        if found > POSTGRES_SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.display.clone(),
                found,
                supported: POSTGRES_SCHEMA_VERSION,
                instead: "--store",
            });
        }
        Ok(())
    }

    /// A connection: an idle one, a new one while fewer than the pool size are open, else
    /// the next one returned.
    fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                if conn.client.is_closed() {
                    pool.open = pool.open.saturating_sub(1);
                    continue;
                }
                return Ok(Lease { store: self, conn: Some(conn) });
            }
            if pool.open < self.target.pool {
                pool.open += 1;
                drop(pool);
                return match self.connect() {
                    Ok(conn) => Ok(Lease { store: self, conn: Some(conn) }),
                    Err(error) => {
                        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
                        pool.open = pool.open.saturating_sub(1);
                        self.returned.notify_one();
                        Err(error)
                    }
                };
            }
            pool = self.returned.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Opens one connection on the store's runtime and waits for it here.
    fn connect(&self) -> Result<Conn, StoreError> {
        let Some(runtime) = &self.runtime else {
            return Err(StoreError::Postgres {
                store: self.target.display.clone(),
                message: "the store is closing".to_owned(),
            });
        };
        let config = self.target.config.clone();
        let tls = self.tls.clone();
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let client = async {
                let client = match tls {
                    Some(tls) => {
                        let (client, connection) = config.connect(tls).await?;
                        tokio::spawn(connection);
                        client
                    }
                    None => {
                        let (client, connection) = config.connect(NoTls).await?;
                        tokio::spawn(connection);
                        client
                    }
                };
                client
                    .batch_execute("SET search_path TO rogue_runner; SET synchronous_commit TO off")
                    .await?;
                Ok::<_, tokio_postgres::Error>(client)
            };
            let _ = send.send(client.await);
        });
        match receive.recv() {
            Ok(Ok(client)) => Ok(Conn { client, statements: HashMap::new() }),
            Ok(Err(error)) => Err(self.error(&error)),
            Err(_) => Err(StoreError::Postgres {
                store: self.target.display.clone(),
                message: "the store's thread stopped".to_owned(),
            }),
        }
    }

    /// Runs `body` with a pooled connection.
    fn with<T>(
        &self,
        body: impl AsyncFnOnce(&mut Conn) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut lease = self.lease()?;
        // A lease holds its connection until it is dropped.
        let Some(conn) = lease.conn.as_mut() else {
            return Err(StoreError::Postgres {
                store: self.target.display.clone(),
                message: "no connection".to_owned(),
            });
        };
        block_on(body(conn)).map_err(|e| self.error(&e))
    }

    /// The SQLite store's "file": here the redacted URL.
    pub fn path(&self) -> &Path {
        &self.display
    }

    /// 0 when the database has no rogue-runner schema.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(async |c| {
            let exists = c
                .client
                .query_one("SELECT to_regclass('rogue_runner.schema_version') IS NOT NULL", &[])
                .await?
                .get::<_, bool>(0);
            if !exists {
                return Ok(0);
            }
            let row = c
                .client
                .query_one("SELECT COALESCE(MAX(version), 0) FROM rogue_runner.schema_version", &[])
                .await?;
            Ok(row.get::<_, i64>(0))
        })
    }

    /// Brings the schema to [`POSTGRES_SCHEMA_VERSION`] in one transaction, holding an
    /// advisory lock: the first of N processes migrates, the others wait and find it done.
    fn migrate(&self) -> Result<(), StoreError> {
        let found = self.with(async |c| {
            let tx = c.client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
            tx.batch_execute(
                "CREATE SCHEMA IF NOT EXISTS rogue_runner;
                 CREATE TABLE IF NOT EXISTS rogue_runner.schema_version (
                     version      BIGINT PRIMARY KEY,
                     tool_version TEXT NOT NULL,
                     applied_at   TEXT NOT NULL
                 )",
            )
            .await?;
            let found: i64 = tx
                .query_one("SELECT COALESCE(MAX(version), 0) FROM rogue_runner.schema_version", &[])
                .await?
                .get(0);
            if found > POSTGRES_SCHEMA_VERSION {
                // Leave it as it is; refused below.
                return Ok(found);
            }
            for (from, sql) in
                MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0))
            {
                tx.batch_execute(sql).await?;
                let version = i64::try_from(from + 1).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO rogue_runner.schema_version (version, tool_version, applied_at)
                     VALUES ($1, $2, $3)",
                    &[&version, &env!("CARGO_PKG_VERSION"), &jiff::Timestamp::now().to_string()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(found)
        })?;
        self.check_not_newer(found)
    }

    /// PostgreSQL keeps its own integrity: `"ok"` when the store answers.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.with(async |c| {
            c.client.query_one("SELECT 1", &[]).await?;
            Ok("ok".to_owned())
        })
    }

    pub fn cache_lookup(&self, key: &CacheKey) -> Result<Lookup, StoreError> {
        let found = self.cache_lookup_many(std::slice::from_ref(key))?;
        Ok(match found.into_iter().next().flatten() {
            Some(hit) => Lookup::Hit(Box::new(hit)),
            None => Lookup::Miss,
        })
    }

    /// Every key in one query (`key = ANY($1)`): one round trip for a whole plan.
    pub fn cache_lookup_many(
        &self,
        keys: &[CacheKey],
    ) -> Result<Vec<Option<CachedOutcome>>, StoreError> {
        let wanted: Vec<&str> = keys.iter().map(CacheKey::as_str).collect();
        let rows = self.with(async |c| {
            c.query(
                "SELECT key, outcome_json, cost_usd, created_ms FROM cache WHERE key = ANY($1)",
                &[&wanted],
            )
            .await
        })?;
        let mut by_key: HashMap<String, (String, Option<f64>, i64)> = rows
            .into_iter()
            .map(|row| (row.get::<_, String>(0), (row.get(1), row.get(2), row.get(3))))
            .collect();
        Ok(keys
            .iter()
            .map(|key| {
                let (json, cost_usd, created_ms) = by_key.remove(key.as_str())?;
                let outcome: Outcome = serde_json::from_str(&json).ok()?;
                Some(CachedOutcome { outcome, cost_usd, created_ms })
            })
            .collect())
    }

    pub fn cache_put(
        &self,
        key: &CacheKey,
        outcome: &Outcome,
        cost_usd: Option<f64>,
    ) -> Result<bool, StoreError> {
        if outcome.cached || !is_cacheable(outcome) {
            return Ok(false);
        }
        let row = CacheRow::new(key, outcome, cost_usd).map_err(|e| self.json(&e))?;
        self.with(async |c| c.execute(PUT_CACHE, &row.params()).await)?;
        Ok(true)
    }

    pub fn cache_clear(&self) -> Result<usize, StoreError> {
        self.with(async |c| {
            let tx = c.client.transaction().await?;
            let deleted = tx.execute("DELETE FROM cache", &[]).await?;
            tx.execute("DELETE FROM judge_cache", &[]).await?;
            tx.commit().await?;
            Ok(to_usize(deleted))
        })
    }

    pub fn cache_prune(&self, age: Duration) -> Result<usize, StoreError> {
        let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        self.with(async |c| {
            let tx = c.client.transaction().await?;
            let deleted = tx.execute("DELETE FROM cache WHERE created_ms < $1", &[&cutoff]).await?;
            tx.execute("DELETE FROM judge_cache WHERE created_ms < $1", &[&cutoff]).await?;
            tx.commit().await?;
            Ok(to_usize(deleted))
        })
    }

    pub fn cache_entries_for(&self, id: &str) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT key, status, created_ms, parts_json FROM cache
                 WHERE scenario_id = $1 ORDER BY created_ms DESC",
                &[&id],
            )
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|row| StoredEntry {
                key: row.get(0),
                status: row.get(1),
                created_ms: row.get(2),
                parts: row
                    .get::<_, Option<String>>(3)
                    .and_then(|json| serde_json::from_str(&json).ok()),
            })
            .collect())
    }

    pub fn judge_entries_for(&self, id: &str) -> Result<u64, StoreError> {
        self.with(async |c| {
            let rows =
                c.query("SELECT COUNT(*) FROM judge_cache WHERE scenario_id = $1", &[&id]).await?;
            Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0).unsigned_abs()))
        })
    }

    pub fn judge_lookup(&self, key: &str) -> Result<Option<CachedRuling>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT ruling_json, cost_usd, created_ms FROM judge_cache WHERE key = $1",
                &[&key],
            )
            .await
        })?;
        Ok(rows.first().and_then(|row| {
            let ruling = serde_json::from_str(row.get::<_, &str>(0)).ok()?;
            Some(CachedRuling { ruling, cost_usd: row.get(1), created_ms: row.get(2) })
        }))
    }

    pub fn judge_put(
        &self,
        key: &str,
        scenario_id: &str,
        ruling: &JudgeRuling,
        cost_usd: Option<f64>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(ruling).map_err(|e| self.json(&e))?;
        let now = now_ms();
        self.with(async |c| {
            c.execute(
                "INSERT INTO judge_cache
                     (key, scenario_id, ruling_json, cost_usd, created_ms, tool_version)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (key) DO UPDATE SET scenario_id = EXCLUDED.scenario_id,
                     ruling_json = EXCLUDED.ruling_json, cost_usd = EXCLUDED.cost_usd,
                     created_ms = EXCLUDED.created_ms, tool_version = EXCLUDED.tool_version",
                &[&key, &scenario_id, &json, &cost_usd, &now, &env!("CARGO_PKG_VERSION")],
            )
            .await
        })?;
        Ok(())
    }

    pub fn cache_summary(&self) -> Result<CacheSummary, StoreError> {
        let row = self.with(async |c| {
            c.client
                .query_one(
                    "SELECT COUNT(*),
                            COALESCE(SUM((status = 'passed')::int), 0)::bigint,
                            COALESCE(SUM((status = 'failed')::int), 0)::bigint,
                            COALESCE(SUM((status = 'skipped')::int), 0)::bigint,
                            COALESCE(SUM(cost_usd), 0.0)::double precision,
                            MIN(created_ms), MAX(created_ms),
                            (SELECT COUNT(*) FROM runs),
                            (SELECT COUNT(*) FROM judge_cache),
                            (pg_total_relation_size('rogue_runner.cache')
                             + pg_total_relation_size('rogue_runner.judge_cache')
                             + pg_total_relation_size('rogue_runner.runs')
                             + pg_total_relation_size('rogue_runner.run_scenarios')
                             + pg_total_relation_size('rogue_runner.run_outcomes')
                             + pg_total_relation_size('rogue_runner.run_tags'))::bigint
                     FROM cache",
                    &[],
                )
                .await
        })?;
        let count = |i: usize| row.get::<_, i64>(i).unsigned_abs();
        Ok(CacheSummary {
            path: self.target.display.clone(),
            schema_version: self.schema_version()?,
            entries: count(0),
            passed: count(1),
            failed: count(2),
            skipped: count(3),
            cost_usd: row.get(4),
            judge_entries: count(8),
            oldest: row.get::<_, Option<i64>>(5).map(rfc3339),
            newest: row.get::<_, Option<i64>>(6).map(rfc3339),
            runs: count(7),
            size_bytes: count(9),
        })
    }

    pub fn record_run_started(&self, start: &RunStart) -> Result<(), StoreError> {
        let started_ms = start
            .started_at
            .parse::<jiff::Timestamp>()
            .map_or_else(|_| now_ms(), jiff::Timestamp::as_millisecond);
        let planned = to_i64(start.planned as u64);
        self.with(async |c| {
            c.execute(
                "INSERT INTO runs
                     (id, started_at, started_ms, git_commit, config_digest, tool_version, planned,
                      partition, selection_digest)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &start.run_id,
                    &start.started_at,
                    &started_ms,
                    &start.git_commit,
                    &start.config_digest,
                    &env!("CARGO_PKG_VERSION"),
                    &planned,
                    &start.partition,
                    &start.selection_digest,
                ],
            )
            .await
        })?;
        Ok(())
    }

    /// The history row and, when cacheable, the cache entry, in one statement: both are
    /// written or neither.
    pub fn record_outcome(
        &self,
        run_id: &str,
        outcome: &Outcome,
        cache: Option<(&CacheKey, Option<f64>)>,
    ) -> Result<(), StoreError> {
        self.record_outcome_batch(run_id, &[(outcome, cache)])
    }

    /// All of them in one statement, without touching the cache.
    pub fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
    ) -> Result<(), StoreError> {
        let batch: Vec<OutcomeWrite<'_>> = outcomes.into_iter().map(|o| (o, None)).collect();
        self.record_outcome_batch(run_id, &batch)
    }

    /// The recorder's group commit: every history row, whole outcome and cache entry of the
    /// batch in one statement (`UNNEST` of arrays, data-modifying `WITH`), so one round trip
    /// writes them all, or nothing is written.
    pub fn record_outcome_batch(
        &self,
        run_id: &str,
        batch: &[OutcomeWrite<'_>],
    ) -> Result<(), StoreError> {
        // An upsert may touch a row once per statement: the last outcome of an id (and the
        // last entry of a key) wins, as it does in SQLite.
        let mut last: HashMap<&str, &Outcome> = HashMap::new();
        let mut order = Vec::new();
        let mut last_entry: HashMap<&str, (&CacheKey, &Outcome, Option<f64>)> = HashMap::new();
        let mut entry_order = Vec::new();
        for &(outcome, cache) in batch {
            if last.insert(&outcome.id, outcome).is_none() {
                order.push(outcome.id.as_str());
            }
            if let Some((key, cost)) = cache
                && !outcome.cached
                && is_cacheable(outcome)
                && last_entry.insert(key.as_str(), (key, outcome, cost)).is_none()
            {
                entry_order.push(key.as_str());
            }
        }
        if order.is_empty() {
            return Ok(());
        }
        let rows: Vec<HistoryRow> = order
            .iter()
            .map(|id| HistoryRow::new(last[id]))
            .collect::<Result<_, _>>()
            .map_err(|e| self.json(&e))?;
        let entries: Vec<CacheRow> = entry_order
            .iter()
            .map(|key| {
                let (key, outcome, cost) = last_entry[key];
                CacheRow::new(key, outcome, cost)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.json(&e))?;
        let history = HistoryColumns::new(&rows);
        let cache = CacheColumns::new(&entries);
        let mut params = history.params(&run_id);
        params.extend(cache.params());
        self.with(async |c| c.execute(PUT_OUTCOMES, &params).await)?;
        Ok(())
    }

    pub fn finish_run(&self, summary: &RunSummary) -> Result<bool, StoreError> {
        let cache = summary.cache;
        let duration = to_i64(summary.duration_ms);
        let cancelled = summary.cancelled.map(cancel_name);
        let hits = cache.map(|c| to_i64(c.hits as u64));
        let misses = cache.map(|c| to_i64(c.misses as u64));
        let saved = cache.map(|c| c.saved_usd);
        let updated = self.with(async |c| {
            c.execute(
                "UPDATE runs SET finished_at = $2, duration_ms = $3, exit_code = $4,
                     cancelled = $5, cost_usd = $6, cache_hits = $7, cache_misses = $8,
                     cache_saved_usd = $9
                 WHERE id = $1",
                &[
                    &summary.run_id,
                    &summary.finished_at,
                    &duration,
                    &summary.exit_code,
                    &cancelled,
                    &summary.cost_usd,
                    &hits,
                    &misses,
                    &saved,
                ],
            )
            .await
        })?;
        Ok(updated == 1)
    }

    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                const_format_runs!("GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT $1"),
                &[&limit],
            )
            .await
        })?;
        Ok(rows.iter().map(run_record).collect())
    }

    pub fn finished_runs_until(
        &self,
        until: Option<&RunRecord>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let (until_ms, until_id) = match until {
            Some(run) => (self.started_ms(&run.id)?, run.id.clone()),
            None => (i64::MAX, String::new()),
        };
        let limit = to_i64(limit as u64);
        let rows = self.with(async |c| {
            c.query(
                const_format_runs!(
                    "WHERE r.finished_at IS NOT NULL
                       AND (r.started_ms < $1 OR r.id = $2 OR (r.started_ms = $1 AND r.id < $2))
                     GROUP BY r.id ORDER BY r.started_ms DESC, r.id DESC LIMIT $3"
                ),
                &[&until_ms, &until_id, &limit],
            )
            .await
        })?;
        let mut runs: Vec<RunRecord> = rows.iter().map(run_record).collect();
        runs.reverse();
        Ok(runs)
    }

    pub fn find_run(&self, reference: &str) -> Result<RunRecord, StoreError> {
        if reference == "latest" {
            return self
                .finished_runs_until(None, 1)?
                .pop()
                .ok_or_else(|| StoreError::UnknownRun(reference.to_owned()));
        }
        let prefix = reference.to_ascii_lowercase();
        let (rows, count) = self.with(async |c| {
            let rows = c
                .query(
                    const_format_runs!(
                        "WHERE starts_with(r.id, $1)
                         GROUP BY r.id ORDER BY r.started_ms DESC LIMIT 2"
                    ),
                    &[&prefix],
                )
                .await?;
            let count: i64 = if rows.len() > 1 {
                c.client
                    .query_one("SELECT COUNT(*) FROM runs WHERE starts_with(id, $1)", &[&prefix])
                    .await?
                    .get(0)
            } else {
                0
            };
            Ok((rows, count))
        })?;
        match rows.len() {
            0 => Err(StoreError::UnknownRun(reference.to_owned())),
            1 => Ok(run_record(&rows[0])),
            _ => Err(StoreError::AmbiguousRun {
                prefix: reference.to_owned(),
                count: usize::try_from(count).unwrap_or(usize::MAX),
            }),
        }
    }

    pub fn run_results(&self, run: RunRecord) -> Result<RunResults, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT scenario_id, priority, agent, status, cached, cost_usd, latency_ms,
                        duration_ms, reason
                 FROM run_scenarios WHERE run_id = $1 ORDER BY scenario_id COLLATE \"C\"",
                &[&run.id],
            )
            .await
        })?;
        let scenarios = rows
            .iter()
            .map(|row| ScenarioRecord {
                id: row.get(0),
                priority: row.get::<_, &str>(1).parse().unwrap_or(Priority::P2),
                agent: row.get(2),
                status: parse_status(row.get(3)),
                cached: row.get(4),
                cost_usd: row.get(5),
                latency_ms: row.get::<_, Option<i64>>(6).map(i64::unsigned_abs),
                duration_ms: row.get::<_, i64>(7).unsigned_abs(),
                reason: row.get(8),
            })
            .collect();
        Ok(RunResults { run, scenarios })
    }

    /// Keeps run `run_id`'s `results.json` (a shard's), replacing an earlier one.
    pub fn record_document(&self, run_id: &str, results_json: &str) -> Result<(), StoreError> {
        self.with(async |c| {
            c.execute(
                "INSERT INTO run_documents (run_id, results_json) VALUES ($1, $2)
                 ON CONFLICT (run_id) DO UPDATE SET results_json = EXCLUDED.results_json",
                &[&run_id, &results_json],
            )
            .await
        })?;
        Ok(())
    }

    /// The shards of one partitioned run, as `(run id, results.json)`: the newest recorded
    /// run of each shard `K/N` with the selection digest and commit of `anchor` (a run id,
    /// a unique prefix, or `None`: the newest shard recorded).
    pub fn shard_documents(
        &self,
        anchor: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let anchor = match anchor {
            Some(reference) => self.find_run(reference)?.id,
            None => {
                let rows = self.with(async |c| {
                    c.query(
                        "SELECT r.id FROM runs r JOIN run_documents d ON d.run_id = r.id
                         WHERE r.partition IS NOT NULL
                         ORDER BY r.started_ms DESC, r.id DESC LIMIT 1",
                        &[],
                    )
                    .await
                })?;
                rows.first().map(|row| row.get::<_, String>(0)).ok_or_else(|| {
                    StoreError::UnknownRun("the latest partitioned run".to_owned())
                })?
            }
        };
        let rows = self.with(async |c| {
            c.query(
                "SELECT DISTINCT ON (r.partition) r.id, d.results_json
                 FROM runs r JOIN run_documents d ON d.run_id = r.id,
                      (SELECT selection_digest, git_commit, partition FROM runs WHERE id = $1) a
                 WHERE r.partition IS NOT NULL AND a.partition IS NOT NULL
                   AND r.selection_digest IS NOT DISTINCT FROM a.selection_digest
                   AND r.git_commit IS NOT DISTINCT FROM a.git_commit
                   AND split_part(r.partition, '/', 2) = split_part(a.partition, '/', 2)
                 ORDER BY r.partition, r.started_ms DESC, r.id DESC",
                &[&anchor],
            )
            .await
        })?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    fn started_ms(&self, id: &str) -> Result<i64, StoreError> {
        let rows = self
            .with(async |c| c.query("SELECT started_ms FROM runs WHERE id = $1", &[&id]).await)?;
        rows.first().map(|row| row.get(0)).ok_or_else(|| StoreError::UnknownRun(id.to_owned()))
    }

    #[cfg(test)]
    pub(crate) fn execute_for_tests(&self, sql: &str) {
        let sql = sql.to_owned();
        self.with(async |c| c.client.batch_execute(&sql).await).unwrap();
    }
}

const PUT_CACHE: &str = "
    INSERT INTO cache
        (key, scenario_id, status, outcome_json, cost_usd, created_ms, tool_version, parts_json)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (key) DO UPDATE SET scenario_id = EXCLUDED.scenario_id,
        status = EXCLUDED.status, outcome_json = EXCLUDED.outcome_json,
        cost_usd = EXCLUDED.cost_usd, created_ms = EXCLUDED.created_ms,
        tool_version = EXCLUDED.tool_version, parts_json = EXCLUDED.parts_json";

/// A batch of outcomes: their history rows (`run_scenarios`), the whole outcomes
/// (`run_outcomes`, for the dashboard) and their cache entries, in one statement, as SQLite
/// writes them in one transaction. Parameters: [`HistoryColumns::params`], then
/// [`CacheColumns::params`].
const PUT_OUTCOMES: &str = "
    WITH history AS (
        INSERT INTO run_scenarios
            (run_id, scenario_id, priority, agent, status, cached, cost_usd, latency_ms,
             duration_ms, reason)
        SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[],
            $7::float8[], $8::int8[], $9::int8[], $10::text[])
        ON CONFLICT (run_id, scenario_id) DO UPDATE SET priority = EXCLUDED.priority,
            agent = EXCLUDED.agent, status = EXCLUDED.status, cached = EXCLUDED.cached,
            cost_usd = EXCLUDED.cost_usd, latency_ms = EXCLUDED.latency_ms,
            duration_ms = EXCLUDED.duration_ms, reason = EXCLUDED.reason
    ), entries AS (
        INSERT INTO cache
            (key, scenario_id, status, outcome_json, cost_usd, created_ms, tool_version,
             parts_json)
        SELECT key, scenario_id, status, outcome_json, cost_usd, created_ms, $19, parts_json
        FROM UNNEST($13::text[], $14::text[], $15::text[], $16::text[], $17::float8[],
            $18::int8[], $20::text[])
            AS e(key, scenario_id, status, outcome_json, cost_usd, created_ms, parts_json)
        ON CONFLICT (key) DO UPDATE SET scenario_id = EXCLUDED.scenario_id,
            status = EXCLUDED.status, outcome_json = EXCLUDED.outcome_json,
            cost_usd = EXCLUDED.cost_usd, created_ms = EXCLUDED.created_ms,
            tool_version = EXCLUDED.tool_version, parts_json = EXCLUDED.parts_json
    )
    INSERT INTO run_outcomes (run_id, scenario_id, recorded_ms, outcome_json)
    SELECT $1, * FROM UNNEST($2::text[], $11::int8[], $12::text[])
    ON CONFLICT (run_id, scenario_id) DO UPDATE SET recorded_ms = EXCLUDED.recorded_ms,
        outcome_json = EXCLUDED.outcome_json";

/// One `run_scenarios` row's values, and the `run_outcomes` row beside it.
struct HistoryRow {
    id: String,
    priority: &'static str,
    agent: String,
    status: &'static str,
    cached: bool,
    cost_usd: Option<f64>,
    latency_ms: Option<i64>,
    duration_ms: i64,
    reason: Option<String>,
    recorded_ms: i64,
    json: String,
}

impl HistoryRow {
    fn new(outcome: &Outcome) -> Result<Self, serde_json::Error> {
        Ok(HistoryRow {
            id: outcome.id.clone(),
            priority: outcome.priority.as_str(),
            agent: outcome.agent.clone(),
            status: outcome.status.as_str(),
            cached: outcome.cached,
            cost_usd: outcome.cost_usd,
            latency_ms: outcome.latency_ms.map(to_i64),
            duration_ms: to_i64(outcome.duration_ms),
            reason: outcome.reasons.first().cloned(),
            recorded_ms: now_ms(),
            json: serde_json::to_string(outcome)?,
        })
    }
}

/// One `cache` row's values.
struct CacheRow {
    key: String,
    scenario_id: String,
    status: &'static str,
    json: String,
    cost_usd: Option<f64>,
    created_ms: i64,
    tool_version: &'static str,
    parts_json: Option<String>,
}

impl CacheRow {
    fn new(
        key: &CacheKey,
        outcome: &Outcome,
        cost_usd: Option<f64>,
    ) -> Result<Self, serde_json::Error> {
        Ok(CacheRow {
            key: key.as_str().to_owned(),
            scenario_id: outcome.id.clone(),
            status: outcome.status.as_str(),
            json: serde_json::to_string(outcome)?,
            cost_usd,
            created_ms: now_ms(),
            tool_version: env!("CARGO_PKG_VERSION"),
            parts_json: key.parts_json().map(str::to_owned),
        })
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.key,
            &self.scenario_id,
            &self.status,
            &self.json,
            &self.cost_usd,
            &self.created_ms,
            &self.tool_version,
            &self.parts_json,
        ]
    }
}

/// A batch's history rows as the arrays [`PUT_OUTCOMES`] unnests ($2–$12).
struct HistoryColumns<'a> {
    ids: Vec<&'a str>,
    priorities: Vec<&'static str>,
    agents: Vec<&'a str>,
    statuses: Vec<&'static str>,
    cached: Vec<bool>,
    costs: Vec<Option<f64>>,
    latencies: Vec<Option<i64>>,
    durations: Vec<i64>,
    reasons: Vec<Option<&'a str>>,
    recorded: Vec<i64>,
    jsons: Vec<&'a str>,
}

impl<'a> HistoryColumns<'a> {
    fn new(rows: &'a [HistoryRow]) -> Self {
        HistoryColumns {
            ids: rows.iter().map(|r| r.id.as_str()).collect(),
            priorities: rows.iter().map(|r| r.priority).collect(),
            agents: rows.iter().map(|r| r.agent.as_str()).collect(),
            statuses: rows.iter().map(|r| r.status).collect(),
            cached: rows.iter().map(|r| r.cached).collect(),
            costs: rows.iter().map(|r| r.cost_usd).collect(),
            latencies: rows.iter().map(|r| r.latency_ms).collect(),
            durations: rows.iter().map(|r| r.duration_ms).collect(),
            reasons: rows.iter().map(|r| r.reason.as_deref()).collect(),
            recorded: rows.iter().map(|r| r.recorded_ms).collect(),
            jsons: rows.iter().map(|r| r.json.as_str()).collect(),
        }
    }

    /// $1 (the run) to $12.
    fn params<'p>(&'p self, run_id: &'p &'p str) -> Vec<&'p (dyn ToSql + Sync)> {
        vec![
            run_id,
            &self.ids,
            &self.priorities,
            &self.agents,
            &self.statuses,
            &self.cached,
            &self.costs,
            &self.latencies,
            &self.durations,
            &self.reasons,
            &self.recorded,
            &self.jsons,
        ]
    }
}

/// A batch's cache entries as the arrays [`PUT_OUTCOMES`] unnests ($13–$20).
struct CacheColumns<'a> {
    keys: Vec<&'a str>,
    scenario_ids: Vec<&'a str>,
    statuses: Vec<&'static str>,
    jsons: Vec<&'a str>,
    costs: Vec<Option<f64>>,
    created: Vec<i64>,
    tool_version: &'static str,
    parts: Vec<Option<&'a str>>,
}

impl<'a> CacheColumns<'a> {
    fn new(rows: &'a [CacheRow]) -> Self {
        CacheColumns {
            keys: rows.iter().map(|r| r.key.as_str()).collect(),
            scenario_ids: rows.iter().map(|r| r.scenario_id.as_str()).collect(),
            statuses: rows.iter().map(|r| r.status).collect(),
            jsons: rows.iter().map(|r| r.json.as_str()).collect(),
            costs: rows.iter().map(|r| r.cost_usd).collect(),
            created: rows.iter().map(|r| r.created_ms).collect(),
            tool_version: env!("CARGO_PKG_VERSION"),
            parts: rows.iter().map(|r| r.parts_json.as_deref()).collect(),
        }
    }

    /// $13 to $20.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.keys,
            &self.scenario_ids,
            &self.statuses,
            &self.jsons,
            &self.costs,
            &self.created,
            &self.tool_version,
            &self.parts,
        ]
    }
}

fn run_record(row: &Row) -> RunRecord {
    let count = |i: usize| usize::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    let counts = StatusCounts {
        total: count(14),
        passed: count(15),
        failed: count(16),
        error: count(17),
        skipped: count(18),
        unassessed: count(21),
    };
    let hits: Option<i64> = row.get(11);
    let misses: Option<i64> = row.get(12);
    let saved: Option<f64> = row.get(13);
    let cache = hits.map(|hits| CacheStats {
        hits: usize::try_from(hits).unwrap_or(0),
        misses: misses.and_then(|m| usize::try_from(m).ok()).unwrap_or(0),
        saved_usd: saved.unwrap_or(0.0),
        ..CacheStats::default()
    });
    RunRecord {
        id: row.get(0),
        started_at: row.get(1),
        finished_at: row.get(2),
        duration_ms: row.get::<_, Option<i64>>(3).map(i64::unsigned_abs),
        git_commit: row.get(4),
        config_digest: row.get(5),
        tool_version: row.get(6),
        planned: count(7),
        exit_code: row.get(8),
        cancelled: row.get(9),
        cost_usd: row.get::<_, Option<f64>>(10).unwrap_or_else(|| row.get(20)),
        cache,
        counts,
        cached: count(19),
        partition: row.get(22),
        selection_digest: row.get(23),
    }
}

/// The server's own words for a database error (tokio-postgres shows only "db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                text.push_str(": ");
                text.push_str(&inner.to_string());
                source = inner.source();
            }
            text
        }
    }
}

/// rustls with the system's roots, or only the CA in `sslrootcert`.
fn tls_connector(
    target: &PgTarget,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let bad = |message: String| StoreError::BadUrl { store: target.display.clone(), message };
    let mut roots = rustls::RootCertStore::empty();
    match &target.root_cert {
        Some(file) => {
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(file)
                .map_err(|e| bad(format!("sslrootcert {}: {e}", file.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", file.display())))?;
                roots.add(cert).map_err(|e| bad(format!("sslrootcert {}: {e}", file.display())))?;
            }
        }
        None => {
            // Unreadable system certificates are skipped, as browsers do.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn cancel_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::FailFast => "fail-fast",
        CancelReason::MaxFail => "max-fail",
        CancelReason::Budget => "budget",
        CancelReason::Interrupted => "interrupted",
    }
}

fn parse_status(text: &str) -> Status {
    Status::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(Status::Error)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_by_field_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:other:rogue:wrong\n\
                    db.example:*:rogue:rogue:pa\\:ss\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, ["db.example", "5432", "rogue", "rogue"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(pgpass_lookup(text, ["elsewhere", "1", "x", "y"]).as_deref(), Some("fallback"));
        assert_eq!(pgpass_lookup("h:1:d:u:p\n", ["h", "2", "d", "u"]), None);
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_echoing_it() {
        for url in [
            "postgres://rogue:hunter2@db.example/rogue",
            "postgresql://rogue@db.example/rogue?password=hunter2",
        ] {
            let err = PgTarget::parse(url, 4).unwrap_err().to_string();
            assert!(err.contains("PGPASSWORD"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn urls_are_parsed_with_libpq_tls_options_and_shown_redacted() {
        let target = PgTarget::parse(
            "postgresql://rogue@db.example:6543/team?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
            8,
        )
        .unwrap();
        assert_eq!(target.tls, TlsMode::Require);
        assert_eq!(target.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(target.pool_size(), 8);
        assert_eq!(target.config.get_dbname(), Some("team"));
        assert!(!target.display().contains("rogue@"), "{}", target.display());
        let err = PgTarget::parse("mysql://db/x", 1).unwrap_err().to_string();
        assert!(err.contains("postgres://"), "{err}");
        let err = PgTarget::parse("postgres://db/x?sslmode=sometimes", 1).unwrap_err().to_string();
        assert!(err.contains("sslmode=sometimes"), "{err}");
    }
}
