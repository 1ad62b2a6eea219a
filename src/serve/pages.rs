//! The Runs, Run, Compare and Scenario pages: each reads the store once, builds a view of
//! plain strings and numbers, and renders its template (which escapes every value).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::app::{AppState, PageError};
use super::charts::{Chart, Series, line_chart};
use crate::model::{CheckResult, Outcome, Role, Status, StatusCounts, Verdict};
use crate::report::{clean_line, document_text};
use crate::scenario::Priority;
use crate::store::dashboard::{Facets, OutcomeFilter};
use crate::store::{Change, Comparison, DEFAULT_FLAKY_WINDOW, RunRecord, ScenarioRecord, Store};
use crate::text::{LargestUnit, duration_ms, duration_ms_up_to};

/// Runs listed on the Runs page and in the Compare menus.
pub(super) const RUNS_LISTED: usize = 100;
/// Rows of a Run page.
pub(super) const PAGE_ROWS: usize = 50;
/// Runs on a Scenario page.
const SCENARIO_RUNS: usize = 100;
/// The longest reason, check value or transcript turn shown, in characters (as report.html).
const MAX_TEXT_CHARS: usize = 20_000;
/// Names, ids, headlines.
const MAX_LINE_CHARS: usize = 300;

/// Query parameters, the last of each name winning.
pub(super) fn query(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// `path?k=v&…` with the non-empty pairs.
pub(super) fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
        any = true;
    }
    if any { format!("{path}?{}", query.finish()) } else { path.to_owned() }
}

pub(super) fn line(text: &str) -> String {
    clean_line(text, MAX_LINE_CHARS)
}

fn text(value: &str) -> String {
    document_text(value, MAX_TEXT_CHARS)
}

pub(super) fn short_id(id: &str) -> String {
    line(id.get(..8).unwrap_or(id))
}

/// `2026-11-25 15:08:03` (UTC) from RFC 3339.
pub(super) fn fmt_time(rfc3339: &str) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map_or_else(|_| line(rfc3339), |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
}

pub(super) fn fmt_rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn fmt_ms(ms: Option<u64>) -> String {
    ms.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms} ms"))
}

/// Renders `template` with `view` as a page, or the error page.
pub(super) fn page(state: &AppState, template: &str, view: impl Serialize) -> Response {
    match state.render(template, view) {
        Ok(html) => Html(html).into_response(),
        Err(error) => error_page(state, &error),
    }
}

#[derive(Serialize)]
struct MessageView {
    nav: &'static str,
    title: String,
    message: String,
}

pub(super) fn error_page(state: &AppState, error: &PageError) -> Response {
    let view = MessageView {
        nav: "",
        title: match error.status() {
            StatusCode::NOT_FOUND => "Not found".to_owned(),
            StatusCode::BAD_REQUEST => "Bad request".to_owned(),
            _ => "Something went wrong".to_owned(),
        },
        message: line(&error.message()),
    };
    let body = state.render("message.html", &view).unwrap_or_else(|_| view.message.clone());
    let mut response = (error.status(), Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn respond(state: &AppState, result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(|error| error_page(state, &error))
}

/// Latency percentiles of a run; cached once the run has finished (it cannot change then).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RunStats {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
}

/// Nearest-rank percentile of sorted values (as `compare` computes it).
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

pub(super) fn run_stats(
    state: &AppState,
    store: &Store,
    run: &RunRecord,
) -> Result<RunStats, PageError> {
    if let Some(stats) = state.run_stats.lock().unwrap_or_else(PoisonError::into_inner).get(&run.id)
    {
        return Ok(*stats);
    }
    let latencies = store.run_latencies(&run.id)?;
    let stats = RunStats { p50: percentile(&latencies, 50), p95: percentile(&latencies, 95) };
    if run.is_finished() {
        state
            .run_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run.id.clone(), stats);
    }
    Ok(stats)
}

