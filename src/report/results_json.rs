//! `results.json`: the whole run as one versioned document.

use std::path::{Path, PathBuf};

use super::files::write_atomically;
use super::state::RunState;
use super::{ReportError, Reporter, ResultsDocument};
use crate::engine::RunEvent;

/// Writes [`ResultsDocument`] atomically when the run finishes, or from what has finished so
/// far when [`flush_partial`](Reporter::flush_partial) is called on interrupt.
#[derive(Debug)]
pub struct ResultsJson {
    path: PathBuf,
    state: RunState,
}

impl ResultsJson {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ResultsJson { path: path.into(), state: RunState::new(true) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document as it would be written now.
    pub fn document(&self) -> ResultsDocument {
        self.state.document()
    }

    fn write(&self) -> Result<(), ReportError> {
        let doc = self.state.document();
        let mut bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|error| ReportError::Serialize { what: "results.json", error })?;
        bytes.push(b'\n');
        write_atomically(&self.path, |w| w.write_all(&bytes))
    }
}

impl Reporter for ResultsJson {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        self.state.apply(event);
        if matches!(event, RunEvent::RunFinished { .. }) {
            self.write()?;
        }
        Ok(())
    }

    fn flush_partial(&mut self) -> Result<(), ReportError> {
        if self.state.is_finished() { Ok(()) } else { self.write() }
    }
}
