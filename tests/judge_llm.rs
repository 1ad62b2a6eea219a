//! The LLM judge against a fake OpenAI-compatible endpoint: usage and exact cost, dated model
//! names, 429s with each header style, prose verdicts, malformed answers, Azure deployments,
//! and the whole run through the binary (driver + judge + results.json + no leaked key).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;
#[path = "support/fake_rogue.rs"]
mod fake_rogue;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::MockServer;
use rogue_runner::cost::{CostLedger, Pricing};
use rogue_runner::demo::{FakeJudge, FakeJudgeOptions, Fault, MockAgentOptions};
use rogue_runner::judge::llm::{KeyHeader, LlmEndpoint};
use rogue_runner::judge::{Judge, JudgeConfig};
use rogue_runner::model::{Role, TranscriptEntry};
use rogue_runner::scenario::{LoadOptions, Scenario, load_text};
use rogue_runner::secret::Secret;
use serde_json::Value;

const CANARY: &str = "sk-canary-7f3e9a1b2c4d";

async fn fake(options: FakeJudgeOptions) -> FakeJudge {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    FakeJudge::start(listener, options).await.unwrap()
}

fn judge_for(fake: &FakeJudge, tweak: impl FnOnce(&mut LlmEndpoint)) -> Judge {
    let mut endpoint = LlmEndpoint {
        base_url: fake.base_url(),
        api_key: Some(Secret::new(CANARY)),
        timeout: Duration::from_secs(5),
        ..LlmEndpoint::default()
    };
    tweak(&mut endpoint);
    let config = JudgeConfig { endpoint, ..JudgeConfig::default() };
    Judge::new(config, Arc::new(Pricing::shipped()), reqwest::Client::new())
}

fn scenario(yaml_body: &str) -> Scenario {
    let text = format!("version: 1\nagent: shop\nscenarios:\n{yaml_body}");
    let (_, scenarios, diagnostics) =
        load_text(std::path::Path::new("t.yaml"), &text, false, &LoadOptions::default());
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    scenarios.into_iter().next().unwrap()
}

fn p0_with_model(model: Option<&str>) -> Scenario {
    let judge = model.map_or(String::new(), |m| format!("    judge_model: {m}\n"));
    scenario(&format!(
        "  - id: refund\n    priority: P0\n    message: refund please\n    rubric:\n      - never promises a refund after 30 days\n{judge}"
    ))
}

fn transcript() -> Vec<TranscriptEntry> {
    vec![
        TranscriptEntry { role: Role::User, text: "refund please".into() },
        TranscriptEntry { role: Role::Agent, text: "Refunds are possible within 30 days.".into() },
    ]
}

#[tokio::test]
async fn verdict_usage_and_dated_model_price_exactly() {
    let fake = fake(FakeJudgeOptions {
        prompt_tokens: 1234,
        cached_tokens: 200,
        completion_tokens: 56,
        model_suffix: "-2024-07-18".into(),
        ..FakeJudgeOptions::default()
    })
    .await;
    let judge = judge_for(&fake, |_| {});
    let mut ledger = CostLedger::default();
    let ruling =
        judge.rule(&p0_with_model(Some("gpt-4o-mini")), &transcript(), &mut ledger).await.unwrap();
    assert!(ruling.passed);
    assert_eq!(ruling.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(ruling.prompt_version, "judge-v1");
    // (1234 − 200)·0.15 + 200·0.075 + 56·0.60 µ$ = 155.1 + 15 + 33.6 = 203.7 µ$.
    assert_eq!(ledger.total_pico(), Some(203_700_000));
    let lines = ledger.into_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].usage.input_tokens, 1234);
    // The request carried the scenario, the rubric, the transcript and structured output.
    let seen = fake.seen();
    let body = &seen[0].body;
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["response_format"]["type"], "json_schema");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("never promises a refund after 30 days"), "{prompt}");
    assert!(prompt.contains("AGENT: Refunds are possible within 30 days."), "{prompt}");
    let auth = seen[0].headers.iter().find(|(k, _)| k == "authorization").unwrap();
    assert_eq!(auth.1, format!("Bearer {CANARY}"));
}

