//! `rogue-runner.toml` as a layer under the command line: every key checked (an unknown one
//! is an error at its line and column, with the nearest known key), and the `[run]` table, the
//! chosen `[profile.NAME]` and the `[agents.NAME]` tables turned into the `run` arguments the
//! command line did not set.
//!
//! The keys of `[run]` are not a list kept by hand: they are the long flags of the `run`
//! subcommand as clap knows them (`--scenarios-dir` → `scenarios_dir`), and a value is handed
//! to clap as that flag would be, so every flag of `run` — one added tomorrow too — is a key
//! with clap's own parsing and validation. A value clap refuses is reported at its place in the
//! file.
//!
//! Precedence: flag > environment variable > `[profile.NAME]` > `[run]` (and `[agents]`) >
//! default.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::ArgAction;
use clap::parser::ValueSource;
use toml::de::{DeTable, DeValue};

use super::CliError;
use super::args::Cli;
use crate::session::Source;

/// The profile that is `[run]` alone; it needs no table.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Long flags of `run` that are not keys of `[run]`: `--profile` chooses among the tables
/// themselves (a profile cannot choose a profile); help and version are not settings.
pub(crate) const NOT_RUN_KEYS: &[&str] = &["profile", "help", "version"];

/// The top-level tables of the file.
const TOP_KEYS: &[&str] = &["run", "profile", "agents", "judge", "cost", "store"];

/// The keys of `[store]` (the shared PostgreSQL store; `--store` in `[run]` is the same).
const STORE_KEYS: &[&str] = &["url"];

/// The keys of `[judge]` (kept equal to `FileJudge`'s fields by a test).
pub(crate) const JUDGE_KEYS: &[&str] = &[
    "base_url",
    "api_key_env",
    "azure_api_version",
    "headers",
    "model",
    "models",
    "driver_model",
    "requests_per_minute",
    "timeout",
    "retries",
    "structured_output",
    "enabled",
];
const MODEL_KEYS: &[&str] = &["p0", "p1", "p2"];
/// The keys of `[cost]` (kept equal to `FileCost`'s fields by a test).
pub(crate) const COST_KEYS: &[&str] = &["pricing", "runs_per_day", "max_cost"];
/// The keys of an `[agents.NAME]` table, each standing for a `run` flag.
pub(crate) const AGENT_KEYS: &[&str] = &["url", "auth", "protocol", "version"];

/// A problem in the config file, shown with the file's text around it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct ConfigFileError {
    message: String,
    #[source_code]
    src: miette::NamedSource<String>,
    #[label("{label}")]
    span: miette::SourceSpan,
    label: String,
    #[help]
    help: Option<String>,
}

/// One value of the file, as clap would read it from the command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FileValue {
    Bool(bool),
    /// A string, a number or a date, as text.
    Text(String),
    List(Vec<String>),
}

/// A value with its dotted key (`profile.ci.parallel`) and where it is in the file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub value: FileValue,
    pub span: Range<usize>,
}

/// `[agents.NAME]`: its keys (`url`, `auth`, `protocol`, `version`).
pub(crate) type AgentTable = BTreeMap<String, Entry>;

/// `[profile.NAME]`: `run` keys, and `agents` tables that override `[agents]` key by key.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileTable {
    pub run: BTreeMap<String, Entry>,
    pub agents: BTreeMap<String, AgentTable>,
}

/// The file, every key checked.
#[derive(Debug, Clone)]
pub(crate) struct ConfigFile {
    pub path: PathBuf,
    text: String,
    pub run: BTreeMap<String, Entry>,
    pub profiles: BTreeMap<String, ProfileTable>,
    pub agents: BTreeMap<String, AgentTable>,
}

/// What the file adds to one command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileLayer {
    /// Arguments appended to the command line (`--parallel=3`).
    pub extra: Vec<OsString>,
    /// The source of each argument id the file set.
    pub sources: HashMap<String, Source>,
    /// Where the file's values sit, by long flag, to place clap's complaints about them.
    pub places: HashMap<String, (String, Range<usize>)>,
    /// The file read, if any.
    pub file: Option<ConfigFile>,
    /// The profile applied (`None`: `[run]` alone).
    pub profile: Option<String>,
}

