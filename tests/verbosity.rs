//! `-v`, `-vv`, `-q`, `RUST_LOG` and `--log-file` through the real binary, as a user sees them:
//! the per-scenario line and its timings, the request log without a single credential in it,
//! the quiet one-line result, and the global flags on either side of the subcommand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;
#[allow(dead_code, reason = "shared scaffolding; this suite uses the plain HTTP part")]
mod support;

use std::path::Path;
use std::process::Command;

use common::MockServer;
use regex::Regex;
use rogue_runner::demo::{FakeJudge, FakeJudgeOptions, MockAgentOptions};
use serde_json::json;
use support::fake_agent::{FakeAgent, Reply};

/// Two scenarios the mock agent passes (one judged on a rubric) and one it fails.
fn scenarios(dir: &Path) {
    fs_err::write(
        dir.join("scenarios.yaml"),
        "version: 1\nagent: shop_agent\nscenarios:\n\
         - id: greets\n  priority: P1\n  message: hello\n  expect:\n    contains: [hello]\n\
         - id: says_goodbye\n  priority: P1\n  message: hello\n  expect:\n    contains: [goodbye]\n\
         - id: polite\n  priority: P2\n  message: hello there\n  rubric: [answers politely]\n",
    )
    .unwrap();
}

/// The fake LLM judge, served on `agent`'s runtime.
fn judge(agent: &MockServer) -> FakeJudge {
    agent.runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        FakeJudge::start(listener, FakeJudgeOptions::default()).await.unwrap()
    })
}

fn rogue(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> common::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("ROGUE_AGENT_VERSION");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    common::Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `-v` lines of `stderr` (they start with the outcome), sorted by id, with the times
/// (which vary from run to run) replaced by `<t>`.
fn verbose_lines(stderr: &str) -> String {
    let times = Regex::new(r"(latency|judge|total)=[0-9][0-9.]*(ms|s|m[0-9]+s)").unwrap();
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(" agent=") && l.contains(" total="))
        .map(|l| times.replace_all(l, "$1=<t>").into_owned())
        .collect();
    lines.sort_by_key(|l| l.split_whitespace().nth(2).map(str::to_owned));
    lines.join("\n")
}

#[test]
fn v_prints_one_line_per_scenario_with_its_timings_before_or_after_the_subcommand() {
    let agent = MockServer::start(MockAgentOptions::default());
    let judge = judge(&agent);
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let (base, judge_url) = (agent.base_url(), judge.base_url());
    let envs = [("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", judge_url.as_str())];
    let run = ["--scenarios-dir", "scenarios.yaml", "--rogue-server", &base, "--progress", "plain"];
    let argv = |before: &[&'static str], after: &[&'static str]| -> Vec<String> {
        let mut argv: Vec<String> = before.iter().map(|s| (*s).to_owned()).collect();
        argv.push("run".to_owned());
        argv.extend(after.iter().map(|s| (*s).to_owned()));
        argv.extend(run.iter().map(|s| (*s).to_owned()));
        argv
    };

    let before = argv(&["-v"], &[]);
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let out = rogue(dir.path(), &before, &envs);
    assert_eq!(out.code, 1, "{}", out.combined());
    let lines = verbose_lines(&out.stderr);
    insta::assert_snapshot!("v_lines", lines);
    // A judged scenario shows the judge's time and the cost of its call, a cached one not.
    assert!(Regex::new(r"(?m)^PASS  P2 polite  .* judge=\d").unwrap().is_match(&out.stderr));

    let after = argv(&[], &["-v"]);
    let after: Vec<&str> = after.iter().map(String::as_str).collect();
    let out = rogue(dir.path(), &after, &envs);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(verbose_lines(&out.stderr), lines, "`run -v` is `-v run`");

    // Without -v: only the scenario that did not pass gets a line, in its usual form.
    let out =
        rogue(dir.path(), &argv(&[], &[]).iter().map(String::as_str).collect::<Vec<_>>(), &envs);
    assert_eq!(verbose_lines(&out.stderr), "", "{}", out.stderr);
    assert!(out.stderr.contains("\nFAIL  P1 says_goodbye  expect.contains"), "{}", out.stderr);
    assert!(!out.stderr.contains(" -> "), "no request lines by default: {}", out.stderr);
}

