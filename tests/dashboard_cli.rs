//! `serve` as a user starts it, and the commands that point at it: the real binary serves a
//! store, prints its URL, and `history`, `compare` and `run --serve` name the dashboard while
//! it runs (and stop naming it once it is gone).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;
use rogue_runner::serve::sample::{SampleSpec, generate};

fn http_get(url: &str, path: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[test]
fn serve_prints_its_url_and_history_and_compare_point_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    generate(
        &cache,
        SampleSpec { runs: 3, scenarios_per_run: 20, seed: 1, last_unfinished: false },
    )
    .unwrap();
    let cache_arg = cache.to_str().unwrap();
    let before = common::run(&["history", "--cache-dir", cache_arg]);
    assert!(!before.stderr.contains("dashboard:"), "no dashboard yet: {}", before.stderr);

    let mut child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["serve", "--cache-dir", cache_arg, "--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().trim_end_matches('/').to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let (status, page) = http_get(&url, "/");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Content-Security-Policy: default-src 'none'")
            || page.contains("content-security-policy: default-src 'none'")
    );

    let history = common::run(&["history", "--cache-dir", cache_arg]);
    assert!(history.stderr.contains(&format!("dashboard: {url}/")), "{}", history.stderr);
    let compare = common::run(&["compare", "--cache-dir", cache_arg]);
    assert_eq!(compare.code, 0, "{}", compare.combined());
    assert!(compare.stderr.contains(&format!("dashboard: {url}/compare?a=")), "{}", compare.stderr);
    // JSON on stdout stays JSON.
    let json = common::run(&["history", "--cache-dir", cache_arg, "--format", "json"]);
    serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap();

    // Killed without a chance to clean up: its state file stays, and is recognized as stale.
    child.kill().unwrap();
    child.wait().unwrap();
    let after = common::run(&["history", "--cache-dir", cache_arg]);
    assert!(!after.stderr.contains("dashboard:"), "{}", after.stderr);
}

#[test]
fn run_with_serve_names_the_live_page_and_the_run_page() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..3 {
        writeln!(
            yaml,
            "  - id: shop_{i}\n    priority: P1\n    category: c\n    description: d\n    \
             message: \"ping {i}\"\n    expect:\n      contains: [ping]"
        )
        .unwrap();
    }
    fs_err::create_dir_all(dir.path().join("scenarios")).unwrap();
    fs_err::write(dir.path().join("scenarios/shop.yaml"), yaml).unwrap();
    let run = common::run_in(
        dir.path(),
        &[
            "run",
            "--scenarios-dir",
            "scenarios",
            "--rogue-server",
            &agent.base_url(),
            "--output-dir",
            "out",
            "--progress",
            "quiet",
            "--cache-dir",
            "cache",
            "--serve",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.combined());
    let live = run
        .stderr
        .lines()
        .find(|l| l.starts_with("live: http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(live.ends_with("/live"), "{live}");
    let page = run.stderr.lines().find(|l| l.starts_with("dashboard: ")).unwrap();
    let run_id =
        rogue_runner::store::Store::open(&dir.path().join("cache")).unwrap().runs(1).unwrap()[0]
            .id
            .clone();
    assert!(page.ends_with(&format!("/runs/{run_id}")), "{page}");
    // Not on a terminal: the dashboard stopped with the run and took its state file along.
    assert!(
        !Path::new(&dir.path().join("cache").join(rogue_runner::serve::STATE_FILE_NAME)).exists()
    );
}
