//! `summary.md`: the run for people, sized for a PR comment or `$GITHUB_STEP_SUMMARY`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::document::AgentReport;
use super::files::write_atomically;
use super::state::RunState;
use super::text::{MAX_TEXT_CHARS, MdContext, fmt_rate, md_code, md_text};
use super::{ReportError, Reporter, ResultsDocument};
use crate::model::{
    BaselineComparison, CancelReason, CheckResult, Outcome, RunEvent, RunSummary, Status,
    StatusCounts, Verdict,
};
use crate::scenario::Priority;
use crate::text::duration_ms;

/// Errors with the same agent and message collapse into one line from this many scenarios
/// on (always, when the agent failed its check).
const GROUP_ERRORS_FROM: usize = 3;
/// Failures listed per priority before "… and N more".
const MAX_LISTED_PER_PRIORITY: usize = 50;
/// Rows of the slowest-scenarios table.
const SLOWEST: usize = 10;
/// Check values (expected/got) are shorter than reasons.
const MAX_VALUE_CHARS: usize = 160;

/// Writes `summary.md` atomically when the run finishes (or on
/// [`flush_partial`](Reporter::flush_partial)), and appends the same Markdown to
/// `$GITHUB_STEP_SUMMARY` when asked to.
#[derive(Debug)]
pub struct SummaryMarkdown {
    path: PathBuf,
    step_summary: Option<PathBuf>,
    state: RunState,
}

impl SummaryMarkdown {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SummaryMarkdown { path: path.into(), step_summary: None, state: RunState::new() }
    }

    /// Also append the summary to this file when the run finishes (GitHub Actions'
    /// `$GITHUB_STEP_SUMMARY`).
    #[must_use]
    pub fn append_to(mut self, step_summary: Option<PathBuf>) -> Self {
        self.step_summary = step_summary;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, finished: bool) -> Result<(), ReportError> {
        let markdown = self.state.with_document(render_summary_markdown);
        let written = write_atomically(&self.path, |w| w.write_all(markdown.as_bytes()));
        let appended = match (&self.step_summary, finished) {
            (Some(path), true) => append(path, &markdown),
            _ => Ok(()),
        };
        written.and(appended)
    }
}

fn append(path: &Path, markdown: &str) -> Result<(), ReportError> {
    let error = |error| ReportError::StepSummary { path: path.to_path_buf(), error };
    let mut file =
        fs_err::OpenOptions::new().append(true).create(true).open(path).map_err(error)?;
    file.write_all(markdown.as_bytes()).and_then(|()| file.flush()).map_err(error)
}

impl Reporter for SummaryMarkdown {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        self.state.apply(event);
        if matches!(event, RunEvent::RunFinished { .. }) {
            self.write(true)?;
        }
        Ok(())
    }

    fn flush_partial(&mut self) -> Result<(), ReportError> {
        if self.state.is_finished() { Ok(()) } else { self.write(false) }
    }
}

/// The Markdown summary of a results document.
pub fn render_summary_markdown(doc: &ResultsDocument) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _infallible = write_summary(&mut out, doc);
    out
}

