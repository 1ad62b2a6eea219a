//! What can go wrong while writing reports. A report error never stops the run: the
//! [`ReportSet`](super::ReportSet) records it and the other reporters carry on.

use std::io;
use std::path::PathBuf;

/// A reporter could not do its job. Messages say what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output directory could not be created.
    #[error(
        "cannot create report directory {}: {}; choose another --output-dir",
        .path.display(),
        describe_io(.error)
    )]
    CreateDir { path: PathBuf, error: io::Error },

    /// A report file could not be written.
    #[error("cannot write {}: {}; choose another --output-dir", .path.display(), describe_io(.error))]
    Write { path: PathBuf, error: io::Error },

    /// `$GITHUB_STEP_SUMMARY` could not be appended to.
    #[error(
        "cannot append the summary to $GITHUB_STEP_SUMMARY ({}): {}; unset GITHUB_STEP_SUMMARY to skip it",
        .path.display(),
        describe_io(.error)
    )]
    StepSummary { path: PathBuf, error: io::Error },

    /// Terminal progress could not be written (closed pipe, full disk behind a redirect).
    #[error("cannot write progress output: {}; progress is off for the rest of the run", describe_io(.error))]
    Progress { error: io::Error },

    /// Some of the run could not be recorded in the store (history, cache). The run and the
    /// other reports are unaffected.
    #[error(
        "{failed} write(s) to the result store failed, the first: {message}; this run's \
         history and cache entries are incomplete, its reports are not"
    )]
    Store { failed: usize, message: String },

    /// A report could not be serialized. This is a bug in rogue-runner.
    #[error("cannot serialize {what}: {error}; this is a bug in rogue-runner, please report it")]
    Serialize { what: &'static str, error: serde_json::Error },

    /// A report could not be rendered (a template or XML writer error). This is a bug in
    /// rogue-runner.
    #[error("cannot render {what}: {message}; this is a bug in rogue-runner, please report it")]
    Render { what: &'static str, message: String },
}

/// An I/O error in lower case words, without the `(os error N)` noise.
pub(crate) fn describe_io(error: &io::Error) -> String {
    use io::ErrorKind as K;
    let words = match error.kind() {
        K::PermissionDenied => "permission denied",
        K::NotFound => "no such file or directory",
        K::AlreadyExists => "it already exists",
        K::NotADirectory => "a parent path is not a directory",
        K::IsADirectory => "it is a directory",
        K::DirectoryNotEmpty => "it is a non-empty directory",
        K::ReadOnlyFilesystem => "read-only file system",
        K::StorageFull => "no space left on device",
        K::QuotaExceeded => "disk quota exceeded",
        K::BrokenPipe => "the reader closed the pipe",
        K::Interrupted => "interrupted",
        _ => {
            // The innermost message: fs-err wraps the OS error with the path, which the
            // caller prints already.
            let mut inner: &dyn std::error::Error = error;
            while let Some(next) = inner.source() {
                inner = next;
            }
            let text = inner.to_string();
            let text = match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            return lower_first(&text);
        }
    };
    words.to_owned()
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let err = ReportError::Write {
            path: PathBuf::from("reports/rogue/results.json"),
            error: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(
            err.to_string(),
            "cannot write reports/rogue/results.json: permission denied; choose another --output-dir"
        );
        let other = ReportError::Progress { error: io::Error::other("Weird Thing (os error 99)") };
        assert_eq!(
            other.to_string(),
            "cannot write progress output: weird Thing; progress is off for the rest of the run"
        );
    }
}
