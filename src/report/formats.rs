//! Which report files a run writes: `--format json,md,jsonl,junit,html` (default: all).
//!
//! Every report file is one row of [`FORMATS`]: its `--format` name, its file name under
//! `--output-dir` and the reporter that writes it. To add a report: write its reporter in a
//! file of its own under `src/report/`, add a [`ReportFormat`] variant and a row here.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::{
    EventsJsonl, HtmlReport, JunitXml, ReportPaths, Reporter, ResultsJson, SummaryMarkdown,
};

/// One report file. Declared in the order `--format` lists them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportFormat {
    /// `results.json`.
    Json,
    /// `summary.md`, and the copy appended to `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// `events.jsonl`: the crash-safe record (every finished result is on disk as it
    /// happens).
    Jsonl,
    /// `junit.xml`.
    Junit,
    /// `report.html`.
    Html,
}

/// One row of the registry.
pub(crate) struct FormatSpec {
    pub(crate) format: ReportFormat,
    /// The name `--format` takes and lists back.
    pub(crate) name: &'static str,
    /// Other names `--format` accepts.
    pub(crate) aliases: &'static [&'static str],
    /// The file written under `--output-dir`.
    pub(crate) file_name: &'static str,
    /// Where the file comes in the list of files shown after a run, most useful to a person
    /// first.
    pub(crate) shown: u8,
    /// The reporter writing the file.
    pub(crate) reporter: fn(&ReportPaths) -> Box<dyn Reporter>,
}

/// Every report file, in the order reporters receive events (`events.jsonl` first: it is
/// the crash-safe record).
pub(crate) const FORMATS: &[FormatSpec] = &[
    FormatSpec {
        format: ReportFormat::Jsonl,
        name: "jsonl",
        aliases: &["events"],
        file_name: "events.jsonl",
        shown: 4,
        reporter: |paths| Box::new(EventsJsonl::new(paths.path(ReportFormat::Jsonl))),
    },
    FormatSpec {
        format: ReportFormat::Json,
        name: "json",
        aliases: &[],
        file_name: "results.json",
        shown: 3,
        reporter: |paths| Box::new(ResultsJson::new(paths.path(ReportFormat::Json))),
    },
    FormatSpec {
        format: ReportFormat::Markdown,
        name: "md",
        aliases: &["markdown"],
        file_name: "summary.md",
        shown: 1,
        reporter: |paths| {
            Box::new(
                SummaryMarkdown::new(paths.path(ReportFormat::Markdown))
                    .append_to(paths.github_step_summary.clone()),
            )
        },
    },
    FormatSpec {
        format: ReportFormat::Junit,
        name: "junit",
        aliases: &[],
        file_name: "junit.xml",
        shown: 2,
        reporter: |paths| Box::new(JunitXml::new(paths.path(ReportFormat::Junit))),
    },
    FormatSpec {
        format: ReportFormat::Html,
        name: "html",
        aliases: &[],
        file_name: "report.html",
        shown: 0,
        reporter: |paths| Box::new(HtmlReport::new(paths.path(ReportFormat::Html))),
    },
];

impl ReportFormat {
    /// Every format, in declaration order.
    pub const ALL: [ReportFormat; 5] = [
        ReportFormat::Json,
        ReportFormat::Markdown,
        ReportFormat::Jsonl,
        ReportFormat::Junit,
        ReportFormat::Html,
    ];

    pub(crate) fn spec(self) -> &'static FormatSpec {
        // Every format has a row: `every_format_has_one_row` checks it.
        FORMATS.iter().find(|s| s.format == self).unwrap_or(&FORMATS[0])
    }

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The file written under `--output-dir`.
    pub fn file_name(self) -> &'static str {
        self.spec().file_name
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The report files to write under `--output-dir`: a set of [`ReportFormat`]s. Terminal
/// progress is not a file and is always on (see `--progress`).
///
/// `events.jsonl` is on by default, and off only when a `--format` list leaves it out.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportFormats(u8);

impl ReportFormats {
    /// Every report file.
    pub const ALL: ReportFormats = {
        let mut bits = 0;
        let mut i = 0;
        while i < ReportFormat::ALL.len() {
            bits |= ReportFormat::ALL[i].bit();
            i += 1;
        }
        ReportFormats(bits)
    };

