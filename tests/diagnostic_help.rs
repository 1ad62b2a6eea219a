//! Every hint a scenario diagnostic gives is true: for each diagnostic code in the source, a
//! broken input that triggers it, and the same input with the fix the hint suggests applied,
//! which must load with no such diagnostic (and no error at all). A code in the source with
//! no case here fails the test, so a new hint cannot go untested.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rogue_runner::scenario::node::ParseLimits;
use rogue_runner::scenario::{Diagnostic, LoadOptions, load_paths};

/// What a case loads: the paths, and the limits they are loaded under.
struct Input {
    paths: Vec<PathBuf>,
    options: LoadOptions,
}

/// Builds one input in a fresh directory.
type Setup = Box<dyn Fn(&Path) -> Input>;

struct Case {
    code: &'static str,
    broken: Setup,
    fixed: Setup,
}

/// A valid Genesis item, the base most cases break one thing of.
const ITEM: &str = "\
- id: qa_p0_001
  priority: P0
  category: billing
  description: asks for a refund
  input: {prompt: I want my money back}
  expected_output: {contains: [refund]}
";

/// A Genesis file naming its agent, with `item` as its list.
fn genesis(item: &str) -> String {
    format!("agent: qa_agent\nscenarios:\n{item}")
}

/// A valid native file whose one scenario has `lines` after its id.
fn native(lines: &str) -> String {
    format!("version: 1\nagent: qa_agent\nscenarios:\n- id: n1\n{lines}")
}

const NATIVE_BODY: &str = "  priority: P0\n  message: hi\n";

/// Files written into the directory, which is loaded whole.
fn files(list: &[(&str, String)]) -> Setup {
    let list: Vec<(String, String)> =
        list.iter().map(|(name, text)| ((*name).to_owned(), text.clone())).collect();
    Box::new(move |dir: &Path| {
        for (name, text) in &list {
            let path = dir.join(name);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        }
        Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
    })
}

/// One file, `s.yaml` (or `s.json` when it starts with `{`).
fn file(text: impl Into<String>) -> Setup {
    let text = text.into();
    let name = if text.trim_start().starts_with('{') { "s.json" } else { "s.yaml" };
    files(&[(name, text)])
}

/// `setup`, loaded under other parse limits.
fn with_limits(setup: Setup, limits: ParseLimits) -> Setup {
    Box::new(move |dir: &Path| {
        let mut input = setup(dir);
        input.options.parse = limits;
        input
    })
}

fn limits(max_nodes: usize, max_alias_nodes: usize, max_depth: usize) -> ParseLimits {
    ParseLimits { max_nodes, max_alias_nodes, max_depth }
}

/// A case where the broken and fixed inputs are one file each.
fn case(code: &'static str, broken: impl Into<String>, fixed: impl Into<String>) -> Case {
    Case { code, broken: file(broken), fixed: file(fixed) }
}

/// `ITEM` with `from` replaced by `to`, in a Genesis file.
fn item_with(from: &str, to: &str) -> String {
    assert!(ITEM.contains(from), "{from}");
    genesis(&ITEM.replace(from, to))
}

