//! `report.html`: the whole run as one self-contained page for people.
//!
//! One file, no network: inline CSS and a small inline script (filters by status, priority,
//! agent and id; expand and collapse), no fonts, images or frameworks. Without the script the
//! page still shows everything, with every scenario a `<details>` row that opens on click.
//! Rows come problems first (failed, error, skipped, passed), by priority and id within each.
//! A link can carry the filters: `report.html?status=problems&priority=P0&agent=NAME&id=TEXT`
//! (`status` is `passed`, `failed`, `error`, `skipped` or `problems`).
//!
//! Everything that comes from scenarios and agents is untrusted. The template is rendered by
//! minijinja with HTML autoescaping on (its name ends in `.html`) and never marks user data
//! `|safe`; the script reads rows through `data-` attributes, so no JSON is embedded in a
//! `<script>`. A Content-Security-Policy with a per-file nonce blocks any other script or
//! style and every network request, should escaping ever be missed.

use std::io;
use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use super::FinalDocument;
use super::files::write_atomically;
use super::markdown::{exit_sentence, verdict_words};
use super::state::RunState;
use super::text::{clean_line, document_text, fmt_rate, redact_userinfo};
use super::{ReportError, ResultsDocument};
use crate::model::{
    BaselineComparison, CancelReason, CheckResult, Outcome, Role, ScenarioChange, Status,
    StatusCounts, Verdict,
};
use crate::scenario::Priority;
use crate::text::duration_ms;

/// The page template; autoescaping follows from its `.html` name.
const TEMPLATE_NAME: &str = "report.html";
const TEMPLATE: &str = include_str!("report.html.j2");

/// The longest reason, check value or transcript turn shown, in characters.
const MAX_TEXT_CHARS: usize = 20_000;
/// The longest headline in a collapsed row, in characters (CSS cuts it to the width too).
const MAX_HEADLINE_CHARS: usize = 300;

/// Writes `report.html` atomically when the run finishes, or from what has finished so far
/// when [`flush_partial`](super::Reporter::flush_partial) is called on interrupt.
#[derive(Debug)]
pub struct HtmlReport {
    path: PathBuf,
    state: RunState,
}

impl HtmlReport {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        HtmlReport { path: path.into(), state: RunState::new() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renders straight into the file: the page of a large run is megabytes (3.5 MB for
    /// 2,000 scenarios), and a string of it, grown by doubling, was the largest single block
    /// in memory while all the reports render at once.
    fn write(&mut self) -> Result<(), ReportError> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let path = &self.path;
        self.state.with_document(|doc| {
            let mut failed = None;
            let written = write_atomically(path, |w| {
                render_to(doc, &nonce, w).map_err(|error| match error {
                    Failure::Write(error) => error,
                    Failure::Render(error) => {
                        failed = Some(error);
                        io::Error::other("the page could not be rendered")
                    }
                })
            });
            failed.map_or(written, Err)
        })
    }
}

impl FinalDocument for HtmlReport {
    fn state(&mut self) -> &mut RunState {
        &mut self.state
    }

