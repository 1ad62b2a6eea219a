//! The one way settings are resolved: every setting with an environment variable is a clap
//! argument with `env = …` (clap reads flag, then variable), and this module lays the config
//! file (`rogue-runner.toml`; path from `ROGUE_RUNNER_CONFIG`, else `./rogue-runner.toml`)
//! and the defaults under them, in one step, recording where each value came from
//! ([`Setting`]): flag > environment > config file > default.
//!
//! A variable set to an empty (or blank) value counts as unset ([`without_blank_env`]), as
//! CI systems set variables that have no value.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use serde::Deserialize;

use super::args::{AgentProtocol, ProgressChoice, RunArgs};
use super::{CliError, selection_from};
use crate::agent::{AgentKind, Auth, ClientOptions};
use crate::engine::{AgentRouting, ExitPolicy, RunOptions};
use crate::http::RateShare;
use crate::report::ProgressMode;
use crate::secret::Secret;
use crate::session::{JudgeSetup, RunConfig, Setting, Source, StoreOptions};
use crate::store::KeyContext;

/// The config file read when `ROGUE_RUNNER_CONFIG` names none.
pub(crate) const CONFIG_FILE: &str = "rogue-runner.toml";

/// Where clap found each argument's value (command line, environment, default), by argument
/// id; filled in after parsing (see [`ArgSources::of`]).
#[derive(Debug, Clone, Default)]
pub struct ArgSources(HashMap<String, ValueSource>, HashMap<String, Source>);

impl ArgSources {
    /// The sources of the arguments of `matches` (one command's own, not its subcommands').
    pub(super) fn of(matches: &clap::ArgMatches) -> Self {
        ArgSources(
            matches
                .ids()
                .filter_map(|id| {
                    matches.value_source(id.as_str()).map(|s| (id.as_str().to_owned(), s))
                })
                .collect(),
            HashMap::new(),
        )
    }

    /// These sources, with the arguments the config file set (see
    /// [`super::config_file::file_layer`]) marked as the file's.
    pub(super) fn with_file(mut self, file: HashMap<String, Source>) -> Self {
        self.1 = file;
        self
    }

    /// Where the value of argument `id` came from, the config file included.
    pub(super) fn source_of(&self, id: &str, env: Option<&str>) -> Option<Source> {
        if let Some(source) = self.1.get(id) {
            return Some(source.clone());
        }
        Some(match self.get(id)? {
            ValueSource::EnvVariable => Source::Env(env.unwrap_or_default().to_owned()),
            ValueSource::DefaultValue => Source::Default,
            _ => Source::Flag,
        })
    }

    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, ValueSource)]) -> Self {
        ArgSources(pairs.iter().map(|(id, s)| ((*id).to_owned(), *s)).collect(), HashMap::new())
    }

    fn get(&self, id: &str) -> Option<ValueSource> {
        self.0.get(id).copied()
    }
}

/// The layers under the command line, and the record of which one gave each setting.
#[derive(Debug)]
pub(super) struct Layers<'a> {
    sources: &'a ArgSources,
    settings: Vec<Setting>,
}

impl<'a> Layers<'a> {
    pub(super) fn new(sources: &'a ArgSources) -> Self {
        Layers { sources, settings: Vec::new() }
    }

    /// Where clap's value of argument `id` came from; a value with no recorded source was
    /// set by the caller, as a flag would be.
    fn clap_source(&self, id: &str, env: &str) -> Source {
        if let Some(source) = self.sources.1.get(id) {
            return source.clone();
        }
        match self.sources.get(id) {
            Some(ValueSource::EnvVariable) => Source::Env(env.to_owned()),
            Some(ValueSource::DefaultValue) => Source::Default,
            // `ValueSource` is non-exhaustive: anything else is the command line.
            _ => Source::Flag,
        }
    }

    fn record(&mut self, flag: &'static str, value: String, source: Source) {
        self.settings.push(Setting { flag, value, source });
    }

    /// A setting clap resolved alone (flag, variable, clap's default); recorded, returned.
    pub(super) fn clap<T: std::fmt::Debug + Clone>(
        &mut self,
        flag: &'static str,
        id: &str,
        env: &str,
        value: &T,
    ) -> T {
        let source = self.clap_source(id, env);
        self.record(flag, format!("{value:?}"), source);
        value.clone()
    }

