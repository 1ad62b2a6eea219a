//! Judge-bound throughput at a client-side requests-per-minute limit, against the ideal:
//! `cargo run --release --example judge_throughput -- [SCENARIOS] [RPM ...]`.
//!
//! Everything runs in-process on 127.0.0.1: the mock A2A agent answers at once and the fake
//! judge answers at once, so the judge's rate limit is the only bottleneck. The ideal time for
//! N judge calls at R requests per minute, the first one at t = 0, is (N − 1) · 60 / R seconds.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rogue_runner::cost::Pricing;
use rogue_runner::demo::{FakeJudge, FakeJudgeOptions, Fault, MockAgent, MockAgentOptions};
use rogue_runner::engine::{AgentRouting, Plan, RunOptions, Runner};
use rogue_runner::judge::llm::LlmEndpoint;
use rogue_runner::judge::{Judge, JudgeConfig};
use rogue_runner::scenario::{LoadOptions, load_text};
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(120);
    let mut rpms: Vec<u32> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    if rpms.is_empty() {
        rpms = vec![600, 1200, 3000, 6000];
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let agent = MockAgent::start(listener, MockAgentOptions::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let judge = FakeJudge::start(listener, FakeJudgeOptions::default()).await.unwrap();
        let mut text = String::from("version: 1\nagent: shop\nscenarios:\n");
        for i in 0..n {
            let _ = writeln!(text, "  - id: s{i}\n    priority: P1\n    message: hello {i}\n    rubric: [answers politely]");
        }
        let (_, scenarios, _) =
            load_text(std::path::Path::new("bench.yaml"), &text, false, &LoadOptions::default());
        println!("| limit (req/min) | scenarios | parallel | wall | ideal | wall / ideal | judged per minute |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        let mut cases: Vec<(Option<u32>, usize)> = rpms.iter().map(|&r| (Some(r), 32)).collect();
        cases.push((None, 32));
        for (rpm, parallel) in cases {
            let wall = run(&agent, &judge, scenarios.clone(), rpm, parallel).await;
            let ideal = rpm.map(|r| Duration::from_secs_f64((n - 1) as f64 * 60.0 / f64::from(r)));
            println!(
                "| {} | {n} | {parallel} | {:.2} s | {} | {} | {:.0} |",
                rpm.map_or("none".to_owned(), |r| r.to_string()),
                wall.as_secs_f64(),
                ideal.map_or("—".to_owned(), |i| format!("{:.2} s", i.as_secs_f64())),
                ideal.map_or("—".to_owned(), |i| format!("{:.3}", wall.as_secs_f64() / i.as_secs_f64())),
                n as f64 / wall.as_secs_f64() * 60.0,
            );
        }
        // A burst of 429s (retry-after-ms: 200) on top of a 1200/min limit.
        for _ in 0..30 {
            judge.push_fault(Fault::RateLimited(vec![("retry-after-ms", "200".to_owned())]));
        }
        let wall = run(&agent, &judge, scenarios.clone(), Some(1200), 32).await;
        let ideal = (n - 1) as f64 * 60.0 / 1200.0;
        println!(
            "| 1200 + 30 × 429 (200 ms) | {n} | 32 | {:.2} s | {ideal:.2} s | {:.3} | {:.0} |",
            wall.as_secs_f64(),
            wall.as_secs_f64() / ideal,
            n as f64 / wall.as_secs_f64() * 60.0
        );
        agent.shutdown().await;
        judge.shutdown().await;
    });
}

async fn run(
    agent: &MockAgent,
    judge: &FakeJudge,
    scenarios: Vec<rogue_runner::scenario::Scenario>,
    rpm: Option<u32>,
    parallel: usize,
) -> Duration {
    let mut routing = AgentRouting::default();
    routing.overrides.insert("*".to_owned(), agent.agent_url("shop"));
    let plan = Plan::build(scenarios, &routing).unwrap();
    let config = JudgeConfig {
        endpoint: LlmEndpoint {
            base_url: judge.base_url(),
            requests_per_minute: rpm,
            ..LlmEndpoint::default()
        },
        force_model: Some("gpt-4o-mini".to_owned()),
        ..JudgeConfig::default()
    };
    let pricing = Arc::new(Pricing::shipped());
    let options = RunOptions {
        parallel,
        fail_fast: None,
        judge: Some(Judge::new(config, Arc::clone(&pricing), rogue_runner::http::client(parallel))),
        pricing,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let summary = Runner::new(options).run(plan, &mut |_| {}, CancellationToken::new()).await;
    let wall = started.elapsed();
    assert_eq!(summary.counts.passed, summary.counts.total, "{summary:?}");
    wall
}
