//! A run's totals and the exit code its policy decides, built from its outcomes.

use std::collections::BTreeMap;

use super::ExitPolicy;
use crate::model::{CancelReason, Outcome, RunSummary, StatusCounts};
use crate::scenario::Priority;

/// Totals of finished outcomes, and the exit code they map to under the default policy.
pub fn summarize<'a>(
    run_id: String,
    started_at: String,
    finished_at: String,
    duration_ms: u64,
    outcomes: impl IntoIterator<Item = &'a Outcome>,
    cancelled: Option<(CancelReason, String)>,
) -> RunSummary {
    summarize_with_policy(
        run_id,
        started_at,
        finished_at,
        duration_ms,
        outcomes,
        cancelled,
        &ExitPolicy::default(),
    )
}

/// Totals of finished outcomes, the baseline comparison when `policy` has a baseline, and
/// the exit code `policy` decides, with its reason.
pub fn summarize_with_policy<'a>(
    run_id: String,
    started_at: String,
    finished_at: String,
    duration_ms: u64,
    outcomes: impl IntoIterator<Item = &'a Outcome>,
    cancelled: Option<(CancelReason, String)>,
    policy: &ExitPolicy,
) -> RunSummary {
    let outcomes: Vec<&Outcome> = outcomes.into_iter().collect();
    let mut counts = StatusCounts::default();
    let mut by_priority: BTreeMap<Priority, StatusCounts> = BTreeMap::new();
    let mut by_agent: BTreeMap<String, StatusCounts> = BTreeMap::new();
    let mut cost_usd = 0.0;
    let mut cached = 0;
    for outcome in &outcomes {
        counts.record(outcome.status);
        by_priority.entry(outcome.priority).or_default().record(outcome.status);
        by_agent.entry(outcome.agent.clone()).or_default().record(outcome.status);
        cost_usd += outcome.cost_usd.unwrap_or(0.0);
        cached += usize::from(outcome.cached);
    }
    let reason = cancelled.as_ref().map(|(reason, _)| *reason);
    let mut baseline_error = None;
    let baseline = policy.baseline.as_ref().and_then(|gate| match gate.compare(&outcomes) {
        Ok(mut comparison) => {
            comparison.gating = policy.fail_on_regressions_only;
            Some(Box::new(comparison))
        }
        Err(error) => {
            baseline_error = Some(error);
            None
        }
    });
    let p0_failed = by_priority.get(&Priority::P0).map_or(0, |c| c.failed);
    let mut decision = policy.decide(&counts, p0_failed, reason, baseline.as_deref());
    if let Some(error) = baseline_error {
        // Without a comparison every failure counts: never a pass by accident.
        decision.reason =
            format!("{} (cannot compare with the baseline: {error})", decision.reason);
    }
    let (cancelled, cancel_message) = match cancelled {
        Some((reason, message)) => (Some(reason), Some(message)),
        None => (None, None),
    };
    RunSummary {
        run_id,
        started_at,
        finished_at,
        duration_ms,
        counts,
        by_priority,
        by_agent,
        cancelled,
        cancel_message,
        cost_usd,
        cached,
        exit_code: decision.code.code(),
        exit_reason: decision.reason,
        baseline,
        cost: None,
        cache: None,
    }
}
