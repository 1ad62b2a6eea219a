//! The end of a run through the real binary: the recap names report.html and what the exit
//! code means, live FAIL lines stop after 20 unless `-v`, `--color`, `--no-step-summary`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;

/// `scenarios.yaml` in `dir`: `passing` scenarios the mock agent passes and `failing` ones it
/// fails (it echoes the message, and they expect another word), all P1.
fn scenarios(dir: &Path, passing: usize, failing: usize) {
    let mut text = String::from("version: 1\nagent: shop_agent\nscenarios:\n");
    for i in 0..passing {
        let _ = write!(
            text,
            "  - id: ok_{i:02}\n    priority: P1\n    message: hello\n    expect:\n      contains: [hello]\n"
        );
    }
    for i in 0..failing {
        let _ = write!(
            text,
            "  - id: bad_{i:02}\n    priority: P1\n    message: hello\n    expect:\n      contains: [goodbye]\n"
        );
    }
    fs_err::write(dir.join("scenarios.yaml"), text).unwrap();
}

fn run_args<'a>(base: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--scenarios-dir",
        "scenarios.yaml",
        "--rogue-server",
        base,
        "--output-dir",
        "out",
        "--progress",
        "plain",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn the_recap_names_report_html_and_what_the_exit_code_means() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path(), 2, 1);
    let base = agent.base_url();
    let out = common::run_in(dir.path(), &run_args(&base, &[]));
    assert_eq!(out.code, 1, "{}", out.combined());
    let recap = &out.stderr[out.stderr.find("── recap").expect("a recap")..];
    assert!(recap.contains("3 scenarios in "), "{recap}");
    assert!(recap.contains(": 2 passed, 1 failed, 0 error, 0 unassessed, 0 skipped"), "{recap}");
    assert!(recap.contains("failed (1):\n  P1 bad_00  expect.contains"), "{recap}");
    let html = Path::new("out").join("report.html");
    assert!(recap.contains(&format!("reports: {}\n", html.display())), "{recap}");
    assert!(dir.path().join(&html).is_file());
    assert!(recap.ends_with("exit 1: 1 scenario failed\n"), "{recap}");
    // No escape sequence when stderr is not a terminal (and NO_COLOR is set).
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
}

#[test]
fn live_fail_lines_stop_after_twenty_unless_verbose() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path(), 0, 25);
    let base = agent.base_url();
    let fail_lines = |stderr: &str| stderr.lines().filter(|l| l.starts_with("FAIL ")).count();

    let out = common::run_in(dir.path(), &run_args(&base, &["--parallel", "4"]));
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(fail_lines(&out.stderr), 20, "{}", out.stderr);
    assert!(out.stderr.contains("-v shows each as it finishes"), "{}", out.stderr);
    assert!(out.stderr.contains("25× expect.contains"), "the recap lists them all: {}", out.stderr);

    let out = common::run_in(dir.path(), &run_args(&base, &["--parallel", "4", "-v"]));
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(fail_lines(&out.stderr), 25, "{}", out.stderr);
}

#[test]
fn color_always_colours_even_when_piped_and_never_does_not() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path(), 1, 1);
    let base = agent.base_url();
    let out = common::run_in(dir.path(), &run_args(&base, &["--color", "always"]));
    assert!(out.stderr.contains("\x1b[31mFAIL \x1b[0m"), "{:?}", out.stderr);
    assert!(out.stderr.contains("\x1b[32m1 passed\x1b[0m"), "{:?}", out.stderr);
    let out = common::run_in(dir.path(), &run_args(&base, &["--color", "never"]));
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let out = common::run_in(dir.path(), &run_args(&base, &["--color", "sometimes"]));
    assert_eq!(out.code, 2, "{}", out.combined());
}

#[test]
fn no_step_summary_leaves_github_step_summary_alone() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path(), 1, 0);
    let base = agent.base_url();
    let step = dir.path().join("step_summary.md");
    let run = |extra: &[&str]| {
        fs_err::write(&step, "").unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
            .args(run_args(&base, extra))
            .current_dir(dir.path())
            .env("GITHUB_STEP_SUMMARY", &step)
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ROGUE_RUNNER_CONFIG")
            .output()
            .unwrap();
        assert_eq!(status.status.code(), Some(0), "{}", String::from_utf8_lossy(&status.stderr));
        fs_err::read_to_string(&step).unwrap()
    };
    assert!(run(&[]).contains("passed"), "the step summary is written by default");
    assert_eq!(run(&["--no-step-summary"]), "");
}
