//! What a user installs and wires up besides the binary itself: the man page and shell
//! completions it prints, the container image's Dockerfile, the composite GitHub Action
//! (action.yml) and the release workflow. The YAML files' actionlint check is in
//! tests/ci_workflow.rs with the other workflow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::process::Command;

use rogue_runner::scenario::node::{Node, ParseLimits, parse_document};

/// Every subcommand `rogue-runner --help` lists, read from the help a user sees.
fn subcommands() -> Vec<String> {
    let help = common::run(&["--help"]);
    assert_eq!(help.code, 0, "{}", help.combined());
    let commands = help.stdout.split("Commands:\n").nth(1).expect("a Commands: section");
    let names: Vec<String> = commands
        .lines()
        .take_while(|line| line.starts_with("  "))
        // A name starts two spaces in; deeper lines continue a description.
        .filter(|line| !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    names
}

#[test]
fn man_prints_a_roff_page_that_names_every_subcommand() {
    let out = common::run(&["man"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let page = &out.stdout;
    let th = page.lines().find(|l| l.starts_with(".TH ")).expect("no .TH line");
    assert!(th.starts_with(".TH ROGUE-RUNNER 1 "), "{th}");
    assert!(th.contains(env!("CARGO_PKG_VERSION")), "the page does not name its release: {th}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    // roff escapes dashes: `mock-agent` is written `mock\-agent`.
    for name in subcommands() {
        let roff = format!("rogue\\-runner\\-{}(1)", name.replace('-', "\\-"));
        assert!(page.contains(&roff), "the page does not name `{name}` ({roff})");
    }
    assert!(page.contains("\\-\\-scenarios\\-dir"), "the run options are missing");
}

#[test]
fn man_prints_a_page_per_subcommand_and_refuses_an_unknown_one() {
    let out = common::run(&["man", "list"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains(".TH ROGUE-RUNNER-LIST 1 "), "{}", out.stdout);
    assert!(out.stdout.contains("\\fBrogue\\-runner list\\fR"), "the synopsis: {}", out.stdout);

    let out = common::run(&["man", "lst"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("no subcommand `lst`"), "{}", out.stderr);
    assert!(out.stderr.contains("list"), "the hint names the real ones: {}", out.stderr);
}

#[test]
fn completions_print_a_script_for_every_shell_that_knows_run() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = common::run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.combined());
        assert!(out.stdout.len() > 500, "{shell}: a short script:\n{}", out.stdout);
        assert!(out.stdout.contains("run"), "{shell}: no `run`");
        assert!(out.stdout.contains("scenarios-dir"), "{shell}: no run flags");
        assert!(out.stdout.contains("rogue-runner"), "{shell}: not about rogue-runner");
    }
}

fn read(path: &str) -> String {
    fs_err::read_to_string(common::root().join(path)).unwrap()
}

fn yaml(path: &str) -> Node {
    parse_document(&read(path), ParseLimits::default())
        .unwrap_or_else(|e| panic!("{path}:{}:{}: {}", e.pos.line, e.pos.col, e.message))
}

fn text<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Node::as_scalar_text)
}

/// The Dockerfile's instructions per stage: continuation lines joined, comments dropped, each
/// as (INSTRUCTION, arguments).
fn docker_stages() -> Vec<Vec<(String, String)>> {
    let source = read("Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in source.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for line in logical.iter().filter(|l| !l.trim().is_empty()) {
        let (instruction, args) = line.split_once(' ').unwrap_or((line, ""));
        let instruction = instruction.to_uppercase();
        if instruction == "FROM" {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push((instruction, args.trim().to_owned()));
        }
    }
    stages
}

#[test]
fn the_image_is_the_static_binary_on_scratch_as_a_non_root_user() {
    let stages = docker_stages();
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    let build = &stages[0];
    assert!(build[0].1.contains("alpine") && build[0].1.ends_with(" AS build"), "{:?}", build[0]);
    assert!(
        build.iter().any(|(i, a)| i == "RUN" && a.contains("cargo build --release --locked")),
        "{build:?}"
    );
    let last = stages.last().unwrap();
    let from = &last[0].1;
    assert!(from == "scratch" || from.starts_with("gcr.io/distroless/static"), "{from}");
    let of = |name: &str| -> Vec<&str> {
        last.iter().filter(|(i, _)| i == name).map(|(_, a)| a.as_str()).collect()
    };
    assert!(of("RUN").is_empty(), "scratch has no shell to RUN with");
    assert_eq!(of("ENTRYPOINT"), ["[\"/rogue-runner\"]"]);
    let user = of("USER");
    assert_eq!(user.len(), 1, "{user:?}");
    let uid = user[0].split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "the image runs as root: {uid}");
    assert!(of("COPY").iter().any(|a| a.ends_with("/rogue-runner /rogue-runner")), "{last:?}");
    // reqwest's rustls checks certificates against the system roots (rustls-platform-verifier
    // reads /etc/ssl/certs on Linux), which scratch lacks: without the bundle every HTTPS
    // agent or judge would fail to verify.
    let lock = read("Cargo.lock");
    if lock.contains("name = \"rustls-platform-verifier\"")
        || lock.contains("name = \"rustls-native-certs\"")
    {
        assert!(
            of("COPY").iter().any(|a| a.contains("/etc/ssl/certs/ca-certificates.crt")),
            "the system root store is used but the image has no CA bundle"
        );
        assert!(of("ENV").iter().any(|a| a.starts_with("SSL_CERT_FILE=")), "{last:?}");
    }
    // The build context leaves out the build output (gigabytes).
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/" || l.trim() == "target"), "{ignore}");
}

