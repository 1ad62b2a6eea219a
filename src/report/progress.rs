//! Terminal progress: a live bar on a terminal, plain lines in CI logs and pipes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use super::text::{
    RECAP_SLOWEST, Recap, RecapEntry, cancel_words, clean_line, paint, redact_userinfo,
    render_recap, result_line, status_style,
};
use super::{ReportError, ReportPaths, Reporter};
use crate::model::{Outcome, RunEvent, Status};
use crate::text::{duration_ms, duration_secs};

/// Longest reason shown on one progress line, in characters.
const MAX_LINE_REASON: usize = 200;
/// A plain progress line at least this often while scenarios keep finishing.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Plain progress lines are at least this many scenarios apart.
const PLAIN_PROGRESS_MIN_STEP: usize = 5;
/// Scenarios that did not pass get a line as they finish up to this many; then only at `-v`
/// (the recap at the end lists them all).
pub(crate) const LIVE_LINES: usize = 20;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal; plain lines when the output is not a terminal or `CI` is set.
    #[default]
    Auto,
    /// A live bar with counters and ETA.
    Bar,
    /// One line per non-passing scenario (the first 20, or all at `-v`), a line every 10 %
    /// with elapsed time and ETA, and a recap at the end.
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

/// Whether to colour output: `always`, `never`, or `auto` — on a terminal, unless `NO_COLOR`
/// is set to anything but the empty string (no-color.org). An explicit choice wins over
/// `NO_COLOR`.
pub fn use_color(choice: clap::ColorChoice, is_terminal: bool) -> bool {
    color_wanted(choice, is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

fn color_wanted(
    choice: clap::ColorChoice,
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
) -> bool {
    match choice {
        clap::ColorChoice::Always => true,
        clap::ColorChoice::Never => false,
        clap::ColorChoice::Auto => is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty),
    }
}

type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// Shows a run's progress. Everything an agent said is sanitized before it reaches the
/// terminal: no escape sequence or control character gets through.
pub struct Progress {
    mode: ProgressMode,
    out: SharedWriter,
    bar: Option<ProgressBar>,
    total: usize,
    /// Scenarios finished so far.
    done: usize,
    /// Scenarios finished per outcome, every outcome of [`Status::ALL`] (zeros included).
    tally: BTreeMap<Status, usize>,
    /// When the run started, for elapsed time and ETA.
    started: Instant,
    /// Scenarios finished when the next plain progress line is due.
    next_mark: usize,
    last_line: Instant,
    /// Planned scenarios per agent, for the "agent down" line.
    planned: Vec<((String, String), usize)>,
    /// Agents whose check failed: their `error` outcomes were announced once.
    down: Vec<(String, String)>,
    cancelled: bool,
    /// ANSI colours on outcome words.
    color: bool,
    /// `-v` count: at 1 and above every scenario gets a line with its timings.
    verbose: u8,
    /// `-q`: nothing but the one-line result at the end (and an interruption).
    quiet: bool,
    /// Per-scenario lines shown so far, and whether the cap on them was announced.
    live_lines: usize,
    live_capped: bool,
    /// For the recap: scenarios that neither passed nor were skipped, and the slowest.
    problems: Vec<RecapEntry>,
    slowest: Vec<RecapEntry>,
    /// The report files the recap points to.
    reports: Vec<PathBuf>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .field("total", &self.total)
            .field("done", &self.done)
            .field("tally", &self.tally)
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Progress on standard error; `Auto` looks at whether it is a terminal and at `CI`.
    /// Colour follows `--color auto` until [`Progress::with_color`] says otherwise.
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
            .with_color(use_color(clap::ColorChoice::Auto, is_terminal))
    }

    /// Colour the outcome words (FAIL, failed, …) or not.
    #[must_use]
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// The `-v` count: at 1 and above, a line for every scenario as it finishes, with its
    /// timings ([`verbose_line`]); below, a line only for the first [`LIVE_LINES`] that do not
    /// pass. From 2 on the log writes request lines to stderr as well, which a live bar
    /// would draw over: plain lines are shown instead.
    #[must_use]
    pub fn with_verbosity(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        if verbose >= 2 && self.mode == ProgressMode::Bar {
            self.finish_bar();
            self.mode = ProgressMode::Plain;
        }
        self
    }

    /// `-q`: no start line, bar, per-scenario lines or recap; only the one-line result
    /// (`12 scenarios in 3.1s: 10 passed, 2 failed, …`) and, on Ctrl-C, the interruption.
    #[must_use]
    pub fn with_quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        if quiet {
            self.finish_bar();
        }
        self
    }

    /// The report files the recap points to (those `paths.formats` chooses).
    #[must_use]
    pub fn with_reports(mut self, paths: &ReportPaths) -> Self {
        self.reports = paths.files();
        self
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
            done: 0,
            tally: empty_tally(),
            started: Instant::now(),
            next_mark: usize::MAX,
            last_line: Instant::now(),
            planned: Vec::new(),
            down: Vec::new(),
            cancelled: false,
            color: false,
            verbose: 0,
            quiet: false,
            live_lines: 0,
            live_capped: false,
            problems: Vec::new(),
            slowest: Vec::new(),
            reports: Vec::new(),
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

    /// `2 passed, 1 failed, 0 error, 0 skipped`: every outcome, in [`Status::ALL`] order.
    fn counters(&self) -> String {
        let parts: Vec<String> =
            self.tally.iter().map(|(status, n)| format!("{n} {status}")).collect();
        parts.join(", ")
    }

    fn count(&self, status: Status) -> usize {
        self.tally.get(&status).copied().unwrap_or(0)
    }

    fn on_finished_scenario(&mut self, outcome: &Outcome) -> Result<(), ReportError> {
        self.done += 1;
        *self.tally.entry(outcome.status).or_default() += 1;
        self.remember(outcome);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!(
                "✔ {} ✘ {} ⚠ {}",
                self.count(Status::Passed),
                self.count(Status::Failed),
                self.count(Status::Error)
            ));
        }
        if self.verbose > 0 {
            let line = verbose_line(outcome, self.color);
            self.line(&line)?;
            if self.bar.is_none() {
                self.periodic_line()?;
            }
            return Ok(());
        }
        let announced = match outcome.status {
            Status::Passed => true,
            Status::Error => self.down.iter().any(|(name, url)| {
                name == &outcome.agent && outcome.agent_url.as_ref().is_none_or(|u| u == url)
            }),
            Status::Skipped => self.cancelled,
            Status::Failed | Status::Unassessed => false,
        };
        if !announced {
            self.live_line(outcome)?;
        }
        if self.bar.is_none() {
            self.periodic_line()?;
        }
        Ok(())
    }

    /// `FAIL  P0 id  reason  (1.2s)` while few scenarios have not passed, or at `-v`; one
    /// line saying the rest waits for the recap when the cap is reached.
    fn live_line(&mut self, outcome: &Outcome) -> Result<(), ReportError> {
        if self.verbose == 0 && self.live_lines >= LIVE_LINES {
            if self.live_capped {
                return Ok(());
            }
            self.live_capped = true;
            let line = format!(
                "… more than {LIVE_LINES} scenarios did not pass: the rest are listed in the recap \
                 at the end (-v shows each as it finishes)"
            );
            return self.line(&line);
        }
        self.live_lines += 1;
        let status = outcome.status;
        let label = if status == Status::Failed {
            "FAIL".to_owned()
        } else if status == Status::Error {
            "ERROR".to_owned()
        } else if status == Status::Skipped {
            "SKIP".to_owned()
        } else {
            status.as_str().to_uppercase()
        };
        let reason = outcome.reasons.first().map_or("no reason given", String::as_str);
        let line = format!(
            "{} {} {}  {}  ({})",
            paint(&format!("{label:<5}"), status_style(status), self.color),
            outcome.priority,
            clean_line(&outcome.id, 120),
            clean_line(reason, MAX_LINE_REASON),
            duration_ms(outcome.duration_ms)
        );
        self.line(&line)
    }

    /// Keeps what the recap needs: every scenario that neither passed nor was skipped, and
    /// the slowest that ran.
    fn remember(&mut self, outcome: &Outcome) {
        let status = outcome.status;
        if status == Status::Skipped {
            return;
        }
        if status != Status::Passed {
            self.problems.push(RecapEntry::new(outcome));
        }
        let slower = |e: &RecapEntry| e.duration_ms >= outcome.duration_ms;
        let at = self.slowest.iter().take_while(|e| slower(e)).count();
        if at < RECAP_SLOWEST {
            self.slowest.insert(at, RecapEntry::new(outcome));
            self.slowest.truncate(RECAP_SLOWEST);
        }
    }

    /// Plain mode: a line every 10 % of the run (at least 5 scenarios apart), and at least
    /// every 30 s while scenarios keep finishing, with the time elapsed and an ETA.
    fn periodic_line(&mut self) -> Result<(), ReportError> {
        let done = self.done;
        if self.total == 0 || done >= self.total {
            return Ok(());
        }
        let step = self.total.div_ceil(10).max(PLAIN_PROGRESS_MIN_STEP);
        if done >= self.next_mark || self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.next_mark = (done / step + 1) * step;
            let elapsed = self.started.elapsed();
            let line = format!(
                "[{:>3}%] {done}/{} finished: {} · elapsed {}, ETA {}",
                done * 100 / self.total,
                self.total,
                self.counters(),
                duration_secs(elapsed),
                duration_secs(eta(elapsed, done, self.total)),
            );
            self.line(&line)?;
        }
        Ok(())
    }

    /// `-q`: counts the outcomes, and at the end writes the recap's one-line result only.
    fn on_quiet_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        match event {
            RunEvent::RunStarted { total, .. } => {
                self.total = *total;
                self.done = 0;
                self.tally = empty_tally();
                Ok(())
            }
            RunEvent::ScenarioFinished { outcome } => {
                self.done += 1;
                *self.tally.entry(outcome.status).or_default() += 1;
                Ok(())
            }
            RunEvent::RunFinished { summary } => {
                let counts: Vec<(Status, usize)> =
                    self.tally.iter().map(|(&status, &n)| (status, n)).collect();
                self.write_direct(&result_line(summary, &counts, self.color))
            }
            _ => Ok(()),
        }
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The `-v` line of a finished scenario: its outcome, priority and id, then `key=value` timings
/// (`agent=qa_agent latency=120ms judge=340ms cost=$0.001200 cached=no total=512ms`), then the
/// first reason when it did not pass. `-` stands for what did not happen (no agent call, no
/// judge, no priced LLM call).
fn verbose_line(outcome: &Outcome, color: bool) -> String {
    let status = outcome.status;
    let label = match status {
        Status::Passed => "PASS".to_owned(),
        Status::Failed => "FAIL".to_owned(),
        Status::Skipped => "SKIP".to_owned(),
        other => other.as_str().to_uppercase(),
    };
    let ms = |ms: Option<u64>| ms.map_or_else(|| "-".to_owned(), compact_ms);
    let cached = match outcome.cache {
        None => "no",
        Some(crate::model::CacheKind::Outcome) => "outcome",
        Some(crate::model::CacheKind::Judge) => "judge",
    };
    let mut line = format!(
        "{} {} {}  agent={} latency={} judge={} cost={} cached={cached} total={}",
        paint(&format!("{label:<5}"), status_style(status), color),
        outcome.priority,
        clean_line(&outcome.id, 120),
        clean_line(&outcome.agent, 60),
        ms(outcome.latency_ms),
        ms(outcome.judge_ms),
        outcome.cost_usd.map_or_else(|| "-".to_owned(), |c| format!("${c:.6}")),
        compact_ms(outcome.duration_ms),
    );
    if status != Status::Passed {
        let reason = outcome.reasons.first().map_or("no reason given", String::as_str);
        line.push_str("  ");
        line.push_str(&clean_line(reason, MAX_LINE_REASON));
    }
    line
}

