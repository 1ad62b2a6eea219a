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
const TOP_KEYS: &[&str] = &["run", "profile", "agents", "judge", "cost"];

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
        for (key, value) in table.get_ref() {
            let name = key.get_ref().as_ref();
            let table = file.table(name, value, TOP_KEYS, "the top level", key.span())?;
            match name {
                "run" => file.run = file.run_table("run", table, run_keys, false)?,
                "agents" => file.agents = file.agents_tables("agents", table)?,
                "profile" => {
                    for (pkey, pvalue) in table {
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
                    for (jkey, jvalue) in table {
                        let jname = jkey.get_ref().as_ref();
                        file.known(jname, JUDGE_KEYS, "[judge]", jkey.span())?;
                        if jname == "models" {
                            let models = file.any_table("judge.models", jvalue)?;
                            for (mkey, _) in models {
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
                _ => {
                    for (ckey, _) in table {
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
        for (key, value) in table {
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
        for (name, value) in table {
            let name_text = name.get_ref().as_ref();
            let agent_prefix = format!("{prefix}.{name_text}");
            let fields = self.any_table(&agent_prefix, value)?;
            let mut agent = AgentTable::new();
            for (key, value) in fields {
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
    // The value may be a secret: it is not repeated in the message.
    Err(file.error(
        format!("`{}` is not bearer:ENV, api-key:HEADER:ENV or basic:USER:ENV", entry.key),
        entry.span.clone(),
        "not an auth scheme",
        Some(
            "credentials are read from environment variables only: write auth = \"bearer:AGENT_TOKEN\" and export AGENT_TOKEN"
                .to_owned(),
        ),
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
