//! Hostile inputs: scenario directories and files, report encodings.
//!
//! Each case runs the real binary in a child process with a deadline: if a fix regresses and
//! the child blocks (a FIFO, a symlink loop, `/dev/zero`), it is killed and the test fails
//! instead of hanging the suite.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{MockServer, Output};
use rogue_runner::demo::MockAgentOptions;

/// How long any one hostile case may take; the fixed code takes well under a second.
const DEADLINE: Duration = Duration::from_secs(30);

/// One valid scenario file, so a directory has something to load beside the hostile entries.
const VALID: &str = "version: 1\nagent: shop_agent\nscenarios:\n  - id: fine\n    priority: P1\n    message: hello\n    expect:\n      contains: [hello]\n";

/// Run `rogue-runner ARGS` in `dir` through `program` (the binary itself, or `sh` to set a
/// limit first), killing it if it is still running after [`DEADLINE`].
fn run_bounded_via(dir: &Path, program: &str, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ROGUE_SERVER")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CI")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let status = child.wait().unwrap();
        let _ = done.send((status.code().unwrap_or(-1), out, err));
    });
    match finished.recv_timeout(DEADLINE) {
        Ok((code, stdout, stderr)) => (Output { code, stdout, stderr }, started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`rogue-runner {}` still running after {DEADLINE:?}: killed", args.join(" "));
        }
    }
}

fn run_bounded(dir: &Path, args: &[&str]) -> Output {
    run_bounded_via(dir, env!("CARGO_BIN_EXE_rogue-runner"), args).0
}

