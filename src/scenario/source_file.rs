//! Reading a scenario file's bytes into text: regular files only, size cap first (from the
//! file's metadata, before a byte is read), BOM stripped, UTF-8 checked.
//!
//! Scenario directories are untrusted: a FIFO named `x.yaml` would block `open` forever, a
//! symlink to `/dev/zero` would never end, a sparse 1 GiB file would be read whole. Each is a
//! diagnostic instead, and every read is bounded.

use std::io::Read;
use std::path::Path;

use super::Diagnostic;
use super::node::Pos;

/// Files larger than this are refused before parsing (`--max-file-bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The largest file read again to show a diagnostic with its source snippet; a larger file's
/// diagnostics are shown as one line each.
pub const MAX_SNIPPET_FILE_BYTES: u64 = DEFAULT_MAX_FILE_BYTES;

/// Read `path` as UTF-8 text, refusing anything but a regular file (after following
/// symlinks) and files over `max_bytes`.
pub fn read_source(path: &Path, display: &Path, max_bytes: u64) -> Result<String, Diagnostic> {
    let start = Pos { line: 1, col: 1, offset: 0 };
    let cannot_read = |e: std::io::Error| {
        Diagnostic::error(display, start, format!("cannot read the file: {e}"))
            .with_hint("cannot-read-file", "check that the file exists and is readable")
    };
    let too_large = || {
        Diagnostic::error(
            display,
            start,
            format!(
                "the file is larger than the {} limit",
                crate::text::bytes(max_bytes, crate::text::ByteStyle::Limit)
            ),
        )
        .with_hint(
            "file-too-large",
            "split it into smaller files, or raise the limit with --max-file-bytes",
        )
    };
    // Checked before `open`: opening a FIFO blocks until someone writes to it.
    let meta = fs_err::metadata(path).map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(not_a_regular_file(display, &meta));
    }
    if meta.len() > max_bytes {
        return Err(too_large());
    }
    let file = fs_err::File::open(path).map_err(cannot_read)?;
    // The path may have been swapped between the check and the open: check what was opened.
    let opened = file.metadata().map_err(cannot_read)?;
    if !opened.is_file() {
        return Err(not_a_regular_file(display, &opened));
    }
    let mut bytes = Vec::with_capacity(opened.len().min(max_bytes) as usize);
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(cannot_read)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let valid = &body[..e.valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = String::from_utf8_lossy(valid);
            let line = prefix.matches('\n').count() + 1;
            let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let byte = body.get(e.valid_up_to()).copied().unwrap_or_default();
            Err(Diagnostic::error(
                display,
                Pos { line: line as u32, col: col as u32, offset: prefix.len() },
                format!("the file is not valid UTF-8: byte 0x{byte:02X} cannot start a character"),
            )
            .with_hint("not-utf8", "save the file as UTF-8"))
        }
    }
}

/// The text of `path` to show diagnostics with a snippet: `None` (one-line diagnostics) when it
/// is not a regular file, larger than [`MAX_SNIPPET_FILE_BYTES`], or not UTF-8.
pub fn read_for_snippet(path: &Path) -> Option<String> {
    read_source(path, path, MAX_SNIPPET_FILE_BYTES).ok()
}

fn not_a_regular_file(display: &Path, meta: &std::fs::Metadata) -> Diagnostic {
    let ty = meta.file_type();
    let kind = if ty.is_dir() {
        "a directory"
    } else if is_fifo(ty) {
        "a FIFO"
    } else if is_device(ty) {
        "a device"
    } else {
        "a special file"
    };
    let message = format!("not a regular file ({kind}): only regular files are read");
    Diagnostic::error(display, Pos { line: 1, col: 1, offset: 0 }, message).with_hint(
        "not-a-regular-file",
        "remove it from the scenarios directory, or point the symlink at a scenario file",
    )
}

#[cfg(unix)]
fn is_fifo(ty: std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&ty)
}

#[cfg(unix)]
fn is_device(ty: std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    ty.is_char_device() || ty.is_block_device()
}

#[cfg(not(unix))]
fn is_fifo(_: std::fs::FileType) -> bool {
    false
}

#[cfg(not(unix))]
fn is_device(_: std::fs::FileType) -> bool {
    false
}
