//! The mock A2A agent: a deterministic, in-process A2A server for demos, tests and
//! benchmarks. It answers for **any** agent name under `/a2a/{name}`, so a corpus written for
//! `http://localhost:8000/a2a/<agent>` runs offline.
//!
//! # Endpoints
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /a2a/{name}/.well-known/agent-card.json` | the agent card (0.3 / 1.0 path) |
//! | `GET /a2a/{name}/.well-known/agent.json` | the same card (0.2 path) |
//! | `POST /a2a/{name}` | JSON-RPC 2.0 |
//! | `GET /health` | `ok` |
//!
//! The card's `name` is `{name}`, its `url` is `http://{Host header}/a2a/{name}` (the bound
//! address when the request has no usable `Host`), `protocolVersion` is `0.2.5`, `0.3.0` or
//! (1.0 dialect) `0.3` next to a `supportedInterfaces` list offering JSON-RPC `1.0` and
//! `0.3`, the way a2a-sdk 1.x merges both shapes. `capabilities.streaming` follows
//! [`MockAgentOptions::streaming`].
//!
//! # JSON-RPC methods
//!
//! * 0.2 / 0.3 names, answered in every dialect (as a2a-sdk 1.x does in compat mode), in 0.x
//!   shapes (`kind` tags, `completed`, `{"kind":"text","text":…}`): `message/send`,
//!   `message/stream`, `tasks/get`, `tasks/cancel`. Like a2a-sdk 1.3, a 1.0 server refuses
//!   them with `-32603` when the request carries an explicit `A2A-Version: 1.x` header.
//! * 1.0 names, answered only when the dialect is [`MockDialect::V1_0`] (else `-32601`, as
//!   a 0.x server would), in 1.0 shapes (`{"message":…}` / `{"task":…}` wrappers,
//!   `TASK_STATE_COMPLETED`, `ROLE_AGENT`, `{"text":…}`): `SendMessage`,
//!   `SendStreamingMessage`, `GetTask`, `CancelTask` (`GetTask` and `CancelTask` answer the
//!   bare Task, as a2a-sdk 1.3 does). They need the header `A2A-Version: 1.0` (or
//!   `?A2A-Version=1.0`); without it the answer is error `-32009` VersionNotSupported.
//! * Anything else: `-32601`. A body that is not JSON: `-32700`. Not a JSON-RPC 2.0 request
//!   object: `-32600`. No `params.message.parts`: `-32602`. Bodies over 1 MiB: HTTP 413.
//! * Streams are `text/event-stream`, one JSON-RPC response per `data: …\r\n\r\n` event (CRLF,
//!   as sse-starlette writes them). A message reply is one event; a task reply is the task
//!   (`submitted`), a `working` status update, one artifact update per chunk (`append`,
//!   `lastChunk`), and a final `completed` status update (`final: true` in 0.x). With
//!   `streaming: false` a 0.x stream request gets one error event `-32004` (HTTP 200), a 1.0
//!   one a plain JSON error, as a2a-sdk does. Errors raised for an accepted 0.x stream request
//!   also come as one SSE error event.
//!
//! # Replies
//!
//! Replies are deterministic so a run's outcome is reproducible (ids and timestamps aside).
//! By default the reply is `[{name}] {text}`, where `{text}` is the user's text with the
//! directives below removed. Each `contextId` is a conversation (generated and returned when
//! the client sends none); from the second message on, the reply is
//! `[{name}] (turn N) {text} (previous: {text of turn N-1})`. Memory is bounded: the oldest
//! conversations and tasks are forgotten first (at most 10,000 of each).
//!
//! # Directives
//!
//! Square-bracket tokens in the user's text steer the reply; they are removed from the echo.
//! Unknown brackets, or directives with a malformed argument, stay in the text as written.
//!
//! | directive | effect |
//! | --- | --- |
//! | `[reply:TEXT]` | reply exactly `TEXT` (up to the closing `]`; the rest of the message is ignored) |
//! | `[json:{…}]` | reply with that JSON text verbatim (balanced braces; for field assertions) |
//! | `[delay:200ms]` | wait this long before answering (`ms`, `s`, `m`; a bare number is ms), on top of the configured latency |
//! | `[error:500]` | answer with that HTTP status (400–599) and a plain-text body |
//! | `[rpc-error]` | answer JSON-RPC error `-32603` |
//! | `[hang]` | never answer (until the server shuts down; then HTTP 503) |
//! | `[garbage]` | answer HTTP 200 `application/json` whose body is not JSON (in a stream: an event whose data is not JSON) |
//! | `[task]` | answer with a completed Task whose one artifact holds the reply in 3 text parts (streamed as 3 artifact-update chunks) |
//! | `[working]` | answer with a Task in state `working`; the first `tasks/get` completes it. A stream ends after the `working` update, with no final event |
//! | `[input-required]` | answer with a Task in state `input-required` whose status message asks for more; the next message carrying that `taskId` completes it (its reply is the artifact) |
//! | `[tokens:N]` | report usage: `metadata.usage = {input_tokens, output_tokens: N, total_tokens}` on the reply message (or the task's artifact); `input_tokens` is the number of words the user sent. The reply text is unchanged |
//!
//! `[reply:…]` wins over `[json:…]`; the shape directives combine with both (`[task]
//! [reply:…]` chunks that text). The faults (`[error:…]`, `[garbage]`, `[hang]`,
//! `[rpc-error]`) win over everything and come after any delay.
//!
//! Messages to a task: an unknown `taskId` is `-32001`; a completed or canceled task is
//! `-32004`; `tasks/cancel` on a finished task is `-32002`.