#[tokio::test]
async fn model_choice_scenario_then_priority_then_forced() {
    let fake = fake(FakeJudgeOptions::default()).await;
    let judge = judge_for(&fake, |_| {});
    let mut ledger = CostLedger::default();
    judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap();
    judge.rule(&p0_with_model(Some("openai/gpt-4.1")), &transcript(), &mut ledger).await.unwrap();
    let p2 = scenario("  - id: x\n    priority: P2\n    message: hi\n    rubric: [be nice]\n");
    judge.rule(&p2, &transcript(), &mut ledger).await.unwrap();
    let models: Vec<String> =
        fake.seen().iter().map(|r| r.body["model"].as_str().unwrap().to_owned()).collect();
    assert_eq!(models, ["gpt-4o", "gpt-4.1", "gemini-2.5-flash"]);
}

#[tokio::test]
async fn every_429_header_style_is_honoured_then_it_succeeds() {
    let fake = fake(FakeJudgeOptions::default()).await;
    fake.push_fault(Fault::RateLimited(vec![("retry-after-ms", "30".into())]));
    fake.push_fault(Fault::RateLimited(vec![("retry-after", "0.03".into())]));
    fake.push_fault(Fault::RateLimited(vec![("x-ratelimit-reset-requests", "30ms".into())]));
    fake.push_fault(Fault::RateLimited(vec![("x-ratelimit-reset-tokens", "20ms".into())]));
    let judge = judge_for(&fake, |_| {});
    let started = std::time::Instant::now();
    let mut ledger = CostLedger::default();
    let ruling = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap();
    assert!(ruling.passed);
    assert_eq!(judge.client().stats().rate_limited.load(Ordering::Relaxed), 4);
    assert_eq!(fake.seen().len(), 5);
    // Waited what the server asked (30+30+30+20 ms), not a default backoff of seconds.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(110), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn a_judge_that_keeps_failing_is_an_error_not_a_verdict() {
    let fake = fake(FakeJudgeOptions::default()).await;
    for _ in 0..2 {
        fake.push_fault(Fault::Status(503, format!("overloaded, key {CANARY}")));
    }
    let judge = judge_for(&fake, |e| e.retries = 1);
    let mut ledger = CostLedger::default();
    let err = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap_err();
    assert!(err.contains("HTTP 503"), "{err}");
    assert!(!err.contains(CANARY), "{err}");
    // insufficient_quota 429 is not retried.
    let fake2 = fake_quota().await;
    let judge = judge_for(&fake2, |_| {});
    let err = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap_err();
    assert!(err.contains("429"), "{err}");
    assert_eq!(fake2.seen().len(), 1);
}

async fn fake_quota() -> FakeJudge {
    let f = fake(FakeJudgeOptions::default()).await;
    f.push_fault(Fault::Json(
        429,
        serde_json::json!({"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}),
    ));
    f
}

#[tokio::test]
async fn prose_around_the_json_and_one_malformed_answer_are_survived() {
    // A provider that ignores json_schema and wraps the verdict in prose.
    let fake = fake(FakeJudgeOptions { prose: true, ..FakeJudgeOptions::default() }).await;
    let judge = judge_for(&fake, |_| {});
    let mut ledger = CostLedger::default();
    assert!(judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap().passed);
    // One unusable answer is asked again; two make an error.
    fake.push_fault(Fault::Content("I think it is fine.".into()));
    let ruling = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap();
    assert!(ruling.passed);
    fake.push_fault(Fault::Content("no idea".into()));
    fake.push_fault(Fault::Content("{\"passed\": \"perhaps\"}".into()));
    let err = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap_err();
    assert!(err.contains("no usable verdict"), "{err}");
    // A failing verdict in prose.
    fake.push_fault(Fault::Content(
        "Verdict below.\n```json\n{\"passed\": false, \"reason\": \"promised a refund\", \"score\": 0.1}\n```".into(),
    ));
    let ruling = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap();
    assert!(!ruling.passed);
    assert_eq!(ruling.reason, "promised a refund");
    // Every call was recorded, the retried ones included: 1 + 2 + 2 + 1.
    let calls: u32 = ledger.into_lines().iter().map(|l| l.calls).sum();
    assert_eq!(calls, 6);
}

#[tokio::test]
async fn azure_deployments_use_api_version_and_api_key() {
    let fake = fake(FakeJudgeOptions::default()).await;
    let base = fake.base_url().trim_end_matches("/v1").to_owned();
    let judge = judge_for(&fake, |e| {
        e.base_url = base;
        e.azure_api_version = Some("2024-10-21".into());
        e.key_header = KeyHeader::Named("api-key".into());
        e.headers = vec![("x-ms-client".into(), Secret::new("client-1"))];
    });
    let mut ledger = CostLedger::default();
    judge.rule(&p0_with_model(Some("judge-deploy")), &transcript(), &mut ledger).await.unwrap();
    let seen = &fake.seen()[0];
    assert_eq!(seen.path, "/openai/deployments/judge-deploy/chat/completions");
    let header = |name: &str| seen.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("api-key").as_deref(), Some(CANARY));
    assert_eq!(header("authorization"), None);
    assert_eq!(header("x-ms-client").as_deref(), Some("client-1"));
}

/// The mock agent and the fake judge, on the mock agent's runtime, for the test's life.
struct Servers {
    agent: MockServer,
    judge: Option<FakeJudge>,
}

impl Servers {
    fn start(options: FakeJudgeOptions) -> Self {
        let agent = MockServer::start(MockAgentOptions::default());
        let judge = agent.runtime().block_on(fake(options));
        Servers { agent, judge: Some(judge) }
    }
    fn agent_url(&self) -> String {
        self.agent.agent_url("shop")
    }
    fn judge(&self) -> &FakeJudge {
        self.judge.as_ref().unwrap()
    }
    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.agent.runtime()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(judge) = self.judge.take() {
            self.runtime().block_on(judge.shutdown());
        }
    }
}

