//! `--partition hash:K/N`: split the selection into N disjoint shards for CI matrix jobs or
//! Kubernetes Indexed Jobs. Membership depends only on the scenario id (a stable FNV-1a hash),
//! so adding scenarios never moves the others and every shard agrees without coordination.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Scenario;

/// One shard of N, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub shard: u32,
    pub total: u32,
}

/// Why a `--partition` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --partition `{text}`: {reason}")]
pub struct InvalidPartition {
    pub text: String,
    pub reason: String,
}

impl Partition {
    /// Parse `hash:K/N`, or `hash:N` with K taken from `job_completion_index` + 1 (Kubernetes
    /// Indexed Jobs count from 0, shards from 1).
    pub fn parse(text: &str, job_completion_index: Option<&str>) -> Result<Self, InvalidPartition> {
        let err =
            |reason: &str| InvalidPartition { text: text.to_owned(), reason: reason.to_owned() };
        let spec = text
            .strip_prefix("hash:")
            .ok_or_else(|| err("only `hash:K/N` is supported (K from 1 to N)"))?;
        let (shard, total) = match spec.split_once('/') {
            Some((k, n)) => (
                k.trim().parse::<u32>().map_err(|_| err("K must be a whole number"))?,
                n.trim().parse::<u32>().map_err(|_| err("N must be a whole number"))?,
            ),
            None => {
                let total =
                    spec.trim().parse::<u32>().map_err(|_| err("N must be a whole number"))?;
                let index = job_completion_index.ok_or_else(|| {
                    err("`hash:N` takes K from JOB_COMPLETION_INDEX, which is not set")
                })?;
                let index = index
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| err("JOB_COMPLETION_INDEX is not a whole number"))?;
                (index + 1, total)
            }
        };
        if total == 0 || shard == 0 || shard > total {
            return Err(err("K must be between 1 and N, and N at least 1"));
        }
        Ok(Partition { shard, total })
    }

    /// Whether the scenario with this id belongs to this shard.
    pub fn contains(&self, id: &str) -> bool {
        (fnv1a(id.as_bytes()) % u64::from(self.total)) as u32 + 1 == self.shard
    }
}

impl FromStr for Partition {
    type Err = InvalidPartition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Partition::parse(s, None)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash:{}/{}", self.shard, self.total)
    }
}

/// What a shard of a partitioned run records about its plan (`results.json` `plan.partition`,
/// `events.jsonl` `run_started`), so that `merge` can tell a complete set of shards of one
/// plan from a missing, duplicated or foreign one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardInfo {
    /// This shard, counted from 1.
    pub shard: u32,
    /// How many shards the selection was split into (N of `hash:K/N`).
    pub of: u32,
    /// Scenarios selected before partitioning, over all shards.
    pub selected: usize,
    /// Digest of the whole selection before partitioning (see [`selection_digest`]); absent
    /// when the shard could not load its scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_digest: Option<String>,
    /// Why this shard ran nothing (its scenario files could not be loaded): the shard exited
    /// with code 2 and wrote this document so that `merge` sees it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ShardInfo {
    /// The shard `partition` of the full selection `selected` (before partitioning).
    pub fn of_selection(partition: Partition, selected: &[Scenario]) -> Self {
        ShardInfo {
            shard: partition.shard,
            of: partition.total,
            selected: selected.len(),
            selection_digest: Some(selection_digest(selected)),
            error: None,
        }
    }

    /// The `hash:K/N` this shard ran.
    pub fn partition(&self) -> Partition {
        Partition { shard: self.shard, total: self.of }
    }
}

/// blake3 over the sorted ids of `scenarios` with a digest of each one's content (everything
/// but where it was written: two checkouts in different directories plan the same run), as
/// 64 hex digits. Shards of one plan agree on it; a changed, added or removed scenario, or a
/// different filter, changes it.
pub fn selection_digest(scenarios: &[Scenario]) -> String {
    let mut items: Vec<(&str, String)> = scenarios
        .iter()
        .map(|s| {
            let mut value = serde_json::to_value(s).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.remove("source");
            }
            (s.id.as_str(), crate::digest::digest_hex(&value))
        })
        .collect();
    items.sort();
    let mut hasher = blake3::Hasher::new();
    for (id, content) in items {
        hasher.update(id.as_bytes());
        hasher.update(&[0]);
        hasher.update(content.as_bytes());
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex().to_string()
}

/// FNV-1a, 64 bit: tiny, stable across versions and platforms (part of the contract).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!("hash:2/3".parse(), Ok(Partition { shard: 2, total: 3 }));
        assert_eq!(Partition::parse("hash:4", Some("0")), Ok(Partition { shard: 1, total: 4 }));
        assert!(
            Partition::parse("hash:4", None).unwrap_err().reason.contains("JOB_COMPLETION_INDEX")
        );
        assert!("hash:0/3".parse::<Partition>().is_err());
        assert!("hash:4/3".parse::<Partition>().is_err());
        assert!("slice:1/3".parse::<Partition>().is_err());
    }

    #[test]
    fn membership_is_pinned() {
        // Changing the hash would move scenarios between shards of existing CI set-ups.
        assert_eq!(fnv1a(b"qa_p0_core_001"), 0x90ed_7702_8c37_313e);
    }

    proptest! {
        /// Every id lands in exactly one shard, for every N.
        #[test]
        fn shards_are_disjoint_and_complete(ids in prop::collection::vec("[a-z0-9_]{1,24}", 1..200), total in 1u32..12) {
            for id in &ids {
                let owners = (1..=total).filter(|k| Partition { shard: *k, total }.contains(id)).count();
                prop_assert_eq!(owners, 1);
            }
        }
    }
}
