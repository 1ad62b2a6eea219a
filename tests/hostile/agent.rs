//! A hostile agent and a hostile judge: credentials, deadlines, bounded bodies, wire oddities.
//!
//! Each case serves a small axum server on 127.0.0.1:0 (a second one plays the third host a
//! redirect or an agent card points at), runs the real binary against it and bounds the run
//! in time: a run that outlives its limit is killed and the case fails.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The credential the hostile servers try to get hold of.
const KEY: &str = "sk-hostile-canary-4711";
/// The environment variable `--auth` reads it from.
const KEY_ENV: &str = "ROGUE_HOSTILE_AGENT_KEY";

// ---- a hostile server --------------------------------------------------------------------

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
    /// `http://127.0.0.1:PORT` of the server that saw it.
    base: String,
}

impl Seen {
    fn rpc_id(&self) -> Value {
        self.body["id"].clone()
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Response + Send + Sync>;

#[derive(Clone)]
struct App {
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    base: String,
}

/// A server on a runtime of its own, for as long as the value lives.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(handler: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = App { handler: Arc::new(handler), seen: Arc::clone(&seen), base: url.clone() };
        let router = axum::Router::new().fallback(serve).with_state(app);
        runtime.spawn(async move { axum::serve(listener, router).await });
        Server { url, seen, _runtime: runtime }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Whether any request this server saw carried the credential, in any header.
    fn saw_the_key(&self) -> bool {
        self.seen().iter().any(|s| s.headers.values().any(|v| v.contains(KEY)))
    }
}

async fn serve(State(app): State<App>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        base: app.base.clone(),
    };
    app.seen.lock().unwrap().push(seen.clone());
    (app.handler)(&seen)
}

fn json_reply(value: &Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], value.to_string())
        .into_response()
}

fn redirect(status: u16, location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    response
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// An A2A 0.3 card sending messages to `url`.
fn card(url: &str, streaming: bool) -> Response {
    json_reply(&json!({"name": "hostile", "url": url, "version": "1", "protocolVersion": "0.3.0",
        "capabilities": {"streaming": streaming}, "skills": []}))
}

/// A JSON-RPC answer to `seen` carrying an agent message `text`.
fn message(seen: &Seen, text: &str) -> Response {
    json_reply(&message_envelope(&seen.rpc_id(), text))
}

fn message_envelope(id: &Value, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"kind": "message", "role": "agent",
        "messageId": "m1", "contextId": "c1", "parts": [{"kind": "text", "text": text}]}})
}

/// A body of `total` bytes sent in 64 KiB chunks, without a length (chunked encoding).
fn chunked(total: u64, content_type: &'static str) -> Response {
    const CHUNK: usize = 64 * 1024;
    let stream = futures_util::stream::unfold(0u64, move |sent| async move {
        (sent < total)
            .then(|| (Ok::<_, Infallible>(Bytes::from(vec![b' '; CHUNK])), sent + 64 * 1024))
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], Body::from_stream(stream))
        .into_response()
}

/// An event stream answering `seen` with a `working` status every `every`, never a final one.
fn never_final(seen: &Seen, every: Duration) -> Response {
    let event = json!({"jsonrpc": "2.0", "id": seen.rpc_id(), "result": {"kind": "status-update",
        "taskId": "t1", "contextId": "c1", "status": {"state": "working"}, "final": false}});
    let line = Bytes::from(format!("data: {event}\n\n"));
    let stream = futures_util::stream::unfold(line, move |line| async move {
        tokio::time::sleep(every).await;
        Some((Ok::<_, Infallible>(line.clone()), line))
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(stream))
        .into_response()
}

// ---- the binary ----------------------------------------------------------------------------

/// What one bounded run produced.
struct Run {
    code: Option<i32>,
    stderr: String,
    results: Value,
    elapsed: Duration,
}

impl Run {
    fn scenario(&self, id: &str) -> &Value {
        self.results["scenarios"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["id"] == id))
            .unwrap_or_else(|| panic!("no scenario {id} in results.json; stderr:\n{}", self.stderr))
    }

    /// The scenario's status and its reasons, joined.
    fn outcome(&self, id: &str) -> (String, String) {
        let s = self.scenario(id);
        let reasons = s["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "))
            .unwrap_or_default();
        (s["status"].as_str().unwrap_or("").to_owned(), reasons)
    }
}