use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::directives::{self, Shape};
use super::memory::Bounded;
use super::wire::{self, Msg, Role, TaskRecord, TaskState, Wire};

/// Largest request body accepted; larger ones get HTTP 413.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Conversations remembered (oldest forgotten first).
const MAX_CONVERSATIONS: usize = 10_000;
/// Tasks remembered (oldest forgotten first).
const MAX_TASKS: usize = 10_000;
/// Byte budget of the task memory.
const MAX_TASK_BYTES: usize = 64 * 1024 * 1024;
/// Characters of the previous turn kept for the `(previous: …)` part of a reply.
const PREVIOUS_CHARS: usize = 120;
/// Text chunks a `[task]` artifact is split into.
const CHUNKS: usize = 3;
/// How long [`MockAgent::shutdown`] waits for open connections before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Listen backlog of [`bind`] (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// The A2A protocol version the mock agent presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MockDialect {
    /// a2a-sdk 0.2.x (what Rogue speaks): card `protocolVersion` `0.2.5`.
    V0_2,
    /// A2A 0.3: card `protocolVersion` `0.3.0`.
    #[default]
    V0_3,
    /// A2A 1.0: `supportedInterfaces` in the card, PascalCase methods with `A2A-Version: 1.0`;
    /// 0.3 method names keep working (compat).
    V1_0,
}

impl MockDialect {
    pub fn as_str(self) -> &'static str {
        match self {
            MockDialect::V0_2 => "0.2",
            MockDialect::V0_3 => "0.3",
            MockDialect::V1_0 => "1.0",
        }
    }
}

impl fmt::Display for MockDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MockDialect {
    type Err = String;

    /// `0.2`, `0.3` or `1.0` (also `0.2.5`, `0.3.0`, `1`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_start_matches(['v', 'V']) {
            "0.2" | "0.2.5" | "0.2.6" => Ok(MockDialect::V0_2),
            "0.3" | "0.3.0" => Ok(MockDialect::V0_3),
            "1" | "1.0" | "1.0.0" => Ok(MockDialect::V1_0),
            other => Err(format!("unknown A2A dialect `{other}`: expected 0.2, 0.3 or 1.0")),
        }
    }
}

