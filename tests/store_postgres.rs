//! The shared PostgreSQL store end to end: the real binary against an in-process mock agent
//! and a throwaway PostgreSQL cluster (`common::pg_cluster`), killed with SIGKILL, shared by
//! two runners, written by concurrent shards; and the URL and password never shown.
//!
//! The tests that need PostgreSQL (`initdb`, `pg_ctl`) are ignored by a plain `cargo test`
//! and run by `.ci/run` with `--ignored`, where a missing PostgreSQL fails them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::MockServer;
use common::pg_cluster::{PASSWORD, PgCluster};
use rogue_runner::demo::MockAgentOptions;
use rogue_runner::model::{CacheStats, Outcome, Status};
use rogue_runner::secret::Secret;
use rogue_runner::store::{Location, PgTarget, Store, is_cacheable};
use serde_json::Value;

const NEEDS: &str = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it";

fn write_scenarios(dir: &Path, count: usize) -> PathBuf {
    let mut yaml = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..count {
        let expect = if i % 5 == 4 { "pong" } else { "ping" };
        writeln!(
            yaml,
            "  - id: shop_{i:03}\n    priority: P1\n    category: c\n    description: d{i}\n    \
             message: \"ping {i}\"\n    expect:\n      contains: [{expect}]"
        )
        .unwrap();
    }
    let path = dir.join("scenarios");
    fs_err::create_dir_all(&path).unwrap();
    fs_err::write(path.join("shop.yaml"), yaml).unwrap();
    path
}

/// `rogue-runner run` in `dir` (its own --cache-dir: a runner of its own) on the shared store.
fn run_command(dir: &Path, scenarios: &Path, server: &str, url: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command
        .args(["run", "--scenarios-dir"])
        .arg(scenarios)
        .args(["--rogue-server", server, "--progress", "quiet", "--no-fail-fast"])
        .args(["--cache-dir", "cache", "--store", url])
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PGPASSWORD", PASSWORD)
        .env_remove("ROGUE_STORE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_SHA")
        .stdin(Stdio::null());
    command
}

fn store_at(cluster: &PgCluster, db: &str) -> Store {
    let target =
        PgTarget::parse(&cluster.url(db), 2).unwrap().with_password(&Secret::new(PASSWORD));
    Store::open_existing_at(&Location::Postgres(target)).unwrap().expect("a recorded store")
}

fn events(path: &Path) -> Vec<Value> {
    let text = fs_err::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

fn finished(events: &[Value]) -> Vec<Outcome> {
    events
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| serde_json::from_value(e["outcome"].clone()).unwrap())
        .collect()
}