/// A temp dir with one native scenario file: scenario `s` sends `messages` and expects
/// "hello"; `rubric` adds a judge item.
fn scenario_dir(messages: &[&str], rubric: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "version: 1\nagent: hostile\nscenarios:\n  - id: s\n    priority: P1\n    messages: {}\n    \
         expect:\n      contains: [hello]\n",
        serde_json::to_string(messages).unwrap()
    );
    if rubric {
        text.push_str("    rubric: [The agent says hello.]\n");
    }
    fs_err::write(dir.path().join("scenarios.yaml"), text).unwrap();
    dir
}

/// Runs `rogue-runner run` on `dir` against `agent` with `extra` flags, killed after
/// `limit`. The credential is in the environment for `--auth`.
fn run(dir: &Path, agent: &str, extra: &[&str], limit: Duration) -> Run {
    let out = dir.join("out");
    let (stdout_path, stderr_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(["run", "--scenarios-dir"])
        .arg(dir.join("scenarios.yaml"))
        .args(["--agent", &format!("*={agent}"), "--output-dir"])
        .arg(&out)
        .args(["--progress", "plain", "--no-fail-fast"])
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env(KEY_ENV, KEY)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .env_remove("CI")
        .stdin(Stdio::null())
        .stdout(fs_err::File::create(&stdout_path).unwrap().into_parts().0)
        .stderr(fs_err::File::create(&stderr_path).unwrap().into_parts().0)
        .spawn()
        .expect("run rogue-runner");
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = fs_err::read_to_string(&stderr_path).unwrap_or_default();
            panic!("the run outlived its {limit:?} limit and was killed; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stderr = fs_err::read_to_string(&stderr_path).unwrap_or_default();
    let results = fs_err::read_to_string(out.join("results.json"))
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap_or(Value::Null));
    Run { code, stderr, results, elapsed }
}

fn tmp_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().to_path_buf()
}

const LIMIT: Duration = Duration::from_secs(30);

// ---- credentials stay with their origin ----------------------------------------------------

#[test]
fn an_api_key_does_not_follow_a_307_to_another_origin() {
    let third = Server::start(|seen| message(seen, "hello from the third host"));
    let target = format!("{}/rpc", third.url);
    let agent = Server::start(move |seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/.well-known/agent-card.json") => card(&format!("{}/rpc", seen.base), false),
        ("POST", "/rpc") => redirect(307, &target),
        _ => not_found(),
    });
    let dir = scenario_dir(&["hi"], false);
    let auth = format!("api-key:X-Api-Key:{KEY_ENV}");
    let run = run(&tmp_path(&dir), &agent.url, &["--auth", &auth], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("redirecting to") && reasons.contains("another origin"), "{reasons}");
    assert!(agent.saw_the_key(), "the configured agent should get the key");
    assert!(third.seen().is_empty(), "the third host was reached: {:?}", third.seen());
    assert!(!run.stderr.contains(KEY), "{}", run.stderr);
}

