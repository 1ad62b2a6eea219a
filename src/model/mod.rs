//! The shared vocabulary of a run, at the bottom of the layers: what happened to a scenario
//! (`Outcome`, `Status`, `TranscriptEntry`, `Usage`, `JudgeRuling`), what a run emits
//! (`RunEvent`) and ends with (`RunSummary`, `ExitCode`), and what its LLM calls cost, as data
//! (`ModelUsage`, `CostBreakdown`).
//!
//! Data only, with the small methods that read it. Whoever *produces* these values — the
//! engine deciding an exit code, the cost layer pricing a call, the judge ruling — lives
//! above and imports from here, so every layer can speak the same types without importing
//! each other (see docs/architecture.md).

mod cost;
mod event;
mod exit_code;
mod outcome;
mod summary;

pub use cost::{CostBreakdown, CostGroup, LlmRole, ModelUsage, PICO_PER_USD, usd};
pub use event::{AgentPlan, CancelReason, RunEvent};
pub use exit_code::{BaselineComparison, ExitCode, FlakyScenario, ScenarioChange};
pub use outcome::{
    CacheKind, CheckResult, JudgeRuling, Outcome, Role, Status, TranscriptEntry, Usage, Verdict,
};
pub use summary::{CacheStats, RunSummary, StatusCounts};