/// `2, 3` when a merged run lacks these shards of its plan.
pub(crate) fn missing_shards_text(doc: &ResultsDocument) -> Option<String> {
    if doc.plan.missing_shards.is_empty() {
        return None;
    }
    Some(doc.plan.missing_shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

fn write_summary(out: &mut String, doc: &ResultsDocument) -> std::fmt::Result {
    let run = &doc.run;
    writeln!(out, "# rogue-runner results\n")?;
    writeln!(out, "**{}**\n", verdict_line(run))?;
    writeln!(out, "{}\n", md_text(&exit_sentence(run), MAX_TEXT_CHARS))?;
    writeln!(
        out,
        "Run {} · started {} · {} of {} planned scenarios · parallel {}\n",
        md_code(&run.run_id, MdContext::Text),
        md_text(&run.started_at, 64),
        run.counts.total,
        doc.plan.total,
        doc.plan.parallel,
    )?;
    if let Some(missing) = missing_shards_text(doc) {
        writeln!(
            out,
            "> ⚠️ **Incomplete merge:** shard(s) {missing} are missing (`merge \
             --allow-incomplete`); these results do not cover the whole plan.\n"
        )?;
    }
    if doc.partial {
        writeln!(
            out,
            "> ⏹️ **Partial results:** the run did not finish; {} of {} planned scenarios have a \
             result.\n",
            run.counts.total, doc.plan.total
        )?;
    }
    if let Some(reason) = run.cancelled {
        write_cancellation(out, reason, run)?;
    }
    write_executive_summary(out, run)?;
    if let Some(baseline) = &run.baseline {
        write_baseline(out, baseline)?;
    }
    write_priorities(out, run)?;
    write_agents(out, doc)?;
    let collapsed = write_error_groups(out, doc)?;
    write_failures(out, doc, &collapsed)?;
    write_slowest(out, doc)?;
    write_by_reason(out, doc, Status::Unassessed, "Unassessed")?;
    write_by_reason(out, doc, Status::Skipped, "Skipped")?;
    write_cost_and_cache(out, doc)?;
    writeln!(
        out,
        "---\n<sub>Written by {} {} · every detail is in `results.json` and `events.jsonl`</sub>",
        md_text(&doc.tool.name, 64),
        md_text(&doc.tool.version, 64)
    )
}

/// `❌ 3 failed, 1 error — exit code 1`. The icon follows the exit code.
fn verdict_line(run: &RunSummary) -> String {
    let icon = match run.exit_code {
        0 => "✅",
        1 => "❌",
        3 | 4 => "🛑",
        5 | 6 => "⚠️",
        _ => "⏹️",
    };
    format!("{icon} {}", verdict_words(run))
}

/// `Exit 1: 3 scenarios failed.` — the exit code and why, as every report says it.
pub(crate) fn exit_sentence(run: &RunSummary) -> String {
    if run.exit_reason.is_empty() {
        format!("Exit {}.", run.exit_code)
    } else {
        format!("Exit {}: {}.", run.exit_code, run.exit_reason)
    }
}

/// `stopped by fail-fast: 3 failed, 1 error — exit code 3`: the verdict without an icon.
pub(crate) fn verdict_words(run: &RunSummary) -> String {
    let c = &run.counts;
    let prefix = match run.cancelled {
        None => "",
        Some(CancelReason::FailFast) => "stopped by fail-fast: ",
        Some(CancelReason::MaxFail) => "stopped at --max-fail: ",
        Some(CancelReason::Budget) => "stopped by the cost budget: ",
        Some(CancelReason::Interrupted) => "interrupted: ",
    };
    let mut parts = Vec::new();
    if c.failed > 0 {
        parts.push(format!("{} failed", c.failed));
    }
    if c.error > 0 {
        parts.push(format!("{} error", c.error));
    }
    if parts.is_empty() {
        parts.push(match (c.passed, c.skipped + c.unassessed) {
            (0, _) if c.unassessed == 0 => "no scenario ran".to_owned(),
            (n, 0) => format!("all {n} passed"),
            (n, _) => format!("{n} passed"),
        });
    }
    if c.unassessed > 0 {
        parts.push(format!("{} unassessed", c.unassessed));
    }
    if c.skipped > 0 {
        parts.push(format!("{} skipped", c.skipped));
    }
    format!("{prefix}{} — exit code {}", parts.join(", "), run.exit_code)
}

fn write_cancellation(
    out: &mut String,
    reason: CancelReason,
    run: &RunSummary,
) -> std::fmt::Result {
    let (icon, what) = match reason {
        CancelReason::FailFast => ("🛑", "Stopped by fail-fast"),
        CancelReason::MaxFail => ("🛑", "Stopped at --max-fail"),
        CancelReason::Budget => ("🛑", "Stopped by the cost budget (--max-cost)"),
        CancelReason::Interrupted => ("⏹️", "Interrupted"),
    };
    let message = run.cancel_message.as_deref().map(|m| md_text(m, MAX_TEXT_CHARS));
    write!(out, "> {icon} **{what}:** ")?;
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        write!(out, "{message}. ")?;
    }
    writeln!(out, "Scenarios that did not run are reported as skipped ({}).\n", run.counts.skipped)
}

fn write_executive_summary(out: &mut String, run: &RunSummary) -> std::fmt::Result {
    let c = &run.counts;
    let executed = c.passed + c.failed + c.error;
    let per_minute = if run.duration_ms == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.1}", executed as f64 * 60_000.0 / run.duration_ms as f64)
    };
    writeln!(out, "## Summary\n")?;
    writeln!(
        out,
        "| Scenarios | Passed | Failed | Error | Unassessed | Skipped | Pass rate | Duration | Scenarios/min |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        c.total,
        c.passed,
        c.failed,
        c.error,
        c.unassessed,
        c.skipped,
        fmt_rate(c.pass_rate()),
        duration_ms(run.duration_ms),
        per_minute
    )?;
    writeln!(
        out,
        "Pass rate is passed over passed + failed + error; unassessed and skipped scenarios do \
         not count.\n"
    )
}

