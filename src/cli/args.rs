//! Raw command-line arguments (clap). `config::run_config` turns them into a validated
//! configuration in one step.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::ReportFormats;
use crate::scenario::{LoadOptions, Priority};

const AFTER_HELP: &str = "\
Exit codes:
  0    every selected scenario passed
  1    at least one scenario failed (a quality verdict)
  2    usage, configuration or scenario validation error (nothing ran)
  3    aborted by fail-fast (P0 pass rate below --p0-threshold)
  4    cost budget exhausted (--max-cost)
  5    nothing failed, but at least one scenario errored (agent unreachable, timeout, protocol)
  130  interrupted (Ctrl-C)

Examples:
  rogue-runner demo
  rogue-runner --scenarios-dir tests/rogue/scenarios/ --output-dir reports/rogue/
  rogue-runner --scenarios-dir tests/rogue/scenarios/ --priority P0 --parallel 3
  rogue-runner run tests/rogue/scenarios/ --reports junit,md
  rogue-runner run smoke.yaml --agent 'default=http://localhost:9001/a2a/support'
  rogue-runner validate tests/rogue/scenarios/
  rogue-runner list tests/rogue/scenarios/ --priority P0 --format json
  rogue-runner -vv --log-file run.log --scenarios-dir tests/rogue/scenarios/";

const WATCH_AFTER_HELP: &str = "\
Runs the selected scenarios once, then waits. When a scenario file under PATH changes, the
selected scenarios of that file run again (with --use-cache, unchanged results come back at
once); when rogue-runner.toml (or $ROGUE_RUNNER_CONFIG) changes, the settings are read again
and every selected scenario runs. A file that becomes invalid prints its problems and is run
again once it is fixed. Filters, -E 'status(…)' and --rerun-failed are resolved when watch
starts (and when the config file changes).

Exit codes:
  0    stopped with Ctrl-C while waiting for changes (whatever the last run found)
  2    usage or configuration error at start (nothing ran)
  130  Ctrl-C during a run: the run stops as `run` does, and so does watch
  143  SIGTERM (129: SIGHUP), during a run or while waiting

Examples:
  rogue-runner watch tests/rogue/scenarios/ --use-cache
  rogue-runner watch tests/rogue/scenarios/checkout.yaml --agent '*=http://localhost:9000'";

/// Run LLM-agent test scenarios in parallel against live agents.
///
/// With no subcommand, runs the scenarios in PATH… and --scenarios-dir (the same as `run`).
#[derive(Debug, Parser)]
#[command(
    name = "rogue-runner",
    version,
    about,
    long_about = None,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub log: LogArgs,

    #[command(flatten)]
    pub run: RunArgs,
}

