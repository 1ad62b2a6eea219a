//! One scenario: converse with its agent, then check the replies.

use std::time::Instant;

use super::{CheckResult, Outcome, Role, Status, TranscriptEntry, Usage, Verdict};
use crate::agent::{AgentClient, ConversationState};
use crate::judge::{Evidence, check_assertions, rubric_not_assessed};
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
        attempts: 0,
    }
}

/// `file:line:col`.
pub(crate) fn source_of(scenario: &Scenario) -> String {
    format!("{}:{}:{}", scenario.source.file.display(), scenario.source.line, scenario.source.col)
}

/// Why a scenario cannot be checked without an LLM judge, if it cannot.
pub(crate) fn nothing_checkable(scenario: &Scenario) -> Option<String> {
    scenario.assertions.is_empty().then(|| {
        format!(
            "nothing checkable without an LLM judge: {} rubric item(s) need one",
            scenario.rubric.item_count()
        )
    })
}

/// Talk to the agent and judge the replies deterministically.
pub(crate) async fn execute(scenario: &Scenario, agent: &str, client: &AgentClient) -> Outcome {
    let started = Instant::now();
    let mut state = ConversationState::default();
    let mut transcript = Vec::new();
    let mut replies: Vec<String> = Vec::new();
    let mut usage: Option<Usage> = None;
    let mut attempts = 0;
    let mut waited = std::time::Duration::ZERO;
    let mut notes = Vec::new();
    let messages: Vec<&str> = match &scenario.conversation {
        Conversation::Scripted { messages } => messages.iter().map(String::as_str).collect(),
        Conversation::Driven { goal, .. } => {
            notes.push(
                "LLM-driven conversation sent as one message: no driver model is configured"
                    .to_owned(),
            );
            vec![goal.as_str()]
        }
    };
    for message in messages {
        transcript.push(TranscriptEntry { role: Role::User, text: clip(message) });
        let turn = Instant::now();
        let result = client.send(&mut state, message).await;
        waited += turn.elapsed();
        match result {
            Ok(reply) => {
                attempts += reply.attempts;
                if let Some(u) = reply.usage {
                    usage.get_or_insert_with(Usage::default).add(&u);
                }
                transcript.push(TranscriptEntry { role: Role::Agent, text: clip(&reply.text) });
                replies.push(reply.text);
            }
            Err(e) => {
                let mut outcome =
                    outcome_without_run(scenario, agent, Status::Error, format!("{agent}: {e}"));
                outcome.transcript = transcript;
                outcome.latency_ms = Some(millis(waited));
                outcome.duration_ms = millis(started.elapsed());
                outcome.attempts = attempts.max(1);
                outcome.usage = usage;
                return outcome;
            }
        }
    }
    let all = replies.join("\n");
    let last = replies.last().map_or("", String::as_str);
    let latency_ms = millis(waited);
    let evidence = Evidence { all_replies: &all, last_reply: last, latency_ms, usage };
    let mut checks = check_assertions(&scenario.assertions, &evidence);
    checks.extend(rubric_not_assessed(&scenario.rubric));
    let (status, mut reasons) = verdict(&checks);
    reasons.extend(notes);
    Outcome {
        id: scenario.id.clone(),
        priority: scenario.priority,
        category: scenario.category.clone(),
        agent: agent.to_owned(),
        source: source_of(scenario),
        status,
        reasons,
        checks,
        transcript,
        latency_ms: Some(latency_ms),
        duration_ms: millis(started.elapsed()),
        usage,
        cost_usd: None,
        cached: false,
        attempts: attempts.max(1),
    }
}

/// Failed if any check failed; passed if at least one passed; skipped when nothing could be
/// checked. Never a silent pass: not-assessed checks are listed with the outcome.
fn verdict(checks: &[CheckResult]) -> (Status, Vec<String>) {
    let failed: Vec<String> =
        checks.iter().filter(|c| c.verdict == Verdict::Fail).map(describe_failure).collect();
    if !failed.is_empty() {
        return (Status::Failed, failed);
    }
    if checks.iter().any(|c| c.verdict == Verdict::Pass) {
        return (Status::Passed, Vec::new());
    }
    let open = checks.len();
    (
        Status::Skipped,
        vec![format!(
            "nothing could be checked: {open} check(s) need an LLM judge or a JSON reply"
        )],
    )
}

fn describe_failure(check: &CheckResult) -> String {
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

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
