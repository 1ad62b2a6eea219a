//! Reporters: independent consumers of the engine's [`RunEvent`] stream (design §2, §6).
//!
//! ```text
//! engine ──RunEvent──► ReportSet ──┬─► EventsJsonl      events.jsonl  (one line per event, flushed)
//!                                  ├─► ResultsJson      results.json  (atomic, at the end or on interrupt)
//!                                  ├─► SummaryMarkdown  summary.md    (+ $GITHUB_STEP_SUMMARY)
//!                                  ├─► JunitXml         junit.xml     (atomic, at the end or on interrupt)
//!                                  ├─► HtmlReport       report.html   (atomic, at the end or on interrupt)
//!                                  └─► Progress         terminal      (bar, plain lines or nothing)
//! ```
//!
//! A reporter that fails records a [`ReportError`] in the set and receives no further events;
//! the run and the other reporters carry on. On Ctrl-C the engine calls
//! [`ReportSet::flush_partial`], so `results.json`, `summary.md`, `junit.xml` and
//! `report.html` describe what finished. [`ReportFormats`] (`--format`) chooses which files
//! are written.

mod document;
mod error;
mod events_jsonl;
mod files;
mod formats;
mod html;
mod junit;
mod markdown;
mod progress;
mod results_json;
mod state;
mod text;
mod thread;

#[cfg(test)]
pub(crate) mod tests;

use std::fmt;
use std::path::PathBuf;

pub use document::{
    AgentCheck, AgentReport, PlanInfo, RESULTS_SCHEMA_VERSION, ResultsDocument, ToolInfo,
    events_schema, results_schema,
};
pub use error::ReportError;
pub use events_jsonl::EventsJsonl;
pub use formats::{ReportFormat, ReportFormats};
pub use html::{HtmlReport, render_report_html};
pub use junit::{JunitXml, render_junit_xml};
pub use markdown::{SummaryMarkdown, render_summary_markdown};
pub use progress::{Progress, ProgressMode, is_ci, use_color};
pub use results_json::ResultsJson;
pub use text::sanitize_terminal_text;
/// For the dashboard (`serve`), which shows the same texts the way report.html does.
pub(crate) use text::{clean_line, document_text};
pub use thread::ReportThread;

use crate::model::RunEvent;

/// A consumer of the event stream.
pub trait Reporter: Send {
    /// Takes one event, in the order the engine emitted them.
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError>;

    /// Takes several events at once, in order: a batch that gathered on the report thread
    /// ([`ReportThread`]). One by one by default; the store's recorder writes the batch's
    /// outcomes in one transaction (group commit).
    fn on_events(&mut self, events: &[RunEvent]) -> Result<(), ReportError> {
        events.iter().try_for_each(|event| self.on_event(event))
    }

    /// Writes whatever can be written from the events seen so far; the engine calls it when the
    /// run is interrupted before `RunFinished`. Does nothing by default, and nothing once the
    /// run has finished.
    fn flush_partial(&mut self) -> Result<(), ReportError> {
        Ok(())
    }
}

/// A report file rendered from the whole run (results.json, junit.xml, report.html): written
/// when the run finishes, or from what has finished so far when the run is interrupted.
pub(crate) trait FinalDocument: Send {
    fn state(&mut self) -> &mut state::RunState;
    fn write(&mut self) -> Result<(), ReportError>;
}

impl<T: FinalDocument> Reporter for T {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        self.state().apply(event);
        if matches!(event, RunEvent::RunFinished { .. }) {
            self.write()?;
        }
        Ok(())
    }

    fn flush_partial(&mut self) -> Result<(), ReportError> {
        if self.state().is_finished() { Ok(()) } else { self.write() }
    }
}

/// The files a run writes under `--output-dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    pub dir: PathBuf,
    /// `$GITHUB_STEP_SUMMARY`, when the summary should also be appended there.
    pub github_step_summary: Option<PathBuf>,
    /// Which report files are written (the step summary goes with `summary.md`).
    pub formats: ReportFormats,
}

impl ReportPaths {
    /// The standard file names in `dir`, every format; no step summary.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ReportPaths { dir: dir.into(), github_step_summary: None, formats: ReportFormats::ALL }
    }

    /// Write only these files.
    #[must_use]
    pub fn with_formats(mut self, formats: ReportFormats) -> Self {
        self.formats = formats;
        self
    }

    /// Where the file of `format` is (written or not).
    pub fn path(&self, format: ReportFormat) -> PathBuf {
        self.dir.join(format.file_name())
    }

    /// The files a run writes, most useful to a person first: `report.html`, `summary.md`,
    /// `junit.xml`, `results.json`, `events.jsonl` (those chosen by `formats`).
    pub fn files(&self) -> Vec<PathBuf> {
        formats::files_in(&self.dir, self.formats)
    }

    /// Also append the summary to `$GITHUB_STEP_SUMMARY` when that variable is set.
    #[must_use]
    pub fn with_github_step_summary_from_env(mut self) -> Self {
        self.github_step_summary =
            std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()).map(PathBuf::from);
        self
    }

    /// Creates the output directory now, so a CLI can refuse to start a run whose reports
    /// could not be written.
    pub fn create_dir(&self) -> Result<(), ReportError> {
        fs_err::create_dir_all(&self.dir)
            .map_err(|error| ReportError::CreateDir { path: self.dir.clone(), error })
    }
}

