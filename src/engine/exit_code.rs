//! The one policy that decides a run's exit code (the codes are `model::ExitCode`). A CI gate
//! must tell "the agent is wrong" (1) from "the agent was unreachable" (5) and from "nothing
//! proved the agent right" (6).
//!
//! The code is decided once, in the engine, before the run's last event reaches the reporters:
//! every report shows the same number and the same reason.

use std::fmt;
use std::sync::Arc;

use crate::model::{BaselineComparison, CancelReason, ExitCode, Outcome, Status, StatusCounts};

/// A run's exit code and the one sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitDecision {
    pub code: ExitCode,
    /// Why, without the code: `3 scenarios failed`.
    pub reason: String,
}

/// Compares a run's outcomes with a recorded baseline run (the store implements it).
pub trait BaselineGate: Send + Sync + fmt::Debug {
    /// The comparison of `outcomes` (this run) with the baseline.
    fn compare(&self, outcomes: &[&Outcome]) -> Result<BaselineComparison, String>;
}

/// What stopped a run from outside: the signal behind the cancellation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C (SIGINT): exit 130.
    Interrupt,
    /// SIGTERM (CI systems, Kubernetes, `timeout`): exit 143.
    Terminate,
    /// SIGHUP (the terminal went away): exit 129.
    Hangup,
}

impl StopSignal {
    /// The exit code of a run this signal stopped.
    pub fn exit_code(self) -> ExitCode {
        match self {
            StopSignal::Interrupt => ExitCode::Interrupted,
            StopSignal::Terminate => ExitCode::Terminated,
            StopSignal::Hangup => ExitCode::HungUp,
        }
    }

    /// How the exit reason names the signal.
    fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "interrupted",
            StopSignal::Terminate => "terminated (SIGTERM)",
            StopSignal::Hangup => "hung up (SIGHUP)",
        }
    }

    /// The message of the `RunCancelled` event this signal causes.
    pub(crate) fn message(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "interrupted: no new scenarios were started",
            StopSignal::Terminate => "terminated (SIGTERM): no new scenarios were started",
            StopSignal::Hangup => "hung up (SIGHUP): no new scenarios were started",
        }
    }
}

/// Everything that decides a run's exit code besides its outcomes.
#[derive(Debug, Clone, Default)]
pub struct ExitPolicy {
    /// `--allow-unassessed`: unassessed scenarios do not block exit 0 (they are still
    /// reported as unassessed).
    pub allow_unassessed: bool,
    /// `--baseline`: the run is compared with this, and the reports show the comparison.
    pub baseline: Option<Arc<dyn BaselineGate>>,
    /// `--fail-on-regressions-only`: failed and errored scenarios that were already failing
    /// in the baseline do not fail the run.
    pub fail_on_regressions_only: bool,
    /// Which signal stopped an interrupted run (`None` reads as Ctrl-C). The runner sets it
    /// from what it observed, so that the code (130, 143, 129) and the reason naming the
    /// signal are decided here with everything else, before any reporter sees them.
    pub stop_signal: Option<StopSignal>,
}