    /// Flag or variable (clap's `value` of argument `id`), else the file's key, else `None`.
    pub(super) fn pick<T: std::fmt::Debug + Clone>(
        &mut self,
        flag: &'static str,
        (id, env): (&str, &str),
        value: Option<&T>,
        (key, from_file): (&str, Option<&T>),
    ) -> Option<T> {
        let (value, source) = match (value, from_file) {
            (Some(v), _) => (v.clone(), self.clap_source(id, env)),
            (None, Some(v)) => (v.clone(), Source::File(key.to_owned())),
            (None, None) => return None,
        };
        self.record(flag, format!("{value:?}"), source);
        Some(value)
    }

    /// Records a value that came from the default.
    pub(super) fn default<T: std::fmt::Debug>(&mut self, flag: &'static str, value: &T) {
        self.record(flag, format!("{value:?}"), Source::Default);
    }

    /// Records a value that came from another place than the argument (a second variable).
    pub(super) fn other(&mut self, flag: &'static str, value: String, source: Source) {
        self.record(flag, value, source);
    }

    pub(super) fn into_settings(self) -> Vec<Setting> {
        self.settings
    }
}

/// `command` with every `env = …` whose variable is set but blank removed, so that a blank
/// variable counts as unset (clap would take the empty value).
pub(super) fn without_blank_env(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let blank = arg
                .get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| v.to_str().is_some_and(|text| text.trim().is_empty()));
            if blank { arg.env(clap::builder::Resettable::Reset) } else { arg }
        })
        .mut_subcommands(without_blank_env)
}

/// Raw arguments, the environment (already read by clap) and the config file → the one
/// validated configuration of a run, with where every setting came from.
pub(super) fn run_config(args: &RunArgs) -> Result<RunConfig, CliError> {
    if !(0.0..=1.0).contains(&args.p0_threshold) {
        return Err(CliError::usage(
            format!("--p0-threshold {} is outside 0..1", args.p0_threshold),
            "give a fraction such as 0.8 (80% of P0 scenarios must pass)",
        ));
    }
    let mut routing =
        AgentRouting { rogue_server: args.rogue_server.clone(), ..AgentRouting::default() };
    if !(args.rogue_server.starts_with("http://") || args.rogue_server.starts_with("https://")) {
        return Err(CliError::usage(
            format!("--rogue-server `{}` is not an http:// or https:// URL", args.rogue_server),
            "for example --rogue-server http://localhost:8000",
        ));
    }
    for text in &args.agents {
        let (name, url) = AgentRouting::parse_override(text).map_err(|e| {
            CliError::usage(
                e,
                "write --agent NAME=URL, e.g. --agent qa_agent=http://localhost:9001",
            )
        })?;
        routing.overrides.insert(name, url);
    }
    let agent_kind = match args.agent_protocol {
        AgentProtocol::A2a => AgentKind::A2a,
        AgentProtocol::HttpJson => AgentKind::HttpJson {
            request_template: args.request_template.clone(),
            reply_pointer: args.reply_pointer.clone(),
        },
        AgentProtocol::Openai => AgentKind::OpenAiChat { model: args.agent_model.clone() },
    };
    let auth = match &args.auth {
        None => Auth::None,
        Some(spec) => parse_auth(spec)?,
    };
    let file = load_file_config(&process_env)?;
    let mut layers = Layers::new(&args.sources);
    layers.clap("--rogue-server", "rogue_server", "ROGUE_SERVER", &args.rogue_server);
    if !args.agent_versions.is_empty() {
        layers.clap(
            "--agent-version",
            "agent_versions",
            "ROGUE_AGENT_VERSION",
            &args.agent_versions,
        );
    }
    layers.clap(
        "--allow-unassessed",
        "allow_unassessed",
        "ROGUE_ALLOW_UNASSESSED",
        &args.allow_unassessed,
    );
    let mut judge = args.judge.resolve(&mut layers, &process_env, &file)?;
    let postgres = store_url(args, &file, &mut layers)?;
    let store = StoreOptions {
        cache_dir: args.cache_dir.clone(),
        postgres,
        use_cache: args.use_cache,
        baseline: args.baseline.clone(),
        fail_on_regressions_only: args.fail_on_regressions_only,
        key_context: KeyContext {
            agent_protocol: agent_kind.cache_identity(),
            judge_model: judge_key(&judge),
            ..KeyContext::default()
        },
        pinning: pinning_from(args)?,
        cache_ttl: args.cache_ttl,
        config_digest: config_digest(args),
    };
    let progress = match args.progress {
        ProgressChoice::Auto => ProgressMode::Auto,
        ProgressChoice::Bar => ProgressMode::Bar,
        ProgressChoice::Plain => ProgressMode::Plain,
        ProgressChoice::Quiet => ProgressMode::Quiet,
    };
    let selection = selection_from(&args.filters, Some(&args.sample), &|| Ok(store.location()))?;
    // --judge-rpm is the whole run's budget: each shard of a partitioned run takes its share.
    let share = selection.partition().map(|p| RateShare { shard: p.shard, of: p.total });
    judge.would_use.endpoint.rate_share = share;
    if let Some(j) = judge.judge.as_mut() {
        j.endpoint.rate_share = share;
    }
    Ok(RunConfig {
        paths: args.scenarios.all(),
        selection,
        load: args.input.load_options(),
        routing,
        options: RunOptions {
            parallel: args.parallel as usize,
            per_agent_parallel: args.per_agent_parallel.map(|n| n as usize),
            fail_fast: (!args.no_fail_fast).then_some(args.p0_threshold),
            max_fail: args.max_fail.map(|n| n as usize),
            client: ClientOptions {
                timeout: args.timeout,
                retries: args.retries,
                max_body_bytes: args.max_body_bytes,
                allowed_origins: args.allow_card_origin.clone(),
                ..ClientOptions::default()
            },
            scenario_timeout: args.scenario_timeout,
            agent_kind,
            auth,
            headers: Vec::new(),
            // The session builds the judge and the Rogue evaluator, once, on its one pool,
            // and hands the engine the budget (`judge.max_cost`).
            judge: None,
            rogue: None,
            pricing: std::sync::Arc::new(judge.pricing.clone()),
            runs_per_day: judge.runs_per_day,
            max_cost_usd: None,
            // The baseline gate is added once the store is open (see `Session::run`).
            exit_policy: ExitPolicy {
                allow_unassessed: args.allow_unassessed,
                baseline: None,
                fail_on_regressions_only: args.fail_on_regressions_only,
                ..ExitPolicy::default()
            },
        },
        output_dir: args.output_dir.clone(),
        formats: args.formats,
        progress,
        color: crate::report::use_color(args.color, std::io::stderr().is_terminal()),
        verbose: args.verbose,
        quiet: args.quiet,
        step_summary: !args.no_step_summary,
        store,
        judge,
        rogue_server: args.rogue_server.clone(),
        settings: layers.into_settings(),
    })
}

