//! Plain-text formatting shared by every layer: one-line excerpts, durations, byte sizes and
//! aligned text tables. One implementation of each, so a message, a report and a table never
//! disagree on how a duration or a cut is written.
//!
//! The bottom layer: this module imports nothing from the rest of the crate, and knows nothing
//! about terminals or markup (callers sanitize or escape first, then format).

use std::time::Duration;

/// Marks where [`one_line`] cut a text.
pub const ELLIPSIS: char = '…';

/// `text` on one line: every run of whitespace and control characters becomes one space,
/// leading and trailing ones are dropped, and at most `max_chars` characters are kept, the
/// [`ELLIPSIS`] marking a cut counted among them.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut count = 0usize;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = count > 0;
            continue;
        }
        let needed = usize::from(pending_space) + 1;
        if count + needed > max_chars {
            return cut(out, count, max_chars);
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `kept` (the first `count` characters of a longer line) cut to `max_chars` characters, the
/// ellipsis last.
fn cut(kept: String, count: usize, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    let keep = max_chars - 1;
    let mut out: String = if count > keep { kept.chars().take(keep).collect() } else { kept };
    out.push(ELLIPSIS);
    out
}

/// A duration in whole milliseconds, saturating (a `u64` of milliseconds is 584 million years).
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The largest unit [`duration_ms_up_to`] rolls a duration into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargestUnit {
    /// `62m00s`: the store's tables (`history`, `compare`) have always counted in minutes.
    Minutes,
    /// `1h02m`: reports and the terminal.
    Hours,
}

/// A duration the way people read it: `812 ms`, `12.3s`, `2m05s`, `1h02m`.
pub fn duration_ms(ms: u64) -> String {
    duration_ms_up_to(ms, LargestUnit::Hours)
}

/// [`duration_ms`], rolling up to `largest` at most.
pub fn duration_ms_up_to(ms: u64, largest: LargestUnit) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 || largest == LargestUnit::Minutes {
        let secs = ms / 1000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        let mins = ms / 60_000;
        format!("{}h{:02}m", mins / 60, mins % 60)
    }
}

/// A duration to the second, for elapsed time and ETAs: `7s`, `2m05s`, `1h02m`.
pub fn duration_secs(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 { format!("{secs}s") } else { duration_ms(secs.saturating_mul(1000)) }
}

/// How [`bytes`] writes a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteStyle {
    /// A configured limit, usually a round number: `16 MiB`, `512 KiB`, `300 B` (whole KiB
    /// below a MiB, one decimal for a MiB count that is not whole).
    Limit,
    /// A measured size: `12.3 KiB`, `1.5 MiB`, always one decimal.
    Size,
}

/// A byte count in binary units, written in `style`.
pub fn bytes(bytes: u64, style: ByteStyle) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match style {
        ByteStyle::Limit if bytes >= MIB && bytes % MIB == 0 => format!("{} MiB", bytes / MIB),
        ByteStyle::Limit if bytes >= MIB => format!("{:.1} MiB", bytes as f64 / MIB as f64),
        ByteStyle::Limit if bytes >= KIB => format!("{} KiB", bytes / KIB),
        ByteStyle::Limit => format!("{bytes} B"),
        ByteStyle::Size if bytes < MIB => format!("{:.1} KiB", bytes as f64 / KIB as f64),
        ByteStyle::Size => format!("{:.1} MiB", bytes as f64 / MIB as f64),
    }
}

