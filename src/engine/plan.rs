//! Which agent each scenario talks to, in which order (design §3, §4).

use std::collections::BTreeMap;

use crate::scenario::{AgentSource, Scenario};

/// How agent names become URLs, first match wins: `--agent NAME=URL`, the scenario's or file
/// header's own URL, then `{rogue_server}/a2a/{name}`.
#[derive(Debug, Clone, Default)]
pub struct AgentRouting {
    /// `--agent NAME=URL`; the name `*` matches every agent.
    pub overrides: BTreeMap<String, String>,
    /// Base URL of the A2A service (`--rogue-server`).
    pub rogue_server: String,
    /// Where scenarios that name no agent go (Rogue files), unless `*` is given.
    pub unassigned: Option<String>,
}

/// One agent the run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTarget {
    pub name: String,
    pub url: String,
}

/// A scenario with its agent resolved.
#[derive(Debug, Clone)]
pub struct PlannedScenario {
    pub scenario: Scenario,
    /// Index into [`Plan::agents`].
    pub agent: usize,
}

/// The run's work, P0 first, file order within a priority.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub agents: Vec<AgentTarget>,
    pub scenarios: Vec<PlannedScenario>,
    /// Set when this plan is one shard of a partitioned selection (`--partition`).
    pub partition: Option<crate::scenario::ShardInfo>,
}

/// Scenarios that name no agent and have no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{count} scenario(s) name no agent (for example `{example}`)")]
pub struct UnroutedScenarios {
    pub count: usize,
    pub example: String,
}

/// The name given to scenarios that name no agent (Rogue files).
pub const DEFAULT_AGENT_NAME: &str = "default";

impl AgentRouting {
    /// Parse `NAME=URL`.
    pub fn parse_override(text: &str) -> Result<(String, String), String> {
        let (name, url) = text.split_once('=').ok_or_else(|| {
            format!("`{text}` is not NAME=URL (for example qa_agent=http://localhost:9001)")
        })?;
        let (name, url) = (name.trim(), url.trim());
        if name.is_empty() || url.is_empty() {
            return Err(format!("`{text}` is not NAME=URL: both parts are needed"));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        }
        Ok((name.to_owned(), url.trim_end_matches('/').to_owned()))
    }

    fn resolve(&self, scenario: &Scenario) -> Option<(String, String)> {
        let name = &scenario.agent.name;
        if name.is_empty() {
            let url = self.overrides.get("*").or(self.unassigned.as_ref())?;
            // `…/a2a/{name}` names the agent; anything else is the default agent.
            let name = url
                .rsplit_once("/a2a/")
                .map(|(_, n)| n.trim_end_matches('/'))
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .unwrap_or(DEFAULT_AGENT_NAME);
            return Some((name.to_owned(), url.clone()));
        }
        if let Some(url) = self.overrides.get(name).or_else(|| self.overrides.get("*")) {
            return Some((name.clone(), url.clone()));
        }
        if let Some(url) = &scenario.agent.url
            && scenario.agent.resolved_from != AgentSource::IdPrefix
        {
            return Some((name.clone(), url.trim_end_matches('/').to_owned()));
        }
        Some((name.clone(), format!("{}/a2a/{name}", self.rogue_server.trim_end_matches('/'))))
    }
}

impl Plan {
    /// Resolve every scenario's agent and order the work: P0, then P1, then P2.
    pub fn build(
        mut scenarios: Vec<Scenario>,
        routing: &AgentRouting,
    ) -> Result<Plan, UnroutedScenarios> {
        scenarios.sort_by_key(|s| s.priority);
        let mut plan = Plan::default();
        let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut unrouted = Vec::new();
        for scenario in scenarios {
            let Some((name, url)) = routing.resolve(&scenario) else {
                unrouted.push(scenario.id);
                continue;
            };
            let next = plan.agents.len();
            let agent = *index.entry((name.clone(), url.clone())).or_insert(next);
            if agent == next {
                plan.agents.push(AgentTarget { name, url });
            }
            plan.scenarios.push(PlannedScenario { scenario, agent });
        }
        match unrouted.first() {
            Some(example) => {
                Err(UnroutedScenarios { count: unrouted.len(), example: example.clone() })
            }
            None => Ok(plan),
        }
    }

    /// Scenarios per agent.
    pub fn per_agent(&self) -> Vec<usize> {
        let mut counts = vec![0; self.agents.len()];
        for s in &self.scenarios {
            counts[s.agent] += 1;
        }
        counts
    }
}