/// Fans each event out to every reporter. A reporter that fails has its error recorded and
/// is left out from then on; it never stops the run or the other reporters.
#[derive(Default)]
pub struct ReportSet {
    reporters: Vec<Slot>,
    errors: Vec<ReportError>,
}

struct Slot {
    reporter: Box<dyn Reporter>,
    failed: bool,
}

impl fmt::Debug for ReportSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportSet")
            .field("reporters", &self.reporters.len())
            .field("errors", &self.errors)
            .finish()
    }
}

impl ReportSet {
    pub fn new() -> Self {
        ReportSet::default()
    }

    /// The standard reporters that `paths.formats` chooses, in this order: `events.jsonl`,
    /// `results.json`, `summary.md` (and the step summary if `paths` names one), `junit.xml`,
    /// `report.html`; then `progress`, always.
    pub fn standard(paths: &ReportPaths, progress: Progress) -> Self {
        let mut set = ReportSet::new();
        for spec in paths.formats.specs() {
            set.push_boxed((spec.reporter)(paths));
        }
        set.with(progress)
    }

    #[must_use]
    pub fn with(mut self, reporter: impl Reporter + 'static) -> Self {
        self.push(reporter);
        self
    }

    /// Puts `reporter` before the others, so it sees each event first (the store's
    /// recorder: whatever `events.jsonl` shows finished is then recorded already).
    #[must_use]
    pub fn with_first(mut self, reporter: impl Reporter + 'static) -> Self {
        self.reporters.insert(0, Slot { reporter: Box::new(reporter), failed: false });
        self
    }

    pub fn push(&mut self, reporter: impl Reporter + 'static) {
        self.push_boxed(Box::new(reporter));
    }

    fn push_boxed(&mut self, reporter: Box<dyn Reporter>) {
        self.reporters.push(Slot { reporter, failed: false });
    }

    /// Hands `event` to every reporter still working. Never fails: see [`ReportSet::errors`].
    pub fn on_event(&mut self, event: &RunEvent) {
        self.on_events(std::slice::from_ref(event));
    }

    /// Hands `events` (in order) to every reporter still working, reporter by reporter: the
    /// first reporter (the store's recorder) has taken the whole batch before the next one
    /// sees any of it, so whatever `events.jsonl` shows finished is already recorded.
    pub fn on_events(&mut self, events: &[RunEvent]) {
        let mut rest = events;
        while !rest.is_empty() {
            // The end of the run is rendered side by side, on its own.
            let end = rest
                .iter()
                .position(|event| matches!(event, RunEvent::RunFinished { .. }))
                .unwrap_or(rest.len());
            let (before, after) = rest.split_at(end);
            if !before.is_empty() {
                self.each(|reporter| reporter.on_events(before));
            }
            let Some((finished, after)) = after.split_first() else { break };
            self.finish_side_by_side(finished);
            rest = after;
        }
    }

    /// At the end every file reporter renders the whole run (JSON, Markdown, JUnit, HTML):
    /// render them on all cores at once instead of one after another.
    fn finish_side_by_side(&mut self, event: &RunEvent) {
        let results: Vec<(usize, Result<(), ReportError>)> = std::thread::scope(|scope| {
            let running: Vec<_> = self
                .reporters
                .iter_mut()
                .enumerate()
                .filter(|(_, slot)| !slot.failed)
                .map(|(index, slot)| (index, scope.spawn(move || slot.reporter.on_event(event))))
                .collect();
            running
                .into_iter()
                .map(|(index, handle)| {
                    let result = handle.join().unwrap_or_else(|_| {
                        Err(ReportError::Render {
                            what: "a report",
                            message: "the reporter panicked".to_owned(),
                        })
                    });
                    (index, result)
                })
                .collect()
        });
        for (index, result) in results {
            if let Err(error) = result {
                self.reporters[index].failed = true;
                self.errors.push(error);
            }
        }
    }

    /// Asks every reporter still working to write what it can now (on interrupt).
    pub fn flush_partial(&mut self) {
        self.each(|reporter| reporter.flush_partial());
    }

    fn each(&mut self, mut call: impl FnMut(&mut dyn Reporter) -> Result<(), ReportError>) {
        for slot in self.reporters.iter_mut().filter(|slot| !slot.failed) {
            if let Err(error) = call(slot.reporter.as_mut()) {
                slot.failed = true;
                self.errors.push(error);
            }
        }
    }

    /// Errors so far, one per failed reporter, in the order they happened.
    pub fn errors(&self) -> &[ReportError] {
        &self.errors
    }

    /// Takes the errors so far (to print them as warnings, say).
    pub fn take_errors(&mut self) -> Vec<ReportError> {
        std::mem::take(&mut self.errors)
    }
}