    /// No report file at all.
    pub const NONE: ReportFormats = ReportFormats(0);

    pub fn contains(self, format: ReportFormat) -> bool {
        self.0 & format.bit() != 0
    }

    pub fn insert(&mut self, format: ReportFormat) {
        self.0 |= format.bit();
    }

    /// With `format` too.
    #[must_use]
    pub fn with(mut self, format: ReportFormat) -> Self {
        self.insert(format);
        self
    }

    /// The formats in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = ReportFormat> {
        ReportFormat::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The canonical comma list, `json,md,jsonl,junit,html` for [`ReportFormats::ALL`].
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(ReportFormat::name).collect()
    }

    /// The rows of the formats in the set, in [`FORMATS`] order.
    pub(crate) fn specs(self) -> impl Iterator<Item = &'static FormatSpec> {
        FORMATS.iter().filter(move |s| self.contains(s.format))
    }
}

impl Default for ReportFormats {
    fn default() -> Self {
        ReportFormats::ALL
    }
}

impl FromIterator<ReportFormat> for ReportFormats {
    fn from_iter<I: IntoIterator<Item = ReportFormat>>(formats: I) -> Self {
        formats.into_iter().fold(ReportFormats::NONE, ReportFormats::with)
    }
}

impl fmt::Debug for ReportFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for ReportFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// The names `--format` accepts, as listed in its errors: `json, md, jsonl, junit, html or
/// all`.
fn accepted_names() -> String {
    let names: Vec<&str> = ReportFormat::ALL.iter().map(|f| f.name()).collect();
    format!("{} or all", names.join(", "))
}

impl FromStr for ReportFormats {
    type Err = String;

    /// A comma list of format names or their aliases (`md` or `markdown`, `jsonl` or
    /// `events`, …) and `all`; case and spaces around names do not matter, repeats are fine.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut formats = ReportFormats::NONE;
        for name in text.split(',').map(str::trim) {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty() {
                return Err(format!(
                    "empty report format in `{text}`: expected {}",
                    accepted_names()
                ));
            }
            if lower == "all" {
                formats = ReportFormats::ALL;
                continue;
            }
            let spec =
                FORMATS.iter().find(|s| s.name == lower || s.aliases.contains(&lower.as_str()));
            match spec {
                Some(spec) => formats.insert(spec.format),
                None => {
                    return Err(format!(
                        "unknown report format `{name}`: expected {}",
                        accepted_names()
                    ));
                }
            }
        }
        Ok(formats)
    }
}

/// The files of `formats` in `dir`, most useful to a person first.
pub(crate) fn files_in(dir: &Path, formats: ReportFormats) -> Vec<std::path::PathBuf> {
    let mut specs: Vec<&FormatSpec> = formats.specs().collect();
    specs.sort_by_key(|s| s.shown);
    specs.into_iter().map(|s| dir.join(s.file_name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(formats: &[ReportFormat]) -> ReportFormats {
        formats.iter().copied().collect()
    }

    #[test]
    fn parses_comma_lists() {
        assert_eq!("all".parse(), Ok(ReportFormats::ALL));
        assert_eq!("json,md,jsonl,junit,html".parse(), Ok(ReportFormats::ALL));
        assert_eq!(
            " HTML , junit,html".parse(),
            Ok(set(&[ReportFormat::Junit, ReportFormat::Html]))
        );
        assert_eq!(
            "markdown,events".parse(),
            Ok(set(&[ReportFormat::Markdown, ReportFormat::Jsonl]))
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

    #[test]
    fn every_format_has_one_row_with_its_own_names_and_file() {
        for format in ReportFormat::ALL {
            assert_eq!(FORMATS.iter().filter(|s| s.format == format).count(), 1, "{format:?}");
        }
        assert_eq!(FORMATS.len(), ReportFormat::ALL.len());
        let mut names: Vec<&str> = FORMATS
            .iter()
            .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FORMATS.iter().map(|s| 1 + s.aliases.len()).sum::<usize>());
        let mut shown: Vec<u8> = FORMATS.iter().map(|s| s.shown).collect();
        shown.sort_unstable();
        assert_eq!(shown, (0..FORMATS.len() as u8).collect::<Vec<_>>());
    }
}
