//! Finding scenario files, parsing them in parallel, and checking across files.
//!
//! Per-file problems never stop the others: every file is read, every problem is reported
//! with `file:line:col`, and the scenarios of clean files are kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::dialect;
use super::file_context::FileContext;
use super::node::{self, ParseLimits, Pos};
use super::source_file::{self, DEFAULT_MAX_FILE_BYTES};
use super::{Diagnostic, Layout, Scenario};

/// Limits for untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Files larger than this are refused before parsing.
    pub max_file_bytes: u64,
    pub parse: ParseLimits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { max_file_bytes: DEFAULT_MAX_FILE_BYTES, parse: ParseLimits::default() }
    }
}

/// One file that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedFile {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// Scenarios loaded from it (after errors and duplicates are dropped).
    pub scenarios: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// Everything the loader found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Valid scenarios, in file order, files in path order.
    pub scenarios: Vec<Scenario>,
    /// All problems, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<LoadedFile>,
}

impl LoadReport {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// File extensions read when walking a directory.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Load every scenario file under `paths` (files, or directories walked recursively).
pub fn load_paths(paths: &[PathBuf], options: &LoadOptions) -> LoadReport {
    let mut report = LoadReport::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut visited = Visited::default();
    // What every given path leads to: a symlink into one of them is read there, not warned of.
    let given: Vec<PathBuf> = paths.iter().filter_map(|p| fs_err::canonicalize(p).ok()).collect();
    for path in paths {
        match fs_err::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let before = files.len();
                let walked = walk(path, &given, &mut visited, &mut files, &mut report.diagnostics);
                if walked && files.len() == before {
                    report.diagnostics.push(
                        Diagnostic::error(path, start(), "no scenario files in this directory")
                            .with_hint(
                                "no-scenario-files",
                                "scenario files end in .yaml, .yml or .json",
                            ),
                    );
                }
            }
            Ok(meta) => {
                if visited.first_visit(path, &meta) {
                    files.push(path.clone());
                }
            }
            Err(_) => {
                let missing = Diagnostic::error(path, start(), "no such file or directory")
                    .with_hint(
                        "no-such-path",
                        "check the path; a relative one is read from the current directory",
                    );
                report.diagnostics.push(missing);
            }
        }
    }
    files.sort();
    files.dedup();

    let results: Vec<FileResult> = files.par_iter().map(|path| load_file(path, options)).collect();
    for result in results {
        report.files.push(LoadedFile {
            path: result.path,
            layout: result.layout,
            scenarios: result.scenarios.len(),
            errors: result.diagnostics.iter().filter(|d| d.is_error()).count(),
            warnings: result.diagnostics.iter().filter(|d| !d.is_error()).count(),
        });
        report.diagnostics.extend(result.diagnostics);
        report.scenarios.extend(result.scenarios);
    }
    reject_duplicate_ids(&mut report);
    report
}

fn start() -> Pos {
    Pos { line: 1, col: 1, offset: 0 }
}

/// The deepest directory level read below a scenarios directory.
const MAX_WALK_DEPTH: usize = 32;

/// Directories never read: they hold tooling, not scenarios.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target"];

/// Files and directories already seen, by identity (device and inode on unix, canonical path
/// elsewhere), so no file is loaded twice and no directory is walked twice, however many
/// symlinks lead to it.
#[derive(Debug, Default)]
struct Visited(std::collections::HashSet<FileKey>);

#[cfg(unix)]
type FileKey = (u64, u64);
#[cfg(not(unix))]
type FileKey = PathBuf;

impl Visited {
    /// Whether `path` (with its metadata, symlinks followed) is seen for the first time.
    /// A path whose identity cannot be known counts as new.
    fn first_visit(&mut self, path: &Path, meta: &std::fs::Metadata) -> bool {
        match file_key(path, meta) {
            Some(key) => self.0.insert(key),
            None => true,
        }
    }
}

#[cfg(unix)]
#[expect(clippy::unnecessary_wraps, reason = "one signature with the fallible non-unix version")]
fn file_key(_path: &Path, meta: &std::fs::Metadata) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_key(path: &Path, _meta: &std::fs::Metadata) -> Option<FileKey> {
    fs_err::canonicalize(path).ok()
}