/// How the mock agent behaves.
#[derive(Debug, Clone, Default)]
pub struct MockAgentOptions {
    /// The A2A version it presents (default 0.3).
    pub dialect: MockDialect,
    /// Advertise `capabilities.streaming` and serve `message/stream`.
    pub streaming: bool,
    /// Fixed delay before every reply (default none), precise to about 0.1 ms.
    pub latency: Duration,
}

/// A running mock agent. Dropping it stops the server in the background; call
/// [`MockAgent::shutdown`] to wait for that.
#[derive(Debug)]
pub struct MockAgent {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockAgent {
    /// Serves the mock agent on `listener` (spawned on the current tokio runtime). The server
    /// accepts connections as soon as this returns.
    #[expect(clippy::unused_async, reason = "async by contract, so start-up may await later")]
    pub async fn start(listener: TcpListener, options: MockAgentOptions) -> io::Result<MockAgent> {
        let addr = reachable(listener.local_addr()?);
        let (shutdown, signal) = watch::channel(false);
        let shared = Arc::new(Shared {
            options,
            addr,
            conversations: Mutex::new(Bounded::new(MAX_CONVERSATIONS, MAX_CONVERSATIONS * 512)),
            tasks: Mutex::new(Bounded::new(MAX_TASKS, MAX_TASK_BYTES)),
            shutdown: signal.clone(),
        });
        let listener = listener.tap_io(|tcp| {
            // Small replies: do not wait for Nagle. Failure only costs latency.
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, router(shared)).with_graceful_shutdown(async move {
            until_shutdown(signal).await;
        });
        let task = tokio::spawn(async move { server.await });
        Ok(MockAgent { addr, shutdown, task: Some(task) })
    }

    /// `http://127.0.0.1:PORT` (the bound address; loopback when bound to all interfaces).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `{base}/a2a/{name}`: where agent `name` answers.
    pub fn agent_url(&self, name: &str) -> String {
        format!("{}/a2a/{}", self.base_url(), encode_segment(name))
    }

    /// Stops accepting, ends hung requests with HTTP 503, and waits (up to 5 s) for open
    /// connections to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for MockAgent {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A listener on `addr` with room for thousands of connections arriving at once.
/// `TcpListener::bind` listens with a backlog of 128: a run at `--parallel 500` opens 500
/// connections in the same millisecond, the kernel drops the SYNs that do not fit, and each
/// dropped SYN costs the client a 1 s retransmission (seen as a few scenarios taking
/// L + 1 s in a benchmark of fixed latency L).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves the mock agent on `listener` until Ctrl-C (for `rogue-runner mock-agent`).
pub async fn serve_forever(listener: TcpListener, options: MockAgentOptions) -> io::Result<()> {
    enum Ended {
        CtrlC(io::Result<()>),
        Server(Result<io::Result<()>, tokio::task::JoinError>),
    }
    let mut agent = MockAgent::start(listener, options).await?;
    let Some(mut task) = agent.task.take() else { return Ok(()) };
    let ended = tokio::select! {
        r = tokio::signal::ctrl_c() => Ended::CtrlC(r),
        r = &mut task => Ended::Server(r),
    };
    match ended {
        Ended::CtrlC(result) => {
            agent.task = Some(task);
            agent.shutdown().await;
            result
        }
        Ended::Server(Ok(result)) => result,
        Ended::Server(Err(join)) => Err(io::Error::other(join)),
    }
}

/// State shared by all requests. The locks are never held across an `.await`.
#[derive(Debug)]
struct Shared {
    options: MockAgentOptions,
    addr: SocketAddr,
    conversations: Mutex<Bounded<(String, String), Conversation>>,
    tasks: Mutex<Bounded<(String, String), TaskRecord>>,
    shutdown: watch::Receiver<bool>,
}

/// What the mock remembers of one `contextId`.
#[derive(Debug)]
struct Conversation {
    turns: u32,
    last_text: String,
}

impl Shared {
    fn conversations(&self) -> MutexGuard<'_, Bounded<(String, String), Conversation>> {
        self.conversations.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tasks(&self) -> MutexGuard<'_, Bounded<(String, String), TaskRecord>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps `delay`; `false` when the server started shutting down meanwhile. The sleep is
    /// precise to about 0.1 ms and never short ([`super::timer`]): benchmarks take the
    /// configured latency as the agent's whole cost.
    async fn pause(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return true;
        }
        tokio::select! {
            () = super::timer::sleep(delay) => true,
            () = until_shutdown(self.shutdown.clone()) => false,
        }
    }

    /// Records user text `text` in conversation `context_id` of `agent`; returns the turn
    /// number (from 1) and the previous turn's text.
    fn remember(&self, agent: &str, context_id: &str, text: &str) -> (u32, Option<String>) {
        let key = (agent.to_owned(), context_id.to_owned());
        let kept: String = text.chars().take(PREVIOUS_CHARS).collect();
        let weight = key.0.len() + key.1.len() + kept.len() + 64;
        let mut conversations = self.conversations();
        if let Some(c) = conversations.get_mut(&key) {
            c.turns = c.turns.saturating_add(1);
            let previous = std::mem::replace(&mut c.last_text, kept);
            let turn = c.turns;
            conversations.reweigh(&key, weight);
            (turn, Some(previous))
        } else {
            conversations.insert(key, Conversation { turns: 1, last_text: kept }, weight);
            (1, None)
        }
    }
}

/// Resolves once `*rx` is `true` or the sender is gone.
async fn until_shutdown(mut rx: watch::Receiver<bool>) {
    loop {
        let stop = *rx.borrow_and_update();
        if stop || rx.changed().await.is_err() {
            return;
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/a2a/{name}", post(rpc))
        .route("/a2a/{name}/", post(rpc))
        .route("/a2a/{name}/.well-known/agent-card.json", get(card))
        .route("/a2a/{name}/.well-known/agent.json", get(card))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// The address clients should use: loopback when bound to all interfaces.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Percent-encodes one URL path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

async fn card(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.contains('@') && h.parse::<axum::http::uri::Authority>().is_ok())
        .map_or_else(|| shared.addr.to_string(), str::to_owned);
    let url = format!("http://{host}/a2a/{}", encode_segment(&name));
    let card = wire::agent_card(shared.options.dialect, &name, &url, shared.options.streaming);
    Json(card).into_response()
}

/// What a JSON-RPC method asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Stream,
    Get,
    Cancel,
}

fn parse_method(method: &str) -> Option<(Op, Wire)> {
    Some(match method {
        "message/send" => (Op::Send, Wire::V0),
        "message/stream" => (Op::Stream, Wire::V0),
        "tasks/get" => (Op::Get, Wire::V0),
        "tasks/cancel" => (Op::Cancel, Wire::V0),
        "SendMessage" => (Op::Send, Wire::V1),
        "SendStreamingMessage" => (Op::Stream, Wire::V1),
        "GetTask" => (Op::Get, Wire::V1),
        "CancelTask" => (Op::Cancel, Wire::V1),
        _ => return None,
    })
}

/// The A2A version a request asked for: header, then query parameter; none means `0.3`.
fn requested_version(headers: &HeaderMap, uri: &Uri) -> String {
    let from_header = headers.get("a2a-version").and_then(|v| v.to_str().ok());
    let from_query = uri.query().and_then(|q| {
        q.split('&').find_map(|pair| {
            pair.strip_prefix("A2A-Version=").or_else(|| pair.strip_prefix("a2a-version="))
        })
    });
    match from_header.or(from_query).map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "0.3".to_owned(),
    }
}

/// One accepted JSON-RPC call.
struct Call<'a> {
    shared: &'a Shared,
    agent: &'a str,
    id: Value,
    wire: Wire,
    stream: bool,
}

impl Call<'_> {
    /// A JSON-RPC error, as an SSE event for a 0.x stream and a JSON body otherwise.
    fn error(&self, code: i64, message: &str) -> Response {
        let body = wire::rpc_error(self.wire, &self.id, code, message);
        if self.stream && self.wire == Wire::V0 {
            sse(vec![body])
        } else {
            Json(body).into_response()
        }
    }

