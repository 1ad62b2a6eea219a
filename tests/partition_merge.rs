//! `--partition hash:K/N` and `merge`: the whole Genesis corpus run in shards against the mock
//! agent gives, merged, exactly the totals of one unpartitioned run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::MockServer;
use rogue_runner::demo::MockAgentOptions;
use serde_json::Value;

fn results(dir: &std::path::Path) -> Value {
    serde_json::from_str(&fs_err::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn statuses(doc: &Value) -> BTreeMap<String, String> {
    doc["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["status"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
#[ignore = "needs ../shared: the shared corpus checked out beside this repository"]
fn genesis_corpus_in_three_shards_merges_to_the_unpartitioned_totals() {
    let corpus = common::shared_corpus("genesis");
    let agent = MockServer::start(MockAgentOptions::default());
    let route = format!("*={}/a2a/genesis", agent.base_url());
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let out_dir = tmp.path().join(out);
        let mut args = vec![
            "run",
            "--scenarios-dir",
            corpus,
            "--agent",
            &route,
            "--no-fail-fast",
            "--parallel",
            "50",
        ];
        let cache = tmp.path().join("cache");
        args.extend_from_slice(&["--progress", "quiet", "--output-dir", out_dir.to_str().unwrap()]);
        args.extend_from_slice(&["--cache-dir", cache.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let output = common::run(&args);
        assert_eq!(output.code, 1, "{}", output.combined());
        out_dir
    };
    let whole = run("whole", &[]);
    let shards: Vec<_> = (1..=3)
        .map(|k| run(&format!("shard{k}"), &["--partition", &format!("hash:{k}/3")]))
        .collect();

    // Disjoint and complete.
    let mut union = BTreeMap::new();
    for shard in &shards {
        for (id, status) in statuses(&results(shard)) {
            assert!(union.insert(id.clone(), status).is_none(), "{id} is in two shards");
        }
    }
    let whole_doc = results(&whole);
    assert_eq!(union, statuses(&whole_doc), "shards differ from the whole run");
    assert_eq!(union.len(), 1626);
    // Every scenario got a real outcome against the mock (no errors, no crash).
    assert!(
        union.values().all(|s| s != "error"),
        "{:?}",
        union.values().filter(|s| *s == "error").count()
    );

    let merged = tmp.path().join("merged");
    let shard_args: Vec<&str> = shards.iter().map(|p| p.to_str().unwrap()).collect();
    let store = tmp.path().join("merged-store");
    let mut args = vec![
        "merge",
        "--output-dir",
        merged.to_str().unwrap(),
        "--cache-dir",
        store.to_str().unwrap(),
    ];
    args.extend(shard_args);
    let out = common::run(&args);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert!(out.stdout.contains("merged 3 shard(s): 1626 scenarios"), "{}", out.stdout);
    let merged_doc = results(&merged);
    assert_eq!(merged_doc["run"]["counts"], whole_doc["run"]["counts"]);
    assert_eq!(merged_doc["run"]["by_priority"], whole_doc["run"]["by_priority"]);
    assert_eq!(merged_doc["run"]["exit_code"], 1);
    assert!(merged.join("summary.md").is_file() && merged.join("events.jsonl").is_file());
    // The merged run is in the local history with the merged totals.
    let history =
        common::run(&["history", "--cache-dir", store.to_str().unwrap(), "--format", "json"]);
    assert_eq!(history.code, 0, "{}", history.combined());
    let runs: Value = serde_json::from_str(&history.stdout).unwrap();
    let run = &runs.as_array().unwrap()[0];
    assert_eq!(run["id"], merged_doc["run"]["run_id"], "{run}");
    assert_eq!(run["counts"]["total"], 1626, "{run}");

    // The same shard twice is refused.
    let out = common::run(&[
        "merge",
        "--output-dir",
        merged.to_str().unwrap(),
        "--cache-dir",
        store.to_str().unwrap(),
        shard_args_first(&shards),
        shard_args_first(&shards),
    ]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("is given twice"), "{}", out.stderr);
}

fn shard_args_first(shards: &[std::path::PathBuf]) -> &str {
    shards[0].to_str().unwrap()
}

#[test]
fn partition_flag_errors_are_usage_errors() {
    let out = common::run(&["list", "tests/fixtures/valid", "--partition", "hash:4/3"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("K must be between 1 and N"), "{}", out.stderr);
    let out = common::run(&["list", "tests/fixtures/valid", "--partition", "hash:3"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("JOB_COMPLETION_INDEX"), "{}", out.stderr);
}

// ---- shards of one plan: missing, duplicated, foreign, failed; unique merged runs ---------

/// A temp dir with one native file of `n` scenarios the mock agent passes.
fn small_corpus(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nagent: shop_agent\nscenarios:\n");
    for i in 0..n {
        let priority = if i % 2 == 0 { "P0" } else { "P1" };
        let _ = write!(
            text,
            "  - id: s{i:02}\n    priority: {priority}\n    message: \"hello {i}\"\n    expect:\n      contains: [hello]\n"
        );
    }
    fs_err::create_dir_all(dir.path().join("scenarios")).unwrap();
    fs_err::write(dir.path().join("scenarios/s.yaml"), text).unwrap();
    dir
}

/// Runs shard `k` of `n` of the corpus in `dir` into `dir/NAME`, with extra arguments.
fn shard(dir: &Path, base: &str, name: &str, partition: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let scenarios = dir.join("scenarios");
    let cache = dir.join("cache");
    let mut args = vec![
        "run",
        "--scenarios-dir",
        scenarios.to_str().unwrap(),
        "--rogue-server",
        base,
        "--progress",
        "quiet",
        "--partition",
        partition,
        "--output-dir",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = common::run_in(dir, &args);
    assert!(output.code == 0 || output.code == 2, "{}", output.combined());
    out
}

fn merge(dir: &Path, shards: &[&Path], extra: &[&str]) -> common::Output {
    let out = dir.join("merged");
    let store = dir.join("merged-store");
    let mut args = vec![
        "merge",
        "--output-dir",
        out.to_str().unwrap(),
        "--cache-dir",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(shards.iter().map(|p| p.to_str().unwrap()));
    common::run_in(dir, &args)
}

#[test]
fn each_shard_records_its_partition_and_the_digest_of_the_whole_selection() {
    let agent = MockServer::start(MockAgentOptions::default());
    let tmp = small_corpus(12);
    let base = agent.base_url();
    let docs: Vec<Value> = (1..=3)
        .map(|k| results(&shard(tmp.path(), &base, &format!("s{k}"), &format!("hash:{k}/3"), &[])))
        .collect();
    let digest = &docs[0]["plan"]["partition"]["selection_digest"];
    assert_eq!(digest.as_str().map(str::len), Some(64), "{}", docs[0]["plan"]);
    for (k, doc) in docs.iter().enumerate() {
        let p = &doc["plan"]["partition"];
        assert_eq!(p["shard"], k + 1);
        assert_eq!(p["of"], 3);
        assert_eq!(p["selected"], 12);
        assert_eq!(&p["selection_digest"], digest, "shards of one plan agree on the digest");
    }
    // The store records them too.
    let cache = tmp.path().join("cache");
    let history =
        common::run(&["history", "--cache-dir", cache.to_str().unwrap(), "--format", "json"]);
    assert_eq!(history.code, 0, "{}", history.combined());
    let runs: Value = serde_json::from_str(&history.stdout).unwrap();
    let mut recorded: Vec<String> = runs
        .as_array()
        .unwrap()
        .iter()
        .inspect(|r| assert_eq!(&r["selection_digest"], digest, "{r}"))
        .map(|r| r["partition"].as_str().unwrap().to_owned())
        .collect();
    recorded.sort();
    assert_eq!(recorded, ["1/3", "2/3", "3/3"]);
    // A different selection (a filter) is a different plan.
    let p0 = results(&shard(tmp.path(), &base, "p0", "hash:1/3", &["--priority", "P0"]));
    assert_ne!(&p0["plan"]["partition"]["selection_digest"], digest);
    assert_eq!(p0["plan"]["partition"]["selected"], 6);
}

#[test]
fn merge_refuses_a_missing_shard_unless_allow_incomplete_which_says_so() {
    let agent = MockServer::start(MockAgentOptions::default());
    let tmp = small_corpus(12);
    let base = agent.base_url();
    let s1 = shard(tmp.path(), &base, "s1", "hash:1/3", &[]);
    let s2 = shard(tmp.path(), &base, "s2", "hash:2/3", &[]);

    let out = merge(tmp.path(), &[&s1, &s2], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shard(s) 3/3 missing"), "{}", out.stderr);
    assert!(out.stderr.contains("--allow-incomplete"), "{}", out.stderr);
    assert!(!tmp.path().join("merged/results.json").exists(), "a refused merge writes nothing");

    let out = merge(tmp.path(), &[&s1, &s2], &["--allow-incomplete"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stderr.contains("INCOMPLETE: shard(s) 3/3 are missing"), "{}", out.stderr);
    let merged = tmp.path().join("merged");
    let doc = results(&merged);
    assert_eq!(doc["plan"]["missing_shards"], serde_json::json!([3]));
    let summary = fs_err::read_to_string(merged.join("summary.md")).unwrap();
    assert!(summary.contains("**Incomplete merge:** shard(s) 3 are missing"), "{summary}");
    let html = fs_err::read_to_string(merged.join("report.html")).unwrap();
    assert!(html.contains("Incomplete merge:"), "report.html does not say the merge is incomplete");
}

#[test]
fn merge_refuses_the_same_shard_twice_and_shards_of_different_plans() {
    let agent = MockServer::start(MockAgentOptions::default());
    let tmp = small_corpus(12);
    let base = agent.base_url();
    let s1 = shard(tmp.path(), &base, "s1", "hash:1/2", &[]);
    let s2 = shard(tmp.path(), &base, "s2", "hash:2/2", &[]);

    // The same shard from two directories (a re-run uploaded twice).
    let again = shard(tmp.path(), &base, "s1-again", "hash:1/2", &[]);
    let out = merge(tmp.path(), &[&s1, &again, &s2], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shard 1/2 is given twice"), "{}", out.stderr);

    // Another N.
    let of3 = shard(tmp.path(), &base, "of3", "hash:2/3", &[]);
    let out = merge(tmp.path(), &[&s1, &of3], &["--allow-incomplete"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shards of different plans"), "{}", out.stderr);

    // Same N, another selection: --allow-incomplete does not let a foreign shard in.
    let p0 = shard(tmp.path(), &base, "p0", "hash:2/2", &["--priority", "P0"]);
    let out = merge(tmp.path(), &[&s1, &p0], &["--allow-incomplete"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shards of different plans"), "{}", out.stderr);

    // An unpartitioned run is not a shard.
    let whole = tmp.path().join("whole");
    let scenarios = tmp.path().join("scenarios");
    let run = common::run_in(
        tmp.path(),
        &[
            "run",
            "--scenarios-dir",
            scenarios.to_str().unwrap(),
            "--rogue-server",
            &base,
            "--progress",
            "quiet",
            "--output-dir",
            whole.to_str().unwrap(),
            "--cache-dir",
            tmp.path().join("cache").to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.combined());
    let out = merge(tmp.path(), &[&s1, &whole], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("is not a shard"), "{}", out.stderr);
}

#[test]
fn a_shard_that_exits_2_leaves_a_results_json_the_merge_names() {
    let agent = MockServer::start(MockAgentOptions::default());
    let tmp = small_corpus(12);
    let base = agent.base_url();
    let s1 = shard(tmp.path(), &base, "s1", "hash:1/2", &[]);
    // Shard 2 cannot load its scenarios (a broken file next to the good one).
    fs_err::write(tmp.path().join("scenarios/broken.yaml"), "version: 1\nscenarios: [\n").unwrap();
    let s2 = shard(tmp.path(), &base, "s2", "hash:2/2", &[]);
    let doc = results(&s2);
    assert_eq!(doc["run"]["exit_code"], 2, "{doc}");
    assert_eq!(doc["plan"]["partition"]["shard"], 2);
    assert!(doc["plan"]["partition"]["error"].as_str().unwrap().contains("exited 2"), "{doc}");

    let out = merge(tmp.path(), &[&s1, &s2], &[]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("shard 2/2 failed"), "{}", out.stderr);
    let out = merge(tmp.path(), &[&s1, &s2], &["--allow-incomplete"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert_eq!(
        results(&tmp.path().join("merged"))["plan"]["missing_shards"],
        serde_json::json!([2])
    );
}

#[test]
fn every_merge_is_its_own_run_in_history() {
    let agent = MockServer::start(MockAgentOptions::default());
    let tmp = small_corpus(12);
    let base = agent.base_url();
    let s1 = shard(tmp.path(), &base, "s1", "hash:1/2", &[]);
    let s2 = shard(tmp.path(), &base, "s2", "hash:2/2", &[]);
    for _ in 0..2 {
        let out = merge(tmp.path(), &[&s1, &s2], &[]);
        assert_eq!(out.code, 0, "{}", out.combined());
    }
    // The merged run tells the same cost story as its shards.
    let merged = results(&tmp.path().join("merged"));
    assert_eq!(merged["run"]["cost"]["total"]["calls"], 0, "{}", merged["run"]);
    let summary = fs_err::read_to_string(tmp.path().join("merged/summary.md")).unwrap();
    assert!(summary.contains("**$0.00, no LLM calls**"), "{summary}");
    let store = tmp.path().join("merged-store");
    let history = common::run(&["history", "--cache-dir", store.to_str().unwrap()]);
    assert_eq!(history.code, 0, "{}", history.combined());
    let json =
        common::run(&["history", "--cache-dir", store.to_str().unwrap(), "--format", "json"]);
    let runs: Value = serde_json::from_str(&json.stdout).unwrap();
    let ids: Vec<&str> =
        runs.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "both merges are recorded: {}", history.stdout);
    // The history table shows 8 characters of each id: they must differ there too.
    assert_ne!(ids[0].get(..8), ids[1].get(..8), "{}", history.stdout);
    for id in &ids {
        assert!(history.stdout.contains(id.get(..8).unwrap()), "{}", history.stdout);
    }
}
