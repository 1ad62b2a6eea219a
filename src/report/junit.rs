//! `junit.xml`: the run in the JUnit XML dialect every CI system reads (quick-junit's model).
//!
//! Layout, chosen for how CI UIs group results (GitLab, Jenkins, Azure, GitHub test
//! reporters):
//!
//! - one `<testsuite>` per **agent**, in plan order: a broken agent is one red suite, not a
//!   red line in every priority. Priority is in each case's `classname`, `AGENT.PRIORITY`
//!   (Jenkins shows that as package `AGENT`, class `P0`);
//! - one `<testcase>` per scenario: `name` is the scenario id, `time` its duration,
//!   `file` where it was written, `assertions` its number of checks;
//! - `failed` → `<failure message="first reason" type="failed">` with every reason and every
//!   failed check (expected / got / note) in the body, and the transcript in `<system-out>`;
//!   `error` → `<error message=… type="error">` likewise; `skipped` → `<skipped message=…>`;
//! - each suite carries the run's properties (`run_id`, `started_at`, `exit_code`, `partial`,
//!   `cancelled`, `cancel_message`) and its agent's (`agent_url`, `agent_check`).
//!
//! Agent text is untrusted: ANSI sequences, control characters and XML non-characters are
//! removed and URL credentials hidden before quick-junit escapes it for XML. Names (scenario
//! ids, agent names, file names) are identities and keep every character: a control or bidi
//! character, or a character XML forbids (U+FFFE, U+FFFF, C0 controls), is written as the
//! escape `\u{FFFE}`, so two ids differing by one stay two test cases. No character XML 1.0
//! forbids reaches the file, whatever the input: a strict parser always reads it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::FinalDocument;
use super::document::AgentReport;
use super::files::write_atomically;
use super::state::RunState;
use super::text::{clean_line, document_text, redact_userinfo};
use super::{ReportError, ResultsDocument};
use crate::model::{Outcome, Role, Status, Verdict};
use crate::scenario::escape::escape_invisible;

/// The longest `message` attribute, in characters.
const MAX_MESSAGE_CHARS: usize = 500;
/// The longest reason, check value or transcript turn in a body, in characters.
const MAX_BODY_TEXT_CHARS: usize = 4000;

/// Writes `junit.xml` atomically when the run finishes, or from what has finished so far when
/// [`flush_partial`](super::Reporter::flush_partial) is called on interrupt.
#[derive(Debug)]
pub struct JunitXml {
    path: PathBuf,
    state: RunState,
}

impl JunitXml {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitXml { path: path.into(), state: RunState::new() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self) -> Result<(), ReportError> {
        let xml = self.state.with_document(render_junit_xml)?;
        write_atomically(&self.path, |w| w.write_all(xml.as_bytes()))
    }
}

impl FinalDocument for JunitXml {
    fn state(&mut self) -> &mut RunState {
        &mut self.state
    }

    fn write(&mut self) -> Result<(), ReportError> {
        JunitXml::write(self)
    }
}

/// The JUnit XML of a results document.
pub fn render_junit_xml(doc: &ResultsDocument) -> Result<String, ReportError> {
    junit_report(doc)
        .to_string()
        .map_err(|error| ReportError::Render { what: "junit.xml", message: error.to_string() })
}

fn junit_report(doc: &ResultsDocument) -> Report {
    let mut report = Report::new(name(&doc.tool.name));
    report.set_time(Duration::from_millis(doc.run.duration_ms));
    let mut agents: Vec<(&str, Option<&AgentReport>)> =
        doc.agents.iter().map(|a| (a.name.as_str(), Some(a))).collect();
    for outcome in doc.outcomes() {
        if !agents.iter().any(|(name, _)| *name == outcome.agent) {
            agents.push((outcome.agent.as_str(), None));
        }
    }
    for (name, agent) in agents {
        let mut suite = TestSuite::new(self::name(name));
        suite.add_properties(run_properties(doc));
        if let Some(agent) = agent {
            suite.add_property(Property::new("agent_url", xml_chars(&agent.url)));
            if let Some(check) = &agent.check {
                let text = if check.ok {
                    format!("ok: {}", check.message)
                } else {
                    format!("failed: {}", check.message)
                };
                suite.add_property(Property::new("agent_check", message(&text)));
            }
        }
        // One suite per agent name and URL: one name can be reached at two URLs.
        let outcomes: Vec<&Outcome> = doc
            .outcomes()
            .filter(|o| agent.map_or(o.agent == name, |a| ResultsDocument::went_to(o, a)))
            .collect();
        let total_ms: u64 = outcomes.iter().map(|o| o.duration_ms).sum();
        suite.set_time(Duration::from_millis(total_ms));
        suite.add_test_cases(outcomes.into_iter().map(test_case));
        report.add_test_suite(suite);
    }
    report
}

fn run_properties(doc: &ResultsDocument) -> Vec<Property> {
    let run = &doc.run;
    let mut properties = vec![
        Property::new("run_id", name(&run.run_id)),
        Property::new("started_at", name(&run.started_at)),
        Property::new("exit_code", run.exit_code.to_string()),
        Property::new("exit_reason", message(&run.exit_reason)),
        Property::new("unassessed", run.counts.unassessed.to_string()),
    ];
    if doc.partial {
        properties.push(Property::new("partial", "true"));
    }
    if let Some(reason) = run.cancelled {
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        properties.push(Property::new("cancelled", reason));
    }
    if let Some(text) = &run.cancel_message {
        properties.push(Property::new("cancel_message", message(text)));
    }
    if let Some(cost) = &run.cost {
        properties.push(Property::new("cost_usd", format!("{:.4}", cost.total.cost_usd)));
        properties.push(Property::new("llm_calls", cost.total.calls.to_string()));
        properties.push(Property::new("cost", cost.headline()));
    }
    if let Some(cache) = &run.cache {
        properties.push(Property::new("cache_hits", cache.hits.to_string()));
        properties.push(Property::new("cache_misses", cache.misses.to_string()));
        properties.push(Property::new("cache_judge_hits", cache.judge_hits.to_string()));
        if let Some(rate) = cache.hit_rate() {
            properties.push(Property::new("cache_hit_rate", format!("{:.1}%", rate * 100.0)));
        }
        properties.push(Property::new("cache_saved_usd", format!("{:.4}", cache.saved_usd)));
    }
    properties
}