fn wait_for_finished(path: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if finished(&events(path)).len() >= n {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {n} scenarios finished");
        }
        assert!(Instant::now() < deadline, "fewer than {n} scenarios finished within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn a_killed_runner_loses_only_unfinished_scenarios_and_another_runner_reuses_the_rest() {
    let _ = NEEDS;
    let cluster = PgCluster::start();
    cluster.create_db("team");
    let url = cluster.url("team");
    let agent = MockServer::start(MockAgentOptions {
        latency: Duration::from_millis(300),
        ..MockAgentOptions::default()
    });
    let first = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(first.path(), 60);
    let cache = ["--use-cache", "--agent-version", "v1", "--output-dir", "out"];
    let mut child = run_command(first.path(), &scenarios, &agent.base_url(), &url, &cache)
        .args(["--parallel", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events_path = first.path().join("out/events.jsonl");
    wait_for_finished(&events_path, 8, &mut child);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let events = events(&events_path);
    let done = finished(&events);
    assert!(done.len() >= 8 && done.len() < 60, "killed mid-way: {} finished", done.len());
    let run_id = events.iter().find(|e| e["event"] == "run_started").unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = store_at(&cluster, "team");
    let run = store.find_run(&run_id).unwrap();
    assert!(!run.is_finished(), "a killed run stays unfinished");
    let recorded: BTreeMap<String, Status> =
        store.run_results(run).unwrap().scenarios.into_iter().map(|s| (s.id, s.status)).collect();
    for outcome in &done {
        assert_eq!(recorded.get(&outcome.id), Some(&outcome.status), "{} is missing", outcome.id);
    }
    let cacheable = done.iter().filter(|o| is_cacheable(o)).count();
    assert!(store.cache_summary().unwrap().entries >= cacheable as u64);
    drop(store);

    // Another runner (another directory, nothing local) reuses every finished result.
    let second = tempfile::tempdir().unwrap();
    let output = run_command(second.path(), &scenarios, &agent.base_url(), &url, &cache)
        .args(["--parallel", "16"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value = serde_json::from_str(
        &fs_err::read_to_string(second.path().join("out/results.json")).unwrap(),
    )
    .unwrap();
    let stats: CacheStats = serde_json::from_value(results["run"]["cache"].clone()).unwrap();
    assert!(stats.hits >= cacheable, "{stats:?} after {cacheable} cacheable results");
    assert_eq!(stats.hits + stats.misses, 60);
    assert!(!second.path().join("cache").exists(), "nothing is written to --cache-dir");
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn concurrent_shards_record_into_the_shared_store_and_history_reads_it_without_the_url() {
    let cluster = PgCluster::start();
    cluster.create_db("shards");
    let url = cluster.url("shards");
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 30);
    let children: Vec<(Child, PathBuf)> = (1..=3)
        .map(|k| {
            let shard = dir.path().join(format!("shard{k}"));
            fs_err::create_dir_all(&shard).unwrap();
            let child = run_command(&shard, &scenarios, &agent.base_url(), &url, &[])
                .args(["--partition", &format!("hash:{k}/3"), "--output-dir", "out"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, shard)
        })
        .collect();
    let mut printed = String::new();
    for (child, shard) in children {
        let output = child.wait_with_output().unwrap();
        // A shard without a failing scenario exits 0.
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{code:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        printed.push_str(&String::from_utf8_lossy(&output.stdout));
        printed.push_str(&String::from_utf8_lossy(&output.stderr));
        for entry in fs_err::read_dir(shard.join("out")).unwrap() {
            printed.push_str(&fs_err::read_to_string(entry.unwrap().path()).unwrap_or_default());
        }
    }
    let history = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["history", "--format", "json"])
        .env("ROGUE_STORE_URL", &url)
        .env("PGPASSWORD", PASSWORD)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    let runs: Vec<Value> = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.len(), 3, "one run per shard");
    let mut partitions: Vec<&str> = runs.iter().map(|r| r["partition"].as_str().unwrap()).collect();
    partitions.sort_unstable();
    assert_eq!(partitions, ["1/3", "2/3", "3/3"]);
    assert!(runs.iter().all(|r| r["selection_digest"] == runs[0]["selection_digest"]));
    let total: u64 = runs.iter().map(|r| r["counts"]["total"].as_u64().unwrap()).sum();
    assert_eq!(total, 30, "every scenario recorded once, by its shard");

    // Neither the URL nor the password shows in any report, message or the history.
    printed.push_str(&String::from_utf8_lossy(&history.stdout));
    let text_history = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["history", "--store", &url])
        .env("PGPASSWORD", PASSWORD)
        .current_dir(dir.path())
        .output()
        .unwrap();
    printed.push_str(&String::from_utf8_lossy(&text_history.stdout));
    assert!(!printed.contains(PASSWORD));
    assert!(!printed.contains(&url), "the store URL leaked");

    // The merge job reads the shards from the store: no artifact directories.
    let merge = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
            .args(["merge", "--store", &url, "--output-dir", "merged"])
            .args(extra)
            .env("PGPASSWORD", PASSWORD)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let merged = merge(&[]);
    let stdout = String::from_utf8_lossy(&merged.stdout);
    assert_eq!(
        merged.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(stdout.contains("merged 3 shard(s): 30 scenarios"), "{stdout}");
    assert!(!stdout.contains(&url), "{stdout}");
    let results: Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("merged/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["run"]["counts"]["total"], 30);
    // The same by one shard's id; the merged run joined the shared history.
    let shard_id = runs[0]["id"].as_str().unwrap();
    assert_eq!(merge(&["--run", &shard_id[..8]]).status.code(), Some(1));
    let store = store_at(&cluster, "shards");
    let merged_runs = store.runs(10).unwrap();
    let whole: Vec<_> = merged_runs.iter().filter(|r| r.partition.is_none()).collect();
    assert_eq!(whole.len(), 2, "two merges, two merged runs");
    assert!(whole.iter().all(|r| r.counts.total == 30 && r.is_finished()));
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn a_wrong_password_or_a_password_in_the_url_is_a_clear_error_that_shows_neither() {
    let cluster = PgCluster::start();
    cluster.create_db("secrets");
    let dir = tempfile::tempdir().unwrap();
    let history = |url: &str, password: &str| {
        Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
            .args(["history", "--store", url])
            .env("PGPASSWORD", password)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let wrong = history(&cluster.url("secrets"), "not-the-password");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("password authentication failed"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    let in_url = cluster.url("secrets").replace("rogue@", &format!("rogue:{PASSWORD}@"));
    let refused = history(&in_url, "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PGPASSWORD"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// `[store] url` in the config file is read (and, like `--store`, refused with a password in
/// it, without showing the password). Needs no server: the URL is refused before connecting.
#[test]
fn the_config_file_names_the_store_and_a_password_in_it_is_refused_unshown() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 1);
    fs_err::write(
        dir.path().join("rogue-runner.toml"),
        "[store]\nurl = \"postgres://rogue:file-secret-pw@db.invalid/team\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["run", "--scenarios-dir"])
        .arg(&scenarios)
        .args(["--progress", "quiet"])
        .current_dir(dir.path())
        .env_remove("ROGUE_STORE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PGPASSWORD"), "{stderr}");
    assert!(!stderr.contains("file-secret-pw"), "{stderr}");
}

fn http_get(url: &str, path: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

/// `serve` with ROGUE_STORE_URL shows what runners recorded in the shared store (the runs,
/// a run's scenarios filtered, a scenario across runs), and still tells commands with the
/// same --cache-dir where it is; the URL it prints and logs carries no password.
#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn serve_reads_the_shared_store_and_keeps_its_state_file_in_the_cache_dir() {
    let cluster = PgCluster::start();
    cluster.create_db("dash");
    let url = cluster.url("dash");
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 10);
    for _ in 0..2 {
        let output = run_command(dir.path(), &scenarios, &agent.base_url(), &url, &[])
            .args(["--output-dir", "out"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let run_id = store_at(&cluster, "dash").runs(1).unwrap()[0].id.clone();

    let mut child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["serve", "--cache-dir", "cache", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("ROGUE_STORE_URL", &url)
        .env("PGPASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim().trim_end_matches('/').to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");

    let (status, runs) = http_get(&base, "/");
    assert_eq!(status, 200, "{runs}");
    assert!(runs.contains(&format!("&#x2f;runs&#x2f;{run_id}")), "{runs}");
    let (status, page) = http_get(&base, &format!("/runs/{run_id}?status=failed"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("shop_004") && page.contains("shop_009"), "{page}");
    assert!(!page.contains("shop_001"), "only the failed scenarios: {page}");
    let (status, scenario) = http_get(&base, "/scenario?id=shop_004");
    assert_eq!(status, 200, "{scenario}");
    assert!(scenario.contains("shop_004"), "{scenario}");
    assert!(
        dir.path().join("cache").join(rogue_runner::serve::STATE_FILE_NAME).exists(),
        "the state file is in this machine's --cache-dir"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("dashboard of postgres"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// `rogue-runner ARGS` in `dir`, with the password in the environment and no store but the
/// one `ARGS` name.
fn rogue_runner(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PGPASSWORD", PASSWORD)
        .env_remove("ROGUE_STORE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The ids `list --format json` printed.
fn listed_ids(output: &std::process::Output) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A run recorded in the shared store is what `list`, `validate`, `run --rerun-failed` and
/// `estimate --use-cache` read with `--store`, on a machine whose --cache-dir is empty (each
/// command gets a fresh one, left uncreated); without `--store` the same `list` finds nothing.
#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl): .ci/run installs it"]
fn rerun_failed_status_filters_and_the_cache_estimate_read_the_shared_store() {
    let cluster = PgCluster::start();
    cluster.create_db("rerun");
    let url = cluster.url("rerun");
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // shop_004 expects `pong` and fails; shop_000 to shop_003 pass.
    let scenarios = write_scenarios(dir.path(), 5);
    let scenarios_arg = scenarios.to_str().unwrap();
    let first = dir.path().join("first");
    fs_err::create_dir_all(&first).unwrap();
    let cache = ["--use-cache", "--agent-version", "v1", "--output-dir", "out"];
    let output = run_command(&first, &scenarios, &agent.base_url(), &url, &cache).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));

    let elsewhere = dir.path().join("elsewhere");
    fs_err::create_dir_all(&elsewhere).unwrap();
    let list = |extra: &[&str], cache_dir: &str| {
        let mut args = vec!["list", scenarios_arg, "--format", "json", "--cache-dir", cache_dir];
        args.extend_from_slice(extra);
        rogue_runner(&elsewhere, &args)
    };
    let rerun = list(&["--rerun-failed", "--store", &url], "fresh1");
    assert_eq!(listed_ids(&rerun), ["shop_004"]);
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(stderr.contains("--rerun-failed: the 1 scenario(s) that failed"), "{stderr}");
    assert_eq!(
        listed_ids(&list(&["-E", "status(failed)", "--store", &url], "fresh2")),
        ["shop_004"]
    );
    assert_eq!(listed_ids(&list(&["-E", "status(passed)", "--store", &url], "fresh3")).len(), 4);
    // The same with the URL in the environment, as CI sets it.
    let from_env = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["list", scenarios_arg, "--format", "json", "--rerun-failed"])
        .args(["--cache-dir", "fresh4"])
        .current_dir(&elsewhere)
        .env("PGPASSWORD", PASSWORD)
        .env("ROGUE_STORE_URL", &url)
        .env_remove("ROGUE_RUNNER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(listed_ids(&from_env), ["shop_004"]);
    // Without --store this machine has no recorded run: the error names where it looked.
    let local = list(&["--rerun-failed"], "fresh5");
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert_eq!(local.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("recorded in fresh5, and no finished run"), "{stderr}");

    let validate = rogue_runner(
        &elsewhere,
        &[
            "validate",
            scenarios_arg,
            "--format",
            "json",
            "-E",
            "status(failed)",
            "--store",
            &url,
            "--cache-dir",
            "fresh6",
        ],
    );
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stderr));
    let doc: Value = serde_json::from_slice(&validate.stdout).unwrap();
    assert_eq!(doc["scenarios"], 1, "{doc}");

    // `run --rerun-failed` on another runner runs the failure alone.
    let second = dir.path().join("second");
    fs_err::create_dir_all(&second).unwrap();
    let output = run_command(
        &second,
        &scenarios,
        &agent.base_url(),
        &url,
        &["--rerun-failed", "--output-dir", "out"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(second.join("out/results.json")).unwrap())
            .unwrap();
    let ran: Vec<&str> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["shop_004"]);

    // The estimate counts the first runner's cached results as hits, and names the store
    // without its credentials.
    let estimate = rogue_runner(
        &elsewhere,
        &[
            "estimate",
            scenarios_arg,
            "--rogue-server",
            &agent.base_url(),
            "--use-cache",
            "--agent-version",
            "v1",
            "--store",
            &url,
            "--cache-dir",
            "fresh7",
        ],
    );
    let stdout = String::from_utf8_lossy(&estimate.stdout);
    assert!(estimate.status.success(), "{stdout}{}", String::from_utf8_lossy(&estimate.stderr));
    let redacted = rogue_runner::redact::redact_url(&url);
    assert!(!redacted.contains("rogue@"), "{redacted}");
    assert!(
        stdout.contains(&format!("5 of 5 scenario(s) would be reused from {redacted} ")),
        "{stdout}"
    );
    assert!(!stdout.contains(&url) && !stdout.contains(PASSWORD), "{stdout}");
    for fresh in 1..=7 {
        assert!(!elsewhere.join(format!("fresh{fresh}")).exists(), "fresh{fresh} was created");
    }
    assert!(!second.join("cache").exists(), "nothing is written to --cache-dir");

    // `[store] url` in the config file is the store of `history` and `compare` too.
    let configured = dir.path().join("configured");
    fs_err::create_dir_all(&configured).unwrap();
    fs_err::write(configured.join("rogue-runner.toml"), format!("[store]\nurl = \"{url}\"\n"))
        .unwrap();
    let history = rogue_runner(&configured, &["history", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&history.stderr);
    assert!(history.status.success(), "{stderr}");
    let runs: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");
    let compare = rogue_runner(&configured, &["compare", "--format", "json"]);
    assert!(compare.status.success(), "{}", String::from_utf8_lossy(&compare.stderr));
    assert!(!configured.join(".rogue_cache").exists(), "nothing is read from --cache-dir");
}

/// `list --store` (or `[store] url`) on a server that cannot be reached is exit 2 naming the
/// store, without the user part of the URL. Needs no server: the port is one just freed.
#[test]
fn list_on_an_unreachable_store_is_a_clear_error_naming_it_redacted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = write_scenarios(dir.path(), 2);
    let url = format!("postgres://team-user@127.0.0.1:{port}/team");
    let output = rogue_runner(
        dir.path(),
        &["list", scenarios.to_str().unwrap(), "--rerun-failed", "--store", &url],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("postgres://***@127.0.0.1:{port}/team")), "{stderr}");
    assert!(stderr.contains("check --store"), "{stderr}");
    assert!(!stderr.contains("team-user") && !stderr.contains(PASSWORD), "{stderr}");
    // A list that reads no recorded run does not touch the store.
    let plain = rogue_runner(dir.path(), &["list", scenarios.to_str().unwrap(), "--store", &url]);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    // `[store] url` in the config file is the store `validate` reads, as `run` records into it.
    fs_err::write(
        dir.path().join("rogue-runner.toml"),
        format!("[store]\nurl = \"postgres://file-user@127.0.0.1:{port}/from-file\"\n"),
    )
    .unwrap();
    let output = rogue_runner(
        dir.path(),
        &["validate", scenarios.to_str().unwrap(), "-E", "status(failed)"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("postgres://***@127.0.0.1:{port}/from-file")), "{stderr}");
    assert!(!stderr.contains("file-user"), "{stderr}");
}

/// TLS (item 2): against a server whose certificate a throwaway CA signed, `sslmode=verify-full`
/// with `sslrootcert` records and reads the run; `sslmode=require` checks the system's roots,
/// which do not know that CA, and refuses with the reason. The server takes TCP connections
/// only over TLS, so what worked was TLS.
#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl) and openssl: .ci/run installs them"]
fn tls_verifies_the_server_against_the_given_ca_and_the_system_roots_refuse_it() {
    let cluster = PgCluster::start_tls();
    cluster.create_db("tls");
    let plain = cluster.url("tls");
    let ca = cluster.ca_file();
    let verified = plain
        .replace("sslmode=disable", &format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let system_roots = plain.replace("sslmode=disable", "sslmode=require");
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // shop_004 fails by design.
    let scenarios = write_scenarios(dir.path(), 5);
    let output = run_command(dir.path(), &scenarios, &agent.base_url(), &verified, &[])
        .args(["--output-dir", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("not recorded"), "{stderr}");
    let history = rogue_runner(dir.path(), &["history", "--format", "json", "--store", &verified]);
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    let runs: Vec<Value> = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["counts"]["failed"], 1, "{}", runs[0]);

    let refused = rogue_runner(dir.path(), &["history", "--store", &system_roots]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    let without_tls = rogue_runner(dir.path(), &["history", "--store", &plain]);
    let stderr = String::from_utf8_lossy(&without_tls.stderr);
    assert_eq!(without_tls.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pg_hba.conf"), "{stderr}");
}
