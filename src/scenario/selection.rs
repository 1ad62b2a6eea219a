//! Which scenarios a command works on: priority, category, tag and id-glob filters, `-E`
//! expressions and `--rerun-failed`, then `--limit`/`--sample`, then `--partition`. Values
//! within one filter are alternatives; different filters (and the `-E` expressions) must all
//! match.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Partition, Priority, ResolvedFilter, Scenario};

/// A validated set of filters. The empty selection matches everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    priorities: Vec<Priority>,
    categories: Vec<String>,
    tags: Vec<String>,
    ids: Option<GlobSet>,
    /// The `-E` expressions, their `status()` already answered.
    filter: ResolvedFilter,
    /// `--rerun-failed`: only the scenarios that failed or errored in a recorded run.
    rerun: Option<Arc<Rerun>>,
    sampling: Sampling,
    partition: Option<Partition>,
}

/// What `--rerun-failed` reads from the store: the scenarios that failed or errored in the
/// recorded run(s) it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rerun {
    /// The run(s) read, as messages name them (`1a2b3c4d (2026-12-02 16:03:34)`).
    pub runs: Vec<String>,
    /// The ids that failed or errored there.
    pub ids: BTreeSet<String>,
}

/// How a matching selection is cut down for a quick smoke run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sampling {
    #[default]
    All,
    /// `--limit N`: the first N in the order a run takes them (P0, then P1, then P2; file
    /// order within a priority).
    Limit(usize),
    /// `--sample N --seed S`: N chosen at random, the same N for the same seed and the same
    /// matching scenarios (whatever order the files were found in).
    Sample { n: usize, seed: u64 },
}

impl Sampling {
    /// Keeps the chosen items, in their given order.
    pub fn apply<T: Borrow<Scenario>>(self, items: Vec<T>) -> Vec<T> {
        let keep: Vec<usize> = match self {
            Sampling::All => return items,
            Sampling::Limit(n) => {
                let mut order: Vec<usize> = (0..items.len()).collect();
                // Stable: within a priority, the order of the files, as `Plan::build` does.
                order.sort_by_key(|&i| items[i].borrow().priority);
                order.truncate(n);
                order
            }
            Sampling::Sample { n, seed } => {
                // Sampled from the id order, so that the discovery order does not matter.
                let mut order: Vec<usize> = (0..items.len()).collect();
                order.sort_by(|&a, &b| items[a].borrow().id.cmp(&items[b].borrow().id));
                let mut rng = fastrand::Rng::with_seed(seed);
                let n = n.min(order.len());
                // A partial Fisher-Yates shuffle: the first n places are the sample.
                for i in 0..n {
                    let j = rng.usize(i..order.len());
                    order.swap(i, j);
                }
                order.truncate(n);
                order
            }
        };
        let mut kept = vec![false; items.len()];
        for i in keep {
            kept[i] = true;
        }
        items.into_iter().zip(kept).filter_map(|(item, k)| k.then_some(item)).collect()
    }
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
        Ok(Selection {
            priorities,
            categories,
            tags,
            ids,
            filter: ResolvedFilter::default(),
            rerun: None,
            sampling: Sampling::All,
            partition: None,
        })
    }

    /// Also require the `-E` expressions.
    #[must_use]
    pub fn with_filter(mut self, filter: ResolvedFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Also require the scenario to be one that failed or errored in a recorded run.
    #[must_use]
    pub fn with_rerun(mut self, rerun: Option<Rerun>) -> Self {
        self.rerun = rerun.map(Arc::new);
        self
    }

    /// The `--rerun-failed` set, if any.
    pub fn rerun(&self) -> Option<&Rerun> {
        self.rerun.as_deref()
    }

    /// Cut the matching scenarios down (`--limit`, `--sample`) before sharding.
    #[must_use]
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    pub fn sampling(&self) -> Sampling {
        self.sampling
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

    /// Whether the filters and expressions (and the shard, if any) take this scenario; blind
    /// to `--limit` and `--sample`, which choose among the matching ones (see [`Self::apply`]).
    pub fn matches(&self, scenario: &Scenario) -> bool {
        self.matches_filters(scenario) && self.partition.is_none_or(|p| p.contains(&scenario.id))
    }

    fn matches_filters(&self, scenario: &Scenario) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&scenario.priority))
            && (self.categories.is_empty() || self.categories.contains(&scenario.category))
            && (self.tags.is_empty() || self.tags.iter().any(|t| scenario.tags.contains(t)))
            && self.ids.as_ref().is_none_or(|ids| ids.is_match(&scenario.id))
            && self.filter.matches(scenario)
            && self.rerun.as_ref().is_none_or(|r| r.ids.contains(&scenario.id))
    }

    /// Keep what a run selects: the matching scenarios, cut down by `--limit`/`--sample`,
    /// then this shard's share of those. Order is kept.
    pub fn apply<T: Borrow<Scenario>>(&self, scenarios: Vec<T>) -> Vec<T> {
        let matching: Vec<T> =
            scenarios.into_iter().filter(|s| self.matches_filters(s.borrow())).collect();
        let mut chosen = self.sampling.apply(matching);
        if let Some(p) = self.partition {
            chosen.retain(|s| p.contains(&s.borrow().id));
        }
        chosen
    }

    pub fn is_empty(&self) -> bool {
        self.priorities.is_empty()
            && self.categories.is_empty()
            && self.tags.is_empty()
            && self.ids.is_none()
            && self.filter.is_empty()
            && self.rerun.is_none()
            && self.sampling == Sampling::All
            && self.partition.is_none()
    }
}
