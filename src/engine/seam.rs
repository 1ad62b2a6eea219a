//! What the runner calls out to: the agents' check before anything is scheduled, and the
//! execution of one planned scenario (conversation, checks, judging). Everything else a run
//! does (ordering, slots, fail-fast, `--max-fail`, the budget, cancellation, the cache) is the
//! runner's own, so a test can drive the real scheduler with fakes behind these two traits:
//! no sockets, and under paused tokio time no real waiting (see `tests/runner_steps.rs`).

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc::UnboundedReceiver;

use super::PlannedScenario;
use super::executor::{ExecContext, execute_bounded};
use crate::agent::AgentClient;
use crate::model::Outcome;

/// Checks that an agent answers, once per URL, before any scenario is scheduled.
pub trait AgentProbe: Send + Sync + fmt::Debug {
    /// Checks `plan.agents[agent]`: its agent card when it has one (A2A), or why it cannot be
    /// reached (the runner scrubs known secrets from the message). The future is spawned, so
    /// it owns what it needs.
    fn probe(&self, agent: usize) -> BoxFuture<'static, Result<Option<serde_json::Value>, String>>;
}

/// Runs one planned scenario to its outcome: the conversation with its agent, the
/// deterministic checks and the judge's ruling. It never decides whether a scenario starts or
/// stops; the runner does, and drops the future when the run is stopped.
pub trait ScenarioExecutor: Send + Sync + fmt::Debug {
    /// The outcome of `planned`, whose agent is named `agent`. A panic inside becomes the
    /// scenario's `error` outcome (the runner catches it).
    fn execute<'a>(
        &'a self,
        planned: &'a PlannedScenario,
        agent: &'a str,
    ) -> BoxFuture<'a, Outcome>;
}

/// The runner's outside world for one run (see [`super::Runner::run_with`]).
#[derive(Debug)]
pub struct Backend {
    pub probe: Arc<dyn AgentProbe>,
    pub executor: Arc<dyn ScenarioExecutor>,
    /// Long waits inside running scenarios, `(id, message)` (a judge's Retry-After), shown on
    /// the progress line; `None` when the executor never waits that long.
    pub waits: Option<UnboundedReceiver<(String, String)>>,
}

/// The real agents: one client per planned agent (agents at one URL share a client), the
/// judge and the Rogue evaluator in `ctx`.
#[derive(Debug)]
pub(crate) struct LiveAgents {
    pub(crate) clients: Vec<AgentClient>,
    pub(crate) ctx: Arc<ExecContext>,
}

impl AgentProbe for LiveAgents {
    fn probe(&self, agent: usize) -> BoxFuture<'static, Result<Option<serde_json::Value>, String>> {
        let client = self.clients[agent].clone();
        Box::pin(
            async move { client.probe().await.map(|info| info.card).map_err(|e| e.to_string()) },
        )
    }
}

impl ScenarioExecutor for LiveAgents {
    fn execute<'a>(
        &'a self,
        planned: &'a PlannedScenario,
        agent: &'a str,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(execute_bounded(&planned.scenario, agent, &self.clients[planned.agent], &self.ctx))
    }
}