    fn ok(&self, result: Value) -> Response {
        Json(wire::rpc_result(&self.id, result)).into_response()
    }

    fn events(&self, events: Vec<Value>) -> Response {
        sse(events.into_iter().map(|e| wire::rpc_result(&self.id, e)).collect())
    }
}

async fn rpc(
    State(shared): State<Arc<Shared>>,
    Path(agent): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Json(wire::rpc_error(
                Wire::V0,
                &Value::Null,
                -32700,
                &format!("Parse error: {e}"),
            ))
            .into_response();
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str);
    let (Some(method), Some("2.0")) = (method, request.get("jsonrpc").and_then(Value::as_str))
    else {
        return Json(wire::rpc_error(
            Wire::V0,
            &id,
            -32600,
            "Invalid Request: not a JSON-RPC 2.0 request object",
        ))
        .into_response();
    };
    let Some((op, wire)) = parse_method(method)
        .filter(|(_, wire)| *wire == Wire::V0 || shared.options.dialect == MockDialect::V1_0)
    else {
        return Json(wire::rpc_error(
            Wire::V0,
            &id,
            -32601,
            &format!("Method not found: {method}"),
        ))
        .into_response();
    };
    let call = Call { shared: &shared, agent: &agent, id, wire, stream: op == Op::Stream };
    let version = requested_version(&headers, &uri);
    let asks_v1 = version == "1" || version.starts_with("1.");
    if wire == Wire::V1 && !asks_v1 {
        return call.error(
            -32009,
            &format!(
                "A2A version '{version}' is not supported by this handler. Expected version '1.0'."
            ),
        );
    }
    // a2a-sdk 1.x routes dotted names to its 0.3 adapter, which refuses an explicit 1.x header.
    if wire == Wire::V0 && asks_v1 && shared.options.dialect == MockDialect::V1_0 {
        return call.error(
            -32603,
            &format!(
                "A2A version '{version}' is not supported by this handler. Expected version '0.3'."
            ),
        );
    }
    let params = request.get("params").unwrap_or(&Value::Null);
    match op {
        Op::Send | Op::Stream => send(&call, params).await,
        Op::Get => get_task(&call, params).await,
        Op::Cancel => cancel_task(&call, params),
    }
}

