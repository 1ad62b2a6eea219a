//! Judge, driver and cost options, resolved into a validated [`JudgeSetup`] through the one
//! mechanism of [`super::config`].
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

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::CliError;
use super::config::{FileConfig, Layers};
use crate::cost::Pricing;
use crate::judge::llm::{KeyHeader, LlmEndpoint};
use crate::judge::{JudgeConfig, PriorityModels};
use crate::secret::Secret;
use crate::session::{Evaluator, JudgeSetup, Source};

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Judge and cost")]
pub struct JudgeArgs {
    /// OpenAI-compatible base URL of the judge (`https://api.openai.com/v1`; Azure:
    /// `https://RESOURCE.openai.azure.com`). Env ROGUE_JUDGE_BASE_URL, then OPENAI_BASE_URL.
    #[arg(long, value_name = "URL", env = "ROGUE_JUDGE_BASE_URL", hide_env = true)]
    pub judge_base_url: Option<String>,
    /// Name of the environment variable holding the judge API key [default: OPENAI_API_KEY].
    #[arg(long, value_name = "VAR", env = "ROGUE_JUDGE_API_KEY_ENV", hide_env = true)]
    pub judge_api_key_env: Option<String>,
    /// Azure OpenAI: the api-version; the key goes in `api-key` and models name deployments.
    #[arg(long, value_name = "VERSION", env = "ROGUE_JUDGE_AZURE_API_VERSION", hide_env = true)]
    pub judge_azure_api_version: Option<String>,
    /// Extra header on every judge request, its value read from environment variable ENV
    /// (repeatable).
    #[arg(long, value_name = "NAME=ENV")]
    pub judge_header: Vec<String>,
    /// Judge model for every scenario, overriding the scenario's own judge model.
    #[arg(long, value_name = "MODEL", env = "ROGUE_JUDGE_MODEL", hide_env = true)]
    pub judge_model: Option<String>,
    /// Judge model for P0 scenarios that name none [default: gpt-4o].
    #[arg(long, value_name = "MODEL", env = "ROGUE_JUDGE_MODEL_P0", hide_env = true)]
    pub judge_model_p0: Option<String>,
    /// Judge model for P1 scenarios that name none [default: gpt-4o].
    #[arg(long, value_name = "MODEL", env = "ROGUE_JUDGE_MODEL_P1", hide_env = true)]
    pub judge_model_p1: Option<String>,
    /// Judge model for P2 scenarios that name none [default: gemini-2.5-flash].
    #[arg(long, value_name = "MODEL", env = "ROGUE_JUDGE_MODEL_P2", hide_env = true)]
    pub judge_model_p2: Option<String>,
    /// Model that plays the user in LLM-driven conversations [default: the judge model].
    #[arg(long, value_name = "MODEL", env = "ROGUE_DRIVER_MODEL", hide_env = true)]
    pub driver_model: Option<String>,
    /// Client-side limit of judge and driver requests per minute, for the whole run: with
    /// --partition hash:K/N each shard takes 1/N of it [default: none].
    #[arg(long, value_name = "N", env = "ROGUE_JUDGE_RPM", hide_env = true)]
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
    /// With --evaluator rogue: the longest wait between two polls of a Rogue job (the first
    /// is 50ms, each next one half as long again), 1ms to 24h [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_limit)]
    pub rogue_poll_interval: Option<Duration>,
    /// Pricing file (TOML, same layout as the shipped pricing/prices.toml) whose entries add
    /// to or replace the shipped prices.
    #[arg(long, value_name = "FILE", env = "ROGUE_PRICING", hide_env = true)]
    pub pricing: Option<PathBuf>,
    /// Runs per day assumed by the monthly cost projection [default: 5].
    #[arg(long, value_name = "N", env = "ROGUE_RUNS_PER_DAY", hide_env = true)]
    pub runs_per_day: Option<u32>,
    /// Budget in USD: no scenario starts whose projected cost, plus a reservation for those in
    /// flight, could take the run over it; the rest is skipped and the exit code is 4.
    #[arg(long, value_name = "USD", env = "ROGUE_MAX_COST", hide_env = true)]
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

impl JudgeArgs {
    /// Lays `file` and the defaults under the flags and variables clap read, recording each
    /// setting in `layers`. `env` is read only for what is not a setting: the variables that
    /// hold the key and the extra headers, and `OPENAI_BASE_URL` (the second variable of the
    /// base URL, after `ROGUE_JUDGE_BASE_URL`).
    pub(super) fn resolve(
        &self,
        layers: &mut Layers<'_>,
        env: &dyn Fn(&str) -> Option<String>,
        file: &FileConfig,
    ) -> Result<JudgeSetup, CliError> {
        let env_nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let fj = &file.judge;
        let explicit_base = match self.judge_base_url.as_ref() {
            Some(url) => layers.pick(
                "--judge-base-url",
                ("judge_base_url", "ROGUE_JUDGE_BASE_URL"),
                Some(url),
                ("judge.base_url", None),
            ),
            None => match env_nonempty("OPENAI_BASE_URL") {
                Some(url) => {
                    layers.other(
                        "--judge-base-url",
                        format!("{url:?}"),
                        Source::Env("OPENAI_BASE_URL".to_owned()),
                    );
                    Some(url)
                }
                None => layers.pick(
                    "--judge-base-url",
                    ("judge_base_url", "ROGUE_JUDGE_BASE_URL"),
                    None,
                    ("judge.base_url", fj.base_url.as_ref()),
                ),
            },
        };
        let base_url = explicit_base.clone().unwrap_or_else(|| LlmEndpoint::default().base_url);
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(CliError::usage(
                format!("judge base URL `{base_url}` is not an http:// or https:// URL"),
                "for example --judge-base-url https://api.openai.com/v1",
            ));
        }
        let key_var = layers
            .pick(
                "--judge-api-key-env",
                ("judge_api_key_env", "ROGUE_JUDGE_API_KEY_ENV"),
                self.judge_api_key_env.as_ref(),
                ("judge.api_key_env", fj.api_key_env.as_ref()),
            )
            .unwrap_or_else(|| "OPENAI_API_KEY".to_owned());
        let api_key = env_nonempty(&key_var).map(Secret::new);
        let azure = layers.pick(
            "--judge-azure-api-version",
            ("judge_azure_api_version", "ROGUE_JUDGE_AZURE_API_VERSION"),
            self.judge_azure_api_version.as_ref(),
            ("judge.azure_api_version", fj.azure_api_version.as_ref()),
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
        let timeout_text = layers.pick(
            "--judge-timeout",
            ("judge_timeout", ""),
            self.judge_timeout.map(|t| humantime::format_duration(t).to_string()).as_ref(),
            ("judge.timeout", fj.timeout.as_ref()),
        );
        let timeout = match (&self.judge_timeout, timeout_text) {
            (Some(t), _) => *t,
            (None, Some(text)) => super::args::parse_limit(&text).map_err(|e| {
                CliError::usage(format!("judge.timeout: {e}"), "write e.g. \"120s\"")
            })?,
            (None, None) => LlmEndpoint::default().timeout,
        };
        let rpm = layers.pick(
            "--judge-rpm",
            ("judge_rpm", "ROGUE_JUDGE_RPM"),
            self.judge_rpm.as_ref(),
            ("judge.requests_per_minute", fj.requests_per_minute.as_ref()),
        );
        let retries = layers.pick(
            "--judge-retries",
            ("judge_retries", ""),
            self.judge_retries.as_ref(),
            ("judge.retries", fj.retries.as_ref()),
        );
        let structured_output = !self.judge_no_structured_output
            && layers
                .pick(
                    "--judge-no-structured-output",
                    ("judge_no_structured_output", ""),
                    None,
                    ("judge.structured_output", fj.structured_output.as_ref()),
                )
                .unwrap_or(true);
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
            retries: match retries {
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
            structured_output,
            ..LlmEndpoint::default()
        };
        let defaults = PriorityModels::default();
        let mut model = |flag, arg: (&str, &str), value: &Option<String>, key, from_file| {
            layers.pick(flag, arg, value.as_ref(), (key, from_file))
        };
        let models = PriorityModels {
            p0: model(
                "--judge-model-p0",
                ("judge_model_p0", "ROGUE_JUDGE_MODEL_P0"),
                &self.judge_model_p0,
                "judge.models.p0",
                fj.models.p0.as_ref(),
            )
            .unwrap_or(defaults.p0),
            p1: model(
                "--judge-model-p1",
                ("judge_model_p1", "ROGUE_JUDGE_MODEL_P1"),
                &self.judge_model_p1,
                "judge.models.p1",
                fj.models.p1.as_ref(),
            )
            .unwrap_or(defaults.p1),
            p2: model(
                "--judge-model-p2",
                ("judge_model_p2", "ROGUE_JUDGE_MODEL_P2"),
                &self.judge_model_p2,
                "judge.models.p2",
                fj.models.p2.as_ref(),
            )
            .unwrap_or(defaults.p2),
        };
        let force_model = model(
            "--judge-model",
            ("judge_model", "ROGUE_JUDGE_MODEL"),
            &self.judge_model,
            "judge.model",
            fj.model.as_ref(),
        );
        let driver_model = model(
            "--driver-model",
            ("driver_model", "ROGUE_DRIVER_MODEL"),
            &self.driver_model,
            "judge.driver_model",
            fj.driver_model.as_ref(),
        );
        let config =
            JudgeConfig { endpoint, models, force_model, driver_model, ..JudgeConfig::default() };
        let enabled = !self.no_judge
            && layers.pick(
                "--no-judge",
                ("no_judge", ""),
                None,
                ("judge.enabled", fj.enabled.as_ref()),
            ) != Some(false)
            && (config.endpoint.api_key.is_some() || explicit_base.is_some());
        let pricing_file = layers.pick(
            "--pricing",
            ("pricing", "ROGUE_PRICING"),
            self.pricing.as_ref(),
            ("cost.pricing", file.cost.pricing.as_ref()),
        );
        let pricing = match pricing_file {
            Some(path) => Pricing::with_overrides(&path).map_err(|e| {
                CliError::usage(e.to_string(), "the layout is the one of pricing/prices.toml")
            })?,
            None => Pricing::shipped(),
        };
        let runs_per_day = layers.pick(
            "--runs-per-day",
            ("runs_per_day", "ROGUE_RUNS_PER_DAY"),
            self.runs_per_day.as_ref(),
            ("cost.runs_per_day", file.cost.runs_per_day.as_ref()),
        );
        let runs_per_day = runs_per_day.unwrap_or_else(|| {
            layers.default("--runs-per-day", &5);
            5
        });
        let max_cost = layers.pick(
            "--max-cost",
            ("max_cost", "ROGUE_MAX_COST"),
            self.max_cost.as_ref(),
            ("cost.max_cost", file.cost.max_cost.as_ref()),
        );
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
            evaluator: match self.evaluator {
                EvaluatorChoice::Llm => Evaluator::Llm,
                EvaluatorChoice::Rogue => Evaluator::Rogue,
            },
            pricing,
            runs_per_day,
            max_cost,
            key_source,
            explicit_base_url: explicit_base,
            rogue_poll_interval: self.rogue_poll_interval.unwrap_or(Duration::from_secs(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::config::ArgSources;
    use clap::parser::ValueSource;

    impl JudgeArgs {
        /// As if every value set here came from a flag.
        fn resolve_plain(
            &self,
            env: &dyn Fn(&str) -> Option<String>,
            file: &FileConfig,
        ) -> Result<JudgeSetup, CliError> {
            self.resolve(&mut Layers::new(&ArgSources::default()), env, file)
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn openai_env_alone_turns_the_judge_on() {
        let setup = JudgeArgs::default()
            .resolve_plain(
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
        let setup =
            JudgeArgs::default().resolve_plain(&env_of(&[]), &FileConfig::default()).unwrap();
        assert!(setup.judge.is_none());
        assert!(setup.key_source.contains("OPENAI_API_KEY"));
    }

    #[test]
    fn flag_over_env_over_file_over_default() {
        let file: FileConfig = toml::from_str(
            "[judge]\nbase_url = \"http://file/v1\"\nmodel = \"file-model\"\nrequests_per_minute = 60\n[judge.models]\np2 = \"file-p2\"\n[cost]\nruns_per_day = 7\n",
        )
        .unwrap();
        let env = env_of(&[("OPENAI_API_KEY", "k")]);
        // clap read ROGUE_JUDGE_MODEL into the argument.
        let from_env = ArgSources::from_pairs(&[("judge_model", ValueSource::EnvVariable)]);
        let args = JudgeArgs { judge_model: Some("env-model".into()), ..JudgeArgs::default() };
        let mut layers = Layers::new(&from_env);
        let setup = args.resolve(&mut layers, &env, &file).unwrap();
        let settings = layers.into_settings();
        let j = setup.judge.unwrap();
        assert_eq!(j.endpoint.base_url, "http://file/v1");
        assert_eq!(j.force_model.as_deref(), Some("env-model"));
        assert_eq!(j.models.p2, "file-p2");
        assert_eq!(j.endpoint.requests_per_minute, Some(60));
        assert_eq!(setup.runs_per_day, 7);
        let source =
            |flag: &str| settings.iter().find(|s| s.flag == flag).map(|s| s.source.clone());
        assert_eq!(source("--judge-model"), Some(Source::Env("ROGUE_JUDGE_MODEL".into())));
        assert_eq!(source("--judge-base-url"), Some(Source::File("judge.base_url".into())));
        assert_eq!(source("--runs-per-day"), Some(Source::File("cost.runs_per_day".into())));
        assert_eq!(source("--judge-model-p0"), None, "a built-in model default is not a setting");
        let args = JudgeArgs {
            judge_model: Some("flag-model".into()),
            judge_base_url: Some("http://flag/v1".into()),
            ..JudgeArgs::default()
        };
        let mut layers = Layers::new(&from_env);
        let j = args.resolve(&mut layers, &env, &file).unwrap().judge.unwrap();
        assert_eq!(j.force_model.as_deref(), Some("flag-model"));
        assert_eq!(j.endpoint.base_url, "http://flag/v1");
        let settings = layers.into_settings();
        let base = settings.iter().find(|s| s.flag == "--judge-base-url").unwrap();
        assert_eq!(base.source, Source::Flag);
    }

    #[test]
    fn openai_base_url_comes_after_rogue_judge_base_url() {
        let env = env_of(&[("OPENAI_BASE_URL", "http://openai/v1")]);
        let from_env = ArgSources::from_pairs(&[("judge_base_url", ValueSource::EnvVariable)]);
        let args =
            JudgeArgs { judge_base_url: Some("http://rogue/v1".into()), ..JudgeArgs::default() };
        let setup = args.resolve(&mut Layers::new(&from_env), &env, &FileConfig::default());
        assert_eq!(setup.unwrap().would_use.endpoint.base_url, "http://rogue/v1");
        let setup = JudgeArgs::default().resolve_plain(&env, &FileConfig::default()).unwrap();
        assert_eq!(setup.would_use.endpoint.base_url, "http://openai/v1");
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
        let j = args.resolve_plain(&env, &FileConfig::default()).unwrap().judge.unwrap();
        assert_eq!(j.endpoint.key_header, KeyHeader::Named("api-key".into()));
        assert_eq!(j.endpoint.headers[0].1.expose(), "o1");
        let missing = JudgeArgs { judge_header: vec!["X=UNSET".into()], ..JudgeArgs::default() };
        assert!(missing.resolve_plain(&env_of(&[]), &FileConfig::default()).is_err());
    }

    #[test]
    fn no_judge_wins_and_bad_values_are_refused() {
        let args = JudgeArgs { no_judge: true, ..JudgeArgs::default() };
        assert!(
            args.resolve_plain(&env_of(&[("OPENAI_API_KEY", "k")]), &FileConfig::default())
                .unwrap()
                .judge
                .is_none()
        );
        let args = JudgeArgs { max_cost: Some(-1.0), ..JudgeArgs::default() };
        assert!(args.resolve_plain(&env_of(&[]), &FileConfig::default()).is_err());
        let args = JudgeArgs { judge_base_url: Some("ftp://x".into()), ..JudgeArgs::default() };
        assert!(args.resolve_plain(&env_of(&[]), &FileConfig::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[judge]\nbogus = 1\n").is_err());
    }
}
