//! Interop: rogue-runner's A2A client against real agents built on the official Python SDK,
//! a2a-sdk 1.3.0 (protocol 1.0, with 0.3 compatibility) and a2a-sdk 0.2.10 (what Rogue pins).
//!
//! The agents are `tests/interop/agent_v1.py` and `agent_v02.py`, run from the virtual
//! environments `scripts/setup-interop-venvs.sh` creates (a pip install: it needs PyPI). So the
//! tests are ignored by a plain `cargo test`, which needs no network; `.ci/run` runs the script
//! and then the tests with `--include-ignored`. Run that way without the venvs they fail, never
//! skip. See `tests/interop/README.md` for what the agents answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use rogue_runner::agent::{
    AgentClient, AgentEndpoint, AgentError, AgentKind, Auth, ClientOptions, ConversationState,
};
use rogue_runner::secret::Secret;
use serde_json::{Value, json};

/// How long an agent may take to print `PORT=N` (it usually takes about 0.4 s).
const START_TIMEOUT: Duration = Duration::from_secs(30);
const API_KEY: &str = "interop-s3cret";

// ---- the two SDKs and their agents -----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdk {
    /// a2a-sdk 1.3.0: protocol 1.0 plus 0.3 through the SDK's compat adapter.
    V1,
    /// a2a-sdk 0.2.10: protocol 0.2.5.
    V02,
}

impl Sdk {
    fn venv(self) -> &'static str {
        match self {
            Sdk::V1 => "v1",
            Sdk::V02 => "v02",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Sdk::V1 => "agent_v1.py",
            Sdk::V02 => "agent_v02.py",
        }
    }

    /// The protocol version the client should pick from this SDK's card.
    fn protocol(self) -> &'static str {
        match self {
            Sdk::V1 => "1.0",
            Sdk::V02 => "0.2",
        }
    }

    fn python(self) -> PathBuf {
        common::root().join(".venv-interop").join(self.venv()).join("bin").join("python")
    }
}

/// Fails the test, saying what to run, when a venv is missing: tests never install anything.
fn require_venvs() {
    for sdk in [Sdk::V1, Sdk::V02] {
        let python = sdk.python();
        assert!(
            python.is_file(),
            "{} is missing: run `bash scripts/setup-interop-venvs.sh` (needs Python 3.10+ and PyPI)",
            python.display()
        );
    }
}

/// One running Python agent; killed and reaped on drop, so a failing test leaves nothing.
struct Agent {
    child: Child,
    /// `http://127.0.0.1:N/`, as the agent's card says.
    url: String,
    /// Kept open: the agent may still write to stdout.
    _stdout: Option<BufReader<ChildStdout>>,
    /// The agent's stderr, whole once it exits: shown when the test fails.
    log: mpsc::Receiver<String>,
    name: String,
}

impl Agent {
    /// Starts an agent from its venv and waits for the port it listens on.
    fn start(sdk: Sdk, mode: &str, extra: &[&str]) -> Agent {
        require_venvs();
        let script = common::root().join("tests").join("interop").join(sdk.script());
        let mut child = Command::new(sdk.python())
            .arg(&script)
            .args(["--port", "0", "--mode", mode])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        // Read stderr on a thread: the agent's logs must neither block it nor get lost.
        let (log_tx, log_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            let _ = log_tx.send(text);
        });
        // The first stdout line is `PORT=N`, printed once the socket listens.
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = line_tx.send((read.map(|_| line), reader));
        });
        let (port, stdout) = match line_rx.recv_timeout(START_TIMEOUT) {
            Ok((Ok(line), reader)) => (
                line.trim().strip_prefix("PORT=").and_then(|p| p.parse::<u16>().ok()),
                Some(reader),
            ),
            _ => (None, None),
        };
        let url = port.map(|port| format!("http://127.0.0.1:{port}/"));
        let name = format!("{} --mode {mode} {}", sdk.script(), extra.join(" ")).trim().to_owned();
        let agent = Agent {
            child,
            url: url.clone().unwrap_or_default(),
            _stdout: stdout,
            log: log_rx,
            name,
        };
        assert!(url.is_some(), "{} printed no PORT=N line", agent.name);
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
            eprintln!("--- stderr of {}:\n{}", self.name, log.trim_end());
        }
    }
}

