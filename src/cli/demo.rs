//! `rogue-runner demo` and `rogue-runner mock-agent`.

use std::io::Write;
use std::path::Path;

use super::CliError;
use super::args::{DemoArgs, MockAgentArgs, MockDialectArg, ProgressChoice};
use crate::cost::Pricing;
use crate::demo::{
    FakeJudge, FakeJudgeOptions, MockAgent, MockAgentOptions, MockDialect, bundled_scenarios,
    serve_forever,
};
use crate::engine::{AgentRouting, Plan, RunOptions};
use crate::judge::llm::LlmEndpoint;
use crate::judge::{Judge, JudgeConfig};
use crate::model::ExitCode;
use crate::report::{Progress, ProgressMode, ReportPaths};
use crate::scenario::{LoadOptions, Priority, Scenario, load_text};
use crate::session::run_with_reports;

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        CliError::usage(format!("cannot start the async runtime: {e}"), "check the process limits")
    })
}

/// The bundled scenarios, loaded like any other files (`demo/<name>` in messages).
pub(super) fn demo_scenarios() -> Result<Vec<Scenario>, CliError> {
    let mut scenarios = Vec::new();
    for (name, text) in bundled_scenarios() {
        let display = Path::new("demo").join(name);
        let is_json = Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let (_, loaded, diagnostics) = load_text(&display, text, is_json, &LoadOptions::default());
        if let Some(problem) = diagnostics.iter().find(|d| d.is_error()) {
            return Err(CliError::usage(
                format!("bundled demo scenario is invalid: {problem}"),
                "this is a bug in rogue-runner; please report it",
            ));
        }
        scenarios.extend(loaded);
    }
    Ok(scenarios)
}

pub(super) fn demo(
    args: &DemoArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let scenarios = demo_scenarios()?;
    let paths = ReportPaths::new(&args.output_dir).with_formats(args.formats);
    paths
        .create_dir()
        .map_err(|e| CliError::usage(e.to_string(), "choose another --output-dir"))?;
    let progress = Progress::stderr(progress_mode(args.progress))
        .with_verbosity(args.verbose)
        .with_quiet(args.quiet);
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let agent = MockAgent::start(listener, MockAgentOptions::default()).await?;
        let routing = AgentRouting {
            rogue_server: agent.base_url(),
            unassigned: Some(agent.agent_url("tshirt_store_agent")),
            ..AgentRouting::default()
        };
        let plan =
            Plan::build(scenarios, &routing).map_err(|e| std::io::Error::other(e.to_string()))?;
        let url = agent.base_url();
        // The embedded deterministic judge (design §5): an OpenAI-compatible endpoint on
        // 127.0.0.1 whose verdicts follow from the transcript alone; no key, no network.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let judge = FakeJudge::start(listener, FakeJudgeOptions::default()).await?;
        let pricing = std::sync::Arc::new(Pricing::shipped());
        let config = JudgeConfig {
            endpoint: LlmEndpoint { base_url: judge.base_url(), ..LlmEndpoint::default() },
            ..JudgeConfig::default()
        };
        let options = RunOptions {
            judge: Some(Judge::new(
                config,
                std::sync::Arc::clone(&pricing),
                crate::http::client(5),
            )),
            pricing,
            ..RunOptions::default()
        };
        let (summary, errors) = run_with_reports(options, plan, &paths, progress).await;
        agent.shutdown().await;
        judge.shutdown().await;
        Ok::<_, std::io::Error>((url, summary, errors))
    });
    let (url, summary, errors) = result.map_err(|e| {
        CliError::usage(
            format!("the demo agent could not start: {e}"),
            "check that 127.0.0.1 is available",
        )
    })?;
    for error in errors {
        writeln!(stderr, "warning: {error}")?;
    }
    let c = summary.counts;
    writeln!(stdout)?;
    writeln!(
        stdout,
        "Demo finished against the embedded A2A agent at {url} and an embedded deterministic"
    )?;
    writeln!(
        stdout,
        "LLM judge (no network, no API key; its token counts, and so the costs shown, are made up)."
    )?;
    writeln!(
        stdout,
        "{} scenarios: {} passed, {} failed, {} error, {} unassessed, {} skipped. The failures and",
        c.total, c.passed, c.failed, c.error, c.unassessed, c.skipped
    )?;
    writeln!(stdout, "the error are intended: they show how each outcome is reported.")?;
    writeln!(
        stdout,
        "A real run with these results would exit with code {} ({}).",
        summary.exit_code, summary.exit_reason
    )?;
    writeln!(stdout)?;
    writeln!(stdout, "Reports:")?;
    for path in paths.files() {
        writeln!(stdout, "  {}", path.display())?;
    }
    writeln!(stdout)?;
    writeln!(stdout, "Next: rogue-runner mock-agent --port 8000, then")?;
    writeln!(
        stdout,
        "      rogue-runner --scenarios-dir YOUR_SCENARIOS --rogue-server http://127.0.0.1:8000"
    )?;
    // The demo works when it shows every kind of outcome and all P0 scenarios pass.
    let p0_all_passed =
        summary.by_priority.get(&Priority::P0).is_some_and(|p0| p0.passed == p0.total);
    let every_status = c.passed > 0 && c.failed > 0 && c.error > 0;
    Ok(if p0_all_passed && every_status { ExitCode::Success } else { ExitCode::Failures })
}

fn progress_mode(choice: ProgressChoice) -> ProgressMode {
    match choice {
        ProgressChoice::Auto => ProgressMode::Auto,
        ProgressChoice::Bar => ProgressMode::Bar,
        ProgressChoice::Plain => ProgressMode::Plain,
        ProgressChoice::Quiet => ProgressMode::Quiet,
    }
}

pub(super) fn mock_agent(
    args: &MockAgentArgs,
    stdout: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let options = MockAgentOptions {
        dialect: match args.dialect {
            MockDialectArg::V0_2 => MockDialect::V0_2,
            MockDialectArg::V0_3 => MockDialect::V0_3,
            MockDialectArg::V1_0 => MockDialect::V1_0,
        },
        streaming: args.streaming,
        latency: args.latency,
    };
    let runtime = runtime()?;
    runtime
        .block_on(async {
            let listener = crate::demo::bind((std::net::Ipv4Addr::LOCALHOST, args.port).into())?;
            let port = listener.local_addr()?.port();
            writeln!(stdout, "mock A2A agent listening on http://127.0.0.1:{port}/a2a/{{agent}} (dialect {}, Ctrl-C to stop)", options.dialect)?;
            stdout.flush()?;
            serve_forever(listener, options).await
        })
        .map_err(|e| CliError::usage(format!("cannot serve on 127.0.0.1:{}: {e}", args.port), "pick another --port, or 0 for any free port"))?;
    Ok(ExitCode::Success)
}
