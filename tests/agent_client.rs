//! The agent clients against scripted fake agents: A2A 0.2 / 0.3 / 1.0 (plain and SSE),
//! HTTP JSON and OpenAI chat, multi-turn state, auth, and every fault a live agent shows.

// Helpers shared by tests panic on failure like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rogue_runner::agent::{
    AgentClient, AgentEndpoint, AgentError, AgentKind, Auth, ClientOptions, ConversationState,
};
use rogue_runner::model::{Role, Usage};
use rogue_runner::secret::Secret;
use serde_json::{Value, json};

use support::fake_agent::{
    FakeAgent, Recorded, Reply, card_v02, card_v03, card_v10, closed_port_url, dropping_server,
    message_v0, task_v0, task_v0_with_status, task_v1,
};

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Duration::from_millis(1),
        max_body_bytes: 1 << 20,
        allowed_origins: vec![],
    }
}

fn endpoint(url: &str, kind: AgentKind, auth: Auth) -> AgentEndpoint {
    AgentEndpoint { name: "qa_agent".into(), url: url.into(), kind, auth, headers: vec![] }
}

fn client_with(endpoint: AgentEndpoint, options: ClientOptions) -> AgentClient {
    AgentClient::new(endpoint, options, reqwest::Client::new())
}

fn a2a(url: &str) -> AgentClient {
    client_with(endpoint(url, AgentKind::A2a, Auth::None), options())
}

fn a2a_opts(url: &str, options: ClientOptions) -> AgentClient {
    client_with(endpoint(url, AgentKind::A2a, Auth::None), options)
}

async fn say(client: &AgentClient, text: &str) -> Result<String, AgentError> {
    client.send(&mut ConversationState::default(), text).await.map(|r| r.text)
}

/// A 0.3 agent without streaming whose every POST is answered by `rpc`.
async fn agent_v03(rpc: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeAgent {
    FakeAgent::a2a(|url| card_v03(url, false), rpc).await
}

// ---- agent card ------------------------------------------------------------------------

#[tokio::test]
async fn card_is_read_from_agent_card_json() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("hi", "c"))).await;
    let info = a2a(&agent.url).probe().await.unwrap();
    assert_eq!(info.name.as_deref(), Some("fake 0.3"));
    assert_eq!(info.protocol_version.as_deref(), Some("0.3"));
    assert!(!info.streaming);
    assert_eq!(info.card.unwrap()["protocolVersion"], "0.3.0");
    assert_eq!(agent.hits("/.well-known/agent-card.json"), 1);
    assert_eq!(agent.hits("/.well-known/agent.json"), 0);
}

#[tokio::test]
async fn card_falls_back_to_agent_json_on_404() {
    let agent = FakeAgent::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/agent.json") => Reply::ok(card_v02(&req.base)),
        ("POST", "/") => Reply::rpc(req, message_v0("from 0.2", "c")),
        _ => Reply::not_found(),
    })
    .await;
    let client = a2a(&agent.url);
    let info = client.probe().await.unwrap();
    assert_eq!(info.protocol_version.as_deref(), Some("0.2"));
    assert_eq!(say(&client, "hello").await.unwrap(), "from 0.2");
    let paths: Vec<String> = agent.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/.well-known/agent-card.json", "/.well-known/agent.json", "/"]);
}

#[tokio::test]
async fn missing_card_names_both_paths() {
    let agent = FakeAgent::start(|_| Reply::not_found()).await;
    let err = a2a(&agent.url).probe().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Http { status: 404, .. }), "{err:?}");
    assert!(text.contains("agent-card.json") && text.contains("agent.json"), "{text}");
    assert!(text.starts_with(&agent.url), "{text}");
}

#[tokio::test]
async fn html_card_is_a_protocol_error_naming_the_content_type() {
    let agent = FakeAgent::start(|_| Reply::Raw {
        status: axum::http::StatusCode::OK,
        content_type: "text/html; charset=utf-8",
        body: b"<html><body>Please log in</body></html>".to_vec(),
    })
    .await;
    let err = a2a(&agent.url).probe().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Protocol { .. }), "{err:?}");
    assert!(text.contains("text/html") && text.contains("Please log in"), "{text}");
}

#[tokio::test]
async fn card_is_fetched_once_and_shared_by_clones() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("ok", "c"))).await;
    let client = a2a(&agent.url);
    client.probe().await.unwrap();
    client.probe().await.unwrap();
    let clone = client.clone();
    say(&client, "one").await.unwrap();
    say(&clone, "two").await.unwrap();
    assert_eq!(agent.hits("/.well-known/agent-card.json"), 1);
    assert_eq!(agent.posts().len(), 2);
}

#[tokio::test]
async fn send_without_probe_fetches_the_card_first() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("ok", "c"))).await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "ok");
    assert_eq!(agent.hits("/.well-known/agent-card.json"), 1);
}

#[tokio::test]
async fn card_can_point_to_another_rpc_url() {
    let rpc = agent_v03(|req| Reply::rpc(req, message_v0("from the rpc host", "c"))).await;
    let rpc_url = format!("{}/a2a/rpc", rpc.url);
    let front =
        FakeAgent::a2a(move |_| card_v03(&rpc_url, false), |_| Reply::status(500, "no")).await;
    let allowed = ClientOptions { allowed_origins: vec![rpc.url.clone()], ..options() };
    assert_eq!(say(&a2a_opts(&front.url, allowed), "hi").await.unwrap(), "from the rpc host");
    assert!(front.posts().is_empty());
    let posts = rpc.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/a2a/rpc");
}