/// Rows as lines of aligned columns, two spaces apart. A column is as wide as its widest cell
/// (rows may have different lengths); columns from `right_align_from` on are right-aligned,
/// the others left-aligned; the last cell of a row is not padded and no line ends in spaces.
/// Widths count characters, so the caller decides what a cell may contain.
pub fn table(rows: &[Vec<String>], right_align_from: usize) -> Vec<String> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            let last = row.len().saturating_sub(1);
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i >= right_align_from {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if i != last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                if i != last {
                    line.push_str("  ");
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_line_collapses_whitespace_and_control_characters() {
        assert_eq!(
            one_line("  <html>\r\n\t<body>\x1b[31mboom\x00</body> ", 100),
            "<html> <body> [31mboom </body>"
        );
        assert_eq!(one_line(" \r\n", 10), "");
    }

    #[test]
    fn one_line_counts_the_ellipsis_in_the_limit() {
        assert_eq!(one_line("abcdef", 6), "abcdef");
        assert_eq!(one_line("abcdefg", 6), "abcde…");
        assert_eq!(one_line(&"é".repeat(10), 3), "éé…");
        // A cut right after a space keeps the space, as reports always have.
        assert_eq!(one_line("abc defgh", 5), "abc …");
        assert_eq!(one_line("abc", 0), "");
        assert_eq!(one_line("abc", 1), "…");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(812), "812 ms");
        assert_eq!(duration_ms(12_345), "12.3s");
        assert_eq!(duration_ms(125_000), "2m05s");
        assert_eq!(duration_ms(3_720_000), "1h02m");
        assert_eq!(duration_ms_up_to(3_720_000, LargestUnit::Minutes), "62m00s");
        assert_eq!(duration_ms_up_to(59_999, LargestUnit::Minutes), "60.0s");
        assert_eq!(duration_secs(Duration::from_millis(7_900)), "7s");
        assert_eq!(duration_secs(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration_secs(Duration::from_secs(3_720)), "1h02m");
        assert_eq!(millis(Duration::from_micros(2_999)), 2);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(16 * 1024 * 1024, ByteStyle::Limit), "16 MiB");
        assert_eq!(bytes(1536 * 1024, ByteStyle::Limit), "1.5 MiB");
        assert_eq!(bytes(100_000, ByteStyle::Limit), "97 KiB");
        assert_eq!(bytes(300, ByteStyle::Limit), "300 B");
        assert_eq!(bytes(12_595, ByteStyle::Size), "12.3 KiB");
        assert_eq!(bytes(300, ByteStyle::Size), "0.3 KiB");
        assert_eq!(bytes(1536 * 1024, ByteStyle::Size), "1.5 MiB");
    }

    #[test]
    fn table_aligns_columns_and_trims_lines() {
        let rows = vec![
            vec!["FILE".to_owned(), "P0".to_owned(), "TOTAL".to_owned()],
            vec!["a.yaml".to_owned(), "12".to_owned(), "3".to_owned()],
            vec!["b".to_owned(), String::new()],
        ];
        assert_eq!(table(&rows, 1), ["FILE    P0  TOTAL", "a.yaml  12      3", "b"]);
        assert_eq!(table(&rows, 9), ["FILE    P0  TOTAL", "a.yaml  12  3", "b"]);
        assert!(table(&[], 0).is_empty());
    }

    proptest! {
        #[test]
        fn one_line_is_one_line_within_the_limit(text in "\\PC*|[ \\t\\r\\n\\x00-\\x1f\\x7f\\u{85}\\u{2028}a-zé]*", max in 0usize..300) {
            let line = one_line(&text, max);
            prop_assert!(line.chars().count() <= max, "{line:?} is longer than {max}");
            prop_assert!(!line.chars().any(|c| c.is_control() || c == '\n' || c == '\u{2028}'), "{line:?}");
            prop_assert!(!line.starts_with(' ') && !line.ends_with(' '), "{line:?}");
            prop_assert!(!line.contains("  "), "{line:?}");
        }

        /// The rule reports have always used: whitespace runs joined by one space, then at
        /// most `max` characters with the ellipsis counted (what `report::text` did itself).
        #[test]
        fn one_line_cuts_as_reports_always_did(text in "[ \t\na-zé…]{0,40}", max in 1usize..30) {
            let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let reference = if collapsed.chars().count() <= max {
                collapsed
            } else {
                let mut cut: String = collapsed.chars().take(max - 1).collect();
                cut.push('…');
                cut
            };
            prop_assert_eq!(one_line(&text, max), reference);
        }

        #[test]
        fn one_line_keeps_a_short_line_whole(words in proptest::collection::vec("[a-zé]{1,8}", 0..10)) {
            let text = words.join(" ");
            let n = text.chars().count();
            prop_assert_eq!(one_line(&format!("\n {text}\t"), n), text);
        }

        #[test]
        fn table_columns_line_up(cells in proptest::collection::vec(proptest::collection::vec("[a-z]{0,6}", 3), 1..6)) {
            let lines = table(&cells, 3);
            prop_assert_eq!(lines.len(), cells.len());
            for line in &lines {
                prop_assert!(!line.ends_with(' '));
            }
        }
    }
}