const RELEASE_TARGETS: [&str; 5] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

#[test]
fn the_release_workflow_builds_five_targets_on_a_v_tag_with_checksums() {
    let workflow = yaml(".github/workflows/release.yml");
    let tags = workflow.get("on").and_then(|o| o.get("push")).and_then(|p| p.get("tags")).unwrap();
    let tags: Vec<&str> = tags.as_seq().unwrap().iter().filter_map(Node::as_scalar_text).collect();
    assert_eq!(tags, ["v*"]);
    let jobs = workflow.get("jobs").unwrap();
    let include = jobs
        .get("build")
        .and_then(|b| b.get("strategy"))
        .and_then(|s| s.get("matrix"))
        .and_then(|m| m.get("include"))
        .and_then(Node::as_seq)
        .unwrap();
    let targets: Vec<&str> = include.iter().filter_map(|row| text(row, "target")).collect();
    assert_eq!(targets, RELEASE_TARGETS);
    let source = read(".github/workflows/release.yml");
    assert!(source.contains("sha256sum \"$archive\" > \"$archive.sha256\""), "per-archive sums");
    assert!(source.contains("SHA256SUMS"));
    assert!(source.contains("gh release create"));
    let release = jobs.get("release").unwrap();
    assert_eq!(release.get("permissions").and_then(|p| text(p, "contents")), Some("write"));
    // The action downloads the archives by the names this workflow gives them.
    let action = read("action.yml");
    for target in RELEASE_TARGETS {
        assert!(action.contains(&format!("target={target} ")), "action.yml lacks {target}");
    }
    assert!(source.contains("name=\"rogue-runner-${{ matrix.target }}\""));
    assert!(action.contains("archive=\"rogue-runner-$target.$ext\""));
}

/// action.yml's composite steps.
fn action_steps(action: &Node) -> Vec<Node> {
    let runs = action.get("runs").unwrap();
    assert_eq!(text(runs, "using"), Some("composite"));
    runs.get("steps").and_then(Node::as_seq).unwrap().to_vec()
}

