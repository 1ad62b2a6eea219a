//! The cache never hides a change in the agent under test: whole outcomes are reused only for
//! pinned agents (`--agent-version`, `--trust-card-version`) within `--cache-ttl`; otherwise
//! the agent is always called and only the judge's verdict on an identical conversation is
//! reused. Every case runs the real binary against a fake agent whose answer the test changes
//! between runs, as a redeploy at the same URL with the same card would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

#[allow(dead_code, reason = "shared scaffolding; this suite uses the A2A part")]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use rogue_runner::demo::{FakeJudge, FakeJudgeOptions};
use serde_json::{Value, json};
use support::fake_agent::{FakeAgent, Reply, message_v0};

const GOOD: &str = "Refunds within 30 days.";
const BAD: &str = "Sorry, no refunds.";

/// A fake A2A agent whose reply and card version the test sets, on a runtime of its own.
struct Agent {
    runtime: tokio::runtime::Runtime,
    server: Option<FakeAgent>,
    reply: Arc<Mutex<String>>,
    card_version: Arc<Mutex<String>>,
}

impl Agent {
    fn start() -> Agent {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let reply = Arc::new(Mutex::new(GOOD.to_owned()));
        let card_version = Arc::new(Mutex::new("1.0.0".to_owned()));
        let server = runtime.block_on({
            let reply = Arc::clone(&reply);
            let card_version = Arc::clone(&card_version);
            FakeAgent::a2a(
                move |url| {
                    json!({"name": "support", "url": url, "protocolVersion": "0.3.0",
                        "version": *card_version.lock().unwrap(),
                        "preferredTransport": "JSONRPC", "capabilities": {"streaming": false},
                        "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],
                        "skills": []})
                },
                move |req| Reply::rpc(req, message_v0(&reply.lock().unwrap(), "ctx-1")),
            )
        });
        Agent { runtime, server: Some(server), reply, card_version }
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url.clone()
    }

    /// Messages the agent was sent so far.
    fn messages(&self) -> usize {
        self.server.as_ref().unwrap().posts().len()
    }

    fn answer(&self, text: &str) {
        text.clone_into(&mut self.reply.lock().unwrap());
    }

    fn card_version(&self, version: &str) {
        version.clone_into(&mut self.card_version.lock().unwrap());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        drop(self.server.take());
    }
}

/// Two scenarios checking the refund window deterministically.
fn scenarios(dir: &Path) -> PathBuf {
    let path = dir.join("refunds.yaml");
    fs_err::write(
        &path,
        "version: 1\nagent: support\nscenarios:\n\
         - id: refund_window\n  priority: P0\n  message: How long do I have for a refund?\n  \
           expect:\n    contains: [30 days]\n\
         - id: refund_again\n  priority: P1\n  message: Can I still return my order?\n  \
           expect:\n    contains: [30 days]\n",
    )
    .unwrap();
    path
}

/// One scenario with a rubric only the judge can assess.
fn judged_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("judged.yaml");
    fs_err::write(
        &path,
        "version: 1\nagent: support\nscenarios:\n\
         - id: refund_polite\n  priority: P0\n  message: How long do I have for a refund?\n  \
           rubric: [states the refund window politely]\n",
    )
    .unwrap();
    path
}

struct Run {
    code: i32,
    stderr: String,
    results: Value,
    summary: String,
}

fn rogue(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ROGUE_AGENT_VERSION")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CI");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn run(dir: &Path, file: &Path, agent: &Agent, extra: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = dir.join("out");
    let agent_flag = format!("support={}", agent.url());
    let mut args = vec![
        "run",
        "--scenarios-dir",
        file.to_str().unwrap(),
        "--agent",
        &agent_flag,
        "--output-dir",
        out.to_str().unwrap(),
        "--progress",
        "plain",
        "--cache-dir",
        ".cache",
        "--no-fail-fast",
    ];
    args.extend_from_slice(extra);
    let output = rogue(dir, &args, envs);
    let read = |name: &str| fs_err::read_to_string(out.join(name)).unwrap_or_default();
    Run {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results: serde_json::from_str(&read("results.json")).unwrap_or(Value::Null),
        summary: read("summary.md"),
    }
}

