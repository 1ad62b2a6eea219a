//! One scenario: converse with its agent (scripted, or driven by an LLM), check the replies
//! deterministically, then let the LLM judge rule on the rubric.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agent::{AgentClient, AgentError, ConversationState};
use crate::cost::{CostLedger, Pricing};
use crate::judge::driver::{DriverStep, next_step};
use crate::judge::rogue_evaluator::RogueEvaluator;
use crate::judge::{
    Assessment, CONFIGURE_JUDGE, Evidence, Judge, check_assertions, goal_not_assessed,
    rubric_not_assessed,
};
use crate::model::{CheckResult, LlmRole, Outcome, Role, Status, TranscriptEntry, Usage, Verdict};
use crate::scenario::{Conversation, Scenario};

/// Transcript text kept per message; checks always see the whole reply.
const TRANSCRIPT_LIMIT: usize = 64 * 1024;

/// An outcome with no conversation (skipped, or its agent is down).
pub(crate) fn outcome_without_run(
    scenario: &Scenario,
    agent: &str,
    status: Status,
    reason: String,
) -> Outcome {
    Outcome {
        id: scenario.id.clone(),
        priority: scenario.priority,
        category: scenario.category.clone(),
        agent: agent.to_owned(),
        agent_url: None,
        source: source_of(scenario),
        status,
        reasons: vec![reason],
        checks: Vec::new(),
        transcript: Vec::new(),
        latency_ms: None,
        duration_ms: 0,
        usage: None,
        cost_usd: None,
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 0,
        judge: None,
        llm: Vec::new(),
    }
}

/// `file:line:col`.
pub(crate) fn source_of(scenario: &Scenario) -> String {
    format!("{}:{}:{}", scenario.source.file.display(), scenario.source.line, scenario.source.col)
}

/// Why a scenario cannot be assessed at all, if it cannot: nothing deterministic to check and
/// no judge (with a judge, rubric items and LLM-driven goals are checkable). Such a scenario is
/// not run and is reported `unassessed` with this reason.
pub(crate) fn nothing_checkable(scenario: &Scenario, judged: bool) -> Option<String> {
    if !scenario.assertions.is_empty() || (judged && scenario.needs_judge()) {
        return None;
    }
    if !scenario.needs_judge() {
        return Some(
            "not run: the scenario states no expectation (add expected_output or a rubric)"
                .to_owned(),
        );
    }
    let n = scenario.rubric.item_count().max(1);
    Some(format!("not run: {n} of {n} expectation(s) need a judge: {CONFIGURE_JUDGE}"))
}

/// What a worker needs besides the scenario and its agent.
#[derive(Debug, Clone)]
pub(crate) struct ExecContext {
    pub(crate) judge: Option<Judge>,
    pub(crate) pricing: Arc<Pricing>,
    pub(crate) rogue: Option<RogueEvaluator>,
    /// The run's known secrets: scrubbed from every reply as it arrives, so that neither the
    /// checks, nor the judge, nor the transcript ever see one.
    pub(crate) secrets: Arc<crate::redact::Secrets>,
    /// `--scenario-timeout`: the whole scenario, every turn and LLM call included.
    pub(crate) scenario_timeout: Duration,
    /// Long waits of a running scenario, `(id, message)`, for the progress line.
    pub(crate) waits: tokio::sync::mpsc::UnboundedSender<(String, String)>,
}

/// [`execute`] within `--scenario-timeout`: past it, the scenario is an `error` saying so,
/// and no judge or driver rate-limit wait is started that would end after it.
pub(crate) async fn execute_bounded(
    scenario: &Scenario,
    agent: &str,
    client: &AgentClient,
    ctx: &ExecContext,
) -> Outcome {
    let started = Instant::now();
    let deadline = crate::http::deadline_after(ctx.scenario_timeout);
    let (waits, id) = (ctx.waits.clone(), scenario.id.clone());
    let notice: crate::judge::llm::client::WaitNotice = Arc::new(move |message| {
        // The run may be over (the receiver gone): nobody to tell then.
        let _ = waits.send((id.clone(), message));
    });
    let work = crate::judge::llm::client::within_scenario_deadline(
        deadline,
        notice,
        execute(scenario, agent, client, ctx),
    );
    match tokio::time::timeout_at(deadline, work).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => {
            let reason = format!(
                "the scenario did not finish within --scenario-timeout {} (agent turns, judge \
                 and driver calls together); raise --scenario-timeout if that is expected",
                humantime::format_duration(ctx.scenario_timeout)
            );
            let mut outcome = outcome_without_run(scenario, agent, Status::Error, reason);
            outcome.duration_ms = crate::text::millis(started.elapsed());
            outcome
        }
    }
}

