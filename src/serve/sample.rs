//! A seeded, synthetic run history: the same seed gives the same store. For the dashboard's
//! benchmark (`examples/dashboard_store.rs`: 100 runs of 1,000 scenarios), its screenshots and
//! its tests. Scenarios mostly pass; some always fail, some flip now and then (flaky), and
//! latency and cost drift over the runs.

use std::path::Path;

use crate::model::{
    CheckResult, JudgeRuling, Outcome, Role, Status, TranscriptEntry, Usage, Verdict,
};
use crate::scenario::Priority;
use crate::store::{RunStart, Store, StoreError};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    pub runs: usize,
    pub scenarios_per_run: usize,
    pub seed: u64,
    /// Leave the newest run unfinished (as if it were still going).
    pub last_unfinished: bool,
}

const AGENTS: [&str; 3] = ["support_agent", "checkout_agent", "refund_agent"];
const TAGS: [&str; 4] = ["security", "refunds", "smoke", "pii"];

/// The id of scenario `i`.
pub fn scenario_id(i: usize) -> String {
    format!("{}_{:05}", AGENTS[i % AGENTS.len()].trim_end_matches("_agent"), i)
}

/// One outcome of scenario `i` in run `run`.
fn outcome(rng: &mut fastrand::Rng, run: usize, i: usize) -> Outcome {
    let priority = Priority::ALL[i % 7 % 3];
    // Scenario `i`'s nature is fixed across runs: 1 in 50 always fails, 1 in 40 is flaky.
    let status = if i % 50 == 7 {
        Status::Failed
    } else if i % 40 == 3 {
        if rng.u8(..100) < 40 { Status::Failed } else { Status::Passed }
    } else {
        match rng.u16(..1000) {
            0..=5 => Status::Error,
            6..=9 => Status::Skipped,
            10..=12 => Status::Unassessed,
            13..=30 => Status::Failed,
            _ => Status::Passed,
        }
    };
    let drift = 1.0 + run as f64 / 200.0;
    let latency = ((200 + rng.u64(..1800)) as f64 * drift) as u64;
    let cost = (0.0004 + rng.f64() * 0.002) * drift;
    let question = format!("Customer #{i}: can I get a refund for order {}?", 1000 + i);
    let answer = if status == Status::Passed {
        "Yes: your refund has been validated and will arrive in 3-5 days.".to_owned()
    } else {
        "I cannot help with that. Please contact support.".to_owned()
    };
    let verdict = if status == Status::Passed { Verdict::Pass } else { Verdict::Fail };
    let reasons = match status {
        Status::Passed => Vec::new(),
        Status::Failed => vec!["contains \"validated\": not found in the reply".to_owned()],
        Status::Error => vec!["agent timed out after 30s (3 attempts)".to_owned()],
        Status::Skipped => vec!["skipped: --max-fail reached".to_owned()],
        Status::Unassessed => vec!["rubric item not assessed: no judge configured".to_owned()],
    };
    Outcome {
        judge_ms: None,
        id: scenario_id(i),
        priority,
        category: ["refunds", "checkout", "policy"][i % 3].to_owned(),
        agent: AGENTS[i % AGENTS.len()].to_owned(),
        agent_url: Some(format!("http://localhost:8000/a2a/{}", AGENTS[i % AGENTS.len()])),
        source: format!("scenarios/{}.yaml:{}:3", AGENTS[i % AGENTS.len()], 1 + (i % 200) * 12),
        status,
        reasons,
        checks: vec![
            CheckResult {
                key: "expected_output".to_owned(),
                expected: "contains \"validated\"".to_owned(),
                actual: Some(answer.clone()),
                verdict,
                note: (verdict == Verdict::Fail).then(|| "not found".to_owned()),
            },
            CheckResult {
                key: "performance.max_latency_ms".to_owned(),
                expected: "latency < 5000 ms".to_owned(),
                actual: Some(format!("{latency} ms")),
                verdict: Verdict::Pass,
                note: None,
            },
        ],
        transcript: if status == Status::Skipped {
            Vec::new()
        } else {
            vec![
                TranscriptEntry { role: Role::User, text: question },
                TranscriptEntry { role: Role::Agent, text: answer },
            ]
        },
        latency_ms: (status != Status::Skipped).then_some(latency),
        duration_ms: latency + 40,
        usage: Some(Usage { input_tokens: 420, cached_input_tokens: 0, output_tokens: 96 }),
        cost_usd: Some(cost),
        cached: false,
        cache: None,
        attempts: if status == Status::Error { 3 } else { 1 },
        judge: (i % 4 == 0 && status != Status::Skipped).then(|| JudgeRuling {
            passed: status == Status::Passed,
            reason: if status == Status::Passed {
                "The agent confirmed the refund and gave a time frame.".to_owned()
            } else {
                "The agent refused a refund the policy allows.".to_owned()
            },
            score: Some(if status == Status::Passed { 0.9 } else { 0.2 }),
            model: "gpt-4o-mini".to_owned(),
            evaluator: "llm".to_owned(),
            prompt_version: "1".to_owned(),
        }),
        llm: Vec::new(),
    }
}

/// Writes `spec.runs` runs into the store in `dir`, one hour apart, each in one transaction
/// per run.
pub fn generate(dir: &Path, spec: SampleSpec) -> Result<(), StoreError> {
    let store = Store::open(dir)?;
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let first = jiff::Timestamp::from_second(1_790_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    for run in 0..spec.runs {
        let run_id =
            format!("{:08x}-{:04x}-4000-8000-{:012x}", rng.u32(..), run, rng.u64(..1 << 48));
        let started = first + jiff::SignedDuration::from_hours(i64::try_from(run).unwrap_or(0));
        store.record_run_started(&RunStart {
            run_id: run_id.clone(),
            started_at: started.to_string(),
            planned: spec.scenarios_per_run,
            git_commit: Some(format!(
                "{:016x}{:016x}{:08x}",
                rng.u64(..),
                rng.u64(..),
                rng.u32(..)
            )),
            config_digest: "5a3f9c2e11d04b7a".to_owned(),
            partition: None,
            selection_digest: None,
        })?;
        let tags: Vec<(String, Vec<String>)> = (0..spec.scenarios_per_run)
            .filter(|i| i % 3 == 0)
            .map(|i| (scenario_id(i), vec![TAGS[i % TAGS.len()].to_owned()]))
            .collect();
        store.record_run_tags(&run_id, tags.iter().map(|(id, t)| (id.as_str(), t.as_slice())))?;
        let outcomes: Vec<Outcome> =
            (0..spec.scenarios_per_run).map(|i| outcome(&mut rng, run, i)).collect();
        store.record_outcomes(&run_id, &outcomes)?;
        if spec.last_unfinished && run + 1 == spec.runs {
            continue;
        }
        let duration_ms = 60_000 + rng.u64(..120_000);
        let finished =
            started + jiff::SignedDuration::from_millis(i64::try_from(duration_ms).unwrap_or(0));
        let summary = crate::engine::summarize(
            run_id,
            started.to_string(),
            finished.to_string(),
            duration_ms,
            &outcomes,
            None,
        );
        store.finish_run(&summary)?;
    }
    Ok(())
}
