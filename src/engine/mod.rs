//! The execution engine: plans, schedules and runs scenarios, and emits typed events.

mod cache;
pub mod estimate;
mod executor;
mod exit_code;
mod plan;
mod policy;
mod runner;
mod seam;
mod summary;

pub(crate) use cache::lookup_hits;
pub use cache::{CacheHit, CacheQuery, ResultCache};
pub use estimate::{
    Assumptions, BudgetGuard, ScenarioEstimate, SelectionEstimate, estimate_scenario,
};
pub use exit_code::{BaselineGate, ExitDecision, ExitPolicy, StopSignal};
pub use plan::{
    AGENT_PLACEHOLDER, AgentRouting, AgentTarget, DEFAULT_AGENT_NAME, HeaderOverride, Plan,
    PlannedScenario, UnknownAgents, UnroutedScenarios,
};
pub use policy::{FailFast, MaxFail};
pub use runner::{RunOptions, Runner, SCENARIO_LOG_TARGET, StopSignalCell};
pub use seam::{AgentProbe, Backend, ScenarioExecutor};
pub use summary::{summarize, summarize_with_policy};
