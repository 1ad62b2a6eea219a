//! `validate` on bad input: every problem reported with file:line:col and a hint, exit 2,
//! the other files still load. Snapshots show exactly what a user sees.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use common::run;

fn validate_fixture(name: &str) -> common::Output {
    run(&["validate", &format!("tests/fixtures/invalid/{name}")])
}

macro_rules! invalid_fixture_tests {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let out = validate_fixture($file);
            assert_eq!(out.code, 2, "{}", out.combined());
            assert!(out.stderr.contains(concat!("tests/fixtures/invalid/", $file, ":")), "no file:line:col in {}", out.stderr);
            insta::assert_snapshot!(out.combined());
        }
    )*};
}

invalid_fixture_tests! {
    syntax_error_is_located => "syntax_error.yaml",
    tab_indentation_is_named => "tab_indent.yaml",
    duplicate_key_names_both_lines => "duplicate_key.yaml",
    duplicate_ids_within_a_file => "duplicate_ids.yaml",
    missing_required_fields_are_all_reported => "missing_fields.yaml",
    invalid_and_lowercase_priorities => "invalid_priority.yaml",
    wrong_types_are_reported_at_the_value => "wrong_types.yaml",
    empty_file => "empty.yaml",
    json_trailing_comma => "trailing_comma.json",
    alias_bomb_is_bounded => "alias_bomb.yaml",
    missing_scenarios_list => "no_scenarios.yaml",
    input_agent_disagreeing_with_header => "mismatched_agent.yaml",
}

#[test]
fn duplicate_ids_across_files_name_the_first_definition() {
    let out = run(&[
        "validate",
        "tests/fixtures/invalid/duplicate_ids.yaml",
        "tests/fixtures/invalid/duplicate_ids_other.yaml",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("duplicate scenario id `shared_across_files`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("first defined at tests/fixtures/invalid/duplicate_ids.yaml:16:5"),
        "{}",
        out.stderr
    );
}

#[test]
fn all_problems_of_all_files_in_one_pass_and_good_files_still_load() {
    let out =
        run(&["validate", "tests/fixtures/invalid", "tests/fixtures/valid", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let errors = doc["errors"].as_u64().unwrap();
    // One per fixture at least; missing_fields alone has four, wrong_types five.
    assert!(errors >= 20, "only {errors} errors: {}", out.stdout);
    let files = doc["files"].as_array().unwrap();
    let with_errors = files.iter().filter(|f| f["errors"].as_u64().unwrap() > 0).count();
    assert_eq!(with_errors, 13, "{}", out.stdout);
    // The valid files and the valid scenarios of invalid files are still counted.
    assert!(doc["scenarios"].as_u64().unwrap() >= 4, "{}", out.stdout);
    for file in ["tests/fixtures/valid/bom.yaml", "tests/fixtures/valid/native.yaml"] {
        let entry = files.iter().find(|f| f["path"] == file).unwrap();
        assert_eq!(entry["errors"], 0);
        assert_eq!(entry["scenarios"], 1);
    }
}

#[test]
fn a_utf8_bom_is_accepted() {
    let out = run(&["validate", "tests/fixtures/valid/bom.yaml"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains("1 scenario(s)"), "{}", out.stdout);
}

#[test]
fn non_utf8_bytes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    fs_err::write(&path, b"scenarios:\n  - id: caf\xe9\n").unwrap();
    let out = common::run_in(dir.path(), &["validate", "latin1.yaml"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("latin1.yaml:2:12"), "{}", out.stderr);
    assert!(out.stderr.contains("not valid UTF-8: byte 0xE9"), "{}", out.stderr);
    assert!(out.stderr.contains("save the file as UTF-8"), "{}", out.stderr);
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let mut text = String::from("scenarios:\n");
    while text.len() < 200_000 {
        text.push_str("  - {id: x, priority: P0}\n");
    }
    fs_err::write(&path, text).unwrap();
    let out = common::run_in(dir.path(), &["validate", "big.yaml", "--max-file-bytes", "100000"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("larger than the 97 KiB limit"), "{}", out.stderr);
    assert!(out.stderr.contains("--max-file-bytes"), "{}", out.stderr);
}

#[test]
fn a_missing_directory_is_an_error_not_a_crash() {
    let out = run(&["validate", "tests/fixtures/no-such-dir"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no such file or directory"), "{}", out.stderr);
}

#[test]
fn warnings_do_not_fail_validation_and_quiet_hides_them() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("w.yaml"),
        "qa_agent_p1:\n  agent: qa_agent\n  scenarios:\n  - id: w1\n    priority: P1\n    category: success\n    tags: [a, a]\n    description: d\n    input: {prompt: p}\n    expected_output: {speedup: '>=2x vs sequential'}\n",
    )
    .unwrap();
    let out = common::run_in(dir.path(), &["validate", "w.yaml"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stderr.contains("tag `a` is listed twice"), "{}", out.stderr);
    assert!(out.stderr.contains("left to the judge"), "{}", out.stderr);
    let quiet = common::run_in(dir.path(), &["validate", "-q", "w.yaml"]);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn a_deeply_nested_json_file_is_a_json_nesting_error() {
    let dir = tempfile::tempdir().unwrap();
    // Past the YAML parser's own recursion limit (256) and under it: the same error.
    for depth in [200, 5_000] {
        let text = format!("{{\"scenarios\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        fs_err::write(dir.path().join(format!("deep{depth}.json")), text).unwrap();
    }
    let out = common::run_in(dir.path(), &["validate", "."]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert_eq!(
        out.stderr.matches("JSON nesting is deeper than 128 levels").count(),
        2,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("YAML"), "{}", out.stderr);
}

#[test]
fn the_same_file_given_twice_or_through_a_symlink_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("a.yaml"),
        "qa_agent_p1:\n  agent: qa_agent\n  scenarios:\n  - id: once\n    priority: P1\n    category: c\n    description: d\n    input: {prompt: p}\n    expected_output: {contains: [x]}\n",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("a.yaml", dir.path().join("b.yaml")).unwrap();
    let out = common::run_in(dir.path(), &["validate", ".", "a.yaml", "./a.yaml"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(!out.stderr.contains("duplicate"), "{}", out.stderr);
    assert!(out.stdout.contains("checked 1 file(s): 1 scenario(s)"), "{}", out.stdout);
}

#[test]
fn diagnostics_show_ids_and_file_text_with_control_and_bidi_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |id: &str| {
        format!(
            "  - id: {id}\n    priority: P1\n    category: c\n    description: d\n    input: {{prompt: p}}\n    expected_output: {{contains: [x]}}\n"
        )
    };
    // The same id twice: with YAML escapes, then with other escapes and a raw RLO (a snippet
    // of that line would reorder the terminal's text).
    let text = format!(
        "qa_agent_p1:\n  agent: qa_agent\n  scenarios:\n{}{}",
        scenario("\"x\\e]0;pwned\\a\\u202E\""),
        scenario("\"x\\x1b]0;pwned\\x07\u{202E}\"")
    );
    fs_err::write(dir.path().join("dup.yaml"), text).unwrap();
    let out = common::run_in(dir.path(), &["validate", "dup.yaml"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(
        out.stderr.contains("duplicate scenario id `x\\u{001B}]0;pwned\\u{0007}\\u{202E}`"),
        "{}",
        out.stderr
    );
    for c in ['\u{1b}', '\u{7}', '\u{202E}'] {
        assert!(!out.stderr.contains(c), "{c:?} printed raw: {:?}", out.stderr);
    }
}
