//! A fake Rogue evaluator server (the REST API of PyPI `rogue-ai` 0.6.4), checked against an
//! exchange recorded with the real one (`tests/fixtures/rogue/`, `tests/rogue_exchange.rs`).
//!
//! Like the real server it answers `POST /api/v1/evaluations` at once with a `pending` job and
//! runs the job in the background: it reads the card of an `a2a` agent from
//! `/.well-known/agent.json` only, then sends one message per scenario (an `openai_api` agent
//! gets `POST {url}/chat/completions`). Where the real server's driver LLM writes that
//! message, the fake sends the scenario text as written, as the fake LLM of the recording
//! does (`fake_llm.py`), so both see the same conversation. As in 0.6.4: a failed turn ends
//! the conversation with the user's message alone, a JSON-RPC error is recorded as the reply
//! "Not a text response", the judge still rules, a `prompt_injection` scenario is dropped
//! without a result (the job fails with "Evaluation completed but no results were
//! generated"), and every job echoes the whole request, judge key included. Its judge is
//! `fake_llm.py`'s: a conversation fails when an agent reply says "violation". A scenario
//! whose text says "crash" makes the job fail with a message that echoes the judge key.

// Test scaffolding: a failure to bind or a malformed request is a test bug and should panic.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A running fake; the server stops with the runtime it was started on.
#[derive(Debug)]
pub struct FakeRogue {
    pub url: String,
    pub state: Arc<Mutex<RogueState>>,
}

#[derive(Debug, Default)]
pub struct RogueState {
    /// Every job: the request as sent, how often it was polled, and the job as last answered.
    pub jobs: Vec<FakeJob>,
    /// Jobs created and not yet seen finished by a poll; the most at once.
    pub open: usize,
    pub max_open: usize,
}

#[derive(Debug, Clone)]
pub struct FakeJob {
    pub id: String,
    pub request: Value,
    pub polls: u32,
    /// Set once the background conversation is over.
    pub done: Option<Done>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub enum Done {
    Result(Value),
    /// The error message, and how many chat messages the job had seen.
    Failed(String, usize),
}

type Shared = Arc<Mutex<RogueState>>;

const NOW: &str = "2026-11-25T10:00:00.000000Z";

/// Starts the fake on `127.0.0.1:0` on the current runtime.
pub async fn start() -> FakeRogue {
    let state: Shared = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/v1/health",
            get(|| async { axum::Json(json!({"status": "healthy", "timestamp": NOW})) }),
        )
        .route("/api/v1/evaluations", post(create))
        .route("/api/v1/evaluations/{id}", get(poll))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeRogue { url, state }
}

impl FakeRogue {
    /// The requests of every job, in the order they were created.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().jobs.iter().map(|j| j.request.clone()).collect()
    }
}

/// `AgentConfig` and `Scenario` as the real server echoes them: every field, defaults filled.
fn with_defaults(mut request: Value) -> Value {
    let config_defaults = json!({
        "protocol": "a2a", "transport": null, "evaluated_agent_url": null,
        "evaluated_agent_auth_type": "no_auth", "evaluated_agent_credentials": null,
        "service_llm": "openai/gpt-4.1", "judge_llm": "openai/o4-mini", "interview_mode": true,
        "parallel_runs": 1, "judge_llm_api_key": null, "judge_llm_aws_access_key_id": null,
        "judge_llm_aws_secret_access_key": null, "judge_llm_aws_region": null,
        "judge_llm_api_base": null, "judge_llm_api_version": null, "business_context": "",
        "rogue_security_api_key": null, "evaluation_mode": "policy", "red_team_config": null,
        "python_entrypoint_file": null,
    });
    fill(&mut request["agent_config"], &config_defaults);
    // Pydantic's HttpUrl: a URL without a path gets `/`.
    if let Some(url) = request["agent_config"]["evaluated_agent_url"].as_str() {
        if let Ok(parsed) = reqwest::Url::parse(url) {
            request["agent_config"]["evaluated_agent_url"] = json!(parsed.to_string());
        }
    }
    if let Some(scenarios) = request["scenarios"].as_array_mut() {
        for scenario in scenarios {
            fill(scenario, &scenario_defaults());
        }
    }
    fill(&mut request, &json!({"max_retries": 3, "timeout_seconds": 600}));
    request
}

