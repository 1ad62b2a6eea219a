//! Judge, driver and cost options, resolved in one place into a validated [`JudgeSetup`].
//!
//! Precedence for every setting: command-line flag, then environment variable, then
//! `rogue-runner.toml` (`[judge]` and `[cost]` tables; path from `ROGUE_RUNNER_CONFIG`, else
//! `./rogue-runner.toml`), then the built-in default. The judge is on when an API key is found (by default in
//! `OPENAI_API_KEY`) or a base URL is set (`OPENAI_BASE_URL` works), unless `--no-judge`.
//!
//! | setting | flag | environment | file |
//! |---|---|---|---|
//! | base URL | `--judge-base-url` | `ROGUE_JUDGE_BASE_URL`, then `OPENAI_BASE_URL` | `judge.base_url` |
//! | key variable | `--judge-api-key-env` | `ROGUE_JUDGE_API_KEY_ENV` | `judge.api_key_env` (default `OPENAI_API_KEY`) |
//! | Azure | `--judge-azure-api-version` | `ROGUE_JUDGE_AZURE_API_VERSION` | `judge.azure_api_version` |
//! | extra headers | `--judge-header NAME=ENV` | — | `judge.headers = { NAME = "ENV" }` |
//! | model (all) | `--judge-model` | `ROGUE_JUDGE_MODEL` | `judge.model` |
//! | per priority | `--judge-model-p0/-p1/-p2` | `ROGUE_JUDGE_MODEL_P0/_P1/_P2` | `judge.models.p0/p1/p2` |
//! | driver | `--driver-model` | `ROGUE_DRIVER_MODEL` | `judge.driver_model` |
//! | rate limit | `--judge-rpm` | `ROGUE_JUDGE_RPM` | `judge.requests_per_minute` |
//! | pricing | `--pricing FILE` | `ROGUE_PRICING` | `cost.pricing` |
//! | projection | `--runs-per-day` | `ROGUE_RUNS_PER_DAY` | `cost.runs_per_day` (default 5) |
//! | budget | `--max-cost USD` | `ROGUE_MAX_COST` | `cost.max_cost` |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::CliError;
use crate::cost::Pricing;
use crate::judge::llm::{KeyHeader, LlmEndpoint};
use crate::judge::{JudgeConfig, PriorityModels};
use crate::secret::Secret;

/// The config file read when `ROGUE_RUNNER_CONFIG` names none.
pub(crate) const CONFIG_FILE: &str = "rogue-runner.toml";

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Judge and cost")]
pub struct JudgeArgs {
    /// OpenAI-compatible base URL of the judge (`https://api.openai.com/v1`; Azure:
    /// `https://RESOURCE.openai.azure.com`). Env ROGUE_JUDGE_BASE_URL, then OPENAI_BASE_URL.
    #[arg(long, value_name = "URL")]
    pub judge_base_url: Option<String>,
    /// Name of the environment variable holding the judge API key [default: OPENAI_API_KEY].
    #[arg(long, value_name = "VAR")]
    pub judge_api_key_env: Option<String>,
    /// Azure OpenAI: the api-version; the key goes in `api-key` and models name deployments.
    #[arg(long, value_name = "VERSION")]
    pub judge_azure_api_version: Option<String>,
    /// Extra header on every judge request, its value read from environment variable ENV
    /// (repeatable).
    #[arg(long, value_name = "NAME=ENV")]
    pub judge_header: Vec<String>,
    /// Judge model for every scenario, overriding the scenario's own judge model.
    #[arg(long, value_name = "MODEL")]
    pub judge_model: Option<String>,
    /// Judge model for P0 scenarios that name none [default: gpt-4o].
    #[arg(long, value_name = "MODEL")]
    pub judge_model_p0: Option<String>,
    /// Judge model for P1 scenarios that name none [default: gpt-4o].
    #[arg(long, value_name = "MODEL")]
    pub judge_model_p1: Option<String>,
    /// Judge model for P2 scenarios that name none [default: gemini-2.5-flash].
    #[arg(long, value_name = "MODEL")]
    pub judge_model_p2: Option<String>,
    /// Model that plays the user in LLM-driven conversations [default: the judge model].
    #[arg(long, value_name = "MODEL")]
    pub driver_model: Option<String>,
    /// Client-side limit of judge and driver requests per minute [default: none].
    #[arg(long, value_name = "N")]
    pub judge_rpm: Option<u32>,
    /// Time limit of one judge request, 1ms to 24h [default: 120s].
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_limit)]
    pub judge_timeout: Option<Duration>,
    /// Retries of a judge request after a connection error, timeout or 5xx [default: 3]
    /// (429 answers are retried separately, waiting what the provider asks); 0 to 20.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=super::args::MAX_RETRIES))]
    pub judge_retries: Option<u32>,
    /// Do not ask for `response_format: json_schema` (verdicts are parsed leniently anyway).
    #[arg(long)]
    pub judge_no_structured_output: bool,
    /// Never call an LLM judge, even when an API key is set.
    #[arg(long)]
    pub no_judge: bool,
    /// Who rules on rubric items: our LLM judge, or a running Rogue server (--rogue-server).
    #[arg(long, value_enum, default_value_t = EvaluatorChoice::Llm)]
    pub evaluator: EvaluatorChoice,
    /// With --evaluator rogue: how often each Rogue job is polled, 1ms to 24h [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_limit)]
    pub rogue_poll_interval: Option<Duration>,
    /// Pricing file (TOML, same layout as the shipped pricing/prices.toml) whose entries add
    /// to or replace the shipped prices.
    #[arg(long, value_name = "FILE")]
    pub pricing: Option<PathBuf>,
    /// Runs per day assumed by the monthly cost projection [default: 5].
    #[arg(long, value_name = "N")]
    pub runs_per_day: Option<u32>,
    /// Budget in USD: no scenario starts whose projected cost, plus a reservation for those in
    /// flight, could take the run over it; the rest is skipped and the exit code is 4.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum EvaluatorChoice {
    /// Our LLM judge on any OpenAI-compatible endpoint.
    #[default]
    Llm,
    /// Delegate each scenario to a Rogue server's REST API.
    Rogue,
}

