//! When a run stops early: fail-fast on P0 (the seed's rule, made exact) and `--max-fail`.

use crate::model::Status;
use crate::scenario::Priority;

/// Aborts as soon as the P0 pass rate can no longer reach the threshold, or once all P0 are
/// done and it is below it. Pass rate = passed / (passed + failed + error); skipped and
/// unassessed P0 scenarios count for neither side.
#[derive(Debug, Clone)]
pub struct FailFast {
    threshold: f64,
    total: usize,
    passed: usize,
    not_passed: usize,
    skipped: usize,
}

impl FailFast {
    pub fn new(threshold: f64, p0_total: usize) -> Self {
        FailFast { threshold, total: p0_total, passed: 0, not_passed: 0, skipped: 0 }
    }

    /// Record a finished scenario; returns the reason to abort, if the run must.
    pub fn record(&mut self, priority: Priority, status: Status) -> Option<String> {
        if priority != Priority::P0 {
            return None;
        }
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed | Status::Error => self.not_passed += 1,
            Status::Skipped | Status::Unassessed => self.skipped += 1,
        }
        let judgeable = self.total - self.skipped;
        if judgeable == 0 || self.not_passed == 0 {
            return None;
        }
        let remaining = judgeable.saturating_sub(self.passed + self.not_passed);
        let best = (self.passed + remaining) as f64 / judgeable as f64;
        (best + 1e-12 < self.threshold).then(|| {
            format!(
                "{} of {} P0 scenarios failed or errored: the P0 pass rate can reach at most {:.1}%, below the {:.1}% threshold (--p0-threshold)",
                self.not_passed,
                judgeable,
                best * 100.0,
                self.threshold * 100.0
            )
        })
    }
}

/// `--max-fail N`: stop scheduling after N failed or errored scenarios.
#[derive(Debug, Clone, Copy)]
pub struct MaxFail {
    limit: usize,
    seen: usize,
}

impl MaxFail {
    pub fn new(limit: usize) -> Self {
        MaxFail { limit, seen: 0 }
    }

    pub fn record(&mut self, status: Status) -> Option<String> {
        if matches!(status, Status::Failed | Status::Error) {
            self.seen += 1;
            if self.seen == self.limit {
                return Some(format!(
                    "{} scenario(s) failed or errored (--max-fail {})",
                    self.seen, self.limit
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aborts_as_soon_as_the_threshold_is_out_of_reach() {
        // 10 P0 at 0.8: two failures still allow 80%, the third does not.
        let mut ff = FailFast::new(0.8, 10);
        assert!(ff.record(Priority::P0, Status::Failed).is_none());
        assert!(ff.record(Priority::P0, Status::Passed).is_none());
        assert!(ff.record(Priority::P0, Status::Error).is_none());
        let reason = ff.record(Priority::P0, Status::Failed).unwrap();
        assert!(reason.contains("at most 70.0%"), "{reason}");
    }

    #[test]
    fn other_priorities_never_trigger_it() {
        let mut ff = FailFast::new(0.8, 1);
        for _ in 0..10 {
            assert!(ff.record(Priority::P1, Status::Failed).is_none());
        }
    }

    #[test]
    fn max_fail_triggers_once_at_the_limit() {
        let mut mf = MaxFail::new(2);
        assert!(mf.record(Status::Passed).is_none());
        assert!(mf.record(Status::Failed).is_none());
        assert!(mf.record(Status::Error).is_some());
        assert!(mf.record(Status::Failed).is_none());
    }

    proptest! {
        /// Whatever the order of results, fail-fast triggers exactly when the best reachable
        /// pass rate drops below the threshold, and never when the final rate meets it.
        #[test]
        fn triggers_exactly_when_unreachable(results in prop::collection::vec(0..3u8, 1..60), threshold in 0.0f64..=1.0) {
            let total = results.len();
            let mut ff = FailFast::new(threshold, total);
            let (mut passed, mut bad, mut skipped) = (0usize, 0usize, 0usize);
            let mut triggered = false;
            for r in &results {
                let status = [Status::Passed, Status::Failed, Status::Skipped][*r as usize];
                match status { Status::Passed => passed += 1, Status::Skipped => skipped += 1, _ => bad += 1 }
                let judgeable = total - skipped;
                let remaining = judgeable - passed - bad;
                let reachable = judgeable == 0 || bad == 0 || (passed + remaining) as f64 / judgeable as f64 + 1e-12 >= threshold;
                let fired = ff.record(Priority::P0, status).is_some();
                prop_assert_eq!(fired, !reachable);
                if fired { triggered = true; break; }
            }
            if !triggered && passed + bad > 0 {
                prop_assert!(passed as f64 / (passed + bad) as f64 + 1e-12 >= threshold || bad == 0);
            }
        }
    }
}