#[test]
fn every_action_input_is_used_and_documented() {
    let action = yaml("action.yml");
    let inputs = action.get("inputs").and_then(Node::as_map).unwrap();
    let source = read("action.yml");
    let runs = &source[source.find("\nruns:").unwrap()..];
    let ci = read("docs/ci.md");
    let readme = read("README.md");
    assert!(readme.contains("/rogue-runner@v1"), "README does not show the action");
    for (name, input) in inputs {
        let name = name.as_scalar_text().unwrap();
        assert!(text(input, "description").is_some_and(|d| d.len() > 10), "{name}");
        assert!(runs.contains(&format!("inputs.{name} ")), "input `{name}` is never used");
        assert!(ci.contains(&format!("`{name}`")), "docs/ci.md does not document `{name}`");
    }
    for required in ["paths", "agents", "partition", "baseline", "args", "version"] {
        assert!(inputs.iter().any(|(k, _)| k.as_scalar_text() == Some(required)), "{required}");
    }
    let upload = action_steps(&action)
        .into_iter()
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("the action uploads the reports");
    assert!(text(&upload, "if").unwrap().contains("always()"));
}

/// Runs the action's `run the scenarios` step under bash as GitHub does, with a fake
/// `rogue-runner` that records its arguments and exits with `$FAKE_EXIT`.
fn run_step(env: &[(&str, &str)], code: i32) -> (Option<i32>, Vec<String>, String) {
    let action = yaml("action.yml");
    let step = action_steps(&action).into_iter().find(|s| text(s, "id") == Some("run")).unwrap();
    let script = text(&step, "run").unwrap();
    assert!(!script.contains("${{"), "expressions belong in env:, not in the script");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let fake = bin.join("rogue-runner");
    fs_err::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$ARGS_FILE\"\nexit \"$FAKE_EXIT\"\n",
    )
    .unwrap();
    assert!(Command::new("chmod").arg("+x").arg(&fake).status().unwrap().success());
    let args_file = dir.path().join("args");
    let output_file = dir.path().join("output");
    let script_file = dir.path().join("step.sh");
    fs_err::write(&script_file, script).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script_file)
        .env("PATH", path)
        .env("ARGS_FILE", &args_file)
        .env("GITHUB_OUTPUT", &output_file)
        .env("FAKE_EXIT", code.to_string());
    for input in ["PATHS", "AGENTS", "PARTITION", "BASELINE", "OUTPUT_DIR", "EXTRA_ARGS"] {
        command.env(input, "");
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let status = command.status().unwrap();
    let args = fs_err::read_to_string(&args_file).unwrap_or_default();
    let output = fs_err::read_to_string(&output_file).unwrap_or_default();
    (status.code(), args.lines().map(str::to_owned).collect(), output)
}

#[test]
fn the_action_turns_its_inputs_into_flags_run_knows_and_passes_the_exit_code() {
    let env = [
        ("PATHS", "tests/rogue/scenarios\n\nmore scenarios/p0.yaml\n"),
        ("AGENTS", "qa_agent=http://127.0.0.1:8000/a2a/qa_agent\n*=http://h/{agent}\n"),
        ("PARTITION", "hash:2/4"),
        ("BASELINE", "latest"),
        ("OUTPUT_DIR", "reports/rogue"),
        ("EXTRA_ARGS", "--priority P0  --use-cache"),
    ];
    let (code, args, output) = run_step(&env, 0);
    assert_eq!(code, Some(0));
    assert_eq!(output, "exit-code=0\n");
    let expected = [
        "run",
        "--output-dir",
        "reports/rogue",
        "--scenarios-dir",
        "tests/rogue/scenarios",
        "--scenarios-dir",
        "more scenarios/p0.yaml",
        "--agent",
        "qa_agent=http://127.0.0.1:8000/a2a/qa_agent",
        "--agent",
        "*=http://h/{agent}",
        "--partition",
        "hash:2/4",
        "--baseline",
        "latest",
        "--priority",
        "P0",
        "--use-cache",
    ];
    assert_eq!(args, expected);
    // Every flag the action passes is one `rogue-runner run` has.
    let help = common::run(&["run", "--help"]);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let known = help.stdout.match_indices(flag.as_str()).any(|(at, _)| {
            !help.stdout[at + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
        });
        assert!(known, "`rogue-runner run` has no {flag}");
    }
    // Optional inputs left empty add nothing; the verdict is the step's exit code.
    for code in [1, 2, 5, 130] {
        let (got, args, output) =
            run_step(&[("PATHS", "s"), ("OUTPUT_DIR", "reports/rogue")], code);
        assert_eq!(got, Some(code));
        assert_eq!(args, ["run", "--output-dir", "reports/rogue", "--scenarios-dir", "s"]);
        assert_eq!(output, format!("exit-code={code}\n"));
    }
}

