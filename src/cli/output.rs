//! Writing to the terminal: diagnostics through miette, tables, and sanitized text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::scenario::escape::{escape_invisible, is_invisible};
use crate::scenario::{Diagnostic, RenderedDiagnostic};

/// Whether to use colour on stderr under `--color auto` (a terminal, and `NO_COLOR` unset or
/// empty).
pub(super) fn stderr_color() -> bool {
    crate::report::use_color(clap::ColorChoice::Auto, std::io::stderr().is_terminal())
}

/// Render diagnostics with source snippets, grouped by file, in file order.
pub(super) fn render_diagnostics(
    out: &mut dyn Write,
    diagnostics: &[&Diagnostic],
    color: bool,
) -> std::io::Result<()> {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    // Each file is read once, bounded, and only if it is a regular file: a diagnostic about a
    // FIFO, a device or an oversized file is shown on one line.
    let mut sources: BTreeMap<PathBuf, Option<Arc<str>>> = BTreeMap::new();
    for diagnostic in diagnostics {
        if !diagnostic.show_source {
            writeln!(out, "{}", escaped(diagnostic))?;
            continue;
        }
        let source = sources
            .entry(diagnostic.file.clone())
            .or_insert_with(|| {
                crate::scenario::source_file::read_for_snippet(&diagnostic.file).map(Arc::from)
            })
            .clone();
        let source = source.filter(|text| snippet_is_printable(text, diagnostic.line));
        // Messages quote ids and keys from the file: shown with their invisible characters
        // escaped, like `list` does.
        let shown = escaped(diagnostic);
        match source {
            Some(text) => {
                let mut located = shown.clone();
                located.offset = crate::scenario::line_col_offset(&text, located.line, located.col);
                let rendered = RenderedDiagnostic::new(located, text);
                let mut buffer = String::new();
                if handler.render_report(&mut buffer, &rendered).is_ok() {
                    out.write_all(buffer.as_bytes())?;
                    continue;
                }
                writeln!(out, "{shown}")?;
            }
            _ => writeln!(out, "{shown}")?,
        }
    }
    Ok(())
}

fn escaped(diagnostic: &Diagnostic) -> Diagnostic {
    let mut shown = diagnostic.clone();
    shown.message = escape_invisible(&shown.message).into_owned();
    shown.hint = shown.hint.map(|h| escape_invisible(&h).into_owned());
    let file = diagnostic.file.to_string_lossy();
    if let Cow::Owned(file) = escape_invisible(&file) {
        shown.file = PathBuf::from(file);
    }
    shown
}

/// The longest source line shown in a snippet; a diagnostic on a longer line (minified JSON,
/// a hostile file) is shown as one line instead of flooding the terminal.
const MAX_SNIPPET_LINE_BYTES: usize = 1000;

/// Whether the lines a snippet shows (the diagnostic's and one either side) are short and
/// free of control and bidi characters (a tab or a CRLF line end aside), so the snippet can
/// be printed as the file has it; otherwise the diagnostic is shown on one line.
fn snippet_is_printable(text: &str, line: u32) -> bool {
    let first = (line as usize).saturating_sub(2);
    text.split('\n').skip(first).take(3).all(|line| {
        line.len() <= MAX_SNIPPET_LINE_BYTES
            && !line.chars().any(|c| is_invisible(c) && c != '\t' && c != '\r')
    })
}

/// Text from files or agents, safe to print on a terminal: control characters and escape
/// sequences removed.
pub fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect()
}

/// A text table under a header row ([`crate::text::table`]): columns from `right_align_from`
/// on are right-aligned; the last column is not padded.
pub(super) fn table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
    right_align_from: usize,
) -> std::io::Result<()> {
    let mut all = Vec::with_capacity(rows.len() + 1);
    all.push(header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    all.extend_from_slice(rows);
    for line in crate::text::table(&all, right_align_from) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
