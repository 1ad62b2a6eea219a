//! The shared store suite: every test runs against a real SQLite file in a temporary
//! directory (`sqlite::…`) and against a real PostgreSQL server (`postgres::…`, ignored
//! unless run with `--ignored`: it starts a throwaway cluster, see `pg_cluster`).

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::*;
use crate::digest::digest_hex;
use crate::model::{Outcome, Status};
use crate::scenario::Priority;

fn outcome(id: &str, status: Status) -> Outcome {
    Outcome {
        id: id.to_owned(),
        priority: Priority::P1,
        category: "c".to_owned(),
        agent: "qa".to_owned(),
        agent_url: None,
        source: "qa.yaml:1:1".to_owned(),
        status,
        reasons: vec![format!("{id} is {status}")],
        checks: Vec::new(),
        transcript: Vec::new(),
        latency_ms: Some(120),
        duration_ms: 130,
        usage: None,
        cost_usd: Some(0.002),
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

/// Any 64-hex string will do as a key.
fn key(n: u8) -> CacheKey {
    CacheKey::from_hex_for_tests(&digest_hex(&serde_json::json!({ "n": n })))
}

fn start(store: &Store, id: &str, started_at: &str) {
    store
        .record_run_started(&RunStart {
            run_id: id.to_owned(),
            started_at: started_at.to_owned(),
            planned: 3,
            git_commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            config_digest: "cafe".to_owned(),
            ..RunStart::default()
        })
        .unwrap();
}

fn finish(store: &Store, id: &str, outcomes: &[Outcome]) {
    let summary = crate::engine::summarize(
        id.to_owned(),
        "2026-01-01T00:00:00Z".to_owned(),
        "2026-01-01T00:00:01Z".to_owned(),
        1000,
        outcomes,
        None,
    );
    assert!(store.finish_run(&summary).unwrap());
}

fn conversation_results_are_cached_errors_and_unrun_skips_never(store: &Store) {
    for (n, status, attempts, cached) in [
        (1, Status::Passed, 1, true),
        (2, Status::Failed, 1, true),
        (3, Status::Error, 1, false),
        (4, Status::Error, 0, false),
        // Skipped after a conversation (nothing in the replies was checkable): cached.
        (6, Status::Skipped, 1, true),
        // Skipped without one (fail-fast, interrupt, nothing checkable at all): never.
        (7, Status::Skipped, 0, false),
    ] {
        let mut o = outcome("s", status);
        o.attempts = attempts;
        assert_eq!(is_cacheable(&o), cached, "{status} after {attempts} attempts");
        let stored = store.cache_put(&key(n), &o, Some(0.01)).unwrap();
        assert_eq!(stored, cached, "{status}");
        let found = store.cache_lookup(&key(n)).unwrap();
        assert_eq!(matches!(found, Lookup::Hit(_)), cached, "{status}");
    }
    // An outcome that came from the cache is not stored again.
    let mut from_cache = outcome("s", Status::Passed);
    from_cache.cached = true;
    assert!(!store.cache_put(&key(9), &from_cache, None).unwrap());
    // Recording an error outcome with a key stores the history row, never the cache entry.
    start(store, "run1", "2026-01-01T00:00:00Z");
    store.record_outcome("run1", &outcome("e", Status::Error), Some((&key(5), Some(0.1)))).unwrap();
    assert_eq!(store.cache_lookup(&key(5)).unwrap(), Lookup::Miss);
    let summary = store.cache_summary().unwrap();
    assert_eq!(
        (summary.entries, summary.passed, summary.failed, summary.skipped, summary.runs),
        (3, 1, 1, 1, 1)
    );
    assert!((summary.cost_usd - 0.03).abs() < 1e-9);
}

fn lookups_come_back_in_order_and_as_stored(store: &Store) {
    let stored = outcome("a", Status::Failed);
    store.cache_put(&key(1), &stored, Some(0.5)).unwrap();
    store.cache_put(&key(3), &outcome("c", Status::Passed), None).unwrap();
    let found = store.cache_lookup_many(&[key(1), key(2), key(3)]).unwrap();
    assert_eq!(found.len(), 3);
    let first = found[0].as_ref().unwrap();
    assert_eq!(first.outcome, stored);
    assert_eq!(first.cost_usd, Some(0.5));
    assert!(found[1].is_none());
    assert_eq!(found[2].as_ref().unwrap().outcome.id, "c");
}

fn clear_and_prune(store: &Store) {
    store.cache_put(&key(1), &outcome("a", Status::Passed), None).unwrap();
    store.execute_for_tests("UPDATE cache SET created_ms = created_ms - 3456000000");
    store.cache_put(&key(2), &outcome("b", Status::Passed), None).unwrap();
    assert_eq!(store.cache_prune(Duration::from_secs(30 * 86_400)).unwrap(), 1);
    assert_eq!(store.cache_lookup(&key(1)).unwrap(), Lookup::Miss);
    assert!(matches!(store.cache_lookup(&key(2)).unwrap(), Lookup::Hit(_)));
    start(store, "run1", "2026-01-01T00:00:00Z");
    assert_eq!(store.cache_clear().unwrap(), 1);
    let summary = store.cache_summary().unwrap();
    assert_eq!((summary.entries, summary.runs), (0, 1), "clear keeps the history");
    assert_eq!(summary.oldest, None);
}

fn history_records_runs_as_they_go(store: &Store) {
    start(store, "aaaa1111", "2026-01-01T00:00:00Z");
    let first = [outcome("x", Status::Passed), outcome("y", Status::Failed)];
    for o in &first {
        store.record_outcome("aaaa1111", o, None).unwrap();
    }
    finish(store, "aaaa1111", &first);
    start(store, "aaaa2222", "2026-01-02T00:00:00Z");
    store.record_outcome("aaaa2222", &outcome("x", Status::Failed), None).unwrap();
    // The second run never finishes (killed).

    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, "aaaa2222", "newest first");
    assert!(!runs[0].is_finished());
    assert_eq!((runs[0].counts.total, runs[0].counts.failed), (1, 1));
    assert!(runs[1].is_finished());
    assert_eq!((runs[1].counts.passed, runs[1].counts.failed), (1, 1));
    assert_eq!(runs[1].exit_code, Some(1));
    assert!((runs[1].cost_usd - 0.004).abs() < 1e-9);
    assert_eq!(runs[1].git_commit.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));

    // `latest` is the newest finished run; prefixes must be unique.
    assert_eq!(store.find_run("latest").unwrap().id, "aaaa1111");
    assert_eq!(store.find_run("aaaa2").unwrap().id, "aaaa2222");
    assert!(matches!(store.find_run("aaaa"), Err(StoreError::AmbiguousRun { count: 2, .. })));
    assert!(matches!(store.find_run("zz"), Err(StoreError::UnknownRun(_))));

    let results = store.run_results(runs[1].clone()).unwrap();
    let statuses: Vec<(&str, Status)> =
        results.scenarios.iter().map(|s| (s.id.as_str(), s.status)).collect();
    assert_eq!(statuses, [("x", Status::Passed), ("y", Status::Failed)]);
    assert_eq!(results.scenarios[1].reason.as_deref(), Some("y is failed"));
    assert_eq!(results.scenarios[0].latency_ms, Some(120));

    let comparison = store.compare_runs(&runs[1], &runs[0], 10).unwrap();
    assert_eq!(comparison.newly_failing.len(), 1);
    assert_eq!(comparison.still_failing.len(), 0);
    assert_eq!(comparison.only_in_a, 1);
    assert_eq!(comparison.flaky_window, 2, "the unfinished B ends the window");
}