fn run_binary(
    dir: &std::path::Path,
    file: &str,
    servers: &Servers,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let out = dir.join("out");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args([
            "run",
            "--scenarios-dir",
            dir.join(file).to_str().unwrap(),
            "--agent",
            &format!("*={}", servers.agent_url()),
            "--output-dir",
            out.to_str().unwrap(),
            "--progress",
            "plain",
        ])
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("OPENAI_API_KEY", CANARY)
        .env("OPENAI_BASE_URL", servers.judge().base_url())
        .env_remove("ROGUE_RUNNER_CONFIG")
        .output()
        .unwrap();
    let results = fs_err::read_to_string(out.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (output, results)
}

#[test]
fn rogue_files_run_driven_conversations_judged_end_to_end_without_leaking_the_key() {
    let servers = Servers::start(FakeJudgeOptions {
        model_suffix: "-2024-08-06".into(),
        ..FakeJudgeOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("rogue.json"),
        r#"{"business_context": "A T-shirt shop.", "scenarios": [
            {"scenario": "Ask for the sizes [reply:We sell S, M and L.]", "expected_outcome": "lists sizes", "max_turns": 3},
            {"scenario": "Ask for a refund [reply:Internal error, violation of policy.]", "max_turns": 2}
        ]}"#,
    )
    .unwrap();
    let (output, results) =
        run_binary(dir.path(), "rogue.json", &servers, &["--judge-model", "gpt-4o"]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let scenarios = results["scenarios"].as_array().unwrap();
    let first = &scenarios[0];
    assert_eq!(first["status"], "passed", "{first:#}");
    assert_eq!(first["judge"]["model"], "gpt-4o-2024-08-06");
    // Driver turn 1 sends the goal; turn 2 says the goal is reached: 2 driver + 1 judge calls.
    assert_eq!(first["transcript"].as_array().unwrap().len(), 2, "{first:#}");
    let calls: u64 =
        first["llm"].as_array().unwrap().iter().map(|l| l["calls"].as_u64().unwrap()).sum();
    assert_eq!(calls, 3, "{first:#}");
    assert!(first["cost_usd"].as_f64().unwrap() > 0.0);
    let second = &scenarios[1];
    assert_eq!(second["status"], "failed", "{second:#}");
    assert!(second["reasons"][0].as_str().unwrap().contains("problem"), "{second:#}");
    // One contextId per conversation: the agent saw the same context on every turn (the mock
    // remembers turns per contextId) — and the judge saw the business context.
    let judge_prompts: Vec<String> = servers
        .judge()
        .seen()
        .iter()
        .filter_map(|r| r.body["messages"][1]["content"].as_str().map(str::to_owned))
        .filter(|p| p.contains("# Transcript"))
        .collect();
    assert_eq!(judge_prompts.len(), 2);
    assert!(judge_prompts.iter().all(|p| p.contains("A T-shirt shop.")));
    // Cost by model, priority and agent, with the monthly projection.
    let cost = &results["run"]["cost"];
    assert_eq!(cost["runs_per_day"], 5);
    assert!(cost["by_model"]["judge:gpt-4o-2024-08-06"]["calls"] == 2, "{cost:#}");
    // The canary key appears nowhere.
    assert_no_canary(dir.path(), &[&stderr, &String::from_utf8_lossy(&output.stdout)]);
}

/// No file under `dir` and no given text contains the canary key.
fn assert_no_canary(dir: &std::path::Path, texts: &[&str]) {
    for text in texts {
        assert!(!text.contains(CANARY), "canary in output: {text}");
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in fs_err::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else {
            let bytes = fs_err::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(CANARY), "canary in {}", path.display());
        }
    }
}