/// Walk `root` recursively, following symlinks, and push the scenario files found (by
/// extension: whether each is a regular file is checked when it is read). A symlink loop is
/// a warning, reported once where it closes; a symlink leading outside `root` is a warning
/// and not followed (silently, when it leads into another of the `given` paths, which is read
/// as itself); a directory or file reached again by another path is skipped. Returns false
/// when `root` itself was already walked.
fn walk(
    root: &Path,
    given: &[PathBuf],
    visited: &mut Visited,
    files: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    // Symlinks may point anywhere; only what they lead to inside `root` is read, so a file
    // cannot pull `~/.aws/credentials` or `/proc/self/environ` into a diagnostic's snippet.
    let inside = fs_err::canonicalize(root).ok();
    let mut entries = walkdir::WalkDir::new(root)
        .follow_links(true)
        .max_depth(MAX_WALK_DEPTH + 1)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.extend(walk_error(root, &e));
                continue;
            }
        };
        let path = entry.path();
        let is_dir = entry.file_type().is_dir();
        if entry.depth() > 0
            && entry.path_is_symlink()
            && (is_dir || is_scenario_file(path))
            && let Some(inside) = &inside
            && let Ok(target) = fs_err::canonicalize(path)
            && !target.starts_with(inside)
        {
            if !given.iter().any(|root| target.starts_with(root)) {
                diagnostics.push(
                Diagnostic::warning(
                    path,
                    start(),
                    "the symlink leads outside the scenarios directory and is not followed",
                )
                    .with_hint(
                        "symlink-outside",
                        "pass its target as a path of its own if it is meant to be read, or remove the symlink",
                    )
                    .without_source(),
                );
            }
            if is_dir {
                entries.skip_current_dir();
            }
            continue;
        }
        if is_dir && entry.depth() > 0 {
            let name = entry.file_name().to_str().unwrap_or_default();
            if SKIPPED_DIRS.contains(&name) {
                entries.skip_current_dir();
                continue;
            }
            if entry.depth() > MAX_WALK_DEPTH {
                diagnostics.push(
                    Diagnostic::warning(
                        path,
                        start(),
                        format!(
                            "the directory is nested deeper than {MAX_WALK_DEPTH} levels and is not read"
                        ),
                    )
                    .with_hint("too-deep", "move its scenario files closer to the scenarios directory"),
                );
                continue;
            }
        }
        let first = match entry.metadata() {
            Ok(meta) => visited.first_visit(path, &meta),
            Err(_) => true,
        };
        if is_dir {
            if !first {
                if entry.depth() == 0 {
                    return false;
                }
                entries.skip_current_dir();
            }
        } else if first && is_scenario_file(path) {
            files.push(entry.into_path());
        }
    }
    true
}

/// Whether a directory walk reads this file: its extension is .yaml, .yml or .json (any case).
pub fn is_scenario_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// A problem met while walking: a symlink loop (a warning), or a directory or scenario file
/// that cannot be read (a broken symlink named `notes.txt` is not a problem).
fn walk_error(root: &Path, e: &walkdir::Error) -> Option<Diagnostic> {
    let path = e.path().unwrap_or(root);
    if let Some(ancestor) = e.loop_ancestor() {
        return Some(Diagnostic::warning(
            path,
            start(),
            format!(
                "symlink loop: this leads back to `{}`, which is already being read; not followed",
                ancestor.display()
            ),
        )
        .with_hint("symlink-loop", "remove the symlink, or point it outside the scenarios directory"));
    }
    let reason = e.io_error().map_or_else(|| e.to_string(), ToString::to_string);
    if e.depth() == 0 || fs_err::metadata(path).is_ok_and(|m| m.is_dir()) {
        Some(Diagnostic::error(path, start(), format!("cannot list the directory: {reason}")))
    } else if is_scenario_file(path) {
        Some(Diagnostic::error(path, start(), format!("cannot read the file: {reason}")).with_hint(
            "unreadable-file",
            "check that the file exists and is readable (a symlink may be broken)",
        ))
    } else {
        None
    }
}

/// What one file gave.
#[derive(Debug)]
pub struct FileResult {
    pub path: PathBuf,
    pub layout: Option<Layout>,
    pub scenarios: Vec<Scenario>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Load one file. Never panics, never aborts the others.
pub fn load_file(path: &Path, options: &LoadOptions) -> FileResult {
    let mut result = FileResult {
        path: path.to_path_buf(),
        layout: None,
        scenarios: Vec::new(),
        diagnostics: Vec::new(),
    };
    let text = match source_file::read_source(path, path, options.max_file_bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            result.diagnostics.push(diagnostic);
            return result;
        }
    };
    let is_json =
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let (layout, scenarios, diagnostics) = load_text(path, &text, is_json, options);
    result.layout = layout;
    result.scenarios = scenarios;
    result.diagnostics = diagnostics;
    result
}

