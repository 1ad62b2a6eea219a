//! One way to name scenarios on every command (`PATH…` and the prototype's `--scenarios-dir`),
//! one name for `run`'s report files (`--reports`, `--format` still accepted), usage errors
//! that name the command the user ran, and files with no agent run with `--agent`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{MockServer, run, run_in};
use serde_json::Value;

/// The ids `list` selects, from its JSON.
fn listed(args: &[&str]) -> Vec<String> {
    let mut all = vec!["list", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.code, 0, "{args:?}: {}", out.combined());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn list_and_validate_take_paths_and_scenarios_dir_and_read_both_when_both_are_given() {
    let native = "tests/fixtures/valid/native.yaml";
    let bom = "tests/fixtures/valid/bom.yaml";
    let by_path = listed(&[native]);
    assert_eq!(by_path.len(), 1);
    assert_eq!(listed(&["--scenarios-dir", native]), by_path);
    // Both: every path of both, each path read once (no duplicate-id error for the repeat).
    let mut both = listed(&[bom, "--scenarios-dir", native, "--scenarios-dir", bom]);
    both.sort();
    let mut expected = [by_path.clone(), listed(&[bom])].concat();
    expected.sort();
    assert_eq!(both, expected);
    for args in [&["validate", native][..], &["validate", "--scenarios-dir", native]] {
        let out = run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.combined());
        assert!(out.stdout.contains("checked 1 file(s): 1 scenario(s)"), "{}", out.stdout);
    }
}

#[test]
fn run_estimate_and_the_bare_command_take_paths_too() {
    // A filter that matches nothing proves the files were read, without an agent.
    for form in [&["run"][..], &["estimate"], &[]] {
        for paths in [&["tests/fixtures/valid"][..], &["--scenarios-dir", "tests/fixtures/valid"]] {
            let args: Vec<&str> =
                form.iter().chain(paths).chain(&["--id", "nothing_*"]).copied().collect();
            let out = run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}", out.combined());
            assert!(out.stderr.contains("no scenario matches the filters"), "{}", out.stderr);
            assert!(
                out.stderr
                    .contains("hint: `rogue-runner list tests/fixtures/valid` shows what is there"),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_missing_path_is_named_without_assuming_which_flag_gave_it() {
    let out = run(&["list", "tests/fixtures/nowhere"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("tests/fixtures/nowhere"), "{}", out.stderr);
    assert!(!out.stderr.contains("check the path passed to --scenarios-dir"), "{}", out.stderr);
}

/// stderr with the terminal width out of the way.
fn usage_error(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.code, 2, "{args:?}: {}", out.combined());
    format!("$ rogue-runner {}\n{}", args.join(" "), out.stderr)
}

#[test]
fn usage_errors_name_the_command_that_was_run() {
    // No scenarios at all: each command says so in its own usage line.
    insta::assert_snapshot!("no_paths_list", usage_error(&["list"]));
    insta::assert_snapshot!("no_paths_run", usage_error(&["run", "--parallel", "2"]));
    // A flag of another command: which commands take it, and that this one does not.
    insta::assert_snapshot!(
        "run_flag_on_list",
        usage_error(&["list", "tests/fixtures/valid", "--output-dir", "x"])
    );
    insta::assert_snapshot!(
        "list_flag_on_bare_run",
        usage_error(&["--scenarios-dir", "tests/fixtures/valid", "--summary"])
    );
    insta::assert_snapshot!(
        "run_flag_on_validate",
        usage_error(&["validate", "--scenarios-dir", "tests/fixtures/valid", "--parallel", "3"])
    );
    // A mistyped subcommand is not taken for a missing path.
    insta::assert_snapshot!("mistyped_subcommand", usage_error(&["lsit", "tests/fixtures/valid"]));
}

#[test]
fn a_close_flag_keeps_clap_s_own_suggestion() {
    let out = run(&["list", "tests/fixtures/valid", "--summry"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("a similar argument exists: '--summary'"), "{}", out.stderr);
}

#[test]
fn run_s_report_list_is_reports_and_format_still_works() {
    for flag in ["--reports", "--format"] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_in(
            dir.path(),
            &["demo", "--output-dir", "out", flag, "json,junit", "--progress", "quiet"],
        );
        assert_eq!(out.code, 0, "{flag}: {}", out.combined());
        let mut written: Vec<String> = fs_err::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        assert_eq!(written, ["junit.xml", "results.json"], "{flag}");
    }
    let out = run(&["run", "--help"]);
    assert!(out.stdout.contains("--reports <LIST>"), "{}", out.stdout);
    let out = run(&["run", "tests/fixtures/valid", "--reports", "json,pdf"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown report format `pdf`"), "{}", out.stderr);
}

/// A file with no header and an id that names no agent.
const HEADERLESS: &str = "\
- id: greeting
  priority: P0
  category: smoke
  description: says hello back
  input: {prompt: hello there}
  expected_output: {contains: [hello]}
";

fn run_headerless(dir: &Path, agent: &str) -> common::Output {
    run_in(
        dir,
        &["run", "bare.yaml", "--agent", agent, "--output-dir", "out", "--progress", "quiet"],
    )
}

fn statuses(dir: &Path) -> Vec<(String, String, String)> {
    let doc: Value =
        serde_json::from_str(&fs_err::read_to_string(dir.join("out/results.json")).unwrap())
            .unwrap();
    doc["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (field("id"), field("status"), field("agent"))
        })
        .collect()
}

#[test]
fn a_headerless_file_runs_with_agent_star_or_agent_default() {
    let server = MockServer::start(rogue_runner::demo::MockAgentOptions::default());
    for agent in [
        format!("*={}/a2a/{{agent}}", server.base_url()),
        format!("default={}", server.agent_url("default")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("bare.yaml"), HEADERLESS).unwrap();
        let out = run_headerless(dir.path(), &agent);
        assert_eq!(out.code, 0, "{agent}: {}", out.combined());
        let got = statuses(dir.path());
        assert_eq!(got, [("greeting".into(), "passed".into(), "default".into())], "{agent}");
    }
    // Without an --agent for it, the run refuses to start and says which flag routes it.
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("bare.yaml"), HEADERLESS).unwrap();
    let out = run_in(dir.path(), &["run", "bare.yaml", "--output-dir", "out"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("1 scenario(s) name no agent"), "{}", out.stderr);
    assert!(out.stderr.contains("--agent 'default=URL'"), "{}", out.stderr);
    // `default` names only the scenarios with no agent: a typo for a named one is still caught.
    fs_err::write(
        dir.path().join("named.yaml"),
        format!("agent: qa_agent\nscenarios:\n{}", HEADERLESS.replace("greeting", "qa_greeting")),
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &["run", "named.yaml", "--agent", &format!("default={}", server.agent_url("x"))],
    );
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("talks to: default"), "{}", out.stderr);
    assert!(out.stderr.contains("agents: qa_agent"), "{}", out.stderr);
}
