//! Selecting scenarios through the binary: `-E` expressions (with `status()` read from the
//! store of a prior run), `--limit` and `--sample`; `list` shows exactly what `run` runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{MockServer, Output, run_in};
use rogue_runner::demo::MockAgentOptions;
use serde_json::Value;

/// Ten scenarios for agent `shop`: priorities cycle P0, P1, P2; even ones are tagged
/// `security`, odd ones `slow`; `shop_004` and `shop_009` fail (the mock echoes the message,
/// which never says "pong"), unless `all_pass`. `extra` more are appended (new ones).
fn write_scenarios(dir: &Path, extra: usize, all_pass: bool) {
    let mut yaml = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..10 + extra {
        let expect = if i % 5 == 4 && !all_pass { "pong" } else { "ping" };
        let priority = ["P0", "P1", "P2"][i % 3];
        let tag = if i % 2 == 0 { "security" } else { "slow" };
        writeln!(
            yaml,
            "  - id: shop_{i:03}\n    priority: {priority}\n    category: c\n    tags: [{tag}]\n    \
             description: d{i}\n    message: \"ping {i}\"\n    expect:\n      contains: [{expect}]"
        )
        .unwrap();
    }
    fs_err::create_dir_all(dir.join("scenarios")).unwrap();
    fs_err::write(dir.join("scenarios/shop.yaml"), yaml).unwrap();
}

/// `run` against the mock agent, recording into `cache`; reports in `out`.
fn run(dir: &Path, agent: &MockServer, extra: &[&str]) -> Output {
    let server = agent.base_url();
    let mut args = vec!["run", "--scenarios-dir", "scenarios", "--rogue-server", &server];
    args.extend(["--output-dir", "out", "--progress", "quiet", "--no-fail-fast"]);
    args.extend(["--cache-dir", "cache"]);
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

/// The ids the last run's results.json holds, sorted.
fn ran(dir: &Path) -> Vec<String> {
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(dir.join("out/results.json")).unwrap())
            .unwrap();
    let mut ids: Vec<String> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The ids `list` selects with `extra`, in its order.
fn listed(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["list", "scenarios", "--format", "json", "--cache-dir", "cache"];
    args.extend_from_slice(extra);
    let out = run_in(dir, &args);
    assert_eq!(out.code, 0, "{}", out.combined());
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn list_shows_what_run_selects_with_status_from_the_previous_run() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_scenarios(dir, 0, false);

    // Before any run, status() has nothing to read: an error, not an empty selection.
    let out = run_in(dir, &["list", "scenarios", "-E", "status(failed)", "--cache-dir", "cache"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr.contains("status() reads the latest run recorded in cache"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("run once first"), "{}", out.stderr);

    let first = run(dir, &agent, &[]);
    assert_eq!(first.code, 1, "{}", first.combined());

    // Two scenarios are added: new, as the latest run did not hold them.
    write_scenarios(dir, 2, false);
    assert_eq!(listed(dir, &["-E", "status(new)"]), ["shop_010", "shop_011"]);

    // The failures of the last run, and the P0 security scenarios.
    let expr = "status(failed) or (priority(P0) and not tag(slow))";
    let listed_ids = listed(dir, &["-E", expr]);
    assert_eq!(sorted(listed_ids.clone()), ["shop_000", "shop_004", "shop_006", "shop_009"]);
    let second = run(dir, &agent, &["-E", expr]);
    assert_eq!(second.code, 1, "{}", second.combined());
    assert_eq!(ran(dir), sorted(listed_ids));
    assert!(second.stderr.contains("selected 4 of 12 scenario(s)"), "{}", second.stderr);

    // Repeated -E are alternatives; with --priority, both must hold.
    let either =
        listed(dir, &["-E", "status(failed)", "-E", "id(shop_000)", "--priority", "P0,P1"]);
    assert_eq!(sorted(either), ["shop_000", "shop_004", "shop_009"]);

    // Fixed: rerunning what failed passes, and the latest run then holds no failure.
    write_scenarios(dir, 2, true);
    let third = run(dir, &agent, &["-E", "status(failed)"]);
    assert_eq!(third.code, 0, "{}", third.combined());
    assert_eq!(ran(dir), ["shop_004", "shop_009"]);
    assert!(listed(dir, &["-E", "status(failed)"]).is_empty());
    assert_eq!(listed(dir, &["-E", "status(passed)"]), ["shop_004", "shop_009"]);
}

#[test]
fn limit_takes_p0_first_and_sample_repeats_with_its_seed() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_scenarios(dir, 0, true);

    // The four P0 scenarios come first in a run, in file order.
    assert_eq!(
        listed(dir, &["--limit", "5"]),
        ["shop_000", "shop_001", "shop_003", "shop_006", "shop_009"]
    );
    assert_eq!(listed(dir, &["--limit", "3"]), ["shop_000", "shop_003", "shop_006"]);
    let out = run(dir, &agent, &["--limit", "3"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(ran(dir), ["shop_000", "shop_003", "shop_006"]);

    // estimate and validate select the same way.
    let out = run_in(dir, &["estimate", "--scenarios-dir", "scenarios", "--limit", "3"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains("Cost estimate for 3 scenario(s)"), "{}", out.stdout);
    let out = run_in(dir, &["validate", "scenarios", "-E", "priority(P0) - tag(slow)"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains("2 scenario(s) (P0 2, P1 0, P2 0)"), "{}", out.stdout);

    // A sample without --seed prints the seed it drew; that seed draws it again.
    let out = run_in(dir, &["list", "scenarios", "--format", "json", "--sample", "4"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let seed = out
        .stderr
        .split("--seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no seed in {}", out.stderr))
        .to_owned();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["seed"].to_string(), seed);
    assert_eq!(json["loaded"], 10);
    let drawn: Vec<String> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(drawn.len(), 4);
    assert_eq!(listed(dir, &["--sample", "4", "--seed", &seed]), drawn);
    let out = run(dir, &agent, &["--sample", "4", "--seed", &seed]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(ran(dir), sorted(drawn));
    assert!(out.stderr.contains(&format!("sampled 4 of 10 scenario(s) with --seed {seed}")));

    // The sample is taken from what the filters select.
    let security = listed(dir, &["-E", "tag(security)", "--sample", "3", "--seed", "1"]);
    assert_eq!(security.len(), 3);
    assert!(
        security.iter().all(|id| id.trim_start_matches("shop_").parse::<u32>().unwrap() % 2 == 0)
    );

    // Shards must agree on the sample.
    let out = run(dir, &agent, &["--sample", "3", "--partition", "hash:1/2"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("needs --seed"), "{}", out.stderr);
    let out = run_in(dir, &["list", "scenarios", "--limit", "2", "--sample", "2"]);
    assert_eq!(out.code, 2, "{}", out.combined());
}

#[test]
fn a_bad_expression_is_shown_with_its_column_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    write_scenarios(dir.path(), 0, true);
    for command in [&["list", "scenarios"][..], &["run", "--scenarios-dir", "scenarios"]] {
        let mut args = command.to_vec();
        args.extend(["-E", "priority(P0) and tga(security)"]);
        let out = run_in(dir.path(), &args);
        assert_eq!(out.code, 2, "{}", out.combined());
        assert!(out.stderr.contains("unknown predicate `tga`"), "{}", out.stderr);
        assert!(out.stderr.contains("-E:1:18"), "{}", out.stderr);
        assert!(out.stderr.contains("did you mean tag(…)?"), "{}", out.stderr);
    }
}
