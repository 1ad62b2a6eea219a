//! Rogue's scenario files: `{"business_context"?: str, "scenarios": [{"scenario", …}]}`
//! (rogue_sdk `Scenario`, v0.6.4).

use std::collections::BTreeMap;

use serde_json::Value;

use super::dialect::{FileDialect, file_stem, nested_lists};
use super::fields::{key_pos, optional_text, required_text};
use super::file_context::FileContext;
use super::node::{Node, Typed};
use super::{
    AgentRef, AgentSource, Conversation, DescriptionRole, Dialect, Layout, Limits, Placement,
    Priority, Rubric, Scenario, ScenarioType, SourceLocation,
};

/// The [`FileDialect`] of Rogue files: a top-level `scenarios` list whose first item has
/// `scenario`, and no header holding a list of its own.
#[derive(Debug)]
pub(crate) struct Rogue;

impl FileDialect for Rogue {
    fn detect(&self, root: &Node) -> bool {
        root.as_map().is_some()
            && root
                .get("scenarios")
                .and_then(Node::as_seq)
                .and_then(<[Node]>::first)
                .is_some_and(|item| item.get("scenario").is_some())
            && nested_lists(root).is_empty()
    }

    fn normalize(&self, ctx: &mut FileContext<'_>, root: &Node) -> (Option<Layout>, Vec<Scenario>) {
        let items = root.get("scenarios").and_then(Node::as_seq).unwrap_or_default();
        let bc = root.get("business_context").and_then(Node::as_str);
        let stem = file_stem(ctx.display);
        let scenarios = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| normalize(ctx, item, i, &stem, bc))
            .collect();
        for (k, _) in root.as_map().unwrap_or_default() {
            let key = k.as_scalar_text().unwrap_or_default();
            if key != "scenarios" && key != "business_context" {
                ctx.warning(
                    k.pos,
                    format!("unknown top-level key `{key}` in a Rogue file is ignored"),
                );
            }
        }
        (Some(Layout::new(Dialect::Rogue, Placement::TopLevel)), scenarios)
    }
}

const KNOWN_KEYS: &[&str] = &[
    "scenario",
    "scenario_type",
    "expected_outcome",
    "dataset",
    "dataset_sample_size",
    "multi_turn",
    "max_turns",
    "available_kwargs",
    "file_path",
];

/// Normalize one Rogue scenario. Rogue has no ids: `<file-stem>#<n>` with `n` from 1.
pub(crate) fn normalize(
    ctx: &mut FileContext<'_>,
    item: &Node,
    index: usize,
    file_stem: &str,
    business_context: Option<&str>,
) -> Option<Scenario> {
    if item.as_map().is_none() {
        ctx.error(
            item.pos,
            format!("a Rogue scenario must be an object, found {}", item.describe()),
        )
        .hint("rogue-not-an-object", "each item needs at least `\"scenario\": \"…\"`");
        return None;
    }
    let errors_before = ctx.error_count();
    let text = required_text(ctx, item, "scenario", "the Rogue scenario");
    let scenario_type =
        optional_text(ctx, item, "scenario_type").unwrap_or_else(|| "policy".to_owned());
    if !["policy", "prompt_injection"].contains(&scenario_type.as_str()) {
        ctx.error(
            key_pos(item, "scenario_type"),
            format!("unknown scenario_type `{scenario_type}`"),
        )
        .hint("rogue-unknown-type", "Rogue knows `policy` and `prompt_injection`");
    }
    let expected_outcome =
        optional_text(ctx, item, "expected_outcome").map(|s| s.trim().to_owned());
    let multi_turn = match item.get("multi_turn").map(|n| (n, n.typed())) {
        None | Some((_, Some(Typed::Null))) => true,
        Some((_, Some(Typed::Bool(b)))) => b,
        Some((node, _)) => {
            ctx.error(
                node.pos,
                format!("`multi_turn` must be true or false, found {}", node.describe()),
            );
            true
        }
    };
    let max_turns = match item.get("max_turns").map(|n| (n, n.typed())) {
        None | Some((_, Some(Typed::Null))) => 10,
        Some((_, Some(Typed::Int(n)))) if (1..=100).contains(&n) => n as u32,
        Some((node, _)) => {
            ctx.error(
                node.pos,
                format!(
                    "`max_turns` must be a whole number from 1 to 100, found `{}`",
                    node.as_scalar_text().unwrap_or(node.describe())
                ),
            );
            10
        }
    };
    let mut metadata = BTreeMap::new();
    for (k, v) in item.as_map().unwrap_or_default() {
        let key = k.as_scalar_text().unwrap_or_default();
        match key {
            "dataset" | "dataset_sample_size" | "available_kwargs" | "file_path" => {
                if !v.is_null() {
                    metadata.insert(key.to_owned(), v.to_json());
                }
            }
            _ if KNOWN_KEYS.contains(&key) => {}
            _ => {
                ctx.warning(k.pos, format!("unknown key `{key}` is kept as metadata"));
                metadata.insert(key.to_owned(), v.to_json());
            }
        }
    }
    if let Some(bc) = business_context {
        metadata.insert("business_context".to_owned(), Value::String(bc.to_owned()));
    }
    if ctx.error_count() > errors_before {
        return None;
    }
    let text = text?;
    let scenario_type = (scenario_type != "policy").then(|| ScenarioType {
        dataset: metadata.get("dataset").and_then(Value::as_str).map(str::to_owned),
        dataset_sample_size: metadata.get("dataset_sample_size").and_then(Value::as_u64),
        name: scenario_type.clone(),
    });
    let conversation = if multi_turn {
        Conversation::Driven { goal: text.clone(), max_turns }
    } else {
        Conversation::Scripted { messages: vec![text.clone()] }
    };
    Some(Scenario {
        id: format!("{file_stem}#{}", index + 1),
        priority: Priority::P1,
        category: scenario_type.as_ref().map_or_else(|| "policy".to_owned(), |t| t.name.clone()),
        tags: Vec::new(),
        title: None,
        description: text,
        // Rogue's `scenario` states the policy the agent must keep.
        description_is: DescriptionRole::Policy,
        agent: AgentRef { name: String::new(), url: None, resolved_from: AgentSource::Default },
        conversation,
        payload: Value::Null,
        assertions: Vec::new(),
        rubric: Rubric {
            expected_outcome,
            business_context: business_context.map(str::to_owned),
            scenario_type,
            ..Rubric::default()
        },
        limits: Limits::default(),
        cost_estimate_usd: None,
        source: SourceLocation {
            file: ctx.path(),
            line: item.pos.line,
            col: item.pos.col,
            // A Rogue list is always top-level; in a bare list its items keep the `rogue`
            // label (the file is the one labelled `headerless`).
            layout: Layout::new(Dialect::Rogue, Placement::TopLevel),
            index,
        },
        metadata,
    })
}
