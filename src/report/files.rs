//! Writing report files safely.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ReportError;

/// Creates the directory that will hold `path`.
pub(crate) fn ensure_parent(path: &Path) -> Result<(), ReportError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs_err::create_dir_all(dir)
            .map_err(|error| ReportError::CreateDir { path: dir.to_path_buf(), error }),
        _ => Ok(()),
    }
}

/// Writes `path` all at once: the bytes go to a temporary file next to it, which is synced
/// and then renamed over `path`. A reader (or a crash) sees the old file or the new one,
/// never half of one; on error the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), ReportError> {
    ensure_parent(path)?;
    let tmp = temp_path(path);
    let result = write_then_rename(&tmp, path, write);
    result.map_err(|error| {
        // Best effort: the temporary file may not exist if opening it failed.
        let _ignored = fs_err::remove_file(&tmp);
        ReportError::Write { path: path.to_path_buf(), error }
    })
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = fs_err::OpenOptions::new().write(true).create_new(true).open(tmp)?;
    {
        let mut buffered = io::BufWriter::new(&mut file);
        write(&mut buffered)?;
        buffered.flush()?;
    }
    file.sync_all()?;
    drop(file);
    fs_err::rename(tmp, path)
}

/// `.results.json.<pid>.<n>.tmp` in the same directory, so the rename stays on one file
/// system and two writers never share a temporary file.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomically(&path, |w| w.write_all(b"{\"old\": true}\n")).unwrap();

        let err = write_atomically(&path, |w| {
            w.write_all(b"{\"new\": ")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();

        assert!(err.to_string().starts_with("cannot write "), "{err}");
        assert!(err.to_string().contains("results.json: disk on fire"), "{err}");
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "{\"old\": true}\n");
        assert_eq!(dir_entries(dir.path()), ["results.json"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails after the bytes were written.
        let path = dir.path().join("results.json");
        fs_err::create_dir_all(path.join("occupied")).unwrap();

        let err = write_atomically(&path, |w| w.write_all(b"{}")).unwrap_err();

        assert!(matches!(err, ReportError::Write { .. }), "{err}");
        assert_eq!(dir_entries(dir.path()), ["results.json"]);
        assert!(path.is_dir());
    }
}
