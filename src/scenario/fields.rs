//! Typed reads of scenario fields with precise diagnostics.

use super::file_context::FileContext;
use super::node::{Node, NodeKind, Pos, Typed};

/// A required text field. Reports a missing field at the scenario's position and a wrong type
/// at the value.
pub(crate) fn required_text(
    ctx: &mut FileContext<'_>,
    item: &Node,
    key: &str,
    what: &str,
) -> Option<String> {
    match item.get(key) {
        None => {
            ctx.error(item.pos, format!("{what} is missing required field `{key}`"))
                .hint("missing-field", format!("add `{key}:` to {what}"));
            None
        }
        Some(value) => text_value(ctx, value, key),
    }
}

/// An optional text field.
pub(crate) fn optional_text(ctx: &mut FileContext<'_>, item: &Node, key: &str) -> Option<String> {
    let value = item.get(key)?;
    if value.is_null() {
        return None;
    }
    text_value(ctx, value, key)
}

/// A text value; numbers and booleans are refused (quote them to mean text).
pub(crate) fn text_value(ctx: &mut FileContext<'_>, value: &Node, key: &str) -> Option<String> {
    match value.typed() {
        Some(Typed::Str(s)) => Some(s.to_owned()),
        Some(_) => {
            let raw = value.as_scalar_text().unwrap_or_default();
            ctx.error(value.pos, format!("`{key}` must be text, found {}", value.describe()))
                .hint("not-text", format!("quote it: `{key}: \"{raw}\"`"));
            None
        }
        None => {
            ctx.error(value.pos, format!("`{key}` must be text, found {}", value.describe()));
            None
        }
    }
}

/// A list of text (a single text is accepted as a one-item list).
pub(crate) fn text_list(ctx: &mut FileContext<'_>, item: &Node, key: &str) -> Vec<String> {
    let Some(value) = item.get(key) else { return Vec::new() };
    match &value.kind {
        NodeKind::Scalar { .. } if value.is_null() => Vec::new(),
        NodeKind::Scalar { text, .. } => vec![text.clone()],
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Scalar { text, .. } => Some(text.clone()),
                _ => {
                    ctx.error(n.pos, format!("`{key}` items must be text, found {}", n.describe()));
                    None
                }
            })
            .collect(),
        NodeKind::Map(_) => {
            ctx.error(value.pos, format!("`{key}` must be a list of text, found a mapping"))
                .hint("list-is-a-mapping", format!("write `{key}: [first, second]`"));
            Vec::new()
        }
    }
}

/// A non-negative whole number.
pub(crate) fn optional_u64(ctx: &mut FileContext<'_>, item: &Node, key: &str) -> Option<u64> {
    let value = item.get(key)?;
    match value.typed() {
        Some(Typed::Int(i)) if i >= 0 => Some(i as u64),
        Some(Typed::Null) => None,
        _ => {
            ctx.error(
                value.pos,
                format!("`{key}` must be a whole number ≥ 0, found {}", value.describe()),
            );
            None
        }
    }
}

/// A mapping field that must be present and non-empty.
pub(crate) fn required_map<'n>(
    ctx: &mut FileContext<'_>,
    item: &'n Node,
    key: &str,
    what: &str,
) -> Option<&'n Node> {
    let Some(value) = item.get(key) else {
        ctx.error(item.pos, format!("{what} is missing required field `{key}`"))
            .hint("missing-mapping", format!("add a `{key}:` mapping to {what}"));
        return None;
    };
    match value.as_map() {
        Some([]) => {
            ctx.error(value.pos, format!("`{key}` is empty"))
                .hint("empty-mapping", format!("give `{key}` at least one entry"));
            None
        }
        Some(_) => Some(value),
        None => {
            ctx.error(value.pos, format!("`{key}` must be a mapping, found {}", value.describe()));
            None
        }
    }
}

/// A cost written as `"$0.02"`, `"$3e-05"` or `0.012`.
pub(crate) fn cost_usd(ctx: &mut FileContext<'_>, value: &Node) -> Option<f64> {
    let parsed = match value.typed() {
        Some(Typed::Int(i)) => Some(i as f64),
        Some(Typed::Float(f)) => Some(f),
        Some(Typed::Str(s)) => s.trim().trim_start_matches('$').trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed {
        Some(cost) if cost.is_finite() && cost >= 0.0 => Some(cost),
        _ => {
            let raw = value.as_scalar_text().unwrap_or_default();
            ctx.warning(
                value.pos,
                format!("cannot read `{raw}` as a cost in USD; it is kept as metadata"),
            )
            .hint("cost-unreadable", "write it as `0.02` or `\"$0.02\"`");
            None
        }
    }
}

/// The position of a key within a mapping (falls back to the mapping).
pub(crate) fn key_pos(item: &Node, key: &str) -> Pos {
    item.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_scalar_text() == Some(key)))
        .map_or(item.pos, |(k, _)| k.pos)
}