/// `rogue-runner.toml`, the parts read here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FileConfig {
    pub judge: FileJudge,
    pub cost: FileCost,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileJudge {
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
pub struct FileModels {
    pub p0: Option<String>,
    pub p1: Option<String>,
    pub p2: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileCost {
    pub pricing: Option<PathBuf>,
    pub runs_per_day: Option<u32>,
    pub max_cost: Option<f64>,
}

/// The resolved judge, driver and cost settings.
#[derive(Debug, Clone)]
pub struct JudgeSetup {
    /// `None`: no judge (no key and no base URL, or `--no-judge`).
    pub judge: Option<JudgeConfig>,
    /// The settings the judge would use, even when it is off (for `estimate`).
    pub would_use: JudgeConfig,
    pub evaluator: EvaluatorChoice,
    pub pricing: Pricing,
    pub runs_per_day: u32,
    pub max_cost: Option<f64>,
    /// Where the judge key is read from, for messages (never the key).
    pub key_source: String,
    /// The judge base URL when one was set (flag, env or file), for Rogue's `judge_llm_api_base`.
    pub explicit_base_url: Option<String>,
    /// How often a Rogue job is polled.
    pub rogue_poll_interval: Duration,
}

/// Reads `rogue-runner.toml` (or `$ROGUE_RUNNER_CONFIG`); a missing default file is fine.
pub(crate) fn load_file_config(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FileConfig, CliError> {
    let (path, required) = match env("ROGUE_RUNNER_CONFIG").filter(|p| !p.is_empty()) {
        Some(p) => (PathBuf::from(p), true),
        None => (PathBuf::from(CONFIG_FILE), false),
    };
    if !required && !path.exists() {
        return Ok(FileConfig::default());
    }
    parse_file_config(&path)
}

fn parse_file_config(path: &Path) -> Result<FileConfig, CliError> {
    let text = fs_err::read_to_string(path).map_err(|e| {
        CliError::usage(e.to_string(), "check ROGUE_RUNNER_CONFIG or ./rogue-runner.toml")
    })?;
    toml::from_str(&text).map_err(|e| {
        CliError::usage(
            format!("{} is not a valid config file: {e}", path.display()),
            "see the [judge] and [cost] keys in `rogue-runner run --help`",
        )
    })
}

impl JudgeArgs {
    /// Resolves flags over `env` over `file` over defaults.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        file: &FileConfig,
    ) -> Result<JudgeSetup, CliError> {
        let env_nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let fj = &file.judge;
        let pick = |flag: &Option<String>, var: &str, from_file: &Option<String>| {
            flag.clone().or_else(|| env_nonempty(var)).or_else(|| from_file.clone())
        };
        let explicit_base = self
            .judge_base_url
            .clone()
            .or_else(|| env_nonempty("ROGUE_JUDGE_BASE_URL"))
            .or_else(|| env_nonempty("OPENAI_BASE_URL"))
            .or_else(|| fj.base_url.clone());
        let base_url = explicit_base.clone().unwrap_or_else(|| LlmEndpoint::default().base_url);
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(CliError::usage(
                format!("judge base URL `{base_url}` is not an http:// or https:// URL"),
                "for example --judge-base-url https://api.openai.com/v1",
            ));
        }
        let key_var = pick(&self.judge_api_key_env, "ROGUE_JUDGE_API_KEY_ENV", &fj.api_key_env)
            .unwrap_or_else(|| "OPENAI_API_KEY".to_owned());
        let api_key = env_nonempty(&key_var).map(Secret::new);
        let azure = pick(
            &self.judge_azure_api_version,
            "ROGUE_JUDGE_AZURE_API_VERSION",
            &fj.azure_api_version,
        );
        let mut headers = Vec::new();
        let header_specs: Vec<(String, String)> = if self.judge_header.is_empty() {
            fj.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            let mut specs = Vec::new();
            for spec in &self.judge_header {
                let (name, var) = spec.split_once('=').ok_or_else(|| {
                    CliError::usage(
                        format!("--judge-header `{spec}` is not NAME=ENV"),
                        "the value is read from an environment variable: --judge-header OpenAI-Organization=OPENAI_ORG",
                    )
                })?;
                specs.push((name.trim().to_owned(), var.trim().to_owned()));
            }
            specs
        };
        for (name, var) in header_specs {
            let value = env_nonempty(&var).ok_or_else(|| {
                CliError::usage(
                    format!(
                        "judge header {name} names the environment variable {var}, which is not set"
                    ),
                    format!("export {var}=… before running"),
                )
            })?;
            headers.push((name, Secret::new(value)));
        }
        let timeout = match (&self.judge_timeout, &fj.timeout) {
            (Some(t), _) => *t,
            (None, Some(text)) => super::args::parse_limit(text).map_err(|e| {
                CliError::usage(format!("judge.timeout: {e}"), "write e.g. \"120s\"")
            })?,
            (None, None) => LlmEndpoint::default().timeout,
        };
        let rpm = self
            .judge_rpm
            .or_else(|| env_nonempty("ROGUE_JUDGE_RPM").and_then(|v| v.trim().parse().ok()))
            .or(fj.requests_per_minute);
        let endpoint = LlmEndpoint {
            base_url,
            api_key,
            key_header: if azure.is_some() {
                KeyHeader::Named("api-key".to_owned())
            } else {
                KeyHeader::Bearer
            },
            azure_api_version: azure,
            headers,
            timeout,
            retries: match self.judge_retries.or(fj.retries) {
                Some(n) if i64::from(n) > super::args::MAX_RETRIES => {
                    return Err(CliError::usage(
                        format!("judge.retries = {n} is more than the 20 retries accepted"),
                        "write a number from 0 to 20 in rogue-runner.toml",
                    ));
                }
                Some(n) => n,
                None => LlmEndpoint::default().retries,
            },
            requests_per_minute: rpm.filter(|&n| n > 0),
            structured_output: !self.judge_no_structured_output
                && fj.structured_output.unwrap_or(true),
            ..LlmEndpoint::default()
        };
        let defaults = PriorityModels::default();
        let models = PriorityModels {
            p0: pick(&self.judge_model_p0, "ROGUE_JUDGE_MODEL_P0", &fj.models.p0)
                .unwrap_or(defaults.p0),
            p1: pick(&self.judge_model_p1, "ROGUE_JUDGE_MODEL_P1", &fj.models.p1)
                .unwrap_or(defaults.p1),
            p2: pick(&self.judge_model_p2, "ROGUE_JUDGE_MODEL_P2", &fj.models.p2)
                .unwrap_or(defaults.p2),
        };
        let config = JudgeConfig {
            force_model: pick(&self.judge_model, "ROGUE_JUDGE_MODEL", &fj.model),
            driver_model: pick(&self.driver_model, "ROGUE_DRIVER_MODEL", &fj.driver_model),
            models,
            endpoint,
            ..JudgeConfig::default()
        };
        let enabled = !self.no_judge
            && fj.enabled != Some(false)
            && (config.endpoint.api_key.is_some() || explicit_base.is_some());
        let pricing_file = self
            .pricing
            .clone()
            .or_else(|| env_nonempty("ROGUE_PRICING").map(PathBuf::from))
            .or_else(|| file.cost.pricing.clone());
        let pricing = match pricing_file {
            Some(path) => Pricing::with_overrides(&path).map_err(|e| {
                CliError::usage(e.to_string(), "the layout is the one of pricing/prices.toml")
            })?,
            None => Pricing::shipped(),
        };
        let runs_per_day = self
            .runs_per_day
            .or_else(|| env_nonempty("ROGUE_RUNS_PER_DAY").and_then(|v| v.trim().parse().ok()))
            .or(file.cost.runs_per_day)
            .unwrap_or(5);
        let max_cost = self
            .max_cost
            .or_else(|| env_nonempty("ROGUE_MAX_COST").and_then(|v| v.trim().parse().ok()))
            .or(file.cost.max_cost);
        if let Some(budget) = max_cost
            && !(budget.is_finite() && budget >= 0.0)
        {
            return Err(CliError::usage(
                format!("--max-cost {budget} is not an amount in USD"),
                "for example --max-cost 2.50",
            ));
        }
        let key_source = if config.endpoint.api_key.is_some() {
            format!("${key_var}")
        } else {
            format!("no key (${key_var} is not set)")
        };
        Ok(JudgeSetup {
            judge: enabled.then(|| config.clone()),
            would_use: config,
            evaluator: self.evaluator,
            pricing,
            runs_per_day,
            max_cost,
            key_source,
            explicit_base_url: explicit_base,
            rogue_poll_interval: self.rogue_poll_interval.unwrap_or(Duration::from_secs(1)),
        })
    }
}

/// The real process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn openai_env_alone_turns_the_judge_on() {
        let setup = JudgeArgs::default()
            .resolve(
                &env_of(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", "http://h/v1")]),
                &FileConfig::default(),
            )
            .unwrap();
        let judge = setup.judge.unwrap();
        assert_eq!(judge.endpoint.base_url, "http://h/v1");
        assert_eq!(judge.endpoint.api_key.unwrap().expose(), "sk-x");
        assert_eq!(judge.models, PriorityModels::default());
        assert_eq!(setup.runs_per_day, 5);
    }

    #[test]
    fn nothing_set_means_no_judge() {
        let setup = JudgeArgs::default().resolve(&env_of(&[]), &FileConfig::default()).unwrap();
        assert!(setup.judge.is_none());
        assert!(setup.key_source.contains("OPENAI_API_KEY"));
    }

    #[test]
    fn flag_over_env_over_file_over_default() {
        let file: FileConfig = toml::from_str(
            "[judge]\nbase_url = \"http://file/v1\"\nmodel = \"file-model\"\nrequests_per_minute = 60\n[judge.models]\np2 = \"file-p2\"\n[cost]\nruns_per_day = 7\n",
        )
        .unwrap();
        let env = env_of(&[("ROGUE_JUDGE_MODEL", "env-model"), ("OPENAI_API_KEY", "k")]);
        let setup = JudgeArgs::default().resolve(&env, &file).unwrap();
        let j = setup.judge.unwrap();
        assert_eq!(j.endpoint.base_url, "http://file/v1");
        assert_eq!(j.force_model.as_deref(), Some("env-model"));
        assert_eq!(j.models.p2, "file-p2");
        assert_eq!(j.endpoint.requests_per_minute, Some(60));
        assert_eq!(setup.runs_per_day, 7);
        let args = JudgeArgs {
            judge_model: Some("flag-model".into()),
            judge_base_url: Some("http://flag/v1".into()),
            ..JudgeArgs::default()
        };
        let j = args.resolve(&env, &file).unwrap().judge.unwrap();
        assert_eq!(j.force_model.as_deref(), Some("flag-model"));
        assert_eq!(j.endpoint.base_url, "http://flag/v1");
    }

    #[test]
    fn azure_sends_the_key_as_api_key_and_headers_come_from_env() {
        let args = JudgeArgs {
            judge_base_url: Some("https://r.openai.azure.com".into()),
            judge_api_key_env: Some("AZURE_OPENAI_API_KEY".into()),
            judge_azure_api_version: Some("2024-10-21".into()),
            judge_header: vec!["X-Org=ORG".into()],
            ..JudgeArgs::default()
        };
        let env = env_of(&[("AZURE_OPENAI_API_KEY", "az"), ("ORG", "o1")]);
        let j = args.resolve(&env, &FileConfig::default()).unwrap().judge.unwrap();
        assert_eq!(j.endpoint.key_header, KeyHeader::Named("api-key".into()));
        assert_eq!(j.endpoint.headers[0].1.expose(), "o1");
        let missing = JudgeArgs { judge_header: vec!["X=UNSET".into()], ..JudgeArgs::default() };
        assert!(missing.resolve(&env_of(&[]), &FileConfig::default()).is_err());
    }

    #[test]
    fn no_judge_wins_and_bad_values_are_refused() {
        let args = JudgeArgs { no_judge: true, ..JudgeArgs::default() };
        assert!(
            args.resolve(&env_of(&[("OPENAI_API_KEY", "k")]), &FileConfig::default())
                .unwrap()
                .judge
                .is_none()
        );
        let args = JudgeArgs { max_cost: Some(-1.0), ..JudgeArgs::default() };
        assert!(args.resolve(&env_of(&[]), &FileConfig::default()).is_err());
        let args = JudgeArgs { judge_base_url: Some("ftp://x".into()), ..JudgeArgs::default() };
        assert!(args.resolve(&env_of(&[]), &FileConfig::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[judge]\nbogus = 1\n").is_err());
    }
}