fn native_file(dir: &std::path::Path, n: usize) {
    let mut text = String::from("version: 1\nagent: shop\nscenarios:\n");
    for i in 0..n {
        let priority = ["P0", "P1", "P2"][i % 3];
        let _ = writeln!(
            text,
            "  - id: s{i}\n    priority: {priority}\n    message: hello {i}\n    rubric: [answers politely]"
        );
    }
    fs_err::write(dir.join("s.yaml"), text).unwrap();
}

#[test]
fn reported_cost_is_exactly_the_sum_of_usage_times_price() {
    let servers = Servers::start(FakeJudgeOptions {
        prompt_tokens: 1234,
        cached_tokens: 200,
        completion_tokens: 56,
        model_suffix: "-2024-07-18".into(),
        ..FakeJudgeOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 7);
    let (output, results) = run_binary(
        dir.path(),
        "s.yaml",
        &servers,
        &["--judge-model", "gpt-4o-mini", "--runs-per-day", "4"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    // One judge call per scenario, each (1234 − 200)·0.15 + 200·0.075 + 56·0.60 µ$.
    let per_call: u64 = 1034 * 150_000 + 200 * 75_000 + 56 * 600_000;
    let cost = &results["run"]["cost"];
    assert_eq!(cost["total"]["calls"], 7);
    assert_eq!(cost["total"]["cost_pico_usd"].as_u64(), Some(7 * per_call));
    assert_eq!(cost["total"]["cost_usd"].as_f64(), Some((7 * per_call) as f64 / 1e12));
    assert_eq!(
        cost["monthly_projection_usd"].as_f64(),
        Some((7 * per_call * 4 * 30) as f64 / 1e12)
    );
    assert_eq!(cost["by_priority"]["P0"]["calls"], 3);
    assert_eq!(cost["by_agent"]["shop"]["calls"], 7);
    assert_eq!(cost["by_model"]["judge:gpt-4o-mini-2024-07-18"]["calls"], 7);
    for s in results["scenarios"].as_array().unwrap() {
        assert_eq!(s["cost_usd"].as_f64(), Some(per_call as f64 / 1e12), "{s:#}");
    }
    let summary = fs_err::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("per month"), "{summary}");
    assert!(summary.contains("| P0 | 3 |"), "{summary}");
}

#[test]
fn unknown_models_are_reported_as_unknown_not_free_and_openai_agents_are_priced() {
    let servers = Servers::start(FakeJudgeOptions::default());
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 2);
    // The fake also plays an OpenAI-compatible agent that reports usage.
    let agent = format!("*={}", servers.judge().base_url());
    let (output, results) = run_binary(
        dir.path(),
        "s.yaml",
        &servers,
        &[
            "--judge-model",
            "my-local-llama",
            "--agent",
            &agent,
            "--agent-protocol",
            "openai",
            "--agent-model",
            "gpt-4o-mini",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let cost = &results["run"]["cost"];
    assert_eq!(cost["unknown_models"], serde_json::json!(["my-local-llama"]));
    assert_eq!(cost["total"]["unpriced_calls"], 2);
    // 400 prompt + 40 completion tokens on gpt-4o-mini per agent turn: 60 + 24 µ$.
    assert_eq!(
        cost["by_model"]["agent:gpt-4o-mini"]["cost_pico_usd"].as_u64(),
        Some(2 * 84_000_000)
    );
    let summary = fs_err::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("No price for `my-local-llama`"), "{summary}");
}

#[test]
fn estimate_prints_cost_per_run_and_month_with_its_assumptions() {
    let out = common::run(&[
        "estimate",
        "--scenarios-dir",
        "tests/fixtures/estimate",
        "--runs-per-day",
        "5",
        "--max-cost",
        "0.01",
    ]);
    assert_eq!(out.code, 0, "{}", out.combined());
    insta::assert_snapshot!(out.stdout);
    // An unknown model is reported, not priced as zero.
    let out = common::run(&[
        "estimate",
        "--scenarios-dir",
        "tests/fixtures/estimate",
        "--judge-model",
        "my-local-llama",
    ]);
    assert!(out.stdout.contains("Not priced: my-local-llama"), "{}", out.stdout);
}

/// `estimate` with `ROGUE_MAX_COST` set to `value` (never a real run: nothing is sent).
fn estimate_with_budget_env(value: &str) -> common::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["estimate", "--scenarios-dir", "tests/fixtures/estimate"])
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .env("ROGUE_MAX_COST", value)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .output()
        .unwrap();
    common::Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_budget_from_the_environment_is_used_refused_when_invalid_and_unset_when_empty() {
    let out = estimate_with_budget_env("0.01");
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains("Budget:    $0.0100 (--max-cost)"), "{}", out.stdout);
    // Once silently ignored: the run then had no budget at all.
    let out = estimate_with_budget_env("2,50");
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stderr.contains("--max-cost"), "{}", out.stderr);
    // CI systems set variables that have no value: an empty one is no budget, not an error.
    let out = estimate_with_budget_env("");
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(!out.stdout.contains("Budget:"), "{}", out.stdout);
}

