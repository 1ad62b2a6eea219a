//! Comparing two recorded runs: what newly fails, what got fixed, what still fails, what is
//! flaky, and how cost and latency moved. A pure function over recorded results.
//!
//! Definitions (a scenario is *failing* when its status is `failed` or `error`):
//! - **newly failing**: failing in B, and passed, skipped or absent in A;
//! - **fixed**: failing in A, passed in B;
//! - **still failing**: failing in both;
//! - **flaky**: over the window of the last K finished runs up to B, its verdicts (passed vs
//!   failing; skipped and absent runs are left out) changed at least twice, e.g. pass → fail
//!   → pass. One change is a regression or a fix, not flakiness. Flaky scenarios are also
//!   listed in the categories above, marked `flaky`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{RunRecord, RunResults, ScenarioRecord};
use crate::model::Status;
use crate::scenario::Priority;

/// The default flaky window.
pub const DEFAULT_FLAKY_WINDOW: usize = 10;

/// Changes a scenario's verdict must make within the window to count as flaky.
pub const FLAKY_MIN_FLIPS: usize = 2;

/// A scenario is listed as slower when its latency grew by at least this many ms…
pub const SLOWER_MIN_MS: u64 = 100;
/// … and by at least this factor.
pub const SLOWER_MIN_FACTOR: f64 = 1.5;
/// At most this many slower scenarios are listed.
pub const SLOWER_LISTED: usize = 10;

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub a: RunRecord,
    pub b: RunRecord,
    pub newly_failing: Vec<Change>,
    pub fixed: Vec<Change>,
    pub still_failing: Vec<Change>,
    pub flaky: Vec<Flaky>,
    /// Runs the flaky window held (at most K).
    pub flaky_window: usize,
    /// Scenarios recorded only in B (new, or not selected in A).
    pub only_in_b: usize,
    /// Scenarios recorded only in A.
    pub only_in_a: usize,
    pub cost_usd: Delta<f64>,
    /// Wall-clock duration of the runs, when both finished.
    pub duration_ms: Option<Delta<u64>>,
    pub latency: LatencyChange,
    /// Scenarios that got markedly slower, largest increase first.
    pub slower: Vec<SlowerScenario>,
}

impl Comparison {
    /// True when some scenario newly fails: what `--fail-on-regressions-only` gates on.
    pub fn has_regressions(&self) -> bool {
        !self.newly_failing.is_empty()
    }
}

/// One scenario whose status matters to the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub priority: Priority,
    /// `None`: not in run A.
    pub before: Option<Status>,
    pub after: Status,
    /// B's first reason (A's for fixed scenarios).
    pub reason: Option<String>,
    pub flaky: bool,
}

/// A scenario whose verdict keeps changing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flaky {
    pub id: String,
    pub priority: Priority,
    /// Changes of verdict within the window.
    pub flips: usize,
    /// One letter per run of the window, oldest first: `P` passed, `F` failed, `E` error,
    /// `S` skipped, `.` not in that run.
    pub history: String,
}

/// A before/after pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Delta<T> {
    pub before: T,
    pub after: T,
}

/// Latency (time spent talking to agents) of the scenarios each run measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyChange {
    pub median_ms: Delta<Option<u64>>,
    pub p95_ms: Delta<Option<u64>>,
}

/// A scenario that got markedly slower (see [`SLOWER_MIN_MS`], [`SLOWER_MIN_FACTOR`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowerScenario {
    pub id: String,
    pub before_ms: u64,
    pub after_ms: u64,
}

fn is_failing(status: Status) -> bool {
    matches!(status, Status::Failed | Status::Error)
}

