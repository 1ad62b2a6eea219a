//! The engine's side of the result cache: a lookup made once, after the agents are checked
//! and before anything is scheduled. The store implements it (`store::RunCache`); the engine
//! only reports what comes back, so it never depends on the store.

use std::fmt;

use super::AgentTarget;
use crate::model::Outcome;
use crate::scenario::Scenario;

/// One scenario that would need a conversation, with what its cache key depends on.
#[derive(Debug, Clone, Copy)]
pub struct CacheQuery<'a> {
    pub scenario: &'a Scenario,
    pub agent: &'a AgentTarget,
    /// The agent card fetched by the check, when the agent has one (A2A).
    pub card: Option<&'a serde_json::Value>,
}

/// A result from an earlier run, reported as this run's outcome without a conversation
/// (an outcome hit: only for agents whose identity the run pins, see `store::Pinning`).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHit {
    /// Has `cached: true` and `cache: Some(CacheKind::Outcome)`.
    pub outcome: Outcome,
    /// What producing it cost when it ran (USD): the cost this run did not spend.
    pub saved_usd: f64,
}

/// Earlier results, by scenario. Lookups never fail: a cache that cannot answer misses. The
/// implementation decides which agents may be served at all (an unpinned agent always misses).
pub trait ResultCache: Send + Sync + fmt::Debug {
    /// One entry per query, in order.
    fn lookup(&self, queries: &[CacheQuery<'_>]) -> Vec<Option<CacheHit>>;
}

/// Looks up every scenario that would need a conversation (its agent answered the check and
/// it has something checkable), all at once. Returns one slot per planned scenario and the
/// number of misses.
pub(crate) fn lookup_hits(
    cache: &dyn ResultCache,
    plan: &super::Plan,
    agent_down: &[Option<String>],
    cards: &[Option<serde_json::Value>],
    judged: bool,
) -> (Vec<Option<CacheHit>>, usize) {
    let mut slots = Vec::new();
    let mut queries = Vec::new();
    for (index, planned) in plan.scenarios.iter().enumerate() {
        if agent_down[planned.agent].is_some()
            || super::executor::nothing_checkable(&planned.scenario, judged).is_some()
        {
            continue;
        }
        slots.push(index);
        queries.push(CacheQuery {
            scenario: &planned.scenario,
            agent: &plan.agents[planned.agent],
            card: cards[planned.agent].as_ref(),
        });
    }
    let mut hits: Vec<Option<CacheHit>> = vec![None; plan.scenarios.len()];
    let mut found = 0;
    for (index, hit) in slots.into_iter().zip(cache.lookup(&queries)) {
        found += usize::from(hit.is_some());
        hits[index] = hit;
    }
    (hits, queries.len() - found)
}
