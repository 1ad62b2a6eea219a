//! The execution engine: plans, schedules and runs scenarios, and emits typed events.

mod event;
mod exit_code;
mod outcome;
mod summary;

pub use event::{AgentPlan, CancelReason, RunEvent};
pub use exit_code::ExitCode;
pub use outcome::{CheckResult, Outcome, Role, Status, TranscriptEntry, Usage, Verdict};
pub use summary::{RunSummary, StatusCounts};