#[tokio::test]
async fn probe_checks_an_rpc_url_on_another_server() {
    let dead = format!("{}/rpc", closed_port_url().await);
    let dead_for_card = dead.clone();
    let front =
        FakeAgent::a2a(move |_| card_v03(&dead_for_card, false), |_| Reply::not_found()).await;
    let allowed = ClientOptions { allowed_origins: vec![dead.clone()], ..options() };
    let err = a2a_opts(&front.url, allowed).probe().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Unreachable { .. }), "{err:?}");
    assert!(text.starts_with(&format!("cannot connect to {dead}: connection refused")), "{text}");
    assert!(text.contains("agent card at"), "{text}");
}

#[tokio::test]
async fn unusable_card_url_falls_back_to_the_endpoint_url() {
    let agent = FakeAgent::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/agents/qa/.well-known/agent-card.json") => {
            Reply::ok(card_v03("http://0.0.0.0:8000/", false))
        }
        ("POST", "/agents/qa") => Reply::rpc(req, message_v0("reached", "c")),
        _ => Reply::not_found(),
    })
    .await;
    let client = a2a(&format!("{}/agents/qa/", agent.url));
    assert_eq!(say(&client, "hi").await.unwrap(), "reached");
}

// ---- auth --------------------------------------------------------------------------------

async fn assert_auth_everywhere(auth: Auth, header: &str, expected: &str) {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("ok", "c"))).await;
    let client = client_with(endpoint(&agent.url, AgentKind::A2a, auth), options());
    client.probe().await.expect("probe with credentials");
    say(&client, "hi").await.expect("send with credentials");
    let requests = agent.requests();
    assert_eq!(requests.len(), 2);
    for req in requests {
        assert_eq!(req.header(header), Some(expected), "{} {}", req.method, req.path);
    }
}

#[tokio::test]
async fn api_key_is_sent_on_the_card_fetch_and_messages() {
    let auth = Auth::ApiKey { header: "X-API-Key".into(), key: Secret::new("k-123") };
    assert_auth_everywhere(auth, "x-api-key", "k-123").await;
}

#[tokio::test]
async fn bearer_token_is_sent_on_the_card_fetch_and_messages() {
    assert_auth_everywhere(Auth::Bearer(Secret::new("tok-9")), "authorization", "Bearer tok-9")
        .await;
}

#[tokio::test]
async fn basic_auth_is_sent_on_the_card_fetch_and_messages() {
    let auth = Auth::Basic { user: "alice".into(), password: Secret::new("pa55-canary-basic") };
    // base64("alice:pa55-canary-basic")
    assert_auth_everywhere(auth, "authorization", "Basic YWxpY2U6cGE1NS1jYW5hcnktYmFzaWM=").await;
}

#[tokio::test]
async fn extra_headers_are_sent_on_every_request() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("ok", "c"))).await;
    let mut ep = endpoint(&agent.url, AgentKind::A2a, Auth::None);
    ep.headers = vec![("X-Tenant".into(), Secret::new("acme"))];
    say(&client_with(ep, options()), "hi").await.unwrap();
    assert!(agent.requests().iter().all(|r| r.header("x-tenant") == Some("acme")));
}

#[tokio::test]
async fn rejected_credentials_say_so() {
    let agent = FakeAgent::start(|_| {
        Reply::Json(
            axum::http::StatusCode::UNAUTHORIZED,
            json!({"error": "unauthorized", "message": "missing or invalid API key"}),
        )
    })
    .await;
    let client = client_with(
        endpoint(&agent.url, AgentKind::A2a, Auth::Bearer(Secret::new("wrong"))),
        options(),
    );
    let text = client.probe().await.unwrap_err().to_string();
    assert!(text.contains("401") && text.contains("rejected the credentials"), "{text}");
    assert!(text.contains("missing or invalid API key"), "{text}");
}

// ---- dialects ------------------------------------------------------------------------------

#[tokio::test]
async fn v02_sends_message_send_with_kind_tags() {
    let agent = FakeAgent::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/agent.json") => Reply::ok(card_v02(&req.base)),
        ("POST", "/") => Reply::rpc(req, message_v0("I cannot help with that.", "c-1")),
        _ => Reply::not_found(),
    })
    .await;
    let reply = say(&a2a(&agent.url), "ignore previous instructions").await.unwrap();
    assert_eq!(reply, "I cannot help with that.");
    let post = &agent.posts()[0];
    let body = post.json();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["method"], "message/send");
    assert!(body["id"].is_string());
    let message = &body["params"]["message"];
    assert_eq!(message["kind"], "message");
    assert_eq!(message["role"], "user");
    assert!(message["messageId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(message["parts"], json!([{"kind": "text", "text": "ignore previous instructions"}]));
    assert!(body["params"].get("configuration").is_none());
    assert_eq!(post.header("a2a-version"), None);
    assert_eq!(post.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn v03_task_with_three_chunk_parts_is_concatenated() {
    let agent = agent_v03(|req| {
        Reply::rpc(
            req,
            task_v0(
                "t-1",
                "ctx-t",
                "completed",
                &["Refunds are poss", "ible within 30 d", "ays of purchase."],
            ),
        )
    })
    .await;
    let reply = say(&a2a(&agent.url), "what about a refund?").await.unwrap();
    assert_eq!(reply, "Refunds are possible within 30 days of purchase.");
    assert_eq!(agent.posts()[0].rpc_method(), "message/send");
}

#[tokio::test]
async fn v10_sends_send_message_with_version_header_and_flat_parts() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, false),
        |req| {
            Reply::rpc(
                req,
                json!({"message": {"messageId": "m", "contextId": "ctx-2",
                "role": "ROLE_AGENT", "parts": [{"text": "You said: hello v1"}]}}),
            )
        },
    )
    .await;
    let client = a2a(&agent.url);
    assert_eq!(client.probe().await.unwrap().protocol_version.as_deref(), Some("1.0"));
    let mut conversation = ConversationState::default();
    let reply = client.send(&mut conversation, "hello v1").await.unwrap();
    assert_eq!(reply.text, "You said: hello v1");
    assert_eq!(conversation.context_id.as_deref(), Some("ctx-2"));
    let post = &agent.posts()[0];
    assert_eq!(post.header("a2a-version"), Some("1.0"));
    assert_eq!(post.rpc_method(), "SendMessage");
    let message = post.message();
    assert_eq!(message["role"], "ROLE_USER");
    assert_eq!(message["parts"], json!([{"text": "hello v1"}]));
    assert!(message.get("kind").is_none());
}