/// Talk to the agent (scripted, or driven by an LLM), check the replies deterministically,
/// then let the judge rule on what only it can assess.
pub(crate) async fn execute(
    scenario: &Scenario,
    agent: &str,
    client: &AgentClient,
    ctx: &ExecContext,
) -> Outcome {
    let started = Instant::now();
    if let Some(rogue) = &ctx.rogue {
        return delegate(scenario, agent, client, rogue, &ctx.secrets, started).await;
    }
    let mut run = Conversing {
        state: ConversationState::default(),
        transcript: Vec::new(),
        replies: Vec::new(),
        usage: None,
        waited: Duration::ZERO,
        ledger: CostLedger::default(),
        secrets: Arc::clone(&ctx.secrets),
        agent_model: client.endpoint().kind.model().map(str::to_owned),
    };
    let mut notes = Vec::new();
    let conversed = match (&scenario.conversation, &ctx.judge) {
        (Conversation::Scripted { messages }, _) => {
            let mut result = Ok(());
            for message in messages {
                result = run
                    .send(client, message, &ctx.pricing)
                    .await
                    .map_err(|e| format!("{agent}: {e}"));
                if result.is_err() {
                    break;
                }
            }
            result
        }
        (Conversation::Driven { goal, max_turns }, Some(judge)) => {
            // One contextId for the whole conversation, chosen by us as Rogue does.
            run.state.context_id = Some(uuid::Uuid::new_v4().simple().to_string());
            drive(&mut run, scenario, goal, *max_turns, judge, client, agent, &ctx.pricing).await
        }
        (Conversation::Driven { goal, .. }, None) => {
            notes.push(
                "LLM-driven conversation sent as one message: no driver model is configured"
                    .to_owned(),
            );
            run.send(client, goal, &ctx.pricing).await.map_err(|e| format!("{agent}: {e}"))
        }
    };
    if let Err(reason) = conversed {
        let mut outcome = outcome_without_run(scenario, agent, Status::Error, reason);
        run.fill(&mut outcome, started);
        return outcome;
    }
    let all = run.replies.join("\n");
    let last = run.replies.last().map_or("", String::as_str);
    let latency_ms = crate::text::millis(run.waited);
    let evidence = Evidence { all_replies: &all, last_reply: last, latency_ms, usage: run.usage };
    let mut checks = check_assertions(&scenario.assertions, &evidence);
    let mut ruling = None;
    let mut judge_error = None;
    let mut judge_hit = false;
    let mut judge_ms = None;
    let deterministic_failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    match &ctx.judge {
        Some(judge) if scenario.needs_judge() => {
            if deterministic_failed {
                notes.push(
                    "the LLM judge was not consulted: deterministic checks already failed"
                        .to_owned(),
                );
            } else {
                let asked = Instant::now();
                let ruled = judge.rule_cached(scenario, &run.transcript, &mut run.ledger).await;
                judge_ms = Some(crate::text::millis(asked.elapsed()));
                match ruled {
                    Ok((r, from_cache)) => {
                        judge_hit = from_cache;
                        checks.push(CheckResult {
                            key: "judge".to_owned(),
                            expected: judge_expectation(scenario),
                            actual: r.score.map(|s| format!("score {s:.2}")),
                            verdict: if r.passed { Verdict::Pass } else { Verdict::Fail },
                            note: Some(r.reason.clone()),
                        });
                        ruling = Some(r);
                    }
                    Err(e) => judge_error = Some(e),
                }
            }
        }
        Some(_) => {}
        None => {
            checks.extend(rubric_not_assessed(&scenario.rubric));
            if scenario.rubric.is_empty() && scenario.needs_judge() {
                checks.push(goal_not_assessed(judge_expectation(scenario)));
            }
        }
    }
    let (status, mut reasons) = match judge_error {
        // A judge that failed after its retries is infrastructure, never a verdict.
        Some(e) => (Status::Error, vec![format!("judge: {e}")]),
        None => verdict(&Assessment::of(&scenario.assertions, &checks), &checks),
    };
    reasons.extend(notes);
    let mut outcome = outcome_without_run(scenario, agent, status, String::new());
    outcome.reasons = reasons;
    outcome.checks = checks;
    outcome.judge = ruling;
    outcome.judge_ms = judge_ms;
    if judge_hit {
        outcome.cache = Some(crate::model::CacheKind::Judge);
    }
    run.fill(&mut outcome, started);
    outcome
}