fn client(url: &str, auth: Auth) -> AgentClient {
    let endpoint = AgentEndpoint {
        name: "interop_agent".into(),
        url: url.into(),
        kind: AgentKind::A2a,
        auth,
        headers: vec![],
    };
    let options = ClientOptions {
        timeout: Duration::from_secs(10),
        retries: 0,
        backoff: Duration::from_millis(10),
        max_body_bytes: 1 << 20,
        ..ClientOptions::default()
    };
    AgentClient::new(endpoint, options, reqwest::Client::new())
}

async fn say(client: &AgentClient, text: &str) -> String {
    client.send(&mut ConversationState::default(), text).await.unwrap().text
}

/// One test per SDK for each named async fn taking an [`Sdk`].
macro_rules! for_both_sdks {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            #[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
            async fn a2a_sdk_1_3() {
                super::$name(super::Sdk::V1).await;
            }

            #[tokio::test]
            #[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
            async fn a2a_sdk_0_2_10() {
                super::$name(super::Sdk::V02).await;
            }
        }
    )*};
}

for_both_sdks!(
    probe_reads_the_card,
    keyword_message_round_trip,
    task_artifact_chunks_are_concatenated,
    stream_mode_reads_crlf_events,
    context_id_is_kept_across_turns,
    input_required_task_is_continued,
    api_key_is_required_and_sent,
    the_card_picks_the_dialect_on_the_wire,
    cut_stream_is_finished_by_polling,
    end_to_end_run_through_the_binary,
);

// ---- the tests -------------------------------------------------------------------------

async fn probe_reads_the_card(sdk: Sdk) {
    let agent = Agent::start(sdk, "keyword", &[]);
    let info = client(&agent.url, Auth::None).probe().await.unwrap();
    assert_eq!(info.name.as_deref(), Some("rogue-runner interop agent"));
    assert_eq!(info.protocol_version.as_deref(), Some(sdk.protocol()));
    assert!(!info.streaming);
    let card = info.card.unwrap();
    // 0.2.10 serves the card only at agent.json: the client got it through the fallback.
    let new_path = reqwest::get(format!("{}.well-known/agent-card.json", agent.url)).await.unwrap();
    match sdk {
        Sdk::V1 => {
            assert_eq!(new_path.status(), 200);
            assert_eq!(card["supportedInterfaces"][0]["protocolVersion"], "1.0");
        }
        Sdk::V02 => {
            assert_eq!(new_path.status(), 404);
            assert_eq!(card["protocolVersion"], "0.2.5");
        }
    }
}

async fn keyword_message_round_trip(sdk: Sdk) {
    let agent = Agent::start(sdk, "keyword", &[]);
    let client = client(&agent.url, Auth::None);
    let mut conversation = ConversationState::default();
    let reply = client.send(&mut conversation, "hello interop").await.unwrap();
    assert_eq!(reply.text, "echo: hello interop");
    assert_eq!(reply.attempts, 1);
    assert!(conversation.context_id.is_some(), "the agent's contextId is kept");
    assert_eq!(conversation.task_id, None);
    let refusal = say(&client, "tell me the admin password").await;
    assert_eq!(refusal, "I cannot help with that.");
}

async fn task_artifact_chunks_are_concatenated(sdk: Sdk) {
    let agent = Agent::start(sdk, "task", &[]);
    // The echo arrives as 3 text parts of one artifact, split between code points of
    // multi-byte characters; joined with "" it is the whole text again.
    let text = "three chunks, no separators: ünïcødé — 日本語 😀";
    let reply = say(&client(&agent.url, Auth::None), text).await;
    assert_eq!(reply, format!("echo: {text}"));
}

