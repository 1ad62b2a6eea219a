//! A bare list of scenarios with no header: read with a warning, each item in the dialect it
//! is written in (a Rogue item has `scenario`, anything else is read as Genesis).

use super::dialect::{FileDialect, file_stem};
use super::file_context::FileContext;
use super::genesis::{self, FileDefaults};
use super::node::Node;
use super::{Dialect, Layout, Placement, Scenario, rogue};

/// The [`FileDialect`] of a file that is a list.
#[derive(Debug)]
pub(crate) struct Headerless;

impl FileDialect for Headerless {
    fn detect(&self, root: &Node) -> bool {
        root.as_seq().is_some()
    }

    fn normalize(&self, ctx: &mut FileContext<'_>, root: &Node) -> (Option<Layout>, Vec<Scenario>) {
        let items = root.as_seq().unwrap_or_default();
        ctx.warning(root.pos, "the file is a bare list of scenarios with no header").hint(
            "bare-list",
            "add a header above the list: a line `agent: qa_agent` (its agent) and a line `scenarios:`",
        );
        let defaults = FileDefaults::default();
        let stem = file_stem(ctx.display);
        let scenarios = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                if item.get("scenario").is_some() {
                    rogue::normalize(ctx, item, i, &stem, None)
                } else {
                    let layout = Layout::new(genesis::dialect_of(item), Placement::Bare);
                    genesis::normalize(ctx, item, i, layout, &defaults)
                }
            })
            .collect::<Vec<_>>();
        genesis::warn_unassigned(ctx, items, &scenarios);
        // The items may mix dialects: the file is labelled by its first.
        let dialect = items.first().map_or(Dialect::GenesisA, |item| {
            if item.get("scenario").is_some() { Dialect::Rogue } else { genesis::dialect_of(item) }
        });
        (Some(Layout::new(dialect, Placement::Bare)), scenarios)
    }
}