/// Load scenarios from text already in memory (`display` names it in diagnostics).
pub fn load_text(
    display: &Path,
    text: &str,
    is_json: bool,
    options: &LoadOptions,
) -> (Option<Layout>, Vec<Scenario>, Vec<Diagnostic>) {
    let mut ctx = FileContext::new(display);
    if is_json && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let (line, col) = (e.line().max(1), e.column().max(1));
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        let offset = line_col_offset(text, line as u32, col as u32);
        let before = text[..offset.min(text.len())].trim_end();
        let at = text[offset.min(text.len())..].chars().next();
        let trailing_comma = before.ends_with(',') && matches!(at, Some(']' | '}'));
        let (message, line, col, offset) = if trailing_comma {
            // Point at the comma itself, not at the bracket after it.
            let comma = before.len() - 1;
            let prefix = &text[..comma];
            let line = prefix.matches('\n').count() + 1;
            let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            ("trailing comma".to_owned(), line, col, comma)
        } else {
            (message, line, col, offset)
        };
        let recorded = ctx.error(
            Pos { line: line as u32, col: col as u32, offset },
            format!("invalid JSON: {message}"),
        );
        if message.contains("trailing comma") {
            recorded
                .hint("json-trailing-comma", "JSON allows no comma before `]` or `}`: remove it");
        } else if message.contains("EOF") {
            recorded.hint("json-ends-early", "the file ends early: close every `{` and `[`");
        } else {
            recorded.hint("json-syntax", "fix the JSON syntax at this position");
        }
        return (None, Vec::new(), ctx.diagnostics);
    }
    let root = match node::parse_document(text, options.parse) {
        Ok(root) => root,
        Err(e) => {
            let tab =
                (!is_json).then(|| tab_in_indentation(text, e.pos.line as usize + 1)).flatten();
            match tab {
                Some(pos) => ctx.error(pos, "a tab character is used for indentation").hint(
                    "tab-indent",
                    "YAML indents with spaces only: replace the tab with spaces",
                ),
                None => {
                    // A `.json` file passed the JSON check above: what the YAML parser refuses
                    // in it is a JSON file's problem, named as such.
                    let message = match e.message.strip_prefix("invalid YAML: ") {
                        Some(rest) if is_json => format!("invalid JSON: {rest}"),
                        _ if is_json && e.message.starts_with("nesting") => {
                            format!("JSON {}", e.message)
                        }
                        _ => e.message,
                    };
                    let recorded = ctx.error(e.pos, message);
                    if let Some(hint) = e.hint {
                        recorded.set_hint(hint);
                    }
                }
            }
            return (None, Vec::new(), ctx.diagnostics);
        }
    };
    let (layout, scenarios) = dialect::normalize_root(&mut ctx, &root);
    (layout, scenarios, ctx.diagnostics)
}

/// The byte offset of a 1-based line and column (in characters) in `text`.
pub fn line_col_offset(text: &str, line: u32, col: u32) -> usize {
    let skip = line.saturating_sub(1) as usize;
    let line_start: usize = text.split_inclusive('\n').take(skip).map(str::len).sum();
    let rest = &text[line_start.min(text.len())..];
    let line_text = rest.split('\n').next().unwrap_or_default();
    let in_line = line_text.char_indices().nth(col.saturating_sub(1) as usize);
    line_start.min(text.len()) + in_line.map_or(line_text.len(), |(i, _)| i)
}

/// The first tab in the leading whitespace of a line, up to `max_line`.
fn tab_in_indentation(text: &str, max_line: usize) -> Option<Pos> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i >= max_line {
            break;
        }
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(col) = line[..indent].find('\t') {
            return Some(Pos { line: i as u32 + 1, col: col as u32 + 1, offset: offset + col });
        }
        offset += line.len();
    }
    None
}

fn reject_duplicate_ids(report: &mut LoadReport) {
    let mut first: HashMap<String, (PathBuf, u32, u32)> =
        HashMap::with_capacity(report.scenarios.len());
    let mut keep = Vec::with_capacity(report.scenarios.len());
    let mut dropped: HashMap<PathBuf, usize> = HashMap::new();
    for scenario in std::mem::take(&mut report.scenarios) {
        let here = (scenario.source.file.clone(), scenario.source.line, scenario.source.col);
        if let Some((file, line, col)) = first.get(&scenario.id) {
            report.diagnostics.push(
                Diagnostic::error(
                    &scenario.source.file,
                    Pos { line: scenario.source.line, col: scenario.source.col, offset: 0 },
                    format!("duplicate scenario id `{}`", scenario.id),
                )
                .with_hint("duplicate-id", format!(
                    "it is first defined at {}:{line}:{col}; ids must be unique across all files",
                    file.display()
                )),
            );
            *dropped.entry(scenario.source.file.clone()).or_default() += 1;
        } else {
            first.insert(scenario.id.clone(), here);
            keep.push(scenario);
        }
    }
    for file in &mut report.files {
        if let Some(n) = dropped.get(&file.path) {
            file.scenarios -= n;
            file.errors += n;
        }
    }
    report.scenarios = keep;
}