fn outcomes_and_cache_entries_are_written_together(store: &Store) {
    start(store, "r", "2026-01-01T00:00:00Z");
    store.record_outcome("r", &outcome("a", Status::Passed), Some((&key(1), Some(0.3)))).unwrap();
    let hit = store.cache_lookup_many(&[key(1)]).unwrap().remove(0).unwrap();
    assert_eq!(hit.cost_usd, Some(0.3));
    // A run id that was never started breaks the foreign key: nothing is written.
    let err = store.record_outcome("nope", &outcome("b", Status::Passed), Some((&key(2), None)));
    assert!(err.is_err());
    assert_eq!(store.cache_lookup(&key(2)).unwrap(), Lookup::Miss);
}

/// The recorder's group commit: history rows, whole outcomes and cache entries of many
/// outcomes in one write; the last of an id (or a key) wins; what may not be cached is not.
fn a_batch_of_outcomes_is_written_whole_or_not_at_all(store: &Store) {
    start(store, "r", "2026-01-01T00:00:00Z");
    let (a, b, errored) =
        (outcome("a", Status::Passed), outcome("b", Status::Failed), outcome("e", Status::Error));
    let mut b_again = outcome("b", Status::Passed);
    b_again.cost_usd = Some(0.5);
    let (k1, k2, k3) = (key(11), key(12), key(13));
    let batch = [
        (&a, Some((&k1, Some(0.1)))),
        (&b, Some((&k2, Some(0.2)))),
        (&errored, Some((&k3, None))),
        (&b_again, Some((&k2, Some(0.5)))),
    ];
    store.record_outcome_batch("r", &batch).unwrap();
    let results = store.run_results(store.find_run("r").unwrap()).unwrap();
    let statuses: Vec<(&str, Status)> =
        results.scenarios.iter().map(|s| (s.id.as_str(), s.status)).collect();
    assert_eq!(statuses, [("a", Status::Passed), ("b", Status::Passed), ("e", Status::Error)]);
    assert_eq!(store.outcome_record("r", "b").unwrap().unwrap().cost_usd, Some(0.5));
    let found = store.cache_lookup_many(&[k1.clone(), k2.clone(), k3.clone()]).unwrap();
    let costs: Vec<Option<Option<f64>>> =
        found.iter().map(|hit| hit.as_ref().map(|h| h.cost_usd)).collect();
    assert_eq!(costs, [Some(Some(0.1)), Some(Some(0.5)), None], "an error is never cached");
    // A batch into a run that was never started breaks a foreign key: none of it is written.
    let (k4, k5) = (key(14), key(15));
    let (c, d) = (outcome("c", Status::Passed), outcome("d", Status::Passed));
    let err =
        store.record_outcome_batch("nope", &[(&c, Some((&k4, None))), (&d, Some((&k5, None)))]);
    assert!(err.is_err());
    assert_eq!(store.cache_lookup_many(&[k4, k5]).unwrap(), [None, None]);
    assert_eq!(store.outcome_record("nope", "c").unwrap(), None);
}