fn counts_cells(c: &StatusCounts) -> String {
    format!(
        "{} | {} | {} | {} | {} | {} | {}",
        c.total,
        c.passed,
        c.failed,
        c.error,
        c.unassessed,
        c.skipped,
        fmt_rate(c.pass_rate())
    )
}

fn write_priorities(out: &mut String, run: &RunSummary) -> std::fmt::Result {
    writeln!(out, "## Pass rate by priority\n")?;
    writeln!(
        out,
        "| Priority | Scenarios | Passed | Failed | Error | Unassessed | Skipped | Pass rate |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for priority in Priority::ALL {
        let counts = run.by_priority.get(&priority).copied().unwrap_or_default();
        writeln!(out, "| {priority} | {} |", counts_cells(&counts))?;
    }
    writeln!(out)
}

fn write_agents(out: &mut String, doc: &ResultsDocument) -> std::fmt::Result {
    let by_agent = &doc.run.by_agent;
    let mut rows: Vec<(&str, Option<&AgentReport>)> =
        doc.agents.iter().map(|a| (a.name.as_str(), Some(a))).collect();
    for name in by_agent.keys() {
        if !doc.agents.iter().any(|a| &a.name == name) {
            rows.push((name.as_str(), None));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "## Agents\n")?;
    writeln!(
        out,
        "| Agent | URL | Check | Scenarios | Passed | Failed | Error | Unassessed | Skipped | Pass rate |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for (name, report) in rows {
        let url = report.map_or_else(String::new, |r| md_code(&r.url, MdContext::Table));
        let check = match report.and_then(|r| r.check.as_ref()) {
            None => "not checked".to_owned(),
            Some(c) if c.ok => format!("✅ ok ({})", duration_ms(c.elapsed_ms)),
            Some(c) => format!("❌ {}", md_text(&c.message, MAX_VALUE_CHARS)),
        };
        let counts = report.map_or_else(
            || by_agent.get(name).copied().unwrap_or_default(),
            |r| doc.agent_counts(r),
        );
        writeln!(
            out,
            "| {} | {url} | {check} | {} |",
            md_code(name, MdContext::Table),
            counts_cells(&counts)
        )?;
    }
    writeln!(out)
}

/// Errors of one agent (name and URL) with one message.
struct ErrorGroup<'a> {
    agent: &'a str,
    url: Option<&'a str>,
    headline: &'a str,
    outcomes: Vec<&'a Outcome>,
}

fn headline(outcome: &Outcome) -> &str {
    outcome.reasons.first().map_or("no reason given", String::as_str)
}