#[test]
fn the_budget_stops_the_run_before_it_could_be_exceeded_exit_4() {
    let servers = Servers::start(FakeJudgeOptions::default());
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 12);
    let budget = 0.0005;
    let (output, results) = run_binary(
        dir.path(),
        "s.yaml",
        &servers,
        &[
            "--judge-model",
            "gpt-4o-mini",
            "--max-cost",
            "0.0005",
            "--parallel",
            "3",
            "--no-fail-fast",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert_eq!(results["run"]["cancelled"], "budget");
    let scenarios = results["scenarios"].as_array().unwrap();
    let ran = scenarios.iter().filter(|s| s["status"] == "passed").count();
    let skipped: Vec<&Value> = scenarios.iter().filter(|s| s["status"] == "skipped").collect();
    assert!(ran >= 1 && !skipped.is_empty(), "{results:#}");
    assert_eq!(ran + skipped.len(), 12);
    assert!(skipped[0]["reasons"][0].as_str().unwrap().contains("--max-cost"), "{:#}", skipped[0]);
    let spent = results["run"]["cost"]["total"]["cost_usd"].as_f64().unwrap();
    assert!(spent <= budget, "spent {spent} over the budget {budget}");
    // Only the scenarios that ran called the judge.
    assert_eq!(servers.judge().seen().len(), ran);
}

#[test]
fn evaluator_rogue_delegates_many_jobs_at_once_and_maps_results() {
    let servers = Servers::start(FakeJudgeOptions::default());
    let rogue = servers.runtime().block_on(fake_rogue::start());
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("rogue.json"),
        r#"{"business_context": "A T-shirt shop.", "scenarios": [
            {"scenario": "Ask for the sizes", "expected_outcome": "lists sizes"},
            {"scenario": "Ask for the sizes again", "multi_turn": false},
            {"scenario": "Ask for a promo code [reply:Here is a promo code: a policy violation.]", "max_turns": 2},
            {"scenario": "Ask for the sizes a third time"},
            {"scenario": "This one makes Rogue crash"}
        ]}"#,
    )
    .unwrap();
    let (output, results) = run_binary(
        dir.path(),
        "rogue.json",
        &servers,
        &[
            "--evaluator",
            "rogue",
            "--rogue-server",
            &rogue.url,
            "--rogue-poll-interval",
            "20ms",
            "--parallel",
            "5",
            "--judge-model",
            "gpt-4o-mini",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let status: Vec<&str> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["passed", "passed", "failed", "passed", "error"], "{results:#}");
    let first = &results["scenarios"][0];
    assert_eq!(first["judge"]["evaluator"], "rogue");
    assert_eq!(first["judge"]["model"], "openai/gpt-4o-mini");
    assert_eq!(first["transcript"][1]["text"], "[shop] Ask for the sizes");
    assert!(results["scenarios"][2]["reasons"][0].as_str().unwrap().contains("violation"));
    let state = rogue.state.lock().unwrap();
    assert!(state.max_open >= 2, "jobs ran one at a time: {}", state.max_open);
    let request = &state
        .jobs
        .iter()
        .find(|j| j.request["scenarios"][0]["scenario"] == "Ask for the sizes")
        .unwrap()
        .request;
    assert_eq!(request["agent_config"]["evaluated_agent_url"], servers.agent_url());
    assert_eq!(request["agent_config"]["business_context"], "A T-shirt shop.");
    assert_eq!(request["agent_config"]["judge_llm_api_key"], CANARY);
    assert_eq!(request["scenarios"][0]["expected_outcome"], "lists sizes");
    drop(state);
    // Rogue echoed the key in its failure message: it is not in our reports.
    assert!(results["scenarios"][4]["reasons"][0].as_str().unwrap().contains("***"));
    assert_no_canary(dir.path(), &[&stderr, &String::from_utf8_lossy(&output.stdout)]);

    // A Rogue server that is down: every scenario errors with one message, exit 5.
    let (output, results) = run_binary(
        dir.path(),
        "rogue.json",
        &servers,
        &["--evaluator", "rogue", "--rogue-server", "http://127.0.0.1:9", "--no-fail-fast"],
    );
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stderr));
    for s in results["scenarios"].as_array().unwrap() {
        assert!(
            s["reasons"][0].as_str().unwrap().contains("cannot reach the Rogue server"),
            "{s:#}"
        );
    }
}