#[test]
fn a_redirected_card_fetch_does_not_hand_the_key_to_the_third_host() {
    // The third host serves a card naming itself: were it believed, every message and the key
    // would go there.
    let third = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&format!("{}/rpc", seen.base), false),
        _ => message(seen, "hello from the third host"),
    });
    let elsewhere = format!("{}/card.json", third.url);
    let agent = Server::start(move |seen| match seen.method.as_str() {
        "GET" => redirect(302, &elsewhere),
        _ => not_found(),
    });
    let dir = scenario_dir(&["hi"], false);
    for auth in [
        format!("api-key:X-Api-Key:{KEY_ENV}"),
        format!("bearer:{KEY_ENV}"),
        format!("basic:alice:{KEY_ENV}"),
    ] {
        let run = run(&tmp_path(&dir), &agent.url, &["--auth", &auth], LIMIT);
        let (status, reasons) = run.outcome("s");
        assert_eq!(status, "error", "{auth}: {reasons}");
        assert!(reasons.contains("--allow-card-origin"), "{auth}: {reasons}");
        assert!(!third.saw_the_key(), "{auth}: the third host got the key");
        assert!(third.seen().iter().all(|s| s.method == "GET"), "{auth}: a message went there");
        let basic = third.seen().iter().any(|s| s.headers.contains_key("authorization"));
        assert!(!basic, "{auth}: an Authorization header reached the third host");
    }
}

#[test]
fn a_card_naming_another_origin_is_refused_unless_allowed() {
    let other = Server::start(|seen| message(seen, "hello from the other origin"));
    let rpc = format!("{}/rpc", other.url);
    let agent = Server::start(move |seen| match seen.method.as_str() {
        "GET" => card(&rpc, false),
        _ => not_found(),
    });
    let dir = scenario_dir(&["hi"], false);
    let auth = format!("bearer:{KEY_ENV}");
    let refused = run(&tmp_path(&dir), &agent.url, &["--auth", &auth], LIMIT);
    let (status, reasons) = refused.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(
        reasons.contains("another origin")
            && reasons.contains(&format!("--allow-card-origin {}", other.url)),
        "{reasons}"
    );
    assert!(other.seen().is_empty(), "{:?}", other.seen());

    let allowed = run(
        &tmp_path(&dir),
        &agent.url,
        &["--auth", &auth, "--allow-card-origin", &other.url],
        LIMIT,
    );
    let (status, reasons) = allowed.outcome("s");
    assert_eq!(status, "passed", "{reasons}\n{}", allowed.stderr);
    assert!(other.saw_the_key(), "the allowed origin gets the credentials");
}

// ---- deadlines -------------------------------------------------------------------------------

#[test]
fn a_stream_that_never_finishes_ends_at_the_turn_timeout() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, true),
        _ => never_final(seen, Duration::from_millis(200)),
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &["--timeout", "2s"], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("did not finish its answer within 2000 ms"), "{reasons}");
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
    assert_eq!(run.code, Some(5), "{}", run.stderr);
}

#[test]
fn the_scenario_timeout_bounds_a_whole_conversation() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, true),
        // Each turn streams for 800 ms before its answer: within --timeout, but five of
        // them are not within --scenario-timeout.
        _ => {
            let working = json!({"jsonrpc": "2.0", "id": seen.rpc_id(), "result": {"kind": "status-update",
                "taskId": "t1", "contextId": "c1", "status": {"state": "working"}, "final": false}});
            let done = message_envelope(&seen.rpc_id(), "hello");
            let events = vec![format!("data: {working}\n\n"), format!("data: {done}\n\n")];
            let stream = futures_util::stream::unfold(events.into_iter(), |mut events| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                events.next().map(|e| (Ok::<_, Infallible>(Bytes::from(e)), events))
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    });
    let dir = scenario_dir(&["one", "two", "three", "four", "five"], false);
    let run =
        run(&tmp_path(&dir), &agent.url, &["--timeout", "5s", "--scenario-timeout", "2s"], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("--scenario-timeout 2s"), "{reasons}");
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[test]
fn an_absurd_timeout_neither_panics_nor_passes_silently() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, false),
        _ => message(seen, "hello"),
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &["--timeout", "18446744073709551615s"], LIMIT);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Rejected at parse time (exit 2), or run to the end without an overflow.
    if run.code != Some(2) {
        let (status, reasons) = run.outcome("s");
        assert_eq!(status, "passed", "{reasons}\n{}", run.stderr);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
}

