//! Per-file diagnostics collection shared by the dialect normalizers.

use std::path::{Path, PathBuf};

use super::Diagnostic;
use super::node::Pos;

/// Collects every problem of one file, so all of them are reported in one pass.
#[derive(Debug)]
pub(crate) struct FileContext<'a> {
    pub display: &'a Path,
    pub diagnostics: Vec<Diagnostic>,
}

/// Lets a hint be chained onto the diagnostic just recorded.
pub(crate) struct Recorded<'c>(&'c mut Diagnostic);

impl Recorded<'_> {
    /// Says what to do, under `code` (see [`Diagnostic::code`]).
    pub(crate) fn hint(self, code: &'static str, hint: impl Into<String>) {
        self.0.code = Some(code);
        self.0.hint = Some(hint.into());
    }

    /// A hint made elsewhere (by the YAML parser), with its code.
    pub(crate) fn set_hint(self, hint: super::node::Hint) {
        self.0.code = Some(hint.code);
        self.0.hint = Some(hint.text);
    }
}

impl<'a> FileContext<'a> {
    pub(crate) fn new(display: &'a Path) -> Self {
        FileContext { display, diagnostics: Vec::new() }
    }

    pub(crate) fn error(&mut self, pos: Pos, message: impl Into<String>) -> Recorded<'_> {
        self.push(Diagnostic::error(self.display, pos, message))
    }

    pub(crate) fn warning(&mut self, pos: Pos, message: impl Into<String>) -> Recorded<'_> {
        self.push(Diagnostic::warning(self.display, pos, message))
    }

    fn push(&mut self, diagnostic: Diagnostic) -> Recorded<'_> {
        self.diagnostics.push(diagnostic);
        let last = self.diagnostics.len() - 1;
        Recorded(&mut self.diagnostics[last])
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.display.to_path_buf()
    }
}