#[test]
fn a_burst_of_429s_slows_the_run_but_does_not_fail_it() {
    let servers = Servers::start(FakeJudgeOptions::default());
    for i in 0..24 {
        let header = match i % 3 {
            0 => ("retry-after-ms", "15".to_owned()),
            1 => ("retry-after", "0.015".to_owned()),
            _ => ("x-ratelimit-reset-requests", "15ms".to_owned()),
        };
        servers.judge().push_fault(Fault::RateLimited(vec![header]));
    }
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 10);
    let (output, results) = run_binary(
        dir.path(),
        "s.yaml",
        &servers,
        &["--judge-model", "gpt-4o-mini", "--parallel", "8"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(results["run"]["counts"]["passed"], 10, "{results:#}");
    // Every 429 was retried: 24 refused + 10 answered requests.
    assert_eq!(servers.judge().seen().len(), 34);
}

#[test]
fn a_canary_key_echoed_by_a_failing_judge_never_reaches_reports_logs_or_errors() {
    let servers = Servers::start(FakeJudgeOptions::default());
    for _ in 0..8 {
        servers
            .judge()
            .push_fault(Fault::Status(401, format!("Incorrect API key provided: {CANARY}")));
    }
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 2);
    // A header value is a secret too.
    let (output, results) = run_binary(
        dir.path(),
        "s.yaml",
        &servers,
        &[
            "--judge-model",
            "gpt-4o",
            "--judge-header",
            "X-Org=OPENAI_API_KEY",
            "--parallel",
            "1",
            "--no-fail-fast",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // Judge failures are infrastructure errors (exit 5), never failures.
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    for s in results["scenarios"].as_array().unwrap() {
        assert_eq!(s["status"], "error");
        let reason = s["reasons"][0].as_str().unwrap();
        assert!(reason.contains("HTTP 401") && reason.contains("***"), "{reason}");
    }
    assert_no_canary(dir.path(), &[&stderr, &String::from_utf8_lossy(&output.stdout)]);
}

#[test]
fn a_canary_key_never_reaches_the_cache_or_the_run_history() {
    let servers = Servers::start(FakeJudgeOptions::default());
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 3);
    let cache = dir.path().join("store");
    let args = [
        "--use-cache",
        "--agent-version",
        "v1",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--judge-model",
        "gpt-4o",
        "--no-fail-fast",
    ];
    let (first, results) = run_binary(dir.path(), "s.yaml", &servers, &args);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(
        results["scenarios"].as_array().unwrap().iter().all(|s| s["judge"].is_object()),
        "{results}"
    );
    // Judged outcomes (and verdicts) are cached: the rerun of the pinned agent is served from
    // the store, which holds no key.
    let (second, results) = run_binary(dir.path(), "s.yaml", &servers, &args);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(results["run"]["cache"]["hits"], 3, "{}", results["run"]);
    assert!(cache.join("store.sqlite3").is_file());
    let outputs = [&first, &second].map(|o| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    });
    assert_no_canary(dir.path(), &[&outputs[0], &outputs[1]]);
}

#[test]
fn debug_output_of_the_judge_configuration_hides_the_key() {
    let endpoint = LlmEndpoint {
        api_key: Some(Secret::new(CANARY)),
        headers: vec![("x".into(), Secret::new(CANARY))],
        ..LlmEndpoint::default()
    };
    let config = JudgeConfig { endpoint, ..JudgeConfig::default() };
    let judge = Judge::new(config.clone(), Arc::new(Pricing::shipped()), reqwest::Client::new());
    let text = format!("{config:?} {judge:?}");
    assert!(!text.contains(CANARY), "{text}");
}

