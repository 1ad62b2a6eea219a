//! Property tests: the loader never panics on arbitrary input, every diagnostic points inside
//! the file, and comparators read back what was written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

use std::path::Path;

use proptest::prelude::*;
use rogue_runner::scenario::comparator::{self, CmpOp, Comparator, ComparatorParse, Unit};
use rogue_runner::scenario::{LoadOptions, load_text};

fn check_no_panic(text: &str, is_json: bool) {
    let (_, scenarios, diagnostics) =
        load_text(Path::new("fuzz.yaml"), text, is_json, &LoadOptions::default());
    let lines = text.split(['\n', '\r']).count() as u32;
    for d in &diagnostics {
        assert!(d.line >= 1 && d.line <= lines, "line {} outside 1..={lines}: {d}", d.line);
        assert!(d.col >= 1, "{d}");
        assert!(!d.message.is_empty());
    }
    if diagnostics.iter().any(rogue_runner::scenario::Diagnostic::is_error) && scenarios.is_empty()
    {
        return;
    }
    for s in &scenarios {
        assert!(!s.id.is_empty());
    }
}

const YAML_ATOMS: &[&str] = &[
    "scenarios:",
    "- ",
    "  ",
    "id: ",
    "priority: ",
    "P0",
    "p1",
    "category: ",
    "input:",
    "expected_output:",
    "contains: [",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\t",
    ":",
    "&a ",
    "*a",
    "'",
    "\"",
    "#",
    "---",
    "|",
    ">=5",
    "<2s",
    "prompt: hi",
    "description: d",
    "agent: x",
    "yes",
    "010",
    "~",
    "!!str ",
    "!custom ",
    "\u{feff}",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check_no_panic(&text, false);
        check_no_panic(&text, true);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(atoms in prop::collection::vec(0..YAML_ATOMS.len(), 0..120)) {
        let text: String = atoms.iter().map(|&i| YAML_ATOMS[i]).collect();
        check_no_panic(&text, false);
    }

    #[test]
    fn comparators_read_back(op in 0..5usize, whole in 0u32..100_000, frac in 0u32..100, unit in 0..6usize) {
        let ops = ["<", "<=", ">", ">=", ""];
        let units = ["", "ms", "s", "%", "x", "h"];
        let number = f64::from(whole) + f64::from(frac) / 100.0;
        let text = format!("{}{number}{}", ops[op], units[unit]);
        let (parsed, _) = comparator::parse(&text);
        let ComparatorParse::Parsed(Comparator::Compare { op: got_op, value, unit: got_unit }) = parsed else {
            panic!("{text}: {parsed:?}");
        };
        let want_op = [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq][op];
        prop_assert_eq!(got_op, want_op);
        let (want_unit, scale) = match units[unit] {
            "ms" => (Unit::Millis, 1.0),
            "s" => (Unit::Millis, 1000.0),
            "h" => (Unit::Millis, 3_600_000.0),
            "%" => (Unit::Percent, 1.0),
            "x" => (Unit::Multiplier, 1.0),
            _ => (Unit::None, 1.0),
        };
        prop_assert_eq!(got_unit, want_unit);
        prop_assert!((value - number * scale).abs() < 1e-6 * (number * scale).max(1.0), "{} → {}", text, value);
    }

    #[test]
    fn ranges_accept_low_to_high_and_refuse_reversed(lo in 0u32..10_000, span in 1u32..10_000) {
        let hi = lo + span;
        let ok = comparator::parse(&format!("{lo}-{hi}")).0;
        prop_assert_eq!(ok, ComparatorParse::Parsed(Comparator::Range { lo: f64::from(lo), hi: f64::from(hi), unit: Unit::None }));
        let reversed = comparator::parse(&format!("{hi}-{lo}")).0;
        prop_assert!(matches!(reversed, ComparatorParse::Invalid(_)), "{:?}", reversed);
    }
}

/// Any tree of symlinks (to directories, ancestors, itself, files) is walked to the end, every
/// real file is loaded exactly once (no false duplicate ids), and the only diagnostics are
/// symlink-loop warnings.
#[cfg(unix)]
mod symlink_trees {
    use proptest::prelude::*;
    use rogue_runner::scenario::{LoadOptions, load_paths};

    const DIRS: &[&str] = &["", "a", "a/b", "c"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_file_loads_once_whatever_the_symlinks(
            links in prop::collection::vec((0..DIRS.len(), 0..DIRS.len() + 2), 0..8)
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("root");
            for dir in DIRS {
                fs_err::create_dir_all(root.join(dir)).unwrap();
            }
            let files: Vec<_> = DIRS.iter().enumerate().map(|(i, dir)| root.join(dir).join(format!("f{i}.yaml"))).collect();
            for (i, file) in files.iter().enumerate() {
                let text = format!("version: 1\nagent: a\nscenarios:\n  - id: s{i}\n    priority: P1\n    message: hi\n");
                fs_err::write(file, text).unwrap();
            }
            for (k, (from, to)) in links.iter().enumerate() {
                let (target, name) = match DIRS.get(*to) {
                    Some(dir) => (root.join(dir), format!("l{k}")),
                    None => (files[to - DIRS.len()].clone(), format!("l{k}.yaml")),
                };
                std::os::unix::fs::symlink(target, root.join(DIRS[*from]).join(name)).unwrap();
            }
            let report = load_paths(std::slice::from_ref(&root), &LoadOptions::default());
            prop_assert_eq!(report.files.len(), files.len());
            let mut ids: Vec<&str> = report.scenarios.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            prop_assert_eq!(ids, ["s0", "s1", "s2", "s3"]);
            for d in &report.diagnostics {
                prop_assert!(!d.is_error() && d.message.starts_with("symlink loop"), "{}", d);
            }
        }
    }
}