/// Runs the action's install step under bash for a Linux x64 runner, with a fake `curl` that
/// serves files from `release` and logs the URLs it was asked for.
fn install_step(release: &std::path::Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let action = yaml("action.yml");
    let step = action_steps(&action)
        .into_iter()
        .find(|s| text(s, "name") == Some("install rogue-runner"))
        .unwrap();
    let script = text(&step, "run").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let curl = bin.join("curl");
    // curl -fsSL --retry 3 -o FILE URL
    fs_err::write(
        &curl,
        "#!/bin/sh\nwhile [ $# -gt 1 ]; do [ \"$1\" = -o ] && out=\"$2\"; shift; done\n\
         echo \"$1\" >> \"$URL_LOG\"\ncp \"$RELEASE_DIR/${1##*/}\" \"$out\"\n",
    )
    .unwrap();
    assert!(Command::new("chmod").arg("+x").arg(&curl).status().unwrap().success());
    let temp = dir.path().join("runner-temp");
    fs_err::create_dir_all(&temp).unwrap();
    let script_file = dir.path().join("step.sh");
    fs_err::write(&script_file, script).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script_file)
        .env("PATH", path)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", &temp)
        .env("GITHUB_PATH", dir.path().join("github_path"))
        .env("URL_LOG", dir.path().join("urls"))
        .env("RELEASE_DIR", release)
        .env("VERSION", "v1.2.3")
        .env("REPO", "")
        .env("ACTION_PATH", "");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let urls = fs_err::read_to_string(dir.path().join("urls")).unwrap_or_default();
    let github_path = fs_err::read_to_string(dir.path().join("github_path")).unwrap_or_default();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() || github_path.is_empty(), "PATH changed by a failed install");
    (out.status.success(), urls, stdout + &github_path)
}

#[test]
fn the_action_installs_the_release_archive_for_the_runner_after_checking_its_sum() {
    let release = tempfile::tempdir().unwrap();
    let name = "rogue-runner-x86_64-unknown-linux-musl";
    let unpacked = release.path().join(name);
    fs_err::create_dir_all(&unpacked).unwrap();
    fs_err::write(unpacked.join("rogue-runner"), "#!/bin/sh\necho rogue-runner 9.9.9\n").unwrap();
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .args(["-c", script])
            .current_dir(release.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    };
    sh(&format!(
        "chmod +x {name}/rogue-runner && tar -czf {name}.tar.gz {name} && rm -r {name} \
         && sha256sum {name}.tar.gz > {name}.tar.gz.sha256"
    ));

    let (ok, urls, out) = install_step(release.path(), &[("REPO", "acme/rogue-runner")]);
    assert!(ok, "{out}");
    let base = "https://github.com/acme/rogue-runner/releases/download/v1.2.3";
    assert_eq!(urls, format!("{base}/{name}.tar.gz\n{base}/{name}.tar.gz.sha256\n"));
    assert!(out.contains("rogue-runner 9.9.9"), "the installed binary did not run: {out}");
    assert!(out.trim_end().ends_with("rogue-runner-bin"), "not added to GITHUB_PATH: {out}");

    // Without github.action_repository, the repository comes from the action's checkout path;
    // `latest` takes the newest release.
    let (ok, urls, out) = install_step(
        release.path(),
        &[("VERSION", "latest"), ("ACTION_PATH", "/home/runner/work/_actions/acme/rr/v1")],
    );
    assert!(ok, "{out}");
    assert!(
        urls.starts_with(&format!("https://github.com/acme/rr/releases/latest/download/{name}")),
        "{urls}"
    );

    // A tampered archive is refused.
    sh(&format!("echo tampered >> {name}.tar.gz"));
    let (ok, _, out) = install_step(release.path(), &[("REPO", "acme/rogue-runner")]);
    assert!(!ok, "a checksum mismatch must fail the step: {out}");
}
