//! The process exit codes (design §4). A CI gate must tell "the agent is wrong" (1) from
//! "the agent was unreachable" (5).

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
    /// Aborted by fail-fast: the P0 pass rate could no longer reach the threshold.
    FailFast = 3,
    /// The cost budget (`--max-cost`) was exhausted.
    Budget = 4,
    /// Nothing failed, but at least one scenario errored (agent or judge unreachable).
    InfraErrors = 5,
    /// Interrupted by Ctrl-C (SIGINT); the reports are written.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); the reports are written, as for Ctrl-C.
    Terminated = 143,
    /// Stopped by SIGHUP (128 + 1); the reports are written, as for Ctrl-C.
    HungUp = 129,
}

impl ExitCode {
    /// The exit code of a finished run. Precedence: interrupt, fail-fast, budget, failures,
    /// errors, success.
    pub fn for_run(counts: &super::StatusCounts, cancelled: Option<super::CancelReason>) -> Self {
        use super::CancelReason;
        match cancelled {
            Some(CancelReason::Interrupted) => ExitCode::Interrupted,
            Some(CancelReason::FailFast) => ExitCode::FailFast,
            Some(CancelReason::Budget) => ExitCode::Budget,
            Some(CancelReason::MaxFail) | None if counts.failed > 0 => ExitCode::Failures,
            _ if counts.error > 0 => ExitCode::InfraErrors,
            _ => ExitCode::Success,
        }
    }

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
            ExitCode::Interrupted,
            ExitCode::Terminated,
            ExitCode::HungUp,
        ]
        .into_iter()
        .find(|c| c.code() == code)
        .unwrap_or(ExitCode::Usage)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CancelReason, StatusCounts};
    use super::*;

    fn counts(passed: usize, failed: usize, error: usize, skipped: usize) -> StatusCounts {
        StatusCounts { total: passed + failed + error + skipped, passed, failed, error, skipped }
    }

    #[test]
    fn failures_outrank_errors() {
        assert_eq!(ExitCode::for_run(&counts(3, 1, 1, 0), None), ExitCode::Failures);
        assert_eq!(ExitCode::for_run(&counts(3, 0, 1, 0), None), ExitCode::InfraErrors);
        assert_eq!(ExitCode::for_run(&counts(3, 0, 0, 2), None), ExitCode::Success);
    }

    #[test]
    fn cancellation_reasons_have_their_own_codes() {
        let c = counts(1, 5, 0, 10);
        assert_eq!(ExitCode::for_run(&c, Some(CancelReason::FailFast)), ExitCode::FailFast);
        assert_eq!(ExitCode::for_run(&c, Some(CancelReason::Budget)), ExitCode::Budget);
        assert_eq!(ExitCode::for_run(&c, Some(CancelReason::Interrupted)), ExitCode::Interrupted);
        assert_eq!(ExitCode::for_run(&c, Some(CancelReason::MaxFail)), ExitCode::Failures);
        assert_eq!(ExitCode::Interrupted.code(), 130);
    }
}