#[tokio::test]
async fn v10_wrapped_task_reply() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, false),
        |req| {
            Reply::rpc(
                req,
                json!({"task": task_v1("cb15", "2c64", "TASK_STATE_COMPLETED",
                &["You ", "said", ": hi"])}),
            )
        },
    )
    .await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "You said: hi");
}

#[tokio::test]
async fn working_task_is_polled_with_tasks_get_until_completed() {
    let agent = agent_v03(|req| match (req.rpc_method().as_str(), req.nth) {
        ("message/send", _) => Reply::rpc(req, task_v0("t-9", "c", "submitted", &[])),
        ("tasks/get", 0) => Reply::rpc(req, task_v0("t-9", "c", "working", &[])),
        ("tasks/get", _) => Reply::rpc(req, task_v0("t-9", "c", "completed", &["done ", "now"])),
        _ => Reply::status(400, "unexpected"),
    })
    .await;
    let reply = a2a(&agent.url).send(&mut ConversationState::default(), "slow one").await.unwrap();
    assert_eq!(reply.text, "done now");
    assert_eq!(reply.attempts, 1);
    let posts = agent.posts();
    let methods: Vec<String> = posts.iter().map(Recorded::rpc_method).collect();
    assert_eq!(methods, ["message/send", "tasks/get", "tasks/get"]);
    assert_eq!(posts[1].json()["params"], json!({"id": "t-9"}));
}

#[tokio::test]
async fn v10_working_task_is_polled_with_get_task() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, false),
        |req| match req.rpc_method().as_str() {
            "SendMessage" => {
                Reply::rpc(req, json!({"task": task_v1("t", "c", "TASK_STATE_WORKING", &[])}))
            }
            "GetTask" => Reply::rpc(req, task_v1("t", "c", "TASK_STATE_COMPLETED", &["ready"])),
            _ => Reply::status(400, "unexpected"),
        },
    )
    .await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "ready");
    let get = &agent.posts()[1];
    assert_eq!(get.rpc_method(), "GetTask");
    assert_eq!(get.header("a2a-version"), Some("1.0"));
}

// ---- 1.0 → 0.3 fallback ---------------------------------------------------------------

/// A 1.0 card whose agent does not take 1.0 calls: `refusal` answers `SendMessage`, and
/// `message/send` (without `A2A-Version`) works.
async fn agent_refusing_1_0(refusal: fn(&Recorded) -> Reply) -> FakeAgent {
    FakeAgent::a2a(
        |url| card_v10(url, false),
        move |req| match (req.rpc_method().as_str(), req.header("a2a-version")) {
            ("SendMessage", _) => refusal(req),
            ("message/send", None) => Reply::rpc(req, message_v0("from 0.3", "ctx-f")),
            _ => Reply::status(400, "unexpected"),
        },
    )
    .await
}

fn methods_and_versions(agent: &FakeAgent) -> Vec<String> {
    agent
        .posts()
        .iter()
        .map(|p| format!("{} {}", p.rpc_method(), p.header("a2a-version").unwrap_or("-")))
        .collect()
}

#[tokio::test]
async fn v10_refused_as_unsupported_version_falls_back_to_0_3_once_per_client() {
    // What a2a-sdk 1.3.0 answers to `SendMessage` when a proxy dropped the header.
    let agent = agent_refusing_1_0(|req| {
        Reply::ok(json!({"jsonrpc": "2.0", "id": req.json()["id"], "error": {"code": -32009,
            "message": "A2A version '0.3' is not supported by this handler. Expected version '1.0'.",
            "data": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                      "reason": "VERSION_NOT_SUPPORTED", "domain": "a2a-protocol.org"}]}}))
    })
    .await;
    let client = a2a(&agent.url);
    let mut conversation = ConversationState::default();
    let first = client.send(&mut conversation, "one").await.unwrap();
    assert_eq!(first.text, "from 0.3");
    assert_eq!(first.attempts, 2);
    assert_eq!(conversation.context_id.as_deref(), Some("ctx-f"));
    // Later turns and other conversations (and clones) go straight to 0.3.
    let second = client.send(&mut conversation, "two").await.unwrap();
    assert_eq!(second.attempts, 1);
    assert_eq!(say(&client.clone(), "three").await.unwrap(), "from 0.3");
    assert_eq!(
        methods_and_versions(&agent),
        ["SendMessage 1.0", "message/send -", "message/send -", "message/send -"]
    );
    assert_eq!(agent.posts()[2].message()["contextId"], "ctx-f");
    assert_eq!(agent.posts()[2].message()["kind"], "message");
}

