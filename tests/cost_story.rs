//! One cost story through the real binary: a run's cost is the priced usage of the LLM calls
//! it made (`$0.00, no LLM calls` when none); what the cache saved is the recorded actual cost
//! of the reused outcomes, never the files' `cost_estimate`; `estimate --use-cache` counts the
//! hits the store would give; every report shows the same numbers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::MockServer;
use rogue_runner::demo::{FakeJudge, FakeJudgeOptions, MockAgentOptions};
use serde_json::Value;

const KEY: &str = "sk-cost-story-test-key";

/// `n` scenarios with a rubric (the judge rules on each) and an authored `cost_estimate_usd`
/// of $5 each, which must never be reported as a cost or a saving.
fn corpus(dir: &Path, n: usize, rubric: bool) {
    let mut text = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..n {
        let _ = write!(
            text,
            "  - id: s{i}\n    priority: P1\n    message: hello {i}\n    cost_estimate_usd: 5.0\n    expect:\n      contains: [hello]\n"
        );
        if rubric {
            text.push_str("    rubric: [answers politely]\n");
        }
    }
    fs_err::create_dir_all(dir.join("scenarios")).unwrap();
    fs_err::write(dir.join("scenarios/s.yaml"), text).unwrap();
}

struct Run {
    code: i32,
    stderr: String,
    out: PathBuf,
    results: Value,
}

impl Run {
    fn file(&self, name: &str) -> String {
        fs_err::read_to_string(self.out.join(name)).unwrap()
    }
}

fn command(dir: &Path, judge: Option<&FakeJudge>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        // Pins the agent where whole outcomes are reused only for a pinned agent.
        .env("ROGUE_AGENT_VERSION", "v1")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY");
    if let Some(judge) = judge {
        cmd.env("OPENAI_API_KEY", KEY).env("OPENAI_BASE_URL", judge.base_url());
    }
    cmd
}

fn run(dir: &Path, agent: &MockServer, judge: Option<&FakeJudge>, name: &str) -> Run {
    let out = dir.join(name);
    let output = command(dir, judge)
        .args(["run", "--scenarios-dir", "scenarios", "--agent"])
        .arg(format!("*={}", agent.agent_url("shop")))
        .args(["--use-cache", "--cache-dir", "cache", "--progress", "plain", "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    let results = fs_err::read_to_string(out.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    Run {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        out,
        results,
    }
}

/// `<property name="NAME" value="VALUE"/>` of the first suite.
fn junit_property(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(xml[start..].split('"').next()?.to_owned())
}

#[test]
fn a_run_without_llm_calls_costs_zero_dollars_in_every_report() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), 3, false);
    let run = run(dir.path(), &agent, None, "out");
    assert_eq!(run.code, 0, "{}", run.stderr);

    assert!(run.stderr.contains("cost: $0.00, no LLM calls"), "{}", run.stderr);
    let summary = run.file("summary.md");
    assert!(summary.contains("**$0.00, no LLM calls**"), "{summary}");
    assert!(!summary.contains("Not tracked"), "{summary}");
    assert!(run.file("report.html").contains("Cost: $0.00, no LLM calls."));
    let junit = run.file("junit.xml");
    assert_eq!(junit_property(&junit, "cost_usd").as_deref(), Some("0.0000"), "{junit}");
    assert_eq!(junit_property(&junit, "llm_calls").as_deref(), Some("0"), "{junit}");
    assert_eq!(run.results["run"]["cost"]["total"]["calls"], 0, "{}", run.results["run"]);
    assert_eq!(run.results["run"]["cost"]["total"]["cost_usd"], 0.0);

    // Reusing outcomes that cost nothing saves nothing, whatever the files estimated (3 × $5).
    let rerun = self::run(dir.path(), &agent, None, "rerun");
    assert_eq!(rerun.results["run"]["cache"]["hits"], 3, "{}", rerun.stderr);
    assert_eq!(rerun.results["run"]["cache"]["saved_usd"], 0.0);
    assert!(rerun.stderr.contains("$0.0000 saved"), "{}", rerun.stderr);
    assert!(rerun.file("summary.md").contains("| 3 | 0 | 0 | 100.0% | $0.0000 |"));
}

#[test]
fn a_cached_rerun_saves_the_recorded_actual_cost_not_the_files_estimates() {
    let agent = MockServer::start(MockAgentOptions::default());
    let judge = agent.runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        FakeJudge::start(listener, FakeJudgeOptions::default()).await.unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), 4, true);

    let first = run(dir.path(), &agent, Some(&judge), "first");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let cost = &first.results["run"]["cost"]["total"];
    let spent = cost["cost_usd"].as_f64().unwrap();
    assert!(cost["calls"].as_u64().unwrap() >= 4, "{cost}");
    assert!(spent > 0.0 && spent < 1.0, "actual usage × price, not 4 × $5: {spent}");
    // The same figure in every report of the first run.
    let money = format!("${spent:.4}");
    assert!(first.stderr.contains(&format!("cost: {money} for")), "{}", first.stderr);
    assert!(first.file("summary.md").contains(&format!("**{money}**")));
    assert!(first.file("report.html").contains(&format!("Cost: {money} for")));
    assert_eq!(junit_property(&first.file("junit.xml"), "cost_usd"), Some(format!("{spent:.4}")));

    let second = run(dir.path(), &agent, Some(&judge), "second");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let cache = &second.results["run"]["cache"];
    assert_eq!(cache["hits"], 4, "{}", second.results["run"]);
    let saved = cache["saved_usd"].as_f64().unwrap();
    assert!((saved - spent).abs() < 1e-9, "saved {saved} is not the recorded cost {spent}");
    // This run made no call: it cost nothing; the saving is the first run's actual cost.
    assert_eq!(second.results["run"]["cost"]["total"]["calls"], 0);
    let saved_text = format!("{money} saved");
    assert!(second.stderr.contains("cost: $0.00, no LLM calls"), "{}", second.stderr);
    assert!(second.stderr.contains(&saved_text), "{}", second.stderr);
    assert!(!second.stderr.contains("$20.0000"), "{}", second.stderr);
    let summary = second.file("summary.md");
    assert!(summary.contains(&format!("| 4 | 0 | 0 | 100.0% | {money} |")), "{summary}");
    assert!(second.file("report.html").contains(&saved_text));
    assert_eq!(
        junit_property(&second.file("junit.xml"), "cache_saved_usd"),
        Some(format!("{spent:.4}"))
    );
    agent.runtime().block_on(judge.shutdown());
}

#[test]
fn estimate_with_use_cache_counts_the_hits_the_store_would_give() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), 3, false);
    let estimate = |dir: &Path| {
        let output = command(dir, None)
            .args(["estimate", "--scenarios-dir", "scenarios", "--agent"])
            .arg(format!("*={}", agent.agent_url("shop")))
            .args(["--use-cache", "--cache-dir", "cache"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let before = estimate(dir.path());
    assert!(before.contains("0 of 3 scenario(s) would be reused"), "{before}");
    assert!(before.contains("nothing is recorded"), "{before}");

    let first = run(dir.path(), &agent, None, "out");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let after = estimate(dir.path());
    assert!(after.contains("3 of 3 scenario(s) would be reused"), "{after}");
    assert!(after.contains("Cost estimate for 0 scenario(s)"), "{after}");
    // The authored estimates are shown as such, and nowhere else.
    assert!(after.contains("`cost_estimate` fields (written by their authors) sum to $15.0000"));
}
