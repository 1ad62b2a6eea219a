//! The process exit codes (design §4) and a run's comparison with its baseline, as data. The
//! policy that decides a run's code is the engine's (`engine::ExitPolicy`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Status;
use crate::scenario::Priority;

/// Every exit code rogue-runner uses. The numbers are a contract: see the README table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ExitCode {
    /// Every selected scenario passed (or was skipped for a reason that is not a failure).
    Success = 0,
    /// At least one scenario failed: a quality verdict.
    Failures = 1,
    /// Usage, configuration or scenario validation error: nothing ran.
    Usage = 2,
    /// Aborted by fail-fast: failed P0 verdicts put the pass rate out of reach.
    FailFast = 3,
    /// The cost budget (`--max-cost`) was exhausted.
    Budget = 4,
    /// Nothing failed, but at least one scenario errored (agent or judge unreachable).
    InfraErrors = 5,
    /// Nothing failed or errored, but some scenarios could not be fully assessed (no judge for
    /// their rubric, field checks on prose, only timing checked); `--allow-unassessed` accepts
    /// them.
    Unassessed = 6,
    /// Interrupted by Ctrl-C (SIGINT); the reports are written.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); the reports are written, as for Ctrl-C.
    Terminated = 143,
    /// Stopped by SIGHUP (128 + 1); the reports are written, as for Ctrl-C.
    HungUp = 129,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit code a number stands for (as stored in `results.json`); unknown numbers are
    /// usage errors.
    pub fn from_code(code: i32) -> Self {
        [
            ExitCode::Success,
            ExitCode::Failures,
            ExitCode::FailFast,
            ExitCode::Budget,
            ExitCode::InfraErrors,
            ExitCode::Unassessed,
            ExitCode::Interrupted,
            ExitCode::Terminated,
            ExitCode::HungUp,
        ]
        .into_iter()
        .find(|c| c.code() == code)
        .unwrap_or(ExitCode::Usage)
    }
}

/// This run compared with a recorded baseline run (`--baseline`): what newly fails, what got
/// fixed, what still fails, what is flaky. A scenario is failing when it failed or errored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BaselineComparison {
    /// The baseline run's id; absent when no finished run was recorded (every failure is new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_run: Option<String>,
    /// True under `--fail-on-regressions-only`: only newly failing scenarios fail the run.
    pub gating: bool,
    /// Failing now; passed, unassessed, skipped or absent in the baseline.
    pub newly_failing: Vec<ScenarioChange>,
    /// Failing in the baseline, passed now.
    pub fixed: Vec<ScenarioChange>,
    /// Failing in both.
    pub still_failing: Vec<ScenarioChange>,
    /// Verdict changed at least twice over the recent runs.
    pub flaky: Vec<FlakyScenario>,
}

/// One scenario whose status matters to a baseline comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioChange {
    pub id: String,
    pub priority: Priority,
    /// Its status in the baseline; absent when the baseline did not have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Status>,
    pub after: Status,
    /// This run's first reason (the baseline's for fixed scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub flaky: bool,
}

/// A scenario whose verdict keeps changing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlakyScenario {
    pub id: String,
    pub priority: Priority,
    /// Changes of verdict within the window.
    pub flips: usize,
    /// One letter per run, oldest first: `P` passed, `F` failed, `E` error, `S` skipped,
    /// `.` not in that run.
    pub history: String,
}