impl ExitPolicy {
    /// The exit code and its reason. Precedence: interrupt (130, or 143/129 for the
    /// [`StopSignal`] that stopped the run), budget (4), fail-fast tripped by
    /// failed verdicts (3), failed (1), errored (5), unassessed (6), success. Fail-fast tripped
    /// by errors alone gives 5. Under `--fail-on-regressions-only`, failed and errored
    /// scenarios count only when they newly fail against the baseline.
    pub fn decide(
        &self,
        counts: &StatusCounts,
        p0_failed: usize,
        cancelled: Option<CancelReason>,
        baseline: Option<&BaselineComparison>,
    ) -> ExitDecision {
        let decision = |code, reason: String| ExitDecision { code, reason };
        let not_run = if counts.skipped > 0 {
            format!("; {} not run", plural(counts.skipped, "scenario"))
        } else {
            String::new()
        };
        match cancelled {
            Some(CancelReason::Interrupted) => {
                let signal = self.stop_signal.unwrap_or(StopSignal::Interrupt);
                return decision(signal.exit_code(), format!("{}{not_run}", signal.name()));
            }
            Some(CancelReason::Budget) => {
                return decision(
                    ExitCode::Budget,
                    format!("the cost budget (--max-cost) was exhausted{not_run}"),
                );
            }
            Some(CancelReason::FailFast) if p0_failed > 0 => {
                return decision(
                    ExitCode::FailFast,
                    format!(
                        "fail-fast stopped the run: {} failed (--p0-threshold){not_run}",
                        plural(p0_failed, "P0 scenario")
                    ),
                );
            }
            _ => {}
        }
        let gate = baseline.filter(|_| self.fail_on_regressions_only);
        let (failed, errored) = match gate {
            Some(c) => (
                c.newly_failing.iter().filter(|s| s.after == Status::Failed).count(),
                c.newly_failing.iter().filter(|s| s.after == Status::Error).count(),
            ),
            None => (counts.failed, counts.error),
        };
        let against = gate.map(|c| {
            format!(
                " against {} (--fail-on-regressions-only)",
                c.baseline_run.as_deref().map_or_else(
                    || "no recorded baseline".to_owned(),
                    |id| format!("baseline run {}", short(id))
                )
            )
        });
        let newly = if gate.is_some() { "newly " } else { "" };
        let against_text = against.clone().unwrap_or_default();
        let fail_fast_note = if cancelled == Some(CancelReason::FailFast) {
            "; fail-fast stopped the run, no P0 scenario failed"
        } else {
            ""
        };
        if failed > 0 {
            let also_errored =
                if errored > 0 { format!(", {errored} {newly}errored") } else { String::new() };
            return decision(
                ExitCode::Failures,
                format!(
                    "{} {newly}failed{against_text}{also_errored}{not_run}",
                    plural(failed, "scenario")
                ),
            );
        }
        if errored > 0 {
            return decision(
                ExitCode::InfraErrors,
                format!(
                    "{} {newly}errored (agent or judge unreachable, timeout, protocol error), none {newly}failed{against_text}{fail_fast_note}{not_run}",
                    plural(errored, "scenario")
                ),
            );
        }
        // Failures the baseline gate let through, said once.
        let tolerated = match against {
            Some(against) if counts.failed + counts.error > 0 => format!(
                "{} failed or errored, none newly failing{against}; ",
                counts.failed + counts.error
            ),
            _ => String::new(),
        };
        if counts.unassessed > 0 && !self.allow_unassessed {
            return decision(
                ExitCode::Unassessed,
                format!(
                    "{tolerated}{} could not be fully assessed (see their reasons; --allow-unassessed accepts them){not_run}",
                    plural(counts.unassessed, "scenario")
                ),
            );
        }
        let reason = if counts.unassessed > 0 {
            format!(
                "{tolerated}{} passed, {} unassessed (accepted by --allow-unassessed){not_run}",
                counts.passed, counts.unassessed
            )
        } else if counts.passed == counts.total && counts.total > 1 {
            format!("{tolerated}all {} scenarios passed", counts.total)
        } else if counts.passed == counts.total {
            format!("{tolerated}{} passed", plural(counts.total, "scenario"))
        } else {
            format!("{tolerated}{} passed{not_run}", counts.passed)
        };
        decision(ExitCode::Success, reason)
    }
}

