//! The layer order of docs/architecture.md, enforced: every top-level module of `src/` may use
//! only the modules strictly below it. An import that goes up or sideways fails this test with
//! its file, line, edge and rule, and a new top-level module fails it until it is placed in
//! [`LAYERS`] on purpose.
//!
//! Dependency-free on purpose (no `syn`): comments and string literals are blanked out, then
//! every `crate::x`, `crate::{x, y}` and `super::…` path that climbs out of its top-level module
//! is an edge. That is all a module of this crate can name another by.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Bottom → top. A module may use only the modules before it. A listed module that does not
/// exist is allowed, an existing one that is not listed is not.
#[rustfmt::skip]
const LAYERS: &[&str] = &[
    // Bottom utilities: the redaction policy, secrets, text formatting, content digests.
    "redact",
    "secret",
    "text",
    "digest",
    // What a scenario is: loading, dialects, selection.
    "scenario",
    // The run's vocabulary: outcomes, events, summary, exit codes, cost as data.
    "model",
    // Behaviour, each layer over the ones before it.
    "cost",
    "http",
    "agent",
    "judge",
    "engine",
    "report",
    "store",
    // The dashboard: reads the store, renders pages.
    "serve",
    "demo",
    // One run as one library call: the pool, judge, budget and store built once.
    "session",
    "cli",
];

/// One import against the order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unplaced = [&self.from, &self.to].into_iter().find(|m| rank(m).is_none());
        let rule = match unplaced {
            Some(module) => format!("`{module}` is not in the layer table of tests/layering.rs"),
            None => {
                let below = LAYERS.iter().take_while(|m| **m != self.from).copied();
                format!(
                    "`{}` may use only the layers below it: {}",
                    self.from,
                    below.collect::<Vec<_>>().join(", ")
                )
            }
        };
        write!(f, "{}:{}: {} → {} ({rule})", self.file, self.line, self.from, self.to)
    }
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// `source` with comments, string, byte-string, raw-string and char literals replaced by
/// spaces (newlines kept, so that line numbers stay right). Lifetimes are kept.
fn blank_non_code(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if !ident_before
            && (c == 'r' || (c == 'b' && next == Some('r')))
            && raw_string_hashes(&chars, if c == 'b' { i + 2 } else { i + 1 }).is_some()
        {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = raw_string_hashes(&chars, start).unwrap_or(0);
            // Skip the prefix, the hashes and the opening quote.
            let mut j = start + hashes + 1;
            let closing: Vec<char> =
                std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while j < chars.len() && !chars[j..].starts_with(&closing) {
                j += 1;
            }
            let end = (j + closing.len()).min(chars.len());
            out.extend(chars[i..end].iter().map(|c| blank(*c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|c| blank(*c)));
            i = end;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The number of `#` of a raw string starting at `at` (after `r`/`br`), if one starts there.
fn raw_string_hashes(chars: &[char], at: usize) -> Option<usize> {
    let hashes = chars[at.min(chars.len())..].iter().take_while(|c| **c == '#').count();
    (chars.get(at + hashes) == Some(&'"')).then_some(hashes)
}

/// The module path of a file under `src/`: `engine/runner.rs` → `[engine, runner]`,
/// `engine/mod.rs` → `[engine]`, `redact.rs` → `[redact]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> =
        relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The first identifier of each item of a `{…}` group starting at `open` (the `{`), with its
/// byte offset: `{engine::Outcome, model::{A, B}, secret}` → engine, model, secret.
fn group_heads(code: &str, open: usize) -> Vec<(usize, String)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    let bytes = code.as_bytes();
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expecting = true,
            b if depth == 1 && expecting && (b.is_ascii_alphabetic() || b == b'_') => {
                let end = code[i..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(code.len(), |n| i + n);
                heads.push((i, code[i..end].to_owned()));
                expecting = false;
                i = end;
                continue;
            }
            b if !b.is_ascii_whitespace() && depth == 1 => expecting = false,
            _ => {}
        }
        i += 1;
    }
    heads
}

/// Every top-level module `code` (already blanked) names, with its byte offset, for a file at
/// `module_path`.
fn references(code: &str, module_path: &[String]) -> Vec<(usize, String)> {
    let crate_path = Regex::new(r"\bcrate\s*::\s*(\{|[A-Za-z_]\w*)").unwrap();
    let super_path = Regex::new(r"\b((?:super\s*::\s*)+)(\{|[A-Za-z_]\w*)").unwrap();
    let inline_mod = Regex::new(r"\bmod\s+[A-Za-z_]\w*\s*\{").unwrap();
    let super_word = Regex::new(r"\bsuper\b").unwrap();

    // Inline modules (`mod tests { … }`) are one level deeper for `super`.
    let inline: Vec<(usize, usize)> = inline_mod
        .find_iter(code)
        .map(|m| {
            let open = m.end() - 1;
            let mut depth = 0;
            let close = code[open..]
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(code.len(), |(n, _)| open + n);
            (open, close)
        })
        .collect();

    let mut found = Vec::new();
    let mut add = |capture: regex::Match<'_>| {
        if capture.as_str() == "{" {
            found.extend(group_heads(code, capture.start()));
        } else {
            found.push((capture.start(), capture.as_str().to_owned()));
        }
    };
    for c in crate_path.captures_iter(code) {
        add(c.get(1).unwrap());
    }
    for c in super_path.captures_iter(code) {
        let whole = c.get(0).unwrap();
        let supers = super_word.find_iter(c.get(1).unwrap().as_str()).count();
        let depth = module_path.len()
            + inline
                .iter()
                .filter(|(open, close)| *open < whole.start() && whole.start() < *close)
                .count();
        // Only a path that climbs to the crate root names a top-level module.
        if supers == depth {
            add(c.get(2).unwrap());
        }
    }
    found.retain(|(_, name)| name != "self" && name != "super" && name != "crate");
    found
}

