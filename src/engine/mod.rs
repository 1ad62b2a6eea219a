//! The execution engine: plans, schedules and runs scenarios, and emits typed events.

mod cache;
mod event;
mod executor;
mod exit_code;
mod outcome;
mod plan;
mod policy;
mod runner;
mod seam;
mod summary;

pub(crate) use cache::lookup_hits;
pub use cache::{CacheHit, CacheQuery, ResultCache};
pub use event::{AgentPlan, CancelReason, RunEvent};
pub(crate) use executor::needs_judge;
pub use exit_code::{
    BaselineComparison, BaselineGate, ExitCode, ExitDecision, ExitPolicy, FlakyScenario,
    ScenarioChange, StopSignal,
};
pub use outcome::{
    CacheKind, CheckResult, JudgeRuling, Outcome, Role, Status, TranscriptEntry, Usage, Verdict,
};
pub use plan::{
    AGENT_PLACEHOLDER, AgentRouting, AgentTarget, DEFAULT_AGENT_NAME, HeaderOverride, Plan,
    PlannedScenario, UnknownAgents, UnroutedScenarios,
};
pub use policy::{FailFast, MaxFail};
pub use runner::{RunOptions, Runner, StopSignalCell, http_client};
pub use seam::{AgentProbe, Backend, ScenarioExecutor};
pub use summary::{CacheStats, RunSummary, StatusCounts};