/// `120ms`, `1.2s`, `2m03s`: [`duration_ms`] without spaces, one `key=value` token.
fn compact_ms(ms: u64) -> String {
    duration_ms(ms).replace(' ', "")
}

/// Every outcome at zero, so that counters name each one.
fn empty_tally() -> BTreeMap<Status, usize> {
    Status::ALL.iter().map(|&status| (status, 0)).collect()
}

/// The time left if the remaining scenarios take as long on average as those done.
fn eta(elapsed: Duration, done: usize, total: usize) -> Duration {
    if done == 0 {
        return Duration::ZERO;
    }
    let left = total.saturating_sub(done) as f64;
    Duration::from_secs_f64(elapsed.as_secs_f64() * left / done as f64)
}

impl Reporter for Progress {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        if self.mode == ProgressMode::Quiet {
            return Ok(());
        }
        if self.quiet {
            return self.on_quiet_event(event);
        }
        match event {
            RunEvent::RunStarted { total, parallel, agents, .. } => {
                self.total = *total;
                self.done = 0;
                self.tally = empty_tally();
                self.started = Instant::now();
                self.live_lines = 0;
                self.live_capped = false;
                self.problems.clear();
                self.slowest.clear();
                self.next_mark = total.div_ceil(10).max(PLAIN_PROGRESS_MIN_STEP);
                self.cancelled = false;
                self.down.clear();
                self.planned = agents
                    .iter()
                    .map(|a| ((a.name.clone(), redact_userinfo(&a.url)), a.scenarios))
                    .collect();
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
                // One agent name can be reached at several URLs: only this one is down.
                let key = (agent.clone(), redact_userinfo(url));
                let planned = self.planned.iter().find(|(k, _)| *k == key).map(|(_, n)| *n);
                self.down.push(key);
                let consequence = match planned {
                    Some(n) => {
                        format!(" — its {n} scenario{} will error", if n == 1 { "" } else { "s" })
                    }
                    None => String::new(),
                };
                let line = format!(
                    "AGENT {} ({}) failed its check: {}{consequence}",
                    clean_line(agent, 120),
                    clean_line(&redact_userinfo(url), 200),
                    clean_line(&redact_userinfo(message), MAX_LINE_REASON),
                );
                self.line(&line)
            }
            RunEvent::AgentChecked { .. } | RunEvent::ScenarioStarted { .. } => Ok(()),
            RunEvent::ScenarioWaiting { id, message } => {
                let line = format!(
                    "WAIT {}: {}",
                    clean_line(id, 120),
                    clean_line(message, MAX_LINE_REASON)
                );
                self.line(&line)
            }
            RunEvent::ScenarioFinished { outcome } => self.on_finished_scenario(outcome),
            RunEvent::RunCancelled { reason, message } => {
                self.cancelled = true;
                let line = format!(
                    "CANCEL {}: {}; scenarios that did not run are skipped",
                    cancel_words(*reason),
                    clean_line(message, MAX_LINE_REASON)
                );
                self.line(&line)
            }
            RunEvent::RunFinished { summary } => {
                self.finish_bar();
                let counts: Vec<(Status, usize)> =
                    self.tally.iter().map(|(&status, &n)| (status, n)).collect();
                let recap = render_recap(&Recap {
                    summary,
                    counts: &counts,
                    problems: &self.problems,
                    slowest: &self.slowest,
                    reports: &self.reports,
                    color: self.color,
                });
                self.write_direct(recap.trim_end_matches('\n'))
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
            self.done,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{AgentPlan, CacheStats, CancelReason};
    use crate::scenario::Priority;

    use crate::report::tests::Captured;

    fn outcome(id: &str, priority: Priority, status: Status, reason: &str, ms: u64) -> Outcome {
        Outcome {
            id: id.to_owned(),
            priority,
            category: "core".to_owned(),
            agent: "qa_agent".to_owned(),
            source: "s.yaml:1:1".to_owned(),
            status,
            reasons: if reason.is_empty() { Vec::new() } else { vec![reason.to_owned()] },
            checks: Vec::new(),
            transcript: Vec::new(),
            latency_ms: None,
            duration_ms: ms,
            usage: None,
            cost_usd: None,
            cached: false,
            agent_url: None,
            cache: None,
            judge_ms: None,
            attempts: 1,
            judge: None,
            llm: Vec::new(),
        }
    }

    /// 42 outcomes: passes, failures sharing a reason and failures with their own, errors
    /// sharing a reason (more than the recap names one by one) and skipped scenarios; the run
    /// stopped by fail-fast and used the cache.
    fn mixed_outcomes() -> Vec<Outcome> {
        use Priority::{P0, P1, P2};
        let mut outcomes = vec![
            outcome("qa_p0_ok_001", P0, Status::Passed, "", 812),
            outcome("qa_p0_ok_002", P0, Status::Passed, "", 9_400),
            outcome("qa_p1_ok_003", P1, Status::Passed, "", 640),
        ];
        for i in 0..6 {
            outcomes.push(outcome(
                &format!("qa_p1_refund_{i:03}"),
                P1,
                Status::Failed,
                "contains \"30 days\": not found",
                1_200 + i,
            ));
        }
        for i in 0..12 {
            outcomes.push(outcome(
                &format!("qa_p2_edge_{i:03}"),
                P2,
                Status::Failed,
                &format!("judge: reply {i} ignores the rubric \x1b[31mred\x1b[0m"),
                700,
            ));
        }
        outcomes.push(outcome(
            "qa_p0_login_001",
            P0,
            Status::Failed,
            "equals \"ok\": got \"denied\"",
            31_000,
        ));
        for i in 0..8 {
            outcomes.push(outcome(
                &format!("billing_p1_{i:03}"),
                P1,
                Status::Error,
                "agent unreachable: cannot connect to https://bot:hunter2@billing.example.com",
                3,
            ));
        }
        outcomes.push(outcome(
            "billing_p2_slow",
            P2,
            Status::Error,
            "timeout after 30s waiting for the agent",
            30_000,
        ));
        for i in 0..11 {
            outcomes.push(outcome(
                &format!("qa_p2_later_{i:03}"),
                P2,
                Status::Skipped,
                "cancelled by fail-fast",
                0,
            ));
        }
        outcomes
    }

    fn run_events(outcomes: &[Outcome]) -> Vec<RunEvent> {
        let mut events = vec![RunEvent::RunStarted {
            run_id: "run-1".to_owned(),
            started_at: "2026-08-30T10:00:00Z".to_owned(),
            total: outcomes.len(),
            parallel: 4,
            agents: vec![AgentPlan {
                name: "qa_agent".to_owned(),
                url: "http://localhost:8000/a2a/qa_agent".to_owned(),
                scenarios: outcomes.len(),
            }],
            partition: None,
            missing_shards: Vec::new(),
        }];
        events.extend(
            outcomes.iter().map(|o| RunEvent::ScenarioFinished { outcome: Arc::new(o.clone()) }),
        );
        let mut summary = crate::engine::summarize(
            "run-1".to_owned(),
            "2026-08-30T10:00:00Z".to_owned(),
            "2026-08-30T10:01:05Z".to_owned(),
            65_000,
            outcomes,
            Some((
                CancelReason::FailFast,
                "P0 pass rate 66.7% can no longer reach the 80.0% threshold".to_owned(),
            )),
        );
        summary.cache = Some(CacheStats { hits: 2, judge_hits: 1, misses: 34, saved_usd: 0.0242 });
        events.push(RunEvent::RunFinished { summary });
        events
    }

    fn drive(progress: &mut Progress, events: &[RunEvent]) {
        for event in events {
            progress.on_event(event).unwrap();
        }
    }

    #[test]
    fn the_recap_groups_what_did_not_pass_and_says_what_the_exit_code_means() {
        let captured = Captured::default();
        let mut progress = Progress::to_writer(ProgressMode::Plain, captured.clone())
            .with_reports(&ReportPaths::new("reports/rogue"));
        drive(&mut progress, &run_events(&mixed_outcomes()));
        let text = captured.text();
        let recap = &text[text.find("── recap").unwrap()..];
        insta::assert_snapshot!("recap", recap);
        assert!(!recap.contains("hunter2") && !recap.contains('\x1b'), "{recap}");
    }

    #[test]
    fn the_recap_counts_every_outcome_there_is() {
        let captured = Captured::default();
        let mut progress = Progress::to_writer(ProgressMode::Plain, captured.clone());
        drive(&mut progress, &run_events(&mixed_outcomes()));
        let text = captured.text();
        let recap = &text[text.find("── recap").unwrap()..];
        let headline = recap.lines().nth(1).unwrap();
        for status in Status::ALL {
            assert!(headline.contains(&format!(" {status}")), "{status} missing: {headline}");
        }
    }

    #[test]
    fn live_lines_stop_after_twenty_unless_verbose() {
        let outcomes: Vec<Outcome> = (0..30)
            .map(|i| {
                outcome(&format!("f{i:02}"), Priority::P1, Status::Failed, "contains x: no", 5)
            })
            .collect();
        let events = run_events(&outcomes);

        let captured = Captured::default();
        drive(&mut Progress::to_writer(ProgressMode::Plain, captured.clone()), &events);
        let text = captured.text();
        assert_eq!(text.lines().filter(|l| l.starts_with("FAIL")).count(), LIVE_LINES, "{text}");
        assert_eq!(text.matches("-v shows each as it finishes").count(), 1, "{text}");
        // The recap still names all thirty.
        assert!(text.contains("30× contains x: no"), "{text}");
        assert!(text.contains("P1 f00, P1 f01, P1 f02, P1 f03, P1 f04, … and 25 more"), "{text}");

        let captured = Captured::default();
        let mut verbose = Progress::to_writer(ProgressMode::Plain, captured.clone());
        verbose = verbose.with_verbosity(1);
        drive(&mut verbose, &events);
        let text = captured.text();
        assert_eq!(text.lines().filter(|l| l.starts_with("FAIL")).count(), 30, "{text}");
        assert!(!text.contains("-v shows each"), "{text}");
    }

    #[test]
    fn plain_progress_lines_carry_elapsed_time_and_eta() {
        let outcomes: Vec<Outcome> = (0..20)
            .map(|i| outcome(&format!("p{i:02}"), Priority::P1, Status::Passed, "", 5))
            .collect();
        let captured = Captured::default();
        drive(
            &mut Progress::to_writer(ProgressMode::Plain, captured.clone()),
            &run_events(&outcomes),
        );
        let text = captured.text();
        let line = text.lines().find(|l| l.starts_with("[ 25%]")).unwrap();
        assert!(line.starts_with("[ 25%] 5/20 finished: 5 passed, 0 failed"), "{line}");
        assert!(line.contains(" · elapsed 0s, ETA 0s"), "{line}");

        assert_eq!(eta(Duration::from_secs(10), 5, 20), Duration::from_secs(30));
        assert_eq!(eta(Duration::from_secs(10), 0, 20), Duration::ZERO);
        assert_eq!(duration_secs(Duration::from_millis(7_900)), "7s");
        assert_eq!(duration_secs(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        use clap::ColorChoice::{Always, Auto, Never};
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(color_wanted(Auto, true, None));
        assert!(color_wanted(Auto, true, empty), "an empty NO_COLOR does not count");
        assert!(!color_wanted(Auto, true, set));
        assert!(!color_wanted(Auto, false, None));
        assert!(color_wanted(Always, false, set), "an explicit --color always wins");
        assert!(!color_wanted(Never, true, None));

        let captured = Captured::default();
        let mut progress =
            Progress::to_writer(ProgressMode::Plain, captured.clone()).with_color(true);
        drive(&mut progress, &run_events(&mixed_outcomes()));
        let text = captured.text();
        assert!(text.contains("\x1b[31mFAIL \x1b[0m P1 qa_p1_refund_000"), "{text}");
        assert!(text.contains("\x1b[32m3 passed\x1b[0m"), "{text}");

        let captured = Captured::default();
        drive(
            &mut Progress::to_writer(ProgressMode::Plain, captured.clone()),
            &run_events(&mixed_outcomes()),
        );
        assert!(!captured.text().contains('\x1b'));
    }

    #[test]
    fn every_exit_code_has_a_meaning() {
        use super::super::text::exit_meaning;
        for code in [0, 1, 2, 3, 4, 5, 130] {
            assert!(!exit_meaning(code).contains("not an exit code"), "{code}");
        }
        assert_eq!(exit_meaning(1), "at least one scenario failed (a quality verdict)");
        assert_eq!(exit_meaning(42), "not an exit code rogue-runner uses");
    }

    #[test]
    fn v_gives_every_scenario_one_line_with_its_timings() {
        let mut judged = outcome("qa_p0_ok_001", Priority::P0, Status::Passed, "", 1_234);
        (judged.latency_ms, judged.judge_ms, judged.cost_usd) =
            (Some(812), Some(340), Some(0.00022));
        judged.cache = Some(crate::model::CacheKind::Judge);
        assert_eq!(
            verbose_line(&judged, false),
            "PASS  P0 qa_p0_ok_001  agent=qa_agent latency=812ms judge=340ms cost=$0.000220 \
             cached=judge total=1.2s"
        );
        // Ids, agent names and reasons come from files and agents: no escape gets through.
        let mut hostile =
            outcome("id\x1b[2J", Priority::P1, Status::Failed, "said \x1b]0;pwned\x07 no", 5);
        hostile.agent = "agent\x1b[31m".to_owned();
        assert_eq!(
            verbose_line(&hostile, false),
            "FAIL  P1 id  agent=agent latency=- judge=- cost=- cached=no total=5ms  said no"
        );

        let captured = Captured::default();
        let mut progress =
            Progress::to_writer(ProgressMode::Plain, captured.clone()).with_verbosity(1);
        let outcomes = mixed_outcomes();
        drive(&mut progress, &run_events(&outcomes));
        let lines = captured.text().lines().filter(|l| l.contains(" total=")).count();
        assert_eq!(lines, outcomes.len(), "{}", captured.text());
    }

    #[test]
    fn q_prints_the_one_line_result_only() {
        let captured = Captured::default();
        let mut progress =
            Progress::to_writer(ProgressMode::Plain, captured.clone()).with_quiet(true);
        drive(&mut progress, &run_events(&mixed_outcomes()));
        assert_eq!(
            captured.text(),
            "42 scenarios in 1m05s: 3 passed, 19 failed, 9 error, 0 unassessed, 11 skipped\n"
        );
    }
}