#[test]
fn q_prints_only_the_one_line_result_and_errors() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let base = agent.base_url();
    let run = ["run", "--scenarios-dir", "scenarios.yaml", "--rogue-server", &base];
    let result = Regex::new(
        r"^3 scenarios in [0-9.]+ ?m?s: 1 passed, 1 failed, 0 error, 1 unassessed, 0 skipped\n$",
    )
    .unwrap();
    for argv in [[&["-q"][..], &run[..]].concat(), [&run[..], &["--quiet"][..]].concat()] {
        let out = rogue(dir.path(), &argv, &[]);
        assert_eq!(out.code, 1, "{}", out.combined());
        assert!(result.is_match(&out.stderr), "{argv:?}: {:?}", out.stderr);
        assert_eq!(out.stdout, "");
    }
    // Errors still show.
    let out = rogue(dir.path(), &["-q", "run", "--scenarios-dir", "missing.yaml"], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("missing.yaml"), "{}", out.stderr);
    // -q and -v say opposite things.
    let out = rogue(dir.path(), &["-q", "-v", "validate", "scenarios.yaml"], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

/// Known secrets in every place a credential travels: the URL's userinfo (user and
/// password), its query string, a bearer header from --auth, and the judge's API key.
const URL_USER: &str = "urluser-c4n4ry";
const URL_PASSWORD: &str = "urlpass-c4n4ry";
const QUERY_KEY: &str = "querykey-c4n4ry";
const BEARER: &str = "bearer-token-c4n4ry";
const JUDGE_KEY: &str = "sk-judge-c4n4ry";

#[test]
fn vv_logs_every_request_and_never_a_credential() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // An http-json agent that answers every POST, hostile text included.
    let fake = runtime.block_on(FakeAgent::start(|req| {
        if req.method == "POST" {
            Reply::ok(json!({"reply": "hello \u{1b}[2J\u{1b}]0;pwned\u{7} there"}))
        } else {
            Reply::ok(json!({}))
        }
    }));
    let judge = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        FakeJudge::start(listener, FakeJudgeOptions::default()).await.unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let host = fake.url.trim_start_matches("http://");
    let agent =
        format!("shop_agent=http://{URL_USER}:{URL_PASSWORD}@{host}/chat?api_key={QUERY_KEY}");
    let judge_url = judge.base_url();
    let envs = [
        ("OPENAI_API_KEY", JUDGE_KEY),
        ("OPENAI_BASE_URL", judge_url.as_str()),
        ("AGENT_TOKEN", BEARER),
    ];
    let args = [
        "run",
        "-vv",
        "--scenarios-dir",
        "scenarios.yaml",
        "--agent",
        &agent,
        "--agent-protocol",
        "http-json",
        "--auth",
        "bearer:AGENT_TOKEN",
        "--progress",
        "plain",
        "--log-file",
        "run.log",
    ];
    let out = rogue(dir.path(), &args, &envs);
    let log = fs_err::read_to_string(dir.path().join("run.log")).unwrap();
    assert!(fake.posts().len() >= 3, "the agent was called: {}", out.combined());
    assert!(
        fake.posts().iter().any(|r| r.header("authorization") == Some(&format!("Bearer {BEARER}"))),
        "the agent did receive the credential"
    );

    let request = Regex::new(&format!(
        r"agent: -> POST http://(\*\*\*@)?{}/chat\?api_key=\*\*\* \(\d+ bytes\)",
        regex::escape(host)
    ))
    .unwrap();
    let response = Regex::new(&format!(
        r"agent: <- 200 POST http://(\*\*\*@)?{}/chat\?api_key=\*\*\* \(\d+ bytes, \d+(\.\d)? ?m?s\)",
        regex::escape(host)
    ))
    .unwrap();
    let judge_line =
        Regex::new(r"judge: -> POST http://127\.0\.0\.1:\d+/.*chat/completions").unwrap();
    for (name, text) in [("stderr", &out.stderr), ("log", &log)] {
        let lines = peer_first(text);
        assert!(request.is_match(&lines), "{name}: {text}");
        assert!(response.is_match(&lines), "{name}: {text}");
        assert!(judge_line.is_match(&lines), "{name}: {text}");
        for secret in [URL_USER, URL_PASSWORD, QUERY_KEY, BEARER, JUDGE_KEY] {
            assert!(!text.contains(secret), "{name} shows {secret}: {text}");
        }
        for header in ["authorization", "Authorization", "Bearer", "Basic "] {
            assert!(!text.contains(header), "{name} shows a credential header: {text}");
        }
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{name}: {text:?}");
    }
    // The file has no colours, a time and a level on each line, and every scenario's line.
    assert!(log.lines().all(|l| l.starts_with("20")), "{log}");
    for id in ["greets", "says_goodbye", "polite"] {
        assert!(log.contains(&format!("scenario finished id={id} agent=shop_agent")), "{log}");
    }
    drop(fake);
    runtime.block_on(judge.shutdown());
}

/// `DEBUG … -> POST url … peer=agent` as `agent: -> POST url …`, so that one pattern reads
/// the terminal's lines and the file's.
fn peer_first(text: &str) -> String {
    let line = Regex::new(r"(?m)^.*?(<-|->)(.*?) peer=(\w+)$").unwrap();
    line.replace_all(text, "$3: $1$2").into_owned()
}

#[test]
fn log_file_keeps_the_log_whatever_the_terminal_shows_and_rust_log_overrides_it() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let base = agent.base_url();
    let run = ["run", "--scenarios-dir", "scenarios.yaml", "--rogue-server", &base];

    // -q on the terminal, the full log in the file.
    let out = rogue(dir.path(), &[&["-q", "--log-file", "quiet.log"][..], &run[..]].concat(), &[]);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let log = fs_err::read_to_string(dir.path().join("quiet.log")).unwrap();
    assert!(log.contains("DEBUG rogue_runner::http: -> POST http://127.0.0.1:"), "{log}");
    assert!(log.contains("INFO rogue_runner::scenario: scenario finished id=greets"), "{log}");

    // RUST_LOG chooses instead: here the scenario lines only, on the terminal and in the file.
    let out = rogue(
        dir.path(),
        &[&["--log-file", "scenarios.log"][..], &run[..]].concat(),
        &[("RUST_LOG", "rogue_runner::scenario=info")],
    );
    let log = fs_err::read_to_string(dir.path().join("scenarios.log")).unwrap();
    assert!(!log.contains("rogue_runner::http"), "{log}");
    assert_eq!(log.matches("scenario finished").count(), 3, "{log}");
    assert_eq!(out.stderr.matches("scenario finished").count(), 3, "{}", out.stderr);

    // A bad RUST_LOG is a usage error that says what to write.
    let out = rogue(dir.path(), &run, &[("RUST_LOG", "rogue_runner=loud")]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("RUST_LOG"), "{}", out.stderr);
    // An unwritable --log-file too.
    let out =
        rogue(dir.path(), &[&["--log-file", "no/such/dir/x.log"][..], &run[..]].concat(), &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("--log-file"), "{}", out.stderr);
}