/// `message/send`, `message/stream`, `SendMessage`, `SendStreamingMessage`.
async fn send(call: &Call<'_>, params: &Value) -> Response {
    let shared = call.shared;
    if call.stream && !shared.options.streaming {
        return call.error(-32004, "Streaming is not supported by the agent");
    }
    let message = params.get("message");
    let Some(parts) = message.and_then(|m| m.get("parts")).and_then(Value::as_array) else {
        let body = wire::rpc_error(
            call.wire,
            &call.id,
            -32602,
            "Invalid params: params.message.parts is required",
        );
        return Json(body).into_response();
    };
    let field = |name: &str| {
        message.and_then(|m| m.get(name)).and_then(Value::as_str).filter(|s| !s.is_empty())
    };
    let user_text = wire::text_of_parts(parts);
    let parsed = directives::parse(&user_text);
    let d = &parsed.directives;

    if d.hang {
        until_shutdown(shared.shutdown.clone()).await;
        return shutting_down();
    }
    let delay = shared.options.latency.saturating_add(d.delay.unwrap_or_default());
    if !shared.pause(delay).await {
        return shutting_down();
    }
    if let Some(status) = d.http_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, format!("mock agent: injected HTTP {}\n", status.as_u16()))
            .into_response();
    }
    if d.garbage {
        return garbage(call.stream);
    }
    if d.rpc_error {
        return call.error(-32603, "Internal error (injected by [rpc-error])");
    }

    // Which conversation, and which task (if continuing one).
    let task_id = field("taskId");
    let mut context_id = field("contextId").map(str::to_owned);
    if let Some(task_id) = task_id {
        let key = (call.agent.to_owned(), task_id.to_owned());
        let task_context = shared.tasks().get(&key).map(|t| t.context_id.clone());
        match (task_context, &context_id) {
            (None, _) => return call.error(-32001, &format!("Task not found: {task_id}")),
            (Some(tc), Some(c)) if tc != *c => {
                return call.error(
                    -32602,
                    &format!("contextId {c} does not match task {task_id}'s context {tc}"),
                );
            }
            (Some(tc), _) => context_id = Some(tc),
        }
    }
    let context_id = context_id.unwrap_or_else(new_id);
    let user = Msg {
        id: field("messageId").map_or_else(new_id, str::to_owned),
        role: Role::User,
        text: user_text.clone(),
        context_id: context_id.clone(),
        task_id: task_id.map(str::to_owned),
        metadata: None,
    };

    let (turn, previous) = shared.remember(call.agent, &context_id, &parsed.text);
    let reply = match (&d.reply, &d.json) {
        (Some(text), _) | (None, Some(text)) => text.clone(),
        (None, None) => echo(call.agent, turn, &parsed.text, previous.as_deref()),
    };
    let metadata = d.tokens.map(|n| {
        let input = user_text.split_whitespace().count() as u64;
        json!({"usage": {"input_tokens": input, "output_tokens": n, "total_tokens": input.saturating_add(n)}})
    });

    if let Some(task_id) = task_id {
        return continue_task(call, task_id, user, &reply, metadata);
    }
    if d.shape == Shape::Message {
        let msg = Msg {
            id: new_id(),
            role: Role::Agent,
            text: reply,
            context_id,
            task_id: None,
            metadata,
        };
        let result = wire::result_message(call.wire, &msg);
        return if call.stream { call.events(vec![result]) } else { call.ok(result) };
    }

    let task_id = new_id();
    let mut task = TaskRecord {
        id: task_id.clone(),
        context_id: context_id.clone(),
        state: TaskState::Submitted,
        status_message: None,
        timestamp: wire::now(),
        chunks: Vec::new(),
        history: vec![Msg { task_id: Some(task_id.clone()), ..user }],
        pending: None,
        metadata,
    };
    let submitted = wire::result_task(call.wire, &task, None);
    let mut events = vec![submitted];
    match d.shape {
        Shape::Task | Shape::Message => {
            task.set_state(TaskState::Working);
            events.push(wire::status_update(call.wire, &task, false));
            task.chunks = chunks(&reply, CHUNKS);
            events
                .extend((0..task.chunks.len()).map(|i| wire::artifact_update(call.wire, &task, i)));
            task.set_state(TaskState::Completed);
            events.push(wire::status_update(call.wire, &task, true));
        }
        Shape::Working => {
            task.set_state(TaskState::Working);
            task.pending = Some(reply);
            events.push(wire::status_update(call.wire, &task, false));
        }
        Shape::InputRequired => {
            task.status_message = Some(Msg {
                id: new_id(),
                role: Role::Agent,
                text: format!("[{}] Please provide more details.", call.agent),
                context_id,
                task_id: Some(task_id.clone()),
                metadata: None,
            });
            task.set_state(TaskState::InputRequired);
            events.push(wire::status_update(call.wire, &task, true));
        }
    }
    let result = wire::result_task(call.wire, &task, None);
    shared.tasks().insert((call.agent.to_owned(), task_id), task.clone(), task.weight());
    if call.stream { call.events(events) } else { call.ok(result) }
}