fn entries_keep_their_key_parts_and_judge_verdicts_are_kept_apart(store: &Store) {
    let parts = KeyParts(vec![KeyPart {
        name: "agent identity".to_owned(),
        digest: digest_hex(&"--agent-version v1"),
        shown: "--agent-version v1".to_owned(),
    }]);
    let key = parts.key();
    assert!(store.cache_put(&key, &outcome("a", Status::Passed), Some(0.1)).unwrap());
    let entries = store.cache_entries_for("a").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].key, key.as_str());
    assert_eq!(entries[0].parts.as_ref(), Some(&parts));
    assert!(store.cache_entries_for("b").unwrap().is_empty());

    let ruling = crate::model::JudgeRuling {
        passed: true,
        reason: "states the window".to_owned(),
        score: Some(1.0),
        model: "gpt-4o-mini".to_owned(),
        evaluator: "llm".to_owned(),
        prompt_version: crate::judge::llm::JUDGE_PROMPT_VERSION.to_owned(),
    };
    store.judge_put("j1", "a", &ruling, Some(0.02)).unwrap();
    let found = store.judge_lookup("j1").unwrap().unwrap();
    assert_eq!((found.ruling, found.cost_usd), (ruling, Some(0.02)));
    assert!(store.judge_lookup("j2").unwrap().is_none());
    assert_eq!(store.judge_entries_for("a").unwrap(), 1);
    let stats = store.cache_summary().unwrap();
    assert_eq!((stats.entries, stats.judge_entries), (1, 1));

    // Backdated past a TTL, both are expired for a run, and pruned together.
    store.execute_for_tests("UPDATE cache SET created_ms = created_ms - 86400000");
    store.execute_for_tests("UPDATE judge_cache SET created_ms = created_ms - 86400000");
    let entry = store.cache_lookup_many(std::slice::from_ref(&key)).unwrap().remove(0).unwrap();
    assert!(!within_ttl(entry.created_ms, Duration::from_secs(3600), now_ms()));
    assert!(within_ttl(entry.created_ms, Duration::from_secs(2 * 86400), now_ms()));
    assert_eq!(store.cache_prune(Duration::from_secs(3600)).unwrap(), 1);
    assert!(store.judge_lookup("j1").unwrap().is_none());
}

