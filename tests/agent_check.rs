//! The up-front agent check through the real binary: keyed by the URL actually contacted, not
//! by agent name; reports group agents by name and URL; a file header's URL that wins over
//! `--rogue-server` is said up front; `--agent` names are checked and take `{agent}`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;
// The shared fake agents; this file uses one of them.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;
use serde_json::Value;
use support::fake_agent::{FakeAgent, Reply, card_v03, message_v0};

/// A URL on 127.0.0.1 where nothing listens (connection refused at once).
fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Two files for one agent name: `live.yaml` (no URL: `--rogue-server` decides) with two
/// scenarios, and `header.yaml`, a Genesis file whose header names its own `url`, with one.
fn corpus(header_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    fs_err::create_dir_all(&scenarios).unwrap();
    fs_err::write(
        scenarios.join("live.yaml"),
        "version: 1\nagent: shop_agent\nscenarios:\n  - id: live_a\n    priority: P1\n    message: \"hello a\"\n    expect:\n      contains: [hello]\n  - id: live_b\n    priority: P1\n    message: \"hello b\"\n    expect:\n      contains: [hello]\n",
    )
    .unwrap();
    fs_err::write(
        scenarios.join("header.yaml"),
        format!(
            "agent:\n  name: \"shop_agent\"\n  url: \"{header_url}\"\nscenarios:\n  - id: \"shop_header_001\"\n    priority: \"P1\"\n    category: \"success\"\n    description: \"Say hello\"\n    input:\n      task: \"hello there\"\n    expected_output:\n      status: \"success\"\n"
        ),
    )
    .unwrap();
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (common::Output, Value, PathBuf) {
    let out_dir = dir.join("out");
    let scenarios = dir.join("scenarios");
    let cache = dir.join("cache");
    let mut args = vec![
        "run",
        "--scenarios-dir",
        scenarios.to_str().unwrap(),
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--progress",
        "plain",
        "--no-fail-fast",
    ];
    args.extend_from_slice(extra);
    let out = common::run_in(dir, &args);
    let results = fs_err::read_to_string(out_dir.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (out, results, out_dir)
}

fn status_of(results: &Value, id: &str) -> String {
    results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_dead_header_url_errors_only_its_own_scenarios_and_reports_tell_the_urls_apart() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dead = format!("{}/a2a/shop_agent", refused_base());
    let dir = corpus(&dead);
    let (out, results, out_dir) = run(dir.path(), &["--rogue-server", &agent.base_url()]);
    // Passes and one unreachable agent: infrastructure, not a verdict.
    assert_eq!(out.code, 5, "{}", out.combined());

    // Only the scenario that goes to the dead URL errors; the others ran on the live one.
    assert_eq!(status_of(&results, "shop_header_001"), "error");
    assert_eq!(status_of(&results, "live_a"), "passed", "{}", out.combined());
    assert_eq!(status_of(&results, "live_b"), "passed");

    // Said once, up front: the file, its URL, and that it wins over --rogue-server.
    let warnings: Vec<&str> =
        out.stderr.lines().filter(|l| l.contains("overrides --rogue-server")).collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(warnings[0].contains("header.yaml") && warnings[0].contains(&dead), "{}", warnings[0]);
    // The terminal blames the dead URL for its one scenario, not all of the name's three.
    assert!(out.stderr.contains(&format!("({dead}) failed its check")), "{}", out.stderr);
    assert!(out.stderr.contains("its 1 scenario will error"), "{}", out.stderr);

    // results.json: one agent entry per name and URL, each with its own check.
    let agents = results["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2, "{agents:?}");
    let live = agents.iter().find(|a| a["url"] != dead.as_str()).unwrap();
    let down = agents.iter().find(|a| a["url"] == dead.as_str()).unwrap();
    assert_eq!(live["check"]["ok"], true, "{live}");
    assert_eq!(live["scenarios"], 2);
    assert_eq!(down["check"]["ok"], false, "{down}");
    assert_eq!(down["scenarios"], 1);
    let outcome =
        results["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == "live_a").unwrap();
    assert_eq!(outcome["agent_url"], live["url"]);

    // summary.md: the live row has the live counts, the dead row the one error.
    let summary = fs_err::read_to_string(out_dir.join("summary.md")).unwrap();
    let row = |url: &str| {
        summary.lines().find(|l| l.starts_with("| `shop_agent`") && l.contains(url)).unwrap()
    };
    let live_url = live["url"].as_str().unwrap();
    assert!(row(live_url).contains("✅ ok"), "{summary}");
    assert!(row(live_url).contains("| 2 | 2 | 0 | 0 | 0 |"), "{}", row(live_url));
    assert!(row(&dead).contains("❌"), "{summary}");
    assert!(row(&dead).contains("| 1 | 0 | 0 | 1 | 0 |"), "{}", row(&dead));

    // report.html: both URLs in the agents table.
    let html = fs_err::read_to_string(out_dir.join("report.html")).unwrap();
    let table = &html[html.find("id=\"by-agent\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let escaped = |url: &str| url.replace('/', "&#x2f;");
    let html_row = |url: &str| table.lines().find(|l| l.contains(&escaped(url))).unwrap();
    assert!(html_row(live_url).contains("check-ok"), "{table}");
    assert!(html_row(live_url).contains("<td>2</td><td>2</td>"), "{table}");
    assert!(html_row(&dead).contains("check-down"), "{table}");
    assert!(html_row(&dead).contains("<td>1</td><td class=\"zero\">0</td>"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_url_reached_under_two_names_is_checked_once() {
    let agent =
        FakeAgent::a2a(|url| card_v03(url, false), |req| Reply::rpc(req, message_v0("hello", "c")))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    fs_err::create_dir_all(&scenarios).unwrap();
    for name in ["alpha", "beta"] {
        fs_err::write(
            scenarios.join(format!("{name}.yaml")),
            format!("version: 1\nagent: {name}\nscenarios:\n  - id: {name}_1\n    priority: P1\n    message: \"hello\"\n    expect:\n      contains: [hello]\n"),
        )
        .unwrap();
    }
    let route = format!("*={}", agent.url);
    let path = dir.path().to_path_buf();
    let (out, results, _) =
        tokio::task::spawn_blocking(move || run(&path, &["--agent", &route])).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(results["agents"].as_array().unwrap().len(), 2);
    assert!(results["agents"].as_array().unwrap().iter().all(|a| a["check"]["ok"] == true));
    // What is contacted is checked: one URL, one check, whatever names reach it.
    let gets = agent.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 1, "{:?}", agent.requests().iter().map(|r| &r.path).collect::<Vec<_>>());
    assert_eq!(agent.posts().len(), 2);
}

#[test]
fn an_agent_override_naming_no_scenario_is_a_usage_error_listing_the_known_names() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = corpus(&agent.agent_url("shop_agent"));
    let typo = format!("shop_agnet={}", agent.agent_url("shop_agent"));
    let (out, results, _) = run(dir.path(), &["--agent", &typo]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shop_agnet"), "{}", out.stderr);
    assert!(
        out.stderr.contains("known") && out.stderr.contains("agents: shop_agent"),
        "{}",
        out.stderr
    );
    assert!(results.is_null(), "nothing ran");
}

#[test]
fn the_agent_placeholder_routes_every_agent_by_its_name() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = corpus(&format!("{}/a2a/shop_agent", refused_base()));
    let route = format!("*={}/a2a/{{agent}}", agent.base_url());
    // The header file's `status: success` is a field check on the echo's prose: unassessed.
    let (out, results, _) = run(dir.path(), &["--agent", &route, "--allow-unassessed"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let agents = results["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!(agents[0]["url"], agent.agent_url("shop_agent"));
    // --agent wins over the file header: no override warning, nothing errors.
    assert!(!out.stderr.contains("overrides --rogue-server"), "{}", out.stderr);
    assert_ne!(status_of(&results, "shop_header_001"), "error", "{}", out.combined());
}
