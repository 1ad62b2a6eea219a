//! A verdict you can trust (issue 11, items 1–3), through the real binary: every exit path, and
//! every report (terminal, results.json, events.jsonl, summary.md, junit.xml, report.html and
//! the GitHub step summary) agreeing with the code the process exits with, and saying why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::MockServer;
use rogue_runner::demo::{FakeJudge, FakeJudgeOptions, MockAgentOptions};
use serde_json::Value;

/// What one run produced.
struct Run {
    code: i32,
    stderr: String,
    out: PathBuf,
    step_summary: PathBuf,
    results: Value,
}

impl Run {
    fn status_of(&self, id: &str) -> &str {
        self.scenario(id)["status"].as_str().unwrap()
    }

    fn scenario(&self, id: &str) -> &Value {
        self.results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()
    }

    fn reason(&self) -> &str {
        self.results["run"]["exit_reason"].as_str().unwrap()
    }

    fn read(&self, file: &str) -> String {
        fs_err::read_to_string(self.out.join(file)).unwrap()
    }
}

/// `version: 1` native scenarios for `shop_agent`, one YAML list item per entry.
fn write_scenarios(dir: &Path, items: &[&str]) {
    let mut text = String::from("version: 1\nagent: shop_agent\nscenarios:\n");
    for item in items {
        text.push_str(item);
        text.push('\n');
    }
    fs_err::write(dir.join("scenarios.yaml"), text).unwrap();
}

/// A scenario sending `message` and expecting the reply to contain `contains`.
fn contains(id: &str, priority: &str, message: &str, contains: &str) -> String {
    format!(
        "  - id: {id}\n    priority: {priority}\n    message: {message:?}\n    expect:\n      contains: [{contains:?}]"
    )
}

fn command(dir: &Path, name: &str, base: &str, extra: &[&str]) -> (Command, PathBuf, PathBuf) {
    command_for(dir, &dir.join("scenarios.yaml"), name, base, extra)
}

fn command_for(
    dir: &Path,
    scenarios: &Path,
    name: &str,
    base: &str,
    extra: &[&str],
) -> (Command, PathBuf, PathBuf) {
    let out = dir.join(name);
    let step_summary = dir.join(format!("{name}-step-summary.md"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    cmd.current_dir(dir)
        .args(["run", "--scenarios-dir", scenarios.to_str().unwrap()])
        .args(["--rogue-server", base, "--output-dir", out.to_str().unwrap()])
        .args(["--progress", "plain", "--cache-dir", dir.join("store").to_str().unwrap()])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .env_remove("ROGUE_SERVER")
        .env_remove("ROGUE_ALLOW_UNASSESSED")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("CI");
    (cmd, out, step_summary)
}

fn finish(output: &std::process::Output, out: PathBuf, step_summary: PathBuf) -> Run {
    let results = fs_err::read_to_string(out.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    Run {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        out,
        step_summary,
        results,
    }
}

fn run_with(dir: &Path, name: &str, base: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut cmd, out, step) = command(dir, name, base, extra);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().unwrap();
    finish(&output, out, step)
}

fn run(dir: &Path, name: &str, base: &str, extra: &[&str]) -> Run {
    run_with(dir, name, base, extra, &[])
}

/// Every report says the code the process exited with, and the same reason.
fn assert_reports_agree(run: &Run) {
    let code = run.code;
    let context = format!("exit {code}\n{}", run.stderr);
    assert_eq!(run.results["run"]["exit_code"], code, "results.json: {context}");
    let reason = run.reason();
    assert!(!reason.is_empty(), "results.json has no exit reason: {context}");
    let sentence = format!("Exit {code}: {reason}.");

    let events = run.read("events.jsonl");
    let last: Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["exit_code"], code, "events.jsonl: {context}");
    assert_eq!(last["summary"]["exit_reason"], reason, "events.jsonl: {context}");

    let summary = run.read("summary.md");
    assert!(summary.contains(&format!("— exit code {code}**")), "summary.md: {summary}");
    assert!(summary.contains(&sentence), "summary.md lacks {sentence:?}: {summary}");
    for line in summary.lines().filter(|l| l.contains("exit code")) {
        assert!(line.contains(&format!("exit code {code}")), "summary.md disagrees: {line}");
    }

    let step = fs_err::read_to_string(&run.step_summary).unwrap();
    assert!(step.contains(&sentence), "step summary lacks {sentence:?}: {step}");
    assert!(step.contains(&format!("— exit code {code}**")), "step summary: {step}");

    let junit = run.read("junit.xml");
    assert!(
        junit.contains(&format!("<property name=\"exit_code\" value=\"{code}\"/>")),
        "junit.xml: {junit}"
    );
    assert_eq!(
        junit.matches("name=\"exit_code\"").count(),
        junit.matches(&format!("name=\"exit_code\" value=\"{code}\"")).count(),
        "junit.xml disagrees with itself: {junit}"
    );
    assert!(junit.contains("<property name=\"exit_reason\""), "junit.xml: {junit}");

    let html = run.read("report.html");
    let escaped = sentence.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(
        html.contains(&format!("id=\"exit-reason\">{escaped}</p>")),
        "report.html lacks {escaped:?}"
    );

    assert!(
        run.stderr.contains(&format!("exit {code}: {reason}")),
        "the terminal lacks the reason: {context}"
    );
}

#[test]
fn exit_0_when_every_expectation_was_assessed_and_held() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    write_scenarios(
        dir.path(),
        &[&contains("a", "P0", "refund please", "refund"), &contains("b", "P1", "hello", "hello")],
    );
    let run = run(dir.path(), "out", &agent.base_url(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.reason(), "all 2 scenarios passed");
    assert_reports_agree(&run);
}

#[test]
fn exit_1_when_a_scenario_fails() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    write_scenarios(
        dir.path(),
        &[&contains("ok", "P1", "hello", "hello"), &contains("bad", "P1", "hello", "goodbye")],
    );
    let run = run(dir.path(), "out", &agent.base_url(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.reason(), "1 scenario failed");
    assert_reports_agree(&run);
}

#[test]
fn exit_2_writes_no_report_that_could_disagree() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("scenarios.yaml"),
        "version: 1\nscenarios:\n  - id: x\n    priority: p0\n    message: hi\n",
    )
    .unwrap();
    let run = run(dir.path(), "out", "http://127.0.0.1:9", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for file in ["results.json", "summary.md", "junit.xml", "report.html", "events.jsonl"] {
        assert!(!run.out.join(file).exists(), "{file} written for a run that did not start");
    }
    assert!(!run.step_summary.exists());
}

