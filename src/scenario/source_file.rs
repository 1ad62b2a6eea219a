//! Reading a scenario file's bytes into text: size cap first, BOM stripped, UTF-8 checked.

use std::io::Read;
use std::path::Path;

use super::Diagnostic;
use super::node::Pos;

/// Files larger than this are refused before parsing (`--max-file-bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read `path` as UTF-8 text, refusing files over `max_bytes`.
pub fn read_source(path: &Path, display: &Path, max_bytes: u64) -> Result<String, Diagnostic> {
    let start = Pos { line: 1, col: 1, offset: 0 };
    let cannot_read = |e: std::io::Error| {
        Diagnostic::error(display, start, format!("cannot read the file: {e}"))
            .with_hint("check that the file exists and is readable")
    };
    let file = fs_err::File::open(path).map_err(cannot_read)?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(cannot_read)?;
    if bytes.len() as u64 > max_bytes {
        return Err(Diagnostic::error(
            display,
            start,
            format!("the file is larger than the {} limit", human_bytes(max_bytes)),
        )
        .with_hint("split it into smaller files, or raise the limit with --max-file-bytes"));
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
            .with_hint("save the file as UTF-8"))
        }
    }
}

/// `16 MiB`, `512 KiB`, `300 B`.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}