/// A message carrying the `taskId` of an `input-required` task: completes it.
fn continue_task(
    call: &Call<'_>,
    task_id: &str,
    user: Msg,
    reply: &str,
    metadata: Option<Value>,
) -> Response {
    let key = (call.agent.to_owned(), task_id.to_owned());
    let mut tasks = call.shared.tasks();
    let Some(task) = tasks.get_mut(&key) else {
        drop(tasks);
        return call.error(-32001, &format!("Task not found: {task_id}"));
    };
    if task.state != TaskState::InputRequired {
        let problem = if task.state.is_terminal() {
            format!("Task {task_id} is in terminal state: {}", task.state.name(Wire::V1))
        } else {
            format!("Task {task_id} is still working: poll it with tasks/get")
        };
        drop(tasks);
        return call.error(-32004, &problem);
    }
    if let Some(asked) = task.status_message.take() {
        task.history.push(asked);
    }
    task.history.push(user);
    task.metadata = metadata;
    task.set_state(TaskState::Working);
    let mut events = vec![wire::result_task(call.wire, task, None)];
    task.chunks = chunks(reply, CHUNKS);
    events.extend((0..task.chunks.len()).map(|i| wire::artifact_update(call.wire, task, i)));
    task.set_state(TaskState::Completed);
    events.push(wire::status_update(call.wire, task, true));
    let result = wire::result_task(call.wire, task, None);
    let weight = task.weight();
    tasks.reweigh(&key, weight);
    drop(tasks);
    if call.stream { call.events(events) } else { call.ok(result) }
}

