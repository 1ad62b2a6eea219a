//! The registry of input dialects: each one recognizes its files and maps them into the one
//! [`Scenario`] model.
//!
//! To add a dialect: write a type implementing [`FileDialect`] in a file of its own under
//! `src/scenario/` (with its `mod` line in `scenario/mod.rs`), and register it in
//! [`DIALECTS`].

use std::path::Path;

use super::file_context::FileContext;
use super::node::Node;
use super::{Layout, Scenario, genesis, headerless, native, rogue};

/// One input format.
pub(crate) trait FileDialect: Sync {
    /// Whether the parsed file `root` is written in this dialect. Cheap and silent: it only
    /// looks at the file's shape, and records no problem.
    fn detect(&self, root: &Node) -> bool;

    /// The file's scenarios, every problem recorded in `ctx`; no layout when the file is too
    /// malformed to have one.
    fn normalize(&self, ctx: &mut FileContext<'_>, root: &Node) -> (Option<Layout>, Vec<Scenario>);
}

/// Every dialect, asked in this order; the first that detects a file reads it.
const DIALECTS: &[&dyn FileDialect] = &[
    &native::Native,
    &headerless::Headerless,
    &rogue::Rogue,
    // Claims every other mapping, to say what its scenario list is missing: keep it last.
    &genesis::Genesis,
];

/// Read a parsed file with the first dialect that detects it.
pub(crate) fn normalize_root(
    ctx: &mut FileContext<'_>,
    root: &Node,
) -> (Option<Layout>, Vec<Scenario>) {
    if let Some(dialect) = DIALECTS.iter().find(|d| d.detect(root)) {
        return dialect.normalize(ctx, root);
    }
    ctx.error(
        root.pos,
        format!("expected a mapping with a `scenarios:` list, found {}", root.describe()),
    )
    .hint("root-not-a-mapping", "see `rogue-runner schema` for the format");
    (None, Vec::new())
}

/// The entries of a root mapping whose value holds a `scenarios` key (a header with its
/// scenario list nested inside), with their keys.
pub(crate) fn nested_lists(root: &Node) -> Vec<(&str, &Node)> {
    root.as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(_, v)| v.get("scenarios").is_some())
        .map(|(k, v)| (k.as_scalar_text().unwrap_or_default(), v))
        .collect()
}

/// The stem Rogue-style ids are made from: `<stem>#<n>`.
pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenarios").to_owned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{DescriptionRole, Layout, LoadOptions, load_text};

    /// The labels `validate --json` shows for the file and `list --json` for its scenarios.
    fn labels(text: &str) -> (Option<&'static str>, Vec<(&'static str, DescriptionRole)>) {
        let (layout, scenarios, diagnostics) =
            load_text(Path::new("s.yaml"), text, false, &LoadOptions::default());
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let scenarios =
            scenarios.iter().map(|s| (s.source.layout.as_str(), s.description_is)).collect();
        (layout.map(Layout::as_str), scenarios)
    }

    const GENESIS_A: &str = "id: a_1\npriority: P0\ncategory: c\ndescription: d\ninput: {prompt: hi}\nexpected_output: {contains: [hi]}\npolicy_checks: [polite]";
    const GENESIS_B: &str = "id: b_1\nname: n\npriority: P0\ncategory: c\ndescription: d\ninput: {prompt: hi}\nexpected_output: {contains: [hi]}\njudge: {criteria: [polite]}";

    fn indent(item: &str, by: &str) -> String {
        item.lines().map(|l| format!("{by}{l}")).collect::<Vec<_>>().join("\n")
    }

    fn item(item: &str, by: &str) -> String {
        let body = indent(item, &format!("{by}  "));
        format!("{by}- {}", body.trim_start())
    }

    #[test]
    fn each_dialect_claims_its_files_and_labels_them_as_before() {
        use DescriptionRole::{Context, Policy};
        let top = |i: &str| format!("agent: {{name: qa_agent}}\nscenarios:\n{}\n", item(i, ""));
        let nested =
            |i: &str| format!("qa_agent:\n  agent: qa_agent\n  scenarios:\n{}\n", item(i, "  "));
        assert_eq!(
            labels(&top(GENESIS_A)),
            (Some("genesis-a-top"), vec![("genesis-a-top", Context)])
        );
        assert_eq!(
            labels(&top(GENESIS_B)),
            (Some("genesis-b-top"), vec![("genesis-b-top", Context)])
        );
        assert_eq!(
            labels(&nested(GENESIS_A)),
            (Some("genesis-a-nested"), vec![("genesis-a-nested", Context)])
        );
        assert_eq!(
            labels(&nested(GENESIS_B)),
            (Some("genesis-b-nested"), vec![("genesis-b-nested", Context)])
        );
        assert_eq!(
            labels("business_context: shop\nscenarios:\n- scenario: never promise refunds\n"),
            (Some("rogue"), vec![("rogue", Policy)])
        );
        assert_eq!(
            labels(
                "version: 1\nagent: qa\nscenarios:\n- id: n_1\n  priority: P0\n  category: c\n  messages: [hi]\n  expect: {contains: [hi]}\n"
            ),
            (Some("native"), vec![("native", Context)])
        );
        // A bare list is `headerless`; its Rogue items keep the `rogue` label.
        let bare = format!("- scenario: never promise refunds\n{}\n", item(GENESIS_B, ""));
        let (file, scenarios) = labels(&bare);
        assert_eq!(file, Some("headerless"));
        assert_eq!(scenarios, [("rogue", Policy), ("headerless", Context)]);
    }

    #[test]
    fn a_file_no_dialect_claims_is_told_what_is_expected() {
        let (layout, scenarios, diagnostics) =
            load_text(Path::new("s.yaml"), "just text\n", false, &LoadOptions::default());
        assert_eq!((layout, scenarios.len()), (None, 0));
        assert_eq!(diagnostics.len(), 1);
        assert!(
            diagnostics[0].message.starts_with("expected a mapping with a `scenarios:` list"),
            "{}",
            diagnostics[0].message
        );
    }

    #[test]
    fn a_rogue_scenario_is_judged_on_its_text_alone() {
        let text = r#"{"scenarios": [{"scenario": "never promise refunds", "multi_turn": false}]}"#;
        let (_, scenarios, diagnostics) =
            load_text(Path::new("s.json"), text, true, &LoadOptions::default());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let s = &scenarios[0];
        // Nothing but its text says what to check: the judge must rule on it (without one it
        // is reported as needing a judge, not as stating no expectation).
        assert!(s.rubric.is_empty() && s.assertions.is_empty());
        assert!(matches!(s.conversation, super::super::Conversation::Scripted { .. }));
        assert!(s.needs_judge());
    }
}
