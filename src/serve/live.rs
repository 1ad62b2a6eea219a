//! The Live page: a run in progress (the newest unfinished one, or `?run=ID`), with its
//! progress, ETA and failures as they are recorded. The page is rendered once; then
//! `/live/events` sends the same view as JSON through server-sent events whenever it changes
//! (the store is read twice a second), and the page's script puts the values in place.
//! The shards of one partitioned run (the same selection digest) are shown as one run.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Serialize;

use super::app::{AppState, PageError};
use super::pages::{CountsView, fmt_time, href, line, query, run_href, short_id};
use crate::store::dashboard::combined_counts;
use crate::store::{RunRecord, Store};
use crate::text::{LargestUnit, duration_ms_up_to};

/// How often the event stream looks at the store.
const POLL: Duration = Duration::from_millis(500);
/// Failures listed, newest first.
const FAILURES_LISTED: usize = 50;

#[derive(Debug, Serialize)]
struct ShardView {
    short: String,
    href: String,
    partition: String,
    planned: usize,
    done: usize,
    finished: bool,
}

#[derive(Debug, Serialize)]
struct FailureView {
    id: String,
    status: &'static str,
    reason: String,
    shard: String,
    href: String,
}

/// What the page shows; also the JSON of each event.
#[derive(Debug, Serialize)]
pub(super) struct LiveView {
    found: bool,
    title: String,
    run_href: String,
    started: String,
    shards: Vec<ShardView>,
    shards_note: String,
    planned: usize,
    done: usize,
    /// 0 to 100.
    percent: u32,
    counts: CountsView,
    elapsed: String,
    eta: String,
    finished: bool,
    state: &'static str,
    failures: Vec<FailureView>,
}

fn started_ms(run: &RunRecord) -> Option<i64> {
    run.started_at.parse::<jiff::Timestamp>().ok().map(jiff::Timestamp::as_millisecond)
}

fn finished_ms(run: &RunRecord) -> Option<i64> {
    run.finished_at.as_deref()?.parse::<jiff::Timestamp>().ok().map(jiff::Timestamp::as_millisecond)
}

/// The run to show: `?run=` when given, else the newest unfinished run, else the newest.
fn anchor(store: &Store, wanted: Option<&str>) -> Result<Option<RunRecord>, PageError> {
    if let Some(id) = wanted.filter(|id| !id.is_empty()) {
        return Ok(Some(store.find_run(id)?));
    }
    if let Some(run) = store.newest_unfinished_run()? {
        return Ok(Some(run));
    }
    Ok(store.runs(1)?.pop())
}

/// The anchor run and the other shards of its partitioned run.
fn group(store: &Store, run: RunRecord) -> Result<Vec<RunRecord>, PageError> {
    match (&run.partition, &run.selection_digest) {
        (Some(_), Some(digest)) => {
            let shards = store.runs_of_selection(digest)?;
            Ok(if shards.is_empty() { vec![run] } else { shards })
        }
        _ => Ok(vec![run]),
    }
}