/// `1 scenario`, `3 scenarios`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScenarioChange;
    use crate::scenario::Priority;

    fn counts(passed: usize, failed: usize, error: usize, skipped: usize) -> StatusCounts {
        StatusCounts {
            total: passed + failed + error + skipped,
            passed,
            failed,
            error,
            skipped,
            unassessed: 0,
        }
    }

    #[test]
    fn failures_outrank_errors() {
        let code = |c: StatusCounts| ExitPolicy::default().decide(&c, 0, None, None).code;
        assert_eq!(code(counts(3, 1, 1, 0)), ExitCode::Failures);
        assert_eq!(code(counts(3, 0, 1, 0)), ExitCode::InfraErrors);
        assert_eq!(code(counts(3, 0, 0, 2)), ExitCode::Success);
    }

    #[test]
    fn cancellation_reasons_have_their_own_codes() {
        let c = counts(1, 5, 0, 10);
        let policy = ExitPolicy::default();
        let code = |reason| policy.decide(&c, 2, Some(reason), None).code;
        assert_eq!(code(CancelReason::FailFast), ExitCode::FailFast);
        assert_eq!(code(CancelReason::Budget), ExitCode::Budget);
        assert_eq!(code(CancelReason::Interrupted), ExitCode::Interrupted);
        assert_eq!(code(CancelReason::MaxFail), ExitCode::Failures);
        assert_eq!(ExitCode::Interrupted.code(), 130);
    }

    #[test]
    fn an_interrupted_run_exits_with_the_code_of_the_signal_that_stopped_it() {
        let c = counts(1, 0, 0, 3);
        let stopped_by = |signal| {
            let policy = ExitPolicy { stop_signal: signal, ..ExitPolicy::default() };
            let d = policy.decide(&c, 0, Some(CancelReason::Interrupted), None);
            (d.code.code(), d.reason)
        };
        assert_eq!(stopped_by(None), (130, "interrupted; 3 scenarios not run".to_owned()));
        assert_eq!(
            stopped_by(Some(StopSignal::Interrupt)),
            (130, "interrupted; 3 scenarios not run".to_owned())
        );
        assert_eq!(
            stopped_by(Some(StopSignal::Terminate)),
            (143, "terminated (SIGTERM); 3 scenarios not run".to_owned())
        );
        assert_eq!(
            stopped_by(Some(StopSignal::Hangup)),
            (129, "hung up (SIGHUP); 3 scenarios not run".to_owned())
        );
        // A signal that arrives after fail-fast stopped the run does not change its code.
        let late = ExitPolicy { stop_signal: Some(StopSignal::Terminate), ..ExitPolicy::default() };
        assert_eq!(late.decide(&c, 1, Some(CancelReason::FailFast), None).code, ExitCode::FailFast);
    }

    #[test]
    fn fail_fast_tripped_by_errors_alone_is_an_infrastructure_exit() {
        let c = counts(0, 0, 4, 10);
        let d = ExitPolicy::default().decide(&c, 0, Some(CancelReason::FailFast), None);
        assert_eq!(d.code, ExitCode::InfraErrors, "{}", d.reason);
        assert!(d.reason.contains("no P0 scenario failed"), "{}", d.reason);
    }

    #[test]
    fn unassessed_blocks_success_unless_allowed() {
        let mut c = counts(3, 0, 0, 0);
        c.unassessed = 2;
        c.total += 2;
        let blocked = ExitPolicy::default().decide(&c, 0, None, None);
        assert_eq!(blocked.code, ExitCode::Unassessed);
        assert!(blocked.reason.contains("2 scenarios could not be fully assessed"));
        let allowed = ExitPolicy { allow_unassessed: true, ..ExitPolicy::default() };
        let d = allowed.decide(&c, 0, None, None);
        assert_eq!(
            (d.code, d.reason.as_str()),
            (ExitCode::Success, "3 passed, 2 unassessed (accepted by --allow-unassessed)")
        );
        c.error = 1;
        c.total += 1;
        assert_eq!(allowed.decide(&c, 0, None, None).code, ExitCode::InfraErrors);
    }

    #[test]
    fn the_baseline_gate_counts_only_new_failures() {
        let c = counts(10, 931, 0, 0);
        let change = |after| ScenarioChange {
            id: "x".into(),
            priority: Priority::P1,
            before: Some(Status::Passed),
            after,
            reason: None,
            flaky: false,
        };
        let mut comparison = BaselineComparison {
            baseline_run: Some("abc123456789".into()),
            gating: true,
            ..BaselineComparison::default()
        };
        let gated = ExitPolicy { fail_on_regressions_only: true, ..ExitPolicy::default() };
        let d = gated.decide(&c, 0, None, Some(&comparison));
        assert_eq!(d.code, ExitCode::Success);
        assert_eq!(
            d.reason,
            "931 failed or errored, none newly failing against baseline run abc12345 \
             (--fail-on-regressions-only); 10 passed"
        );
        comparison.newly_failing.push(change(Status::Failed));
        let d = gated.decide(&c, 0, None, Some(&comparison));
        assert_eq!(d.code, ExitCode::Failures);
        assert!(d.reason.starts_with("1 scenario newly failed against baseline run abc12345"));
        // Without the gate, the baseline is shown but every failure counts.
        let shown = ExitPolicy::default().decide(&c, 0, None, Some(&comparison));
        assert_eq!(
            (shown.code, shown.reason.as_str()),
            (ExitCode::Failures, "931 scenarios failed")
        );
    }
}
