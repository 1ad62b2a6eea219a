//! Text helpers shared by the reporters: terminal sanitizing, Markdown escaping, durations,
//! and credential redaction in URLs.
//!
//! Everything an agent (or a judge) says is untrusted: it may carry ANSI escape sequences that
//! drive a terminal, or Markdown that breaks a table or injects HTML into a PR comment.

use std::borrow::Cow;

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

/// One line of plain text: sanitized, whitespace runs collapsed, at most `max_chars`
/// characters (an ellipsis marks the cut).
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let clean = sanitize_terminal_text(text);
    let collapsed = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&collapsed, max_chars)
}

fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Agent-provided text for Markdown, on one line and capped: characters that Markdown or
/// HTML would interpret are escaped (pipes cannot split a table cell, backticks cannot open
/// code, `<` cannot open a tag, brackets cannot form a link).
pub(crate) fn md_text(text: &str, max_chars: usize) -> String {
    let line = one_line(text, max_chars);
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
    let mut line = one_line(text, MAX_TEXT_CHARS);
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

/// A duration the way people read it: `812 ms`, `12.3s`, `2m05s`, `1h02m`.
pub(crate) fn fmt_duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        let secs = ms / 1000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        let mins = ms / 60_000;
        format!("{}h{:02}m", mins / 60, mins % 60)
    }
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
    fn formats_durations() {
        assert_eq!(fmt_duration_ms(812), "812 ms");
        assert_eq!(fmt_duration_ms(12_345), "12.3s");
        assert_eq!(fmt_duration_ms(125_000), "2m05s");
        assert_eq!(fmt_duration_ms(3_720_000), "1h02m");
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