impl ConfigFile {
    /// The file's text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// An error at `span` of this file.
    pub(crate) fn error(
        &self,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> CliError {
        CliError::Config(Box::new(ConfigFileError {
            message: message.into(),
            src: miette::NamedSource::new(self.path.display().to_string(), self.text.clone()),
            span: span.into(),
            label: label.into(),
            help,
        }))
    }

    /// `path:line:col` of byte `offset`.
    fn place_of(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{col}", self.path.display())
    }

    /// The names of the profiles, `default` (built in) first.
    pub(crate) fn profile_names(&self) -> Vec<String> {
        std::iter::once(DEFAULT_PROFILE.to_owned()).chain(self.profiles.keys().cloned()).collect()
    }

    /// Reads and checks the file at `path`.
    pub(crate) fn read(path: &Path, run_keys: &RunKeys) -> Result<ConfigFile, CliError> {
        let text = fs_err::read_to_string(path).map_err(|e| {
            CliError::usage(e.to_string(), "check ROGUE_RUNNER_CONFIG or ./rogue-runner.toml")
        })?;
        ConfigFile::parse(path, text, run_keys)
    }

    pub(crate) fn parse(
        path: &Path,
        text: String,
        run_keys: &RunKeys,
    ) -> Result<ConfigFile, CliError> {
        let mut file = ConfigFile {
            path: path.to_owned(),
            text,
            run: BTreeMap::new(),
            profiles: BTreeMap::new(),
            agents: BTreeMap::new(),
        };
        let text = file.text.clone();
        let table = DeTable::parse(&text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            file.error(
                format!("{} is not valid TOML: {}", path.display(), e.message()),
                span,
                "here",
                Some("see the example rogue-runner.toml in the README".to_owned()),
            )
        })?;
        for (key, value) in in_order(table.get_ref()) {
            let name = key.get_ref().as_ref();
            let table = file.table(name, value, TOP_KEYS, "the top level", key.span())?;
            match name {
                "run" => file.run = file.run_table("run", table, run_keys, false)?,
                "agents" => file.agents = file.agents_tables("agents", table)?,
                "profile" => {
                    for (pkey, pvalue) in in_order(table) {
                        let pname = pkey.get_ref().as_ref();
                        if pname == DEFAULT_PROFILE {
                            return Err(file.error(
                                "[profile.default] is not a table of its own: the default profile is [run]",
                                pkey.span(),
                                "the built-in profile",
                                Some("move these keys to [run]".to_owned()),
                            ));
                        }
                        let prefix = format!("profile.{pname}");
                        let ptable = file.any_table(&prefix, pvalue)?;
                        let mut profile = ProfileTable::default();
                        let agents_key = ptable.iter().find(|(k, _)| k.get_ref() == "agents");
                        if let Some((_, agents)) = agents_key {
                            let agents_prefix = format!("{prefix}.agents");
                            let agents = file.any_table(&agents_prefix, agents)?;
                            profile.agents = file.agents_tables(&agents_prefix, agents)?;
                        }
                        let run_only: DeTable<'_> = ptable
                            .iter()
                            .filter(|(k, _)| k.get_ref() != "agents")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        profile.run = file.run_table(&prefix, &run_only, run_keys, true)?;
                        file.profiles.insert(pname.to_owned(), profile);
                    }
                }
                "judge" => {
                    for (jkey, jvalue) in in_order(table) {
                        let jname = jkey.get_ref().as_ref();
                        file.known(jname, JUDGE_KEYS, "[judge]", jkey.span())?;
                        if jname == "models" {
                            let models = file.any_table("judge.models", jvalue)?;
                            for (mkey, _) in in_order(models) {
                                file.known(
                                    mkey.get_ref(),
                                    MODEL_KEYS,
                                    "[judge.models]",
                                    mkey.span(),
                                )?;
                            }
                        }
                    }
                }
                "store" => {
                    for (skey, _) in in_order(table) {
                        file.known(skey.get_ref(), STORE_KEYS, "[store]", skey.span())?;
                    }
                }
                _ => {
                    for (ckey, _) in in_order(table) {
                        file.known(ckey.get_ref(), COST_KEYS, "[cost]", ckey.span())?;
                    }
                }
            }
        }
        Ok(file)
    }

    /// `name` is one of `known`, else an error with the nearest.
    fn known(
        &self,
        name: &str,
        known: &[&str],
        table: &str,
        span: Range<usize>,
    ) -> Result<(), CliError> {
        if known.contains(&name) {
            return Ok(());
        }
        let help = match did_you_mean(name, known.iter().copied()) {
            Some(near) => {
                format!("did you mean `{near}`? the keys of {table} are: {}", known.join(", "))
            }
            None => format!("the keys of {table} are: {}", known.join(", ")),
        };
        Err(self.error(format!("unknown key `{name}` in {table}"), span, "unknown key", Some(help)))
    }

    /// The table under top-level key `name`, which must be known.
    fn table<'t, 'i>(
        &self,
        name: &str,
        value: &'t toml::Spanned<DeValue<'i>>,
        known: &[&str],
        table: &str,
        span: Range<usize>,
    ) -> Result<&'t DeTable<'i>, CliError> {
        self.known(name, known, table, span)?;
        self.any_table(name, value)
    }

    fn any_table<'t, 'i>(
        &self,
        key: &str,
        value: &'t toml::Spanned<DeValue<'i>>,
    ) -> Result<&'t DeTable<'i>, CliError> {
        value.get_ref().as_table().ok_or_else(|| {
            self.error(
                format!("`{key}` must be a table"),
                value.span(),
                format!("a {}", value.get_ref().type_str()),
                Some(format!("write [{key}] and its keys under it")),
            )
        })
    }

    /// A table of `run` keys (`[run]` or `[profile.NAME]`).
    fn run_table(
        &self,
        prefix: &str,
        table: &DeTable<'_>,
        run_keys: &RunKeys,
        in_profile: bool,
    ) -> Result<BTreeMap<String, Entry>, CliError> {
        let mut entries = BTreeMap::new();
        for (key, value) in in_order(table) {
            let name = key.get_ref().as_ref();
            let Some(canonical) = run_keys.canonical(name) else {
                let mut names: Vec<&str> = run_keys.names().collect();
                if in_profile {
                    names.push("agents");
                }
                let table = format!("[{prefix}]");
                let help = match did_you_mean(name, names.iter().copied()) {
                    Some(near) => format!(
                        "did you mean `{near}`? every long flag of `rogue-runner run` is a key, with _ for -"
                    ),
                    None => "every long flag of `rogue-runner run` is a key, with _ for - (`--scenarios-dir` is scenarios_dir)".to_owned(),
                };
                let message = if NOT_RUN_KEYS.contains(&name) {
                    format!("`{name}` cannot be set in {table}")
                } else {
                    format!("unknown key `{name}` in {table}")
                };
                return Err(self.error(message, key.span(), "unknown key", Some(help)));
            };
            let entry = self.entry(&format!("{prefix}.{name}"), value)?;
            entries.insert(canonical.to_owned(), entry);
        }
        Ok(entries)
    }