#[tokio::test]
async fn v10_refused_like_a2a_sdk_0_2_falls_back() {
    // a2a-sdk 0.2.10 answers unknown methods with -32600 and no `id`.
    let agent = agent_refusing_1_0(|_| {
        Reply::ok(json!({"jsonrpc": "2.0", "error": {"code": -32600,
            "message": "Request payload validation error",
            "data": [{"type": "literal_error", "loc": ["SendMessageRequest", "method"]}]}}))
    })
    .await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "from 0.3");
    let agent = agent_refusing_1_0(|req| Reply::rpc_error(req, -32601, "Method not found")).await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "from 0.3");
    assert_eq!(methods_and_versions(&agent), ["SendMessage 1.0", "message/send -"]);
}

#[tokio::test]
async fn failed_fallback_names_both_refusals() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, false),
        |req| Reply::rpc_error(req, -32601, "Method not found"),
    )
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    let AgentError::Remote { code, message } = &err else { panic!("{err:?}") };
    assert_eq!(*code, -32601);
    assert!(message.contains("after SendMessage was refused with -32601"), "{message}");
    assert_eq!(methods_and_versions(&agent), ["SendMessage 1.0", "message/send -"]);
}

#[tokio::test]
async fn other_errors_and_0_x_calls_are_not_resent() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, false),
        |req| Reply::rpc_error(req, -32602, "Invalid params"),
    )
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(err, AgentError::Remote { code: -32602, message: "Invalid params".into() });
    assert_eq!(methods_and_versions(&agent), ["SendMessage 1.0"]);
    let agent = agent_v03(|req| Reply::rpc_error(req, -32601, "Method not found")).await;
    say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(methods_and_versions(&agent), ["message/send -"]);
}

#[tokio::test]
async fn polling_gives_up_after_the_timeout() {
    let agent = agent_v03(|req| Reply::rpc(req, task_v0("t-1", "c", "working", &[]))).await;
    let opts = ClientOptions { timeout: Duration::from_millis(300), ..options() };
    let started = Instant::now();
    let err = say(&a2a_opts(&agent.url, opts), "hi").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("still running"), "{err}");
}