/// How much is said, and where the log goes: global flags, accepted before or after the
/// subcommand (`rogue-runner -v run …` and `rogue-runner run -v …`).
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Say more: -v adds a line for every scenario as it finishes (outcome, agent, latency,
    /// judge time, cost, cache); -vv also logs every HTTP request and answer to agents, judge
    /// and Rogue server (method, URL, status, sizes, latency; credentials masked). RUST_LOG
    /// (e.g. `rogue_runner::http=debug`) overrides the log filter.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Say only what must be seen: errors, and the one-line result of a run. No progress,
    /// recap, warnings or notes (validate: errors only, no warnings).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Also write the log to PATH (appended, no colours): every request and answer as at
    /// -vv plus every scenario's line, or what RUST_LOG selects, whatever -v/-q show.
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum Command {
    /// Run scenarios against their agents and write reports (the default command).
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Run the scenarios in PATH…, then rerun a file's scenarios each time it changes, until
    /// Ctrl-C; takes the same options as `run`.
    #[command(after_help = WATCH_AFTER_HELP)]
    Watch(Box<RunArgs>),
    /// Project the LLM cost of the selected scenarios (per run and per month) without running
    /// anything; takes the same options as `run`.
    Estimate(Box<RunArgs>),
    /// Load and check scenario files; print every problem with file:line:col. Exit 2 on errors.
    Validate(ValidateArgs),
    /// List the selected scenarios with counts by priority, category, agent and file.
    List(ListArgs),
    /// Print the JSON Schema of rogue-runner's own scenario format.
    Schema,
    /// Run the bundled example scenarios against an embedded demo agent (no network, no key).
    Demo(DemoArgs),
    /// Serve the demo A2A agent on 127.0.0.1, answering for any agent name under /a2a/{name}.
    MockAgent(MockAgentArgs),
    /// Combine the reports of partitioned runs (--partition hash:K/N) into one set of reports.
    Merge(MergeArgs),
    /// Inspect or clean the result cache in --cache-dir: stats, clear, prune.
    Cache(CacheArgs),
    /// List the runs recorded in --cache-dir, newest first.
    History(HistoryArgs),
    /// Compare two recorded runs: newly failing, fixed, still failing, flaky, cost, latency.
    Compare(CompareArgs),
    /// Print the resolved settings of a run and where each came from (flag, environment,
    /// config file and profile, default). Takes `run`'s options after its own.
    Config(ConfigArgs),
    /// Serve a read-only web dashboard over the store (--cache-dir, or --store): runs and
    /// trends, each run's scenarios, comparisons, one scenario across runs, and the run in
    /// progress, live.
    Serve(ServeArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of rogue-runner, or of one subcommand.
    Man {
        /// The subcommand whose page to print (`run`, `list`, …); the whole command if omitted.
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
}

/// Filters shared by run, list and validate.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only these priorities (P0, P1, P2); repeat or separate with commas.
    #[arg(long, value_name = "P0|P1|P2", value_delimiter = ',')]
    pub priority: Vec<Priority>,
    /// Only scenarios of these categories; repeat or separate with commas.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub category: Vec<String>,
    /// Only scenarios with at least one of these tags; repeat or separate with commas.
    #[arg(long, value_name = "TAG", value_delimiter = ',')]
    pub tag: Vec<String>,
    /// Only scenarios whose id matches this glob (`qa_*`, `*_p0_*`); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub id: Vec<String>,
    /// Only scenarios matching this filter expression, e.g.
    /// 'priority(P0) and not agent(qa_*) and (tag(security) or category(edge_case))'.
    /// Predicates: id, file, agent, category, tag (globs), priority(P0,P1), all(), none(),
    /// status(failed|error|flaky|new|passed|unassessed|skipped) from the latest run recorded in
    /// --cache-dir; combined with and, or, not and ( ). Repeated, a scenario matching any is
    /// taken; with the other filters, all must match.
    #[arg(short = 'E', long = "filter-expr", alias = "filterset", value_name = "EXPR")]
    pub filter_expr: Vec<String>,
    /// Only the scenarios that failed or errored in the latest run recorded in --cache-dir,
    /// or in run RUN (`--rerun-failed=ID`: an id or unique prefix from `history`); a shard's
    /// run stands for every shard of its partitioned run. With the other filters, all must
    /// match. When nothing failed there, says so and runs nothing (exit 0).
    #[arg(
        long,
        value_name = "RUN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "latest"
    )]
    pub rerun_failed: Option<String>,
    /// Only shard K of N (`hash:K/N`, K from 1): stable, disjoint shards for CI matrix jobs.
    /// `hash:N` takes K from JOB_COMPLETION_INDEX + 1 (Kubernetes Indexed Jobs).
    #[arg(long, value_name = "hash:K/N")]
    pub partition: Option<String>,
}

/// Cutting a selection down for a quick smoke run (run, estimate, list).
#[derive(Debug, Clone, Default, Args)]
pub struct SampleArgs {
    /// Only the first N selected scenarios, in the order a run takes them (P0 first, then
    /// file order).
    #[arg(long, value_name = "N", conflicts_with = "sample")]
    pub limit: Option<usize>,
    /// Only N of the selected scenarios, chosen at random; the seed is printed so that the
    /// same sample can be run again with --seed.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// The seed of --sample: the same seed and the same selection give the same sample
    /// (default: a random seed).
    #[arg(long, value_name = "S", requires = "sample")]
    pub seed: Option<u64>,
}

/// Limits for reading untrusted scenario files.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Refuse scenario files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::scenario::source_file::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
}

impl InputArgs {
    /// How the loader reads files under these limits (every command that loads uses this).
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions { max_file_bytes: self.max_file_bytes, ..LoadOptions::default() }
    }
}

/// The scenario files a command reads: `PATH…` and `--scenarios-dir` (the prototype's
/// flag) are the same thing, and when both are given every path of both is read. At least
/// one is required: no command guesses where scenarios live.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "scenario_paths", required = true, multiple = true)]
pub struct ScenarioPaths {
    /// Scenario files or directories, searched recursively for .yaml, .yml and .json.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A scenario directory or file, read with the PATHs (the same as giving it as a PATH).
    /// Repeatable.
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Vec<PathBuf>,
}