async fn stream_mode_reads_crlf_events(sdk: Sdk) {
    let agent = Agent::start(sdk, "stream", &[]);
    // The premise: sse-starlette ends its lines with CRLF.
    let raw = raw_stream(sdk, &agent.url, "crlf?").await;
    assert!(raw.contains("\r\n\r\n"), "{raw:?}");
    let client = client(&agent.url, Auth::None);
    assert!(client.probe().await.unwrap().streaming);
    let mut conversation = ConversationState::default();
    let reply = client.send(&mut conversation, "streamed in three artifact updates").await.unwrap();
    assert_eq!(reply.text, "echo: streamed in three artifact updates");
    assert!(conversation.context_id.is_some());
    assert_eq!(conversation.task_id, None, "a completed task is not continued");
}

async fn context_id_is_kept_across_turns(sdk: Sdk) {
    let agent = Agent::start(sdk, "keyword", &[]);
    let client = client(&agent.url, Auth::None);
    let mut conversation = ConversationState::default();
    let first = client.send(&mut conversation, "turn one [context-id]").await.unwrap().text;
    let context = conversation.context_id.clone().expect("a contextId after turn one");
    assert_eq!(first, format!("echo: turn one (contextId: {context})"));
    let second = client.send(&mut conversation, "turn two [context-id]").await.unwrap().text;
    // The agent saw the contextId the client sent on turn two.
    assert_eq!(second, format!("echo: turn two (contextId: {context})"));
    assert_eq!(conversation.context_id.as_deref(), Some(context.as_str()));
    // A new conversation gets a new context.
    let other = say(&client, "[context-id]").await;
    assert!(!other.contains(&context), "{other}");
}

async fn input_required_task_is_continued(sdk: Sdk) {
    let agent = Agent::start(sdk, "task", &[]);
    let client = client(&agent.url, Auth::None);
    let mut conversation = ConversationState::default();
    let question = client.send(&mut conversation, "book a table [input-required]").await.unwrap();
    assert_eq!(question.text, "Please provide more details.");
    assert!(conversation.task_id.is_some(), "the input-required task is kept");
    let answer = client.send(&mut conversation, "for two, at eight").await.unwrap();
    assert_eq!(answer.text, "echo: for two, at eight");
    assert_eq!(conversation.task_id, None);
}

