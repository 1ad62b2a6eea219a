//! `rogue-runner config [--format table|json] [RUN OPTIONS…]`: every setting of a run as it
//! would be resolved, and where each came from. Values are the ones a run would use; secrets
//! are never among them (credentials are read from environment variables a setting only
//! names), and URLs are shown redacted.

use std::io::Write;

use serde::Serialize;

use super::args::{Cli, Command, ConfigArgs, OutputFormat};
use super::config_file::{RunKeys, key_of};
use super::{CliError, ParseError, config, output};
use crate::model::ExitCode;
use crate::session::Source;

#[derive(Debug, Serialize)]
struct Row {
    /// The key in `[run]` (`parallel`).
    key: String,
    /// The flag (`--parallel`).
    flag: String,
    /// The value as a run would take it; `None` when unset.
    value: Option<String>,
    /// `flag`, `env`, `file`, `default` or `unset`.
    source: &'static str,
    /// The variable or the file's key (`profile.ci.parallel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
}

#[derive(Debug, Serialize)]
struct Document {
    config_file: Option<String>,
    profile: Option<String>,
    settings: Vec<Row>,
}

pub(super) fn show(args: &ConfigArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    show_with(args, &config::process_env, out)
}

/// [`show`] with the environment the config file's path is read from.
pub(super) fn show_with(
    args: &ConfigArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let mut argv: Vec<std::ffi::OsString> = vec!["rogue-runner".into(), "run".into()];
    argv.extend(args.run.iter().cloned());
    let parsed = match super::parse_layered(argv.clone(), env, false) {
        // What a run would have, even if it would still miss a required option.
        Err(ParseError::Clap(e)) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
            super::parse_layered(argv, env, true)
        }
        other => other,
    };
    let (cli, matches, layer) = match parsed {
        Ok(parsed) => parsed,
        Err(ParseError::Config(e)) => return Err(e),
        Err(ParseError::Clap(e)) => {
            return Err(CliError::usage(
                e.render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: "),
                "give the options as `rogue-runner run` takes them, after config's own --format",
            ));
        }
    };
    let (Cli { command: Some(Command::Run(run)), .. }, Some(("run", m))) =
        (cli, matches.subcommand())
    else {
        return Err(CliError::usage(
            "config: no run options parsed",
            "see `rogue-runner config --help`",
        ));
    };
    // What the run's own resolution says (the [judge] and [cost] tables, OPENAI_BASE_URL,
    // the built-in defaults that are not clap's), where it says more than clap does.
    let resolved = config::run_config(&run);
    let overlay = resolved.as_ref().map(|c| c.settings.clone()).unwrap_or_default();
    let mut rows = Vec::new();
    let keys = RunKeys::of_run_command();
    let command = <Cli as clap::CommandFactory>::command();
    let run_command = command.find_subcommand("run");
    let profile = run_command.and_then(|c| c.get_arguments().find(|a| a.get_id() == "profile"));
    for (key, arg) in keys.args().chain(profile.map(|a| ("profile", a))) {
        let id = arg.get_id().as_str();
        let flag = format!("--{}", arg.get_long().unwrap_or(key));
        let env = arg.get_env().map(|v| v.to_string_lossy().into_owned());
        let values = super::config_file::raw_values(m, id);
        let clap_source = run.sources.source_of(id, env.as_deref());
        let (value, source) = match overlay.iter().find(|s| s.flag == flag) {
            Some(s) if Some(&s.source) != clap_source.as_ref() => {
                (Some(unquote(&s.value)), Some(s.source.clone()))
            }
            _ if values.is_empty() => (None, None),
            _ => (Some(values.join(", ")), clap_source),
        };
        let (source, from) = match source {
            None => ("unset", None),
            Some(Source::Flag) => ("flag", None),
            Some(Source::Env(v)) => ("env", Some(v)),
            Some(Source::File(k)) => ("file", Some(k)),
            Some(Source::Default) => ("default", None),
        };
        rows.push(Row { key: key_of(key), flag, value: value.map(|v| shown(&v)), source, from });
    }
    let document = Document {
        config_file: layer.file.as_ref().map(|f| f.path.display().to_string()),
        profile: layer.profile.clone(),
        settings: rows,
    };
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)?;
        }
        OutputFormat::Table => write_table(&document, out)?,
    }
    // The table first, then why a run would not start with it.
    resolved?;
    Ok(ExitCode::Success)
}

fn write_table(document: &Document, out: &mut dyn Write) -> Result<(), CliError> {
    let file = document
        .config_file
        .as_deref()
        .unwrap_or("none (./rogue-runner.toml or $ROGUE_RUNNER_CONFIG)");
    writeln!(out, "config file: {}", output::sanitize(file))?;
    let profile = document.profile.as_deref().unwrap_or("default ([run] alone)");
    writeln!(out, "profile: {}", output::sanitize(profile))?;
    writeln!(out)?;
    let width = document.settings.iter().map(|r| r.flag.len()).max().unwrap_or(0);
    let value_width = document
        .settings
        .iter()
        .map(|r| r.value.as_deref().map_or(1, |v| v.chars().count()))
        .max()
        .unwrap_or(0)
        .min(40);
    writeln!(out, "{:width$}  {:value_width$}  SOURCE", "SETTING", "VALUE")?;
    for row in &document.settings {
        let value = row.value.as_deref().map_or("-".to_owned(), output::sanitize);
        let source = match &row.from {
            Some(from) if row.source == "file" => format!("file {}", output::sanitize(from)),
            Some(from) => format!("{} {}", row.source, output::sanitize(from)),
            None => row.source.to_owned(),
        };
        writeln!(out, "{:width$}  {value:value_width$}  {source}", row.flag)?;
    }
    Ok(())
}

/// `"text"` (a setting's debug form) → `text`.
fn unquote(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map_or_else(|| value.to_owned(), str::to_owned)
}

/// A value as shown: URLs (alone, or in `NAME=URL`) redacted.
fn shown(value: &str) -> String {
    value
        .split(", ")
        .map(|part| match part.split_once('=') {
            Some((name, url)) if url.contains("://") && !name.contains("://") => {
                format!("{name}={}", crate::redact::redact_url(url))
            }
            _ if part.contains("://") => crate::redact::redact_url(part),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