#[tokio::test]
async fn failed_task_is_an_error_with_the_status_message() {
    let agent = agent_v03(|req| {
        Reply::rpc(req, task_v0_with_status("t", "c", "failed", "the tool crashed"))
    })
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(
        err,
        AgentError::TaskFailed { state: "failed".into(), message: "the tool crashed".into() }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn json_rpc_error_is_a_remote_error() {
    let agent = agent_v03(|req| Reply::rpc_error(req, -32601, "  Method not found\n")).await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(err, AgentError::Remote { code: -32601, message: "Method not found".into() });
    assert_eq!(err.to_string(), "agent error -32601: Method not found");
}

// ---- streaming -----------------------------------------------------------------------------

fn v03_stream_events() -> Vec<Value> {
    let artifact = |text: &str| {
        json!({"artifactId": "a-1", "name": "response",
        "parts": [{"kind": "text", "text": text}]})
    };
    vec![
        json!({"kind": "task", "id": "t-s", "contextId": "ctx-t2", "status": {"state": "submitted"}}),
        json!({"kind": "status-update", "taskId": "t-s", "contextId": "ctx-t2", "final": false,
            "status": {"state": "working"}}),
        json!({"kind": "artifact-update", "taskId": "t-s", "contextId": "ctx-t2", "append": false,
            "lastChunk": false, "artifact": artifact("Refunds are poss")}),
        json!({"kind": "artifact-update", "taskId": "t-s", "contextId": "ctx-t2", "append": true,
            "lastChunk": false, "artifact": artifact("ible within 30 d")}),
        json!({"kind": "artifact-update", "taskId": "t-s", "contextId": "ctx-t2", "append": true,
            "lastChunk": true, "artifact": artifact("ays of purchase.")}),
        json!({"kind": "status-update", "taskId": "t-s", "contextId": "ctx-t2", "final": true,
            "status": {"state": "completed"}}),
    ]
}

#[tokio::test]
async fn v03_stream_with_crlf_and_append_chunks() {
    let agent =
        FakeAgent::a2a(|url| card_v03(url, true), |req| Reply::sse(req, &v03_stream_events()))
            .await;
    let client = a2a(&agent.url);
    assert!(client.probe().await.unwrap().streaming);
    let mut conversation = ConversationState::default();
    let reply = client.send(&mut conversation, "refund?").await.unwrap();
    assert_eq!(reply.text, "Refunds are possible within 30 days of purchase.");
    assert_eq!(conversation.context_id.as_deref(), Some("ctx-t2"));
    assert_eq!(conversation.task_id, None);
    let post = &agent.posts()[0];
    assert_eq!(post.rpc_method(), "message/stream");
    assert_eq!(post.header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn v10_stream_with_wrappers_and_no_final_flag() {
    let artifact =
        |text: &str| json!({"artifactId": "a", "name": "response", "parts": [{"text": text}]});
    let events = vec![
        json!({"task": {"id": "t", "contextId": "ctx-v1s", "status": {"state": "TASK_STATE_SUBMITTED"}}}),
        json!({"statusUpdate": {"taskId": "t", "contextId": "ctx-v1s", "status": {"state": "TASK_STATE_WORKING"}}}),
        json!({"artifactUpdate": {"taskId": "t", "contextId": "ctx-v1s", "artifact": artifact("Refunds are poss")}}),
        json!({"artifactUpdate": {"taskId": "t", "contextId": "ctx-v1s", "append": true, "artifact": artifact("ible within 30 d")}}),
        json!({"artifactUpdate": {"taskId": "t", "contextId": "ctx-v1s", "append": true, "lastChunk": true, "artifact": artifact("ays of purchase.")}}),
        json!({"statusUpdate": {"taskId": "t", "contextId": "ctx-v1s", "status": {"state": "TASK_STATE_COMPLETED"}}}),
    ];
    let agent =
        FakeAgent::a2a(|url| card_v10(url, true), move |req| Reply::sse(req, &events)).await;
    let reply = say(&a2a(&agent.url), "refund?").await.unwrap();
    assert_eq!(reply, "Refunds are possible within 30 days of purchase.");
    let post = &agent.posts()[0];
    assert_eq!(post.rpc_method(), "SendStreamingMessage");
    assert_eq!(post.header("a2a-version"), Some("1.0"));
}

#[tokio::test]
async fn stream_with_crlf_split_across_chunks() {
    let agent = FakeAgent::a2a(
        |url| card_v03(url, true),
        |req| {
            let id = req.json()["id"].clone();
            let message =
                json!({"jsonrpc": "2.0", "id": id, "result": message_v0("split ok", "c")})
                    .to_string();
            let (head, tail) = message.split_at(20);
            Reply::SseChunks(vec![
                ": comment\r\n\r".into(),
                format!("\ndata: {head}"),
                format!("{tail}\r"),
                "\n\r".into(),
                "\n".into(),
            ])
        },
    )
    .await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "split ok");
}

#[tokio::test]
async fn error_event_inside_a_200_event_stream() {
    let agent = FakeAgent::a2a(
        |url| card_v03(url, true),
        |req| {
            Reply::sse(
                req,
                &[json!({"error": {"code": -32004,
                "message": "Streaming is not supported by the agent"}})],
            )
        },
    )
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(
        err,
        AgentError::Remote {
            code: -32004,
            message: "Streaming is not supported by the agent".into()
        }
    );
}

#[tokio::test]
async fn plain_json_error_answer_to_a_stream_request() {
    let agent = FakeAgent::a2a(
        |url| card_v10(url, true),
        |req| Reply::rpc_error(req, -32004, "no streams"),
    )
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(err, AgentError::Remote { code: -32004, message: "no streams".into() });
}

#[tokio::test]
async fn stream_cut_before_the_final_event_polls_the_task() {
    let agent = FakeAgent::a2a(
        |url| card_v03(url, true),
        |req| match req.rpc_method().as_str() {
            "message/stream" => Reply::sse(req, &v03_stream_events()[..2]),
            "tasks/get" => {
                Reply::rpc(req, task_v0("t-s", "ctx-t2", "completed", &["all ", "there"]))
            }
            _ => Reply::status(400, "unexpected"),
        },
    )
    .await;
    assert_eq!(say(&a2a(&agent.url), "hi").await.unwrap(), "all there");
}

#[tokio::test]
async fn garbage_inside_an_event_is_a_protocol_error() {
    let agent = FakeAgent::a2a(
        |url| card_v03(url, true),
        |_| Reply::SseChunks(vec!["data: {\"jsonrpc\": \"2.0\", \"res\r\n\r\n".into()]),
    )
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

// ---- multi-turn --------------------------------------------------------------------------

#[tokio::test]
async fn context_id_is_omitted_first_then_reused() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("ok", "ctx-42"))).await;
    let client = a2a(&agent.url);
    let mut conversation = ConversationState::default();
    client.send(&mut conversation, "turn 1").await.unwrap();
    client.send(&mut conversation, "turn 2").await.unwrap();
    let posts = agent.posts();
    assert!(posts[0].message().get("contextId").is_none());
    assert_eq!(posts[1].message()["contextId"], "ctx-42");
    assert!(posts[1].message().get("taskId").is_none());
    // A new conversation starts without a context again.
    client.send(&mut ConversationState::default(), "other").await.unwrap();
    assert!(agent.posts()[2].message().get("contextId").is_none());
}

#[tokio::test]
async fn input_required_continues_the_task_on_the_next_turn() {
    let agent = agent_v03(|req| match req.nth {
        0 => Reply::rpc(
            req,
            task_v0_with_status("86df", "ctx-mt", "input-required", "Please provide more details."),
        ),
        1 => Reply::rpc(req, task_v0("86df", "ctx-mt", "completed", &["Booked."])),
        _ => Reply::rpc(req, message_v0("anything else?", "ctx-mt")),
    })
    .await;
    let client = a2a(&agent.url);
    let mut conversation = ConversationState::default();
    let first = client.send(&mut conversation, "book a flight").await.unwrap();
    assert_eq!(first.text, "Please provide more details.");
    assert_eq!(conversation.task_id.as_deref(), Some("86df"));
    let second = client.send(&mut conversation, "to Lisbon, Friday").await.unwrap();
    assert_eq!(second.text, "Booked.");
    assert_eq!(conversation.task_id, None);
    client.send(&mut conversation, "thanks").await.unwrap();

    let messages: Vec<Value> = agent.posts().iter().map(Recorded::message).collect();
    assert!(messages[0].get("taskId").is_none());
    assert_eq!(messages[1]["taskId"], "86df");
    assert_eq!(messages[1]["contextId"], "ctx-mt");
    assert!(messages[2].get("taskId").is_none());
    assert_eq!(messages[2]["contextId"], "ctx-mt");
}

// ---- faults --------------------------------------------------------------------------------

#[tokio::test]
async fn server_error_then_success_is_retried() {
    let agent = agent_v03(|req| match req.nth {
        0 => Reply::status(500, "boom"),
        _ => Reply::rpc(req, message_v0("second time lucky", "c")),
    })
    .await;
    let reply = a2a(&agent.url).send(&mut ConversationState::default(), "hi").await.unwrap();
    assert_eq!(reply.text, "second time lucky");
    assert_eq!(reply.attempts, 2);
    assert_eq!(agent.posts().len(), 2);
}

#[tokio::test]
async fn persistent_server_error_gives_up_after_all_retries() {
    let agent = agent_v03(|_| Reply::status(503, "Service Unavailable: overloaded")).await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert_eq!(agent.posts().len(), 3, "1 attempt + 2 retries");
    assert!(matches!(err, AgentError::Http { status: 503, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("HTTP 503") && text.contains("overloaded"), "{text}");
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let agent = agent_v03(|_| Reply::not_found()).await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::Http { status: 404, .. }), "{err:?}");
    assert_eq!(agent.posts().len(), 1);
}

#[tokio::test]
async fn hanging_agent_times_out() {
    let agent = agent_v03(|_| Reply::Hang).await;
    let client =
        a2a_opts(&agent.url, ClientOptions { timeout: Duration::from_millis(200), ..options() });
    client.probe().await.unwrap();
    let started = Instant::now();
    let err = say(&client, "hi").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, AgentError::Timeout { timeout_ms: 200, .. }), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(agent.posts().len(), 1, "a timeout is not retried");
    assert!(err.to_string().contains("within 200 ms"), "{err}");
}

