//! A scripted fake agent: an axum server on `127.0.0.1:0` that records every request and
//! answers what the test's script says. One per test, so tests run in parallel.

// Test scaffolding: a failure to bind or a malformed request is a test bug and should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the fake agent saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The fake agent's own base URL, for cards that point back at it.
    pub(crate) base: String,
    /// How many requests with the same method, path and JSON-RPC method came before this one.
    pub(crate) nth: usize,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// The JSON-RPC method of a POST, "" otherwise.
    pub(crate) fn rpc_method(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v["method"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// `params.message` of a JSON-RPC send.
    pub(crate) fn message(&self) -> Value {
        self.json()["params"]["message"].clone()
    }
}

/// What the fake agent answers.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(StatusCode, Value),
    Raw {
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// An event stream sent as these chunks, as they are.
    SseChunks(Vec<String>),
    /// A body that never ends (to prove the client stops reading).
    Endless {
        content_type: &'static str,
    },
    /// No answer at all (the client's timeout ends it).
    Hang,
}

impl Reply {
    pub(crate) fn ok(value: Value) -> Reply {
        Reply::Json(StatusCode::OK, value)
    }

    pub(crate) fn status(code: u16, body: &str) -> Reply {
        Reply::Raw {
            status: StatusCode::from_u16(code).unwrap(),
            content_type: "text/plain",
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn not_found() -> Reply {
        Reply::status(404, "Not Found")
    }

    /// A JSON-RPC success echoing the request's id.
    pub(crate) fn rpc(req: &Recorded, result: Value) -> Reply {
        let mut envelope = json!({"jsonrpc": "2.0", "id": req.json()["id"]});
        envelope["result"] = result;
        Reply::ok(envelope)
    }

    /// A JSON-RPC error echoing the request's id.
    pub(crate) fn rpc_error(req: &Recorded, code: i64, message: &str) -> Reply {
        Reply::ok(json!({"jsonrpc": "2.0", "id": req.json()["id"],
            "error": {"code": code, "message": message}}))
    }

    /// An event stream with one JSON-RPC response per event, framed with CRLF like
    /// sse-starlette does.
    pub(crate) fn sse(req: &Recorded, results: &[Value]) -> Reply {
        let id = req.json()["id"].clone();
        Reply::SseChunks(
            results
                .iter()
                .map(|r| {
                    let envelope = if r.get("error").is_some() {
                        json!({"jsonrpc": "2.0", "id": id, "error": r["error"]})
                    } else {
                        json!({"jsonrpc": "2.0", "id": id, "result": r})
                    };
                    format!("data: {envelope}\r\n\r\n")
                })
                .collect(),
        )
    }
}

type Script = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct Shared {
    base: String,
    log: Mutex<Vec<Recorded>>,
    script: Box<Script>,
}

/// A running fake agent; stops when dropped.
pub(crate) struct FakeAgent {
    pub(crate) url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeAgent {
    pub(crate) async fn start(
        script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> FakeAgent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            base: url.clone(),
            log: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAgent { url, shared, server }
    }

    /// A2A agent: serves `card(base_url)` at `/.well-known/agent-card.json` and answers every
    /// POST with `rpc`.
    pub(crate) async fn a2a(
        card: impl Fn(&str) -> Value + Send + Sync + 'static,
        rpc: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> FakeAgent {
        FakeAgent::start(move |req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/.well-known/agent-card.json") => Reply::ok(card(&req.base)),
            ("POST", _) => rpc(req),
            _ => Reply::not_found(),
        })
        .await
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The POST requests so far.
    pub(crate) fn posts(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == Method::POST).collect()
    }

    /// Requests for `path`.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = {
        let mut log = shared.log.lock().unwrap();
        let mut recorded = Recorded {
            method,
            path: uri.path().to_owned(),
            headers,
            body,
            base: shared.base.clone(),
            nth: 0,
        };
        let rpc_method = recorded.rpc_method();
        recorded.nth = log
            .iter()
            .filter(|r| {
                r.method == recorded.method
                    && r.path == recorded.path
                    && r.rpc_method() == rpc_method
            })
            .count();
        log.push(recorded.clone());
        recorded
    };
    match (shared.script)(&recorded) {
        Reply::Json(status, value) => (status, axum::Json(value)).into_response(),
        Reply::Raw { status, content_type, body } => {
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Reply::SseChunks(chunks) => {
            // One chunk per poll, so the client sees the framing as written.
            let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
                tokio::task::yield_now().await;
                Ok::<_, Infallible>(chunk)
            });
            (
                [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Reply::Endless { content_type } => {
            let chunk = Bytes::from(vec![b' '; 16 * 1024]);
            let stream = futures_util::stream::repeat(chunk).map(Ok::<_, Infallible>);
            ([(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// A raw TCP server that reads one HTTP request, writes `partial` (a response cut short)
/// and closes the connection. Returns its base URL.
pub(crate) async fn dropping_server(partial: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            read_request(&mut socket).await;
            socket.write_all(partial.as_bytes()).await.unwrap();
            socket.flush().await.unwrap();
            let _ = socket.shutdown().await;
        }
    });
    url
}

/// Reads the request head and its `Content-Length` body, so that closing the socket sends
/// a FIN rather than a reset.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0usize);
            if buf.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// A local URL where nothing listens: bind a port, then free it.
pub(crate) async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---- A2A bodies -----------------------------------------------------------------------

/// A 0.2.5 card (served at `agent.json` by 0.2 agents).
pub(crate) fn card_v02(url: &str) -> Value {
    json!({"name": "fake 0.2", "url": url, "version": "1", "protocolVersion": "0.2.5",
        "capabilities": {"streaming": false}, "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"], "skills": []})
}

/// A 0.3 card.
pub(crate) fn card_v03(url: &str, streaming: bool) -> Value {
    json!({"name": "fake 0.3", "url": url, "version": "1", "protocolVersion": "0.3.0",
        "preferredTransport": "JSONRPC", "capabilities": {"streaming": streaming},
        "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"], "skills": []})
}

/// A 1.0 card as a2a-sdk 1.x serves it: both shapes, 1.0 interface first.
pub(crate) fn card_v10(url: &str, streaming: bool) -> Value {
    json!({"name": "fake 1.0", "version": "1",
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
            {"url": format!("{url}/rest"), "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}],
        "capabilities": {"streaming": streaming}, "url": url, "protocolVersion": "0.3",
        "preferredTransport": "JSONRPC", "skills": []})
}

/// A 0.x agent message.
pub(crate) fn message_v0(text: &str, context_id: &str) -> Value {
    json!({"kind": "message", "messageId": "m-1", "role": "agent", "contextId": context_id,
        "parts": [{"kind": "text", "text": text}]})
}

/// A 0.x task in `state`, with one artifact made of `chunks` text parts.
pub(crate) fn task_v0(id: &str, context_id: &str, state: &str, chunks: &[&str]) -> Value {
    let parts: Vec<Value> = chunks.iter().map(|c| json!({"kind": "text", "text": c})).collect();
    let artifacts = if chunks.is_empty() {
        json!([])
    } else {
        json!([{"artifactId": "a-1", "name": "response", "parts": parts}])
    };
    json!({"kind": "task", "id": id, "contextId": context_id,
        "status": {"state": state, "timestamp": "2026-11-24T10:29:13Z"}, "artifacts": artifacts})
}

/// A 0.x task whose status carries an agent message (input-required, failed, …).
pub(crate) fn task_v0_with_status(id: &str, context_id: &str, state: &str, text: &str) -> Value {
    json!({"kind": "task", "id": id, "contextId": context_id,
        "status": {"state": state, "message": {"kind": "message", "role": "agent", "messageId": "s-1",
            "parts": [{"kind": "text", "text": text}]}}})
}

/// A 1.0 task (bare, as `GetTask` returns it; wrap it in `{"task": …}` for `SendMessage`).
pub(crate) fn task_v1(id: &str, context_id: &str, state: &str, chunks: &[&str]) -> Value {
    let parts: Vec<Value> = chunks.iter().map(|c| json!({"text": c})).collect();
    json!({"id": id, "contextId": context_id, "status": {"state": state},
        "artifacts": [{"artifactId": "a-1", "name": "response", "parts": parts}]})
}
