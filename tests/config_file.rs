//! `rogue-runner.toml` through the real binary: `[run]`, profiles (`--profile`,
//! `ROGUE_PROFILE`), `[agents.NAME]` tables, `ROGUE_RUNNER_CONFIG`, unknown keys, and
//! `rogue-runner config`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

#[allow(dead_code, reason = "shared scaffolding; this suite uses the plain HTTP part")]
mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::fake_agent::{FakeAgent, Reply};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `rogue-runner ARGS` in `dir` with only `env` of the variables rogue-runner reads.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command.args(args).current_dir(dir).env("NO_COLOR", "1");
    for name in [
        "ROGUE_SERVER",
        "ROGUE_PROFILE",
        "ROGUE_RUNNER_CONFIG",
        "ROGUE_AGENT_VERSION",
        "ROGUE_ALLOW_UNASSESSED",
        "GITHUB_STEP_SUMMARY",
        "JOB_COMPLETION_INDEX",
        "CI",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ROGUE_JUDGE_BASE_URL",
        "ROGUE_JUDGE_MODEL",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("run rogue-runner");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    if let Some(parent) = dir.join(name).parent() {
        fs_err::create_dir_all(parent).unwrap();
    }
    fs_err::write(dir.join(name), text).unwrap();
}

/// `config --format json ARGS`: the row of `key`.
fn setting(dir: &Path, args: &[&str], env: &[(&str, &str)], key: &str) -> Value {
    let mut argv = vec!["config", "--format", "json"];
    argv.extend_from_slice(args);
    let out = run_in(dir, &argv, env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["settings"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap().clone()
}

#[test]
fn run_and_agents_tables_drive_a_run_and_a_profile_overrides_them() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let agent =
        runtime.block_on(FakeAgent::start(|_| Reply::ok(json!({"reply": "hello from the agent"}))));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "scenarios.yaml",
        "version: 1\nagent: shop_agent\nscenarios:\n  - id: greets\n    priority: P1\n    \
         message: hello\n    expect:\n      contains: [hello]\n",
    );
    write(
        dir.path(),
        "rogue-runner.toml",
        &format!(
            "[run]\nscenarios_dir = [\"scenarios.yaml\"]\noutput_dir = \"out\"\nprogress = \"plain\"\n\
             \n[agents.shop_agent]\nurl = \"{}/chat\"\nauth = \"bearer:SHOP_TOKEN\"\nprotocol = \"http-json\"\n\
             \n[profile.ci]\noutput_dir = \"out-ci\"\n",
            agent.url
        ),
    );
    let token = [("SHOP_TOKEN", "tok-secret-123")];
    // No flag at all: everything comes from the file.
    let out = run_in(dir.path(), &["run"], &token);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(dir.path().join("out/results.json").is_file());
    let posts: Vec<_> = agent.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/chat");
    assert_eq!(posts[0].header("authorization"), Some("Bearer tok-secret-123"));
    assert!(!out.stderr.contains("tok-secret-123"), "{}", out.stderr);

    let out = run_in(dir.path(), &["run", "--profile", "ci"], &token);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.path().join("out-ci/results.json").is_file());

    let env = [token[0], ("ROGUE_PROFILE", "ci")];
    let out = run_in(dir.path(), &["run", "--output-dir", "flag-out"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.path().join("flag-out/results.json").is_file());

    // `config` shows where the agent came from, never the token.
    let out = run_in(dir.path(), &["config"], &token);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("file agents.shop_agent.url"), "{}", out.stdout);
    assert!(out.stdout.contains("bearer:SHOP_TOKEN"), "{}", out.stdout);
    assert!(!out.stdout.contains("tok-secret-123"), "{}", out.stdout);
}

