//! The validated configuration of a run, as the command line resolved it (flags over
//! environment over `rogue-runner.toml` over defaults), with where each setting came from.

use std::path::PathBuf;
use std::time::Duration;

use crate::cost::Pricing;
use crate::engine::{AgentRouting, RunOptions};
use crate::judge::JudgeConfig;
use crate::report::{ProgressMode, ReportFormats};
use crate::scenario::{LoadOptions, Selection};

use super::StoreOptions;

/// Where a setting's value came from, highest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// This environment variable.
    Env(String),
    /// This key of the config file (`judge.model`).
    File(String),
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File(key) => write!(f, "config file {key}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One resolved setting: its flag, its value as shown to a person (never a secret: settings
/// that name a key hold the variable's name), and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub flag: &'static str,
    pub value: String,
    pub source: Source,
}

/// Who rules on rubric items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Evaluator {
    /// Our LLM judge.
    #[default]
    Llm,
    /// A Rogue server, one job per scenario.
    Rogue,
}

/// The resolved judge, driver and cost settings.
#[derive(Debug, Clone)]
pub struct JudgeSetup {
    /// `None`: no judge (no key and no base URL, or `--no-judge`).
    pub judge: Option<JudgeConfig>,
    /// The settings the judge would use, even when it is off (for `estimate`).
    pub would_use: JudgeConfig,
    pub evaluator: Evaluator,
    pub pricing: Pricing,
    pub runs_per_day: u32,
    /// `--max-cost`: the run's budget in USD.
    pub max_cost: Option<f64>,
    /// Where the judge key is read from, for messages (never the key).
    pub key_source: String,
    /// The judge base URL when one was set (flag, env or file), for Rogue's `judge_llm_api_base`.
    pub explicit_base_url: Option<String>,
    /// The longest wait between two polls of a Rogue job.
    pub rogue_poll_interval: Duration,
}

/// Everything a run needs, checked before any work starts.
#[derive(Debug)]
pub struct RunConfig {
    pub paths: Vec<PathBuf>,
    pub selection: Selection,
    pub load: LoadOptions,
    pub routing: AgentRouting,
    /// `--rogue-server`, also the Rogue evaluator's server.
    pub rogue_server: String,
    /// How the engine runs. Its clients (`judge`, `rogue`) are left unset: the
    /// [`Session`](super::Session) builds them once, on its one connection pool.
    pub options: RunOptions,
    pub output_dir: PathBuf,
    pub formats: ReportFormats,
    pub progress: ProgressMode,
    /// Colour on stderr (`--color`, `NO_COLOR`).
    pub color: bool,
    /// The `-v` count.
    pub verbose: u8,
    /// `-q`: the progress shows only the one-line result.
    pub quiet: bool,
    /// Append summary.md to `$GITHUB_STEP_SUMMARY` when that is set (not `--no-step-summary`).
    pub step_summary: bool,
    pub store: StoreOptions,
    pub judge: JudgeSetup,
    /// Every setting that an environment variable or the config file can give, with where
    /// its value came from.
    pub settings: Vec<Setting>,
}