#[test]
fn exit_3_only_when_failed_verdicts_tripped_fail_fast() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut items = vec![
        contains("p0_fail_1", "P0", "x", "missing"),
        contains("p0_fail_2", "P0", "x", "missing"),
    ];
    items.extend((0..5).map(|i| contains(&format!("p1_{i}"), "P1", "hello", "hello")));
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    write_scenarios(dir.path(), &refs);
    let run = run(dir.path(), "out", &agent.base_url(), &["--parallel", "1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.reason().starts_with("fail-fast stopped the run: 1 P0 scenario failed"),
        "{}",
        run.reason()
    );
    assert_reports_agree(&run);
}

#[test]
fn exit_5_when_every_agent_is_unreachable_even_with_fail_fast_on() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = (0..6)
        .map(|i| contains(&format!("p0_{i}"), if i < 3 { "P0" } else { "P1" }, "hi", "hi"))
        .collect();
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    write_scenarios(dir.path(), &refs);
    // Fail-fast is on by default: errors alone trip it, and that is exit 5, not 3.
    let run = run(dir.path(), "out", &base, &[]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(run.results["run"]["cancelled"], "fail_fast", "fail-fast did trip");
    assert_eq!(run.results["run"]["counts"]["failed"], 0);
    assert!(
        run.reason().contains("errored") && run.reason().contains("none failed"),
        "{}",
        run.reason()
    );
    assert_reports_agree(&run);
}

/// Scenarios of every kind that cannot be fully assessed without a judge or a JSON reply.
fn partly_assessable(dir: &Path) {
    write_scenarios(
        dir,
        &[
            &contains("checked", "P1", "hello", "hello"),
            // A rubric and no judge: 1 of 2 expectations assessed.
            "  - id: rubric_and_contains\n    priority: P1\n    message: hello\n    expect:\n      contains: [hello]\n    rubric:\n      - answers politely",
            // Only a rubric: nothing can be checked, so it is not run.
            "  - id: rubric_only\n    priority: P1\n    message: hello\n    rubric:\n      - answers politely",
            // A JSON-field check on a prose reply.
            "  - id: field_on_prose\n    priority: P2\n    message: hello\n    expect:\n      contains: [hello]\n      fields:\n        status: success",
            // Timing alone says nothing about the reply.
            "  - id: latency_only\n    priority: P2\n    message: hello\n    expect:\n      max_latency_ms: 60000",
        ],
    );
}