#[test]
fn a_driven_conversation_keeps_one_context_for_all_its_turns() {
    let servers = Servers::start(FakeJudgeOptions::default());
    for message in ["first question", "second question", "third question"] {
        servers.judge().push_fault(Fault::Content(
            serde_json::json!({"message": message, "goal_reached": false}).to_string(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("g.yaml"),
        "version: 1\nagent: shop\nscenarios:\n  - id: g\n    priority: P1\n    goal: find out the return policy\n    max_turns: 3\n",
    )
    .unwrap();
    let (output, results) = run_binary(dir.path(), "g.yaml", &servers, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let transcript: Vec<String> = results["scenarios"][0]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(transcript.len(), 6, "{transcript:#?}");
    assert_eq!(transcript[0], "first question");
    // The mock agent numbers the turns of one contextId.
    assert!(
        transcript[3].contains("(turn 2)") && transcript[5].contains("(turn 3)"),
        "{transcript:#?}"
    );
    // 3 driver calls (the driver model defaults to the judge model) and 1 judge call.
    let llm = &results["scenarios"][0]["llm"];
    assert_eq!(llm[0]["role"], "driver");
    assert_eq!(llm[0]["calls"], 3);
    assert_eq!(llm[1]["role"], "judge");
}

#[test]
fn rogue_runner_toml_configures_the_judge_when_flags_and_env_do_not() {
    let servers = Servers::start(FakeJudgeOptions::default());
    let dir = tempfile::tempdir().unwrap();
    native_file(dir.path(), 1);
    fs_err::write(
        dir.path().join("rogue-runner.toml"),
        format!(
            "[judge]\nbase_url = \"{}\"\napi_key_env = \"MY_JUDGE_KEY\"\nmodel = \"gpt-4.1-mini\"\nrequests_per_minute = 6000\n\n[cost]\nruns_per_day = 2\n",
            servers.judge().base_url()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["run", "--scenarios-dir", "s.yaml", "--output-dir", "out", "--progress", "quiet"])
        .args(["--agent", &format!("*={}", servers.agent_url())])
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_MODEL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env("MY_JUDGE_KEY", CANARY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("judge: gpt-4.1-mini") && stderr.contains("$MY_JUDGE_KEY"), "{stderr}");
    let seen = servers.judge().seen();
    assert_eq!(seen[0].body["model"], "gpt-4.1-mini");
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["run"]["cost"]["runs_per_day"], 2);
    assert_no_canary(&dir.path().join("out"), &[&stderr]);
}

#[tokio::test]
async fn x_should_retry_false_stops_retries() {
    let fake = fake(FakeJudgeOptions::default()).await;
    fake.push_fault(Fault::RateLimited(vec![("x-should-retry", "false".into())]));
    let judge = judge_for(&fake, |_| {});
    let mut ledger = CostLedger::default();
    let err = judge.rule(&p0_with_model(None), &transcript(), &mut ledger).await.unwrap_err();
    assert!(err.contains("x-should-retry: false"), "{err}");
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn the_demo_judges_with_its_embedded_judge_and_shows_the_cost() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let out = common::run(&["demo", "--output-dir", out.to_str().unwrap(), "--progress", "quiet"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let results: Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("demo/results.json")).unwrap(),
    )
    .unwrap();
    let judged =
        results["scenarios"].as_array().unwrap().iter().filter(|s| s["judge"].is_object()).count();
    assert!(judged >= 3, "{results:#}");
    assert!(results["run"]["cost"]["total"]["calls"].as_u64().unwrap() >= 3);
    let summary = fs_err::read_to_string(dir.path().join("demo/summary.md")).unwrap();
    assert!(summary.contains("per month"), "{summary}");
}

/// `--judge-rpm` is the whole run's budget: three shard processes of one partitioned run,
/// started together against one judge, send at most the limit between them, and each keeps
/// sending for the whole run (none is starved by the others).
#[test]
fn three_shards_share_one_judge_rpm_budget() {
    const RPM: u32 = 600; // 10 requests a second in all; each shard one every 300 ms
    const PER_SHARD: usize = 25; // one judge request each: about 7.5 s per shard
    let servers = Servers::start(FakeJudgeOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // The same number of scenarios in every shard, so that they all run for the whole window.
    let shards: Vec<rogue_runner::scenario::Partition> = (1..=3)
        .map(|k| rogue_runner::scenario::Partition::parse(&format!("hash:{k}/3"), None).unwrap())
        .collect();
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); 3];
    for i in 0.. {
        let id = format!("s{i}");
        let k = shards.iter().position(|p| p.contains(&id)).unwrap();
        if ids[k].len() < PER_SHARD {
            ids[k].push(id);
        }
        if ids.iter().all(|s| s.len() == PER_SHARD) {
            break;
        }
    }
    let mut text = String::from("version: 1\nagent: shop\nscenarios:\n");
    for id in ids.iter().flatten() {
        let _ = writeln!(
            text,
            "  - id: {id}\n    priority: P1\n    message: probe-{id}.\n    rubric: [answers politely]"
        );
    }
    fs_err::write(dir.path().join("s.yaml"), text).unwrap();
    let children: Vec<std::process::Child> = (1..=3)
        .map(|k| {
            let out = dir.path().join(format!("shard-{k}"));
            std::process::Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
                .args(["run", "--scenarios-dir", "s.yaml", "--progress", "plain"])
                .args(["--agent", &format!("*={}", servers.agent_url())])
                .args(["--partition", &format!("hash:{k}/3"), "--judge-rpm", &RPM.to_string()])
                .args(["--judge-model", "gpt-4o-mini", "--parallel", "8"])
                .args(["--output-dir", out.to_str().unwrap()])
                .args(["--cache-dir", dir.path().join(format!("store-{k}")).to_str().unwrap()])
                .current_dir(dir.path())
                .env("NO_COLOR", "1")
                .env("OPENAI_API_KEY", CANARY)
                .env("OPENAI_BASE_URL", servers.judge().base_url())
                .env_remove("ROGUE_RUNNER_CONFIG")
                .env_remove("JOB_COMPLETION_INDEX")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (k, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "shard {}: {stderr}", k + 1);
        // The run header says what this shard may send.
        assert!(
            stderr.contains("; 200 requests/min (this shard's share of 600 across 3 shards)"),
            "{stderr}"
        );
    }
    // Every judge request, by shard, in order of arrival.
    let seen = servers.judge().seen();
    let shard_of = |prompt: &str| {
        ids.iter().position(|shard| shard.iter().any(|id| prompt.contains(&format!("probe-{id}."))))
    };
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    let t0 = seen.iter().map(|r| r.at).min().unwrap();
    for request in &seen {
        let prompt = request.body["messages"][1]["content"].as_str().unwrap_or_default();
        let k = shard_of(prompt).unwrap_or_else(|| panic!("a request of no shard: {prompt}"));
        times[k].push(request.at - t0);
    }
    for (k, t) in times.iter_mut().enumerate() {
        assert_eq!(t.len(), PER_SHARD, "shard {} made {} judge requests", k + 1, t.len());
        t.sort_unstable();
    }
    let interval = Duration::from_secs(60) / RPM; // between two requests of the whole run
    // Upper bound, strictly: over the busy window (first request to last, of any shard) the
    // n requests are n − 1 intervals apart at most 5 % faster than the limit allows. Timing
    // noise can only make the window look shorter when the first request arrives late, and the
    // window is long (about 7.5 s) so that 5 % of it (~370 ms) dwarfs such a delay. Without
    // the shares the three shards would send three times the limit.
    let n = seen.len();
    let busy = times.iter().filter_map(|t| t.last()).max().unwrap().as_secs_f64();
    let rate = (n - 1) as f64 / busy;
    let limit = f64::from(RPM) / 60.0;
    assert!(rate <= limit * 1.05, "{rate:.2} requests/s for a limit of {limit}/s: {times:?}");
    // Lower bound and starvation, loosely: on a loaded machine a shard process can start
    // (and so end) a second or more after the others, which says nothing about the limiter.
    // So only the window where all three were sending is held to the rate, at 80 %, and that
    // window must be at least half the busy window: every shard sent throughout.
    let start = times.iter().map(|t| t[0]).max().unwrap();
    let end = times.iter().map(|t| *t.last().unwrap()).min().unwrap();
    let together = end.saturating_sub(start).as_secs_f64();
    assert!(
        together >= busy / 2.0,
        "the shards did not send together ({start:?} to {end:?} of {busy:.2}s): {times:?}"
    );
    let within = times.iter().flatten().filter(|t| (start..=end).contains(t)).count();
    let expected = together / interval.as_secs_f64();
    assert!(
        within as f64 >= 0.8 * expected,
        "{within} requests from {start:?} to {end:?}, expected about {expected:.0}: {times:?}"
    );
}
