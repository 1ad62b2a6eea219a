//! `list` and `schema`: filters, table and JSON output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use common::run;

#[test]
fn list_table_snapshot() {
    let out = run(&["list", "tests/fixtures/valid"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn list_filters_combine() {
    let json = |args: &[&str]| {
        let mut all = vec!["list", "tests/fixtures/valid", "--format", "json"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.code, 0, "{}", out.combined());
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(json(&[])["stats"]["total"], 2);
    assert_eq!(json(&["--priority", "P0"])["stats"]["total"], 1);
    assert_eq!(json(&["--priority", "P0,P1"])["stats"]["total"], 2);
    assert_eq!(json(&["--category", "policy"])["scenarios"][0]["id"], "native_refund_policy");
    assert_eq!(json(&["--tag", "qa"])["scenarios"][0]["id"], "bom_file_scenario");
    assert_eq!(json(&["--id", "bom_*"])["stats"]["total"], 1);
    assert_eq!(json(&["--id", "bom_*", "--priority", "P0"])["stats"]["total"], 0);
}

#[test]
fn bad_filter_values_are_usage_errors() {
    let out = run(&["list", "tests/fixtures/valid", "--priority", "p0"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid priority `p0`"), "{}", out.stderr);
    let out = run(&["list", "tests/fixtures/valid", "--id", "qa_[*"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid --id pattern"), "{}", out.stderr);
}

#[test]
fn yaml_11_scalars_keep_their_text() {
    let out = run(&["list", "tests/fixtures/valid/bom.yaml", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let assertions = doc["scenarios"][0]["assertions"].as_array().unwrap();
    let by_key = |k: &str| assertions.iter().find(|a| a["key"] == k).unwrap().clone();
    assert_eq!(by_key("email_count")["raw"], "010");
    assert_eq!(by_key("email_count")["expected"]["value"], "010");
    assert_eq!(by_key("answer")["expected"]["value"], "yes");
}

#[test]
fn schema_describes_the_native_format() {
    let out = run(&["schema"]);
    assert_eq!(out.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(schema["title"], "rogue-runner scenario file");
    let required = schema["required"].as_array().unwrap();
    assert!(required.contains(&"version".into()) && required.contains(&"scenarios".into()));
    let scenario = &schema["$defs"]["NativeScenario"];
    assert!(scenario["properties"]["expect"].is_object(), "{scenario}");
    insta::assert_snapshot!(out.stdout);
}

/// The published schema (`schemas/scenarios.schema.json`, linked from the README) is exactly what
/// `rogue-runner schema` prints; `UPDATE_SCHEMAS=1 cargo test` rewrites it.
#[test]
fn published_scenario_schema_matches_the_binary() {
    let out = run(&["schema"]);
    let path = common::root().join("schemas/scenarios.schema.json");
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        fs_err::write(&path, &out.stdout).unwrap();
    }
    let published = fs_err::read_to_string(&path).unwrap();
    assert_eq!(
        published, out.stdout,
        "schemas/scenarios.schema.json is stale: run UPDATE_SCHEMAS=1 cargo test"
    );
}

#[test]
fn help_explains_every_seed_flag() {
    let out = run(&["run", "--help"]);
    assert_eq!(out.code, 0);
    for flag in [
        "--scenarios-dir",
        "--output-dir",
        "--priority",
        "--parallel",
        "--rogue-server",
        "--use-cache",
        "--cache-dir",
        "--no-fail-fast",
        "--p0-threshold",
    ] {
        assert!(out.stdout.contains(flag), "{flag} missing from --help");
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn seed_flags_parse_on_the_bare_command() {
    // The seed's three examples, verbatim flags; `--help` proves parsing without running.
    for args in [
        vec![
            "--scenarios-dir",
            "tests/rogue/scenarios/",
            "--output-dir",
            "reports/rogue/",
            "--help",
        ],
        vec![
            "--scenarios-dir",
            "tests/rogue/scenarios/",
            "--priority",
            "P0",
            "--parallel",
            "3",
            "--help",
        ],
        vec![
            "--scenarios-dir",
            "tests/rogue/scenarios/",
            "--use-cache",
            "--cache-dir",
            ".rogue_cache",
            "--help",
        ],
        vec![
            "--scenarios-dir",
            "x",
            "--no-fail-fast",
            "--p0-threshold",
            "0.9",
            "--rogue-server",
            "http://localhost:8000",
            "--help",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.combined());
    }
    let out = run(&["--scenarios-dir", "x", "--parallel", "0"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    let out = run(&["--scenarios-dir", "x", "--priority", "P9"]);
    assert_eq!(out.code, 2, "{}", out.combined());
}

#[test]
fn bad_report_formats_are_usage_errors() {
    let out = run(&["--scenarios-dir", "x", "--format", "json,pdf"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("unknown report format `pdf`"), "{}", out.stderr);
    assert!(out.stderr.contains("expected json, md, jsonl, junit, html or all"), "{}", out.stderr);
    let out = run(&["--scenarios-dir", "x", "--format", "junit,html", "--help"]);
    assert_eq!(out.code, 0, "{}", out.combined());
}

#[test]
fn list_table_escapes_newlines_ansi_and_bidi_controls_from_scenario_files() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("hostile.yaml"),
        "qa_agent_p1:\n  agent: qa_agent\n  scenarios:\n  - id: \"evil\\nFAKE ROW\\e[31mred\\u202Eevil\"\n    priority: P1\n    category: \"cat\\u2066gory\\r\"\n    description: d\n    input: {prompt: p}\n    expected_output: {contains: [x]}\n",
    )
    .unwrap();
    let out = common::run_in(dir.path(), &["list", "hostile.yaml"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let row = out.stdout.lines().find(|l| l.starts_with("evil")).unwrap();
    assert!(row.starts_with("evil\\nFAKE ROW\\u{001B}[31mred\\u{202E}evil  P1 "), "{row}");
    assert!(row.contains(" cat\\u{2066}gory\\r  qa_agent"), "{row}");
    assert!(!out.stdout.lines().any(|l| l.starts_with("FAKE ROW")), "{}", out.stdout);
    for c in ['\x1b', '\u{202E}', '\u{2066}', '\r'] {
        assert!(!out.stdout.contains(c), "{c:?} printed raw: {}", out.stdout);
    }
    // JSON output keeps the id as written (JSON-escaped).
    let out = common::run_in(dir.path(), &["list", "hostile.yaml", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["scenarios"][0]["id"], "evil\nFAKE ROW\x1b[31mred\u{202E}evil");
}

/// `list --format json | head`: the reader going away is not an error (as with the table).
#[test]
fn a_closed_pipe_ends_json_output_quietly() {
    use std::fmt::Write as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    // Far more JSON than a pipe holds, so the writer meets the closed end.
    let mut yaml = String::from("version: 1\nagent: qa\nscenarios:\n");
    for i in 0..3000 {
        write!(yaml, "  - id: s_{i:04}\n    priority: P1\n    message: hello {i}\n    expect:\n      contains: [hi]\n")
            .unwrap();
    }
    fs_err::write(dir.path().join("many.yaml"), yaml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["list", "--format", "json"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("pipe"), "{stderr}");
}