#[path = "../../tests/common/pg_cluster.rs"]
mod pg_cluster;

/// An open store and what keeps it alive (its directory, or the cluster).
struct Opened {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    _cluster: Option<Arc<pg_cluster::PgCluster>>,
}

fn sqlite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    Opened { store, _dir: Some(dir), _cluster: None }
}

/// One cluster for the tests running at the same time, stopped when the last of them ends.
fn cluster() -> Arc<pg_cluster::PgCluster> {
    static SHARED: Mutex<Weak<pg_cluster::PgCluster>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = shared.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(pg_cluster::PgCluster::start());
    *shared = Arc::downgrade(&cluster);
    cluster
}

/// A PostgreSQL target for a fresh database `db` of the test cluster.
fn pg_target(cluster: &pg_cluster::PgCluster, db: &str, pool: usize) -> PgTarget {
    cluster.create_db(db);
    PgTarget::parse(&cluster.url(db), pool)
        .unwrap()
        .with_password(&crate::secret::Secret::new(pg_cluster::PASSWORD))
}

fn postgres(db: &str) -> Opened {
    let cluster = cluster();
    let target = pg_target(&cluster, db, 4);
    let store = Store::open_at(&Location::Postgres(target)).unwrap();
    Opened { store, _dir: None, _cluster: Some(cluster) }
}

/// Each test of the suite, once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let opened = super::sqlite();
                    super::$name(&opened.store);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                #[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
                fn $name() {
                    let opened = super::postgres(stringify!($name));
                    super::$name(&opened.store);
                }
            )*
        }
    };
}

both_backends!(
    conversation_results_are_cached_errors_and_unrun_skips_never,
    lookups_come_back_in_order_and_as_stored,
    clear_and_prune,
    history_records_runs_as_they_go,
    outcomes_and_cache_entries_are_written_together,
    a_batch_of_outcomes_is_written_whole_or_not_at_all,
    entries_keep_their_key_parts_and_judge_verdicts_are_kept_apart,
    a_page_is_problems_first_and_filters_combine,
    facets_records_history_and_failures,
    finished_run_ids_until_match_finished_runs_until,
    whole_outcomes_are_recorded_with_their_history_rows,
);

/// A fresh location (nothing opened there yet) on each backend, for the tests that open
/// several stores on one location, as several runners do.
macro_rules! both_locations {
    ($($name:ident),* $(,)?) => {
        mod sqlite_location {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(&super::Location::Dir(dir.path().join("store")));
                }
            )*
        }
        mod postgres_location {
            $(
                #[test]
                #[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
                fn $name() {
                    let cluster = super::cluster();
                    let target = super::pg_target(&cluster, stringify!($name), 4);
                    super::$name(&super::Location::Postgres(target));
                }
            )*
        }
    };
}

both_locations!(
    concurrent_runners_migrate_once_and_never_duplicate_a_row,
    a_result_computed_by_one_runner_is_a_hit_for_another,
);