/// `--store` (or `ROGUE_STORE_URL`), else the config file's `[store] url`: the shared
/// PostgreSQL store, its pool sized from `--parallel` (connections open only as they are
/// needed). Recorded redacted: a URL never reaches the settings shown to users.
fn store_url(
    args: &RunArgs,
    file: &FileConfig,
    layers: &mut Layers<'_>,
) -> Result<Option<crate::store::PgTarget>, CliError> {
    let redacted = |url: &String| crate::redact::redact_url(url);
    layers.pick(
        "--store",
        ("store", "ROGUE_STORE_URL"),
        args.store.as_ref().map(redacted).as_ref(),
        ("store.url", file.store.url.as_ref().map(redacted).as_ref()),
    );
    let Some(url) = args.store.as_ref().or(file.store.url.as_ref()) else { return Ok(None) };
    let pool = (args.parallel as usize).clamp(1, 16);
    crate::store::PgTarget::from_env(url, pool).map(Some).map_err(|e| {
        CliError::usage(
            e.to_string(),
            "write --store postgres://USER@HOST:PORT/DB, with the password in PGPASSWORD or \
             ~/.pgpass",
        )
    })
}

/// What decides which scenarios a run selects and how it judges them, for the history
/// (not --parallel, --output-dir or --progress).
fn config_digest(args: &RunArgs) -> String {
    let f = &args.filters;
    let mut config = serde_json::json!({
        "scenarios_dir": args.scenarios.all(),
        "priority": f.priority, "category": f.category, "tag": f.tag, "id": f.id,
        "rogue_server": args.rogue_server, "agents": args.agents,
        "agent_protocol": format!("{:?}", args.agent_protocol),
        "request_template": args.request_template, "reply_pointer": args.reply_pointer,
        "agent_model": args.agent_model,
        "fail_fast": (!args.no_fail_fast).then_some(args.p0_threshold),
        "max_fail": args.max_fail, "timeout_ms": args.timeout.as_millis() as u64,
        "retries": args.retries,
    });
    // Added only when used, so that the digests of runs without them stay as they were.
    // A random --sample without --seed is a different selection every time: its seed is
    // left out, and such runs share a digest.
    let s = &args.sample;
    for (key, value) in [
        ("filter_expr", (!f.filter_expr.is_empty()).then(|| serde_json::json!(f.filter_expr))),
        ("limit", s.limit.map(|n| serde_json::json!(n))),
        ("sample", s.sample.map(|n| serde_json::json!(n))),
        ("seed", s.seed.map(|n| serde_json::json!(n))),
    ] {
        if let (Some(value), Some(map)) = (value, config.as_object_mut()) {
            map.insert(key.to_owned(), value);
        }
    }
    crate::store::config_digest(&config)
}