/// Compares run `a` (before) with run `b` (after). `window` is the last K finished runs up
/// to and including `b`, oldest first, for flaky detection (it may be empty).
pub fn compare(a: &RunResults, b: &RunResults, window: &[RunResults]) -> Comparison {
    let before: BTreeMap<&str, &ScenarioRecord> =
        a.scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let after: BTreeMap<&str, &ScenarioRecord> =
        b.scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let flaky = flaky_in(window);
    let flaky_ids: BTreeSet<&str> = flaky.iter().map(|f| f.id.as_str()).collect();

    let mut newly_failing = Vec::new();
    let mut fixed = Vec::new();
    let mut still_failing = Vec::new();
    for (id, now) in &after {
        let was = before.get(id).copied();
        let change = |reason: Option<&String>| Change {
            id: (*id).to_owned(),
            priority: now.priority,
            before: was.map(|w| w.status),
            after: now.status,
            reason: reason.cloned(),
            flaky: flaky_ids.contains(id),
        };
        match (was.map(|w| w.status), now.status) {
            (Some(w), n) if is_failing(w) && is_failing(n) => {
                still_failing.push(change(now.reason.as_ref()));
            }
            (Some(w), Status::Passed) if is_failing(w) => {
                fixed.push(change(was.and_then(|w| w.reason.as_ref())));
            }
            (_, n) if is_failing(n) => newly_failing.push(change(now.reason.as_ref())),
            _ => {}
        }
    }
    for list in [&mut newly_failing, &mut fixed, &mut still_failing] {
        list.sort_by(|x, y| (x.priority, &x.id).cmp(&(y.priority, &y.id)));
    }

    let mut slower: Vec<SlowerScenario> = after
        .iter()
        .filter_map(|(id, now)| {
            let before_ms = before.get(id)?.latency_ms?;
            let after_ms = now.latency_ms?;
            let grew = after_ms >= before_ms.saturating_add(SLOWER_MIN_MS)
                && after_ms as f64 >= before_ms as f64 * SLOWER_MIN_FACTOR;
            grew.then(|| SlowerScenario { id: (*id).to_owned(), before_ms, after_ms })
        })
        .collect();
    slower.sort_by(|x, y| {
        (y.after_ms - y.before_ms).cmp(&(x.after_ms - x.before_ms)).then(x.id.cmp(&y.id))
    });
    slower.truncate(SLOWER_LISTED);

    let duration_ms = match (a.run.duration_ms, b.run.duration_ms) {
        (Some(before), Some(after)) => Some(Delta { before, after }),
        _ => None,
    };
    Comparison {
        a: a.run.clone(),
        b: b.run.clone(),
        newly_failing,
        fixed,
        still_failing,
        flaky,
        flaky_window: window.len(),
        only_in_b: after.keys().filter(|id| !before.contains_key(*id)).count(),
        only_in_a: before.keys().filter(|id| !after.contains_key(*id)).count(),
        cost_usd: Delta { before: a.run.cost_usd, after: b.run.cost_usd },
        duration_ms,
        latency: LatencyChange {
            median_ms: Delta { before: percentile(a, 50), after: percentile(b, 50) },
            p95_ms: Delta { before: percentile(a, 95), after: percentile(b, 95) },
        },
        slower,
    }
}

/// Scenarios whose verdict changed at least [`FLAKY_MIN_FLIPS`] times over `window`.
fn flaky_in(window: &[RunResults]) -> Vec<Flaky> {
    let maps: Vec<BTreeMap<&str, &ScenarioRecord>> = window
        .iter()
        .map(|run| run.scenarios.iter().map(|s| (s.id.as_str(), s)).collect())
        .collect();
    let ids: BTreeSet<&str> = maps.iter().flat_map(|m| m.keys().copied()).collect();
    let mut flaky = Vec::new();
    for id in ids {
        let mut history = String::with_capacity(maps.len());
        let mut last: Option<bool> = None;
        let mut flips = 0;
        let mut priority = Priority::P2;
        for map in &maps {
            let Some(record) = map.get(id) else {
                history.push('.');
                continue;
            };
            priority = record.priority;
            history.push(match record.status {
                Status::Passed => 'P',
                Status::Failed => 'F',
                Status::Error => 'E',
                Status::Skipped => 'S',
                Status::Unassessed => 'U',
            });
            let verdict = match record.status {
                Status::Passed => true,
                Status::Failed | Status::Error => false,
                Status::Skipped | Status::Unassessed => continue,
            };
            if last.is_some_and(|l| l != verdict) {
                flips += 1;
            }
            last = Some(verdict);
        }
        if flips >= FLAKY_MIN_FLIPS {
            flaky.push(Flaky { id: id.to_owned(), priority, flips, history });
        }
    }
    flaky.sort_by(|x, y| (x.priority, &x.id).cmp(&(y.priority, &y.id)));
    flaky
}