/// The task id named by `tasks/get` / `GetTask` / `tasks/cancel` params (`id`, or a 1.0
/// resource name `tasks/{id}`).
fn task_id_param(params: &Value) -> Option<&str> {
    params
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| {
            params
                .get("name")
                .and_then(Value::as_str)
                .map(|n| n.strip_prefix("tasks/").unwrap_or(n))
        })
        .filter(|s| !s.is_empty())
}

/// `tasks/get` / `GetTask`; completes a `working` task.
async fn get_task(call: &Call<'_>, params: &Value) -> Response {
    let Some(task_id) = task_id_param(params) else {
        return call.error(-32602, "Invalid params: params.id is required");
    };
    let history_length = params
        .get("historyLength")
        .and_then(Value::as_u64)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if !call.shared.pause(call.shared.options.latency).await {
        return shutting_down();
    }
    let key = (call.agent.to_owned(), task_id.to_owned());
    let mut tasks = call.shared.tasks();
    let Some(task) = tasks.get_mut(&key) else {
        drop(tasks);
        return call.error(-32001, &format!("Task not found: {task_id}"));
    };
    if task.state == TaskState::Working {
        if let Some(reply) = task.pending.take() {
            task.chunks = chunks(&reply, CHUNKS);
        }
        task.set_state(TaskState::Completed);
    }
    let result = wire::task(call.wire, task, history_length);
    let weight = task.weight();
    tasks.reweigh(&key, weight);
    drop(tasks);
    call.ok(result)
}

/// `tasks/cancel` / `CancelTask`.
fn cancel_task(call: &Call<'_>, params: &Value) -> Response {
    let Some(task_id) = task_id_param(params) else {
        return call.error(-32602, "Invalid params: params.id is required");
    };
    let key = (call.agent.to_owned(), task_id.to_owned());
    let mut tasks = call.shared.tasks();
    let result = match tasks.get_mut(&key) {
        None => Err((-32001, format!("Task not found: {task_id}"))),
        Some(task) if task.state.is_terminal() => {
            Err((-32002, "Task cannot be canceled".to_owned()))
        }
        Some(task) => {
            task.pending = None;
            task.set_state(TaskState::Canceled);
            Ok(wire::task(call.wire, task, None))
        }
    };
    drop(tasks);
    match result {
        Ok(result) => call.ok(result),
        Err((code, message)) => call.error(code, &message),
    }
}

/// The default reply: `[agent] text`, or `[agent] (turn N) text (previous: …)`.
fn echo(agent: &str, turn: u32, text: &str, previous: Option<&str>) -> String {
    let mut out = format!("[{agent}]");
    if turn > 1 {
        let _ = write!(out, " (turn {turn})");
    }
    if !text.is_empty() {
        out.push(' ');
        out.push_str(text);
    }
    if let Some(previous) = previous.filter(|p| !p.is_empty()) {
        let _ = write!(out, " (previous: {previous})");
    }
    out
}