/// `bearer:ENV`, `api-key:HEADER:ENV`, `basic:USER:ENV` — secrets come from the environment.
fn parse_auth(spec: &str) -> Result<Auth, CliError> {
    let hint = "write --auth bearer:ENV_VAR, api-key:HEADER:ENV_VAR or basic:USER:ENV_VAR";
    let secret = |var: &str| {
        std::env::var(var).map(Secret::new).map_err(|_| {
            CliError::usage(
                format!("--auth names the environment variable {var}, which is not set"),
                format!("export {var}=… before running"),
            )
        })
    };
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["bearer", var] => Ok(Auth::Bearer(secret(var)?)),
        ["api-key", header, var] => {
            Ok(Auth::ApiKey { header: (*header).to_owned(), key: secret(var)? })
        }
        ["basic", user, var] => {
            Ok(Auth::Basic { user: (*user).to_owned(), password: secret(var)? })
        }
        _ => Err(CliError::usage(format!("--auth `{spec}` is not a known scheme"), hint)),
    }
}

/// What of the judge decides outcomes, for the cache key: its models (the prompt versions
/// are parts of their own), never the endpoint's credentials. `None` when no judge is
/// configured.
fn judge_key(judge: &JudgeSetup) -> Option<String> {
    judge.judge.as_ref().map(|config| {
        let m = &config.models;
        let models = match &config.force_model {
            Some(force) => format!("{force} (forced)"),
            None => format!("P0 {} / P1 {} / P2 {}", m.p0, m.p1, m.p2),
        };
        match &config.driver_model {
            Some(driver) => format!("{models}, driver {driver}"),
            None => models,
        }
    })
}

/// `--agent-version [NAME=]VALUE` (repeatable) and `--trust-card-version`.
fn pinning_from(args: &RunArgs) -> Result<crate::store::Pinning, CliError> {
    let mut pinning = crate::store::Pinning {
        trust_card_version: args.trust_card_version,
        ..crate::store::Pinning::default()
    };
    for text in &args.agent_versions {
        let named = text.split_once('=').filter(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
        let (name, value) = match named {
            Some((name, value)) => (Some(name), value.trim()),
            None => (None, text.trim()),
        };
        if value.is_empty() {
            return Err(CliError::usage(
                format!("--agent-version `{text}` gives no version"),
                "write --agent-version VALUE (e.g. a commit or an image digest) or NAME=VALUE",
            ));
        }
        match name {
            Some(name) => {
                pinning.per_agent.insert(name.to_owned(), value.to_owned());
            }
            None if pinning.all.as_deref().is_some_and(|v| v != value) => {
                return Err(CliError::usage(
                    format!("--agent-version is given twice for every agent ({text})"),
                    "give one --agent-version VALUE, or NAME=VALUE per agent",
                ));
            }
            None => pinning.all = Some(value.to_owned()),
        }
    }
    Ok(pinning)
}

/// `rogue-runner.toml`, the parts read here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct FileConfig {
    pub judge: FileJudge,
    pub cost: FileCost,
    pub store: FileStore,
}

/// `[store]`: the shared PostgreSQL store (`url`, without a password).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileStore {
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileJudge {
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub azure_api_version: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub model: Option<String>,
    pub models: FileModels,
    pub driver_model: Option<String>,
    pub requests_per_minute: Option<u32>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub structured_output: Option<bool>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileModels {
    pub p0: Option<String>,
    pub p1: Option<String>,
    pub p2: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileCost {
    pub pricing: Option<PathBuf>,
    pub runs_per_day: Option<u32>,
    pub max_cost: Option<f64>,
}

/// Reads `rogue-runner.toml` (or `$ROGUE_RUNNER_CONFIG`); a missing default file is fine.
pub(crate) fn load_file_config(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FileConfig, CliError> {
    match super::config_file::config_path(env) {
        None => Ok(FileConfig::default()),
        Some((path, _)) => parse_file_config(&path),
    }
}

fn parse_file_config(path: &Path) -> Result<FileConfig, CliError> {
    // Every key checked first, so that a misspelt one is an error at its place, not ignored.
    let checked =
        super::config_file::ConfigFile::read(path, &super::config_file::RunKeys::of_run_command())?;
    let text = checked.text();
    toml::from_str(text).map_err(|e| {
        CliError::usage(
            format!("{} is not a valid config file: {e}", path.display()),
            "see the [judge] and [cost] keys in `rogue-runner run --help`",
        )
    })
}

/// The real process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
