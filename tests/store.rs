//! The store end to end: the real binary against an in-process mock agent, killed with
//! SIGKILL, run twice at once, and compared; plus `history` and `compare` output over a
//! handmade history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;
use rogue_runner::model::{CacheStats, Outcome, Status};
use rogue_runner::scenario::Priority;
use rogue_runner::store::{RunStart, Store, is_cacheable};
use serde_json::Value;

/// The mock agent, answering after `latency`.
fn mock_agent(latency: Duration) -> MockServer {
    MockServer::start(MockAgentOptions { latency, ..MockAgentOptions::default() })
}

/// `count` native-format scenarios for agent `shop`: every fifth one fails (the mock echoes
/// the message, which never says "pong"), the rest pass.
fn write_scenarios(dir: &Path, count: usize, failing: &[usize]) -> PathBuf {
    let mut yaml = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..count {
        let expect = if i % 5 == 4 || failing.contains(&i) { "pong" } else { "ping" };
        writeln!(
            yaml,
            "  - id: shop_{i:03}\n    priority: P1\n    category: c\n    description: d{i}\n    \
             message: \"ping {i}\"\n    expect:\n      contains: [{expect}]"
        )
        .unwrap();
    }
    let path = dir.join("scenarios");
    fs_err::create_dir_all(&path).unwrap();
    fs_err::write(path.join("shop.yaml"), yaml).unwrap();
    path
}

fn run_command(dir: &Path, scenarios: &Path, server: &str, out: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command
        .args(["run", "--scenarios-dir"])
        .arg(scenarios)
        .args(["--rogue-server", server, "--output-dir", out, "--progress", "quiet"])
        .args(["--no-fail-fast", "--cache-dir", "cache"])
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_SHA")
        .stdin(Stdio::null());
    command
}

/// The events of an `events.jsonl`, skipping a last line cut short by a kill.
fn events(path: &Path) -> Vec<Value> {
    let text = fs_err::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

fn finished(events: &[Value]) -> Vec<Outcome> {
    events
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| serde_json::from_value(e["outcome"].clone()).unwrap())
        .collect()
}

