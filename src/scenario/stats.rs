//! Counts of a set of scenarios: by priority, category, agent and file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Priority, Scenario};

/// Per-priority counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PriorityCounts {
    #[serde(rename = "P0")]
    pub p0: usize,
    #[serde(rename = "P1")]
    pub p1: usize,
    #[serde(rename = "P2")]
    pub p2: usize,
    pub total: usize,
}

impl PriorityCounts {
    fn add(&mut self, priority: Priority) {
        match priority {
            Priority::P0 => self.p0 += 1,
            Priority::P1 => self.p1 += 1,
            Priority::P2 => self.p2 += 1,
        }
        self.total += 1;
    }
}

/// Counts of a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub total: usize,
    pub by_priority: PriorityCounts,
    pub by_category: BTreeMap<String, usize>,
    pub by_agent: BTreeMap<String, PriorityCounts>,
    pub by_file: BTreeMap<PathBuf, PriorityCounts>,
}

/// The name shown for scenarios whose agent the command line must supply (Rogue files).
pub const UNASSIGNED_AGENT: &str = "(unassigned)";

impl Stats {
    pub fn of<'a>(scenarios: impl IntoIterator<Item = &'a Scenario>) -> Self {
        let mut stats = Stats::default();
        for s in scenarios {
            stats.total += 1;
            stats.by_priority.add(s.priority);
            *stats.by_category.entry(s.category.clone()).or_default() += 1;
            let agent = if s.agent.name.is_empty() { UNASSIGNED_AGENT } else { &s.agent.name };
            stats.by_agent.entry(agent.to_owned()).or_default().add(s.priority);
            stats.by_file.entry(s.source.file.clone()).or_default().add(s.priority);
        }
        stats
    }
}