#[test]
fn an_agent_429_with_a_huge_retry_after_is_not_waited_for_and_is_shown() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, false),
        _ => {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("999999"));
            response
        }
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &["--timeout", "2s", "--retries", "5"], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("429") && reasons.contains("retry-after: 999999"), "{reasons}");
    assert!(run.stderr.contains("retry-after: 999999"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

// ---- the judge -------------------------------------------------------------------------------

/// A plain agent that says hello.
fn hello_agent() -> Server {
    Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, false),
        _ => message(seen, "hello"),
    })
}

#[test]
fn a_judge_429_with_retry_after_999999_is_capped_by_the_scenario_deadline_and_shown() {
    let agent = hello_agent();
    let judge = Server::start(|_| {
        let body = json!({"error": {"message": "rate limited", "type": "requests"}}).to_string();
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("999999"));
        response
    });
    let dir = scenario_dir(&["hi"], true);
    let base = format!("{}/v1", judge.url);
    let run = run(
        &tmp_path(&dir),
        &agent.url,
        &["--judge-base-url", &base, "--scenario-timeout", "20s"],
        LIMIT,
    );
    let (status, reasons) = run.outcome("s");
    assert_ne!(status, "passed", "{reasons}");
    assert!(
        reasons.contains("Retry-After: 999999") && reasons.contains("--scenario-timeout"),
        "{reasons}"
    );
    // The reason is on the progress line, and nothing was waited for.
    assert!(run.stderr.contains("Retry-After: 999999"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[test]
fn a_judge_redirect_to_another_host_gets_no_key() {
    let agent = hello_agent();
    let third = Server::start(|_| StatusCode::OK.into_response());
    let elsewhere = format!("{}/v1/chat/completions", third.url);
    let judge = Server::start(move |_| redirect(307, &elsewhere));
    let dir = scenario_dir(&["hi"], true);
    let base = format!("{}/v1", judge.url);
    let run = run(
        &tmp_path(&dir),
        &agent.url,
        &["--judge-base-url", &base, "--judge-api-key-env", KEY_ENV],
        LIMIT,
    );
    let (status, reasons) = run.outcome("s");
    assert_ne!(status, "passed", "{reasons}");
    assert!(judge.saw_the_key(), "the configured judge gets the key");
    assert!(third.seen().is_empty(), "{:?}", third.seen());
    assert!(reasons.contains("not followed"), "{reasons}");
}

#[test]
fn a_chunked_gigabyte_judge_answer_is_refused_not_read() {
    let agent = hello_agent();
    let judge = Server::start(|_| chunked(1 << 30, "application/json"));
    let dir = scenario_dir(&["hi"], true);
    let base = format!("{}/v1", judge.url);
    let run = run(&tmp_path(&dir), &agent.url, &["--judge-base-url", &base], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_ne!(status, "passed", "{reasons}");
    assert!(reasons.contains("over 8388608 bytes"), "{reasons}");
    assert!(run.elapsed < Duration::from_secs(20), "took {:?}", run.elapsed);
}

#[test]
fn a_chunked_gigabyte_agent_answer_is_refused_not_read() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, false),
        _ => chunked(1 << 30, "application/json"),
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &[], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("body over 8388608 bytes"), "{reasons}");
}

// ---- wire oddities ---------------------------------------------------------------------------

#[test]
fn a_json_rpc_answer_to_another_request_id_is_refused() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, false),
        _ => json_reply(&message_envelope(&json!("not-your-request"), "hello")),
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &[], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}");
    assert!(reasons.contains("answers request id \"not-your-request\""), "{reasons}");
}