impl ScenarioPaths {
    /// Every path given, PATHs first then `--scenarios-dir`s, each once.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = Vec::new();
        for path in self.paths.iter().chain(&self.scenarios_dir) {
            if !all.contains(path) {
                all.push(path.clone());
            }
        }
        all
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenarios: ScenarioPaths,

    /// Where reports are written: results.json, summary.md, junit.xml, report.html,
    /// events.jsonl.
    #[arg(long, value_name = "DIR", default_value = "./reports/rogue")]
    pub output_dir: PathBuf,

    /// Report files to write, a comma list of json (results.json), md (summary.md and
    /// $GITHUB_STEP_SUMMARY), jsonl (events.jsonl, the crash-safe record), junit (junit.xml),
    /// html (report.html), or all. `--format` is the older spelling, still accepted.
    #[arg(
        long = "reports",
        alias = "format",
        value_name = "LIST",
        default_value = "all",
        value_parser = parse_formats
    )]
    pub formats: ReportFormats,

    #[command(flatten)]
    pub filters: FilterArgs,

    #[command(flatten)]
    pub sample: SampleArgs,

    /// Conversations in flight at once.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub parallel: u32,

    /// Conversations in flight at once per agent (default: no limit beyond --parallel).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub per_agent_parallel: Option<u32>,

    /// Base URL of the A2A service: scenarios with no URL go to {URL}/a2a/{agent}.
    #[arg(long, value_name = "URL", default_value = "http://localhost:8000", env = "ROGUE_SERVER")]
    pub rogue_server: String,

    /// Send the scenarios of agent NAME to URL instead (repeatable). NAME `*` matches every
    /// agent, including scenarios that name none (Rogue files, files with no agent header);
    /// NAME `default` matches only those. `{agent}` in URL becomes the agent's name. A NAME no
    /// selected scenario uses is an error.
    #[arg(long = "agent", value_name = "NAME=URL")]
    pub agents: Vec<String>,

    /// Protocol of the agents under test.
    #[arg(long, value_enum, default_value_t = AgentProtocol::A2a)]
    pub agent_protocol: AgentProtocol,

    /// For --agent-protocol http-json: the JSON body; `{{message}}` and `{{context_id}}` are
    /// replaced by the JSON-escaped text.
    #[arg(long, value_name = "JSON", default_value = r#"{"message": "{{message}}"}"#)]
    pub request_template: String,

    /// For --agent-protocol http-json: JSON Pointer to the reply text in the agent's answer.
    #[arg(long, value_name = "POINTER", default_value = "/reply")]
    pub reply_pointer: String,

    /// For --agent-protocol openai: the model name sent to the agent.
    #[arg(long, value_name = "MODEL", default_value = "gpt-4o-mini")]
    pub agent_model: String,

    /// Credentials for the agents, read from environment variables (never from the command
    /// line): `bearer:ENV`, `api-key:HEADER:ENV` or `basic:USER:ENV`.
    #[arg(long, value_name = "SCHEME")]
    pub auth: Option<String>,

    /// Reuse the results of unchanged scenarios from the cache in --cache-dir, and cache new
    /// ones (errors, and scenarios that never reached the agent, are not cached).
    #[arg(long)]
    pub use_cache: bool,

    /// Where the result cache and the run history live (one SQLite file). Every run is
    /// recorded in the history there, with or without --use-cache.
    #[arg(long, value_name = "DIR", default_value = ".rogue_cache")]
    pub cache_dir: PathBuf,

    /// Keep the result cache and the run history in a PostgreSQL database shared by every
    /// shard, runner and branch (postgres://USER@HOST/DB?sslmode=require), instead of
    /// --cache-dir. Also `[store] url` in the config file. The password comes from
    /// PGPASSWORD or ~/.pgpass (PGPASSFILE), never from the URL; sslrootcert=FILE names a CA.
    #[arg(long, value_name = "URL", env = "ROGUE_STORE_URL")]
    pub store: Option<String>,

    /// The identity of the agents under test (a deployed commit, an image digest), or
    /// NAME=VALUE for agent NAME alone (repeatable). With --use-cache, a whole result is reused
    /// only for an agent whose identity is pinned (here or by --trust-card-version); any
    /// other agent is always called, and only the judge's verdicts are reused.
    #[arg(long = "agent-version", value_name = "[NAME=]VALUE", env = "ROGUE_AGENT_VERSION")]
    pub agent_versions: Vec<String>,

    /// With --use-cache: take the agent card's `version` as the agent's identity when no
    /// --agent-version names it. Only for agents that bump it on every deploy.
    #[arg(long)]
    pub trust_card_version: bool,

    /// With --use-cache: how long a cached result or judge verdict is reused (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    pub cache_ttl: std::time::Duration,

    /// Compare this run with a recorded one (`latest` or a run id from `history`) and list
    /// what newly fails.
    #[arg(long, value_name = "latest|ID")]
    pub baseline: Option<String>,

    /// Exit 1 only for scenarios that newly fail against --baseline (default `latest`);
    /// failures already failing there do not fail the run.
    #[arg(long)]
    pub fail_on_regressions_only: bool,

    /// Exit 0 even when some scenarios could not be fully assessed (no judge for their
    /// rubric, field checks on prose): they are still reported as unassessed. Without it such
    /// a run exits 6.
    #[arg(
        long,
        env = "ROGUE_ALLOW_UNASSESSED",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub allow_unassessed: bool,

    /// Run everything even when P0 scenarios fail.
    #[arg(long)]
    pub no_fail_fast: bool,

    /// Abort when the P0 pass rate can no longer reach this fraction (0 to 1).
    #[arg(long, value_name = "RATE", default_value_t = 0.8)]
    pub p0_threshold: f64,

    /// Stop scheduling after N failed scenarios.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_fail: Option<u32>,

    /// Time limit for each agent turn, all included: requests, event streams, polling and
    /// retries (`30s`, `500ms`, `2m`; 1ms to 24h).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_limit)]
    pub timeout: std::time::Duration,

    /// The longest one scenario may take, every agent turn, judge and driver call included
    /// (`30s`, `10m`; 1ms to 24h); past it the scenario is an error.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_limit)]
    pub scenario_timeout: std::time::Duration,

    /// An origin (`https://host:port`) besides the --agent URL's own that A2A agent cards may
    /// send messages — and the credentials — to. Repeatable.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_card_origin: Vec<String>,

    /// Retries for connect errors and 5xx answers (never for 4xx or answers that arrived;
    /// 0 to 20).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=MAX_RETRIES))]
    pub retries: u32,

    /// Largest reply body accepted from an agent, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How progress is shown: a bar on a terminal, plain lines in CI or when piped.
    #[arg(long, value_enum, default_value_t = ProgressChoice::Auto)]
    pub progress: ProgressChoice,

    /// Colour on stderr: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = clap::ColorChoice::Auto)]
    pub color: clap::ColorChoice,

    /// The global `-v` count ([`LogArgs`]), copied here after parsing.
    #[arg(skip)]
    pub verbose: u8,

    /// The global `-q` ([`LogArgs`]), copied here after parsing.
    #[arg(skip)]
    pub quiet: bool,

    /// Do not append summary.md to $GITHUB_STEP_SUMMARY (for CI shards whose merge job
    /// writes the one step summary).
    #[arg(long)]
    pub no_step_summary: bool,

    /// Apply the settings of [profile.NAME] in rogue-runner.toml over its [run] table
    /// (`default`: [run] alone).
    #[arg(long, value_name = "NAME", env = "ROGUE_PROFILE")]
    pub profile: Option<String>,

    /// Watch this run in the dashboard: start `serve` for --cache-dir on 127.0.0.1 (port 8484,
    /// or a free one) unless one is running already, and print its Live page. On a terminal it
    /// goes on serving after the run until Ctrl-C. (`watch` does not: run `serve` beside it.)
    #[arg(long)]
    pub serve: bool,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub judge: super::judge_args::JudgeArgs,

    /// Where clap found each value (flag, environment, default): filled in after parsing,
    /// for the config-file layer and the record of where each setting came from.
    #[arg(skip)]
    pub sources: super::config::ArgSources,
}

