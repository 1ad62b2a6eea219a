//! Reruns through the binary: `--rerun-failed[=RUN]` (what failed or errored in a recorded
//! run, combined with the other filters; `list` and `estimate` show it), and `watch`, which
//! reruns the scenarios of each changed file until Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{MockServer, Output, run_in};
use rogue_runner::demo::MockAgentOptions;
use serde_json::Value;

/// `scenarios/shop.yaml`: six scenarios for agent `shop`, priorities cycling P0, P1, P2; the
/// ids in `failing` expect "pong", which the echoing mock never says.
fn write_shop(dir: &Path, failing: &[&str]) {
    let mut yaml = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..6 {
        let id = format!("shop_{i:03}");
        let expect = if failing.contains(&id.as_str()) { "pong" } else { "ping" };
        let priority = ["P0", "P1", "P2"][i % 3];
        writeln!(
            yaml,
            "  - id: {id}\n    priority: {priority}\n    category: c\n    description: d{i}\n    \
             message: \"ping {i}\"\n    expect:\n      contains: [{expect}]"
        )
        .unwrap();
    }
    fs_err::create_dir_all(dir.join("scenarios")).unwrap();
    fs_err::write(dir.join("scenarios/shop.yaml"), yaml).unwrap();
}

/// `scenarios/down.yaml`: one P0 scenario for agent `down`, which [`run`] routes to a port
/// nobody listens on: it errors.
fn write_down(dir: &Path) {
    let yaml = "version: 1\nagent: down\nscenarios:\n  - id: down_000\n    priority: P0\n    \
                category: c\n    description: d\n    message: hi\n    expect:\n      contains: [hi]\n";
    fs_err::write(dir.join("scenarios/down.yaml"), yaml).unwrap();
}