#[test]
fn flag_beats_env_beats_profile_beats_run_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rogue-runner.toml",
        "[run]\nrogue_server = \"http://run.example\"\nretries = 4\n\
         [profile.ci]\nrogue_server = \"http://profile.example\"\n",
    );
    let d = dir.path();
    let server = |args: &[&str], env: &[(&str, &str)]| {
        let row = setting(d, args, env, "rogue_server");
        (row["value"].as_str().unwrap().to_owned(), row["source"].as_str().unwrap().to_owned())
    };
    assert_eq!(server(&[], &[]), ("http://run.example".into(), "file".into()));
    assert_eq!(server(&["--profile", "ci"], &[]), ("http://profile.example".into(), "file".into()));
    let ci = [("ROGUE_PROFILE", "ci")];
    assert_eq!(server(&[], &ci), ("http://profile.example".into(), "file".into()));
    let env = [ci[0], ("ROGUE_SERVER", "http://env.example")];
    assert_eq!(server(&[], &env), ("http://env.example".into(), "env".into()));
    let flag = ["--rogue-server", "http://flag.example"];
    assert_eq!(server(&flag, &env), ("http://flag.example".into(), "flag".into()));
    let row = setting(d, &["--profile", "ci"], &[], "rogue_server");
    assert_eq!(row["from"], "profile.ci.rogue_server");
    let row = setting(d, &["--profile", "ci"], &[], "retries");
    assert_eq!((row["value"].as_str(), row["from"].as_str()), (Some("4"), Some("run.retries")));
    let row = setting(d, &[], &[], "timeout");
    assert_eq!((row["value"].as_str(), row["source"].as_str()), (Some("30s"), Some("default")));
    let row = setting(d, &[], &[], "profile");
    assert_eq!(row["source"], "unset");
    let row = setting(d, &[], &ci, "profile");
    assert_eq!(
        (row["source"].as_str(), row["from"].as_str()),
        (Some("env"), Some("ROGUE_PROFILE"))
    );
}

#[test]
fn rogue_runner_config_names_another_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rogue-runner.toml", "[run]\nparallel = 2\n");
    write(dir.path(), "ci/other.toml", "[run]\nparallel = 7\n");
    let env = [("ROGUE_RUNNER_CONFIG", "ci/other.toml")];
    let row = setting(dir.path(), &[], &env, "parallel");
    assert_eq!(row["value"], "7");
    assert_eq!(setting(dir.path(), &[], &[], "parallel")["value"], "2");
    let out = run_in(dir.path(), &["config"], &env);
    assert!(out.stdout.starts_with("config file: ci/other.toml\n"), "{}", out.stdout);
    // A file named on purpose must exist.
    let out = run_in(
        dir.path(),
        &["run", "--scenarios-dir", "x"],
        &[("ROGUE_RUNNER_CONFIG", "nope.toml")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("nope.toml"), "{}", out.stderr);
}

#[test]
fn an_unknown_key_is_an_error_at_its_place_with_the_nearest_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rogue-runner.toml",
        "# shared settings\n[run]\nscenarios_dir = [\"tests/rogue\"]\nparalel = 3\n",
    );
    let out = run_in(dir.path(), &["run"], &[]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn an_unknown_profile_is_an_error_naming_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rogue-runner.toml", "[profile.ci]\n[profile.nightly]\nparallel = 1\n");
    let out = run_in(dir.path(), &["run", "--scenarios-dir", "x", "--profile", "nightley"], &[]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stderr);
    let out = run_in(dir.path(), &["config"], &[("ROGUE_PROFILE", "staging")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("ROGUE_PROFILE staging"), "{}", out.stderr);
}

#[test]
fn config_prints_every_setting_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rogue-runner.toml",
        "[run]\nscenarios_dir = [\"tests/rogue\"]\nparallel = 3\npriority = [\"P0\", \"P1\"]\n\
         \n[agents.qa_agent]\nurl = \"https://user:hunter2@qa.example/a2a/qa_agent\"\nversion = \"abc123\"\n\
         \n[profile.ci]\nparallel = 8\nprogress = \"plain\"\n\n[judge]\nmodel = \"gpt-4o-mini\"\n",
    );
    let out = run_in(
        dir.path(),
        &["config", "--profile", "ci", "--max-fail", "5"],
        &[("ROGUE_SERVER", "http://rogue.example:8000")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2"));
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn the_readme_example_file_is_valid_and_shows_what_it_says() {
    let readme =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### Config file and profiles").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rogue-runner.toml", example);
    // `config` checks what a run would: the variable `auth` names must be set.
    let token = [("QA_AGENT_TOKEN", "t")];
    let row = setting(dir.path(), &["--profile", "ci"], &token, "agent");
    assert_eq!(row["value"], "qa_agent=https://qa.staging.example.com");
    assert_eq!(row["from"], "profile.ci.agents.qa_agent.url");
    let row = setting(dir.path(), &["--profile", "ci"], &token, "parallel");
    assert_eq!(
        (row["value"].as_str(), row["from"].as_str()),
        (Some("8"), Some("profile.ci.parallel"))
    );
    let row = setting(dir.path(), &[], &token, "auth");
    assert_eq!(row["value"], "bearer:QA_AGENT_TOKEN");
    let row = setting(dir.path(), &[], &token, "judge_model");
    assert_eq!(row["from"], "judge.model");
}