/// Run `reference` (an id or a unique prefix), from memory once it has finished.
pub(super) fn lookup_run(
    state: &AppState,
    store: &Store,
    reference: &str,
) -> Result<RunRecord, PageError> {
    if let Some(run) =
        state.finished_runs.lock().unwrap_or_else(PoisonError::into_inner).get(reference)
    {
        return Ok(run.clone());
    }
    let run = store.find_run(reference)?;
    if run.is_finished() {
        state
            .finished_runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run.id.clone(), run.clone());
    }
    Ok(run)
}

/// The last `limit` runs, newest first (as [`Store::runs`]), the finished ones from memory.
pub(super) fn recent_runs(
    state: &AppState,
    store: &Store,
    limit: usize,
) -> Result<Vec<RunRecord>, PageError> {
    store.run_ids(limit)?.iter().map(|(id, _)| lookup_run(state, store, id)).collect()
}

/// The newest finished run (`latest`), if any.
fn latest_finished(state: &AppState, store: &Store) -> Result<Option<RunRecord>, PageError> {
    let newest = store.run_ids(1)?;
    let Some((id, _)) = newest.first() else { return Ok(None) };
    let ids = store.finished_run_ids_until(id, 1)?;
    ids.first().map(|id| lookup_run(state, store, id)).transpose()
}

/// What [`Store::compare_runs`] returns, with the runs of the flaky window read once and
/// counted from memory.
pub(super) fn comparison(
    state: &AppState,
    store: &Store,
    a: &RunRecord,
    b: &RunRecord,
    window: usize,
) -> Result<Comparison, PageError> {
    let mut results = Vec::with_capacity(window + 1);
    for id in store.finished_run_ids_until(&b.id, window)? {
        results.push(store.run_results(lookup_run(state, store, &id)?)?);
    }
    // An unfinished B is not in the window of finished runs; it still ends it.
    if window > 0 && results.last().is_none_or(|r| r.run.id != b.id) {
        if results.len() == window {
            results.remove(0);
        }
        results.push(store.run_results(b.clone())?);
    }
    let before = store.run_results(a.clone())?;
    let after = match results.last() {
        Some(last) if last.run.id == b.id => last.clone(),
        _ => store.run_results(b.clone())?,
    };
    Ok(crate::store::compare(&before, &after, &results))
}

/// Counts the recent runs (in one pass) and their latencies once, so that the first visit is
/// as quick as the next ones.
pub(super) async fn warm_up(state: Arc<AppState>) {
    let _ = state
        .with_store(|state, store| {
            for run in store.runs(RUNS_LISTED)? {
                if run.is_finished() {
                    let mut finished =
                        state.finished_runs.lock().unwrap_or_else(PoisonError::into_inner);
                    finished.insert(run.id.clone(), run.clone());
                }
                run_stats(state, store, &run)?;
            }
            Ok(())
        })
        .await;
}

/// A run as a table row or a header.
#[derive(Debug, Serialize)]
pub(super) struct RunView {
    pub id: String,
    pub short: String,
    pub href: String,
    pub started: String,
    pub commit: String,
    pub exit: String,
    /// `pass`, `fail`, `error`, `stopped` or `running`: the colour.
    pub class: &'static str,
    pub finished: bool,
    pub counts: CountsView,
    pub cached: usize,
    pub cost: String,
    pub duration: String,
    pub partition: String,
    pub planned: usize,
}

#[derive(Debug, Serialize)]
pub(super) struct CountsView {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub error: usize,
    pub unassessed: usize,
    pub skipped: usize,
    pub pass_rate: String,
}

impl CountsView {
    pub(super) fn of(c: &StatusCounts) -> Self {
        CountsView {
            total: c.total,
            passed: c.passed,
            failed: c.failed,
            error: c.error,
            unassessed: c.unassessed,
            skipped: c.skipped,
            pass_rate: fmt_rate(c.pass_rate()),
        }
    }
}