fn scenario_defaults() -> Value {
    json!({
        "scenario_type": "policy", "dataset": null, "expected_outcome": null,
        "dataset_sample_size": null, "multi_turn": true, "max_turns": 10,
        "available_kwargs": {}, "file_path": null,
    })
}

fn fill(target: &mut Value, defaults: &Value) {
    let (Some(target), Some(defaults)) = (target.as_object_mut(), defaults.as_object()) else {
        return;
    };
    for (k, v) in defaults {
        target.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// Pydantic's answer to a `prompt_injection` scenario without a dataset.
fn invalid(request: &Value) -> Option<Value> {
    let scenarios = request["scenarios"].as_array()?;
    scenarios.iter().enumerate().find_map(|(i, s)| {
        let typed = s["scenario_type"].as_str().is_some_and(|t| t != "policy");
        (typed && s["dataset"].is_null()).then(|| {
            json!({"detail": [{"type": "value_error", "loc": ["body", "scenarios", i],
                "msg": "Value error, `dataset` must be provided when scenario_type is 'prompt_injection'",
                "input": s}]})
        })
    })
}

async fn create(
    State(s): State<Shared>,
    axum::Json(request): axum::Json<Value>,
) -> Result<axum::Json<Value>, (StatusCode, axum::Json<Value>)> {
    if let Some(detail) = invalid(&request) {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(detail)));
    }
    let id = {
        let mut st = s.lock().unwrap();
        let id = format!("00000000-0000-4000-8000-{:012}", st.jobs.len());
        st.jobs.push(FakeJob {
            id: id.clone(),
            request: request.clone(),
            polls: 0,
            done: None,
            created_at: NOW.to_owned(),
        });
        st.open += 1;
        st.max_open = st.max_open.max(st.open);
        id
    };
    tokio::spawn({
        let (s, id) = (Arc::clone(&s), id.clone());
        async move {
            let done = run_job(&request).await;
            let mut st = s.lock().unwrap();
            if let Some(job) = st.jobs.iter_mut().find(|j| j.id == id) {
                job.done = Some(done);
            }
        }
    });
    Ok(axum::Json(
        json!({"job_id": id, "status": "pending", "message": "Evaluation job created successfully"}),
    ))
}