fn dir_with_valid_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir(dir.path().join("scenarios")).unwrap();
    fs_err::write(dir.path().join("scenarios/valid.yaml"), VALID).unwrap();
    dir
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(unix)]
#[test]
fn two_self_symlinks_are_two_loop_warnings_not_a_hang() {
    let dir = dir_with_valid_file();
    symlink(".", dir.path().join("scenarios/loop_a"));
    symlink(".", dir.path().join("scenarios/loop_b"));
    let out = run_bounded(dir.path(), &["validate", "scenarios"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(out.stderr.matches("symlink loop").count(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("scenarios/loop_a"), "{}", out.stderr);
    assert!(out.stdout.contains("checked 1 file(s): 1 scenario(s)"), "{}", out.stdout);
}

#[cfg(unix)]
#[test]
fn one_self_symlink_loads_each_file_once_with_no_false_duplicates() {
    let dir = dir_with_valid_file();
    symlink(".", dir.path().join("scenarios/again"));
    // A directory reached by two paths and a symlinked file: still one load each.
    fs_err::create_dir(dir.path().join("scenarios/sub")).unwrap();
    fs_err::write(dir.path().join("scenarios/sub/more.yaml"), VALID.replace("fine", "more"))
        .unwrap();
    symlink("sub", dir.path().join("scenarios/sub_link"));
    symlink("valid.yaml", dir.path().join("scenarios/same.yaml"));
    let out = run_bounded(dir.path(), &["validate", "scenarios"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(!out.stderr.contains("duplicate"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("symlink loop").count(), 1, "{}", out.stderr);
    assert!(out.stdout.contains("checked 2 file(s): 2 scenario(s)"), "{}", out.stdout);
    let out = run_bounded(dir.path(), &["list", "scenarios", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["total"], 2, "{}", out.combined());
}

#[cfg(unix)]
#[test]
fn a_fifo_named_yaml_is_a_diagnostic_and_does_not_block() {
    let dir = dir_with_valid_file();
    let fifo = dir.path().join("scenarios/pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo {}: {made}", fifo.display());
    let out = run_bounded(dir.path(), &["validate", "scenarios"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr.contains("scenarios/pipe.yaml:1:1: error: not a regular file (a FIFO)"),
        "{}",
        out.stderr
    );
    // The other file still loads; `list` and a FIFO passed by name do not block either.
    assert!(out.stdout.contains("1 scenario(s)"), "{}", out.stdout);
    let out = run_bounded(dir.path(), &["list", "scenarios/pipe.yaml"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("not a regular file (a FIFO)"), "{}", out.stderr);
}

#[cfg(unix)]
#[test]
fn a_symlink_to_dev_zero_is_never_read() {
    let dir = dir_with_valid_file();
    symlink("/dev/zero", dir.path().join("scenarios/zero.yaml"));
    // Named on the command line, the symlink is followed: a device, refused without a read.
    let out = run_bounded(
        dir.path(),
        &["validate", "scenarios/zero.yaml", "--max-file-bytes", "1000000000"],
    );
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr.contains("scenarios/zero.yaml:1:1: error: not a regular file (a device)"),
        "{}",
        out.stderr
    );
    // Met while walking the directory, it leads outside it: not followed at all.
    let out = run_bounded(dir.path(), &["validate", "scenarios", "--max-file-bytes", "1000000000"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(
        out.stderr.contains("scenarios/zero.yaml:1:1: warning: the symlink leads outside"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("checked 1 file(s): 1 scenario(s)"), "{}", out.stdout);
}

/// A pull request cannot make the runner read a file outside the scenarios directory (and
/// print it in a diagnostic's snippet) by adding a symlink to it.
#[cfg(unix)]
#[test]
fn symlinks_leading_outside_the_scenarios_directory_are_not_followed() {
    let dir = dir_with_valid_file();
    fs_err::create_dir(dir.path().join("home")).unwrap();
    fs_err::write(
        dir.path().join("home/credentials.yaml"),
        "[default]\naws_secret_access_key = SECRET-1234\n",
    )
    .unwrap();
    symlink(dir.path().join("home/credentials.yaml"), dir.path().join("scenarios/leak.yaml"));
    symlink(dir.path().join("home"), dir.path().join("scenarios/home"));
    // A relative symlink that stays inside is followed as before.
    fs_err::create_dir(dir.path().join("scenarios/real")).unwrap();
    fs_err::write(dir.path().join("scenarios/real/more.yaml"), VALID.replace("fine", "more"))
        .unwrap();
    symlink("real", dir.path().join("scenarios/alias"));
    let out = run_bounded(dir.path(), &["validate", "scenarios"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(!out.stderr.contains("SECRET"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("the symlink leads outside").count(), 2, "{}", out.stderr);
    assert!(out.stdout.contains("checked 2 file(s): 2 scenario(s)"), "{}", out.stdout);
    // Named on the command line, the user's own file is read.
    let out = run_bounded(dir.path(), &["validate", "scenarios", "home/credentials.yaml"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("home/credentials.yaml"), "{}", out.stderr);
}

/// A sparse 1 GiB `.yaml` file is refused from its size, never read (not even to show the
/// diagnostic's snippet): fast, and under a 512 MiB address-space limit (the old code read it
/// whole for the snippet: 34.8 s, 5.25 GB RSS).
#[cfg(unix)]
#[test]
fn a_sparse_1_gib_file_is_refused_fast_and_in_little_memory() {
    let dir = dir_with_valid_file();
    let big = fs_err::File::create(dir.path().join("scenarios/big.yaml")).unwrap();
    big.set_len(1 << 30).unwrap();
    drop(big);
    let bin = env!("CARGO_BIN_EXE_rogue-runner");
    let script = format!("ulimit -v {} && exec \"$0\" \"$@\"", 512 * 1024);
    let (out, took) =
        run_bounded_via(dir.path(), "sh", &["-c", &script, bin, "validate", "scenarios"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr
            .contains("scenarios/big.yaml:1:1: error: the file is larger than the 16 MiB limit"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn deep_json_and_lone_surrogate_escapes_are_json_diagnostics() {
    let dir = dir_with_valid_file();
    let deep = format!("{{\"scenarios\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    fs_err::write(dir.path().join("scenarios/deep.json"), deep).unwrap();
    fs_err::write(
        dir.path().join("scenarios/surrogate.json"),
        r#"{"version": 1, "agent": "a", "scenarios": [{"id": "x\uD800", "priority": "P0", "message": "hi"}]}"#,
    )
    .unwrap();
    let out = run_bounded(dir.path(), &["validate", "scenarios"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("JSON nesting is deeper than 128 levels"), "{}", out.stderr);
    assert!(out.stderr.contains("invalid JSON: while parsing a quoted scalar"), "{}", out.stderr);
    assert!(out.stderr.contains("scenarios/surrogate.json:1:51"), "{}", out.stderr);
    // The 20,000-character line is not printed as a snippet.
    assert!(out.stderr.len() < 10_000, "{}", out.stderr.len());
    assert!(!out.stderr.contains("YAML"), "{}", out.stderr);
    assert!(out.stdout.contains("1 scenario(s)"), "{}", out.stdout);
}

/// Ids with XML non-characters, bidi controls, a newline and a C0 control, and an expected
/// text and a reply with the same, through a real run against the mock agent: junit.xml
/// parses with a strict XML parser and names each case with its id escaped; results.json and
/// events.jsonl parse and keep the id exactly; `list` prints one row per scenario.
#[test]
fn hostile_ids_and_replies_through_a_real_run_give_parseable_reports() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("scenarios.yaml"),
        concat!(
            "version: 1\nagent: shop_agent\nscenarios:\n",
            "  - id: \"bad\\uFFFEid\\uFFFF\\u202Ertl\\nnewline\\u0001\"\n",
            "    priority: P1\n",
            "    message: \"[reply:odd \\uFFFE reply \\uFFFF \\u202E]\"\n",
            "    expect:\n      contains: [\"\\uFFFFwanted\\u2066\\uFFFE\"]\n",
            "  - id: \"ok\\u2028sep\\u0085\"\n",
            "    priority: P1\n    message: hello\n",
            "    expect:\n      contains: [hello]\n",
        ),
    )
    .unwrap();
    let bad_id = "bad\u{FFFE}id\u{FFFF}\u{202E}rtl\nnewline\u{1}";
    let ok_id = "ok\u{2028}sep\u{85}";

    let list = run_bounded(dir.path(), &["list", "scenarios.yaml"]);
    assert_eq!(list.code, 0, "{}", list.combined());
    assert!(
        list.stdout.contains("bad\\u{FFFE}id\\u{FFFF}\\u{202E}rtl\\nnewline\\u{0001}  P1"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains(['\u{FFFE}', '\u{202E}', '\u{2028}']), "{}", list.stdout);

    let base = agent.base_url();
    let out = run_bounded(
        dir.path(),
        &[
            "run",
            "--scenarios-dir",
            "scenarios.yaml",
            "--rogue-server",
            &base,
            "--output-dir",
            "out",
            "--progress",
            "plain",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.combined());
    let read = |name: &str| fs_err::read_to_string(dir.path().join("out").join(name)).unwrap();

    let xml = read("junit.xml");
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("junit.xml is not XML: {e}\n{xml:?}"));
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(names.contains(&"bad\\u{FFFE}id\\u{FFFF}\\u{202E}rtl\\nnewline\\u{0001}"), "{names:?}");
    assert!(names.contains(&"ok\\u{2028}sep\\u{0085}"), "{names:?}");
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(
        failure.attribute("message").unwrap().contains("wanted"),
        "{:?}",
        failure.attribute("message")
    );

    let results: serde_json::Value = serde_json::from_str(&read("results.json")).unwrap();
    let ids: Vec<&str> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&bad_id) && ids.contains(&ok_id), "{ids:?}");
    for line in read("events.jsonl").lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("events.jsonl line is not JSON: {e}: {line:?}"));
    }
    let html = read("report.html");
    assert_eq!(html.matches("<script").count(), 1);
}