    fn write(&mut self) -> Result<(), ReportError> {
        HtmlReport::write(self)
    }
}

/// The HTML page of a results document, with a fresh CSP nonce.
pub fn render_report_html(doc: &ResultsDocument) -> Result<String, ReportError> {
    render_with_nonce(doc, &uuid::Uuid::new_v4().simple().to_string())
}

fn render_with_nonce(doc: &ResultsDocument, nonce: &str) -> Result<String, ReportError> {
    let mut page = Vec::new();
    render_to(doc, nonce, &mut page).map_err(|error| match error {
        Failure::Render(error) => error,
        Failure::Write(error) => {
            ReportError::Render { what: "report.html", message: error.to_string() }
        }
    })?;
    String::from_utf8(page)
        .map_err(|error| ReportError::Render { what: "report.html", message: error.to_string() })
}

/// Why [`render_to`] stopped: the template, or the writer.
enum Failure {
    Render(ReportError),
    Write(io::Error),
}

/// Renders the page of `doc` into `out`.
fn render_to(doc: &ResultsDocument, nonce: &str, out: &mut dyn io::Write) -> Result<(), Failure> {
    let error = |e: minijinja::Error| {
        if e.kind() == minijinja::ErrorKind::WriteFailure {
            let io_kind = std::error::Error::source(&e)
                .and_then(|source| source.downcast_ref::<io::Error>())
                .map_or(io::ErrorKind::Other, io::Error::kind);
            return Failure::Write(io::Error::new(io_kind, format!("{e:#}")));
        }
        Failure::Render(ReportError::Render { what: "report.html", message: format!("{e:#}") })
    };
    let mut env = Environment::new();
    env.add_template(TEMPLATE_NAME, TEMPLATE).map_err(error)?;
    let template = env.get_template(TEMPLATE_NAME).map_err(error)?;
    let page = Page::of(doc, nonce);
    template.render_captured_to(Value::from(Serde(&page)), out).map(drop).map_err(error)
}

/// What the template shows, every text already cleaned and formatted (escaping is the
/// template's).
#[derive(Debug, Serialize)]
struct Page {
    nonce: String,
    tool: String,
    version: String,
    verdict: String,
    /// `Exit 1: 3 scenarios failed.`
    exit_sentence: String,
    baseline: Option<BaselineView>,
    /// `pass`, `fail`, `error` or `stopped`: the header's colour.
    verdict_class: &'static str,
    run_id: String,
    started_at: String,
    duration: String,
    planned: usize,
    parallel: usize,
    partial: bool,
    /// Shards a merged run lacks (`merge --allow-incomplete`), listed.
    missing_shards: Option<String>,
    cancel: Option<Banner>,
    counts: Counts,
    priorities: Vec<Group>,
    agents: Vec<Group>,
    agent_names: Vec<String>,
    scenarios: Vec<ScenarioRow>,
    cost: Option<String>,
    cached: usize,
    /// Hits, misses, hit rate and cost saved, when the run used the cache.
    cache: Option<String>,
}

/// `--baseline`: the comparison, one line per scenario.
#[derive(Debug, Serialize)]
struct BaselineView {
    title: String,
    gating: bool,
    newly_failing: Vec<String>,
    fixed: Vec<String>,
    still_failing: Vec<String>,
    flaky: Vec<String>,
}

/// Scenarios listed per baseline category; the rest are counted.
const BASELINE_LISTED: usize = 200;

impl BaselineView {
    fn of(c: &BaselineComparison) -> Self {
        let changes = |list: &[ScenarioChange]| -> Vec<String> {
            let mut lines: Vec<String> = list
                .iter()
                .take(BASELINE_LISTED)
                .map(|s| {
                    let before = s.before.map_or("(new)", Status::as_str);
                    let mut text =
                        format!("{} {}: {before} → {}", s.priority, line(&s.id), s.after);
                    if s.flaky {
                        text.push_str(" · flaky");
                    }
                    if let Some(reason) = &s.reason {
                        text.push_str(" — ");
                        text.push_str(&line(reason));
                    }
                    text
                })
                .collect();
            if list.len() > BASELINE_LISTED {
                lines.push(format!(
                    "… and {} more (see results.json)",
                    list.len() - BASELINE_LISTED
                ));
            }
            lines
        };
        BaselineView {
            title: c.baseline_run.as_deref().map_or_else(
                || "baseline: none recorded, every failure is new".to_owned(),
                |id| format!("baseline run {}", line(id.get(..8).unwrap_or(id))),
            ),
            gating: c.gating,
            newly_failing: changes(&c.newly_failing),
            fixed: changes(&c.fixed),
            still_failing: changes(&c.still_failing),
            flaky: c
                .flaky
                .iter()
                .take(BASELINE_LISTED)
                .map(|f| {
                    format!("{} {}: {} ({} changes)", f.priority, line(&f.id), f.history, f.flips)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Banner {
    what: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct Counts {
    total: usize,
    passed: usize,
    failed: usize,
    error: usize,
    unassessed: usize,
    skipped: usize,
    pass_rate: String,
    /// 0 to 1 for a `<meter>`; absent when nothing got a verdict.
    rate_value: Option<f64>,
}

impl Counts {
    fn of(c: &StatusCounts) -> Self {
        Counts {
            total: c.total,
            passed: c.passed,
            failed: c.failed,
            error: c.error,
            unassessed: c.unassessed,
            skipped: c.skipped,
            pass_rate: fmt_rate(c.pass_rate()),
            rate_value: c.pass_rate(),
        }
    }
}

/// A row of the by-priority or by-agent table.
#[derive(Debug, Serialize)]
struct Group {
    name: String,
    url: Option<String>,
    /// `ok`, `down` or `unchecked`.
    check: &'static str,
    check_text: String,
    counts: Counts,
}

#[derive(Debug, Serialize)]
struct ScenarioRow {
    id: String,
    priority: String,
    category: String,
    agent: String,
    source: String,
    status: &'static str,
    headline: String,
    duration: String,
    details: Vec<String>,
    reasons: Vec<String>,
    checks: Vec<CheckRow>,
    transcript: Vec<Turn>,
}

#[derive(Debug, Serialize)]
struct CheckRow {
    key: String,
    expected: String,
    actual: Option<String>,
    /// `pass`, `fail` or `not-assessed`.
    verdict: &'static str,
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Turn {
    role: &'static str,
    text: String,
}

fn text(value: &str) -> String {
    document_text(value, MAX_TEXT_CHARS)
}

/// Names, ids and other one-line values: no line breaks, capped.
fn line(value: &str) -> String {
    redact_userinfo(&clean_line(value, MAX_HEADLINE_CHARS))
}

impl Page {
    fn of(doc: &ResultsDocument, nonce: &str) -> Self {
        let run = &doc.run;
        let c = &run.counts;
        // The header's colour follows the exit code every report shows.
        let verdict_class = match run.exit_code {
            0 => "pass",
            1 => "fail",
            5 | 6 => "error",
            _ => "stopped",
        };
        let cancel = run.cancelled.map(|reason| Banner {
            what: match reason {
                CancelReason::FailFast => "Stopped by fail-fast",
                CancelReason::MaxFail => "Stopped at --max-fail",
                CancelReason::Budget => "Stopped by the cost budget (--max-cost)",
                CancelReason::Interrupted => "Interrupted",
            },
            message: run.cancel_message.as_deref().map(text).unwrap_or_default(),
        });
        let priorities = Priority::ALL
            .iter()
            .map(|p| Group {
                name: p.to_string(),
                url: None,
                check: "unchecked",
                check_text: String::new(),
                counts: Counts::of(&run.by_priority.get(p).copied().unwrap_or_default()),
            })
            .collect();
        let mut agents: Vec<Group> = doc
            .agents
            .iter()
            .map(|a| {
                let (check, check_text) = match &a.check {
                    None => ("unchecked", "not checked".to_owned()),
                    Some(c) if c.ok => ("ok", format!("ok ({})", duration_ms(c.elapsed_ms))),
                    Some(c) => ("down", text(&c.message)),
                };
                Group {
                    name: line(&a.name),
                    url: Some(line(&a.url)),
                    check,
                    check_text,
                    counts: Counts::of(&doc.agent_counts(a)),
                }
            })
            .collect();
        for (name, counts) in &run.by_agent {
            if !doc.agents.iter().any(|a| &a.name == name) {
                agents.push(Group {
                    name: line(name),
                    url: None,
                    check: "unchecked",
                    check_text: "not checked".to_owned(),
                    counts: Counts::of(counts),
                });
            }
        }
        let mut agent_names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
        agent_names.sort();
        agent_names.dedup();
        let costed: Vec<f64> = doc.outcomes().filter_map(|o| o.cost_usd).collect();
        // The run's actual cost, as every report says it; older documents without a
        // breakdown fall back to the scenarios' own costs.
        let cost = run.cost.as_ref().map(|c| c.headline()).or_else(|| {
            (!costed.is_empty()).then(|| {
                format!(
                    "${:.4} over the {} of {} scenarios with a known cost",
                    costed.iter().sum::<f64>(),
                    costed.len(),
                    doc.scenarios.len()
                )
            })
        });
        Page {
            nonce: nonce.to_owned(),
            tool: line(&doc.tool.name),
            version: line(&doc.tool.version),
            verdict: verdict_words(run),
            exit_sentence: text(&exit_sentence(run)),
            baseline: run.baseline.as_deref().map(BaselineView::of),
            verdict_class,
            run_id: line(&run.run_id),
            started_at: line(&run.started_at),
            duration: duration_ms(run.duration_ms),
            planned: doc.plan.total,
            parallel: doc.plan.parallel,
            partial: doc.partial,
            missing_shards: super::markdown::missing_shards_text(doc),
            cancel,
            counts: Counts::of(c),
            priorities,
            agents,
            agent_names,
            scenarios: problems_first(doc.outcomes()).into_iter().map(ScenarioRow::of).collect(),
            cost,
            cached: run.cached,
            cache: run.cache.map(|c| {
                let rate =
                    c.hit_rate().map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0));
                format!(
                    "{} outcome hits, {} judge hits, {} misses (hit rate {rate}), ${:.4} saved",
                    c.hits, c.judge_hits, c.misses, c.saved_usd
                )
            }),
        }
    }
}

/// Failed, error, unassessed, skipped, then passed; the document's order (priority, id) within each.
fn problems_first<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Vec<&'a Outcome> {
    let rank = |o: &Outcome| match o.status {
        Status::Failed => 0,
        Status::Error => 1,
        Status::Unassessed => 2,
        Status::Skipped => 3,
        Status::Passed => 4,
    };
    let mut sorted: Vec<&Outcome> = outcomes.collect();
    sorted.sort_by_key(|o| rank(o));
    sorted
}

impl ScenarioRow {
    fn of(o: &Outcome) -> Self {
        let headline = o.reasons.first().map(|r| line(r)).unwrap_or_default();
        let mut details = vec![format!("{} · {}", line(&o.category), line(&o.source))];
        if let Some(latency) = o.latency_ms {
            details.push(format!("agent time {}", duration_ms(latency)));
        }
        if o.attempts > 1 {
            details.push(format!("{} attempts", o.attempts));
        }
        if o.cache == Some(crate::model::CacheKind::Judge) {
            details.push("judge verdict from the cache".to_owned());
        }
        if o.cached {
            details.push("served from the cache".to_owned());
        }
        if let Some(usage) = o.usage {
            details.push(format!("{} tokens in, {} out", usage.input_tokens, usage.output_tokens));
        }
        if let Some(cost) = o.cost_usd {
            details.push(format!("${cost:.4}"));
        }
        ScenarioRow {
            id: line(&o.id),
            priority: o.priority.to_string(),
            category: line(&o.category),
            agent: line(&o.agent),
            source: line(&o.source),
            status: o.status.as_str(),
            headline,
            duration: duration_ms(o.duration_ms),
            details,
            reasons: o.reasons.iter().map(|r| text(r)).collect(),
            checks: o.checks.iter().map(CheckRow::of).collect(),
            transcript: o
                .transcript
                .iter()
                .map(|t| Turn {
                    role: match t.role {
                        Role::User => "user",
                        Role::Agent => "agent",
                    },
                    text: text(&t.text),
                })
                .collect(),
        }
    }
}

impl CheckRow {
    fn of(c: &CheckResult) -> Self {
        CheckRow {
            key: line(&c.key),
            expected: text(&c.expected),
            actual: c.actual.as_deref().map(text),
            verdict: match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "fail",
                Verdict::NotAssessed => "not-assessed",
            },
            note: c.note.as_deref().map(text),
        }
    }
}

#[cfg(test)]
pub(super) fn render_for_test(doc: &ResultsDocument) -> String {
    render_with_nonce(doc, "testnonce").unwrap()
}