/// The `cache` field of every outcome, by id order.
fn cache_kinds(results: &Value) -> Vec<Value> {
    results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.get("cache").cloned().unwrap_or(Value::Null))
        .collect()
}

#[test]
fn a_redeployed_agent_is_called_again_and_its_regression_fails_the_run() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenarios(dir.path());
    let first = run(dir.path(), &file, &agent, &["--use-cache"], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(agent.messages(), 2);
    assert!(first.stderr.contains("--use-cache without --agent-version"), "{}", first.stderr);

    // Redeployed at the same URL with the same card: it now refuses refunds.
    agent.answer(BAD);
    let second = run(dir.path(), &file, &agent, &["--use-cache"], &[]);
    assert_eq!(second.code, 1, "a regression was hidden by the cache:\n{}", second.stderr);
    assert_eq!(agent.messages(), 4, "the agent must be called again");
    assert_eq!(second.results["run"]["counts"]["failed"], 2, "{:#}", second.results["run"]);
    assert_eq!(cache_kinds(&second.results), vec![Value::Null, Value::Null]);
    assert!(second.summary.contains("0 outcome hits"), "{}", second.summary);
}

#[test]
fn a_pinned_version_reuses_whole_outcomes_and_a_new_version_calls_the_agent() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenarios(dir.path());
    let pinned = ["--use-cache", "--agent-version", "v1"];
    let first = run(dir.path(), &file, &agent, &pinned, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(agent.messages(), 2);

    // Same deploy (same version, from the environment this time): nothing is sent.
    let second = run(dir.path(), &file, &agent, &["--use-cache"], &[("ROGUE_AGENT_VERSION", "v1")]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(agent.messages(), 2, "a pinned, unchanged agent is not called");
    assert_eq!(cache_kinds(&second.results), vec![json!("outcome"), json!("outcome")]);
    assert_eq!(second.results["run"]["cache"]["hits"], 2);
    assert!(second.summary.contains("2 outcome hits"), "{}", second.summary);

    // A new deploy, a new version: the agent is called and its regression shows.
    agent.answer(BAD);
    let third = run(dir.path(), &file, &agent, &["--use-cache", "--agent-version", "v2"], &[]);
    assert_eq!(third.code, 1, "{}", third.stderr);
    assert_eq!(agent.messages(), 4);
    assert_eq!(cache_kinds(&third.results), vec![Value::Null, Value::Null]);

    // The per-agent form pins only the agent it names.
    let other =
        run(dir.path(), &file, &agent, &["--use-cache", "--agent-version", "other=v2"], &[]);
    assert_eq!(agent.messages(), 6, "an agent pinned by no flag is called");
    assert_eq!(other.code, 1, "{}", other.stderr);
    let named =
        run(dir.path(), &file, &agent, &["--use-cache", "--agent-version", "support=v2"], &[]);
    assert_eq!(agent.messages(), 6, "support=v2 is the v2 of the third run");
    assert_eq!(named.code, 1, "{}", named.stderr);
    assert_eq!(cache_kinds(&named.results), vec![json!("outcome"), json!("outcome")]);
}

#[test]
fn the_card_version_pins_only_when_trusted_and_an_expired_entry_is_not_reused() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenarios(dir.path());
    let trust = ["--use-cache", "--trust-card-version"];
    assert_eq!(run(dir.path(), &file, &agent, &trust, &[]).code, 0);
    assert_eq!(agent.messages(), 2);
    assert_eq!(run(dir.path(), &file, &agent, &trust, &[]).code, 0);
    assert_eq!(agent.messages(), 2, "same card version, trusted: reused");

    // A redeploy that bumps the card's version is called again.
    agent.answer(BAD);
    agent.card_version("1.1.0");
    assert_eq!(run(dir.path(), &file, &agent, &trust, &[]).code, 1);
    assert_eq!(agent.messages(), 4);

    // An entry older than the TTL is not reused: the run stores its outcome and the next
    // process starts well over a millisecond later.
    let mut expired = trust.to_vec();
    expired.extend(["--cache-ttl", "1ms"]);
    let again = run(dir.path(), &file, &agent, &expired, &[]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(agent.messages(), 6, "an expired entry must not be reused");
}

/// The fake judge on a runtime of its own.
struct Judge {
    runtime: tokio::runtime::Runtime,
    fake: Option<FakeJudge>,
}

impl Judge {
    fn start() -> Judge {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            FakeJudge::start(listener, FakeJudgeOptions::default()).await.unwrap()
        });
        Judge { runtime, fake: Some(fake) }
    }

    fn calls(&self) -> usize {
        self.fake.as_ref().unwrap().seen().len()
    }

    fn base_url(&self) -> String {
        self.fake.as_ref().unwrap().base_url()
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        if let Some(fake) = self.fake.take() {
            self.runtime.block_on(fake.shutdown());
        }
    }
}