pub(super) fn live_view(store: &Store, wanted: Option<&str>) -> Result<LiveView, PageError> {
    let Some(run) = anchor(store, wanted)? else {
        return Ok(LiveView {
            found: false,
            title: "No run recorded yet".to_owned(),
            run_href: String::new(),
            started: String::new(),
            shards: Vec::new(),
            shards_note: String::new(),
            planned: 0,
            done: 0,
            percent: 0,
            counts: CountsView::of(&crate::model::StatusCounts::default()),
            elapsed: String::new(),
            eta: String::new(),
            finished: false,
            state: "waiting",
            failures: Vec::new(),
        });
    };
    let anchor_id = run.id.clone();
    let runs = group(store, run)?;
    let counts = combined_counts(&runs);
    let planned: usize = runs.iter().map(|r| r.planned).sum();
    let done = counts.total;
    let finished = runs.iter().all(RunRecord::is_finished);
    let start = runs.iter().filter_map(started_ms).min();
    let now = crate::store::now_ms();
    let end = if finished { runs.iter().filter_map(finished_ms).max().unwrap_or(now) } else { now };
    let elapsed_ms = start.map_or(0, |s| (end - s).max(0).unsigned_abs());
    let eta = if finished {
        String::new()
    } else if done == 0 || planned <= done {
        "estimating…".to_owned()
    } else {
        let left = elapsed_ms as f64 * (planned - done) as f64 / done as f64;
        format!("about {} left", duration_ms_up_to(left as u64, LargestUnit::Hours))
    };
    let of_shards = runs
        .first()
        .and_then(|r| r.partition.as_deref())
        .and_then(|p| p.split_once('/'))
        .and_then(|(_, n)| n.parse::<usize>().ok());
    let shards_note = match of_shards {
        Some(n) => format!("{} of {n} shards recorded", runs.len()),
        None => String::new(),
    };
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let partitions: HashMap<&str, &str> =
        runs.iter().map(|r| (r.id.as_str(), r.partition.as_deref().unwrap_or(""))).collect();
    let failures = store
        .recent_failures(&ids, FAILURES_LISTED)?
        .into_iter()
        .map(|f| FailureView {
            id: line(&f.record.id),
            status: f.record.status.as_str(),
            reason: f.record.reason.as_deref().map(line).unwrap_or_default(),
            shard: partitions.get(f.run_id.as_str()).map(|p| line(p)).unwrap_or_default(),
            href: href(&run_href(&f.run_id), &[("q", &f.record.id), ("open", &f.record.id)]),
        })
        .collect();
    let first = &runs[0];
    Ok(LiveView {
        found: true,
        title: if runs.len() > 1 {
            format!("Partitioned run of {} shards", runs.len())
        } else {
            format!("Run {}", short_id(&first.id))
        },
        run_href: run_href(&anchor_id),
        started: fmt_time(&first.started_at),
        shards: runs
            .iter()
            .map(|r| ShardView {
                short: short_id(&r.id),
                href: run_href(&r.id),
                partition: r.partition.as_deref().map(line).unwrap_or_default(),
                planned: r.planned,
                done: r.counts.total,
                finished: r.is_finished(),
            })
            .collect(),
        shards_note,
        planned,
        done,
        percent: (done * 100).checked_div(planned).map_or(0, |p| p.min(100) as u32),
        counts: CountsView::of(&counts),
        elapsed: duration_ms_up_to(elapsed_ms, LargestUnit::Hours),
        eta,
        finished,
        state: if finished { "finished" } else { "running" },
        failures,
    })
}

#[derive(Serialize)]
struct LivePage {
    nav: &'static str,
    events_href: String,
    live: LiveView,
}

pub(super) async fn page_handler(state: Arc<AppState>, wanted: Option<String>) -> Response {
    let result = state
        .with_store(move |state, store| {
            let live = live_view(store, wanted.as_deref())?;
            let events_href = match &wanted {
                Some(id) => href("/live/events", &[("run", id)]),
                None => "/live/events".to_owned(),
            };
            Ok(super::pages::page(state, "live.html", LivePage { nav: "live", events_href, live }))
        })
        .await;
    result.unwrap_or_else(|error| super::pages::error_page(&state, &error))
}

pub(super) async fn page(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let wanted = query(raw.as_deref()).remove("run").filter(|r| !r.is_empty());
    page_handler(state, wanted).await
}

/// `text/event-stream`: an `update` event with the view as JSON whenever it changes.
pub(super) async fn events(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let wanted = query(raw.as_deref()).remove("run").filter(|r| !r.is_empty());
    Sse::new(updates(state, wanted)).keep_alive(KeepAlive::default()).into_response()
}

fn updates(
    state: Arc<AppState>,
    wanted: Option<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (state, wanted, None::<String>, true),
        |(state, wanted, last, first)| async move {
            let mut last = last;
            let mut first = first;
            loop {
                if !first {
                    tokio::time::sleep(POLL).await;
                }
                first = false;
                let for_view = wanted.clone();
                let view =
                    state.with_store(move |_, store| live_view(store, for_view.as_deref())).await;
                let json = match view {
                    Ok(view) => serde_json::to_string(&view).unwrap_or_default(),
                    // A store that cannot be read now may be readable in a moment.
                    Err(_) => continue,
                };
                if last.as_deref() != Some(json.as_str()) {
                    let event = Event::default().event("update").data(json.clone());
                    return Some((Ok(event), (state, wanted, Some(json), first)));
                }
                last = Some(json);
            }
        },
    )
}