/// The conversation so far.
struct Conversing {
    state: ConversationState,
    transcript: Vec<TranscriptEntry>,
    replies: Vec<String>,
    usage: Option<Usage>,
    waited: Duration,
    ledger: CostLedger,
    secrets: Arc<crate::redact::Secrets>,
    /// The model of an OpenAI-compatible agent, to price the usage it reports.
    agent_model: Option<String>,
}

impl Conversing {
    async fn send(
        &mut self,
        client: &AgentClient,
        message: &str,
        pricing: &Pricing,
    ) -> Result<(), AgentError> {
        self.transcript.push(TranscriptEntry { role: Role::User, text: clip(message) });
        let turn = Instant::now();
        let result = client.send(&mut self.state, message).await;
        self.waited += turn.elapsed();
        let mut reply = result?;
        self.secrets.scrub_in_place(&mut reply.text);
        if let Some(u) = reply.usage {
            self.usage.get_or_insert_with(Usage::default).add(&u);
            if let Some(model) = &self.agent_model {
                self.ledger.record(pricing.priced(LlmRole::Agent, model, Some(u)));
            }
        }
        self.transcript.push(TranscriptEntry { role: Role::Agent, text: clip(&reply.text) });
        self.replies.push(reply.text);
        Ok(())
    }

    /// Moves the transcript, timings, usage and LLM costs into `outcome`.
    fn fill(self, outcome: &mut Outcome, started: Instant) {
        outcome.transcript = self.transcript;
        outcome.latency_ms = Some(crate::text::millis(self.waited));
        outcome.duration_ms = crate::text::millis(started.elapsed());
        outcome.attempts = self.state.attempts.max(1);
        outcome.usage = self.usage;
        outcome.cost_usd = self.ledger.total_pico().map(crate::model::usd);
        outcome.llm = self.ledger.into_lines();
    }
}