/// Writes errors shared by many scenarios as one line per agent and message; returns the ids
/// it covered, so the failure list does not repeat them.
fn write_error_groups<'a>(
    out: &mut String,
    doc: &'a ResultsDocument,
) -> Result<HashSet<&'a str>, std::fmt::Error> {
    let mut groups: Vec<ErrorGroup<'a>> = Vec::new();
    for outcome in doc.outcomes().filter(|o| o.status == Status::Error) {
        let line = headline(outcome);
        let url = outcome.agent_url.as_deref();
        match groups
            .iter_mut()
            .find(|g| g.agent == outcome.agent && g.url == url && g.headline == line)
        {
            Some(group) => group.outcomes.push(outcome),
            None => groups.push(ErrorGroup {
                agent: &outcome.agent,
                url,
                headline: line,
                outcomes: vec![outcome],
            }),
        }
    }
    let agent = |g: &ErrorGroup<'_>| g.outcomes.first().and_then(|o| doc.agent_of(o));
    let agent_down =
        |g: &ErrorGroup<'_>| agent(g).and_then(|a| a.check.as_ref()).is_some_and(|c| !c.ok);
    groups.retain(|g| g.outcomes.len() >= GROUP_ERRORS_FROM || agent_down(g));
    if groups.is_empty() {
        return Ok(HashSet::new());
    }
    groups.sort_by(|a, b| b.outcomes.len().cmp(&a.outcomes.len()).then(a.agent.cmp(b.agent)));
    writeln!(out, "## Errors shared by many scenarios\n")?;
    let mut covered = HashSet::new();
    for group in &groups {
        let url = agent(group).map(|a| format!(" ({})", md_code(&a.url, MdContext::Text)));
        let mut per_priority: BTreeMap<Priority, usize> = BTreeMap::new();
        for outcome in &group.outcomes {
            *per_priority.entry(outcome.priority).or_default() += 1;
        }
        let split: Vec<String> = per_priority.iter().map(|(p, n)| format!("{p} {n}")).collect();
        let n = group.outcomes.len();
        writeln!(
            out,
            "- 💥 **{}**{}: {} — {n} scenario{} ({})",
            md_text(group.agent, MAX_VALUE_CHARS),
            url.unwrap_or_default(),
            md_text(group.headline, MAX_TEXT_CHARS),
            if n == 1 { "" } else { "s" },
            split.join(" · ")
        )?;
        covered.extend(group.outcomes.iter().map(|o| o.id.as_str()));
    }
    writeln!(out)?;
    Ok(covered)
}