async fn poll(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, StatusCode> {
    let mut st = s.lock().unwrap();
    let index = st.jobs.iter().position(|j| j.id == id).ok_or(StatusCode::NOT_FOUND)?;
    st.jobs[index].polls += 1;
    let job = st.jobs[index].clone();
    // A job is seen finished no earlier than its second poll, so that jobs overlap visibly.
    let finished = job.done.is_some() && job.polls >= 2;
    if finished && job.polls == 2 {
        st.open -= 1;
    }
    let echo = with_defaults(job.request.clone());
    let mut answer = json!({
        "job_id": id, "status": "running", "created_at": job.created_at,
        "started_at": NOW, "completed_at": null, "request": echo,
        "results": null, "evaluation_results": null, "error_message": null,
        "progress": 0.1, "judge_model": job.request["agent_config"]["judge_llm"],
    });
    match job.done.filter(|_| finished) {
        None => {}
        Some(Done::Result(result)) => {
            answer["status"] = json!("completed");
            answer["completed_at"] = json!(NOW);
            answer["results"] = json!([result]);
            answer["evaluation_results"] = json!({
                "results": [result], "red_teaming_results": null, "owasp_summary": null,
                "vulnerability_scan_log": null, "attack_usage_stats": null,
            });
            answer["progress"] = json!(1.0);
        }
        Some(Done::Failed(message, messages)) => {
            answer["status"] = json!("failed");
            answer["completed_at"] = json!(NOW);
            answer["error_message"] = json!(message);
            // 0.1 once started, then 0.1 per chat message, summed as Python does.
            let progress = (0..messages).fold(0.1_f64, |p, _| p + 0.1);
            answer["progress"] = json!(progress);
        }
    }
    Ok(axum::Json(answer))
}

/// One conversation per job (our client sends one scenario a job), then the judge.
async fn run_job(request: &Value) -> Done {
    let scenario = &request["scenarios"][0];
    let text = scenario["scenario"].as_str().unwrap_or("").to_owned();
    let config = &request["agent_config"];
    if text.contains("crash") {
        let key = config["judge_llm_api_key"].as_str().unwrap_or("");
        return Done::Failed(format!("litellm.AuthenticationError: bad key {key}"), 0);
    }
    let mut messages = vec![json!({"role": "user", "content": text, "timestamp": NOW})];
    if let Some(reply) = converse(config, &text).await {
        messages.push(json!({"role": "assistant", "content": reply, "timestamp": NOW}));
    }
    if scenario["scenario_type"].as_str().is_some_and(|t| t != "policy") {
        return Done::Failed(
            "Evaluation completed but no results were generated".to_owned(),
            messages.len(),
        );
    }
    let violation = messages
        .iter()
        .skip(1)
        .any(|m| m["content"].as_str().is_some_and(|c| c.to_lowercase().contains("violation")));
    let reason =
        if violation { "an agent reply admits a violation" } else { "no reply breaks the policy" };
    let rebuilt = json!({
        "scenario": text, "scenario_type": scenario["scenario_type"].as_str().unwrap_or("policy"),
        "dataset": null, "expected_outcome": scenario["expected_outcome"].as_str().unwrap_or(""),
        "dataset_sample_size": null, "multi_turn": true, "max_turns": 10,
        "available_kwargs": {}, "file_path": null,
    });
    Done::Result(json!({
        "scenario": rebuilt,
        "conversations": [{"messages": {"messages": messages}, "passed": !violation, "reason": reason}],
        "passed": !violation,
    }))
}

/// The header Rogue sends for the configured auth.
fn auth_header(config: &Value) -> Option<(&'static str, String)> {
    let credentials = config["evaluated_agent_credentials"].as_str().unwrap_or("").to_owned();
    match config["evaluated_agent_auth_type"].as_str()? {
        "bearer_token" => Some(("authorization", format!("Bearer {credentials}"))),
        "api_key" => Some(("x-api-key", credentials)),
        "basic" => Some(("authorization", format!("Basic {credentials}"))),
        _ => None,
    }
}

/// The agent's reply to `text`, or `None` when the turn failed (no reply is recorded then).
async fn converse(config: &Value, text: &str) -> Option<String> {
    let http = reqwest::Client::new();
    let url = config["evaluated_agent_url"].as_str()?.trim_end_matches('/').to_owned();
    let with_auth = |request: reqwest::RequestBuilder| match auth_header(config) {
        Some((name, value)) => request.header(name, value),
        None => request,
    };
    if config["protocol"] == "openai_api" {
        let base = url.trim_end_matches("/chat/completions");
        let body = json!({"model": "openai/evaluated-agent",
            "messages": [{"role": "user", "content": text}]});
        let answer = with_auth(http.post(format!("{base}/chat/completions")).json(&body))
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let answer: Value = answer.json().await.ok()?;
        return answer["choices"][0]["message"]["content"]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned);
    }
    let card = with_auth(http.get(format!("{url}/.well-known/agent.json"))).send().await.ok()?;
    if !card.status().is_success() {
        return None;
    }
    let card: Value = card.json().await.ok()?;
    let rpc = card["url"].as_str()?.to_owned();
    let body = json!({"jsonrpc": "2.0", "id": "1", "method": "message/send", "params": {"message": {
        "kind": "message", "messageId": uuid::Uuid::new_v4().simple().to_string(), "role": "user",
        // A new conversation per scenario, as Rogue's uuid hex per conversation.
        "contextId": uuid::Uuid::new_v4().simple().to_string(),
        "parts": [{"kind": "text", "text": text}]}}});
    let answer = with_auth(http.post(rpc).json(&body)).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let answer: Value = answer.json().await.ok()?;
    let text_of = |parts: &Value| -> String {
        parts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str())
            .collect::<String>()
    };
    let result = &answer["result"];
    let reply = if result.is_null() {
        String::new()
    } else if result["kind"] == "task" {
        result["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| text_of(&a["parts"]))
            .collect::<String>()
    } else {
        text_of(&result["parts"])
    };
    Some(if reply.is_empty() { "Not a text response".to_owned() } else { reply })
}