#[test]
fn a_302_on_a_message_post_does_not_become_an_accepted_get() {
    for code in [301, 302, 303] {
        let agent = Server::start(move |seen| match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", "/.well-known/agent-card.json") => card(&format!("{}/rpc", seen.base), false),
            ("POST", "/rpc") => redirect(code, "/moved"),
            // What a GET to the new place would answer: a well-formed hello.
            (_, "/moved") => json_reply(&message_envelope(&Value::Null, "hello")),
            _ => not_found(),
        });
        let dir = scenario_dir(&["hi"], false);
        let run = run(&tmp_path(&dir), &agent.url, &[], LIMIT);
        let (status, reasons) = run.outcome("s");
        assert_eq!(status, "error", "{code}: {reasons}");
        assert!(reasons.contains("would turn the message into a GET"), "{code}: {reasons}");
        assert!(agent.seen().iter().all(|s| s.path != "/moved"), "{code}: followed");
    }
}

#[test]
fn a_307_on_the_same_origin_is_posted_again() {
    let agent = Server::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/.well-known/agent-card.json") => card(&format!("{}/rpc", seen.base), false),
        ("POST", "/rpc") => redirect(307, "/moved"),
        ("POST", "/moved") => message(seen, "hello"),
        _ => not_found(),
    });
    let dir = scenario_dir(&["hi"], false);
    let auth = format!("api-key:X-Api-Key:{KEY_ENV}");
    let run = run(&tmp_path(&dir), &agent.url, &["--auth", &auth], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "passed", "{reasons}");
    let moved: Vec<Seen> = agent.seen().into_iter().filter(|s| s.path == "/moved").collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].headers.get("x-api-key").map(String::as_str), Some(KEY));
}

#[test]
fn an_event_stream_starting_with_a_byte_order_mark_is_read() {
    let agent = Server::start(|seen| match seen.method.as_str() {
        "GET" => card(&seen.base, true),
        _ => {
            let event = message_envelope(&seen.rpc_id(), "hello");
            let body = format!("\u{feff}data: {event}\n\n");
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
        }
    });
    let dir = scenario_dir(&["hi"], false);
    let run = run(&tmp_path(&dir), &agent.url, &[], LIMIT);
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "passed", "{reasons}\n{}", run.stderr);
}

#[test]
fn a_long_judge_retry_after_that_is_waited_for_is_announced_on_the_progress_line() {
    let agent = hello_agent();
    let judge = Server::start(|_| {
        let body = json!({"error": {"message": "rate limited", "type": "requests"}}).to_string();
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("6"));
        response
    });
    let dir = scenario_dir(&["hi"], true);
    let base = format!("{}/v1", judge.url);
    // The first wait (6 s) fits in the scenario's 9 s; the second would not.
    let run = run(
        &tmp_path(&dir),
        &agent.url,
        &["--judge-base-url", &base, "--scenario-timeout", "9s"],
        LIMIT,
    );
    assert!(
        run.stderr.contains("WAIT s: the LLM at")
            && run.stderr.contains("is rate limiting (HTTP 429): waiting 6 s")
            && run.stderr.contains("Retry-After: 6"),
        "{}",
        run.stderr
    );
    let (status, reasons) = run.outcome("s");
    assert_ne!(status, "passed", "{reasons}");
    assert!(reasons.contains("--scenario-timeout"), "{reasons}");
    assert_eq!(judge.seen().len(), 2, "one wait, then no second one");
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
}

#[test]
fn a_chunked_gigabyte_rogue_server_answer_is_refused_not_read() {
    let agent = hello_agent();
    let rogue = Server::start(|_| chunked(1 << 30, "application/json"));
    let dir = scenario_dir(&["hi"], true);
    let run = run(
        &tmp_path(&dir),
        &agent.url,
        &["--evaluator", "rogue", "--rogue-server", &rogue.url],
        LIMIT,
    );
    let (status, reasons) = run.outcome("s");
    assert_eq!(status, "error", "{reasons}\n{}", run.stderr);
    assert!(reasons.contains("sent a body over 16777216 bytes"), "{reasons}");
    assert!(run.elapsed < Duration::from_secs(20), "took {:?}", run.elapsed);
}