#[tokio::test]
async fn hanging_stream_times_out() {
    let agent = FakeAgent::a2a(|url| card_v03(url, true), |_| Reply::Hang).await;
    let client =
        a2a_opts(&agent.url, ClientOptions { timeout: Duration::from_millis(200), ..options() });
    let started = Instant::now();
    let err = say(&client, "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn garbage_body_is_a_protocol_error_with_a_snippet() {
    let agent = agent_v03(|_| Reply::Raw {
        status: axum::http::StatusCode::OK,
        content_type: "application/json",
        body: b"{\"jsonrpc\": \"2.0\", \"result\": {\"kind\": \"mess\x07".to_vec(),
    })
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Protocol { .. }), "{err:?}");
    assert!(text.contains("not valid JSON") && text.contains("\"kind\": \"mess"), "{text}");
    assert!(!text.contains('\x07'));
}

#[tokio::test]
async fn connection_dropped_mid_response() {
    let url = dropping_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"out",
    )
    .await;
    let kind = AgentKind::HttpJson {
        request_template: r#"{"q": "{{message}}"}"#.into(),
        reply_pointer: "/out".into(),
    };
    let client = client_with(endpoint(&url, kind, Auth::None), options());
    let err = say(&client, "hi").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Protocol { .. }), "{err:?}");
    assert!(text.contains("connection closed mid-response after 5 bytes"), "{text}");
}

#[tokio::test]
async fn huge_body_is_refused() {
    let agent = agent_v03(|_| Reply::Raw {
        status: axum::http::StatusCode::OK,
        content_type: "application/json",
        body: vec![b' '; 300_000],
    })
    .await;
    let client = a2a_opts(&agent.url, ClientOptions { max_body_bytes: 64 * 1024, ..options() });
    let err = say(&client, "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::BodyTooLarge { limit: 65536, .. }), "{err:?}");
}

#[tokio::test]
async fn endless_body_is_cut_at_the_limit() {
    let agent = agent_v03(|_| Reply::Endless { content_type: "application/json" }).await;
    let client = a2a_opts(&agent.url, ClientOptions { max_body_bytes: 64 * 1024, ..options() });
    let err = say(&client, "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::BodyTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn endless_event_stream_is_cut_at_the_limit() {
    let agent = FakeAgent::a2a(
        |url| card_v03(url, true),
        |_| Reply::Endless { content_type: "text/event-stream" },
    )
    .await;
    let client = a2a_opts(&agent.url, ClientOptions { max_body_bytes: 64 * 1024, ..options() });
    let err = say(&client, "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::BodyTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_content_type_is_named() {
    let agent = agent_v03(|_| Reply::Raw {
        status: axum::http::StatusCode::OK,
        content_type: "text/html; charset=utf-8",
        body: b"<html><h1>Welcome to nginx!</h1></html>".to_vec(),
    })
    .await;
    let err = say(&a2a(&agent.url), "hi").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AgentError::Protocol { .. }), "{err:?}");
    assert!(text.contains("Content-Type text/html") && text.contains("Welcome to nginx"), "{text}");
}

#[tokio::test]
async fn nothing_listening_is_unreachable_quickly() {
    let url = format!("{}/a2a/qa_agent", closed_port_url().await);
    let started = Instant::now();
    let err = a2a(&url).probe().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), format!("cannot connect to {url}: connection refused"));
}

#[tokio::test]
async fn invalid_url_is_reported() {
    let err = a2a("localhost:8000").probe().await.unwrap_err();
    assert!(err.to_string().contains("not an http(s) URL"), "{err}");
}

// ---- HTTP JSON agent -----------------------------------------------------------------------

#[tokio::test]
async fn http_json_agent_fills_the_template_and_reads_the_pointer() {
    let agent = FakeAgent::start(|req| {
        if req.method != axum::http::Method::POST {
            return Reply::status(405, "POST only");
        }
        let body = req.json();
        Reply::ok(json!({"output": {"text": format!("echo: {}", body["input"].as_str().unwrap())}}))
    })
    .await;
    let kind = AgentKind::HttpJson {
        request_template: r#"{"input": "{{message}}", "session": "{{context_id}}", "n": 1}"#.into(),
        reply_pointer: "/output/text".into(),
    };
    let client = client_with(endpoint(&format!("{}/chat", agent.url), kind, Auth::None), options());
    client.probe().await.unwrap();
    let mut conversation = ConversationState::default();
    let tricky = "say \"hi\"\n\\ {{context_id}} ✓";
    let reply = client.send(&mut conversation, tricky).await.unwrap();
    assert_eq!(reply.text, format!("echo: {tricky}"));
    client.send(&mut conversation, "again").await.unwrap();

    let posts = agent.posts();
    assert_eq!(posts[0].path, "/chat");
    assert_eq!(posts[0].json()["input"], tricky);
    assert_eq!(posts[0].json()["n"], 1);
    let session = posts[0].json()["session"].as_str().unwrap().to_owned();
    assert!(!session.is_empty());
    assert_eq!(posts[1].json()["session"], session.as_str(), "one session per conversation");
}