    fn agents_tables(
        &self,
        prefix: &str,
        table: &DeTable<'_>,
    ) -> Result<BTreeMap<String, AgentTable>, CliError> {
        let mut agents = BTreeMap::new();
        for (name, value) in in_order(table) {
            let name_text = name.get_ref().as_ref();
            let agent_prefix = format!("{prefix}.{name_text}");
            let fields = self.any_table(&agent_prefix, value)?;
            let mut agent = AgentTable::new();
            for (key, value) in in_order(fields) {
                let key_text = key.get_ref().as_ref();
                self.known(key_text, AGENT_KEYS, &format!("[{agent_prefix}]"), key.span())?;
                let entry = self.entry(&format!("{agent_prefix}.{key_text}"), value)?;
                if !matches!(entry.value, FileValue::Text(_)) {
                    return Err(self.error(
                        format!("`{}` must be a string", entry.key),
                        entry.span,
                        "not a string",
                        Some(agent_help(key_text)),
                    ));
                }
                agent.insert(key_text.to_owned(), entry);
            }
            agents.insert(name_text.to_owned(), agent);
        }
        Ok(agents)
    }

    /// A value clap can take: a scalar, or an array of scalars.
    fn entry(&self, key: &str, value: &toml::Spanned<DeValue<'_>>) -> Result<Entry, CliError> {
        let not_scalar = || {
            self.error(
                format!("`{key}` must be a string, a number, true/false or an array of them"),
                value.span(),
                format!("a {}", value.get_ref().type_str()),
                Some("write it as its flag's value on the command line would be".to_owned()),
            )
        };
        let value_of = |v: &DeValue<'_>| -> Option<FileValue> {
            Some(match v {
                DeValue::Boolean(b) => FileValue::Bool(*b),
                DeValue::String(s) => FileValue::Text(s.to_string()),
                DeValue::Integer(i) => {
                    let digits = i.as_str().replace('_', "");
                    let n = i64::from_str_radix(&digits, i.radix()).ok()?;
                    FileValue::Text(n.to_string())
                }
                DeValue::Float(f) => FileValue::Text(f.as_str().replace('_', "")),
                DeValue::Datetime(d) => FileValue::Text(d.to_string()),
                DeValue::Array(_) | DeValue::Table(_) => return None,
            })
        };
        let parsed = match value.get_ref() {
            DeValue::Array(items) => {
                let mut texts = Vec::new();
                for item in items {
                    match value_of(item.get_ref()) {
                        Some(FileValue::Text(t)) => texts.push(t),
                        Some(FileValue::Bool(b)) => texts.push(b.to_string()),
                        _ => return Err(not_scalar()),
                    }
                }
                FileValue::List(texts)
            }
            other => value_of(other).ok_or_else(not_scalar)?,
        };
        Ok(Entry { key: key.to_owned(), value: parsed, span: value.span() })
    }
}

/// The entries of `table` in the order they are written, so that the first problem reported
/// is the first in the file.
fn in_order<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(&'t toml::Spanned<toml::de::DeString<'i>>, &'t toml::Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

fn agent_help(key: &str) -> String {
    match key {
        "url" => "write url = \"http://localhost:9001\"".to_owned(),
        "auth" => {
            "write auth = \"bearer:ENV_VAR\" (the secret stays in the environment)".to_owned()
        }
        "protocol" => "write protocol = \"a2a\", \"http-json\" or \"openai\"".to_owned(),
        _ => "write version = \"a commit or an image digest\"".to_owned(),
    }
}

/// The keys of `[run]`: the long flags (and their aliases) of the `run` subcommand, by the
/// argument id each stands for.
#[derive(Debug, Clone)]
pub(crate) struct RunKeys {
    /// key (`scenarios_dir`, or an alias's) → canonical key.
    keys: BTreeMap<String, String>,
    /// canonical key → the argument.
    args: BTreeMap<String, clap::Arg>,
}

impl RunKeys {
    /// From clap's description of `run`.
    pub(crate) fn of_run_command() -> RunKeys {
        let command = <Cli as clap::CommandFactory>::command();
        let run = command.find_subcommand("run").cloned().unwrap_or(command);
        RunKeys::of(&run)
    }

    pub(crate) fn of(run: &clap::Command) -> RunKeys {
        let mut keys = BTreeMap::new();
        let mut args = BTreeMap::new();
        for arg in run.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let canonical = key_of(long);
            if NOT_RUN_KEYS.contains(&canonical.as_str()) {
                continue;
            }
            for alias in arg.get_all_aliases().unwrap_or_default() {
                keys.insert(key_of(alias), canonical.clone());
            }
            keys.insert(canonical.clone(), canonical.clone());
            args.insert(canonical, arg.clone());
        }
        RunKeys { keys, args }
    }

    /// The canonical key `name` stands for.
    pub(crate) fn canonical(&self, name: &str) -> Option<&str> {
        self.keys.get(name).map(String::as_str)
    }

    /// Every canonical key, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.args.keys().map(String::as_str)
    }

    /// Every canonical key with its argument.
    pub(crate) fn args(&self) -> impl Iterator<Item = (&str, &clap::Arg)> {
        self.args.iter().map(|(k, a)| (k.as_str(), a))
    }

    fn arg(&self, key: &str) -> Option<&clap::Arg> {
        self.args.get(key)
    }
}

