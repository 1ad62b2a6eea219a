//! The execution engine: plans, schedules and runs scenarios, and emits typed events.

mod cache;
mod event;
mod executor;
mod exit_code;
mod outcome;
mod plan;
mod policy;
mod runner;
mod summary;

pub use cache::{CacheHit, CacheQuery, ResultCache};
pub use event::{AgentPlan, CancelReason, RunEvent};
pub(crate) use executor::needs_judge;
pub use exit_code::ExitCode;
pub use outcome::{
    CacheKind, CheckResult, JudgeRuling, Outcome, Role, Status, TranscriptEntry, Usage, Verdict,
};
pub use plan::{
    AgentRouting, AgentTarget, DEFAULT_AGENT_NAME, Plan, PlannedScenario, UnroutedScenarios,
};
pub use policy::{FailFast, MaxFail};
pub use runner::{RunOptions, Runner, http_client};
pub use summary::{CacheStats, RunSummary, StatusCounts};