fn cases() -> Vec<Case> {
    let ok = || genesis(ITEM);
    let mut cases = vec![
        // Loading paths.
        Case {
            code: "no-scenario-files",
            broken: files(&[("s.txt", ok())]),
            fixed: files(&[("s.yaml", ok())]),
        },
        Case {
            code: "no-such-path",
            broken: Box::new(move |dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                Input { paths: vec![dir.join("s.yml")], options: LoadOptions::default() }
            }),
            fixed: Box::new(move |dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                Input { paths: vec![dir.join("s.yaml")], options: LoadOptions::default() }
            }),
        },
        Case {
            code: "too-deep",
            broken: Box::new(move |dir: &Path| {
                let deep = (0..34).fold(dir.to_path_buf(), |p, i| p.join(i.to_string()));
                fs_err::create_dir_all(&deep).unwrap();
                fs_err::write(deep.join("s.yaml"), genesis(ITEM)).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
            fixed: files(&[("0/s.yaml", ok())]),
        },
        Case {
            code: "file-too-large",
            broken: Box::new(move |dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                let options = LoadOptions { max_file_bytes: 64, ..LoadOptions::default() };
                Input { paths: vec![dir.to_path_buf()], options }
            }),
            // "raise the limit with --max-file-bytes"
            fixed: files(&[("s.yaml", ok())]),
        },
        Case {
            code: "not-utf8",
            broken: Box::new(move |dir: &Path| {
                let mut bytes = genesis(ITEM).into_bytes();
                bytes.extend_from_slice(b"# caf\xE9\n");
                fs_err::write(dir.join("s.yaml"), bytes).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
            fixed: files(&[("s.yaml", format!("{}# caf\u{e9}\n", genesis(ITEM)))]),
        },
        Case {
            code: "cannot-read-file",
            // A path that vanished between the walk and the read: what `read_source` reports.
            broken: Box::new(move |dir: &Path| Input {
                paths: vec![dir.join("gone.yaml")],
                options: LoadOptions::default(),
            }),
            // "check that the file exists"
            fixed: Box::new(move |dir: &Path| {
                fs_err::write(dir.join("gone.yaml"), genesis(ITEM)).unwrap();
                Input { paths: vec![dir.join("gone.yaml")], options: LoadOptions::default() }
            }),
        },
        Case {
            code: "duplicate-id",
            broken: files(&[("a.yaml", ok()), ("b.yaml", ok())]),
            fixed: files(&[("a.yaml", ok()), ("b.yaml", item_with("qa_p0_001", "qa_p0_002"))]),
        },
        // Syntax.
        case("empty-file", "", ok()),
        case("root-not-a-mapping", "just some text\n", native(NATIVE_BODY)),
        case(
            "json-trailing-comma",
            r#"{"version": 1, "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"},]}"#,
            r#"{"version": 1, "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"}]}"#,
        ),
        case(
            "json-ends-early",
            r#"{"version": 1, "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"}"#,
            r#"{"version": 1, "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"}]}"#,
        ),
        case(
            "json-syntax",
            r#"{"version": 1 "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"}]}"#,
            r#"{"version": 1, "scenarios": [{"id": "n1", "priority": "P0", "message": "hi"}]}"#,
        ),
        case("tab-indent", item_with("  priority", "\tpriority"), ok()),
        case("yaml-second-document", format!("{}---\n{}", ok(), ok()), ok()),
        case("yaml-custom-tag", item_with("category: billing", "category: !custom billing"), ok()),
        case(
            "yaml-duplicate-key",
            item_with("  category: billing\n", "  category: billing\n  category: refunds\n"),
            ok(),
        ),
        Case {
            code: "yaml-alias-bomb",
            broken: with_limits(
                file(format!(
                    "agent: qa_agent\nwords: &w [a, b, c, d]\nscenarios:\n{}",
                    ITEM.replace("contains: [refund]", "contains: [refund], all: [*w, *w, *w]")
                )),
                limits(1_000, 8, 64),
            ),
            // "write the repeated data out"
            fixed: with_limits(
                file(format!(
                    "agent: qa_agent\nscenarios:\n{}",
                    ITEM.replace(
                        "contains: [refund]",
                        "contains: [refund], all: [a, b, c, d, a, b, c, d, a, b, c, d]"
                    )
                )),
                limits(1_000, 8, 64),
            ),
        },
        Case {
            code: "yaml-too-many-nodes",
            broken: with_limits(
                file(genesis(&format!("{ITEM}{}", ITEM.replace("001", "002")))),
                limits(40, 100, 64),
            ),
            // "split the file into smaller files"
            fixed: with_limits(
                files(&[("a.yaml", ok()), ("b.yaml", item_with("001", "002"))]),
                limits(40, 100, 64),
            ),
        },
        Case {
            code: "nesting-too-deep",
            broken: with_limits(
                file(item_with(
                    "input: {prompt: I want my money back}",
                    "input: {prompt: p, a: {b: {c: {d: [1]}}}}",
                )),
                limits(1_000, 100, 6),
            ),
            // "flatten the structure"
            fixed: with_limits(
                file(item_with(
                    "input: {prompt: I want my money back}",
                    "input: {prompt: p, a_b_c_d: 1}",
                )),
                limits(1_000, 100, 6),
            ),
        },
        // File layout.
        case("bare-list", ITEM, format!("agent: qa_agent\nscenarios:\n{ITEM}")),
        case(
            "scenarios-twice",
            format!("scenarios:\n{ITEM}qa_agent:\n  agent: qa_agent\n  scenarios: []\n"),
            ok(),
        ),
        case("scenarios-list-misnamed", format!("agent: qa_agent\nscenarioz:\n{ITEM}"), ok()),
        case(
            "no-scenarios-list",
            "agent: {name: qa_agent}\n",
            format!("agent: {{name: qa_agent}}\nscenarios:\n{ITEM}"),
        ),
        Case {
            code: "two-scenario-lists",
            broken: file(
                "qa_agent:\n  agent: qa_agent\n  scenarios: []\nsupport_agent:\n  agent: support_agent\n  scenarios: []\n",
            ),
            // "keep one scenario list per file"
            fixed: files(&[
                (
                    "qa.yaml",
                    format!("qa_agent:\n  agent: qa_agent\n  scenarios:\n{}", indent(ITEM)),
                ),
                (
                    "support.yaml",
                    format!(
                        "support_agent:\n  agent: support_agent\n  scenarios:\n{}",
                        indent(&ITEM.replace("qa_p0_001", "support_p0_001"))
                    ),
                ),
            ]),
        },
        case(
            "total-scenarios-mismatch",
            format!(
                "qa_agent:\n  agent: qa_agent\n  total_scenarios: 5\n  scenarios:\n{}",
                indent(ITEM)
            ),
            format!(
                "qa_agent:\n  agent: qa_agent\n  total_scenarios: 1\n  scenarios:\n{}",
                indent(ITEM)
            ),
        ),
        case(
            "header-priority",
            format!(
                "qa_agent:\n  agent: qa_agent\n  priority: high\n  scenarios:\n{}",
                indent(ITEM)
            ),
            format!("qa_agent:\n  agent: qa_agent\n  priority: P0\n  scenarios:\n{}", indent(ITEM)),
        ),
        // Agents.
        case("agent-from-id-prefix", format!("scenarios:\n{ITEM}"), ok()),
        case(
            "agent-unnamed",
            format!("scenarios:\n{}", ITEM.replace("qa_p0_001", "refund")),
            genesis(&ITEM.replace("qa_p0_001", "refund")),
        ),
        case(
            "input-agent-mismatch",
            item_with(
                "  input: {prompt: I want my money back}",
                "  name: refund\n  input: {prompt: I want my money back, agent: support}",
            ),
            item_with(
                "  input: {prompt: I want my money back}",
                "  name: refund\n  input: {prompt: I want my money back, agent: qa}",
            ),
        ),
        // Genesis scenarios.
        case("scenario-not-a-mapping", genesis("- just a sentence\n"), ok()),
        case("missing-field", item_with("  category: billing\n", ""), ok()),
        case(
            "not-text",
            item_with("category: billing", "category: 5"),
            item_with("category: billing", "category: \"5\""),
        ),
        case("empty-id", item_with("id: qa_p0_001", "id: \"\""), ok()),
        case("priority-lower-case", item_with("priority: P0", "priority: p0"), ok()),
        case("priority-unknown", item_with("priority: P0", "priority: P9"), ok()),
        case(
            "unknown-key",
            item_with("  category: billing\n", "  category: billing\n  tagz: [a]\n"),
            item_with("  category: billing\n", "  category: billing\n  tags: [a]\n"),
        ),
        case(
            "list-is-a-mapping",
            item_with("  category: billing\n", "  category: billing\n  tags: {a: b}\n"),
            item_with("  category: billing\n", "  category: billing\n  tags: [first, second]\n"),
        ),
        case("missing-mapping", item_with("  input: {prompt: I want my money back}\n", ""), ok()),
        case("empty-mapping", item_with("{prompt: I want my money back}", "{}"), ok()),
        case(
            "cost-unreadable",
            item_with("  category: billing\n", "  category: billing\n  cost_estimate: cheap\n"),
            item_with("  category: billing\n", "  category: billing\n  cost_estimate: 0.02\n"),
        ),
        // Expectations.
        case(
            "expect-not-a-list",
            item_with("contains: [refund]", "contains: {word: refund}"),
            item_with("contains: [refund]", "contains: [refund, policy]"),
        ),
        case(
            "expect-length-not-a-number",
            item_with("contains: [refund]", "min_length: lots"),
            item_with("contains: [refund]", "min_length: 100"),
        ),
        case(
            "expect-invalid-regex",
            item_with("contains: [refund]", "regex: \"refund(\""),
            item_with("contains: [refund]", "regex: \"refund\\\\(\""),
        ),
        case(
            "expect-empty",
            item_with("contains: [refund]", "tone: null"),
            item_with("contains: [refund]", "tone: friendly"),
        ),
        case(
            "comparator-unicode",
            item_with("contains: [refund]", "score: \"≥5\""),
            item_with("contains: [refund]", "score: \">=5\""),
        ),
        case(
            "comparator-prose",
            item_with("contains: [refund]", "speedup: \">=2x vs sequential\""),
            item_with("contains: [refund]", "speedup: \">=2x\""),
        ),
        case(
            "comparator-malformed",
            item_with("contains: [refund]", "score: \">>5\""),
            item_with("contains: [refund]", "score: \">5\""),
        ),
        // Rogue files.
        case(
            "rogue-not-an-object",
            r#"{"scenarios": [{"scenario": "ask for a refund"}, "ask again"]}"#,
            r#"{"scenarios": [{"scenario": "ask for a refund"}, {"scenario": "ask again"}]}"#,
        ),
        case(
            "rogue-unknown-type",
            r#"{"scenarios": [{"scenario": "ask for a refund", "scenario_type": "jailbreak"}]}"#,
            r#"{"scenarios": [{"scenario": "ask for a refund", "scenario_type": "prompt_injection"}]}"#,
        ),
        // The native format.
        case(
            "native-version",
            native(NATIVE_BODY).replace("version: 1", "version: 2"),
            native(NATIVE_BODY),
        ),
        case(
            "native-wrong-type",
            native(NATIVE_BODY).replace("version: 1", "version: one"),
            native(NATIVE_BODY),
        ),
        case(
            "native-unknown-header-key",
            native(NATIVE_BODY).replace("agent: qa_agent", "agent: qa_agent\nowner: me"),
            native(NATIVE_BODY),
        ),
        case(
            "native-unknown-key",
            native(&format!("{NATIVE_BODY}  owner: me\n")),
            native(&format!("{NATIVE_BODY}  metadata: {{owner: me}}\n")),
        ),
        case(
            "native-empty-id",
            native(NATIVE_BODY).replace("id: n1", "id: \" \""),
            native(NATIVE_BODY),
        ),
        case("native-no-message", native("  priority: P0\n"), native(NATIVE_BODY)),
        case(
            "native-invalid-regex",
            native(&format!("{NATIVE_BODY}  expect: {{regex: [\"hi(\"]}}\n")),
            native(&format!("{NATIVE_BODY}  expect: {{regex: [\"hi\\\\(\"]}}\n")),
        ),
        case("native-priority", native("  priority: p0\n  message: hi\n"), native(NATIVE_BODY)),
        case("native-missing-field", native("  message: hi\n"), native(NATIVE_BODY)),
    ];
    cases.extend(unix_cases());
    cases
}

/// `text` indented by two spaces (a list nested in a header).
fn indent(text: &str) -> String {
    text.lines().flat_map(|l| ["  ", l, "\n"]).collect()
}

#[cfg(unix)]
fn unix_cases() -> Vec<Case> {
    use std::os::unix::fs::symlink;
    vec![
        Case {
            code: "symlink-outside",
            broken: Box::new(|dir: &Path| {
                let (inside, outside) = (dir.join("suite"), dir.join("shared"));
                fs_err::create_dir_all(&inside).unwrap();
                fs_err::create_dir_all(&outside).unwrap();
                fs_err::write(outside.join("s.yaml"), genesis(ITEM)).unwrap();
                fs_err::write(inside.join("own.yaml"), item_with("001", "002")).unwrap();
                symlink(outside.join("s.yaml"), inside.join("link.yaml")).unwrap();
                Input { paths: vec![inside], options: LoadOptions::default() }
            }),
            // "pass its target as a path of its own"
            fixed: Box::new(|dir: &Path| {
                let (inside, outside) = (dir.join("suite"), dir.join("shared"));
                fs_err::create_dir_all(&inside).unwrap();
                fs_err::create_dir_all(&outside).unwrap();
                fs_err::write(outside.join("s.yaml"), genesis(ITEM)).unwrap();
                fs_err::write(inside.join("own.yaml"), item_with("001", "002")).unwrap();
                symlink(outside.join("s.yaml"), inside.join("link.yaml")).unwrap();
                Input { paths: vec![inside, outside], options: LoadOptions::default() }
            }),
        },
        Case {
            code: "symlink-loop",
            broken: Box::new(|dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                fs_err::create_dir_all(dir.join("sub")).unwrap();
                symlink(dir, dir.join("sub").join("back")).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
            // "remove the symlink"
            fixed: Box::new(|dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                fs_err::create_dir_all(dir.join("sub")).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
        },
        Case {
            code: "unreadable-file",
            broken: Box::new(|dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                symlink(dir.join("moved.yaml"), dir.join("link.yaml")).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
            // "(a symlink may be broken)": its target restored.
            fixed: Box::new(|dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                fs_err::write(dir.join("moved.yaml"), item_with("001", "002")).unwrap();
                symlink(dir.join("moved.yaml"), dir.join("link.yaml")).unwrap();
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
        },
        Case {
            code: "not-a-regular-file",
            broken: Box::new(|dir: &Path| {
                fs_err::write(dir.join("s.yaml"), genesis(ITEM)).unwrap();
                // A socket named like a scenario file (a FIFO would do as well).
                let socket = std::os::unix::net::UnixListener::bind(dir.join("x.yaml")).unwrap();
                std::mem::forget(socket);
                Input { paths: vec![dir.to_path_buf()], options: LoadOptions::default() }
            }),
            // "remove it from the scenarios directory"
            fixed: files(&[("s.yaml", genesis(ITEM))]),
        },
    ]
}

#[cfg(not(unix))]
fn unix_cases() -> Vec<Case> {
    Vec::new()
}

/// What loading `input` reports. `cannot-read-file` is what reading one file reports when the
/// file cannot be opened, which the loader never meets for a path it just listed except in
/// a race: read the path directly for it.
fn diagnostics(code: &str, input: &Input) -> (Vec<Diagnostic>, usize) {
    if code == "cannot-read-file" {
        let path = &input.paths[0];
        return match rogue_runner::scenario::source_file::read_source(
            path,
            path,
            input.options.max_file_bytes,
        ) {
            Ok(_) => {
                let report = load_paths(&input.paths, &input.options);
                (report.diagnostics, report.scenarios.len())
            }
            Err(d) => (vec![d], 0),
        };
    }
    let report = load_paths(&input.paths, &input.options);
    (report.diagnostics, report.scenarios.len())
}

fn show(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{d} [{}]", d.code.unwrap_or("-")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_hint_applied_makes_its_diagnostic_go_away() {
    let mut failures = Vec::new();
    for case in cases() {
        let broken_dir = tempfile::tempdir().unwrap();
        let broken = (case.broken)(broken_dir.path());
        let (found, _) = diagnostics(case.code, &broken);
        let Some(hit) = found.iter().find(|d| d.code == Some(case.code)) else {
            failures.push(format!(
                "{}: the broken input does not trigger it:\n{}",
                case.code,
                show(&found)
            ));
            continue;
        };
        if hit.hint.as_deref().is_none_or(str::is_empty) {
            failures.push(format!("{}: triggered without a hint", case.code));
        }
        let fixed_dir = tempfile::tempdir().unwrap();
        let fixed = (case.fixed)(fixed_dir.path());
        let (after, scenarios) = diagnostics(case.code, &fixed);
        if after.iter().any(|d| d.code == Some(case.code) || d.is_error()) || scenarios == 0 {
            failures.push(format!(
                "{}: the fix (for `{}`) leaves {} scenario(s) and:\n{}",
                case.code,
                hit.hint.as_deref().unwrap_or_default(),
                scenarios,
                show(&after)
            ));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Every code given at a `.hint(…)`, `with_hint(…)` or `Hint::new(…)` in src/, which must be
/// a string literal (so that this scan sees every one).
fn codes_in_source() -> Vec<(String, String)> {
    let call = regex::Regex::new(r"(?:\.hint|\bwith_hint|\bHint::new)\(").unwrap();
    let literal = regex::Regex::new(r#"^\(\s*"([a-z0-9-]+)""#).unwrap();
    let mut found = Vec::new();
    let mut stack = vec![common_root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs_err::read_to_string(&path).unwrap();
            for m in call.find_iter(&text) {
                let before = &text[..m.start()];
                if before.trim_end().ends_with("fn") || before.ends_with("fn ") {
                    continue; // the definition itself
                }
                let line = before.matches('\n').count() + 1;
                let at = format!("{}:{line}", path.strip_prefix(common_root()).unwrap().display());
                match literal.captures(&text[m.end() - 1..]) {
                    Some(c) => found.push((c[1].to_owned(), at)),
                    None => found.push((String::new(), at)),
                }
            }
        }
    }
    found
}

fn common_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_diagnostic_code_in_the_source_has_a_case_and_is_used_once() {
    let found = codes_in_source();
    let unnamed: Vec<&String> =
        found.iter().filter(|(code, _)| code.is_empty()).map(|(_, at)| at).collect();
    assert!(unnamed.is_empty(), "a hint without a literal code at {unnamed:?}");
    let mut seen = BTreeSet::new();
    let twice: Vec<&(String, String)> =
        found.iter().filter(|(code, _)| !seen.insert(code.clone())).collect();
    assert!(twice.is_empty(), "codes used at more than one place: {twice:?}");
    // Cases on a platform that cannot build their input still count as written.
    let mut covered: BTreeSet<&str> = cases().iter().map(|c| c.code).collect();
    covered.extend(["symlink-outside", "symlink-loop", "unreadable-file", "not-a-regular-file"]);
    let missing: Vec<&(String, String)> =
        found.iter().filter(|(code, _)| !covered.contains(code.as_str())).collect();
    assert!(missing.is_empty(), "diagnostic codes with no case in this file: {missing:?}");
    let stale: Vec<&&str> = covered.iter().filter(|c| !seen.contains(**c)).collect();
    assert!(stale.is_empty(), "cases for codes no longer in the source: {stale:?}");
    assert!(
        found.len() >= 60,
        "the scan found only {} codes: is it still reading src/?",
        found.len()
    );
}