fn write_failures(
    out: &mut String,
    doc: &ResultsDocument,
    collapsed: &HashSet<&str>,
) -> std::fmt::Result {
    writeln!(out, "## Failures\n")?;
    let listed: Vec<&Outcome> = doc
        .outcomes()
        .filter(|o| matches!(o.status, Status::Failed | Status::Error))
        .filter(|o| !collapsed.contains(o.id.as_str()))
        .collect();
    if listed.is_empty() {
        let text = if collapsed.is_empty() {
            "No scenario failed."
        } else {
            "No other scenario failed or errored."
        };
        return writeln!(out, "{text}\n");
    }
    for priority in Priority::ALL {
        let here: Vec<&Outcome> =
            listed.iter().copied().filter(|o| o.priority == priority).collect();
        if here.is_empty() {
            continue;
        }
        let failed = here.iter().filter(|o| o.status == Status::Failed).count();
        let mut parts = Vec::new();
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        if here.len() > failed {
            parts.push(format!("{} error", here.len() - failed));
        }
        let shared = doc
            .outcomes()
            .filter(|o| o.priority == priority && collapsed.contains(o.id.as_str()))
            .count();
        let grouped =
            if shared > 0 { format!(" (+{shared} error grouped above)") } else { String::new() };
        writeln!(out, "### {priority} — {}{grouped}\n", parts.join(", "))?;
        for outcome in here.iter().take(MAX_LISTED_PER_PRIORITY) {
            write_failure(out, outcome)?;
        }
        if here.len() > MAX_LISTED_PER_PRIORITY {
            writeln!(
                out,
                "- … and {} more; see `results.json`",
                here.len() - MAX_LISTED_PER_PRIORITY
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_failure(out: &mut String, outcome: &Outcome) -> std::fmt::Result {
    let icon = if outcome.status == Status::Failed { "❌" } else { "💥" };
    writeln!(
        out,
        "- {icon} **{}** {}: {}",
        md_code(&outcome.id, MdContext::Text),
        outcome.status,
        md_text(headline(outcome), MAX_TEXT_CHARS)
    )?;
    writeln!(
        out,
        "  - agent {} · {} · {}{}",
        md_code(&outcome.agent, MdContext::Text),
        md_code(&outcome.source, MdContext::Text),
        duration_ms(outcome.duration_ms),
        if outcome.attempts > 1 {
            format!(" · {} attempts", outcome.attempts)
        } else {
            String::new()
        }
    )?;
    let failed_checks: Vec<&CheckResult> =
        outcome.checks.iter().filter(|c| c.verdict == Verdict::Fail).collect();
    for check in &failed_checks {
        write!(
            out,
            "  - {}: expected {}",
            md_code(&check.key, MdContext::Text),
            md_text(&check.expected, MAX_VALUE_CHARS)
        )?;
        if let Some(actual) = &check.actual {
            write!(out, ", got {}", md_text(actual, MAX_VALUE_CHARS))?;
        }
        if let Some(note) = &check.note {
            write!(out, " ({})", md_text(note, MAX_VALUE_CHARS))?;
        }
        writeln!(out)?;
    }
    if failed_checks.is_empty() {
        for reason in outcome.reasons.iter().skip(1) {
            writeln!(out, "  - {}", md_text(reason, MAX_TEXT_CHARS))?;
        }
    }
    Ok(())
}

fn write_slowest(out: &mut String, doc: &ResultsDocument) -> std::fmt::Result {
    let mut ran: Vec<&Outcome> = doc.outcomes().filter(|o| o.status != Status::Skipped).collect();
    if ran.is_empty() {
        return Ok(());
    }
    ran.sort_by(|a, b| b.duration_ms.cmp(&a.duration_ms).then_with(|| a.id.cmp(&b.id)));
    writeln!(out, "## Slowest scenarios\n")?;
    writeln!(out, "| # | Scenario | Priority | Agent | Status | Duration |")?;
    writeln!(out, "|---:|---|---|---|---|---:|")?;
    for (rank, outcome) in ran.iter().take(SLOWEST).enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            rank + 1,
            md_code(&outcome.id, MdContext::Table),
            outcome.priority,
            md_code(&outcome.agent, MdContext::Table),
            outcome.status,
            duration_ms(outcome.duration_ms)
        )?;
    }
    writeln!(out)
}

/// Baseline changes listed per category before "… and N more".
const BASELINE_LISTED: usize = 20;

/// `--baseline`: newly failing, fixed, still failing, flaky.
fn write_baseline(out: &mut String, c: &BaselineComparison) -> std::fmt::Result {
    match &c.baseline_run {
        Some(id) => writeln!(
            out,
            "## Compared with baseline run {}\n",
            md_code(id.get(..8).unwrap_or(id), MdContext::Text)
        )?,
        None => writeln!(out, "## Compared with baseline: none recorded, every failure is new\n")?,
    }
    writeln!(out, "| Newly failing | Fixed | Still failing | Flaky |")?;
    writeln!(out, "|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| {} | {} | {} | {} |\n",
        c.newly_failing.len(),
        c.fixed.len(),
        c.still_failing.len(),
        c.flaky.len()
    )?;
    if c.gating {
        writeln!(
            out,
            "`--fail-on-regressions-only`: only newly failing scenarios fail the run.\n"
        )?;
    }
    for (title, changes) in [
        ("Newly failing", &c.newly_failing),
        ("Fixed", &c.fixed),
        ("Still failing", &c.still_failing),
    ] {
        if changes.is_empty() {
            continue;
        }
        writeln!(out, "<details><summary>{title} ({})</summary>\n", changes.len())?;
        for change in changes.iter().take(BASELINE_LISTED) {
            let before = change.before.map_or("(new)", Status::as_str);
            writeln!(
                out,
                "- {} {}: {before} → {}{}{}",
                change.priority,
                md_code(&change.id, MdContext::Text),
                change.after,
                if change.flaky { " · flaky" } else { "" },
                change
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {}", md_text(r, MAX_VALUE_CHARS)))
                    .unwrap_or_default()
            )?;
        }
        if changes.len() > BASELINE_LISTED {
            writeln!(out, "- … and {} more; see `results.json`", changes.len() - BASELINE_LISTED)?;
        }
        writeln!(out, "\n</details>\n")?;
    }
    if !c.flaky.is_empty() {
        writeln!(out, "<details><summary>Flaky ({})</summary>\n", c.flaky.len())?;
        for f in c.flaky.iter().take(BASELINE_LISTED) {
            writeln!(
                out,
                "- {} {}: `{}` ({} changes)",
                f.priority,
                md_code(&f.id, MdContext::Text),
                f.history,
                f.flips
            )?;
        }
        if c.flaky.len() > BASELINE_LISTED {
            writeln!(out, "- … and {} more; see `results.json`", c.flaky.len() - BASELINE_LISTED)?;
        }
        writeln!(out, "\n</details>\n")?;
    }
    Ok(())
}

/// Scenarios of `status` counted by their first reason.
fn write_by_reason(
    out: &mut String,
    doc: &ResultsDocument,
    status: Status,
    title: &str,
) -> std::fmt::Result {
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for outcome in doc.outcomes().filter(|o| o.status == status) {
        let line = headline(outcome);
        match reasons.iter_mut().find(|(r, _)| *r == line) {
            Some((_, n)) => *n += 1,
            None => reasons.push((line, 1)),
        }
    }
    if reasons.is_empty() {
        return Ok(());
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    writeln!(out, "## {title}\n")?;
    if status == Status::Unassessed {
        writeln!(
            out,
            "These ran and nothing failed, but not everything they expect could be checked: \
             they are not passes.\n"
        )?;
    }
    writeln!(out, "| Reason | Scenarios |")?;
    writeln!(out, "|---|---:|")?;
    for (reason, n) in reasons {
        writeln!(out, "| {} | {n} |", md_text(reason, MAX_TEXT_CHARS))?;
    }
    writeln!(out)
}

fn write_cost_and_cache(out: &mut String, doc: &ResultsDocument) -> std::fmt::Result {
    writeln!(out, "## Cost\n")?;
    if let Some(cost) = &doc.run.cost {
        write_cost_breakdown(out, doc, cost)?;
    } else {
        let costed: Vec<f64> = doc.outcomes().filter_map(|o| o.cost_usd).collect();
        if costed.is_empty() {
            writeln!(out, "Not tracked in this run.\n")?;
        } else {
            let total: f64 = costed.iter().sum();
            writeln!(
                out,
                "${total:.4} in total, summed over the {} of {} scenarios with a known cost.\n",
                costed.len(),
                doc.scenarios.len()
            )?;
        }
    }
    writeln!(out, "## Cache\n")?;
    if let Some(cache) = doc.run.cache {
        writeln!(
            out,
            "{} outcome hits, {} judge hits, {} misses.\n",
            cache.hits, cache.judge_hits, cache.misses
        )?;
        writeln!(out, "| Outcome hits | Judge hits | Misses | Hit rate | Cost saved |")?;
        writeln!(out, "|---:|---:|---:|---:|---:|")?;
        writeln!(
            out,
            "| {} | {} | {} | {} | ${:.4} |\n",
            cache.hits,
            cache.judge_hits,
            cache.misses,
            fmt_rate(cache.hit_rate()),
            cache.saved_usd
        )?;
        return writeln!(
            out,
            "An outcome hit reuses a whole result without calling the agent: only for agents \
             whose identity is pinned (`--agent-version`, `--trust-card-version`) and within \
             `--cache-ttl`, when nothing else that decides it changed (scenario, agent URL and \
             card, judge). A judge hit called the agent and reused only the judge's verdict on \
             the identical conversation. The cost saved is what the outcome hits actually cost \
             when they ran (their priced LLM calls, $0 for those that made none); it is not part \
             of this run's cost above.\n"
        );
    }
    let cached = doc.outcomes().filter(|o| o.cached).count();
    if cached == 0 {
        writeln!(out, "No scenario was served from the cache.\n")
    } else {
        writeln!(out, "Served from the cache: {cached} of {} scenarios.\n", doc.scenarios.len())
    }
}

/// Rows of the most expensive scenarios listed.
const COSTLIEST: usize = 10;

fn write_cost_breakdown(
    out: &mut String,
    doc: &ResultsDocument,
    cost: &crate::model::CostBreakdown,
) -> std::fmt::Result {
    let t = &cost.total;
    if t.calls == 0 {
        return writeln!(
            out,
            "**{}** in this run: no judge, driver or agent LLM call was made (or reported). \
             Prices: {}.\n",
            cost.headline(),
            md_text(&cost.pricing, MAX_VALUE_CHARS),
        );
    }
    writeln!(
        out,
        "**${:.4}** for this run: {} LLM call(s), {} input tokens ({} cached), {} output tokens. \
         Projected **${:.2} per month** at {} run(s) per day (30 days). Prices: {}.\n",
        t.cost_usd,
        t.calls,
        t.usage.input_tokens,
        t.usage.cached_input_tokens,
        t.usage.output_tokens,
        cost.monthly_projection_usd,
        cost.runs_per_day,
        md_text(&cost.pricing, MAX_VALUE_CHARS),
    )?;
    if !cost.unknown_models.is_empty() {
        let names: Vec<String> =
            cost.unknown_models.iter().map(|m| md_code(m, MdContext::Text)).collect();
        writeln!(
            out,
            "⚠️ No price for {}: their {} call(s) are counted but their cost is unknown, not \
             zero (add them with `--pricing FILE`).\n",
            names.join(", "),
            t.unpriced_calls
        )?;
    }
    let group_table = |out: &mut String,
                       title: &str,
                       rows: Vec<(String, &crate::model::CostGroup)>|
     -> std::fmt::Result {
        writeln!(out, "| {title} | Calls | Input | Cached | Output | Cost (USD) |")?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
        for (name, g) in rows {
            let unpriced = if g.unpriced_calls > 0 {
                format!(" (+{} unpriced)", g.unpriced_calls)
            } else {
                String::new()
            };
            writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {:.4}{unpriced} |",
                g.calls,
                g.usage.input_tokens,
                g.usage.cached_input_tokens,
                g.usage.output_tokens,
                g.cost_usd
            )?;
        }
        writeln!(out)
    };
    group_table(
        out,
        "Priority",
        cost.by_priority.iter().map(|(p, g)| (p.to_string(), g)).collect(),
    )?;
    group_table(
        out,
        "Agent",
        cost.by_agent.iter().map(|(a, g)| (md_text(a, MAX_VALUE_CHARS), g)).collect(),
    )?;
    group_table(
        out,
        "Role:model",
        cost.by_model.iter().map(|(m, g)| (md_code(m, MdContext::Table), g)).collect(),
    )?;
    let mut costly: Vec<&Outcome> = doc.outcomes().filter(|o| o.cost_usd.is_some()).collect();
    costly.sort_by(|a, b| b.cost_usd.partial_cmp(&a.cost_usd).unwrap_or(std::cmp::Ordering::Equal));
    if !costly.is_empty() {
        writeln!(out, "Costliest scenarios:\n")?;
        writeln!(out, "| Scenario | Priority | Agent | Cost (USD) |")?;
        writeln!(out, "|---|---|---|---:|")?;
        for o in costly.iter().take(COSTLIEST) {
            writeln!(
                out,
                "| {} | {} | {} | {:.6} |",
                md_code(&o.id, MdContext::Table),
                o.priority,
                md_text(&o.agent, MAX_VALUE_CHARS),
                o.cost_usd.unwrap_or(0.0)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}
