//! Terminal progress: a live bar on a terminal, plain lines in CI logs and pipes.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use super::text::{fmt_duration_ms, fmt_rate, one_line, redact_userinfo};
use super::{ReportError, Reporter};
use crate::engine::{CancelReason, Outcome, RunEvent, RunSummary, Status, StatusCounts};

/// Longest reason shown on one progress line, in characters.
const MAX_LINE_REASON: usize = 200;
/// A plain progress line at least this often while scenarios keep finishing.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Plain progress lines are at least this many scenarios apart.
const PLAIN_PROGRESS_MIN_STEP: usize = 5;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal; plain lines when the output is not a terminal or `CI` is set.
    #[default]
    Auto,
    /// A live bar with counters and ETA.
    Bar,
    /// One line per non-passing scenario, a line every 10 %, and a final summary line.
    Plain,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// The concrete mode for an output that is (or is not) a terminal, in CI or not.
    #[must_use]
    pub fn resolve(self, is_terminal: bool, ci: bool) -> ProgressMode {
        match self {
            ProgressMode::Auto if is_terminal && !ci => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            explicit => explicit,
        }
    }
}

impl std::str::FromStr for ProgressMode {
    type Err = String;

    /// `auto`, `bar`, `plain` or `quiet`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ProgressMode::Auto),
            "bar" => Ok(ProgressMode::Bar),
            "plain" => Ok(ProgressMode::Plain),
            "quiet" => Ok(ProgressMode::Quiet),
            other => {
                Err(format!("invalid progress mode `{other}`: expected auto, bar, plain or quiet"))
            }
        }
    }
}

/// True when the `CI` environment variable is set (to anything but empty, `0` or `false`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// Shows a run's progress. Everything an agent said is sanitized before it reaches the
/// terminal: no escape sequence or control character gets through.
pub struct Progress {
    mode: ProgressMode,
    out: SharedWriter,
    bar: Option<ProgressBar>,
    total: usize,
    counts: StatusCounts,
    /// Scenarios finished when the next plain progress line is due.
    next_mark: usize,
    last_line: Instant,
    /// Planned scenarios per agent, for the "agent down" line.
    planned: Vec<(String, usize)>,
    /// Agents whose check failed: their `error` outcomes were announced once.
    down: Vec<String>,
    cancelled: bool,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .field("total", &self.total)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Progress on standard error; `Auto` looks at whether it is a terminal and at `CI`.
    pub fn stderr(mode: ProgressMode) -> Self {
        let is_terminal = io::stderr().is_terminal();
        let mode = mode.resolve(is_terminal, is_ci());
        let out: SharedWriter = Arc::new(Mutex::new(Box::new(io::stderr())));
        let target = if is_terminal {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::term_like(Box::new(WriterTerm(Arc::clone(&out))))
        };
        Progress::build(mode, out, target)
    }

    /// Progress written to `out`; `Auto` means plain lines (a writer is not a terminal). `Bar`
    /// draws the bar with ANSI cursor movements into `out`.
    pub fn to_writer(mode: ProgressMode, out: impl Write + Send + 'static) -> Self {
        let mode = mode.resolve(false, false);
        let out: SharedWriter = Arc::new(Mutex::new(Box::new(out)));
        let target = ProgressDrawTarget::term_like(Box::new(WriterTerm(Arc::clone(&out))));
        Progress::build(mode, out, target)
    }

    /// No progress output at all.
    pub fn quiet() -> Self {
        Progress::to_writer(ProgressMode::Quiet, io::sink())
    }