/// Splits `text` into `n` pieces of (nearly) equal character count; fewer when `text` has
/// fewer than `n` characters, one empty piece when it is empty.
fn chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.min(chars.len()).max(1);
    (0..n).map(|k| chars[k * chars.len() / n..(k + 1) * chars.len() / n].iter().collect()).collect()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An SSE body: one `data: {json}\r\n\r\n` event per value, then the end of the stream.
fn sse(events: Vec<Value>) -> Response {
    sse_raw(events.into_iter().map(|e| format!("data: {e}\r\n\r\n")).collect())
}

fn sse_raw(frames: Vec<String>) -> Response {
    let stream =
        futures_util::stream::iter(frames.into_iter().map(|f| Ok::<_, Infallible>(Bytes::from(f))));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `[garbage]`: HTTP 200 that claims JSON but is cut off mid-object.
fn garbage(stream: bool) -> Response {
    const BODY: &str = r#"{"jsonrpc": "2.0", "result": {"kind": "message", "parts": [{"kind": "text", "text": "<html>oops"#;
    if stream {
        return sse_raw(vec![format!("data: {BODY}\r\n\r\n")]);
    }
    ([(header::CONTENT_TYPE, "application/json")], BODY).into_response()
}

fn shutting_down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "mock agent: shutting down\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_listener_holds_a_burst_of_connections() {
        // Linux caps the backlog at net.core.somaxconn (4096 by default since 5.4).
        let room = fs_err::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok());
        if room.is_some_and(|room| room < 300) {
            return;
        }
        let listener = bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let addr = listener.local_addr().unwrap();
        let started = std::time::Instant::now();
        // Nothing accepts: every handshake must fit in the backlog. With tokio's default of
        // 128, the rest would wait for a SYN retransmission, 1 s later.
        let connects: Vec<_> =
            (0..300).map(|_| tokio::spawn(tokio::net::TcpStream::connect(addr))).collect();
        let all = async {
            let mut streams = Vec::new();
            for connect in connects {
                streams.push(connect.await.unwrap().unwrap());
            }
            streams
        };
        let streams = tokio::time::timeout(Duration::from_secs(2), all).await;
        assert!(streams.is_ok(), "connections waited for a SYN retransmission");
        assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
    }

    #[test]
    fn chunks_split_evenly() {
        assert_eq!(
            chunks("Refunds are possible within 30 days of purchase.", 3),
            ["Refunds are poss", "ible within 30 d", "ays of purchase."]
        );
        assert_eq!(chunks("ab", 3), ["a", "b"]);
        assert_eq!(chunks("", 3), [""]);
        assert_eq!(chunks("héllo✓", 3).concat(), "héllo✓");
    }

    #[test]
    fn echo_shapes() {
        assert_eq!(echo("qa", 1, "hi", None), "[qa] hi");
        assert_eq!(echo("qa", 2, "more", Some("hi")), "[qa] (turn 2) more (previous: hi)");
        assert_eq!(echo("qa", 1, "", None), "[qa]");
    }

    #[test]
    fn dialects_parse() {
        assert_eq!("0.2".parse::<MockDialect>(), Ok(MockDialect::V0_2));
        assert_eq!("v1.0".parse::<MockDialect>(), Ok(MockDialect::V1_0));
        assert!("2.0".parse::<MockDialect>().is_err());
        assert_eq!(MockDialect::default().to_string(), "0.3");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("qa_agent"), "qa_agent");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn version_from_header_or_query() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/a2a/x?A2A-Version=1.0".parse().unwrap();
        assert_eq!(requested_version(&headers, &uri), "1.0");
        let plain: Uri = "/a2a/x".parse().unwrap();
        assert_eq!(requested_version(&headers, &plain), "0.3");
        headers.insert("A2A-Version", HeaderValue::from_static("1.0"));
        assert_eq!(requested_version(&headers, &plain), "1.0");
    }
}
