//! The library's one entry point for a run, in process: a validated configuration and a plan
//! in, the summary and the exit code out, the history recorded through one store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::MockServer;
use rogue_runner::agent::{AgentKind, Auth, ClientOptions};
use rogue_runner::cost::Pricing;
use rogue_runner::demo::MockAgentOptions;
use rogue_runner::engine::{AgentRouting, ExitPolicy, Plan, RunOptions};
use rogue_runner::judge::JudgeConfig;
use rogue_runner::model::ExitCode;
use rogue_runner::report::{ProgressMode, ReportFormats};
use rogue_runner::scenario::{LoadOptions, Selection, load_paths};
use rogue_runner::session::{Evaluator, JudgeSetup, RunConfig, Session, StoreOptions};
use rogue_runner::store::{KeyContext, Pinning, Store};

/// One scenario the mock agent passes (it echoes the message) and one it fails.
const SCENARIOS: &str = "version: 1\nagent: shop\nscenarios:\n  - id: passes\n    priority: P1\n    message: hello\n    expect:\n      contains: [hello]\n  - id: fails\n    priority: P1\n    message: hello\n    expect:\n      contains: [no such words]\n";

fn config(dir: &std::path::Path, agent_url: String) -> RunConfig {
    let pricing = Pricing::shipped();
    RunConfig {
        paths: vec![dir.join("s.yaml")],
        selection: Selection::default(),
        load: LoadOptions::default(),
        routing: AgentRouting {
            overrides: [("shop".to_owned(), agent_url)].into_iter().collect(),
            ..AgentRouting::default()
        },
        rogue_server: "http://127.0.0.1:9".to_owned(),
        options: RunOptions {
            parallel: 2,
            fail_fast: None,
            client: ClientOptions { timeout: Duration::from_secs(10), ..ClientOptions::default() },
            agent_kind: AgentKind::A2a,
            auth: Auth::None,
            pricing: Arc::new(pricing.clone()),
            exit_policy: ExitPolicy::default(),
            ..RunOptions::default()
        },
        output_dir: dir.join("out"),
        formats: ReportFormats::ALL,
        progress: ProgressMode::Quiet,
        color: false,
        verbose: 0,
        quiet: false,
        step_summary: false,
        store: StoreOptions {
            cache_dir: dir.join("store"),
            postgres: None,
            use_cache: true,
            baseline: None,
            fail_on_regressions_only: false,
            key_context: KeyContext::default(),
            pinning: Pinning::default(),
            cache_ttl: Duration::from_secs(3600),
            config_digest: "test".to_owned(),
        },
        judge: JudgeSetup {
            judge: None,
            would_use: JudgeConfig::default(),
            evaluator: Evaluator::Llm,
            pricing,
            runs_per_day: 5,
            max_cost: None,
            key_source: "none".to_owned(),
            explicit_base_url: None,
            rogue_poll_interval: Duration::from_secs(1),
        },
        settings: Vec::new(),
    }
}

#[test]
fn a_run_is_one_call_that_returns_its_summary_and_exit_code_and_records_the_history() {
    let agent = MockServer::start(MockAgentOptions::default());
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("s.yaml"), SCENARIOS).unwrap();
    let config = config(dir.path(), agent.agent_url("shop"));
    let scenarios = load_paths(&config.paths, &config.load).scenarios;
    let plan = Plan::build(scenarios, &config.routing).unwrap();
    let mut diag = Vec::new();
    let result = Session::new(&config).run(plan, &mut diag).unwrap();
    assert_eq!(result.exit_code, ExitCode::Failures, "{}", String::from_utf8_lossy(&diag));
    assert_eq!((result.summary.counts.passed, result.summary.counts.failed), (1, 1));
    assert!(result.report_errors.is_empty(), "{:?}", result.report_errors);
    // The reports were written with the code the session returned.
    let results: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(result.reports_dir.join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["run"]["exit_code"], ExitCode::Failures.code());
    // The history and the cache share the one connection: the run is recorded, finished.
    let store = Store::open_existing(&dir.path().join("store")).unwrap().unwrap();
    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].exit_code, Some(ExitCode::Failures.code()));
    assert!(runs[0].is_finished());
}