/// `config [--format table|json] [RUN OPTIONS…]`.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Output: a table, or one JSON document. Give it before the run options (after them,
    /// `--format` is `run`'s report list).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The options of `run` whose settings to show (e.g. --profile ci --parallel 3).
    #[arg(value_name = "RUN OPTIONS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub run: Vec<std::ffi::OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgentProtocol {
    /// A2A JSON-RPC (0.2.x, 0.3 and 1.0, chosen from the agent card).
    A2a,
    /// Plain HTTP: POST --request-template, read --reply-pointer.
    HttpJson,
    /// OpenAI-compatible chat completions at {URL}/chat/completions.
    Openai,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressChoice {
    Auto,
    Bar,
    Plain,
    Quiet,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub scenarios: ScenarioPaths,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// The global `-q` ([`LogArgs`]), copied here after parsing: errors only, no warnings.
    #[arg(skip)]
    pub quiet: bool,
    /// Output: human-readable diagnostics, or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The store whose recorded runs `-E 'status(…)'` and --rerun-failed read (one SQLite
    /// file), unless --store names a shared one.
    #[arg(long, value_name = "DIR", default_value = ".rogue_cache")]
    pub cache_dir: PathBuf,
    /// Read `-E 'status(…)'` and --rerun-failed from this PostgreSQL store shared by a team
    /// (postgres://USER@HOST/DB), as `run --store` records into it, instead of --cache-dir.
    /// Also `[store] url` in the config file. The password comes from PGPASSWORD or ~/.pgpass
    /// (PGPASSFILE), never from the URL.
    #[arg(long, value_name = "URL", env = "ROGUE_STORE_URL")]
    pub store: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub scenarios: ScenarioPaths,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub sample: SampleArgs,
    /// The store whose recorded runs `-E 'status(…)'` and --rerun-failed read (one SQLite
    /// file), unless --store names a shared one.
    #[arg(long, value_name = "DIR", default_value = ".rogue_cache")]
    pub cache_dir: PathBuf,
    /// Read `-E 'status(…)'` and --rerun-failed from this PostgreSQL store shared by a team
    /// (postgres://USER@HOST/DB), as `run --store` records into it, instead of --cache-dir.
    /// Also `[store] url` in the config file. The password comes from PGPASSWORD or ~/.pgpass
    /// (PGPASSFILE), never from the URL.
    #[arg(long, value_name = "URL", env = "ROGUE_STORE_URL")]
    pub store: Option<String>,
    /// Output: a table, or JSON with the counts and every normalized scenario.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print the counts only, not one line per scenario.
    #[arg(long)]
    pub summary: bool,
    /// Base URL used to show each scenario's agent URL.
    #[arg(long, value_name = "URL", default_value = "http://localhost:8000", env = "ROGUE_SERVER")]
    pub rogue_server: String,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Each shard's --output-dir (or its results.json). Without any, with --store: the shards
    /// recorded in the shared store (see --run).
    #[arg(value_name = "DIR", required_unless_present = "store")]
    pub shards: Vec<PathBuf>,
    /// Where the merged reports are written.
    #[arg(long, value_name = "DIR", default_value = "./reports/rogue")]
    pub output_dir: PathBuf,
    /// The store the merged run is recorded in (run history, for `history` and `compare`).
    #[arg(long, value_name = "DIR", default_value = ".rogue_cache")]
    pub cache_dir: PathBuf,
    /// The shared PostgreSQL store: without DIRs the shards are read from it; the merged run
    /// is recorded in it instead of --cache-dir.
    #[arg(long, value_name = "URL", env = "ROGUE_STORE_URL")]
    pub store: Option<String>,
    /// With --store and no DIRs: the partitioned run to merge, by the id (or a unique prefix)
    /// of any of its shards. Default: the latest partitioned run recorded.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Merge even when shards of the plan are missing or failed; the merged reports then name
    /// the missing shards. Without it such a merge is refused (exit 2).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Exit 0 even when some merged scenarios are unassessed (as `run --allow-unassessed`);
    /// without it the merge exits 6 for them.
    #[arg(
        long,
        env = "ROGUE_ALLOW_UNASSESSED",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub allow_unassessed: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where the demo's reports are written.
    #[arg(long, value_name = "DIR", default_value = "./reports/demo")]
    pub output_dir: PathBuf,
    /// Report files to write: json, md, jsonl, junit, html, or all (comma list). `--format`
    /// is the older spelling, still accepted.
    #[arg(
        long = "reports",
        alias = "format",
        value_name = "LIST",
        default_value = "all",
        value_parser = parse_formats
    )]
    pub formats: ReportFormats,
    /// How progress is shown.
    #[arg(long, value_enum, default_value_t = ProgressChoice::Auto)]
    pub progress: ProgressChoice,
    /// The global `-v` count ([`LogArgs`]), copied here after parsing.
    #[arg(skip)]
    pub verbose: u8,
    /// The global `-q` ([`LogArgs`]), copied here after parsing.
    #[arg(skip)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MockAgentArgs {
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// A2A wire generation to speak.
    #[arg(long, value_enum, default_value_t = MockDialectArg::V0_3)]
    pub dialect: MockDialectArg,
    /// Advertise and serve streaming (message/stream).
    #[arg(long)]
    pub streaming: bool,
    /// Fixed delay before every reply (`0ms`, `200ms`, `1s`).
    #[arg(long, value_name = "DURATION", default_value = "0ms", value_parser = parse_delay)]
    pub latency: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MockDialectArg {
    #[value(name = "0.2")]
    V0_2,
    #[value(name = "0.3")]
    V0_3,
    #[value(name = "1.0")]
    V1_0,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 30s, 500ms, 2m)"))
}