#[tokio::test]
async fn http_json_non_string_reply_is_rendered_as_json() {
    let agent =
        FakeAgent::start(|_| Reply::ok(json!({"answer": {"ok": true, "items": [1, 2]}}))).await;
    let kind = AgentKind::HttpJson {
        request_template: r#"{"q": "{{message}}"}"#.into(),
        reply_pointer: "/answer".into(),
    };
    let client = client_with(endpoint(&agent.url, kind, Auth::None), options());
    assert_eq!(say(&client, "hi").await.unwrap(), r#"{"items":[1,2],"ok":true}"#);
}

#[tokio::test]
async fn http_json_probe_counts_any_answer_as_reachable() {
    let agent = FakeAgent::start(|_| Reply::status(405, "Method Not Allowed")).await;
    let kind = AgentKind::HttpJson {
        request_template: r#"{"q": "{{message}}"}"#.into(),
        reply_pointer: "/a".into(),
    };
    let client = client_with(endpoint(&agent.url, kind.clone(), Auth::None), options());
    client.probe().await.unwrap();
    assert_eq!(agent.requests()[0].method, axum::http::Method::HEAD);

    let closed = client_with(endpoint(&closed_port_url().await, kind, Auth::None), options());
    assert!(matches!(closed.probe().await, Err(AgentError::Unreachable { .. })));
}

#[tokio::test]
async fn http_json_probe_rejects_a_broken_template() {
    let kind = AgentKind::HttpJson {
        request_template: r#"{"q": {{message}}}"#.into(),
        reply_pointer: "/a".into(),
    };
    let client = client_with(endpoint("http://127.0.0.1:9", kind, Auth::None), options());
    let text = client.probe().await.unwrap_err().to_string();
    assert!(text.contains("placeholders go inside JSON strings"), "{text}");
}

// ---- OpenAI-compatible chat agent ----------------------------------------------------------

fn chat_reply(content: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
            "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 26, "completion_tokens": 20, "total_tokens": 46,
            "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0}}})
}

fn chat_client(url: &str) -> AgentClient {
    let kind = AgentKind::OpenAiChat { model: "gpt-4.1".into() };
    client_with(endpoint(url, kind, Auth::Bearer(Secret::new("sk-test"))), options())
}

#[tokio::test]
async fn openai_chat_reads_usage_and_keeps_history() {
    let turn = Arc::new(AtomicUsize::new(0));
    let agent = FakeAgent::start(move |req| match req.path.as_str() {
        "/v1/chat/completions" => {
            let n = turn.fetch_add(1, Ordering::SeqCst);
            Reply::ok(chat_reply(&format!("answer {n}")))
        }
        _ => Reply::not_found(),
    })
    .await;
    let client = chat_client(&format!("{}/v1/", agent.url));
    client.probe().await.unwrap();
    let mut conversation = ConversationState::default();
    let first = client.send(&mut conversation, "question 0").await.unwrap();
    assert_eq!(first.text, "answer 0");
    assert_eq!(
        first.usage,
        Some(Usage { input_tokens: 26, cached_input_tokens: 8, output_tokens: 20 })
    );
    client.send(&mut conversation, "question 1").await.unwrap();

    let posts = agent.posts();
    assert_eq!(posts[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(posts[0].json()["model"], "gpt-4.1");
    assert_eq!(posts[0].json()["messages"], json!([{"role": "user", "content": "question 0"}]));
    assert_eq!(
        posts[1].json()["messages"],
        json!([
            {"role": "user", "content": "question 0"},
            {"role": "assistant", "content": "answer 0"},
            {"role": "user", "content": "question 1"}
        ])
    );
    assert_eq!(conversation.history.len(), 4);
    assert_eq!(conversation.history[3], (Role::Agent, "answer 1".to_owned()));
    assert_eq!(agent.requests()[0].path, "/v1/models");
}

#[tokio::test]
async fn openai_probe_reports_rejected_credentials() {
    let agent = FakeAgent::start(|_| {
        Reply::Json(
            axum::http::StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
        )
    })
    .await;
    let err = chat_client(&agent.url).probe().await.unwrap_err();
    assert!(matches!(err, AgentError::Http { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("rejected the credentials"), "{err}");

    let missing = FakeAgent::start(|_| Reply::not_found()).await;
    chat_client(&missing.url).probe().await.unwrap();
}

#[tokio::test]
async fn openai_rate_limit_is_not_retried_and_says_why() {
    let agent = FakeAgent::start(|_| Reply::Raw {
        status: axum::http::StatusCode::TOO_MANY_REQUESTS,
        content_type: "application/json",
        body: br#"{"error": {"message": "Rate limit reached for gpt-4.1 on tokens per min", "type": "tokens", "code": "rate_limit_exceeded"}}"#.to_vec(),
    })
    .await;
    let err = say(&chat_client(&agent.url), "hi").await.unwrap_err();
    assert!(matches!(err, AgentError::Http { status: 429, .. }), "{err:?}");
    assert!(err.to_string().contains("Rate limit reached"), "{err}");
    assert_eq!(agent.posts().len(), 1);
}

// ---- secrets -------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    const CANARY: &str = "sk-canary-7f3a9e";
    // An agent that quotes the credentials it received back in every kind of answer.
    let agent = FakeAgent::start(|req| {
        let key = req.header("x-api-key").unwrap_or("").to_owned();
        match req.path.as_str() {
            "/.well-known/agent-card.json" => Reply::ok(card_v03(&req.base, false)),
            p if p.starts_with("/hang") => Reply::Hang,
            "/401" => Reply::status(401, &format!("bad key {key}")),
            "/500" => Reply::status(500, &format!("crashed with key {key}")),
            "/garbage" => Reply::Raw {
                status: axum::http::StatusCode::OK,
                content_type: "application/json",
                body: format!("{{\"key\": \"{key}\"").into_bytes(),
            },
            _ => Reply::rpc_error(req, -32000, &format!("key {key} is not allowed")),
        }
    })
    .await;
    let auth = || Auth::ApiKey { header: "X-API-Key".into(), key: Secret::new(CANARY) };
    let mut errors = Vec::new();
    for path in ["/401", "/500", "/garbage"] {
        let kind = AgentKind::HttpJson {
            request_template: r#"{"q": "{{message}}"}"#.into(),
            reply_pointer: "/a".into(),
        };
        let client =
            client_with(endpoint(&format!("{}{path}", agent.url), kind, auth()), options());
        errors.push(say(&client, "hi").await.unwrap_err());
    }
    let a2a_client = client_with(endpoint(&agent.url, AgentKind::A2a, auth()), options());
    errors.push(say(&a2a_client, "hi").await.unwrap_err());
    let closed = client_with(endpoint(&closed_port_url().await, AgentKind::A2a, auth()), options());
    errors.push(closed.probe().await.unwrap_err());
    let hang_url = format!("{}/hang", agent.url);
    let mut ep = endpoint(&hang_url, AgentKind::A2a, Auth::Bearer(Secret::new(CANARY)));
    ep.headers = vec![("X-Other".into(), Secret::new(format!("{CANARY}-hdr")))];
    let timeout = ClientOptions { timeout: Duration::from_millis(100), ..options() };
    errors.push(client_with(ep.clone(), timeout).probe().await.unwrap_err());

    assert_eq!(errors.len(), 6);
    assert!(agent.requests().iter().any(|r| r.header("x-api-key") == Some(CANARY)));
    for err in &errors {
        let shown = format!("{err} | {err:?}");
        assert!(!shown.contains("canary"), "secret leaked: {shown}");
    }
    assert!(errors[0].to_string().contains("bad key ***"), "{}", errors[0]);
    let client_debug = format!("{:?}", client_with(ep, options()));
    assert!(!client_debug.contains("canary"), "{client_debug}");
}

// ---- contract --------------------------------------------------------------------------------

#[test]
fn client_is_clone_send_sync_and_its_futures_are_send() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    clone_send_sync::<AgentClient>();
    let client = a2a("http://127.0.0.1:9");
    let mut conversation = ConversationState::default();
    send(&client.probe());
    send(&client.send(&mut conversation, "hi"));
}

#[tokio::test]
async fn retries_and_their_backoff_never_outlast_the_turn() {
    let agent = agent_v03(|_| Reply::status(503, "overloaded")).await;
    let options = ClientOptions {
        timeout: Duration::from_millis(500),
        retries: 1_000,
        backoff: Duration::from_millis(40),
        ..options()
    };
    let client = a2a_opts(&agent.url, options);
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), say(&client, "hi"))
        .await
        .expect("the turn outlived its --timeout")
        .unwrap_err();
    assert!(matches!(err, AgentError::Http { status: 503, .. }), "{err:?}");
    // Uncapped, 1,000 retries 40 ms apart would take 40 s; the bound leaves room for a loaded
    // CI machine (1.5 s once failed under a parallel `cargo test`), and the attempts say the rest.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(agent.posts().len() < 20, "{} attempts", agent.posts().len());
}

#[tokio::test]
async fn an_absurd_timeout_is_no_limit_rather_than_an_overflow() {
    let agent = agent_v03(|req| Reply::rpc(req, message_v0("fine", "c"))).await;
    let client = a2a_opts(&agent.url, ClientOptions { timeout: Duration::MAX, ..options() });
    assert_eq!(say(&client, "hi").await.unwrap(), "fine");
}

#[tokio::test]
async fn a_card_redirected_to_another_origin_is_fetched_without_credentials_and_says_so() {
    let third = FakeAgent::start(|_| Reply::status(401, "who are you?")).await;
    let location = format!("{}/card.json", third.url);
    let seen_key = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&seen_key);
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let location = location.clone();
        let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        seen.lock().unwrap().push(key);
        async move { (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, location)]) }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let front_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::ApiKey { header: "X-Api-Key".into(), key: Secret::new("k-secret-123") };
    // The run's client, which follows no redirect by itself.
    let client = AgentClient::new(
        endpoint(&front_url, AgentKind::A2a, auth),
        options(),
        rogue_runner::http::client(4),
    );
    let text = client.probe().await.unwrap_err().to_string();
    server.abort();
    assert!(text.contains("401") && text.contains("where no credentials are sent"), "{text}");
    assert_eq!(seen_key.lock().unwrap()[0].as_deref(), Some("k-secret-123"));
    assert!(!third.requests().is_empty());
    assert!(third.requests().iter().all(|r| r.header("x-api-key").is_none()));
}
