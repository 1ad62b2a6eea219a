//! Text helpers shared by the reporters: terminal sanitizing, Markdown escaping, durations,
//! the recap at the end of a run, and credential redaction in URLs.
//!
//! Everything an agent (or a judge) says is untrusted: it may carry ANSI escape sequences that
//! drive a terminal, or Markdown that breaks a table or injects HTML into a PR comment.

use std::borrow::Cow;
use std::path::PathBuf;

use clap::builder::styling::{AnsiColor, Style};

use crate::model::{CancelReason, ExitCode, Outcome, RunSummary, Status};
use crate::scenario::Priority;
use crate::text::duration_ms;

/// The longest reason or check value a report shows, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 240;

/// Text safe to print on a terminal, on one line: ANSI escape sequences (CSI, OSC, …) are
/// removed, line breaks and tabs become spaces, and every other control character (C0, DEL,
/// C1) and bidirectional override is dropped. A hostile agent cannot move the cursor, change
/// the window title, clear the screen or hide text this way.
pub fn sanitize_terminal_text(text: &str) -> String {
    let stripped = strip_ansi(text);
    let mut out = String::with_capacity(stripped.len());
    for c in stripped.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Agent text for an XML or HTML document, keeping its lines: ANSI escape sequences are
/// removed, line ends become `\n`, every other control character, bidirectional override and
/// XML non-character (U+FFFE, U+FFFF) is dropped, credentials written into URLs are hidden,
/// and at most `max_chars` characters are kept (the cut is said). Markup escaping is left to
/// the writer (quick-junit, the template's autoescape).
pub(crate) fn document_text(text: &str, max_chars: usize) -> String {
    // The stripper drops carriage returns and tabs: keep line ends and tabs around it.
    let lines = text.replace("\r\n", "\n").replace('\r', "\n");
    let stripped: Vec<Cow<'_, str>> = lines.split('\t').map(strip_ansi).collect();
    let text = redact_userinfo(&stripped.join("\t"));
    let clean: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' | '\t' => Some(c),
            '\u{FFFE}' | '\u{FFFF}' => None,
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect();
    let total = clean.chars().count();
    if total <= max_chars {
        return clean;
    }
    let cut: String = clean.chars().take(max_chars).collect();
    format!("{cut}… ({} more characters not shown)", total - max_chars)
}

/// What `strip_ansi_escapes::strip_str` returns, without its cost when there is no escape
/// sequence to remove. The stripper runs a terminal parser and writes every character
/// through `fmt`: on the agent texts of a large run that was most of the time spent
/// rendering report.html (45 ms of the final 50 ms for 2,000 scenarios). Text with no ESC
/// and no C1 control never leaves the parser's ground state, where it drops the C0
/// controls but `\n` (and keeps DEL, which the callers drop); that is done here directly
/// (property-tested against the stripper).
fn strip_ansi(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| c == '\x1b' || ('\u{80}'..='\u{9f}').contains(&c)) {
        return Cow::Owned(strip_ansi_escapes::strip_str(text));
    }
    let dropped = |c: char| c.is_ascii_control() && c != '\n' && c != '\x7f';
    if text.chars().any(dropped) {
        Cow::Owned(text.chars().filter(|&c| !dropped(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Unicode bidirectional formatting characters ("Trojan Source"): they reorder what a reader
/// sees without being visible themselves.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Untrusted text on one line: sanitized for a terminal ([`sanitize_terminal_text`]), then
/// [`crate::text::one_line`] (whitespace runs collapsed, at most `max_chars` characters, an
/// ellipsis marking the cut).
pub(crate) fn clean_line(text: &str, max_chars: usize) -> String {
    crate::text::one_line(&sanitize_terminal_text(text), max_chars)
}

/// Agent-provided text for Markdown, on one line and capped: characters that Markdown or
/// HTML would interpret are escaped (pipes cannot split a table cell, backticks cannot open
/// code, `<` cannot open a tag, brackets cannot form a link).
pub(crate) fn md_text(text: &str, max_chars: usize) -> String {
    let line = clean_line(text, max_chars);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Where a code span sits: inside a GitHub table cell a pipe must be escaped even in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MdContext {
    Text,
    Table,
}

/// A Markdown code span holding `text` verbatim (one line, capped), whatever backticks it
/// contains.
pub(crate) fn md_code(text: &str, context: MdContext) -> String {
    let mut line = clean_line(text, MAX_TEXT_CHARS);
    if context == MdContext::Table {
        line = line.replace('|', "\\|");
    }
    if line.is_empty() {
        return "` `".to_owned();
    }
    let longest_run = line.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if line.starts_with('`') || line.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{line}{pad}{fence}")
}

/// Reasons the recap lists per outcome before "… and N more reasons".
const RECAP_REASONS: usize = 10;
/// Scenario ids the recap names under one shared reason before "… and N more".
const RECAP_IDS_PER_REASON: usize = 5;
/// Slowest scenarios the recap names.
pub(crate) const RECAP_SLOWEST: usize = 3;

/// One scenario as the end-of-run recap names it: terminal-safe text only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecapEntry {
    pub id: String,
    pub priority: Priority,
    pub status: Status,
    /// The headline reason, on one line.
    pub reason: String,
    pub duration_ms: u64,
}

impl RecapEntry {
    pub(crate) fn new(outcome: &Outcome) -> Self {
        let reason = outcome.reasons.first().map_or("no reason given", String::as_str);
        RecapEntry {
            id: clean_line(&outcome.id, 120),
            priority: outcome.priority,
            status: outcome.status,
            reason: clean_line(&redact_userinfo(reason), 200),
            duration_ms: outcome.duration_ms,
        }
    }

    fn name(&self) -> String {
        format!("{} {}", self.priority, self.id)
    }
}

/// What the recap at the end of a run shows (in the spirit of cargo-nextest's summary).
#[derive(Debug)]
pub(crate) struct Recap<'a> {
    pub summary: &'a RunSummary,
    /// Scenarios per outcome, one entry per [`Status::ALL`] (zeros included), in that order.
    pub counts: &'a [(Status, usize)],
    /// Scenarios that neither passed nor were skipped, in the order they finished.
    pub problems: &'a [RecapEntry],
    /// The slowest scenarios that ran, slowest first.
    pub slowest: &'a [RecapEntry],
    /// The report files written, report.html first.
    pub reports: &'a [PathBuf],
    /// ANSI colours on the outcome words.
    pub color: bool,
}

/// The recap's one-line result, `12 scenarios in 3.1s: 10 passed, 2 failed, …` (all that
/// `-q` prints of a run).
pub(crate) fn result_line(summary: &RunSummary, counts: &[(Status, usize)], color: bool) -> String {
    let painted: Vec<String> = counts
        .iter()
        .map(|&(status, n)| {
            let text = format!("{n} {status}");
            if n == 0 { text } else { paint(&text, status_style(status), color) }
        })
        .collect();
    let total: usize = counts.iter().map(|&(_, n)| n).sum();
    format!(
        "{total} scenario{} in {}: {}",
        plural(total),
        duration_ms(summary.duration_ms),
        painted.join(", ")
    )
}

/// The recap: counts per outcome, why the run stopped early, the cache, the failed and
/// errored scenarios grouped by reason, the slowest, where the reports are and what the exit
/// code means. Every line ends with `\n`.
pub(crate) fn render_recap(recap: &Recap<'_>) -> String {
    let summary = recap.summary;
    let paint = |text: &str, style: Style| paint(text, style, recap.color);
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(paint(&format!("{:─<72}", "── recap "), Style::new().dimmed()));
    line(result_line(summary, recap.counts, recap.color));
    if let Some(reason) = summary.cancelled {
        let message = summary.cancel_message.as_deref().map_or(String::new(), |m| {
            format!(": {}", clean_line(&redact_userinfo(m), MAX_TEXT_CHARS))
        });
        line(format!("stopped early by {}{message}", cancel_words(reason)));
    }
    if let Some(cost) = &summary.cost {
        line(format!("cost: {}", cost.headline()));
    }
    if let Some(cache) = summary.cache {
        line(format!(
            "cache: {} outcome hit{}, {} judge hit{}, {} miss{} ({}), ${:.4} saved",
            cache.hits,
            plural(cache.hits),
            cache.judge_hits,
            plural(cache.judge_hits),
            cache.misses,
            if cache.misses == 1 { "" } else { "es" },
            fmt_rate(cache.hit_rate()),
            cache.saved_usd
        ));
    }
    for &(status, n) in recap.counts {
        let entries: Vec<&RecapEntry> =
            recap.problems.iter().filter(|e| e.status == status).collect();
        if entries.is_empty() {
            continue;
        }
        line(String::new());
        line(format!("{} ({n}):", paint(status.as_str(), status_style(status).bold())));
        for text in reason_groups(&entries) {
            line(text);
        }
    }
    if recap.slowest.len() > 1 {
        line(String::new());
        line("slowest:".to_owned());
        let width = recap.slowest.iter().map(|e| duration_ms(e.duration_ms).len()).max();
        for entry in recap.slowest {
            line(format!(
                "  {:>width$}  {} ({})",
                duration_ms(entry.duration_ms),
                entry.name(),
                entry.status,
                width = width.unwrap_or(0)
            ));
        }
    }
    line(String::new());
    if let Some((first, rest)) = recap.reports.split_first() {
        line(format!("reports: {}", first.display()));
        if !rest.is_empty() {
            let others: Vec<String> = rest.iter().map(|p| p.display().to_string()).collect();
            line(format!("         {}", others.join(" · ")));
        }
    }
    line(paint(&exit_line(summary), Style::new().bold()));
    out
}

/// The last line of the recap: the exit code the run summary carries, and what it means.
pub(crate) fn exit_line(summary: &RunSummary) -> String {
    // The engine's reason (the sentence every report shows) when there is one.
    let why = if summary.exit_reason.is_empty() {
        exit_meaning(summary.exit_code)
    } else {
        summary.exit_reason.as_str()
    };
    format!("exit {}: {why}", summary.exit_code)
}

/// What an exit code means, in the words of the README's table (one place for the terminal).
pub(crate) fn exit_meaning(code: i32) -> &'static str {
    let known = ExitCode::from_code(code);
    if known.code() != code {
        return "not an exit code rogue-runner uses";
    }
    match known {
        ExitCode::Success => "success: nothing failed or errored",
        ExitCode::Failures => "at least one scenario failed (a quality verdict)",
        ExitCode::Usage => "usage, configuration or scenario validation error (nothing ran)",
        ExitCode::FailFast => {
            "aborted by fail-fast: failed P0 verdicts put the pass rate below --p0-threshold"
        }
        ExitCode::Budget => "cost budget exhausted (--max-cost)",
        ExitCode::InfraErrors => {
            "nothing failed, but at least one scenario errored (agent unreachable, timeout, protocol)"
        }
        ExitCode::Unassessed => {
            "nothing failed or errored, but some scenarios could not be fully assessed"
        }
        ExitCode::Interrupted => "interrupted (Ctrl-C)",
        ExitCode::Terminated => "stopped by SIGTERM; every report was written",
        ExitCode::HungUp => "stopped by SIGHUP; every report was written",
    }
}

/// How a cancelled run is named on the terminal.
pub(crate) fn cancel_words(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::FailFast => "fail-fast",
        CancelReason::MaxFail => "max-fail",
        CancelReason::Budget => "budget",
        CancelReason::Interrupted => "interrupted",
    }
}

/// The lines for one outcome's scenarios: grouped by reason, the largest group first, then
/// the one with the highest priority, then the first to finish; at most [`RECAP_REASONS`]
/// reasons.
fn reason_groups(entries: &[&RecapEntry]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&RecapEntry>)> = Vec::new();
    for entry in entries {
        match groups.iter_mut().find(|(reason, _)| *reason == entry.reason) {
            Some((_, members)) => members.push(entry),
            None => groups.push((&entry.reason, vec![entry])),
        }
    }
    // A stable sort keeps the order of first appearance among equals.
    groups.sort_by_key(|(_, members)| {
        let priority = members.iter().map(|e| e.priority).min();
        (std::cmp::Reverse(members.len()), priority)
    });
    let mut lines = Vec::new();
    for (reason, members) in groups.iter().take(RECAP_REASONS) {
        match members.as_slice() {
            [one] => lines.push(format!(
                "  {}  {reason}  ({})",
                one.name(),
                duration_ms(one.duration_ms)
            )),
            _ => {
                lines.push(format!("  {}× {reason}", members.len()));
                let names: Vec<String> =
                    members.iter().take(RECAP_IDS_PER_REASON).map(|e| e.name()).collect();
                let more = members.len().saturating_sub(RECAP_IDS_PER_REASON);
                let tail = if more > 0 { format!(", … and {more} more") } else { String::new() };
                lines.push(format!("      {}{tail}", names.join(", ")));
            }
        }
    }
    if groups.len() > RECAP_REASONS {
        let rest = &groups[RECAP_REASONS..];
        let scenarios: usize = rest.iter().map(|(_, members)| members.len()).sum();
        lines.push(format!(
            "  … and {} more reason{} ({scenarios} scenario{}): see the reports",
            rest.len(),
            plural(rest.len()),
            plural(scenarios)
        ));
    }
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The colour of an outcome's word: green passed, red failed, magenta error, yellow for the
/// rest (skipped, and any outcome added later).
pub(crate) fn status_style(status: Status) -> Style {
    let color = if status == Status::Passed {
        AnsiColor::Green
    } else if status == Status::Failed {
        AnsiColor::Red
    } else if status == Status::Error {
        AnsiColor::Magenta
    } else {
        AnsiColor::Yellow
    };
    Style::new().fg_color(Some(color.into()))
}

/// `text` in `style` when `color` is on; as is otherwise.
pub(crate) fn paint(text: &str, style: Style, color: bool) -> String {
    if color { format!("{style}{text}{style:#}") } else { text.to_owned() }
}

/// A rate as a percentage with one decimal, or `n/a`.
pub(crate) fn fmt_rate(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "n/a".to_owned(),
    }
}

/// Hides credentials written into URLs and headers wherever they appear in `text`, by the
/// one policy ([`crate::redact`]). Reports must never carry a secret.
pub(crate) fn redact_userinfo(text: &str) -> String {
    crate::redact::redact_text(text).into_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn strip_ansi_matches_the_stripper(
            text in proptest::collection::vec(
                prop_oneof![
                    proptest::char::range('\u{0}', '\u{7f}'),
                    Just('\u{1b}'),
                    Just('\u{9b}'),
                    Just('\u{85}'),
                    Just('é'),
                    Just('✓'),
                    Just('\u{202e}'),
                    Just('\u{fffe}'),
                ],
                0..40,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let fast = strip_ansi(&text).into_owned();
            prop_assert_eq!(fast, strip_ansi_escapes::strip_str(&text));
        }
    }

    #[test]
    fn strip_ansi_borrows_clean_text() {
        assert!(matches!(strip_ansi("plain text, lines\nand ✓"), Cow::Borrowed(_)));
        assert_eq!(strip_ansi("a\tb\rc\u{7}d\u{7f}e\n"), "abcd\u{7f}e\n");
    }

    #[test]
    fn strips_ansi_and_control_characters() {
        let hostile = "ok \x1b[31mred\x1b[0m \x1b]0;pwned\x07title\x1b[2J\rback\x08\x00 \u{9b}31m \u{202E}evil";
        let clean = sanitize_terminal_text(hostile);
        assert!(!clean.contains('\x1b'));
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert!(!clean.contains('\u{202E}'));
        assert!(clean.starts_with("ok red title"), "{clean:?}");
    }

    #[test]
    fn escapes_markdown() {
        assert_eq!(md_text("a | b", 100), "a \\| b");
        assert_eq!(md_text("<script>x</script>", 100), "&lt;script&gt;x&lt;/script&gt;");
        assert_eq!(md_text("`code` [link](x)", 100), "\\`code\\` \\[link\\](x)");
        assert_eq!(md_text("two\nlines\n\n# heading", 100), "two lines \\# heading");
    }

    #[test]
    fn caps_long_text() {
        let long = "x".repeat(1000);
        let capped = md_text(&long, 50);
        assert_eq!(capped.chars().count(), 50);
        assert!(capped.ends_with('…'));
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(md_code("qa_001", MdContext::Text), "`qa_001`");
        assert_eq!(md_code("a`b", MdContext::Text), "``a`b``");
        assert_eq!(md_code("`x", MdContext::Text), "`` `x ``");
        assert_eq!(md_code("a|b", MdContext::Table), "`a\\|b`");
        assert_eq!(md_code("a|b", MdContext::Text), "`a|b`");
    }

    #[test]
    fn document_text_keeps_lines_and_drops_the_rest() {
        let hostile = "a\x1b[31mred\x1b[0m\x1b]0;pwned\x07\r\nb\rc\x00\x08\u{FFFF}\u{202E}\td \
                       https://u:secret@h/x";
        assert_eq!(document_text(hostile, 1000), "ared\nb\nc\td https://***@h/x");
        assert_eq!(document_text("<b>&</b>", 1000), "<b>&</b>");
        assert_eq!(document_text("abcdef", 4), "abcd… (2 more characters not shown)");
    }

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_userinfo("GET https://bob:s3cr3t@agent.example.com/a2a failed"),
            "GET https://***@agent.example.com/a2a failed"
        );
        assert_eq!(redact_userinfo("http://localhost:8000/a2a/x"), "http://localhost:8000/a2a/x");
        assert_eq!(redact_userinfo("mail bob@example.com"), "mail bob@example.com");
    }

    proptest! {
        #[test]
        fn sanitized_text_has_no_control_characters(s in any::<String>()) {
            let clean = sanitize_terminal_text(&s);
            prop_assert!(!clean.chars().any(|c| c.is_control() || is_bidi_control(c)));
        }

        #[test]
        fn markdown_text_cannot_break_out(s in any::<String>()) {
            let md = md_text(&s, MAX_TEXT_CHARS);
            prop_assert!(!md.contains('\n'));
            prop_assert!(!md.contains('<'));
            // Every pipe and backtick is escaped.
            let chars: Vec<char> = md.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                if *c == '|' || *c == '`' {
                    prop_assert!(i > 0 && chars[i - 1] == '\\', "{md:?}");
                }
            }
        }
    }
}