/// `run` against the mock agent (agent `down` to a closed port), recording into `cache`.
fn run(dir: &Path, agent: &MockServer, extra: &[&str]) -> Output {
    let server = agent.base_url();
    let mut args = vec!["run", "--scenarios-dir", "scenarios", "--rogue-server", &server];
    args.extend(["--agent", "down=http://127.0.0.1:1", "--retries", "0"]);
    args.extend(["--output-dir", "out", "--progress", "quiet", "--no-fail-fast"]);
    args.extend(["--cache-dir", "cache"]);
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

/// The ids in `out/results.json`, sorted.
fn ran(dir: &Path) -> Vec<String> {
    let text = fs_err::read_to_string(dir.join("out/results.json")).unwrap();
    let results: Value = serde_json::from_str(&text).unwrap();
    let mut ids: Vec<String> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The ids `list` selects with `extra`, sorted; its stderr beside them.
fn listed(dir: &Path, extra: &[&str]) -> (Vec<String>, String) {
    let mut args = vec!["list", "scenarios", "--format", "json", "--cache-dir", "cache"];
    args.extend_from_slice(extra);
    let out = run_in(dir, &args);
    assert_eq!(out.code, 0, "{}", out.combined());
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut ids: Vec<String> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    (ids, out.stderr)
}

/// The id of the newest recorded run.
fn newest_run(dir: &Path) -> String {
    let out = run_in(dir, &["history", "--format", "json", "--cache-dir", "cache"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let runs = json.get("runs").unwrap_or(&json);
    runs[0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn rerun_failed_reruns_what_failed_or_errored_and_says_what_it_cannot() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_shop(dir, &["shop_001", "shop_004"]);
    write_down(dir);

    // Nothing recorded yet: an error that says how to get a run recorded.
    let out = run_in(dir, &["list", "scenarios", "--rerun-failed", "--cache-dir", "cache"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr.contains("--rerun-failed reads the runs recorded in cache"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("run once first"), "{}", out.stderr);

    let first = run(dir, &agent, &[]);
    assert_eq!(first.code, 1, "{}", first.combined());
    let first_id = newest_run(dir);

    // What a rerun would take: the two failures and the error, shown by list and estimate.
    let (ids, stderr) = listed(dir, &["--rerun-failed"]);
    assert_eq!(ids, ["down_000", "shop_001", "shop_004"]);
    assert!(stderr.contains("the 3 scenario(s) that failed or errored in run"), "{stderr}");
    let out = run_in(
        dir,
        &["estimate", "--scenarios-dir", "scenarios", "--cache-dir", "cache", "--rerun-failed"],
    );
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains("Cost estimate for 3 scenario(s)"), "{}", out.stdout);

    // With the other filters, all must hold.
    let (ids, stderr) = listed(dir, &["--rerun-failed", "--priority", "P1"]);
    assert_eq!(ids, ["shop_001", "shop_004"]);
    assert!(stderr.contains("2 of the 3 scenario(s)"), "{stderr}");
    let out = run(dir, &agent, &["--rerun-failed", "--id", "shop_000"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("no scenario matches the filters"), "{}", out.stderr);

    // shop_004 is fixed and down_000 renamed: the rerun takes what is left and names what it
    // cannot find.
    write_shop(dir, &["shop_001"]);
    let down = fs_err::read_to_string(dir.join("scenarios/down.yaml")).unwrap();
    fs_err::write(dir.join("scenarios/down.yaml"), down.replace("down_000", "down_001")).unwrap();
    let out = run(dir, &agent, &["--rerun-failed"]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert_eq!(ran(dir), ["shop_001", "shop_004"]);
    assert!(
        out.stderr.contains("1 scenario(s) that failed or errored in run")
            && out.stderr.contains("no longer in the scenario files")
            && out.stderr.contains("down_000"),
        "{}",
        out.stderr
    );

    // The latest run is now that rerun: only shop_001 failed there.
    write_shop(dir, &[]);
    let out = run(dir, &agent, &["--rerun-failed"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(ran(dir), ["shop_001"]);

    // Nothing failed in the latest run: said, nothing run (the reports stay), exit 0.
    let before = fs_err::read_to_string(dir.join("out/results.json")).unwrap();
    let out = run(dir, &agent, &["--rerun-failed"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stderr.contains("nothing to rerun: no scenario failed or errored in run"));
    assert_eq!(fs_err::read_to_string(dir.join("out/results.json")).unwrap(), before);

    // An earlier run, by a unique prefix of its id.
    let prefix = format!("--rerun-failed={}", &first_id[..10]);
    let (ids, _) = listed(dir, &[&prefix]);
    assert_eq!(ids, ["shop_001", "shop_004"]);
    let out = run(dir, &agent, &[&prefix]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(ran(dir), ["shop_001", "shop_004"]);

    // A run that is not there.
    let out = run(dir, &agent, &["--rerun-failed=ffffffff"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("no recorded run matches `ffffffff`"), "{}", out.stderr);
    assert!(out.stderr.contains("rogue-runner history"), "{}", out.stderr);
}

#[test]
fn rerun_failed_after_a_partitioned_run_reads_every_shard() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_shop(dir, &["shop_000", "shop_001", "shop_002", "shop_004", "shop_005"]);
    write_down(dir);
    let failing = ["down_000", "shop_000", "shop_001", "shop_002", "shop_004", "shop_005"];
    for shard in ["hash:1/2", "hash:2/2"] {
        let out = run(dir, &agent, &["--partition", shard, "--no-step-summary"]);
        assert!(out.code == 0 || out.code == 1, "{}", out.combined());
    }
    // The latest run is shard 2/2; both shards' failures are rerun.
    let (ids, stderr) = listed(dir, &["--rerun-failed"]);
    assert_eq!(ids, failing);
    assert!(stderr.contains("the shards of one partitioned run"), "{stderr}");
    assert!(stderr.contains("shard 1/2") && stderr.contains("shard 2/2"), "{stderr}");
    // Each shard of a rerun takes its share of them.
    let (one, _) = listed(dir, &["--rerun-failed", "--partition", "hash:1/2"]);
    let (two, _) = listed(dir, &["--rerun-failed", "--partition", "hash:2/2"]);
    let mut both: Vec<String> = one.iter().chain(&two).cloned().collect();
    both.sort();
    assert_eq!(both, failing);
}

#[cfg(unix)]
mod watch {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
    use std::time::{Duration, Instant};

    use super::*;

    /// Long enough for a loaded CI machine; the test waits only as long as it must.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// A running `watch`, its stderr lines arriving on a channel.
    struct Watch {
        child: Child,
        lines: Receiver<String>,
        seen: Vec<String>,
    }

    impl Watch {
        fn start(dir: &Path, agent: &MockServer, extra: &[&str]) -> Watch {
            let mut child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
                .args(["watch", "scenarios", "--rogue-server", &agent.base_url()])
                .args(["--output-dir", "out", "--cache-dir", "cache", "--progress", "quiet"])
                .args(["--no-fail-fast"])
                .args(extra)
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .env_remove("ROGUE_SERVER")
                .env_remove("GITHUB_STEP_SUMMARY")
                .env_remove("OPENAI_API_KEY")
                .env_remove("ROGUE_RUNNER_CONFIG")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stderr = child.stderr.take().unwrap();
            let (tx, lines) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            Watch { child, lines, seen: Vec::new() }
        }

        /// Waits for a line containing `text`; the lines read until then are kept.
        fn wait_for(&mut self, text: &str) -> Vec<String> {
            let deadline = Instant::now() + PATIENCE;
            let mut lines = Vec::new();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(line) => {
                        self.seen.push(line.clone());
                        let found = line.contains(text);
                        lines.push(line);
                        if found {
                            return lines;
                        }
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                        "no line with {text:?} from watch; it said:\n{}",
                        self.seen.join("\n")
                    ),
                }
            }
        }

        /// Sends SIGINT; returns the exit code and every line said since the last wait.
        fn interrupt(mut self) -> (i32, Vec<String>) {
            let pid = self.child.id().to_string();
            let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
            assert!(status.success());
            let (tx, rx) = channel();
            let mut child =
                std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
            std::thread::spawn(move || {
                let _ = tx.send(child.wait().map(|s| s.code()));
            });
            let code = rx
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| {
                    panic!("watch did not exit; it said:\n{}", self.seen.join("\n"))
                })
                .unwrap()
                .unwrap_or(-1);
            // The process is gone: the reader thread sends what was left and ends.
            let rest: Vec<String> = self.lines.iter().collect();
            (code, rest)
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            // A failed assertion must not leave the watcher running.
            let _ = self.child.kill();
        }
    }

    #[test]
    fn watch_reruns_the_scenarios_of_a_changed_file_until_ctrl_c() {
        let agent = MockServer::start(MockAgentOptions::default());
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write_shop(dir, &[]);
        let other = "version: 1\nagent: shop\nscenarios:\n  - id: other_000\n    priority: P1\n    \
                     category: c\n    description: d\n    message: ping\n    expect:\n      contains: [ping]\n";
        fs_err::write(dir.join("scenarios/other.yaml"), other).unwrap();

        // At start, everything runs once.
        let mut watch = Watch::start(dir, &agent, &[]);
        watch.wait_for("watching scenarios for changes");
        assert_eq!(ran(dir).len(), 7);

        // One file changes: its scenarios, and only they, run again.
        write_shop(dir, &["shop_002"]);
        let lines = watch.wait_for("watching scenarios for changes");
        assert!(lines.iter().any(|l| l.contains("changed: scenarios/shop.yaml")), "{lines:?}");
        assert_eq!(
            ran(dir),
            ["shop_000", "shop_001", "shop_002", "shop_003", "shop_004", "shop_005"]
        );
        let results: Value =
            serde_json::from_str(&fs_err::read_to_string(dir.join("out/results.json")).unwrap())
                .unwrap();
        assert_eq!(results["run"]["exit_code"], 1, "the change made shop_002 fail");

        // A file that becomes invalid: its problem is shown, and watch goes on.
        fs_err::write(dir.join("scenarios/other.yaml"), "version: 1\nscenarios: [\n").unwrap();
        let lines = watch.wait_for("watching scenarios for changes");
        assert!(lines.iter().any(|l| l.contains("problem(s) in scenario files")), "{lines:?}");
        // Fixed again: it runs.
        fs_err::write(dir.join("scenarios/other.yaml"), other).unwrap();
        watch.wait_for("watching scenarios for changes");
        assert_eq!(ran(dir), ["other_000"]);

        // The config file changes: every scenario runs again.
        fs_err::write(dir.join("rogue-runner.toml"), "# settings\n").unwrap();
        let lines = watch.wait_for("watching scenarios for changes");
        assert!(lines.iter().any(|l| l.contains("changed:") && l.contains("rogue-runner.toml")));
        assert_eq!(ran(dir).len(), 7);

        // Ctrl-C while waiting is the way out: exit 0.
        let (code, rest) = watch.interrupt();
        assert_eq!(code, 0, "{rest:?}");
        assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    }

    #[test]
    fn ctrl_c_during_a_run_stops_the_run_and_watch_with_130() {
        // Every reply takes 20 s: the run is still going when Ctrl-C comes.
        let options =
            MockAgentOptions { latency: Duration::from_secs(20), ..MockAgentOptions::default() };
        let agent = MockServer::start(options);
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write_shop(dir, &[]);
        // `--serve` is shared with `run`, and watch says it does not act on it.
        let mut watch = Watch::start(dir, &agent, &["--serve"]);
        // Said as the run starts.
        let lines = watch.wait_for("judge:");
        assert!(
            lines.iter().any(|l| l.contains("watch does not start the dashboard (--serve)")),
            "{lines:?}"
        );
        let (code, rest) = watch.interrupt();
        assert_eq!(code, 130, "{rest:?}");
        assert!(!rest.iter().any(|l| l.contains("watching")), "{rest:?}");
        let results: Value =
            serde_json::from_str(&fs_err::read_to_string(dir.join("out/results.json")).unwrap())
                .unwrap();
        assert_eq!(results["run"]["exit_code"], 130, "the interrupted run wrote its reports");
    }

    #[test]
    fn watch_needs_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_in(dir.path(), &["watch"]);
        assert_eq!(out.code, 2, "{}", out.combined());
        assert!(out.stderr.contains("<PATH|--scenarios-dir <DIR>>"), "{}", out.stderr);
    }
}
