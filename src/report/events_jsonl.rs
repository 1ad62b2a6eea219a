//! `events.jsonl`: every event as one JSON line, written as it happens.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::files::ensure_parent;
use super::text::redact_userinfo;
use super::{ReportError, Reporter};
use crate::model::{AgentPlan, RunEvent};

/// Writes each event as one line of JSON (the shape of `schemas/events.schema.json`) and
/// flushes it before returning, so a crash or Ctrl-C still leaves every finished result on
/// disk. `RunStarted` truncates the file; every later event appends to it.
#[derive(Debug)]
pub struct EventsJsonl {
    path: PathBuf,
    file: Option<fs_err::File>,
}

impl EventsJsonl {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EventsJsonl { path: path.into(), file: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&mut self, truncate: bool) -> Result<&mut fs_err::File, ReportError> {
        let file = match self.file.take() {
            Some(file) if !truncate => file,
            _ => {
                ensure_parent(&self.path)?;
                let mut options = fs_err::OpenOptions::new();
                if truncate {
                    options.write(true).create(true).truncate(true);
                } else {
                    // An event before `RunStarted`: keep whatever is there.
                    options.append(true).create(true);
                }
                options
                    .open(&self.path)
                    .map_err(|error| ReportError::Write { path: self.path.clone(), error })?
            }
        };
        Ok(self.file.insert(file))
    }
}

impl Reporter for EventsJsonl {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        let event = without_credentials(event);
        let mut line = serde_json::to_vec(event.as_ref())
            .map_err(|error| ReportError::Serialize { what: "an event", error })?;
        line.push(b'\n');
        let path = self.path.clone();
        let finished = matches!(event.as_ref(), RunEvent::RunFinished { .. });
        let file = self.open(matches!(event.as_ref(), RunEvent::RunStarted { .. }))?;
        // One write per line: a reader never sees two events interleaved.
        let written = file.write_all(&line).and_then(|()| file.flush());
        let written = if finished { written.and_then(|()| file.sync_all()) } else { written };
        written.map_err(|error| ReportError::Write { path, error })
    }
}

/// The event with credentials written into agent URLs hidden.
fn without_credentials(event: &RunEvent) -> Cow<'_, RunEvent> {
    match event {
        RunEvent::RunStarted {
            run_id,
            started_at,
            total,
            parallel,
            agents,
            partition,
            missing_shards,
        } => Cow::Owned(RunEvent::RunStarted {
            partition: partition.clone(),
            missing_shards: missing_shards.clone(),
            run_id: run_id.clone(),
            started_at: started_at.clone(),
            total: *total,
            parallel: *parallel,
            agents: agents
                .iter()
                .map(|a| AgentPlan { url: redact_userinfo(&a.url), ..a.clone() })
                .collect(),
        }),
        RunEvent::AgentChecked { agent, url, ok, message, elapsed_ms } => {
            Cow::Owned(RunEvent::AgentChecked {
                agent: agent.clone(),
                url: redact_userinfo(url),
                ok: *ok,
                message: redact_userinfo(message),
                elapsed_ms: *elapsed_ms,
            })
        }
        other => Cow::Borrowed(other),
    }
}