fn run_id(events: &[Value]) -> String {
    events.iter().find(|e| e["event"] == "run_started").unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until `events.jsonl` shows at least `n` finished scenarios; fails after 60 s.
fn wait_for_finished(path: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if finished(&events(path)).len() >= n {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {n} scenarios finished");
        }
        assert!(Instant::now() < deadline, "fewer than {n} scenarios finished within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_sound_store_with_every_finished_result() {
    let agent = mock_agent(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 60, &[]);
    let mut child = run_command(
        dir.path(),
        &scenarios,
        &agent.base_url(),
        "out",
        &["--use-cache", "--agent-version", "v1", "--parallel", "4"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let events_path = dir.path().join("out/events.jsonl");
    wait_for_finished(&events_path, 8, &mut child);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let events = events(&events_path);
    let done = finished(&events);
    assert!(done.len() >= 8 && done.len() < 60, "killed mid-way: {} finished", done.len());
    let store = Store::open_existing(&dir.path().join("cache")).unwrap().unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let run = store.find_run(&run_id(&events)).unwrap();
    assert!(!run.is_finished(), "a killed run stays unfinished");
    let recorded: BTreeMap<String, Status> =
        store.run_results(run).unwrap().scenarios.into_iter().map(|s| (s.id, s.status)).collect();
    for outcome in &done {
        assert_eq!(recorded.get(&outcome.id), Some(&outcome.status), "{} is missing", outcome.id);
    }
    let cacheable = done.iter().filter(|o| is_cacheable(o)).count();
    assert!(cacheable >= 8);
    assert!(store.cache_summary().unwrap().entries >= cacheable as u64);
    drop(store);

    // The next run reuses every finished result (the agent's identity is pinned).
    let output = run_command(
        dir.path(),
        &scenarios,
        &agent.base_url(),
        "out2",
        &["--use-cache", "--agent-version", "v1", "--parallel", "16"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("out2/results.json")).unwrap(),
    )
    .unwrap();
    let cache: CacheStats = serde_json::from_value(results["run"]["cache"].clone()).unwrap();
    assert!(cache.hits >= cacheable, "{cache:?} after {cacheable} cacheable results");
    assert_eq!(cache.hits + cache.misses, 60);
    let summary = fs_err::read_to_string(dir.path().join("out2/summary.md")).unwrap();
    assert!(
        summary.contains("| Outcome hits | Judge hits | Misses | Hit rate | Cost saved |"),
        "{summary}"
    );
}

#[test]
fn two_runs_at_once_on_one_cache_dir_both_finish_and_are_recorded() {
    let agent = mock_agent(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 40, &[]);
    let spawn = |out: &str| {
        run_command(
            dir.path(),
            &scenarios,
            &agent.base_url(),
            out,
            &["--use-cache", "--parallel", "8"],
        )
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn("out_a"), spawn("out_b"));
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "8 of 40 fail by design: {stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let store = Store::open_existing(&dir.path().join("cache")).unwrap().unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert!(run.is_finished());
        assert_eq!((run.counts.total, run.counts.passed, run.counts.failed), (40, 32, 8));
        // Found beside the run (on the report thread), recorded with its start.
        assert_eq!(run.git_commit.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
    }
    assert_eq!(store.cache_summary().unwrap().entries, 40);
}

#[test]
fn baseline_gates_only_on_new_failures() {
    let agent = mock_agent(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let run = |failing: &[usize], extra: &[&str]| {
        let scenarios = write_scenarios(dir.path(), 10, failing);
        let output =
            run_command(dir.path(), &scenarios, &agent.base_url(), "out", extra).output().unwrap();
        (output.status.code().unwrap(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    // Run 1: shop_004 and shop_009 fail.
    assert_eq!(run(&[], &[]).0, 1);
    // Run 2: shop_001 fails too: a regression, so exit 1 even when gating on regressions.
    let (code, stderr) = run(&[1], &["--baseline", "latest", "--fail-on-regressions-only"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("1 newly failing, 0 fixed, 2 still failing"), "{stderr}");
    assert!(stderr.contains("shop_001"), "{stderr}");
    // Run 3: the same failures as run 2: nothing new, exit 0.
    let (code, stderr) = run(&[1], &["--fail-on-regressions-only"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("0 newly failing"), "{stderr}");
    // Without the flag the failures still fail the run.
    assert_eq!(run(&[1], &["--baseline", "latest"]).0, 1);
    // An unknown baseline is a usage error before anything runs.
    let (code, stderr) = run(&[], &["--baseline", "ffffffff"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no recorded run matches `ffffffff`"), "{stderr}");

    let compare =
        common::run_in(dir.path(), &["compare", "--cache-dir", "cache", "--format", "json"]);
    assert_eq!(compare.code, 0, "{}", compare.stderr);
    let json: Value = serde_json::from_str(&compare.stdout).unwrap();
    assert_eq!(json["newly_failing"].as_array().unwrap().len(), 0);
    assert_eq!(json["still_failing"].as_array().unwrap().len(), 3);
    let history =
        common::run_in(dir.path(), &["history", "--cache-dir", "cache", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&history.stdout).unwrap().as_array().unwrap().len(),
        4
    );
}

// ---- a handmade history ------------------------------------------------------------------

fn outcome(id: &str, priority: Priority, status: Status, latency_ms: u64, cost: f64) -> Outcome {
    Outcome {
        id: id.to_owned(),
        priority,
        category: "c".to_owned(),
        agent: "shop".to_owned(),
        agent_url: None,
        source: "shop.yaml:1:1".to_owned(),
        status,
        reasons: match status {
            Status::Passed => Vec::new(),
            _ => vec![format!("contains \"ok\": not found in the reply ({id})")],
        },
        checks: Vec::new(),
        transcript: Vec::new(),
        latency_ms: Some(latency_ms),
        duration_ms: latency_ms + 5,
        usage: None,
        cost_usd: Some(cost),
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

/// Four runs a day apart: `flappy` flips every run, `regressed` fails in the last,
/// `repaired` passes in the last, `broken` always fails, `slow` gets slower.
fn handmade_history(dir: &Path) {
    use Status::{Failed as F, Passed as P};
    let store = Store::open(dir).unwrap();
    let plan = [
        ("flappy", Priority::P0, [P, F, P, F]),
        ("regressed", Priority::P0, [P, P, P, F]),
        ("repaired", Priority::P1, [F, F, F, P]),
        ("broken", Priority::P1, [F, F, F, F]),
        ("slow", Priority::P2, [P, P, P, P]),
    ];
    for run in 0..4 {
        let id = format!("{run}{run}{run}{run}aaaabbbbccccdddd000011112222333");
        let started_at = format!("2026-03-0{}T09:00:00Z", run + 1);
        store
            .record_run_started(&RunStart {
                run_id: id.clone(),
                started_at: started_at.clone(),
                planned: plan.len(),
                git_commit: Some(format!("{run}abcdef0123456789abcdef0123456789abcdef0")),
                config_digest: "0123456789abcdef".to_owned(),
                ..RunStart::default()
            })
            .unwrap();
        let outcomes: Vec<Outcome> = plan
            .iter()
            .map(|(name, priority, statuses)| {
                let latency = if *name == "slow" { 200 + 300 * run as u64 } else { 100 };
                outcome(name, *priority, statuses[run], latency, 0.001 * (run + 1) as f64)
            })
            .collect();
        for o in &outcomes {
            store.record_outcome(&id, o, None).unwrap();
        }
        let mut summary = rogue_runner::engine::summarize(
            id,
            started_at,
            format!("2026-03-0{}T09:00:12Z", run + 1),
            12_000 + 1000 * run as u64,
            &outcomes,
            None,
        );
        summary.cache = Some(CacheStats { hits: run, misses: 5 - run, ..CacheStats::default() });
        store.finish_run(&summary).unwrap();
    }
}

#[test]
fn history_and_compare_output() {
    let dir = tempfile::tempdir().unwrap();
    handmade_history(&dir.path().join("cache"));
    let history = common::run_in(dir.path(), &["history", "--cache-dir", "cache"]);
    insta::assert_snapshot!("history_table", history.combined());
    let compare = common::run_in(dir.path(), &["compare", "--cache-dir", "cache"]);
    insta::assert_snapshot!("compare_last_two", compare.combined());
    let compare = common::run_in(dir.path(), &["compare", "0000", "2222", "--cache-dir", "cache"]);
    insta::assert_snapshot!("compare_by_prefix", compare.combined());
    let limited = common::run_in(dir.path(), &["history", "--cache-dir", "cache", "--limit", "1"]);
    assert_eq!(limited.stdout.lines().count(), 2, "{}", limited.stdout);
}

#[test]
fn store_commands_explain_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let history = common::run_in(dir.path(), &["history", "--cache-dir", "none"]);
    assert_eq!((history.code, history.stdout.as_str()), (0, "No run is recorded in none yet.\n"));
    let compare = common::run_in(dir.path(), &["compare", "--cache-dir", "none"]);
    assert_eq!(compare.code, 2);
    assert!(compare.stderr.contains("no run is recorded in none yet"), "{}", compare.stderr);
    let stats = common::run_in(dir.path(), &["cache", "stats", "--cache-dir", "none"]);
    assert_eq!(stats.code, 0);
    assert!(stats.stdout.contains("nothing is cached"), "{}", stats.stdout);
    assert!(!dir.path().join("none").exists(), "read-only commands create nothing");

    handmade_history(&dir.path().join("cache"));
    let unknown = common::run_in(dir.path(), &["compare", "9999", "--cache-dir", "cache"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no recorded run matches `9999`"), "{}", unknown.stderr);
}

#[test]
fn cache_stats_clear_and_prune() {
    let agent = mock_agent(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 10, &[]);
    let output = run_command(dir.path(), &scenarios, &agent.base_url(), "out", &["--use-cache"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stats = common::run_in(dir.path(), &["cache", "stats", "--cache-dir", "cache"]);
    assert!(
        stats.stdout.contains("Entries:  10 cached results (8 passed, 2 failed, 0 skipped)"),
        "{}",
        stats.stdout
    );
    let json =
        common::run_in(dir.path(), &["cache", "--cache-dir", "cache", "stats", "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((json["entries"].as_u64(), json["runs"].as_u64()), (Some(10), Some(1)));
    let prune = common::run_in(
        dir.path(),
        &["cache", "prune", "--older-than", "30d", "--cache-dir", "cache"],
    );
    assert_eq!(prune.stdout, "Removed 0 cached results stored more than 30days ago.\n");
    let clear = common::run_in(dir.path(), &["cache", "clear", "--cache-dir", "cache"]);
    assert_eq!(clear.stdout, "Removed 10 cached results from cache (the run history is kept).\n");
    let history =
        common::run_in(dir.path(), &["history", "--cache-dir", "cache", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&history.stdout).unwrap().as_array().unwrap().len(),
        1
    );
}
