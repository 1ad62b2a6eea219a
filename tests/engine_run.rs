//! The engine through the real binary against the embedded mock agent: every exit code,
//! fail-fast, --max-fail, P0 first, faults that never lose data, Ctrl-C.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;
use serde_json::Value;

/// A temp dir with one native scenario file built from `(id, priority, message, contains)`.
fn scenarios(items: &[(&str, &str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nagent: shop_agent\nscenarios:\n");
    for (id, priority, message, contains) in items {
        let _ = write!(
            text,
            "  - id: {id}\n    priority: {priority}\n    message: {}\n    expect:\n      contains: [{}]\n",
            serde_json::to_string(message).unwrap(),
            serde_json::to_string(contains).unwrap()
        );
    }
    fs_err::write(dir.path().join("scenarios.yaml"), text).unwrap();
    dir
}

fn run(dir: &Path, base: &str, extra: &[&str]) -> (common::Output, Value, PathBuf) {
    let out_dir = dir.join("out");
    let scenarios = dir.join("scenarios.yaml");
    let mut args = vec![
        "run",
        "--scenarios-dir",
        scenarios.to_str().unwrap(),
        "--rogue-server",
        base,
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--progress",
        "plain",
    ];
    args.extend_from_slice(extra);
    let out = common::run_in(dir, &args);
    let results = fs_err::read_to_string(out_dir.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (out, results, out_dir)
}

fn status_of(results: &Value, id: &str) -> String {
    results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn exit_0_when_everything_passes_and_reports_are_written() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[
        ("a", "P0", "refund policy please", "refund"),
        ("b", "P1", "hello there", "hello"),
    ]);
    let (out, results, out_dir) = run(dir.path(), &agent.base_url(), &[]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(results["run"]["counts"]["passed"], 2);
    for file in ["results.json", "summary.md", "events.jsonl"] {
        assert!(out_dir.join(file).is_file(), "{file} missing");
    }
}

#[test]
fn exit_1_when_a_scenario_fails_and_the_reason_says_what_was_expected() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[("ok", "P1", "hello", "hello"), ("bad", "P1", "hello", "goodbye")]);
    let (out, results, _) = run(dir.path(), &agent.base_url(), &[]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(status_of(&results, "bad"), "failed");
    let bad = results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == "bad").unwrap();
    assert_eq!(
        bad["reasons"][0],
        "expect.contains: expected contains \"goodbye\": not found in the reply"
    );
    assert!(out.stderr.contains("FAIL  P1 bad"), "{}", out.stderr);
}

#[test]
fn exit_2_on_invalid_scenarios_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("scenarios.yaml"),
        "version: 1\nscenarios:\n  - id: x\n    priority: p0\n    message: hi\n",
    )
    .unwrap();
    let (out, results, out_dir) = run(dir.path(), "http://127.0.0.1:9", &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("nothing was run"), "{}", out.stderr);
    assert!(results.is_null() && !out_dir.join("events.jsonl").exists());
}