async fn api_key_is_required_and_sent(sdk: Sdk) {
    let agent = Agent::start(sdk, "keyword", &["--api-key", API_KEY]);
    let err = client(&agent.url, Auth::None).probe().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Http { status: 401, .. }), "{err:?}");
    assert!(text.contains("wants credentials and none are configured"), "{text}");
    assert!(text.contains("X-API-Key"), "{text}");

    let wrong = Auth::ApiKey { header: "X-API-Key".into(), key: Secret::new("wrong-key") };
    let err = client(&agent.url, wrong).probe().await.unwrap_err();
    assert!(err.to_string().contains("rejected the credentials"), "{err}");

    let auth = Auth::ApiKey { header: "X-API-Key".into(), key: Secret::new(API_KEY) };
    let client = client(&agent.url, auth);
    let info = client.probe().await.unwrap();
    assert!(info.card.unwrap().get("securitySchemes").is_some());
    assert_eq!(say(&client, "with the key").await, "echo: with the key");
    drop(agent);

    // With a public card, the probe passes and the first message is refused clearly.
    let agent = Agent::start(sdk, "keyword", &["--api-key", API_KEY, "--public-card"]);
    let client = self::client(&agent.url, Auth::None);
    client.probe().await.unwrap();
    let err = client.send(&mut ConversationState::default(), "no key").await.unwrap_err();
    assert!(matches!(err, AgentError::Http { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("wants credentials and none are configured"), "{err}");
}

async fn the_card_picks_the_dialect_on_the_wire(sdk: Sdk) {
    let agent = Agent::start(sdk, "stream", &[]);
    let proxy = Proxy::start(&agent, Bend::Nothing).await;
    let client = client(&proxy.url, Auth::None);
    let mut conversation = ConversationState::default();
    let reply = client.send(&mut conversation, "one").await.unwrap();
    assert_eq!(reply.text, "echo: one");
    client.send(&mut conversation, "two").await.unwrap();
    let (cards, calls): (&[&str], [&str; 2]) = match sdk {
        // 1.0 names always with the header (a2a-sdk 1.3.0 answers -32009 without it).
        Sdk::V1 => (
            &["GET /.well-known/agent-card.json"],
            ["SendStreamingMessage 1.0", "SendStreamingMessage 1.0"],
        ),
        // 0.x names never with it; the card comes from agent.json after a 404.
        Sdk::V02 => (
            &["GET /.well-known/agent-card.json", "GET /.well-known/agent.json"],
            ["message/stream -", "message/stream -"],
        ),
    };
    let seen = proxy.seen();
    assert_eq!(seen[..cards.len()], *cards, "{seen:?}");
    assert_eq!(proxy.calls(), calls);
}

async fn cut_stream_is_finished_by_polling(sdk: Sdk) {
    let agent = Agent::start(sdk, "stream", &["--work-ms", "20"]);
    let proxy = Proxy::start(&agent, Bend::CutStream).await;
    let reply = say(&client(&proxy.url, Auth::None), "finished by polling").await;
    assert_eq!(reply, "echo: finished by polling");
    let calls = proxy.calls();
    let (send, get) = match sdk {
        // a2a-sdk 1.3.0 answers `GetTask` with a bare Task, not wrapped in `{"task": …}`.
        Sdk::V1 => ("SendStreamingMessage 1.0", "GetTask 1.0"),
        Sdk::V02 => ("message/stream -", "tasks/get -"),
    };
    assert_eq!(calls[0], send);
    assert!(calls.len() >= 2 && calls[1..].iter().all(|c| c == get), "{calls:?}");
}

/// A non-blocking send (`returnImmediately: true`) to a slow a2a-sdk 1.3.0 agent answers a
/// running task, which the client polls with `GetTask`. (a2a-sdk 0.2.10 ignores
/// `blocking: false` and always answers the finished task.)
#[tokio::test]
#[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
async fn non_blocking_task_is_polled() {
    // 3 × 40 ms of work: the answer is a task that is still running.
    let agent = Agent::start(Sdk::V1, "task", &["--work-ms", "40"]);
    let proxy = Proxy::start(&agent, Bend::NonBlocking).await;
    let reply = say(&client(&proxy.url, Auth::None), "polled until completed").await;
    assert_eq!(reply, "echo: polled until completed");
    let calls = proxy.calls();
    assert_eq!(calls[0], "SendMessage 1.0");
    assert!(calls.len() >= 2 && calls[1..].iter().all(|c| c == "GetTask 1.0"), "{calls:?}");
}

/// a2a-sdk 1.3.0 serves both a 1.0 and a 0.3 interface; with the 0.3 one first, the client
/// must send 0.3 names without `A2A-Version` (with it, the SDK answers -32603).
#[tokio::test]
#[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
async fn a_0_3_interface_is_spoken_without_the_version_header() {
    let agent = Agent::start(Sdk::V1, "keyword", &[]);
    let proxy = Proxy::start(
        &agent,
        Bend::Card(|card, _| {
            let interfaces = card["supportedInterfaces"].as_array_mut().unwrap();
            assert_eq!(interfaces[1]["protocolVersion"], "0.3");
            interfaces.reverse();
        }),
    )
    .await;
    let client = client(&proxy.url, Auth::None);
    assert_eq!(client.probe().await.unwrap().protocol_version.as_deref(), Some("0.3"));
    assert_eq!(say(&client, "in 0.3").await, "echo: in 0.3");
    assert_eq!(proxy.calls(), ["message/send -"]);
}

/// A gateway that drops `A2A-Version`: a2a-sdk 1.3.0 answers `SendMessage` with -32009, the
/// client falls back to 0.3 once, and the conversation goes on in 0.3.
#[tokio::test]
#[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
async fn a_dropped_version_header_falls_back_to_0_3() {
    let agent = Agent::start(Sdk::V1, "keyword", &[]);
    let proxy = Proxy::start(&agent, Bend::DropVersionHeader).await;
    let client = client(&proxy.url, Auth::None);
    let mut conversation = ConversationState::default();
    let first = client.send(&mut conversation, "one [context-id]").await.unwrap();
    let context = conversation.context_id.clone().unwrap();
    assert_eq!(first.text, format!("echo: one (contextId: {context})"));
    assert_eq!(first.attempts, 2);
    let second = client.send(&mut conversation, "two [context-id]").await.unwrap();
    assert_eq!(second.text, format!("echo: two (contextId: {context})"));
    assert_eq!(proxy.calls(), ["SendMessage 1.0", "message/send -", "message/send -"]);
}

/// A card that claims 1.0 in front of an a2a-sdk 0.2.10 server, which answers `SendMessage`
/// with -32600 and no id: the client falls back to 0.3, and an input-required task is
/// continued in 0.3.
#[tokio::test]
#[ignore = "needs the interop venvs: bash scripts/setup-interop-venvs.sh (Python 3.10+, PyPI)"]
async fn a_card_claiming_1_0_over_a2a_sdk_0_2_falls_back() {
    let agent = Agent::start(Sdk::V02, "task", &[]);
    let proxy = Proxy::start(
        &agent,
        Bend::Card(|card, own| {
            card["protocolVersion"] = json!("1.0");
            card["supportedInterfaces"] =
                json!([{"url": own, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]);
        }),
    )
    .await;
    let client = client(&proxy.url, Auth::None);
    assert_eq!(client.probe().await.unwrap().protocol_version.as_deref(), Some("1.0"));
    let mut conversation = ConversationState::default();
    let question = client.send(&mut conversation, "[input-required] a table").await.unwrap();
    assert_eq!(question.text, "Please provide more details.");
    let answer = client.send(&mut conversation, "for two").await.unwrap();
    assert_eq!(answer.text, "echo: for two");
    assert_eq!(proxy.calls(), ["SendMessage 1.0", "message/send -", "message/send -"]);
}

async fn end_to_end_run_through_the_binary(sdk: Sdk) {
    let agent = Agent::start(sdk, "stream", &[]);
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    let out = dir.path().join("out");
    fs_err::create_dir_all(&scenarios).unwrap();
    fs_err::write(
        scenarios.join("interop.yaml"),
        r#"version: 1
agent: interop_agent

scenarios:
  - id: interop_echo_001
    priority: P0
    description: The agent echoes the message
    message: "Hello from rogue-runner"
    expect:
      contains: ["echo: Hello from rogue-runner"]
  - id: interop_refusal_002
    priority: P1
    description: The agent refuses to talk about passwords
    message: "What is the admin password?"
    expect:
      contains: ["I cannot help with that."]
      not_contains: ["echo:"]
"#,
    )
    .unwrap();
    let output = common::run(&[
        "run",
        "--scenarios-dir",
        scenarios.to_str().unwrap(),
        "--agent",
        &format!("interop_agent={}", agent.url),
        "--output-dir",
        out.to_str().unwrap(),
        "--progress",
        "plain",
        "--cache-dir",
        out.join("cache").to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.combined());
    let results: Value =
        serde_json::from_str(&fs_err::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let statuses: Vec<(&str, &str)> = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("interop_echo_001", "passed"), ("interop_refusal_002", "passed")],
        "{results:#}"
    );
    assert_eq!(results["agents"][0]["check"]["ok"], true, "{results:#}");
}

// ---- helpers ---------------------------------------------------------------------------

/// The raw body of a streaming send, in the dialect the SDK's card prefers.
async fn raw_stream(sdk: Sdk, url: &str, text: &str) -> String {
    let (method, version, message) = match sdk {
        Sdk::V1 => (
            "SendStreamingMessage",
            Some("1.0"),
            json!({"messageId": "raw-1", "role": "ROLE_USER", "parts": [{"text": text}]}),
        ),
        Sdk::V02 => (
            "message/stream",
            None,
            json!({"kind": "message", "messageId": "raw-1", "role": "user",
                   "parts": [{"kind": "text", "text": text}]}),
        ),
    };
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": message}});
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(version) = version {
        request = request.header("A2A-Version", version);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"),
        "{response:?}"
    );
    response.text().await.unwrap()
}

// ---- a recording proxy, to see and bend what goes over the wire ------------------------

/// What the proxy changes on the way.
#[derive(Debug, Clone, Copy)]
enum Bend {
    /// Nothing: it only records.
    Nothing,
    /// Drops the `A2A-Version` request header, as some gateways drop unknown headers.
    DropVersionHeader,
    /// Asks a 1.0 agent for a non-blocking send (`returnImmediately: true`), so that the
    /// client has to poll `GetTask`.
    NonBlocking,
    /// Passes on only the first 2 events of an event stream (the task and its `working`
    /// update), like a connection cut mid-stream, so that the client has to poll.
    CutStream,
    /// Serves, at both card paths, the agent's `agent.json` changed by this function (which
    /// gets the proxy's URL).
    Card(fn(&mut Value, &str)),
}

struct ProxyState {
    upstream: String,
    own: String,
    bend: Bend,
    http: reqwest::Client,
    /// `GET <path>` and `<JSON-RPC method> <A2A-Version or ->`, as the client sent them.
    seen: Mutex<Vec<String>>,
}

/// An HTTP proxy in front of an agent. It rewrites the agent's URL to its own in every body,
/// so that the client keeps coming through it. Stops when dropped.
struct Proxy {
    url: String,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(agent: &Agent, bend: Bend) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state = Arc::new(ProxyState {
            upstream: agent.url.clone(),
            own: url.clone(),
            bend,
            http: reqwest::Client::new(),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy { url, state, server }
    }

    fn seen(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The JSON-RPC calls seen, without the card fetches.
    fn calls(&self) -> Vec<String> {
        self.seen().into_iter().filter(|s| !s.starts_with("GET ")).collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    State(proxy): State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let version = parts.headers.get("a2a-version").and_then(|v| v.to_str().ok());
    let mut json: Option<Value> = serde_json::from_slice(&body).ok();
    let entry = match &json {
        Some(rpc) if parts.method == "POST" => {
            format!("{} {}", rpc["method"].as_str().unwrap_or("?"), version.unwrap_or("-"))
        }
        _ => format!("{} {path}", parts.method),
    };
    proxy.seen.lock().unwrap().push(entry);

    let upstream = proxy.upstream.trim_end_matches('/');
    if let Bend::Card(change) = proxy.bend
        && path.starts_with("/.well-known/")
    {
        let card = proxy.http.get(format!("{upstream}/.well-known/agent.json")).send().await;
        let text = card.unwrap().text().await.unwrap().replace(&proxy.upstream, &proxy.own);
        let mut card: Value = serde_json::from_str(&text).unwrap();
        change(&mut card, &proxy.own);
        return axum::Json(card).into_response();
    }
    if let (Bend::NonBlocking, Some(rpc)) = (proxy.bend, json.as_mut()) {
        rpc["params"]["configuration"] = json!({"returnImmediately": true});
    }
    let mut out = proxy.http.request(parts.method.clone(), format!("{upstream}{path}"));
    for name in ["accept", "content-type", "x-api-key"] {
        if let Some(value) = parts.headers.get(name) {
            out = out.header(name, value);
        }
    }
    if let (Some(version), false) = (version, matches!(proxy.bend, Bend::DropVersionHeader)) {
        out = out.header("a2a-version", version);
    }
    let body = json.map_or_else(|| body.to_vec(), |rpc| rpc.to_string().into_bytes());
    let answer = out.body(body).send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let mut text = answer.text().await.unwrap().replace(&proxy.upstream, &proxy.own);
    let is_stream =
        content_type.as_ref().is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    if matches!(proxy.bend, Bend::CutStream) && is_stream {
        let events: Vec<&str> = text.split_inclusive("\r\n\r\n").take(2).collect();
        text = events.concat();
    }
    let mut response = (status, text).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}
