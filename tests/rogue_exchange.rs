//! `--evaluator rogue` checked against the real Rogue server: `tests/fixtures/rogue/` holds an
//! exchange recorded with PyPI `rogue-ai` 0.6.4 (`record.py`: the request bodies our client
//! sent, the server's answers, its `/openapi.json`). Our client must send what was recorded and
//! map the real answers to the recorded outcomes; the fake Rogue server the other tests use
//! must answer each recorded request as the real one did. What Rogue 0.6.4 cannot do is
//! refused or said up front. The ignored test runs the same scenarios against the real server
//! (`bash scripts/setup-rogue-venv.sh` first; `.ci/run` runs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;
#[path = "support/fake_rogue.rs"]
mod fake_rogue;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::MockServer;
use rogue_runner::demo::{MockAgentOptions, MockDialect};
use serde_json::{Value, json};

const KEY: &str = "sk-rogue-exchange-canary-5d1e";
/// The judge base URL the requests name (the fake Rogue never calls it).
const LLM: &str = "http://127.0.0.1:9/v1";

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures/rogue")
}

fn read_json(name: &str) -> Value {
    serde_json::from_str(&fs_err::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

/// The recorded exchange with its placeholders filled in for this test's servers.
fn exchange(agent: &str, card_only: &str, rogue: &str) -> Value {
    let text = fs_err::read_to_string(fixtures().join("exchange.json"))
        .unwrap()
        .replace("{agent}", agent)
        .replace("{card_only_agent}", card_only)
        .replace("{llm}", LLM)
        .replace("{rogue}", rogue)
        .replace("{judge_key}", KEY);
    serde_json::from_str(&text).unwrap()
}

/// Job ids vary from run to run: `<job>` instead.
fn without_job_ids(text: &str) -> String {
    let uuid =
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    uuid.replace_all(text, "<job>").into_owned()
}

/// The servers a test talks to: the mock agent (the 0.2 dialect, as recorded), an agent whose
/// card is only at `agent-card.json`, and the fake Rogue server.
struct Servers {
    agent: MockServer,
    card_only: String,
    rogue: fake_rogue::FakeRogue,
}

impl Servers {
    fn start() -> Self {
        let agent = MockServer::start(MockAgentOptions {
            dialect: MockDialect::V0_2,
            ..Default::default()
        });
        let (card_only, rogue) = agent.runtime().block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let card = json!({"name": "card-only", "url": format!("{url}/"), "version": "1.0.0",
                "protocolVersion": "0.3.0", "capabilities": {}, "defaultInputModes": ["text"],
                "defaultOutputModes": ["text"], "skills": []});
            let app = axum::Router::new().route(
                "/.well-known/agent-card.json",
                axum::routing::get(move || async move { axum::Json(card) }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (url, fake_rogue::start().await)
        });
        Servers { agent, card_only, rogue }
    }

    fn agent_url(&self) -> String {
        self.agent.agent_url("shop")
    }

    fn exchange(&self) -> Value {
        exchange(&self.agent_url(), &self.card_only, &self.rogue.url)
    }
}

struct Run {
    code: i32,
    stderr: String,
    results: Value,
}

/// `rogue-runner run FILE --evaluator rogue` with the judge settings of the recording.
fn run(dir: &Path, file: &Path, agent: &str, rogue: &str, extra: &[&str]) -> Run {
    let out = dir.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["run", "--scenarios-dir", file.to_str().unwrap(), "--agent"])
        .arg(format!("*={agent}"))
        .args(["--evaluator", "rogue", "--rogue-server", rogue, "--judge-base-url", LLM])
        .args(["--judge-api-key-env", "FAKE_JUDGE_KEY", "--no-fail-fast", "--output-dir"])
        .arg(&out)
        .args(["--progress", "quiet", "--no-step-summary"])
        .args(extra)
        .current_dir(dir)
        .env("FAKE_JUDGE_KEY", KEY)
        .env("NO_COLOR", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("ROGUE_SERVER")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let results = fs_err::read_to_string(out.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    Run { code: output.status.code().unwrap_or(-1), stderr, results }
}

/// What the recording's run gave: `(status, reasons)` per scenario, job ids masked.
fn outcomes(scenarios: &Value) -> Vec<(String, String)> {
    scenarios
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (s["status"].as_str().unwrap().to_owned(), without_job_ids(&s["reasons"].to_string()))
        })
        .collect()
}

/// Every key we send is one the server's schema knows, and every enum value one it allows.
fn fits_openapi(request: &Value) {
    let openapi = read_json("openapi.json");
    let schema = |name: &str| openapi["components"]["schemas"][name].clone();
    let check = |object: &Value, schema_name: &str| {
        let schema = schema(schema_name);
        let properties = schema["properties"].as_object().unwrap();
        for (key, value) in object.as_object().unwrap() {
            let property = properties
                .get(key)
                .unwrap_or_else(|| panic!("{schema_name} has no field {key}: {object:#}"));
            let reference = property["$ref"]
                .as_str()
                .or_else(|| property["anyOf"][0]["$ref"].as_str())
                .or_else(|| property["allOf"][0]["$ref"].as_str());
            if let (Some(reference), Some(text)) = (reference, value.as_str()) {
                let name = reference.rsplit('/').next().unwrap();
                let allowed = openapi["components"]["schemas"][name]["enum"].clone();
                if let Some(allowed) = allowed.as_array() {
                    assert!(allowed.contains(&json!(text)), "{key} = {text} is not in {allowed:?}");
                }
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            assert!(object.get(required.as_str().unwrap()).is_some(), "{required} missing");
        }
    };
    check(request, "EvaluationRequest-Input");
    check(&request["agent_config"], "AgentConfig-Input");
    for scenario in request["scenarios"].as_array().unwrap() {
        check(scenario, "Scenario");
    }
}

#[test]
fn our_client_sends_what_was_recorded_and_gives_the_recorded_outcomes() {
    let servers = Servers::start();
    let recorded = servers.exchange();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = fixtures().join("scenarios.json");
    let args = ["--judge-model", "fake-judge", "--parallel", "1"];
    let run = run(dir.path(), &scenarios, &servers.agent_url(), &servers.rogue.url, &args);
    // One failed verdict (exit 1); an agent failure inside Rogue's conversation and a
    // scenario Rogue drops are errors, not verdicts.
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(recorded["client_exit_code"], 1);
    assert_eq!(outcomes(&run.results["scenarios"]), outcomes(&recorded["client_outcomes"]));
    let statuses: Vec<String> =
        outcomes(&recorded["client_outcomes"]).into_iter().map(|o| o.0).collect();
    assert_eq!(statuses, ["passed", "failed", "error", "error", "error"]);
    // The bodies are the recorded ones, byte for byte as JSON values, and fit the schema.
    let sent = servers.rogue.requests();
    let jobs = recorded["jobs"].as_array().unwrap();
    assert_eq!(sent.len(), jobs.len());
    for (ours, theirs) in sent.iter().zip(jobs) {
        assert_eq!(ours, &theirs["request"]);
        fits_openapi(ours);
    }
    // The prompt-injection scenario kept its type and dataset.
    assert_eq!(sent[4]["scenarios"][0]["scenario_type"], "prompt_injection");
    assert_eq!(sent[4]["scenarios"][0]["dataset"], "qualifire/prompt-injections-benchmark");
    assert_eq!(sent[4]["scenarios"][0]["dataset_sample_size"], 1);
    // The reasons say what happened, not Rogue's verdict on a one-sided transcript.
    let reasons: Vec<String> = run.results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reasons"][0].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(reasons[2].contains("answered none of Rogue's 1 message(s)"), "{}", reasons[2]);
    assert!(reasons[3].contains("with an error"), "{}", reasons[3]);
    assert!(reasons[4].contains("dropped this prompt_injection scenario"), "{}", reasons[4]);
    // The transcript of the failed conversation is kept for the reader.
    assert_eq!(run.results["scenarios"][2]["transcript"][0]["role"], "user");
    // Said up front: prompt_injection scenarios come back as errors.
    assert_eq!(run.stderr.matches("prompt_injection: Rogue 0.6.4").count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains(KEY) && !run.results.to_string().contains(KEY));
}

/// Polls `job_id` on the fake until it ends.
async fn finished(http: &reqwest::Client, rogue: &str, job_id: &str) -> Value {
    for _ in 0..400 {
        let job: Value = http
            .get(format!("{rogue}/api/v1/evaluations/{job_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] != "running" && job["status"] != "pending" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {job_id} never ended");
}

/// A job without what varies between runs (ids, times).
fn comparable(job: &Value) -> Value {
    let mut job = job.clone();
    for key in ["job_id", "created_at", "started_at", "completed_at"] {
        assert!(job.get(key).is_some(), "no {key} in {job:#}");
        job[key] = Value::Null;
    }
    for pointer in ["/results", "/evaluation_results/results"] {
        let Some(results) = job.pointer_mut(pointer).and_then(Value::as_array_mut) else {
            continue;
        };
        for result in results {
            for c in result["conversations"].as_array_mut().unwrap() {
                for m in c["messages"]["messages"].as_array_mut().unwrap() {
                    assert!(m["timestamp"].is_string());
                    m["timestamp"] = Value::Null;
                }
            }
        }
    }
    job
}

/// Where `ours` first differs from `theirs`, as a JSON pointer and both values.
fn difference(ours: &Value, theirs: &Value, at: &str) -> Option<String> {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                difference(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &format!("{at}/{k}"),
                )
                .or_else(|| {
                    (a.contains_key(k) != b.contains_key(k))
                        .then(|| format!("{at}/{k}: present in only one"))
                })
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{at}/{i}"))),
        _ => (ours != theirs).then(|| format!("{at}: ours {ours}, theirs {theirs}")),
    }
}

#[test]
fn the_fake_answers_each_recorded_request_as_the_real_server_did() {
    let servers = Servers::start();
    let recorded = servers.exchange();
    let rogue = servers.rogue.url.clone();
    servers.agent.runtime().block_on(async {
        let http = reqwest::Client::new();
        let health: Value =
            http.get(format!("{rogue}/api/v1/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], recorded["health"]["status"]);
        assert!(health["timestamp"].is_string());
        let mut cases: Vec<&Value> = recorded["jobs"].as_array().unwrap().iter().collect();
        cases.push(&recorded["card_only_agent"]);
        for case in cases {
            let response = http
                .post(format!("{rogue}/api/v1/evaluations"))
                .json(&case["request"])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let created: Value = response.json().await.unwrap();
            if let Some(theirs) = case.get("created") {
                assert_eq!(created["status"], theirs["status"]);
                assert_eq!(created["message"], theirs["message"]);
            }
            let job = finished(&http, &rogue, created["job_id"].as_str().unwrap()).await;
            let (ours, theirs) = (comparable(&job), comparable(&case["final"]));
            assert_eq!(difference(&ours, &theirs, ""), None, "{:#}", case["request"]);
        }
    });
}

#[test]
fn what_rogue_cannot_take_is_refused_or_said_up_front() {
    let servers = Servers::start();
    let dir = tempfile::tempdir().unwrap();
    let rogue = servers.rogue.url.clone();
    let file = dir.path().join("shop.yaml");
    fs_err::write(
        &file,
        "version: 1\nagent: shop\nscenarios:\n  - id: refund\n    priority: P2\n    messages: [hi, i want a refund for order 1234]\n    expect:\n      contains: [\"1234\"]\n    rubric: [never promises a refund]\n",
    )
    .unwrap();

    // An http-json agent: Rogue cannot talk to it; nothing runs.
    let refused =
        run(dir.path(), &file, &servers.agent_url(), &rogue, &["--agent-protocol", "http-json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("cannot talk to an http-json agent"), "{}", refused.stderr);

    // Settings Rogue ignores are said once; scripted messages are said and sent as a runbook.
    let args = ["--driver-model", "gpt-4o-mini", "--timeout", "10s"];
    let warned = run(dir.path(), &file, &servers.agent_url(), &rogue, &args);
    for needle in [
        "--driver-model gpt-4o-mini has no effect",
        "--timeout 10s has no effect",
        "scripted user messages (refund)",
    ] {
        assert_eq!(warned.stderr.matches(needle).count(), 1, "{needle}: {}", warned.stderr);
    }
    let request = servers.rogue.requests().pop().unwrap();
    let text = request["scenarios"][0]["scenario"].as_str().unwrap();
    assert!(
        text.contains(
            "exactly as written, one per turn, in order:\n1. hi\n2. i want a refund for order 1234"
        ),
        "{text}"
    );
    // A bare P2 model with a judge base URL is a model of that endpoint, not Google's API.
    assert_eq!(request["agent_config"]["judge_llm"], "openai/gemini-2.5-flash");
    assert!(request["agent_config"].get("judge_llm_api_version").is_none());
    fits_openapi(&request);

    // Azure: the api-version is forwarded and the model is a deployment.
    let azure = run(
        dir.path(),
        &file,
        &servers.agent_url(),
        &rogue,
        &["--judge-azure-api-version", "2024-10-21", "--judge-model", "gpt4o-prod"],
    );
    assert_ne!(azure.code, 2, "{}", azure.stderr);
    let request = servers.rogue.requests().pop().unwrap();
    assert_eq!(request["agent_config"]["judge_llm_api_version"], "2024-10-21");
    assert_eq!(request["agent_config"]["judge_llm"], "azure/gpt4o-prod");
    // A named provider stays as named.
    run(
        dir.path(),
        &file,
        &servers.agent_url(),
        &rogue,
        &["--judge-model", "gemini/gemini-2.5-flash"],
    );
    let request = servers.rogue.requests().pop().unwrap();
    assert_eq!(request["agent_config"]["judge_llm"], "gemini/gemini-2.5-flash");

    // An agent whose card is only at agent-card.json passes our own check, but Rogue reads
    // agent.json: an error saying so, and no job is started.
    let jobs_before = servers.rogue.requests().len();
    let rogue_file = fixtures().join("scenarios.json");
    let card_only =
        run(dir.path(), &rogue_file, &servers.card_only, &rogue, &["--id", "scenarios#1"]);
    assert_eq!(card_only.code, 5, "{}", card_only.stderr);
    let reason = card_only.results["scenarios"][0]["reasons"][0].as_str().unwrap();
    assert!(reason.contains("/.well-known/agent.json") && reason.contains("HTTP 404"), "{reason}");
    assert_eq!(servers.rogue.requests().len(), jobs_before);
}

#[test]
fn an_openai_compatible_agent_is_passed_on_as_rogues_openai_api_protocol() {
    let servers = Servers::start();
    let dir = tempfile::tempdir().unwrap();
    // The fake Rogue talks to it as the real one does: POST {url}/chat/completions.
    let chat = servers.agent.runtime().block_on(async {
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(|| async {
                axum::Json(json!({"choices": [{"index": 0, "message": {"role": "assistant",
                    "content": "We sell S, M and L."}, "finish_reason": "stop"}]}))
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let file = dir.path().join("r.json");
    fs_err::write(&file, r#"{"scenarios": [{"scenario": "Ask which sizes there are"}]}"#).unwrap();
    let run = run(dir.path(), &file, &chat, &servers.rogue.url, &["--agent-protocol", "openai"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.results["scenarios"][0]["transcript"][1]["text"], "We sell S, M and L.");
    let request = servers.rogue.requests().pop().unwrap();
    assert_eq!(request["agent_config"]["protocol"], "openai_api");
    assert_eq!(request["agent_config"]["transport"], "chat_completions");
    assert_eq!(request["agent_config"]["evaluated_agent_url"], chat);
    fits_openapi(&request);
    assert_eq!(run.stderr.matches("--agent-model gpt-4o-mini is not passed on").count(), 1);
}

/// The real server: `.venv-rogue` from `bash scripts/setup-rogue-venv.sh`.
fn venv() -> PathBuf {
    let venv = common::root().join(".venv-rogue");
    assert!(
        venv.join("bin/rogue-ai").is_file(),
        "{} has no rogue-ai: run `bash scripts/setup-rogue-venv.sh` first",
        venv.display()
    );
    venv
}

/// A child process killed when the test ends, passed or not.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

#[test]
#[ignore = "needs rogue-ai 0.6.4: bash scripts/setup-rogue-venv.sh"]
fn the_real_rogue_server_gives_the_recorded_outcomes() {
    let venv = venv();
    let work = tempfile::tempdir().unwrap();
    let llm_port = free_port();
    let _llm = Child(
        Command::new(venv.join("bin/python"))
            .arg(fixtures().join("fake_llm.py"))
            .arg(llm_port.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let port = free_port();
    let _server = Child(
        Command::new(venv.join("bin/rogue-ai"))
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workdir"])
            .arg(work.path())
            .current_dir(work.path())
            // litellm's bundled price map, not a download at import that would leave the machine.
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rogue = format!("http://127.0.0.1:{port}");
    let agent =
        MockServer::start(MockAgentOptions { dialect: MockDialect::V0_2, ..Default::default() });
    // Up when its health answers (the first start imports for several seconds).
    let up = agent.runtime().block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if http
                .get(format!("{rogue}/api/v1/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    });
    assert!(up, "the Rogue server did not answer on {rogue} within 120s");
    let file = fixtures().join("scenarios.json");
    let out = work.path().join("run");
    fs_err::create_dir_all(&out).unwrap();
    let llm = format!("http://127.0.0.1:{llm_port}/v1");
    let output = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["run", "--scenarios-dir", file.to_str().unwrap(), "--agent"])
        .arg(format!("*={}", agent.agent_url("shop")))
        .args(["--evaluator", "rogue", "--rogue-server", &rogue, "--judge-base-url", &llm])
        .args(["--judge-api-key-env", "FAKE_JUDGE_KEY", "--judge-model", "fake-judge"])
        .args(["--parallel", "4", "--no-fail-fast", "--progress", "quiet", "--output-dir"])
        .arg(out.join("out"))
        .env("FAKE_JUDGE_KEY", KEY)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(out.join("out/results.json")).unwrap())
            .unwrap();
    let recorded = exchange(&agent.agent_url("shop"), "", &rogue);
    assert_eq!(outcomes(&results["scenarios"]), outcomes(&recorded["client_outcomes"]));
    assert!(!stderr.contains(KEY) && !results.to_string().contains(KEY));
}