pub(super) fn run_href(id: &str) -> String {
    format!("/runs/{}", form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
}

impl RunView {
    pub(super) fn of(run: &RunRecord) -> Self {
        let class = match (run.is_finished(), run.exit_code) {
            (false, _) => "running",
            (true, Some(0)) => "pass",
            (true, Some(1)) => "fail",
            (true, Some(5 | 6)) => "error",
            _ => "stopped",
        };
        RunView {
            id: line(&run.id),
            short: short_id(&run.id),
            href: run_href(&run.id),
            started: fmt_time(&run.started_at),
            commit: run
                .git_commit
                .as_deref()
                .map_or_else(String::new, |c| line(&c.chars().take(8).collect::<String>())),
            exit: match (run.exit_code, run.is_finished()) {
                (Some(code), true) => code.to_string(),
                _ => "-".to_owned(),
            },
            class,
            finished: run.is_finished(),
            counts: CountsView::of(&run.counts),
            cached: run.cached,
            cost: format!("${:.4}", run.cost_usd),
            duration: match run.duration_ms {
                Some(ms) if run.is_finished() => duration_ms_up_to(ms, LargestUnit::Minutes),
                _ => "unfinished".to_owned(),
            },
            partition: run.partition.as_deref().map(line).unwrap_or_default(),
            planned: run.planned,
        }
    }
}

#[derive(Serialize)]
struct RunsView {
    nav: &'static str,
    runs: Vec<RunView>,
    charts: Vec<Chart>,
    live: Option<String>,
}

pub(super) async fn runs(State(state): State<Arc<AppState>>) -> Response {
    let result = state
        .with_store(|state, store| {
            let runs = recent_runs(state, store, RUNS_LISTED)?;
            let oldest_first: Vec<&RunRecord> = runs.iter().rev().collect();
            let mut p50 = Vec::with_capacity(runs.len());
            let mut p95 = Vec::with_capacity(runs.len());
            for run in &oldest_first {
                let stats = run_stats(state, store, run)?;
                p50.push(stats.p50.map(|v| v as f64));
                p95.push(stats.p95.map(|v| v as f64));
            }
            let labels: Vec<String> = oldest_first
                .iter()
                .map(|r| format!("{} {}", short_id(&r.id), fmt_time(&r.started_at)))
                .collect();
            let hrefs: Vec<String> = oldest_first.iter().map(|r| run_href(&r.id)).collect();
            let rate: Vec<Option<f64>> =
                oldest_first.iter().map(|r| r.counts.pass_rate().map(|p| p * 100.0)).collect();
            let cost: Vec<Option<f64>> = oldest_first.iter().map(|r| Some(r.cost_usd)).collect();
            let charts = vec![
                line_chart(
                    "Pass rate",
                    &labels,
                    &hrefs,
                    &[Series::new("pass rate", "rate", rate)],
                    |v| format!("{v:.0}%"),
                    Some(100.0),
                ),
                line_chart(
                    "Cost per run",
                    &labels,
                    &hrefs,
                    &[Series::new("cost", "cost", cost)],
                    |v| format!("${v:.2}"),
                    None,
                ),
                line_chart(
                    "Agent latency",
                    &labels,
                    &hrefs,
                    &[Series::new("p50", "p50", p50), Series::new("p95", "p95", p95)],
                    |v| duration_ms(v as u64),
                    None,
                ),
            ];
            let live = runs.iter().find(|r| !r.is_finished()).map(|r| live_href(&r.id));
            let view = RunsView {
                nav: "runs",
                runs: runs.iter().map(RunView::of).collect(),
                charts,
                live,
            };
            Ok(page(state, "runs.html", view))
        })
        .await;
    respond(&state, result)
}

pub(super) fn live_href(run_id: &str) -> String {
    href("/live", &[("run", run_id)])
}

/// The filters of a Run page, as the URL carries them.
#[derive(Debug, Clone, Default, Serialize)]
struct Filters {
    status: String,
    priority: String,
    agent: String,
    tag: String,
    q: String,
}

impl Filters {
    fn of(query: &HashMap<String, String>) -> Self {
        let get = |k: &str| query.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        Filters {
            status: get("status"),
            priority: get("priority"),
            agent: get("agent"),
            tag: get("tag"),
            q: get("q"),
        }
    }

    fn to_store(&self) -> Result<OutcomeFilter, PageError> {
        let statuses = match self.status.as_str() {
            "" => Vec::new(),
            "problems" => vec![Status::Failed, Status::Error],
            other => vec![
                Status::ALL
                    .into_iter()
                    .find(|s| s.as_str() == other)
                    .ok_or_else(|| PageError::BadRequest(format!("unknown status `{other}`")))?,
            ],
        };
        let priority = match self.priority.as_str() {
            "" => None,
            p => Some(
                p.parse::<Priority>()
                    .map_err(|_| PageError::BadRequest(format!("unknown priority `{p}`")))?,
            ),
        };
        let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        Ok(OutcomeFilter {
            statuses,
            priority,
            agent: some(&self.agent),
            tag: some(&self.tag),
            search: some(&self.q),
        })
    }

    fn href(&self, run_id: &str, page: usize, open: &str) -> String {
        let page = if page > 1 { page.to_string() } else { String::new() };
        href(
            &run_href(run_id),
            &[
                ("status", &self.status),
                ("priority", &self.priority),
                ("agent", &self.agent),
                ("tag", &self.tag),
                ("q", &self.q),
                ("page", &page),
                ("open", open),
            ],
        )
    }
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct FilterMenus {
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    agents: Vec<Choice>,
    tags: Vec<Choice>,
}

impl FilterMenus {
    fn of(facets: &Facets) -> Self {
        let count =
            |s: Status| facets.statuses.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
        let problems = count(Status::Failed) + count(Status::Error);
        let mut statuses = vec![Choice {
            value: "problems".to_owned(),
            label: format!("failed or error ({problems})"),
        }];
        statuses.extend(Status::ALL.iter().map(|s| Choice {
            value: s.as_str().to_owned(),
            label: format!("{s} ({})", count(*s)),
        }));
        let choices = |list: &[(String, usize)]| -> Vec<Choice> {
            list.iter()
                .map(|(v, n)| Choice { value: line(v), label: format!("{} ({n})", line(v)) })
                .collect()
        };
        FilterMenus {
            statuses,
            priorities: facets
                .priorities
                .iter()
                .map(|(p, n)| Choice { value: p.to_string(), label: format!("{p} ({n})") })
                .collect(),
            agents: choices(&facets.agents),
            tags: choices(&facets.tags),
        }
    }
}

#[derive(Serialize)]
struct RowView {
    id: String,
    priority: String,
    agent: String,
    status: &'static str,
    headline: String,
    time: String,
    open: bool,
    /// This page with this row open: the deep link.
    link: String,
    scenario_href: String,
    detail: DetailView,
}

#[derive(Serialize, Default)]
struct DetailView {
    /// False for runs recorded before whole outcomes were kept.
    recorded: bool,
    category: String,
    source: String,
    tags: Vec<String>,
    facts: Vec<String>,
    reasons: Vec<String>,
    checks: Vec<CheckView>,
    judge: Option<JudgeView>,
    transcript: Vec<Turn>,
}

#[derive(Serialize)]
struct CheckView {
    key: String,
    expected: String,
    actual: Option<String>,
    verdict: &'static str,
    note: Option<String>,
}

#[derive(Serialize)]
struct JudgeView {
    verdict: &'static str,
    reason: String,
    score: Option<String>,
    model: String,
    evaluator: String,
}

#[derive(Serialize)]
struct Turn {
    role: &'static str,
    text: String,
}

impl DetailView {
    fn of(record: &ScenarioRecord, outcome: Option<&Outcome>, tags: &[String]) -> Self {
        let mut facts = Vec::new();
        if let Some(latency) = record.latency_ms {
            facts.push(format!("agent time {}", duration_ms(latency)));
        }
        facts.push(format!("took {}", duration_ms(record.duration_ms)));
        if record.cached {
            facts.push("served from the cache".to_owned());
        }
        if let Some(cost) = record.cost_usd {
            facts.push(format!("${cost:.4}"));
        }
        let tags = tags.iter().map(|t| line(t)).collect();
        let Some(o) = outcome else {
            return DetailView {
                recorded: false,
                tags,
                facts,
                reasons: record.reason.iter().map(|r| text(r)).collect(),
                ..DetailView::default()
            };
        };
        if o.attempts > 1 {
            facts.push(format!("{} attempts", o.attempts));
        }
        if o.cache == Some(crate::model::CacheKind::Judge) {
            facts.push("judge verdict from the cache".to_owned());
        }
        if let Some(usage) = o.usage {
            facts.push(format!("{} tokens in, {} out", usage.input_tokens, usage.output_tokens));
        }
        DetailView {
            recorded: true,
            category: line(&o.category),
            source: line(&o.source),
            tags,
            facts,
            reasons: o.reasons.iter().map(|r| text(r)).collect(),
            checks: o.checks.iter().map(CheckView::of).collect(),
            judge: o.judge.as_ref().map(|j| JudgeView {
                verdict: if j.passed { "pass" } else { "fail" },
                reason: text(&j.reason),
                score: j.score.map(|s| format!("{s:.2}")),
                model: line(&j.model),
                evaluator: line(&j.evaluator),
            }),
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

impl CheckView {
    fn of(c: &CheckResult) -> Self {
        CheckView {
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

#[derive(Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    from: usize,
    to: usize,
    matching: usize,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Serialize)]
struct RunPageView {
    nav: &'static str,
    run: RunView,
    filters: Filters,
    menus: FilterMenus,
    rows: Vec<RowView>,
    pager: Pager,
    open: String,
    compare_href: Option<String>,
    live_href: Option<String>,
    cache: Option<String>,
    cancelled: Option<String>,
    config_digest: String,
    tool_version: String,
}

pub(super) async fn run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = query(raw.as_deref());
    let result = state
        .with_store(move |state, store| {
            let run = lookup_run(state, store, &id)?;
            let filters = Filters::of(&query);
            let filter = filters.to_store()?;
            let open = query.get("open").cloned().unwrap_or_default();
            let page_no =
                query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
            let facets = store.run_facets(&run.id)?;
            let found =
                store.outcome_page(&run.id, &filter, (page_no - 1) * PAGE_ROWS, PAGE_ROWS)?;
            let pages = found.matching.div_ceil(PAGE_ROWS).max(1);
            let from = (page_no - 1) * PAGE_ROWS;
            let mut rows = Vec::with_capacity(found.rows.len());
            for record in &found.rows {
                let outcome = store.outcome_record(&run.id, &record.id)?;
                let tags = store.scenario_tags(&run.id, &record.id)?;
                rows.push(RowView {
                    id: line(&record.id),
                    priority: record.priority.to_string(),
                    agent: line(&record.agent),
                    status: record.status.as_str(),
                    headline: record.reason.as_deref().map(line).unwrap_or_default(),
                    time: duration_ms(record.duration_ms),
                    open: record.id == open,
                    link: filters.href(&run.id, page_no, &record.id),
                    scenario_href: href("/scenario", &[("id", &record.id)]),
                    detail: DetailView::of(record, outcome.as_ref(), &tags),
                });
            }
            let pager = Pager {
                page: page_no,
                pages,
                from: if found.matching == 0 { 0 } else { from + 1 },
                to: from + found.rows.len(),
                matching: found.matching,
                prev: (page_no > 1).then(|| filters.href(&run.id, page_no - 1, "")),
                next: (page_no < pages).then(|| filters.href(&run.id, page_no + 1, "")),
            };
            // Compared with the finished run before it, when there is one.
            let previous = store.finished_run_ids_until(&run.id, 2)?;
            let compare_href = previous
                .iter()
                .rfind(|id| **id != run.id)
                .map(|before| href("/compare", &[("a", before), ("b", &run.id)]));
            let view = RunPageView {
                nav: "runs",
                run: RunView::of(&run),
                menus: FilterMenus::of(&facets),
                rows,
                pager,
                open: line(&open),
                compare_href,
                live_href: (!run.is_finished()).then(|| live_href(&run.id)),
                cache: run.cache.map(|c| {
                    format!("{} hits, {} misses, ${:.4} saved", c.hits, c.misses, c.saved_usd)
                }),
                cancelled: run.cancelled.as_deref().map(line),
                config_digest: line(&run.config_digest),
                tool_version: line(&run.tool_version),
                filters,
            };
            Ok(page(state, "run.html", view))
        })
        .await;
    respond(&state, result)
}

#[derive(Serialize)]
struct ChangeView {
    id: String,
    priority: String,
    before: String,
    after: &'static str,
    reason: String,
    flaky: bool,
    href: String,
}

impl ChangeView {
    fn of(c: &Change) -> Self {
        let reason = c.reason.as_deref().map(line).unwrap_or_default();
        ChangeView {
            id: line(&c.id),
            priority: c.priority.to_string(),
            before: c.before.map_or("(new)", Status::as_str).to_owned(),
            after: c.after.as_str(),
            // A fixed scenario's reason is why it failed before.
            reason: if c.after == Status::Passed && !reason.is_empty() {
                format!("was: {reason}")
            } else {
                reason
            },
            flaky: c.flaky,
            href: href("/scenario", &[("id", &c.id)]),
        }
    }
}

#[derive(Serialize)]
struct FlakyView {
    id: String,
    priority: String,
    history: String,
    flips: usize,
    href: String,
}

#[derive(Serialize)]
struct ComparisonView {
    a: RunView,
    b: RunView,
    newly_failing: Vec<ChangeView>,
    fixed: Vec<ChangeView>,
    still_failing: Vec<ChangeView>,
    flaky: Vec<FlakyView>,
    flaky_window: usize,
    only_in_a: usize,
    only_in_b: usize,
    cost: String,
    duration: Option<String>,
    latency: String,
    slower: Vec<String>,
}

impl ComparisonView {
    fn of(c: &Comparison) -> Self {
        let change = c.cost_usd.after - c.cost_usd.before;
        ComparisonView {
            a: RunView::of(&c.a),
            b: RunView::of(&c.b),
            newly_failing: c.newly_failing.iter().map(ChangeView::of).collect(),
            fixed: c.fixed.iter().map(ChangeView::of).collect(),
            still_failing: c.still_failing.iter().map(ChangeView::of).collect(),
            flaky: c
                .flaky
                .iter()
                .map(|f| FlakyView {
                    id: line(&f.id),
                    priority: f.priority.to_string(),
                    history: f.history.clone(),
                    flips: f.flips,
                    href: href("/scenario", &[("id", &f.id)]),
                })
                .collect(),
            flaky_window: c.flaky_window,
            only_in_a: c.only_in_a,
            only_in_b: c.only_in_b,
            cost: format!(
                "${:.4} → ${:.4} ({}${:.4})",
                c.cost_usd.before,
                c.cost_usd.after,
                if change < 0.0 { "-" } else { "+" },
                change.abs()
            ),
            duration: c.duration_ms.map(|d| {
                format!(
                    "{} → {}",
                    duration_ms_up_to(d.before, LargestUnit::Minutes),
                    duration_ms_up_to(d.after, LargestUnit::Minutes)
                )
            }),
            latency: format!(
                "median {} → {}, p95 {} → {}",
                fmt_ms(c.latency.median_ms.before),
                fmt_ms(c.latency.median_ms.after),
                fmt_ms(c.latency.p95_ms.before),
                fmt_ms(c.latency.p95_ms.after)
            ),
            slower: c
                .slower
                .iter()
                .map(|s| format!("{}  {} ms → {} ms", line(&s.id), s.before_ms, s.after_ms))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct CompareView {
    nav: &'static str,
    runs: Vec<Choice>,
    a: String,
    b: String,
    window: usize,
    comparison: Option<ComparisonView>,
    note: Option<String>,
}

pub(super) async fn compare(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = query(raw.as_deref());
    let result = state
        .with_store(move |state, store| {
            let runs = recent_runs(state, store, RUNS_LISTED)?;
            let window = query
                .get("window")
                .and_then(|w| w.parse::<usize>().ok())
                .unwrap_or(DEFAULT_FLAKY_WINDOW)
                .min(RUNS_LISTED);
            let given = |k: &str| query.get(k).filter(|v| !v.is_empty()).cloned();
            let latest = || -> Result<RunRecord, PageError> {
                latest_finished(state, store)?
                    .ok_or_else(|| PageError::NotFound("no finished run is recorded".to_owned()))
            };
            let pair = match (given("a"), given("b")) {
                (Some(a), Some(b)) => {
                    let a = if a == "latest" { latest()? } else { lookup_run(state, store, &a)? };
                    let b = if b == "latest" { latest()? } else { lookup_run(state, store, &b)? };
                    Some((a, b))
                }
                (Some(a), None) => Some((lookup_run(state, store, &a)?, latest()?)),
                _ => match latest_finished(state, store)? {
                    // As `compare` with no argument: the two newest finished runs.
                    Some(b) => {
                        let ids = store.finished_run_ids_until(&b.id, 2)?;
                        match ids.first().filter(|id| **id != b.id) {
                            Some(a) => Some((lookup_run(state, store, a)?, b)),
                            None => None,
                        }
                    }
                    None => None,
                },
            };
            let (comparison, a, b, note) = match pair {
                Some((a, b)) => {
                    let c = comparison(state, store, &a, &b, window)?;
                    (Some(ComparisonView::of(&c)), a.id, b.id, None)
                }
                None => (
                    None,
                    String::new(),
                    String::new(),
                    Some(
                        "Fewer than two finished runs are recorded; compare needs two.".to_owned(),
                    ),
                ),
            };
            let view = CompareView {
                nav: "compare",
                runs: runs
                    .iter()
                    .map(|r| Choice {
                        value: line(&r.id),
                        label: format!(
                            "{} · {}{}",
                            short_id(&r.id),
                            fmt_time(&r.started_at),
                            if r.is_finished() { "" } else { " · unfinished" }
                        ),
                    })
                    .collect(),
                a: line(&a),
                b: line(&b),
                window,
                comparison,
                note,
            };
            Ok(page(state, "compare.html", view))
        })
        .await;
    respond(&state, result)
}

#[derive(Serialize)]
struct StripCell {
    status: &'static str,
    title: String,
    href: String,
    x: usize,
}

#[derive(Serialize)]
struct ScenarioRunView {
    run: String,
    run_href: String,
    started: String,
    commit: String,
    status: &'static str,
    reason: String,
    latency: String,
    cost: String,
}

#[derive(Serialize)]
struct ScenarioView {
    nav: &'static str,
    id: String,
    found: bool,
    strip: Vec<StripCell>,
    strip_width: usize,
    runs: Vec<ScenarioRunView>,
    flips: usize,
    flaky: bool,
    window: usize,
    history: String,
    pass_rate: String,
    charts: Vec<Chart>,
}

/// Changes of verdict (passed vs failed or error; skipped and unassessed left out) over
/// `statuses`, as `compare` counts them for flakiness.
fn flips(statuses: &[Status]) -> usize {
    let mut last = None;
    let mut flips = 0;
    for status in statuses {
        let verdict = match status {
            Status::Passed => true,
            Status::Failed | Status::Error => false,
            Status::Skipped | Status::Unassessed => continue,
        };
        if last.is_some_and(|l| l != verdict) {
            flips += 1;
        }
        last = Some(verdict);
    }
    flips
}

fn letter(status: Status) -> char {
    match status {
        Status::Passed => 'P',
        Status::Failed => 'F',
        Status::Error => 'E',
        Status::Skipped => 'S',
        Status::Unassessed => 'U',
    }
}

pub(super) async fn scenario(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = query(raw.as_deref());
    let result = state
        .with_store(move |state, store| {
            let id = query.get("id").cloned().unwrap_or_default();
            if id.is_empty() {
                return Err(PageError::BadRequest("give a scenario: /scenario?id=ID".to_owned()));
            }
            let history = store.scenario_history(&id, SCENARIO_RUNS)?;
            let statuses: Vec<Status> = history.iter().map(|h| h.record.status).collect();
            let window = DEFAULT_FLAKY_WINDOW.min(statuses.len());
            let recent = &statuses[statuses.len() - window..];
            let flip_count = flips(recent);
            let mut counts = StatusCounts::default();
            for s in &statuses {
                counts.record(*s);
            }
            let run_link = |run_id: &str| href(&run_href(run_id), &[("q", &id), ("open", &id)]);
            let labels: Vec<String> = history
                .iter()
                .map(|h| format!("{} {}", short_id(&h.run_id), fmt_time(&h.started_at)))
                .collect();
            let hrefs: Vec<String> = history.iter().map(|h| run_link(&h.run_id)).collect();
            let charts = vec![
                line_chart(
                    "Agent latency",
                    &labels,
                    &hrefs,
                    &[Series::new(
                        "latency",
                        "p50",
                        history.iter().map(|h| h.record.latency_ms.map(|v| v as f64)).collect(),
                    )],
                    |v| duration_ms(v as u64),
                    None,
                ),
                line_chart(
                    "Cost",
                    &labels,
                    &hrefs,
                    &[Series::new(
                        "cost",
                        "cost",
                        history.iter().map(|h| h.record.cost_usd).collect(),
                    )],
                    |v| format!("${v:.4}"),
                    None,
                ),
            ];
            let view = ScenarioView {
                nav: "",
                id: line(&id),
                found: !history.is_empty(),
                strip: history
                    .iter()
                    .enumerate()
                    .map(|(i, h)| StripCell {
                        status: h.record.status.as_str(),
                        title: format!(
                            "{} · {} · {}",
                            short_id(&h.run_id),
                            fmt_time(&h.started_at),
                            h.record.status
                        ),
                        href: run_link(&h.run_id),
                        x: i * 14,
                    })
                    .collect(),
                strip_width: history.len().max(1) * 14,
                runs: history
                    .iter()
                    .rev()
                    .map(|h| ScenarioRunView {
                        run: short_id(&h.run_id),
                        run_href: run_link(&h.run_id),
                        started: fmt_time(&h.started_at),
                        commit: h.git_commit.as_deref().map_or_else(String::new, |c| {
                            line(&c.chars().take(8).collect::<String>())
                        }),
                        status: h.record.status.as_str(),
                        reason: h.record.reason.as_deref().map(line).unwrap_or_default(),
                        latency: h.record.latency_ms.map(duration_ms).unwrap_or_default(),
                        cost: h.record.cost_usd.map(|c| format!("${c:.4}")).unwrap_or_default(),
                    })
                    .collect(),
                flips: flip_count,
                flaky: flip_count >= crate::store::compare::FLAKY_MIN_FLIPS,
                window,
                history: recent.iter().map(|s| letter(*s)).collect(),
                pass_rate: fmt_rate(counts.pass_rate()),
                charts,
            };
            Ok(page(state, "scenario.html", view))
        })
        .await;
    respond(&state, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_count_verdict_changes_only() {
        use Status::{Error as E, Failed as F, Passed as P, Skipped as S};
        assert_eq!(flips(&[P, F, P]), 2);
        assert_eq!(flips(&[P, S, P, E]), 1);
        assert_eq!(flips(&[]), 0);
    }

    #[test]
    fn links_keep_only_the_filters_that_are_set() {
        let filters =
            Filters { status: "failed".to_owned(), q: "a&b".to_owned(), ..Filters::default() };
        assert_eq!(filters.href("r1", 2, "x y"), "/runs/r1?status=failed&q=a%26b&page=2&open=x+y");
        assert_eq!(Filters::default().href("r1", 1, ""), "/runs/r1");
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[], 95), None);
    }
}