/// One line for an attribute, capped, credentials hidden.
fn message(text: &str) -> String {
    escape_invisible(&redact_userinfo(&clean_line(text, MAX_MESSAGE_CHARS))).into_owned()
}

fn body_text(text: &str) -> String {
    xml_chars(&document_text(text, MAX_BODY_TEXT_CHARS))
}

/// A name (scenario id, agent, file) as an attribute: every character kept, the invisible
/// ones escaped (`\u{202E}`, `\n`).
fn name(text: &str) -> String {
    escape_invisible(text).into_owned()
}

/// Text whose characters XML 1.0 forbids (C0 controls but tab, LF and CR; U+FFFE; U+FFFF)
/// are escaped as `\u{FFFE}`; the rest, line breaks included, is kept.
fn xml_chars(text: &str) -> String {
    let forbidden = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}')
            || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if !text.contains(forbidden) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if forbidden(c) {
            // Writing to a String cannot fail.
            let _infallible = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn test_case(outcome: &Outcome) -> TestCase {
    let headline = outcome.reasons.first().map_or("no reason given", String::as_str);
    let status = match outcome.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Failed | Status::Error => {
            let (kind, ty) = if outcome.status == Status::Failed {
                (NonSuccessKind::Failure, "failed")
            } else {
                (NonSuccessKind::Error, "error")
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(message(headline)).set_type(ty).set_description(details(outcome));
            status
        }
        Status::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message(headline));
            status
        }
        // Rendered as skipped (neutral in CI test UIs), never as a success: a failure would
        // turn a test reporter's check red even when `--allow-unassessed` let the run exit 0.
        // The message says it ran and what could not be assessed; the exit code gates.
        Status::Unassessed => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(message(&format!("unassessed: {headline}")))
                .set_type("unassessed")
                .set_description(details(outcome));
            status
        }
    };
    let mut case = TestCase::new(name(&outcome.id), status);
    case.set_classname(name(&format!("{}.{}", outcome.agent, outcome.priority)))
        .set_time(Duration::from_millis(outcome.duration_ms))
        .set_assertions(outcome.checks.len());
    case.extra.insert("file".into(), name(source_file(&outcome.source)).into());
    if matches!(outcome.status, Status::Failed | Status::Error) && !outcome.transcript.is_empty() {
        case.set_system_out(transcript(outcome));
    }
    case
}

/// `genesis/qa.yaml` of `genesis/qa.yaml:24:5`.
fn source_file(source: &str) -> &str {
    let mut file = source;
    for _ in 0..2 {
        match file.rsplit_once(':') {
            Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => {
                file = head;
            }
            _ => break,
        }
    }
    file
}

/// The body of a `<failure>` or `<error>`: every reason, then every failed check.
fn details(outcome: &Outcome) -> String {
    let mut lines = Vec::new();
    for reason in &outcome.reasons {
        lines.push(body_text(reason));
    }
    let failed: Vec<_> = outcome.checks.iter().filter(|c| c.verdict == Verdict::Fail).collect();
    if !failed.is_empty() {
        lines.push(String::new());
        lines.push("Failed checks:".to_owned());
        for check in failed {
            let mut line =
                format!("- {}: expected {}", body_text(&check.key), body_text(&check.expected));
            if let Some(actual) = &check.actual {
                line = format!("{line}, got {}", body_text(actual));
            }
            if let Some(note) = &check.note {
                line = format!("{line} ({})", body_text(note));
            }
            lines.push(line);
        }
    }
    lines.push(String::new());
    let attempts = if outcome.attempts == 1 {
        String::new()
    } else {
        format!(", {} attempts", outcome.attempts)
    };
    lines.push(format!(
        "Scenario {} ({}, {}) from {}{attempts}",
        body_text(&outcome.id),
        outcome.priority,
        body_text(&outcome.category),
        body_text(&outcome.source)
    ));
    lines.join("\n")
}

fn transcript(outcome: &Outcome) -> String {
    let mut out = String::new();
    for entry in &outcome.transcript {
        let who = match entry.role {
            Role::User => "user",
            Role::Agent => "agent",
        };
        // Writing to a String cannot fail.
        let _infallible = writeln!(out, "--- {who}\n{}", body_text(&entry.text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{source_file, xml_chars};

    #[test]
    fn source_file_drops_line_and_column() {
        assert_eq!(source_file("genesis/qa.yaml:24:5"), "genesis/qa.yaml");
        assert_eq!(source_file("genesis/qa.yaml:24"), "genesis/qa.yaml");
        assert_eq!(source_file("c:/x/qa.yaml"), "c:/x/qa.yaml");
        assert_eq!(source_file("qa.yaml"), "qa.yaml");
    }

    #[test]
    fn characters_xml_forbids_are_escaped_and_line_breaks_kept() {
        assert_eq!(
            xml_chars("a\u{FFFE}b\u{FFFF}c\x01\x1f"),
            "a\\u{FFFE}b\\u{FFFF}c\\u{0001}\\u{001F}"
        );
        assert_eq!(xml_chars("line\nnext\tx\r"), "line\nnext\tx\r");
    }
}