/// Eight runners open one fresh store at once (the first use migrates it once) and write
/// the same run and the same cache keys concurrently: every write lands, none twice.
fn concurrent_runners_migrate_once_and_never_duplicate_a_row(location: &Location) {
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for runner in 0..8u8 {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                let store = Store::open_at(location).unwrap();
                start(&store, "shared", "2026-01-01T00:00:00Z");
                for n in 0..40u8 {
                    let mut o = outcome(&format!("s{n:02}"), Status::Passed);
                    o.latency_ms = Some(u64::from(runner));
                    store.record_outcome("shared", &o, Some((&key(n), Some(0.001)))).unwrap();
                }
                store.record_outcomes("shared", &[outcome("batch", Status::Failed)]).unwrap();
            });
        }
    });
    let store = Store::open_existing_at(location).unwrap().unwrap();
    assert_eq!(store.schema_version().unwrap(), store.schema_version().unwrap());
    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].counts.total, 41, "one row per scenario, however many writers");
    let summary = store.cache_summary().unwrap();
    assert_eq!((summary.entries, summary.passed, summary.runs), (40, 40, 1));
    let results = store.run_results(runs[0].clone()).unwrap();
    assert_eq!(results.scenarios.len(), 41);
}

/// What one runner computed, another runner (another process, another connection) reuses.
fn a_result_computed_by_one_runner_is_a_hit_for_another(location: &Location) {
    let first = Store::open_at(location).unwrap();
    start(&first, "r1", "2026-01-01T00:00:00Z");
    first.record_outcome("r1", &outcome("a", Status::Failed), Some((&key(7), Some(0.25)))).unwrap();
    let second = Store::open_at(location).unwrap();
    let Lookup::Hit(hit) = second.cache_lookup(&key(7)).unwrap() else {
        panic!("the second runner misses what the first stored")
    };
    assert_eq!((hit.outcome.id.as_str(), hit.cost_usd), ("a", Some(0.25)));
    assert_eq!(second.find_run("r1").unwrap().counts.failed, 1);
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn postgres_refuses_a_newer_schema_and_an_empty_database_is_not_a_store() {
    let cluster = cluster();
    let target = pg_target(&cluster, "newer_schema", 2);
    let location = Location::Postgres(target.clone());
    assert!(Store::open_existing_at(&location).unwrap().is_none(), "nothing recorded yet");
    let store = Store::open_at(&location).unwrap();
    assert_eq!(store.schema_version().unwrap(), POSTGRES_SCHEMA_VERSION);
    drop(store);
    cluster.psql(
        "newer_schema",
        &format!(
            "INSERT INTO rogue_runner.schema_version VALUES ({}, '9.9.9', 'now')",
            POSTGRES_SCHEMA_VERSION + 1
        ),
    );
    let err = Store::open_at(&location).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found, .. } if found == POSTGRES_SCHEMA_VERSION + 1)
    );
    let message = err.to_string();
    assert!(
        message
            .contains(&format!("newer than the {POSTGRES_SCHEMA_VERSION} this rogue-runner knows")),
        "{message}"
    );
    assert!(message.contains("upgrade rogue-runner, or use another --store"), "{message}");
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn postgres_errors_name_the_store_without_its_password() {
    let cluster = cluster();
    cluster.create_db("wrong_password");
    let wrong = PgTarget::parse(&cluster.url("wrong_password"), 1)
        .unwrap()
        .with_password(&crate::secret::Secret::new("not-the-password"));
    let err = Store::open_at(&Location::Postgres(wrong)).unwrap_err().to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{}", cluster.port)), "{err}");
    assert!(!err.contains("not-the-password") && !err.contains(pg_cluster::PASSWORD), "{err}");
}

// The dashboard's reads (`store::dashboard`).

use super::dashboard::{OutcomeFilter, OutcomePage};