#[test]
fn exit_2_on_bad_flags() {
    let out = common::run(&["run", "--scenarios-dir", "x", "--p0-threshold", "1.5"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("--p0-threshold 1.5 is outside 0..1"), "{}", out.stderr);
    let out = common::run(&["run", "--scenarios-dir", "x", "--agent", "qa_agent"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is not NAME=URL"), "{}", out.stderr);
    let out = common::run(&[
        "run",
        "--scenarios-dir",
        "x",
        "--auth",
        "bearer:ROGUE_TEST_SURELY_UNSET_VAR",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("ROGUE_TEST_SURELY_UNSET_VAR") && out.stderr.contains("is not set"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_3_when_fail_fast_aborts_on_p0_and_the_rest_is_skipped() {
    let agent = MockServer::start(MockAgentOptions::default());
    let mut items = vec![("p0_fail_1", "P0", "x", "missing"), ("p0_fail_2", "P0", "x", "missing")];
    let p1: Vec<String> = (0..20).map(|i| format!("p1_{i:02}")).collect();
    for id in &p1 {
        items.push((id, "P1", "hello [delay:50ms]", "hello"));
    }
    let dir = scenarios(&items);
    let (out, results, _) = run(dir.path(), &agent.base_url(), &["--parallel", "1"]);
    assert_eq!(out.code, 3, "{}", out.combined());
    assert_eq!(results["run"]["cancelled"], "fail_fast");
    assert_eq!(status_of(&results, "p0_fail_1"), "failed");
    // With one worker the abort comes after the first P0 failure: nothing else ran.
    let skipped = results["run"]["counts"]["skipped"].as_u64().unwrap();
    assert_eq!(skipped, 21, "{}", out.combined());
    let p1_reason = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "p1_00")
        .unwrap()["reasons"][0]
        .clone();
    assert!(p1_reason.as_str().unwrap().starts_with("not run: fail-fast"), "{p1_reason}");
}

#[test]
fn no_fail_fast_runs_everything_and_exits_1() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[("p0_fail", "P0", "x", "missing"), ("p1_ok", "P1", "hello", "hello")]);
    let (out, results, _) = run(dir.path(), &agent.base_url(), &["--no-fail-fast"]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(status_of(&results, "p1_ok"), "passed");
}

#[test]
fn a_lower_threshold_lets_the_run_continue() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[
        ("p0_fail", "P0", "x", "missing"),
        ("p0_ok", "P0", "ok", "ok"),
        ("p1_ok", "P1", "hi", "hi"),
    ]);
    let (out, results, _) = run(dir.path(), &agent.base_url(), &["--p0-threshold", "0.5"]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert!(results["run"]["cancelled"].is_null());
    assert_eq!(status_of(&results, "p1_ok"), "passed");
}

#[test]
fn exit_5_when_only_infrastructure_failed_and_a_dead_agent_is_reported_once_within_seconds() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let items: Vec<(String, &str)> = (0..40).map(|i| (format!("s{i:02}"), "P1")).collect();
    let refs: Vec<(&str, &str, &str, &str)> =
        items.iter().map(|(id, p)| (id.as_str(), *p, "hi", "hi")).collect();
    let dir = scenarios(&refs);
    let started = Instant::now();
    let (out, results, _) = run(dir.path(), &format!("http://127.0.0.1:{port}"), &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(out.code, 5, "{}", out.combined());
    assert_eq!(results["run"]["counts"]["error"], 40);
    let first = &results["scenarios"][0]["reasons"][0];
    assert!(first.as_str().unwrap().contains("connection refused"), "{first}");
    // One line for the agent, not one per scenario; the recap groups the 40 under it once.
    let (live, recap) = out.stderr.split_once("── recap").unwrap();
    assert_eq!(live.matches("connection refused").count(), 1, "{}", out.stderr);
    assert_eq!(recap.matches("connection refused").count(), 1, "{}", out.stderr);
    assert!(recap.contains("error (40):\n  40× "), "{}", out.stderr);
}

#[test]
fn max_fail_stops_scheduling_after_n_failures() {
    let agent = MockServer::start(MockAgentOptions::default());
    let ids: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let items: Vec<(&str, &str, &str, &str)> =
        ids.iter().map(|id| (id.as_str(), "P1", "x", "missing")).collect();
    let dir = scenarios(&items);
    let (out, results, _) =
        run(dir.path(), &agent.base_url(), &["--max-fail", "2", "--parallel", "1"]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(results["run"]["cancelled"], "max_fail");
    assert_eq!(results["run"]["counts"]["failed"], 2);
    assert_eq!(results["run"]["counts"]["skipped"], 8);
}

#[test]
fn p0_runs_before_p1_before_p2() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[
        ("c", "P2", "a", "a"),
        ("b", "P1", "a", "a"),
        ("a", "P0", "a", "a"),
        ("d", "P1", "a", "a"),
    ]);
    let (out, _, out_dir) = run(dir.path(), &agent.base_url(), &["--parallel", "1"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let events = fs_err::read_to_string(out_dir.join("events.jsonl")).unwrap();
    let started: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "scenario_started")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(started, ["a", "b", "d", "c"]);
}

#[test]
fn faults_become_errors_with_reasons_while_the_run_goes_on() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = scenarios(&[
        ("http_500", "P1", "x [error:500]", "x"),
        ("hangs", "P1", "x [hang]", "x"),
        ("garbage", "P1", "x [garbage]", "x"),
        ("rpc_error", "P1", "x [rpc-error]", "x"),
        ("fine", "P1", "all good", "good"),
    ]);
    let (out, results, _) =
        run(dir.path(), &agent.base_url(), &["--timeout", "300ms", "--retries", "1"]);
    assert_eq!(out.code, 5, "{}", out.combined());
    assert_eq!(status_of(&results, "fine"), "passed");
    let reason = |id: &str| {
        results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["reasons"]
            [0]
        .as_str()
        .unwrap()
        .to_owned()
    };
    for id in ["http_500", "hangs", "garbage", "rpc_error"] {
        assert_eq!(status_of(&results, id), "error", "{id}");
    }
    assert!(reason("http_500").contains("HTTP 500"), "{}", reason("http_500"));
    assert!(reason("hangs").contains("within 300 ms"), "{}", reason("hangs"));
    assert!(reason("garbage").contains("broke the protocol"), "{}", reason("garbage"));
    // An error outcome says how often the agent was tried: the 500 once more (--retries 1),
    // the rest once (timeouts, bad bodies and JSON-RPC errors are not retried).
    let attempts = |id: &str| {
        results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["attempts"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(attempts("http_500"), 2);
    for id in ["hangs", "garbage", "rpc_error", "fine"] {
        assert_eq!(attempts(id), 1, "{id}");
    }
}

#[test]
fn scripted_multi_turn_keeps_one_conversation() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("scenarios.yaml"),
        "version: 1\nagent: shop_agent\nscenarios:\n  - id: two_turns\n    priority: P1\n    messages: [\"my order is 1234\", \"where is it?\"]\n    expect:\n      contains: [\"(turn 2)\", \"previous: my order is 1234\"]\n",
    )
    .unwrap();
    let (out, results, _) = run(dir.path(), &agent.base_url(), &[]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(results["scenarios"][0]["transcript"].as_array().unwrap().len(), 4);
}

#[test]
fn ctrl_c_stops_the_run_writes_every_report_and_exits_130() {
    let agent = MockServer::start(MockAgentOptions::default());
    let items: Vec<String> = (0..30).map(|i| format!("slow{i:02}")).collect();
    let mut refs: Vec<(&str, &str, &str, &str)> = vec![("quick", "P0", "fast", "fast")];
    refs.extend(items.iter().map(|id| (id.as_str(), "P1", "x [delay:30s]", "x")));
    let dir = scenarios(&refs);
    let out_dir = dir.path().join("out");
    let scenarios_file = dir.path().join("scenarios.yaml");
    let base = agent.base_url();
    let child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .current_dir(dir.path())
        .args(["run", "--scenarios-dir", scenarios_file.to_str().unwrap(), "--rogue-server", &base])
        .args(["--output-dir", out_dir.to_str().unwrap(), "--progress", "plain", "--parallel", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the quick scenario has finished and the slow ones are in flight.
    let events = out_dir.join("events.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = fs_err::read_to_string(&events).unwrap_or_default();
        if text.contains("\"quick\"") && text.matches("scenario_started").count() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not start: {text}");
        std::thread::yield_now();
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["run"]["cancelled"], "interrupted");
    assert_eq!(status_of(&results, "quick"), "passed");
    assert_eq!(results["run"]["counts"]["skipped"], 30);
    assert!(out_dir.join("summary.md").is_file());
}

#[test]
fn rogue_files_need_an_agent_for_their_unassigned_scenarios() {
    let out = common::run(&[
        "run",
        "--scenarios-dir",
        "tests/fixtures/rogue_only",
        "--output-dir",
        "/nonexistent/never",
    ]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("name no agent"), "{}", out.stderr);
    assert!(out.stderr.contains("--agent '*=URL'"), "{}", out.stderr);
}
