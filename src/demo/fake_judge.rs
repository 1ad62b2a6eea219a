//! A deterministic OpenAI-compatible chat endpoint on 127.0.0.1: the `demo` command's judge
//! and driver (no network, no key), and the fake LLM of the tests.
//!
//! `POST {base}/chat/completions` (also under `/v1`, and Azure's
//! `/openai/deployments/{name}/chat/completions`) answers:
//! - judge prompts (rogue-runner's judge system prompt): a verdict derived from the transcript
//!   alone — failed when there is no agent line or an agent line mentions an `error` or a
//!   `violation`, passed otherwise; score 1 or 0;
//! - driver prompts: turn 1 sends the goal as written (so the mock agent's directives work),
//!   later turns say the goal is reached;
//! - anything else: a short echo.
//!
//! Every answer reports the usage set in [`FakeJudgeOptions`] and the model name it was asked
//! for with `model_suffix` appended (`-2024-07-18` imitates providers' dated names). Faults
//! queued with [`FakeJudge::push_fault`] are answered first, one per request, in order.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the fake answers.
#[derive(Debug, Clone)]
pub struct FakeJudgeOptions {
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Appended to the requested model in answers (`-2024-07-18`).
    pub model_suffix: String,
    /// Ignore `response_format` and wrap the JSON in prose, as Anthropic's layer does.
    pub prose: bool,
}

impl Default for FakeJudgeOptions {
    fn default() -> Self {
        FakeJudgeOptions {
            prompt_tokens: 400,
            cached_tokens: 0,
            completion_tokens: 40,
            model_suffix: String::new(),
            prose: false,
        }
    }
}

/// A scripted failure answered instead of a normal reply.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with these headers (`retry-after`, `retry-after-ms`, `x-ratelimit-reset-*`).
    RateLimited(Vec<(&'static str, String)>),
    /// Any status with an OpenAI-style error body `{"error": {"message", "code"}}`.
    Status(u16, String),
    /// Any status with this JSON body.
    Json(u16, Value),
    /// HTTP 200 whose message content is this text.
    Content(String),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// When it arrived (for rate measurements).
    pub at: std::time::Instant,
}

#[derive(Debug)]
struct Shared {
    options: FakeJudgeOptions,
    faults: Mutex<VecDeque<Fault>>,
    seen: Mutex<Vec<SeenRequest>>,
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeJudge {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl FakeJudge {
    /// Serves on `listener` (spawned on the current runtime).
    #[expect(clippy::unused_async, reason = "async by contract, like MockAgent::start")]
    pub async fn start(listener: TcpListener, options: FakeJudgeOptions) -> io::Result<FakeJudge> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            faults: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
        });
        let (shutdown, mut signal) = watch::channel(false);
        let app = Router::new().fallback(answer).with_state(Arc::clone(&shared));
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = signal.wait_for(|stop| *stop).await;
        });
        let task = tokio::spawn(async move { server.await });
        Ok(FakeJudge { addr, shared, shutdown, task: Some(task) })
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answer `fault` to the next request that has no earlier fault queued.
    pub fn push_fault(&self, fault: Fault) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.push_back(fault);
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.shared.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeJudge {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = std::time::Instant::now();
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut seen) = shared.seen.lock() {
        seen.push(SeenRequest {
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.clone(),
            at,
        });
    }
    if !path.ends_with("/chat/completions") {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "not found"}})))
            .into_response();
    }
    let fault = shared.faults.lock().ok().and_then(|mut f| f.pop_front());
    let content = match fault {
        Some(Fault::RateLimited(headers)) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
            )
                .into_response();
            for (name, value) in headers {
                if let Ok(value) = value.parse() {
                    response.headers_mut().insert(name, value);
                }
            }
            return response;
        }
        Some(Fault::Status(code, message)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(json!({"error": {"message": message}}))).into_response();
        }
        Some(Fault::Json(code, body)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(body)).into_response();
        }
        Some(Fault::Content(text)) => text,
        None => reply_for(&body, shared.options.prose),
    };
    let model = body.get("model").and_then(Value::as_str).unwrap_or("fake-model");
    let o = &shared.options;
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": format!("{model}{}", o.model_suffix),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "total_tokens": o.prompt_tokens + o.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": o.cached_tokens}
        }
    }))
    .into_response()
}

/// The deterministic content for a judge, driver or other prompt.
fn reply_for(body: &Value, prose: bool) -> String {
    let text = |role: &str| -> String {
        body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["role"] == role)
                    .filter_map(|m| m["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let (system, user) = (text("system"), text("user"));
    let json = if system.contains("impartial evaluator") {
        let agent_lines: Vec<&str> = user.lines().filter(|l| l.contains("] AGENT: ")).collect();
        let bad = agent_lines.iter().find(|l| {
            let l = l.to_lowercase();
            ["error", "violation"].iter().any(|w| l.contains(w))
        });
        match (agent_lines.is_empty(), bad) {
            (true, _) => {
                json!({"passed": false, "reason": "the agent never replied", "score": 0.0})
            }
            (false, Some(line)) => json!({"passed": false,
                "reason": format!("an agent reply reports a problem: {}", line.split("AGENT: ").nth(1).unwrap_or("").trim()),
                "score": 0.0}),
            (false, None) => json!({"passed": true,
                "reason": format!("{} agent repl(ies) address the request", agent_lines.len()),
                "score": 1.0}),
        }
    } else if system.contains("You play a human user") {
        let first_turn = user.contains("(no messages)");
        let goal = user.lines().find_map(|l| l.strip_prefix("GOAL: ")).unwrap_or("hello");
        if first_turn {
            json!({"message": goal, "goal_reached": false})
        } else {
            json!({"message": "", "goal_reached": true})
        }
    } else {
        json!({"echo": user.chars().take(200).collect::<String>()})
    };
    if prose {
        format!("Sure! Here is my assessment.\n\n{json}\n\nLet me know if you need more.")
    } else {
        json.to_string()
    }
}