fn dash_outcome(id: &str, status: Status, priority: Priority, agent: &str) -> Outcome {
    Outcome {
        judge_ms: None,
        id: id.to_owned(),
        priority,
        category: "c".to_owned(),
        agent: agent.to_owned(),
        agent_url: None,
        source: "s.yaml:1:1".to_owned(),
        status,
        reasons: vec![format!("{id} {status}")],
        checks: Vec::new(),
        transcript: Vec::new(),
        latency_ms: Some(id.len() as u64 * 10),
        duration_ms: 5,
        usage: None,
        cost_usd: None,
        cached: false,
        cache: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

/// Run `run1`: five scenarios of two agents, three priorities and every status but
/// unassessed, two of them tagged.
fn store_with_run(store: &Store) {
    store
        .record_run_started(&RunStart {
            run_id: "run1".to_owned(),
            started_at: "2026-01-01T00:00:00Z".to_owned(),
            planned: 5,
            config_digest: "d".to_owned(),
            ..RunStart::default()
        })
        .unwrap();
    let tags = [vec!["security".to_owned()], vec!["security".to_owned(), "a_b%".to_owned()]];
    store.record_run_tags("run1", [("x_fail", &tags[0][..]), ("p_0", &tags[1][..])]).unwrap();
    for o in [
        dash_outcome("a_pass", Status::Passed, Priority::P0, "qa"),
        dash_outcome("x_fail", Status::Failed, Priority::P1, "qa"),
        dash_outcome("p_0", Status::Error, Priority::P0, "ops"),
        dash_outcome("zz_skip", Status::Skipped, Priority::P2, "ops"),
        dash_outcome("b_pass", Status::Passed, Priority::P1, "ops"),
    ] {
        store.record_outcome("run1", &o, None).unwrap();
    }
}

fn ids(page: &OutcomePage) -> Vec<&str> {
    page.rows.iter().map(|r| r.id.as_str()).collect()
}

fn a_page_is_problems_first_and_filters_combine(store: &Store) {
    store_with_run(store);
    let all = store.outcome_page("run1", &OutcomeFilter::default(), 0, 10).unwrap();
    assert_eq!(ids(&all), ["x_fail", "p_0", "zz_skip", "a_pass", "b_pass"]);
    assert_eq!(all.matching, 5);
    let second = store.outcome_page("run1", &OutcomeFilter::default(), 2, 2).unwrap();
    assert_eq!(ids(&second), ["zz_skip", "a_pass"]);
    assert_eq!(second.matching, 5);

    let filter = OutcomeFilter {
        statuses: vec![Status::Failed, Status::Error],
        tag: Some("security".to_owned()),
        ..OutcomeFilter::default()
    };
    assert_eq!(ids(&store.outcome_page("run1", &filter, 0, 10).unwrap()), ["x_fail", "p_0"]);
    let filter = OutcomeFilter {
        agent: Some("ops".to_owned()),
        priority: Some(Priority::P0),
        ..OutcomeFilter::default()
    };
    assert_eq!(ids(&store.outcome_page("run1", &filter, 0, 10).unwrap()), ["p_0"]);
    // `_` and `%` in a search are literal characters.
    let search =
        |text: &str| OutcomeFilter { search: Some(text.to_owned()), ..OutcomeFilter::default() };
    assert_eq!(
        ids(&store.outcome_page("run1", &search("_P"), 0, 10).unwrap()),
        ["a_pass", "b_pass"]
    );
    assert!(store.outcome_page("run1", &search("%"), 0, 10).unwrap().rows.is_empty());
    let tag = OutcomeFilter { tag: Some("a_b%".to_owned()), ..OutcomeFilter::default() };
    assert_eq!(ids(&store.outcome_page("run1", &tag, 0, 10).unwrap()), ["p_0"]);
}

fn facets_records_history_and_failures(store: &Store) {
    store_with_run(store);
    let facets = store.run_facets("run1").unwrap();
    assert_eq!(facets.agents, [("ops".to_owned(), 3), ("qa".to_owned(), 2)]);
    assert_eq!(facets.tags, [("a_b%".to_owned(), 1), ("security".to_owned(), 2)]);
    assert_eq!(facets.priorities[0], (Priority::P0, 2));
    let record = store.outcome_record("run1", "x_fail").unwrap().unwrap();
    assert_eq!(record.reasons, ["x_fail failed"]);
    assert!(store.outcome_record("run1", "missing").unwrap().is_none());
    assert_eq!(store.scenario_tags("run1", "p_0").unwrap(), ["a_b%", "security"]);
    let history = store.scenario_history("x_fail", 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].record.status, Status::Failed);
    assert_eq!(store.run_latencies("run1").unwrap(), [30, 60, 60, 60, 70]);
    let failures = store.recent_failures(&["run1".to_owned()], 10).unwrap();
    let mut failing: Vec<&str> = failures.iter().map(|f| f.record.id.as_str()).collect();
    failing.sort_unstable();
    assert_eq!(failing, ["p_0", "x_fail"]);
    assert_eq!(store.newest_unfinished_run().unwrap().unwrap().id, "run1");
    assert!(store.last_recorded_ms(&["run1".to_owned()]).unwrap().is_some());
    assert_eq!(store.run_ids(5).unwrap(), [("run1".to_owned(), false)]);
    assert!(store.finished_run_ids_until("run1", 5).unwrap().is_empty(), "run1 is unfinished");
}

fn finished_run_ids_until_match_finished_runs_until(store: &Store) {
    for (id, at, finish) in [
        ("r1", "2026-01-01T00:00:00Z", true),
        ("r2", "2026-01-02T00:00:00Z", false),
        ("r3b", "2026-01-03T00:00:00Z", true),
        ("r3a", "2026-01-03T00:00:00Z", true),
        ("r4", "2026-01-04T00:00:00Z", true),
    ] {
        store
            .record_run_started(&RunStart {
                run_id: id.to_owned(),
                started_at: at.to_owned(),
                config_digest: "d".to_owned(),
                ..RunStart::default()
            })
            .unwrap();
        if finish {
            let summary =
                crate::engine::summarize(id.to_owned(), at.to_owned(), at.to_owned(), 1, [], None);
            store.finish_run(&summary).unwrap();
        }
    }
    for until in ["r1", "r2", "r3a", "r3b", "r4"] {
        let run = store.find_run(until).unwrap();
        for limit in [0, 1, 2, 10] {
            let full: Vec<String> = store
                .finished_runs_until(Some(&run), limit)
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(
                store.finished_run_ids_until(until, limit).unwrap(),
                full,
                "{until} {limit}"
            );
        }
    }
}

/// Every write path keeps the whole outcome beside its history row (the dashboard opens it),
/// and a rewrite replaces both.
fn whole_outcomes_are_recorded_with_their_history_rows(store: &Store) {
    start(store, "r1", "2026-01-01T00:00:00Z");
    let first = outcome("cached", Status::Failed);
    store.record_outcome("r1", &first, Some((&key(1), Some(0.5)))).unwrap();
    store.record_outcome("r1", &outcome("plain", Status::Error), None).unwrap();
    store
        .record_outcomes(
            "r1",
            &[outcome("batch", Status::Passed), outcome("batch", Status::Failed)],
        )
        .unwrap();
    for (id, status) in
        [("cached", Status::Failed), ("plain", Status::Error), ("batch", Status::Failed)]
    {
        let record = store.outcome_record("r1", id).unwrap().unwrap();
        assert_eq!((record.id.as_str(), record.status), (id, status));
        assert_eq!(record.reasons, [format!("{id} is {status}")]);
    }
    store.record_outcome("r1", &outcome("plain", Status::Passed), None).unwrap();
    assert_eq!(store.outcome_record("r1", "plain").unwrap().unwrap().status, Status::Passed);
    let failures = store.recent_failures(&["r1".to_owned()], 10).unwrap();
    let mut failing: Vec<&str> = failures.iter().map(|f| f.record.id.as_str()).collect();
    failing.sort_unstable();
    assert_eq!(failing, ["batch", "cached"]);
    assert!(store.outcome_record("r1", "never").unwrap().is_none());
}