#[test]
fn the_judge_is_not_asked_again_for_an_identical_conversation_but_is_for_a_new_reply() {
    let agent = Agent::start();
    let judge = Judge::start();
    let dir = tempfile::tempdir().unwrap();
    let file = judged_scenario(dir.path());
    let base = judge.base_url();
    let envs = [("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", base.as_str())];
    let flags = ["--use-cache", "--judge-model", "gpt-4o-mini"];
    let first = run(dir.path(), &file, &agent, &flags, &envs);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!((agent.messages(), judge.calls()), (1, 1));

    // Unpinned: the agent is called; the same conversation is not judged again.
    let second = run(dir.path(), &file, &agent, &flags, &envs);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(agent.messages(), 2, "an unpinned agent is always called");
    assert_eq!(judge.calls(), 1, "the judge was asked again for an identical conversation");
    assert_eq!(cache_kinds(&second.results), vec![json!("judge")]);
    assert_eq!(second.results["scenarios"][0]["judge"]["passed"], true);
    assert_eq!(second.results["run"]["cache"]["judge_hits"], 1);
    assert!(second.summary.contains("1 judge hit"), "{}", second.summary);

    // A different reply is a different conversation: judged afresh (and failed).
    agent.answer("That would be a policy violation, no refunds.");
    let third = run(dir.path(), &file, &agent, &flags, &envs);
    assert_eq!(third.code, 1, "{}", third.stderr);
    assert_eq!((agent.messages(), judge.calls()), (3, 2));
    assert_eq!(cache_kinds(&third.results), vec![Value::Null]);
}

#[test]
fn cache_why_explains_a_hit_and_a_miss_part_by_part() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenarios(dir.path());
    assert_eq!(
        run(dir.path(), &file, &agent, &["--use-cache", "--agent-version", "v1"], &[]).code,
        0
    );
    let agent_flag = format!("support={}", agent.url());
    let why = |extra: &[&str]| {
        let mut args = vec![
            "cache",
            "why",
            "refund_window",
            "--scenarios-dir",
            file.to_str().unwrap(),
            "--agent",
            &agent_flag,
            "--cache-dir",
            ".cache",
            "--use-cache",
        ];
        args.extend_from_slice(extra);
        let output = rogue(dir.path(), &args, &[]);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let hit = why(&["--agent-version", "v1"]);
    let miss = why(&["--agent-version", "v2"]);
    let unpinned = why(&[]);
    let text = format!("--- v1\n{hit}--- v2\n{miss}--- unpinned\n{unpinned}");
    let port = agent.url().rsplit(':').next().unwrap().to_owned();
    let tmp = dir.path().display().to_string();
    insta::with_settings!({filters => vec![
        (port.as_str(), "[PORT]"),
        (tmp.as_str(), "[TMP]"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, [0-9a-z ]+ ago", "[TIME], [AGE] ago"),
        (r"\b[0-9a-f]{12}\b", "[DIGEST]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
    assert!(hit.contains("outcome cache: HIT"), "{hit}");
    assert!(miss.contains("MISS: the key differs in agent identity"), "{miss}");
    assert!(unpinned.contains("not pinned"), "{unpinned}");
    let expired = why(&["--agent-version", "v1", "--cache-ttl", "1ms"]);
    assert!(
        expired.contains("MISS: the entry with this key is older than --cache-ttl 1ms"),
        "{expired}"
    );
    assert!(expired.contains("EXPIRED  TTL"), "{expired}");
}
