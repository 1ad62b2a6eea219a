//! Problems found in scenario files, each with `file:line:col`, what is wrong and a hint.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::node::Pos;

/// How bad a problem is. Errors make `validate` exit 2 and keep the scenario out of the run;
/// warnings are printed and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    /// Byte offset in the file, for snippets.
    #[serde(skip)]
    pub offset: usize,
    /// Lowercase, says what is wrong.
    pub message: String,
    /// Says what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Which check, when it carries a hint: a stable name (`json-trailing-comma`) that the
    /// tests use to prove the hint true (`tests/diagnostic_help.rs` holds a broken input and
    /// its fix for every code in the source). Internal: not in any output yet.
    #[serde(skip)]
    pub code: Option<&'static str>,
    /// Whether the file may be read to show a snippet (not for a path that must not be read,
    /// such as a symlink leading outside the scenarios directory).
    #[serde(skip)]
    pub show_source: bool,
}

impl Diagnostic {
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: pos.line,
            col: pos.col,
            offset: pos.offset,
            message: message.into(),
            hint: None,
            code: None,
            show_source: true,
        }
    }

    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(file, pos, message) }
    }

    /// Says what to do, under `code` (see [`Diagnostic::code`]).
    #[must_use]
    pub fn with_hint(mut self, code: &'static str, hint: impl Into<String>) -> Self {
        self.code = Some(code);
        self.hint = Some(hint.into());
        self
    }

    /// Never read the file to show this diagnostic: it is shown on one line.
    #[must_use]
    pub fn without_source(mut self) -> Self {
        self.show_source = false;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `file:line:col: error: message (hint: …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {level}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A diagnostic with its source text, rendered by miette with a snippet.
#[derive(Debug)]
pub struct RenderedDiagnostic {
    diagnostic: Diagnostic,
    source: miette::NamedSource<Arc<str>>,
}

impl RenderedDiagnostic {
    /// `source_text` is shared: one file's text serves all of its diagnostics.
    pub fn new(diagnostic: Diagnostic, source_text: Arc<str>) -> Self {
        let name = diagnostic.file.display().to_string();
        RenderedDiagnostic { source: miette::NamedSource::new(name, source_text), diagnostic }
    }
}

impl fmt::Display for RenderedDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for RenderedDiagnostic {}

impl miette::Diagnostic for RenderedDiagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.hint.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let text = self.source.inner();
        let offset = self.diagnostic.offset.min(text.len());
        let len = text[offset..].chars().next().map_or(0, char::len_utf8);
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_with_span(
            Some("here".to_owned()),
            (offset, len),
        ))))
    }
}