/// The longest time limit or delay accepted (`--timeout`, `--judge-timeout`, …): a day. A
/// longer one is a typo, and near `u64::MAX` seconds it would overflow the clock.
pub(crate) const MAX_LIMIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The most retries accepted (`--retries`, `--judge-retries`).
pub(crate) const MAX_RETRIES: i64 = 20;

/// A time limit: more than zero, at most [`MAX_LIMIT`].
pub(crate) fn parse_limit(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be more than 0 (write e.g. 30s, 500ms, 2m)".to_owned());
    }
    within_limit(d)
}

/// A delay: zero or more, at most [`MAX_LIMIT`].
fn parse_delay(text: &str) -> Result<std::time::Duration, String> {
    within_limit(parse_duration(text)?)
}

fn within_limit(d: std::time::Duration) -> Result<std::time::Duration, String> {
    if d > MAX_LIMIT {
        return Err(format!(
            "{} is more than the 24h this accepts (write e.g. 30s, 500ms, 2m)",
            humantime::format_duration(d)
        ));
    }
    Ok(d)
}

fn parse_formats(text: &str) -> Result<ReportFormats, String> {
    text.parse()
}

/// The store directory, shared by `cache`, `history` and `compare`.
#[derive(Debug, Clone, Args)]
pub struct CacheDirArg {
    /// Where the result cache and the run history live.
    #[arg(long, value_name = "DIR", default_value = ".rogue_cache", global = true)]
    pub cache_dir: PathBuf,
    /// A PostgreSQL store shared by a team (postgres://USER@HOST/DB), instead of the SQLite
    /// file in --cache-dir. The password comes from PGPASSWORD or ~/.pgpass (PGPASSFILE),
    /// never from the URL.
    #[arg(long, value_name = "URL", env = "ROGUE_STORE_URL", global = true)]
    pub store: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    #[command(flatten)]
    pub dir: CacheDirArg,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CacheAction {
    /// Entries, their cost, age and size, and the number of recorded runs.
    Stats {
        /// Output: text, or one JSON document.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Delete every cached result (the run history is kept).
    Clear,
    /// Explain why scenario ID would or would not be served from the cache by a run with
    /// the same flags: which parts of its key match the stored entry and which differ.
    Why(Box<WhyArgs>),
    /// Delete cached results stored longer ago than --older-than.
    Prune {
        /// Age, e.g. `30d`, `12h`, `2weeks`.
        #[arg(long, value_name = "AGE", value_parser = parse_duration)]
        older_than: std::time::Duration,
    },
}

/// `cache why ID --scenarios-dir DIR [the run's flags]`.
#[derive(Debug, Clone, Args)]
pub struct WhyArgs {
    /// The scenario's id.
    #[arg(value_name = "ID")]
    pub scenario: String,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show at most this many runs.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Output: a table (text), or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub dir: CacheDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The earlier run: an id (or unique prefix) from `history`, or `latest`. Default: the
    /// second-newest finished run.
    #[arg(value_name = "A")]
    pub a: Option<String>,
    /// The later run. Default: the newest finished run.
    #[arg(value_name = "B")]
    pub b: Option<String>,
    /// Runs (up to B) in which a scenario must flip twice to count as flaky.
    #[arg(long, value_name = "K", default_value_t = crate::store::DEFAULT_FLAKY_WINDOW)]
    pub flaky_window: usize,
    /// Output: a table (text), or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub dir: CacheDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but a loopback address (127.0.0.1, [::1])
    /// requires a token: --token, or one generated and printed once.
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::serve::DEFAULT_BIND)]
    pub bind: std::net::SocketAddr,
    /// The token every request must carry (at least 16 letters, digits, `-` or `_`): opened
    /// once as `?token=…`, then kept in a cookie; or sent as the x-rogue-token header.
    #[arg(long, value_name = "TOKEN", env = "ROGUE_DASHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub dir: CacheDirArg,
}