/// The driver plays the user toward `goal` for up to `max_turns` agent replies.
#[expect(clippy::too_many_arguments, reason = "one call site, all borrowed")]
async fn drive(
    run: &mut Conversing,
    scenario: &Scenario,
    goal: &str,
    max_turns: u32,
    judge: &Judge,
    client: &AgentClient,
    agent: &str,
    pricing: &Pricing,
) -> Result<(), String> {
    for turn in 1..=max_turns.max(1) {
        let step =
            next_step(judge, scenario, goal, &run.transcript, turn, max_turns, &mut run.ledger)
                .await?;
        match step {
            DriverStep::Stop => break,
            DriverStep::Send(message) => {
                run.send(client, &message, pricing).await.map_err(|e| format!("{agent}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// `--evaluator rogue`: the Rogue server converses and judges; deterministic assertions are
/// still checked on the replies it recorded (latency counted as the whole job's time, so a
/// latency limit can only fail wrongly, never pass wrongly).
async fn delegate(
    scenario: &Scenario,
    agent: &str,
    client: &AgentClient,
    rogue: &RogueEvaluator,
    secrets: &crate::redact::Secrets,
    started: Instant,
) -> Outcome {
    let result = rogue.evaluate(scenario, client.endpoint()).await;
    let mut outcome = match result {
        Err(e) => outcome_without_run(scenario, agent, Status::Error, format!("rogue: {e}")),
        Ok(mut result) => {
            // The checks see the scrubbed replies, as on the LLM judge's path.
            for entry in &mut result.transcript {
                secrets.scrub_in_place(&mut entry.text);
            }
            if let Some(failure) = result.agent_failure.take() {
                // Not a verdict on the agent's behaviour: the conversation never happened.
                let reason = format!("rogue: {}", secrets.scrub(&failure));
                let mut outcome = outcome_without_run(scenario, agent, Status::Error, reason);
                outcome.transcript = result
                    .transcript
                    .into_iter()
                    .map(|t| TranscriptEntry { text: clip(&t.text), ..t })
                    .collect();
                outcome.attempts = 1;
                outcome.duration_ms = crate::text::millis(started.elapsed());
                return outcome;
            }
            let replies: Vec<&str> = result
                .transcript
                .iter()
                .filter(|t| t.role == Role::Agent)
                .map(|t| t.text.as_str())
                .collect();
            let all = replies.join("\n");
            let latency_ms = crate::text::millis(started.elapsed());
            let evidence = Evidence {
                all_replies: &all,
                last_reply: replies.last().copied().unwrap_or(""),
                latency_ms,
                usage: None,
            };
            let mut checks = check_assertions(&scenario.assertions, &evidence);
            let r = &result.ruling;
            checks.push(CheckResult {
                key: "judge".to_owned(),
                expected: judge_expectation(scenario),
                actual: None,
                verdict: if r.passed { Verdict::Pass } else { Verdict::Fail },
                note: Some(format!("Rogue ({}): {}", r.model, r.reason)),
            });
            let (status, reasons) =
                verdict(&Assessment::of(&scenario.assertions, &checks), &checks);
            let mut outcome = outcome_without_run(scenario, agent, status, String::new());
            outcome.reasons = reasons;
            outcome.checks = checks;
            outcome.transcript = result
                .transcript
                .into_iter()
                .map(|t| TranscriptEntry { text: clip(&t.text), ..t })
                .collect();
            outcome.judge = Some(result.ruling);
            outcome.latency_ms = Some(latency_ms);
            outcome.attempts = 1;
            outcome
        }
    };
    outcome.duration_ms = crate::text::millis(started.elapsed());
    outcome
}

/// What the judge was asked to confirm, in words.
fn judge_expectation(scenario: &Scenario) -> String {
    let n = scenario.rubric.item_count();
    if n == 0 {
        "the conversation satisfies the scenario's goal".to_owned()
    } else {
        format!("the replies satisfy the rubric ({n} item(s))")
    }
}

/// Failed if any check failed; passed only when every expectation was assessed and something
/// about the reply held (timing and usage alone never make a pass); otherwise unassessed, with
/// what could not be checked as its reason.
fn verdict(assessment: &Assessment, checks: &[CheckResult]) -> (Status, Vec<String>) {
    let failed: Vec<String> =
        checks.iter().filter(|c| c.verdict == Verdict::Fail).map(describe_failure).collect();
    if !failed.is_empty() {
        return (Status::Failed, failed);
    }
    match assessment.unassessed_reason() {
        Some(reason) => (Status::Unassessed, vec![reason]),
        None => (Status::Passed, Vec::new()),
    }
}

fn describe_failure(check: &CheckResult) -> String {
    if check.key == "judge" {
        return format!(
            "judge: {}",
            check.note.as_deref().unwrap_or("the rubric is not satisfied")
        );
    }
    match (&check.actual, &check.note) {
        (Some(actual), _) => format!("{}: expected {}, got {actual}", check.key, check.expected),
        (None, Some(note)) => format!("{}: expected {}: {note}", check.key, check.expected),
        (None, None) => format!("{}: expected {}", check.key, check.expected),
    }
}

fn clip(text: &str) -> String {
    if text.len() <= TRANSCRIPT_LIMIT {
        return text.to_owned();
    }
    let mut end = TRANSCRIPT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes not kept]", &text[..end], text.len() - end)
}
