//! Which report files a run writes: `--format json,md,jsonl,junit,html` (default: all).

use std::fmt;
use std::str::FromStr;

/// The report files to write under `--output-dir`. Terminal progress is not a file and is
/// always on (see `--progress`).
///
/// `events.jsonl` is the crash-safe record (every finished result is on disk as it happens);
/// it is on by default, and off only when a `--format` list leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFormats {
    /// `results.json`.
    pub json: bool,
    /// `summary.md`, and the copy appended to `$GITHUB_STEP_SUMMARY`.
    pub markdown: bool,
    /// `events.jsonl`.
    pub jsonl: bool,
    /// `junit.xml`.
    pub junit: bool,
    /// `report.html`.
    pub html: bool,
}

/// The names `--format` accepts, in the order they are listed back.
const NAMES: &str = "json, md, jsonl, junit, html or all";

impl ReportFormats {
    /// Every report file.
    pub const ALL: ReportFormats =
        ReportFormats { json: true, markdown: true, jsonl: true, junit: true, html: true };

    /// No report file at all.
    pub const NONE: ReportFormats =
        ReportFormats { json: false, markdown: false, jsonl: false, junit: false, html: false };

    /// The canonical comma list, `json,md,jsonl,junit,html` for [`ReportFormats::ALL`].
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.json, "json"),
            (self.markdown, "md"),
            (self.jsonl, "jsonl"),
            (self.junit, "junit"),
            (self.html, "html"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

impl Default for ReportFormats {
    fn default() -> Self {
        ReportFormats::ALL
    }
}

impl fmt::Display for ReportFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for ReportFormats {
    type Err = String;

    /// A comma list of `json`, `md` (or `markdown`), `jsonl` (or `events`), `junit`, `html`
    /// and `all`; case and spaces around names do not matter, repeats are fine.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut formats = ReportFormats::NONE;
        for name in text.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "json" => formats.json = true,
                "md" | "markdown" => formats.markdown = true,
                "jsonl" | "events" => formats.jsonl = true,
                "junit" => formats.junit = true,
                "html" => formats.html = true,
                "all" => formats = ReportFormats::ALL,
                "" => return Err(format!("empty report format in `{text}`: expected {NAMES}")),
                _ => return Err(format!("unknown report format `{name}`: expected {NAMES}")),
            }
        }
        Ok(formats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comma_lists() {
        assert_eq!("all".parse(), Ok(ReportFormats::ALL));
        assert_eq!("json,md,jsonl,junit,html".parse(), Ok(ReportFormats::ALL));
        assert_eq!(
            " HTML , junit,html".parse(),
            Ok(ReportFormats { junit: true, html: true, ..ReportFormats::NONE })
        );
        assert_eq!(
            "markdown,events".parse(),
            Ok(ReportFormats { markdown: true, jsonl: true, ..ReportFormats::NONE })
        );
        assert_eq!(ReportFormats::default().to_string(), "json,md,jsonl,junit,html");
        assert_eq!("junit,json".parse::<ReportFormats>().unwrap().to_string(), "json,junit");
    }

    #[test]
    fn rejects_unknown_and_empty_names() {
        assert_eq!(
            "json,pdf".parse::<ReportFormats>(),
            Err("unknown report format `pdf`: expected json, md, jsonl, junit, html or all"
                .to_owned())
        );
        assert!("".parse::<ReportFormats>().unwrap_err().starts_with("empty report format"));
        assert!("json,,md".parse::<ReportFormats>().is_err());
    }
}
