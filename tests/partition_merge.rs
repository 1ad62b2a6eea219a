//! `--partition hash:K/N` and `merge`: the whole Genesis corpus run in shards against the mock
//! agent gives, merged, exactly the totals of one unpartitioned run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;

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
fn genesis_corpus_in_three_shards_merges_to_the_unpartitioned_totals() {
    let Some(corpus) = common::shared_corpus("genesis") else { return };
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
    assert!(run["id"].as_str().unwrap().starts_with("merged-"), "{run}");
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
    assert!(out.stderr.contains("is in both"), "{}", out.stderr);
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