#[test]
fn exit_6_when_expectations_could_not_be_assessed_and_each_says_why() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    partly_assessable(dir.path());
    let run = run(dir.path(), "out", &agent.base_url(), &[]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(run.status_of("checked"), "passed");
    for id in ["rubric_and_contains", "rubric_only", "field_on_prose", "latency_only"] {
        assert_eq!(run.status_of(id), "unassessed", "{id}: {:#}", run.scenario(id));
    }
    let reason = |id: &str| run.scenario(id)["reasons"][0].as_str().unwrap().to_owned();
    assert!(
        reason("rubric_and_contains")
            .starts_with("1 of 2 expectation(s) need a judge: configure one with OPENAI_API_KEY"),
        "{}",
        reason("rubric_and_contains")
    );
    assert!(
        reason("rubric_only").contains("1 of 1 expectation(s) need a judge"),
        "{}",
        reason("rubric_only")
    );
    assert!(reason("field_on_prose").starts_with("1 field check(s) found no JSON in the reply"));
    assert!(reason("latency_only").starts_with("only timing or usage was checked"));
    assert_eq!(run.results["run"]["counts"]["unassessed"], 4);
    assert_eq!(run.results["run"]["counts"]["skipped"], 0);
    assert!(run.reason().contains("4 scenarios could not be fully assessed"), "{}", run.reason());
    assert_reports_agree(&run);
    // Shown with its count everywhere.
    assert!(run.read("summary.md").contains("## Unassessed"));
    assert!(run.read("junit.xml").contains("type=\"unassessed\""));
    assert!(run.read("report.html").contains("data-status=\"unassessed\""));
    assert!(run.stderr.contains("4 unassessed"), "{}", run.stderr);

    let history = common::run_in(
        dir.path(),
        &["history", "--cache-dir", dir.path().join("store").to_str().unwrap()],
    );
    let header = history.stdout.lines().next().unwrap();
    let row = history.stdout.lines().nth(1).unwrap();
    let column = |line: &str, name: &str| {
        let at = header.find(name).unwrap();
        line[at..].split_whitespace().next().unwrap().to_owned()
    };
    assert_eq!(column(header, "UNASSESSED"), "UNASSESSED");
    assert_eq!(column(row, "UNASSESSED"), "4", "{}", history.stdout);
    assert_eq!(column(row, "EXIT"), "6", "{}", history.stdout);
}

#[test]
fn allow_unassessed_lets_such_a_run_exit_0_and_still_shows_them() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    partly_assessable(dir.path());
    let flag = run(dir.path(), "flag", &agent.base_url(), &["--allow-unassessed"]);
    let env =
        run_with(dir.path(), "env", &agent.base_url(), &[], &[("ROGUE_ALLOW_UNASSESSED", "1")]);
    for run in [&flag, &env] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.results["run"]["counts"]["unassessed"], 4);
        assert_eq!(run.reason(), "1 passed, 4 unassessed (accepted by --allow-unassessed)");
        assert_reports_agree(run);
    }
    let off =
        run_with(dir.path(), "off", &agent.base_url(), &[], &[("ROGUE_ALLOW_UNASSESSED", "0")]);
    assert_eq!(off.code, 6, "{}", off.stderr);
}

#[test]
fn merge_decides_unassessed_shards_by_the_same_rule() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    partly_assessable(dir.path());
    let shard = run(dir.path(), "shard", &agent.base_url(), &["--partition", "hash:1/1"]);
    assert_eq!(shard.code, 6, "{}", shard.stderr);
    let merge = |extra: &[&str]| {
        let mut args = vec!["merge", "--cache-dir", "merged-store", "--output-dir", "merged"];
        args.extend_from_slice(extra);
        args.push("shard");
        common::run_in(dir.path(), &args)
    };
    let strict = merge(&[]);
    assert_eq!(strict.code, 6, "{}", strict.combined());
    assert!(strict.stdout.contains("exit 6: "), "{}", strict.stdout);
    let accepted = merge(&["--allow-unassessed"]);
    assert_eq!(accepted.code, 0, "{}", accepted.combined());
    let merged: Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("merged/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(merged["run"]["exit_code"], 0);
    assert_eq!(merged["run"]["counts"]["unassessed"], 4);
}

#[test]
fn exit_4_when_the_budget_stops_the_run() {
    let agent = MockServer::start(MockAgentOptions::default());
    let judge = agent
        .runtime()
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            FakeJudge::start(listener, FakeJudgeOptions::default()).await
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = (0..12)
        .map(|i| format!("  - id: s{i}\n    priority: P1\n    message: hello {i}\n    rubric: [answers politely]"))
        .collect();
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    write_scenarios(dir.path(), &refs);
    let run = run_with(
        dir.path(),
        "out",
        &agent.base_url(),
        &["--judge-model", "gpt-4o-mini", "--max-cost", "0.0005", "--parallel", "3"],
        &[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &judge.base_url())],
    );
    agent.runtime().block_on(judge.shutdown());
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.reason().starts_with("the cost budget (--max-cost) was exhausted"),
        "{}",
        run.reason()
    );
    assert_reports_agree(&run);
}

