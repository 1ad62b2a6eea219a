//! Which scenarios a command works on: priority, category, tag and id-glob filters.
//! Values within one filter are alternatives; different filters must all match.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Partition, Priority, Scenario};

/// A validated set of filters. The empty selection matches everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    priorities: Vec<Priority>,
    categories: Vec<String>,
    tags: Vec<String>,
    ids: Option<GlobSet>,
    partition: Option<Partition>,
}

/// An `--id` pattern that is not a valid glob.
#[derive(Debug, thiserror::Error)]
#[error("invalid --id pattern `{pattern}`: {reason}")]
pub struct InvalidPattern {
    pub pattern: String,
    pub reason: String,
}

impl Selection {
    pub fn new(
        priorities: Vec<Priority>,
        categories: Vec<String>,
        tags: Vec<String>,
        id_patterns: &[String],
    ) -> Result<Self, InvalidPattern> {
        let ids = if id_patterns.is_empty() {
            None
        } else {
            let mut builder = GlobSetBuilder::new();
            for pattern in id_patterns {
                let glob = Glob::new(pattern).map_err(|e| InvalidPattern {
                    pattern: pattern.clone(),
                    reason: e.kind().to_string(),
                })?;
                builder.add(glob);
            }
            Some(builder.build().map_err(|e| InvalidPattern {
                pattern: id_patterns.join(","),
                reason: e.to_string(),
            })?)
        };
        Ok(Selection { priorities, categories, tags, ids, partition: None })
    }

    /// Keep only this shard's scenarios (applied after the other filters).
    #[must_use]
    pub fn with_partition(mut self, partition: Option<Partition>) -> Self {
        self.partition = partition;
        self
    }

    /// The `--partition` shard, if any.
    pub fn partition(&self) -> Option<Partition> {
        self.partition
    }

    pub fn matches(&self, scenario: &Scenario) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&scenario.priority))
            && (self.categories.is_empty() || self.categories.contains(&scenario.category))
            && (self.tags.is_empty() || self.tags.iter().any(|t| scenario.tags.contains(t)))
            && self.ids.as_ref().is_none_or(|ids| ids.is_match(&scenario.id))
            && self.partition.is_none_or(|p| p.contains(&scenario.id))
    }

    /// Keep the matching scenarios.
    pub fn apply(&self, scenarios: Vec<Scenario>) -> Vec<Scenario> {
        scenarios.into_iter().filter(|s| self.matches(s)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.priorities.is_empty()
            && self.categories.is_empty()
            && self.tags.is_empty()
            && self.ids.is_none()
            && self.partition.is_none()
    }
}