/// `--scenarios-dir` → `scenarios_dir`: TOML keys as the `[judge]` table spells them.
pub(crate) fn key_of(long: &str) -> String {
    long.replace('-', "_")
}

/// The nearest of `candidates` to `word`, if near enough to be a typo (`-` and `_` alike).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.replace('-', "_").to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(current) };
            previous = current;
        }
    }
    row[b.len()]
}

/// Where the config file is: `$ROGUE_RUNNER_CONFIG` (must exist), else `./rogue-runner.toml`
/// if it exists.
pub(crate) fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    match env("ROGUE_RUNNER_CONFIG").filter(|p| !p.trim().is_empty()) {
        Some(p) => Some((PathBuf::from(p), true)),
        None => {
            let path = PathBuf::from(super::config::CONFIG_FILE);
            path.exists().then_some((path, false))
        }
    }
}

/// The file layer of a `run`-like command line whose first, lenient, parse is `matches`:
/// for every argument the command line and the environment left unset, the chosen profile's
/// value, else `[run]`'s (agents merged by name), as extra arguments.
pub(crate) fn file_layer(
    matches: &clap::ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FileLayer, CliError> {
    let given = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let profile = matches
        .try_get_one::<String>("profile")
        .ok()
        .flatten()
        .filter(|p| !p.is_empty() && p.as_str() != DEFAULT_PROFILE)
        .cloned();
    let profile_source = match matches.value_source("profile") {
        Some(ValueSource::EnvVariable) => "ROGUE_PROFILE",
        _ => "--profile",
    };
    let Some((path, _)) = config_path(env) else {
        return match profile {
            Some(p) => Err(CliError::usage(
                format!(
                    "{profile_source} {p}: there is no config file to define it (./rogue-runner.toml or $ROGUE_RUNNER_CONFIG)"
                ),
                format!("add a [profile.{p}] table to rogue-runner.toml, or drop {profile_source}"),
            )),
            None => Ok(FileLayer::default()),
        };
    };
    let run_keys = RunKeys::of_run_command();
    let file = ConfigFile::read(&path, &run_keys)?;
    let empty = ProfileTable::default();
    let chosen = match &profile {
        None => &empty,
        Some(p) => file.profiles.get(p).ok_or_else(|| {
            let names = file.profile_names();
            let near = did_you_mean(p, names.iter().map(String::as_str));
            CliError::usage(
                format!("{profile_source} {p}: {} defines no profile `{p}`", path.display()),
                match near {
                    Some(n) => {
                        format!("did you mean `{n}`? the profiles are: {}", names.join(", "))
                    }
                    None => format!("the profiles are: {}", names.join(", ")),
                },
            )
        })?,
    };
    let mut layer = FileLayer { profile: profile.clone(), ..FileLayer::default() };
    let agents = merged_agents(&file.agents, &chosen.agents);
    for (key, arg) in run_keys.args() {
        let id = arg.get_id().as_str();
        let long = arg.get_long().unwrap_or(key);
        let entry = chosen.run.get(key).or_else(|| file.run.get(key));
        match key {
            "agent" => {
                // By name: a name on the command line replaces the file's, the others stay.
                let on_line: BTreeSet<String> = raw_values(matches, id)
                    .iter()
                    .filter_map(|v| v.split_once('=').map(|(n, _)| n.trim().to_owned()))
                    .collect();
                let mut from_file: Vec<(String, String, Entry)> = Vec::new();
                if let Some(entry) = entry {
                    for text in entry_texts(&file, entry, long)? {
                        let name = text.split_once('=').map_or("", |(n, _)| n.trim()).to_owned();
                        from_file.push((name, text, entry.clone()));
                    }
                }
                for (name, fields) in &agents {
                    if let Some(url) = fields.get("url")
                        && let FileValue::Text(u) = &url.value
                    {
                        from_file.retain(|(n, _, _)| n != name);
                        from_file.push((name.clone(), format!("{name}={u}"), url.clone()));
                    }
                }
                from_file.retain(|(name, _, _)| !on_line.contains(name));
                for (_, text, entry) in &from_file {
                    layer.extra.push(format!("--{long}={text}").into());
                    layer
                        .places
                        .entry(long.to_owned())
                        .or_insert((entry.key.clone(), entry.span.clone()));
                }
                if let Some((_, _, first)) = from_file.first() {
                    let source = if on_line.is_empty()
                        && from_file.iter().all(|(_, _, e)| e.key == first.key)
                    {
                        first.key.clone()
                    } else if on_line.is_empty() {
                        "agents".to_owned()
                    } else {
                        "agents (with --agent)".to_owned()
                    };
                    layer.sources.insert(id.to_owned(), Source::File(source));
                }
            }
            "agent_version" if !given(id) => {
                let mut texts: Vec<(String, Entry)> = Vec::new();
                if let Some(entry) = entry {
                    for text in entry_texts(&file, entry, long)? {
                        texts.push((text, entry.clone()));
                    }
                }
                for (name, fields) in &agents {
                    if let Some(version) = fields.get("version")
                        && let FileValue::Text(v) = &version.value
                    {
                        texts.push((format!("{name}={v}"), version.clone()));
                    }
                }
                for (text, entry) in &texts {
                    layer.extra.push(format!("--{long}={text}").into());
                    layer
                        .places
                        .entry(long.to_owned())
                        .or_insert((entry.key.clone(), entry.span.clone()));
                }
                if let Some((_, first)) = texts.first() {
                    layer.sources.insert(id.to_owned(), Source::File(first.key.clone()));
                }
            }
            "auth" | "agent_protocol" if !given(id) && entry.is_none() => {
                // Every agent of a run shares one auth and one protocol: the agents' tables
                // may give them, all alike.
                let field = if key == "auth" { "auth" } else { "protocol" };
                if let Some(entry) = agents_alike(&file, &agents, field)? {
                    layer.add(&file, &run_keys, key, &entry)?;
                }
            }
            _ if given(id) => {}
            _ => {
                if let Some(entry) = entry {
                    layer.add(&file, &run_keys, key, entry)?;
                }
            }
        }
    }
    layer.file = Some(file);
    Ok(layer)
}

impl FileLayer {
    /// `entry` as the arguments of `key`'s flag.
    fn add(
        &mut self,
        file: &ConfigFile,
        run_keys: &RunKeys,
        key: &str,
        entry: &Entry,
    ) -> Result<(), CliError> {
        let Some(arg) = run_keys.arg(key) else { return Ok(()) };
        let long = arg.get_long().unwrap_or(key);
        if key == "auth"
            && let FileValue::Text(spec) = &entry.value
        {
            check_auth(file, entry, spec)?;
        }
        let wrong = |expected: &str| {
            Err(file.error(
                format!("`{}` must be {expected}", entry.key),
                entry.span.clone(),
                "this value",
                Some(format!("it stands for --{long}; see `rogue-runner run --help`")),
            ))
        };
        let tokens: Vec<String> = match (arg.get_action(), &entry.value) {
            (ArgAction::SetTrue, FileValue::Bool(b)) => {
                if *b {
                    vec![format!("--{long}")]
                } else {
                    Vec::new()
                }
            }
            (ArgAction::SetFalse, FileValue::Bool(b)) => {
                if *b {
                    Vec::new()
                } else {
                    vec![format!("--{long}")]
                }
            }
            (ArgAction::SetTrue | ArgAction::SetFalse, _) => return wrong("true or false"),
            (ArgAction::Count, FileValue::Text(n)) => match n.parse::<u8>() {
                Ok(n) => vec![format!("--{long}"); usize::from(n)],
                Err(_) => return wrong("a count (0, 1, 2, …)"),
            },
            (ArgAction::Count, _) => return wrong("a count (0, 1, 2, …)"),
            (ArgAction::Append, _) => {
                entry_texts(file, entry, long)?.iter().map(|v| format!("--{long}={v}")).collect()
            }
            (_, FileValue::Text(v)) => vec![format!("--{long}={v}")],
            (_, FileValue::Bool(b)) => vec![format!("--{long}={b}")],
            (_, FileValue::List(_)) => return wrong("one value, not an array"),
        };
        self.extra.extend(tokens.into_iter().map(OsString::from));
        self.sources.insert(arg.get_id().as_str().to_owned(), Source::File(entry.key.clone()));
        self.places.insert(long.to_owned(), (entry.key.clone(), entry.span.clone()));
        Ok(())
    }

    /// clap's complaint about a value the file gave, shown at its place in the file; any
    /// other error as it is.
    pub(crate) fn place(&self, error: clap::Error) -> Result<clap::Error, CliError> {
        let (Some(file), Some(clap::error::ContextValue::String(arg))) =
            (&self.file, error.get(clap::error::ContextKind::InvalidArg))
        else {
            return Ok(error);
        };
        let long = arg.trim_start_matches("--").split([' ', '=']).next().unwrap_or_default();
        let Some((key, span)) = self.places.get(long) else { return Ok(error) };
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        Err(file.error(
            format!("{key}: {message}"),
            span.clone(),
            format!("the value of --{long}"),
            Some(format!(
                "fix `{key}` in {}, or pass --{long} on the command line",
                file.path.display()
            )),
        ))
    }
}

/// The texts of a value for a repeatable flag: an array's items, or the one value.
fn entry_texts(file: &ConfigFile, entry: &Entry, long: &str) -> Result<Vec<String>, CliError> {
    match &entry.value {
        FileValue::List(items) => Ok(items.clone()),
        FileValue::Text(text) => Ok(vec![text.clone()]),
        FileValue::Bool(_) => Err(file.error(
            format!("`{}` must be a string or an array of strings", entry.key),
            entry.span.clone(),
            "this value",
            Some(format!("it stands for --{long}")),
        )),
    }
}

/// `[agents]` with the profile's agents tables over it, key by key.
fn merged_agents(
    base: &BTreeMap<String, AgentTable>,
    profile: &BTreeMap<String, AgentTable>,
) -> BTreeMap<String, AgentTable> {
    let mut merged = base.clone();
    for (name, fields) in profile {
        let agent = merged.entry(name.clone()).or_default();
        for (key, entry) in fields {
            agent.insert(key.clone(), entry.clone());
        }
    }
    merged
}

/// The one `field` (`auth`, `protocol`) the agents' tables give, as a `run` value; two
/// different ones are an error, as a run has one of each.
fn agents_alike(
    file: &ConfigFile,
    agents: &BTreeMap<String, AgentTable>,
    field: &str,
) -> Result<Option<Entry>, CliError> {
    let mut found: Option<&Entry> = None;
    for entry in agents.values().filter_map(|a| a.get(field)) {
        if field == "auth"
            && let FileValue::Text(spec) = &entry.value
        {
            check_auth(file, entry, spec)?;
        }
        match found {
            Some(first) if first.value != entry.value => {
                return Err(file.error(
                    format!(
                        "`{}` differs from `{}`: a run uses one {field} for every agent",
                        entry.key, first.key
                    ),
                    entry.span.clone(),
                    format!("not the {field} of {}", first.key),
                    Some(format!(
                        "give every agent the same {field}, or run them with separate profiles"
                    )),
                ));
            }
            Some(_) => {}
            None => found = Some(entry),
        }
    }
    Ok(found.cloned())
}

/// `auth` names environment variables, never holds a secret: `bearer:ENV`,
/// `api-key:HEADER:ENV`, `basic:USER:ENV`, where ENV looks like a variable's name.
fn check_auth(file: &ConfigFile, entry: &Entry, spec: &str) -> Result<(), CliError> {
    let var = spec.rsplit(':').next().unwrap_or_default();
    let scheme = spec.split(':').next().unwrap_or_default();
    let is_var = !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !var.starts_with(|c: char| c.is_ascii_digit());
    if matches!(scheme, "bearer" | "api-key" | "basic") && is_var && spec.contains(':') {
        return Ok(());
    }
    // The value may be a secret pasted in: neither the message nor a quote of the file
    // repeats it, only its place.
    Err(CliError::usage(
        format!(
            "{}: `{}` is not bearer:ENV, api-key:HEADER:ENV or basic:USER:ENV",
            file.place_of(entry.span.start),
            entry.key
        ),
        "credentials are read from environment variables only: write auth = \"bearer:AGENT_TOKEN\" and export AGENT_TOKEN",
    ))
}

/// The values of argument `id` as given (raw text).
pub(crate) fn raw_values(matches: &clap::ArgMatches, id: &str) -> Vec<String> {
    matches
        .try_get_raw(id)
        .ok()
        .flatten()
        .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{ConfigArgs, OutputFormat};
    use crate::cli::{ParseError, parse_layered};

    /// A config file with `text` in a temp dir, and an environment naming it.
    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    impl Fixture {
        fn new(text: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("rr.toml");
            fs_err::write(&path, text).unwrap();
            Fixture { _dir: dir, path }
        }

        fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
            move |name| (name == "ROGUE_RUNNER_CONFIG").then(|| self.path.display().to_string())
        }

        /// `rogue-runner ARGS` parsed over this file: the run's arguments.
        fn parse(&self, args: &[&str]) -> Result<crate::cli::args::RunArgs, ParseError> {
            let argv = std::iter::once("rogue-runner").chain(args.iter().copied());
            let (cli, _, _) = parse_layered(argv.map(Into::into).collect(), &self.env(), false)?;
            match cli.command {
                Some(crate::cli::Command::Run(run)) => Ok(run),
                None => Ok(cli.run),
                other => panic!("not a run: {other:?}"),
            }
        }

        fn error(&self, args: &[&str]) -> String {
            match self.parse(args) {
                Ok(run) => panic!("{args:?} parsed: {run:?}"),
                Err(ParseError::Config(e)) => render(&e),
                Err(ParseError::Clap(e)) => e.to_string(),
            }
        }

        /// `config --format json ARGS` over this file.
        fn config_json(&self, args: &[&str]) -> serde_json::Value {
            let args = ConfigArgs {
                format: OutputFormat::Json,
                run: args.iter().map(Into::into).collect(),
            };
            let mut out = Vec::new();
            // A run that could not start still shows its settings (then says why).
            let _ = crate::cli::config_show::show_with(&args, &self.env(), &mut out);
            serde_json::from_slice(&out).unwrap()
        }
    }

    fn render(e: &CliError) -> String {
        let mut text = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .render_report(&mut text, e)
            .unwrap();
        text
    }

    fn row<'a>(doc: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
        doc["settings"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap()
    }

    /// A value clap takes for `arg`, written as TOML: the flags true, a count 1, the first
    /// possible value, the default, or the first of a few likely values it parses.
    fn sample_values(arg: &clap::Arg) -> Vec<String> {
        match arg.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => return vec!["true".to_owned()],
            ArgAction::Count => return vec!["1".to_owned()],
            _ => {}
        }
        let mut texts: Vec<String> = Vec::new();
        if let Some(value) = arg.get_possible_values().first() {
            texts.push(value.get_name().to_owned());
        }
        texts.extend(arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()));
        texts.extend(
            [
                "1",
                "0.5",
                "30s",
                "P0",
                "x",
                "x=y",
                "http://127.0.0.1:1",
                "hash:1/2",
                "bearer:SOME_VAR",
            ]
            .map(str::to_owned),
        );
        let quote = |t: &String| format!("{t:?}");
        match arg.get_action() {
            ArgAction::Append => texts.iter().map(|t| format!("[{}]", quote(t))).collect(),
            _ => texts.iter().map(quote).collect(),
        }
    }

    /// Keys that need another to parse (clap's `requires`), and that other.
    const COMPANIONS: &[(&str, &str)] = &[("seed", "sample = 3\n")];

    /// A flag added to `run` is a key of `[run]` (and of profiles) and a row of `config`, or
    /// this test says which one is not: the point is that nobody keeps a list by hand.
    #[test]
    fn every_run_flag_is_a_run_key_a_profile_key_and_a_row_of_config() {
        let keys = RunKeys::of_run_command();
        assert!(keys.names().count() > 40, "the keys come from clap");
        for (key, arg) in keys.args() {
            let companion = COMPANIONS.iter().find(|(k, _)| *k == key).map_or("", |(_, c)| *c);
            for (table, profile) in [("run", &[][..]), ("profile.p", &["--profile", "p"][..])] {
                let mut refusals = Vec::new();
                let accepted = sample_values(arg).into_iter().find(|value| {
                    let text = format!("[{table}]\n{companion}{key} = {value}\n");
                    let fixture = Fixture::new(&text);
                    let mut args = vec!["run", "--scenarios-dir", "s"];
                    args.extend_from_slice(profile);
                    let run = match fixture.parse(&args) {
                        Ok(run) => run,
                        Err(ParseError::Config(e)) => {
                            refusals.push(render(&e));
                            return false;
                        }
                        Err(ParseError::Clap(e)) => {
                            refusals.push(e.to_string());
                            return false;
                        }
                    };
                    let source = run.sources.source_of(arg.get_id().as_str(), None);
                    if key != "scenarios_dir" {
                        assert_eq!(source, Some(Source::File(format!("{table}.{key}"))), "{text}");
                    }
                    let doc = fixture.config_json(profile);
                    let row = row(&doc, key);
                    assert_eq!(row["source"], "file", "{text}: {row}");
                    assert_eq!(row["from"], format!("{table}.{key}"), "{text}: {row}");
                    true
                });
                assert!(
                    accepted.is_some(),
                    "[{table}] {key} takes none of the sample values; add one to sample_values \
                     or a companion to COMPANIONS:\n{}",
                    refusals.join("\n")
                );
            }
        }
    }

    #[test]
    fn the_profile_overrides_run_and_a_flag_overrides_both() {
        let fixture = Fixture::new(
            "[run]\nscenarios_dir = [\"a\", \"b\"]\nparallel = 3\nuse_cache = true\n\
             [profile.ci]\nparallel = 8\nuse_cache = false\n",
        );
        let run = fixture.parse(&["run"]).unwrap();
        assert_eq!(run.scenarios.scenarios_dir, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!((run.parallel, run.use_cache), (3, true));
        let run = fixture.parse(&["run", "--profile", "ci"]).unwrap();
        assert_eq!((run.parallel, run.use_cache), (8, false));
        assert_eq!(
            run.sources.source_of("use_cache", None),
            Some(Source::File("profile.ci.use_cache".into()))
        );
        // `default` is [run] alone.
        assert_eq!(fixture.parse(&["run", "--profile", "default"]).unwrap().parallel, 3);
        let run = fixture.parse(&["run", "--profile", "ci", "--parallel", "2"]).unwrap();
        assert_eq!(run.parallel, 2);
        assert_eq!(run.sources.source_of("parallel", None), Some(Source::Flag));
        // A list on the command line replaces the file's.
        let run = fixture.parse(&["run", "--scenarios-dir", "c"]).unwrap();
        assert_eq!(run.scenarios.scenarios_dir, [PathBuf::from("c")]);
        // The bare form and `estimate` read the same tables.
        assert_eq!(fixture.parse(&["--profile", "ci", "--no-fail-fast"]).unwrap().parallel, 8);
    }

    #[test]
    fn agents_tables_become_agent_flags_merged_by_name() {
        let fixture = Fixture::new(
            "[agents.a]\nurl = \"http://a\"\nauth = \"bearer:A_TOKEN\"\nprotocol = \"http-json\"\n\
             version = \"v1\"\n[agents.b]\nurl = \"http://b\"\n\
             [profile.staging.agents.b]\nurl = \"http://b-staging\"\n",
        );
        let run = fixture.parse(&["run", "--scenarios-dir", "s"]).unwrap();
        assert_eq!(run.agents, ["a=http://a", "b=http://b"]);
        assert_eq!(run.auth.as_deref(), Some("bearer:A_TOKEN"));
        assert_eq!(run.agent_protocol, crate::cli::args::AgentProtocol::HttpJson);
        assert_eq!(run.agent_versions, ["a=v1"]);
        assert_eq!(run.sources.source_of("auth", None), Some(Source::File("agents.a.auth".into())));
        let run = fixture.parse(&["run", "--scenarios-dir", "s", "--profile", "staging"]).unwrap();
        assert_eq!(run.agents, ["a=http://a", "b=http://b-staging"]);
        // A name on the command line replaces that agent's URL; the others stay.
        let run =
            fixture.parse(&["run", "--scenarios-dir", "s", "--agent", "a=http://cli"]).unwrap();
        assert_eq!(run.agents, ["a=http://cli", "b=http://b"]);
    }

    #[test]
    fn agents_with_different_auth_or_a_secret_in_the_file_are_refused() {
        let fixture = Fixture::new(
            "[agents.a]\nurl = \"http://a\"\nauth = \"bearer:A\"\n\
             [agents.b]\nurl = \"http://b\"\nauth = \"bearer:B\"\n",
        );
        let error = fixture.error(&["run", "--scenarios-dir", "s"]);
        assert!(error.contains("`agents.b.auth` differs from `agents.a.auth`"), "{error}");
        for secret in ["bearer:sk-live-0123456789", "sk-live-0123456789", "basic:me:pa$$word"] {
            let fixture =
                Fixture::new(&format!("[agents.a]\nurl = \"http://a\"\nauth = {secret:?}\n"));
            let error = fixture.error(&["run", "--scenarios-dir", "s"]);
            assert!(error.contains("rr.toml:3:8: `agents.a.auth` is not bearer:ENV"), "{error}");
            assert!(!error.contains("0123456789") && !error.contains("pa$$"), "{error}");
            let fixture = Fixture::new(&format!("[run]\nauth = {secret:?}\n"));
            let error = fixture.error(&["run", "--scenarios-dir", "s"]);
            assert!(!error.contains("0123456789") && !error.contains("pa$$"), "{error}");
        }
    }

    #[test]
    fn unknown_keys_and_profiles_name_the_nearest_known_one() {
        let cases = [
            ("[rnu]\n", "unknown key `rnu` in the top level", "did you mean `run`?"),
            ("[run]\nscenarios-dir = \"x\"\n", "in [run]", "did you mean `scenarios_dir`?"),
            ("[run]\nparalel = 3\n", "unknown key `paralel` in [run]", "did you mean `parallel`?"),
            ("[profile.ci]\nretires = 1\n", "in [profile.ci]", "did you mean `retries`?"),
            ("[profile.ci.agents.a]\nurll = \"x\"\n", "in [profile.ci.agents.a]", "`url`?"),
            ("[agents.a]\nprotocl = \"a2a\"\n", "in [agents.a]", "did you mean `protocol`?"),
            ("[judge]\nmodle = \"m\"\n", "in [judge]", "did you mean `model`?"),
            ("[judge.models]\np3 = \"m\"\n", "in [judge.models]", "did you mean `p0`?"),
            ("[cost]\nmax_costs = 1.0\n", "in [cost]", "did you mean `max_cost`?"),
            ("[run]\nprofile = \"ci\"\n", "`profile` cannot be set in [run]", ""),
            ("[profile.default]\nparallel = 1\n", "the default profile is [run]", "[run]"),
            ("[run]\nzzzzzzzz = 1\n", "unknown key `zzzzzzzz`", "every long flag"),
        ];
        for (text, message, help) in cases {
            let error = Fixture::new(text).error(&["run", "--scenarios-dir", "s"]);
            assert!(error.contains(message) && error.contains(help), "{text}:\n{error}");
            assert!(error.contains("rr.toml:"), "names the file: {error}");
        }
        let fixture = Fixture::new("[profile.ci]\n[profile.nightly]\n");
        let error = fixture.error(&["run", "--scenarios-dir", "s", "--profile", "cii"]);
        assert!(error.contains("defines no profile `cii`"), "{error}");
        assert!(
            error.contains("did you mean `ci`? the profiles are: default, ci, nightly"),
            "{error}"
        );
    }

    #[test]
    fn a_value_clap_refuses_is_shown_at_its_place_in_the_file() {
        let fixture = Fixture::new("[run]\nparallel = 0\nprogress = \"fancy\"\n");
        let error = fixture.error(&["run", "--scenarios-dir", "s"]);
        assert!(error.contains("run.parallel: invalid value '0' for '--parallel <N>'"), "{error}");
        assert!(error.contains("rr.toml:2:12"), "{error}");
        let fixture = Fixture::new("[run]\nuse_cache = \"yes\"\n");
        let error = fixture.error(&["run", "--scenarios-dir", "s"]);
        assert!(error.contains("`run.use_cache` must be true or false"), "{error}");
    }

    #[test]
    fn judge_and_cost_keys_are_the_fields_of_their_tables() {
        // serde lists a struct's fields in its unknown-field error: the checked keys and the
        // deserialized ones cannot drift apart.
        let fields = |text: &str| -> Vec<String> {
            let error = toml::from_str::<super::super::config::FileConfig>(text).unwrap_err();
            let message = error.to_string();
            let list = message.split("expected one of").nth(1).unwrap_or_default();
            list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
        };
        assert_eq!(fields("[judge]\nzzz = 1\n"), JUDGE_KEYS);
        assert_eq!(fields("[cost]\nzzz = 1\n"), COST_KEYS);
        assert_eq!(fields("[judge.models]\nzzz = 1\n"), MODEL_KEYS);
    }

    #[test]
    fn did_you_mean_takes_the_nearest_within_a_typo() {
        let keys = ["parallel", "per_agent_parallel", "retries", "rogue_server"];
        assert_eq!(did_you_mean("paralell", keys), Some("parallel"));
        assert_eq!(did_you_mean("rogue-server", keys), Some("rogue_server"));
        assert_eq!(did_you_mean("retires", keys), Some("retries"));
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