#[test]
fn exit_130_on_ctrl_c_and_the_reports_say_so() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut items = vec![contains("quick", "P0", "fast", "fast")];
    items.extend((0..10).map(|i| contains(&format!("slow{i:02}"), "P1", "x [delay:30s]", "x")));
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    write_scenarios(dir.path(), &refs);
    let (mut cmd, out, step) = command(dir.path(), "out", &agent.base_url(), &["--parallel", "2"]);
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let events = out.join("events.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = fs_err::read_to_string(&events).unwrap_or_default();
        if text.contains("\"quick\"") && text.matches("scenario_started").count() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not start: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let run = finish(&output, out, step);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(run.reason().starts_with("interrupted"), "{}", run.reason());
    assert_reports_agree(&run);
}

#[test]
fn baseline_gating_decides_the_code_before_the_reports_and_they_show_the_comparison() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let base = agent.base_url();
    let ok = contains("ok", "P1", "hello", "hello");
    let old_failure = contains("old_failure", "P1", "hello", "goodbye");
    write_scenarios(dir.path(), &[&ok, &old_failure]);
    let first = run(dir.path(), "first", &base, &[]);
    assert_eq!(first.code, 1, "{}", first.stderr);

    // The same failure again: not a regression, so exit 0, and every report says 0.
    let gate = ["--baseline", "latest", "--fail-on-regressions-only"];
    let gated = run(dir.path(), "gated", &base, &gate);
    assert_eq!(gated.code, 0, "{}", gated.stderr);
    let baseline_id = first.results["run"]["run_id"].as_str().unwrap();
    let short = &baseline_id[..8];
    assert_eq!(
        gated.reason(),
        format!(
            "1 failed or errored, none newly failing against baseline run {short} (--fail-on-regressions-only); 1 passed"
        )
    );
    assert_reports_agree(&gated);
    let comparison = &gated.results["run"]["baseline"];
    assert_eq!(comparison["baseline_run"], baseline_id);
    assert_eq!(comparison["gating"], true);
    assert_eq!(comparison["still_failing"].as_array().unwrap().len(), 1);
    assert_eq!(comparison["newly_failing"].as_array().unwrap().len(), 0);
    let summary = gated.read("summary.md");
    assert!(summary.contains(&format!("## Compared with baseline run `{short}`")), "{summary}");
    assert!(summary.contains("| Newly failing | Fixed | Still failing | Flaky |"), "{summary}");
    assert!(summary.contains("| 0 | 0 | 1 | 0 |"), "{summary}");
    let html = gated.read("report.html");
    assert!(html.contains(&format!("Compared with baseline run {short}")));
    assert!(html.contains("Still failing (1)"));

    // A new failure: exit 1, said by every report, and listed as newly failing.
    let new_failure = contains("new_failure", "P1", "hello", "farewell");
    write_scenarios(dir.path(), &[&ok, &old_failure, &new_failure]);
    let regressed = run(dir.path(), "regressed", &base, &gate);
    assert_eq!(regressed.code, 1, "{}", regressed.stderr);
    assert!(
        regressed.reason().starts_with("1 scenario newly failed against baseline run"),
        "{}",
        regressed.reason()
    );
    assert_reports_agree(&regressed);
    let newly = &regressed.results["run"]["baseline"]["newly_failing"];
    assert_eq!(newly[0]["id"], "new_failure");
    assert!(regressed.read("summary.md").contains("Newly failing (1)"));

    // Without the gate the comparison is shown, and every failure counts.
    let shown = run(dir.path(), "shown", &base, &["--baseline", "latest"]);
    assert_eq!(shown.code, 1, "{}", shown.stderr);
    assert_eq!(shown.reason(), "2 scenarios failed");
    assert_eq!(shown.results["run"]["baseline"]["gating"], false);
    assert_reports_agree(&shown);
}

#[test]
#[ignore = "needs ../shared: the shared corpus checked out beside this repository"]
fn rogue_examples_without_a_judge_are_unassessed_not_a_green_skip() {
    let corpus = common::shared_corpus("rogue");
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let every = format!("*={}", agent.agent_url("rogue"));
    let (mut cmd, out, step) =
        command_for(dir.path(), &corpus, "out", &agent.base_url(), &["--agent", &every]);
    let run = finish(&cmd.output().unwrap(), out, step);
    assert_eq!(run.code, 6, "{}", run.stderr);
    let counts = &run.results["run"]["counts"];
    assert_eq!(counts["skipped"], 0, "{counts}");
    assert_eq!(counts["unassessed"], counts["total"], "{counts}");
    let first = run.results["scenarios"][0]["reasons"][0].as_str().unwrap();
    assert!(first.contains("need a judge: configure one with OPENAI_API_KEY"), "{first}");
    assert_reports_agree(&run);
}