    /// The concrete mode: `Bar`, `Plain` or `Quiet`.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    fn build(mode: ProgressMode, out: SharedWriter, target: ProgressDrawTarget) -> Self {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            ProgressBar::with_draw_target(Some(0), target).with_style(style)
        });
        Progress {
            mode,
            out,
            bar,
            total: 0,
            counts: StatusCounts::default(),
            next_mark: usize::MAX,
            last_line: Instant::now(),
            planned: Vec::new(),
            down: Vec::new(),
            cancelled: false,
        }
    }

    /// A line above the bar, or on its own in plain mode. `line` is already sanitized.
    fn line(&mut self, line: &str) -> Result<(), ReportError> {
        self.last_line = Instant::now();
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                Ok(())
            }
            None => self.write_direct(line),
        }
    }

    fn write_direct(&self, line: &str) -> Result<(), ReportError> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|error| ReportError::Progress { error })
    }

    fn counters(&self) -> String {
        let c = &self.counts;
        format!(
            "{} passed, {} failed, {} error, {} skipped",
            c.passed, c.failed, c.error, c.skipped
        )
    }

    fn on_finished_scenario(&mut self, outcome: &Outcome) -> Result<(), ReportError> {
        self.counts.record(outcome.status);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            let c = &self.counts;
            bar.set_message(format!("✔ {} ✘ {} ⚠ {}", c.passed, c.failed, c.error));
        }
        let announced = match outcome.status {
            Status::Passed => true,
            Status::Error => self.down.contains(&outcome.agent),
            Status::Skipped => self.cancelled,
            Status::Failed => false,
        };
        if !announced {
            let label = match outcome.status {
                Status::Failed => "FAIL",
                Status::Error => "ERROR",
                Status::Skipped | Status::Passed => "SKIP",
            };
            let reason = outcome.reasons.first().map_or("no reason given", String::as_str);
            let line = format!(
                "{label:<5} {} {}  {}  ({})",
                outcome.priority,
                one_line(&outcome.id, 120),
                one_line(reason, MAX_LINE_REASON),
                fmt_duration_ms(outcome.duration_ms)
            );
            self.line(&line)?;
        }
        if self.bar.is_none() {
            self.periodic_line()?;
        }
        Ok(())
    }

    /// Plain mode: a line every 10 % of the run (at least 5 scenarios apart), and at least
    /// every 30 s while scenarios keep finishing.
    fn periodic_line(&mut self) -> Result<(), ReportError> {
        let done = self.counts.total;
        if self.total == 0 || done >= self.total {
            return Ok(());
        }
        let step = self.total.div_ceil(10).max(PLAIN_PROGRESS_MIN_STEP);
        if done >= self.next_mark || self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.next_mark = (done / step + 1) * step;
            let line = format!(
                "[{:>3}%] {done}/{} finished: {}",
                done * 100 / self.total,
                self.total,
                self.counters()
            );
            self.line(&line)?;
        }
        Ok(())
    }

    fn summary_line(summary: &RunSummary) -> String {
        let c = &summary.counts;
        let why = match summary.cancelled {
            None => String::new(),
            Some(reason) => format!(", {}", cancel_words(reason)),
        };
        let cache = summary.cache.map_or_else(String::new, |c| {
            format!(
                "; cache {} outcome hits, {} judge hits, {} misses ({}), ${:.4} saved",
                c.hits,
                c.judge_hits,
                c.misses,
                fmt_rate(c.hit_rate()),
                c.saved_usd
            )
        });
        format!(
            "{} scenarios: {} passed, {} failed, {} error, {} skipped in {}{cache} (exit {}{why})",
            c.total,
            c.passed,
            c.failed,
            c.error,
            c.skipped,
            fmt_duration_ms(summary.duration_ms),
            summary.exit_code
        )
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn cancel_words(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::FailFast => "fail-fast",
        CancelReason::MaxFail => "max-fail",
        CancelReason::Budget => "budget",
        CancelReason::Interrupted => "interrupted",
    }
}

impl Reporter for Progress {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        if self.mode == ProgressMode::Quiet {
            return Ok(());
        }
        match event {
            RunEvent::RunStarted { total, parallel, agents, .. } => {
                self.total = *total;
                self.counts = StatusCounts::default();
                self.next_mark = total.div_ceil(10).max(PLAIN_PROGRESS_MIN_STEP);
                self.cancelled = false;
                self.down.clear();
                self.planned = agents.iter().map(|a| (a.name.clone(), a.scenarios)).collect();
                if let Some(bar) = &self.bar {
                    bar.set_length(*total as u64);
                    bar.set_position(0);
                    bar.enable_steady_tick(Duration::from_millis(250));
                }
                let line = format!(
                    "rogue-runner: running {total} scenarios on {} agent{} (parallel {parallel})",
                    agents.len(),
                    if agents.len() == 1 { "" } else { "s" }
                );
                self.line(&line)
            }
            RunEvent::AgentChecked { agent, url, ok: false, message, .. } => {
                self.down.push(agent.clone());
                let planned = self.planned.iter().find(|(name, _)| name == agent).map(|(_, n)| *n);
                let consequence = match planned {
                    Some(n) => {
                        format!(" — its {n} scenario{} will error", if n == 1 { "" } else { "s" })
                    }
                    None => String::new(),
                };
                let line = format!(
                    "AGENT {} ({}) failed its check: {}{consequence}",
                    one_line(agent, 120),
                    one_line(&redact_userinfo(url), 200),
                    one_line(&redact_userinfo(message), MAX_LINE_REASON),
                );
                self.line(&line)
            }
            RunEvent::AgentChecked { .. } | RunEvent::ScenarioStarted { .. } => Ok(()),
            RunEvent::ScenarioFinished { outcome } => self.on_finished_scenario(outcome),
            RunEvent::RunCancelled { reason, message } => {
                self.cancelled = true;
                let line = format!(
                    "CANCEL {}: {}; scenarios that did not run are skipped",
                    cancel_words(*reason),
                    one_line(message, MAX_LINE_REASON)
                );
                self.line(&line)
            }
            RunEvent::RunFinished { summary } => {
                self.finish_bar();
                let line = Progress::summary_line(summary);
                self.write_direct(&line)
            }
        }
    }

    fn flush_partial(&mut self) -> Result<(), ReportError> {
        if self.mode == ProgressMode::Quiet {
            return Ok(());
        }
        self.finish_bar();
        let line = format!(
            "INTERRUPTED after {}/{} scenarios: {}",
            self.counts.total,
            self.total,
            self.counters()
        );
        self.write_direct(&line)
    }
}

/// Lets indicatif draw into any writer, with plain ANSI cursor movements.
struct WriterTerm(SharedWriter);

impl fmt::Debug for WriterTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriterTerm")
    }
}

impl WriterTerm {
    fn write(&self, text: &str) -> io::Result<()> {
        let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        out.write_all(text.as_bytes())
    }
}

impl TermLike for WriterTerm {
    fn width(&self) -> u16 {
        100
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n == 0 { Ok(()) } else { self.write(&format!("\x1b[{n}A")) }
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n == 0 { Ok(()) } else { self.write(&format!("\x1b[{n}B")) }
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n == 0 { Ok(()) } else { self.write(&format!("\x1b[{n}C")) }
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n == 0 { Ok(()) } else { self.write(&format!("\x1b[{n}D")) }
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(s)?;
        self.write("\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).flush()
    }
}
