//! Which agent each scenario talks to, in which order (design §3, §4).

use std::collections::BTreeMap;

use crate::scenario::{AgentSource, Scenario};

/// How agent names become URLs, first match wins: `--agent NAME=URL`, the scenario's or file
/// header's own URL, then `{rogue_server}/a2a/{name}`. An `--agent` URL may contain `{agent}`,
/// replaced by the agent's name (`--agent '*=http://host:9000/a2a/{agent}'`).
#[derive(Debug, Clone, Default)]
pub struct AgentRouting {
    /// `--agent NAME=URL`; the name `*` matches every agent.
    pub overrides: BTreeMap<String, String>,
    /// Base URL of the A2A service (`--rogue-server`).
    pub rogue_server: String,
    /// Where scenarios that name no agent go (Rogue files, files without an agent header),
    /// unless `--agent default=URL` or `*` is given.
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

/// The name of the agent of scenarios that name none (Rogue files, files without an agent
/// header): `--agent default=URL` routes them (as `*` does, but only them).
pub const DEFAULT_AGENT_NAME: &str = "default";

/// The placeholder an `--agent` URL may contain for the agent's name.
pub const AGENT_PLACEHOLDER: &str = "{agent}";

/// A scenario file whose own agent URL wins over `--rogue-server` for its scenarios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderOverride {
    pub file: std::path::PathBuf,
    pub url: String,
    /// Scenarios of the file that go to `url`.
    pub scenarios: usize,
}

/// `--agent NAME=URL` names agents no selected scenario talks to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--agent names {} no selected scenario talks to: {}; known agents: {}",
    if unknown.len() == 1 { "an agent" } else { "agents" },
    unknown.join(", "),
    if known.is_empty() { "none (the selected scenarios name no agent; use `*` or `default`)".to_owned() } else { known.join(", ") }
)]
pub struct UnknownAgents {
    pub unknown: Vec<String>,
    pub known: Vec<String>,
}

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

    /// `--agent` names that match no agent of `scenarios` (`*` always matches, and
    /// [`DEFAULT_AGENT_NAME`] matches the scenarios that name no agent), with the names that
    /// would have.
    pub fn check_overrides(&self, scenarios: &[Scenario]) -> Result<(), UnknownAgents> {
        let known: std::collections::BTreeSet<&str> =
            scenarios
                .iter()
                .map(|s| {
                    if s.agent.name.is_empty() { DEFAULT_AGENT_NAME } else { s.agent.name.as_str() }
                })
                .collect();
        let unknown: Vec<String> = self
            .overrides
            .keys()
            .filter(|name| *name != "*" && !known.contains(name.as_str()))
            .cloned()
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(UnknownAgents { unknown, known: known.into_iter().map(str::to_owned).collect() })
    }

    /// The files whose own agent URL (the file header's or a scenario's) wins over
    /// `--rogue-server`, where it differs from the URL `--rogue-server` would give.
    pub fn header_overrides(&self, scenarios: &[Scenario]) -> Vec<HeaderOverride> {
        let mut found: BTreeMap<(std::path::PathBuf, String), usize> = BTreeMap::new();
        for scenario in scenarios {
            let name = &scenario.agent.name;
            if name.is_empty()
                || self.overrides.contains_key(name)
                || self.overrides.contains_key("*")
            {
                continue;
            }
            let Some((_, url)) = self.resolve(scenario) else { continue };
            if url != self.server_url(name) {
                *found.entry((scenario.source.file.clone(), url)).or_default() += 1;
            }
        }
        found
            .into_iter()
            .map(|((file, url), scenarios)| HeaderOverride { file, url, scenarios })
            .collect()
    }

    fn server_url(&self, name: &str) -> String {
        format!("{}/a2a/{name}", self.rogue_server.trim_end_matches('/'))
    }

    fn resolve(&self, scenario: &Scenario) -> Option<(String, String)> {
        let name = &scenario.agent.name;
        if name.is_empty() {
            let url = self
                .overrides
                .get(DEFAULT_AGENT_NAME)
                .or_else(|| self.overrides.get("*"))
                .or(self.unassigned.as_ref())?;
            if url.contains(AGENT_PLACEHOLDER) {
                return Some((
                    DEFAULT_AGENT_NAME.to_owned(),
                    url.replace(AGENT_PLACEHOLDER, DEFAULT_AGENT_NAME),
                ));
            }
            // `…/a2a/{name}` names the agent; anything else is the default agent.
            let name = url
                .rsplit_once("/a2a/")
                .map(|(_, n)| n.trim_end_matches('/'))
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .unwrap_or(DEFAULT_AGENT_NAME);
            return Some((name.to_owned(), url.clone()));
        }
        if let Some(url) = self.overrides.get(name).or_else(|| self.overrides.get("*")) {
            return Some((name.clone(), url.replace(AGENT_PLACEHOLDER, name)));
        }
        if let Some(url) = &scenario.agent.url
            && scenario.agent.resolved_from != AgentSource::IdPrefix
        {
            return Some((name.clone(), url.trim_end_matches('/').to_owned()));
        }
        Some((name.clone(), self.server_url(name)))
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