/// The violations of one file, `relative` to `src/`.
fn check_source(relative: &Path, source: &str) -> Vec<Violation> {
    let path = module_path(relative);
    let Some(from) = path.first().cloned() else { return Vec::new() };
    if from == "lib" || from == "main" {
        return Vec::new();
    }
    let code = blank_non_code(source);
    let mut violations: Vec<Violation> = references(&code, &path)
        .into_iter()
        .filter(|(_, to)| *to != from)
        .filter(|(_, to)| match (rank(&from), rank(to)) {
            (Some(from), Some(to)) => to >= from,
            _ => true,
        })
        .map(|(offset, to)| Violation {
            file: format!("src/{}", relative.display()),
            line: code[..offset].matches('\n').count() + 1,
            from: from.clone(),
            to,
        })
        .collect();
    violations.sort_by_key(|v| v.line);
    violations.dedup();
    violations
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs_err::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_goes_down_the_layers() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files under {}", files.len(), src.display());
    let violations: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let source = fs_err::read_to_string(file).unwrap();
            check_source(file.strip_prefix(&src).unwrap(), &source)
        })
        .map(|v| v.to_string())
        .collect();
    assert!(
        violations.is_empty(),
        "{} import(s) against the layer order (docs/architecture.md):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_place_in_the_layers() {
    let lib = fs_err::read_to_string(src_dir().join("lib.rs")).unwrap();
    let declared =
        Regex::new(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*;").unwrap();
    let code = blank_non_code(&lib);
    let modules: Vec<&str> =
        declared.captures_iter(&code).map(|c| c.get(1).unwrap().as_str()).collect();
    assert!(modules.len() >= 10, "read only {modules:?} from src/lib.rs");
    let unplaced: Vec<&&str> = modules.iter().filter(|m| rank(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "module(s) {unplaced:?} of src/lib.rs are not in LAYERS (tests/layering.rs): place each \
         in the layer order on purpose, and in docs/architecture.md"
    );
}

#[test]
fn the_order_is_strict_so_no_cycle_can_pass() {
    // Edges may only go to a strictly lower rank of a total order: a cycle would need one
    // edge that goes up. That holds only if no module is listed twice.
    assert_eq!(LAYERS.iter().collect::<BTreeSet<_>>().len(), LAYERS.len(), "{LAYERS:?}");
}

#[test]
fn the_architecture_document_lists_the_same_order() {
    let doc =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let order = LAYERS.join(" → ");
    assert!(doc.contains(&order), "docs/architecture.md should state the order `{order}`");
}

// The checker's own tests: each proves it catches (or rightly ignores) one shape of import.

fn edges(file: &str, source: &str) -> Vec<String> {
    check_source(Path::new(file), source).iter().map(|v| format!("{}:{}", v.line, v.to)).collect()
}

#[test]
fn catches_an_upward_path() {
    let source = "use crate::model::Usage;\n\nfn f() { crate::report::render(); }\n";
    assert_eq!(edges("engine/runner.rs", source), ["3:report"]);
    let v = &check_source(Path::new("engine/runner.rs"), source)[0];
    assert_eq!(
        v.to_string().split(" (").next().unwrap(),
        "src/engine/runner.rs:3: engine → report"
    );
}

#[test]
fn catches_a_sideways_and_a_self_reference_is_fine() {
    assert_eq!(
        edges("agent/mod.rs", "use crate::agent::x;\nuse crate::agent::y;\n"),
        Vec::<String>::new()
    );
    assert_eq!(edges("agent/mod.rs", "use crate::judge::llm::usage;\n"), ["1:judge"]);
}

#[test]
fn catches_every_item_of_a_multiline_group() {
    let source = "use crate::{\n    model::Usage,\n    store::{digest_hex, Store},\n    cli,\n};\n";
    assert_eq!(edges("scenario/partition.rs", source), ["2:model", "3:store", "4:cli"]);
}

#[test]
fn catches_super_paths_that_climb_out_of_the_module() {
    // From src/cost/ledger.rs, `super::super` is the crate root.
    assert_eq!(edges("cost/ledger.rs", "use super::super::engine::Outcome;\n"), ["1:engine"]);
    // Inside `mod tests`, one more `super` is needed to get there.
    let nested =
        "mod tests {\n    use super::super::Pricing;\n    use super::super::super::judge::J;\n}\n";
    assert_eq!(edges("cost/ledger.rs", nested), ["3:judge"]);
    // `super::` within the module is not an edge.
    assert_eq!(
        edges("engine/runner.rs", "use super::{Plan, policy::MaxFail};\n"),
        Vec::<String>::new()
    );
}

#[test]
fn ignores_comments_strings_and_chars() {
    let source = concat!(
        "// see crate::cli::run\n",
        "/* crate::cli /* nested */ crate::store */\n",
        "const A: &str = \"crate::cli::x\";\n",
        "const B: &str = r#\"crate::cli \"quoted\" \"#;\n",
        "const C: char = '\"'; const D: &[u8] = b\"crate::cli\";\n",
        "fn f<'a>(x: &'a str) -> &'a str { crate::report::y(x) }\n",
    );
    assert_eq!(edges("engine/x.rs", source), ["6:report"]);
}

#[test]
fn a_module_missing_from_the_table_is_a_violation() {
    let found = check_source(Path::new("engine/x.rs"), "use crate::newthing::X;\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].to_string().contains("not in the layer table"), "{}", found[0]);
    let from_unknown = check_source(Path::new("newthing/mod.rs"), "use crate::redact::X;\n");
    assert_eq!(from_unknown.len(), 1, "an unplaced module is checked too");
}