/// Nearest-rank percentile of the run's measured latencies.
fn percentile(run: &RunResults, p: usize) -> Option<u64> {
    let mut values: Vec<u64> = run.scenarios.iter().filter_map(|s| s.latency_ms).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::StatusCounts;

    fn run(id: &str, scenarios: &[(&str, Status)]) -> RunResults {
        RunResults {
            run: RunRecord {
                id: id.to_owned(),
                started_at: "2026-01-01T00:00:00Z".to_owned(),
                finished_at: Some("2026-01-01T00:01:00Z".to_owned()),
                duration_ms: Some(60_000),
                git_commit: None,
                config_digest: "d".to_owned(),
                tool_version: "0.1.0".to_owned(),
                planned: scenarios.len(),
                counts: StatusCounts::default(),
                cached: 0,
                cost_usd: 0.0,
                exit_code: Some(0),
                cancelled: None,
                cache: None,
                partition: None,
                selection_digest: None,
            },
            scenarios: scenarios
                .iter()
                .map(|(id, status)| ScenarioRecord {
                    id: (*id).to_owned(),
                    priority: Priority::P1,
                    agent: "a".to_owned(),
                    status: *status,
                    cached: false,
                    cost_usd: None,
                    latency_ms: Some(100),
                    duration_ms: 100,
                    reason: (*status != Status::Passed).then(|| format!("{id} went {status}")),
                })
                .collect(),
        }
    }

    fn ids(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(|c| c.id.as_str()).collect()
    }

    use Status::{Error as E, Failed as F, Passed as P, Skipped as S};

    /// A handmade history of five runs.
    #[test]
    fn classifies_a_handmade_history() {
        let runs = [
            run("r1", &[("stable", P), ("regress", P), ("fix", F), ("flap", P), ("broken", F)]),
            run("r2", &[("stable", P), ("regress", P), ("fix", F), ("flap", F), ("broken", F)]),
            run("r3", &[("stable", P), ("regress", P), ("fix", F), ("flap", P), ("broken", E)]),
            run(
                "r4",
                &[
                    ("stable", P),
                    ("regress", P),
                    ("fix", F),
                    ("flap", F),
                    ("broken", F),
                    ("gone", P),
                ],
            ),
            run(
                "r5",
                &[
                    ("stable", P),
                    ("regress", F),
                    ("fix", P),
                    ("flap", P),
                    ("broken", F),
                    ("new_bad", F),
                    ("skip", S),
                ],
            ),
        ];
        let c = compare(&runs[3], &runs[4], &runs);
        assert_eq!(ids(&c.newly_failing), ["new_bad", "regress"]);
        assert_eq!(c.newly_failing[1].before, Some(P));
        assert_eq!(c.newly_failing[0].before, None);
        // `flap` went F → P too: fixed, and marked flaky.
        assert_eq!(ids(&c.fixed), ["fix", "flap"]);
        assert_eq!(c.fixed[0].reason.as_deref(), Some("fix went failed"), "why it failed before");
        assert_eq!(ids(&c.still_failing), ["broken"]);
        assert_eq!(c.flaky.len(), 1);
        assert_eq!(c.flaky[0].id, "flap");
        assert_eq!(c.flaky[0].flips, 4);
        assert_eq!(c.flaky[0].history, "PFPFP");
        assert!(c.fixed[1].flaky && !c.fixed[0].flaky);
        assert!(c.newly_failing.iter().all(|x| !x.flaky));
        assert_eq!((c.only_in_a, c.only_in_b), (1, 2));
        assert!(c.has_regressions());
        assert_eq!(c.flaky_window, 5);

        // With a window of the last two runs, nothing changed twice.
        let c = compare(&runs[3], &runs[4], &runs[3..]);
        assert!(c.flaky.is_empty());
        // A regression that later came back is not flaky until it flips again.
        let c = compare(&runs[0], &runs[1], &runs[..2]);
        assert_eq!(ids(&c.newly_failing), ["flap"]);
        assert!(c.flaky.is_empty());
    }

    #[test]
    fn error_counts_as_failing_and_skipped_as_neither() {
        let a = run("a", &[("x", P), ("y", E), ("z", S), ("w", F)]);
        let b = run("b", &[("x", E), ("y", P), ("z", F), ("w", S)]);
        let c = compare(&a, &b, &[]);
        assert_eq!(ids(&c.newly_failing), ["x", "z"]);
        assert_eq!(ids(&c.fixed), ["y"]);
        assert!(c.still_failing.is_empty());
        // w (failed → skipped) is in no list: a skip neither fixes nor breaks anything.
        assert!(c.flaky.is_empty());
        assert_eq!((c.only_in_a, c.only_in_b), (0, 0));
        assert!(c.has_regressions(), "x and z newly fail");

        // Only fixes (y and w pass now, z stays skipped): nothing to gate on.
        let fixed = run("c", &[("x", P), ("y", P), ("z", S), ("w", P)]);
        let c = compare(&a, &fixed, &[]);
        assert!(c.newly_failing.is_empty());
        assert_eq!(ids(&c.fixed), ["w", "y"]);
        assert!(!c.has_regressions());
    }

    #[test]
    fn latency_and_slower_scenarios() {
        let mut a = run("a", &[("fast", P), ("slow", P), ("same", P)]);
        let mut b = a.clone();
        b.run.id = "b".to_owned();
        b.scenarios[1].latency_ms = Some(400); // 100 → 400: listed
        b.scenarios[2].latency_ms = Some(140); // +40 ms: not enough
        a.run.cost_usd = 0.5;
        b.run.cost_usd = 0.25;
        let c = compare(&a, &b, &[]);
        assert_eq!(
            c.slower,
            [SlowerScenario { id: "slow".to_owned(), before_ms: 100, after_ms: 400 }]
        );
        assert_eq!(c.latency.median_ms, Delta { before: Some(100), after: Some(140) });
        assert_eq!(c.latency.p95_ms, Delta { before: Some(100), after: Some(400) });
        assert_eq!(c.cost_usd, Delta { before: 0.5, after: 0.25 });
        assert_eq!(c.duration_ms, Some(Delta { before: 60_000, after: 60_000 }));
    }

    fn status() -> impl Strategy<Value = Option<Status>> {
        prop_oneof![Just(None), Just(Some(P)), Just(Some(F)), Just(Some(E)), Just(Some(S))]
    }

    fn results(id: &str, statuses: &[Option<Status>]) -> RunResults {
        let names: Vec<String> = (0..statuses.len()).map(|i| format!("s{i:02}")).collect();
        let present: Vec<(&str, Status)> =
            statuses.iter().zip(&names).filter_map(|(s, n)| s.map(|s| (n.as_str(), s))).collect();
        run(id, &present)
    }

    proptest! {
        /// Every scenario of B lands in at most one category; a run compared with itself has
        /// no newly failing or fixed scenario; swapping A and B swaps fixed with the newly
        /// failing scenarios that passed before.
        #[test]
        fn categories_are_consistent(pairs in proptest::collection::vec((status(), status()), 0..30)) {
            let (sa, sb): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
            let a = results("a", &sa);
            let b = results("b", &sb);
            let c = compare(&a, &b, &[]);
            let mut seen = BTreeSet::new();
            for change in c.newly_failing.iter().chain(&c.fixed).chain(&c.still_failing) {
                prop_assert!(seen.insert(change.id.clone()), "{} listed twice", change.id);
                prop_assert!(b.scenarios.iter().any(|s| s.id == change.id));
            }
            let failing_in_b = b.scenarios.iter().filter(|s| is_failing(s.status)).count();
            prop_assert_eq!(c.newly_failing.len() + c.still_failing.len(), failing_in_b);

            let same = compare(&a, &a, &[]);
            prop_assert!(same.newly_failing.is_empty() && same.fixed.is_empty());

            let back = compare(&b, &a, &[]);
            let fixed: BTreeSet<&str> = c.fixed.iter().map(|x| x.id.as_str()).collect();
            let regressed_from_pass: BTreeSet<&str> = back
                .newly_failing
                .iter()
                .filter(|x| x.before == Some(P))
                .map(|x| x.id.as_str())
                .collect();
            prop_assert_eq!(fixed, regressed_from_pass);
        }

        /// Flaky needs two changes of verdict: a window of two runs never has one, and a
        /// scenario that only passes (or only fails) never is.
        #[test]
        fn flaky_needs_two_flips(window in proptest::collection::vec(proptest::collection::vec(status(), 5), 0..8)) {
            let runs: Vec<RunResults> =
                window.iter().enumerate().map(|(i, s)| results(&format!("r{i}"), s)).collect();
            let flaky = flaky_in(&runs);
            if runs.len() <= 2 {
                prop_assert!(flaky.is_empty());
            }
            for f in &flaky {
                prop_assert!(f.flips >= FLAKY_MIN_FLIPS);
                prop_assert!(f.history.contains('P'));
                prop_assert!(f.history.contains('F') || f.history.contains('E'));
                prop_assert_eq!(f.history.len(), runs.len());
            }
        }
    }
}
