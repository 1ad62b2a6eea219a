//! The mock A2A agent, driven with raw HTTP (reqwest) on 127.0.0.1:0.

// Helpers outside `#[test]` functions panic on purpose too: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rogue_runner::demo::{MockAgent, MockAgentOptions, MockDialect};
use serde_json::{Value, json};
use tokio::net::TcpListener;

async fn start(options: MockAgentOptions) -> MockAgent {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    MockAgent::start(listener, options).await.unwrap()
}

fn opts(dialect: MockDialect, streaming: bool) -> MockAgentOptions {
    MockAgentOptions { dialect, streaming, ..MockAgentOptions::default() }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A 0.x `message/send`-style request body.
fn msg_body(method: &str, text: &str, context: Option<&str>, task: Option<&str>) -> Value {
    let mut message = json!({
        "kind": "message",
        "messageId": "m-1",
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
    });
    if let Some(c) = context {
        message["contextId"] = c.into();
    }
    if let Some(t) = task {
        message["taskId"] = t.into();
    }
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": {"message": message}})
}

/// A 1.0 `SendMessage`-style request body.
fn msg_body_v1(method: &str, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": "r-1", "method": method, "params": {"message": {
        "messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": text}]}}})
}

async fn post(url: &str, body: &Value) -> (StatusCode, Value) {
    let resp = http().post(url).json(body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn post_v1(url: &str, body: &Value) -> (StatusCode, Value) {
    let resp = http().post(url).header("A2A-Version", "1.0").json(body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn send(url: &str, text: &str) -> Value {
    let (status, body) = post(url, &msg_body("message/send", text, None, None)).await;
    assert_eq!(status, StatusCode::OK);
    body
}

fn part_texts(parts: &Value) -> Vec<&str> {
    parts.as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap()).collect()
}

/// Splits an SSE body into the JSON of its `data:` events, checking the CRLF framing.
fn sse_events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "stream must end with a complete event: {body:?}");
    for (i, _) in body.match_indices('\n') {
        assert_eq!(&body[i - 1..i], "\r", "every line ends with CRLF");
    }
    body.trim_end()
        .split("\r\n\r\n")
        .map(|event| {
            let data = event.strip_prefix("data: ").expect("data: line");
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn card_is_served_at_both_paths_for_any_name() {
    for (dialect, version) in
        [(MockDialect::V0_2, "0.2.5"), (MockDialect::V0_3, "0.3.0"), (MockDialect::V1_0, "0.3")]
    {
        let agent = start(opts(dialect, dialect == MockDialect::V1_0)).await;
        for name in ["qa_agent", "any name/at all"] {
            let url = agent.agent_url(name);
            let a: Value = http()
                .get(format!("{url}/.well-known/agent-card.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let b: Value = http()
                .get(format!("{url}/.well-known/agent.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(a, b);
            assert_eq!(a["name"], name);
            assert_eq!(a["url"], url.as_str());
            assert_eq!(a["protocolVersion"], version);
            assert_eq!(a["preferredTransport"], "JSONRPC");
            assert_eq!(a["capabilities"]["streaming"], dialect == MockDialect::V1_0);
            assert!(a["skills"][0]["id"].is_string());
            if dialect == MockDialect::V1_0 {
                let interfaces = &a["supportedInterfaces"];
                assert_eq!(interfaces[0]["protocolVersion"], "1.0");
                assert_eq!(interfaces[0]["protocolBinding"], "JSONRPC");
                assert_eq!(interfaces[0]["url"], url.as_str());
                assert_eq!(interfaces[1]["protocolVersion"], "0.3");
            } else {
                assert!(a.get("supportedInterfaces").is_none());
            }
        }
        let health = http().get(format!("{}/health", agent.base_url())).send().await.unwrap();
        assert_eq!(health.text().await.unwrap(), "ok");
        agent.shutdown().await;
    }
}

#[tokio::test]
async fn card_url_follows_the_host_header() {
    let agent = start(MockAgentOptions::default()).await;
    let card: Value = http()
        .get(format!("{}/.well-known/agent-card.json", agent.agent_url("qa")))
        .header("Host", "agents.example:8000")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["url"], "http://agents.example:8000/a2a/qa");
    agent.shutdown().await;
}

#[tokio::test]
async fn message_send_echoes_in_0_3_shape() {
    let agent = start(MockAgentOptions::default()).await;
    let body = send(&agent.agent_url("qa_agent"), "hello there").await;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 7);
    let result = &body["result"];
    assert_eq!(result["kind"], "message");
    assert_eq!(result["role"], "agent");
    assert_eq!(result["parts"][0]["kind"], "text");
    assert_eq!(part_texts(&result["parts"]), ["[qa_agent] hello there"]);
    assert!(!result["contextId"].as_str().unwrap().is_empty(), "a contextId is generated");
    assert!(result["messageId"].is_string());
    // A client-chosen contextId is kept.
    let (_, body) =
        post(&agent.agent_url("qa_agent"), &msg_body("message/send", "hi", Some("ctx-9"), None))
            .await;
    assert_eq!(body["result"]["contextId"], "ctx-9");
    agent.shutdown().await;
}

#[tokio::test]
async fn v1_send_message_needs_the_version_header() {
    let agent = start(opts(MockDialect::V1_0, false)).await;
    let url = agent.agent_url("support");
    let (status, body) = post_v1(&url, &msg_body_v1("SendMessage", "hello v1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], "r-1");
    let message = &body["result"]["message"];
    assert_eq!(message["role"], "ROLE_AGENT");
    assert_eq!(message["parts"], json!([{"text": "[support] hello v1"}]));
    assert!(message.get("kind").is_none());

    let (status, body) = post(&url, &msg_body_v1("SendMessage", "hello v1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["error"]["code"], -32009);
    assert!(body["error"]["message"].as_str().unwrap().contains("'0.3'"));
    assert_eq!(body["error"]["data"][0]["reason"], "VERSION_NOT_SUPPORTED");

    // The query parameter works too, and dotted names keep working (compat).
    let resp = http()
        .post(format!("{url}?A2A-Version=1.0"))
        .json(&msg_body_v1("SendMessage", "q"))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["result"]["message"]["parts"][0]["text"], "[support] q");
    let body = send(&url, "dotted").await;
    assert_eq!(body["result"]["kind"], "message");
    // …but not with an explicit 1.0 header (a2a-sdk 1.3's 0.3 adapter refuses it).
    let (_, body) = post_v1(&url, &msg_body("message/send", "dotted", None, None)).await;
    assert_eq!(body["error"]["code"], -32603);
    assert!(body["error"]["message"].as_str().unwrap().contains("Expected version '0.3'"));
    agent.shutdown().await;

    // A 0.3 server does not know the 1.0 names.
    let agent = start(MockAgentOptions::default()).await;
    let (_, body) = post_v1(&agent.agent_url("x"), &msg_body_v1("SendMessage", "hi")).await;
    assert_eq!(body["error"]["code"], -32601);
    agent.shutdown().await;
}

#[tokio::test]
async fn message_stream_is_crlf_sse_ending_with_a_final_event() {
    let agent = start(opts(MockDialect::V0_3, true)).await;
    let url = agent.agent_url("qa");
    let resp = http()
        .post(&url)
        .json(&msg_body("message/stream", "[task] refunds within 30 days", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_events(&resp.text().await.unwrap());
    assert!(events.iter().all(|e| e["id"] == 7 && e["jsonrpc"] == "2.0"));
    let kinds: Vec<&str> = events.iter().map(|e| e["result"]["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "task",
            "status-update",
            "artifact-update",
            "artifact-update",
            "artifact-update",
            "status-update"
        ]
    );
    assert_eq!(events[0]["result"]["status"]["state"], "submitted");
    assert_eq!(events[1]["result"]["status"]["state"], "working");
    assert_eq!(events[1]["result"]["final"], false);
    let chunks: String = events[2..5]
        .iter()
        .map(|e| e["result"]["artifact"]["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(chunks, "[qa] refunds within 30 days");
    assert_eq!(events[2]["result"]["append"], false);
    assert_eq!(events[3]["result"]["append"], true);
    assert_eq!(events[4]["result"]["lastChunk"], true);
    let last = &events[5]["result"];
    assert_eq!(last["final"], true);
    assert_eq!(last["status"]["state"], "completed");

    // A message reply is one event.
    let resp = http()
        .post(&url)
        .json(&msg_body("message/stream", "plain", None, None))
        .send()
        .await
        .unwrap();
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["result"]["kind"], "message");
    assert_eq!(events[0]["result"]["parts"][0]["text"], "[qa] plain");
    agent.shutdown().await;
}

#[tokio::test]
async fn v1_streaming_uses_wrappers_and_ends_on_a_terminal_state() {
    let agent = start(opts(MockDialect::V1_0, true)).await;
    let resp = http()
        .post(agent.agent_url("qa"))
        .header("A2A-Version", "1.0")
        .json(&msg_body_v1("SendStreamingMessage", "[task] abcdefghi"))
        .send()
        .await
        .unwrap();
    let events = sse_events(&resp.text().await.unwrap());
    let keys: Vec<&str> = events
        .iter()
        .map(|e| e["result"].as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "task",
            "statusUpdate",
            "artifactUpdate",
            "artifactUpdate",
            "artifactUpdate",
            "statusUpdate"
        ]
    );
    assert_eq!(events[0]["result"]["task"]["status"]["state"], "TASK_STATE_SUBMITTED");
    assert!(events[2]["result"]["artifactUpdate"].get("append").is_none());
    assert_eq!(events[3]["result"]["artifactUpdate"]["append"], true);
    let last = &events[5]["result"]["statusUpdate"];
    assert_eq!(last["status"]["state"], "TASK_STATE_COMPLETED");
    assert!(last.get("final").is_none());
    agent.shutdown().await;
}

#[tokio::test]
async fn streaming_off_answers_an_error() {
    let agent = start(MockAgentOptions::default()).await;
    let resp = http()
        .post(agent.agent_url("qa"))
        .json(&msg_body("message/stream", "hi", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events[0]["error"]["code"], -32004);
    agent.shutdown().await;

    let agent = start(opts(MockDialect::V1_0, false)).await;
    let (_, body) =
        post_v1(&agent.agent_url("qa"), &msg_body_v1("SendStreamingMessage", "x")).await;
    assert_eq!(body["error"]["code"], -32004);
    agent.shutdown().await;
}

#[tokio::test]
async fn context_id_carries_memory_across_turns() {
    let agent = start(MockAgentOptions::default()).await;
    let url = agent.agent_url("travel");
    let first = send(&url, "I want to fly to Lisbon").await;
    assert_eq!(first["result"]["parts"][0]["text"], "[travel] I want to fly to Lisbon");
    let ctx = first["result"]["contextId"].as_str().unwrap();
    let (_, second) = post(&url, &msg_body("message/send", "in May please", Some(ctx), None)).await;
    assert_eq!(
        second["result"]["parts"][0]["text"],
        "[travel] (turn 2) in May please (previous: I want to fly to Lisbon)"
    );
    assert_eq!(second["result"]["contextId"], ctx);
    // Another conversation starts over; another agent name has its own memory.
    assert_eq!(send(&url, "fresh").await["result"]["parts"][0]["text"], "[travel] fresh");
    let (_, other) =
        post(&agent.agent_url("hotel"), &msg_body("message/send", "x", Some(ctx), None)).await;
    assert_eq!(other["result"]["parts"][0]["text"], "[hotel] x");
    agent.shutdown().await;
}

#[tokio::test]
async fn reply_json_and_tokens_directives() {
    let agent = start(MockAgentOptions::default()).await;
    let url = agent.agent_url("a");
    let body = send(&url, "ignored [reply:Exactly this, nothing else.] also ignored").await;
    assert_eq!(body["result"]["parts"][0]["text"], "Exactly this, nothing else.");

    let body =
        send(&url, r#"quote [json:{"status": "success", "score": 0.93, "nested": {"a": [1]}}]"#)
            .await;
    let text = body["result"]["parts"][0]["text"].as_str().unwrap();
    assert_eq!(text, r#"{"status": "success", "score": 0.93, "nested": {"a": [1]}}"#);
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["score"], 0.93);

    let body = send(&url, "three words here [tokens:120]").await;
    assert_eq!(body["result"]["parts"][0]["text"], "[a] three words here");
    assert_eq!(
        body["result"]["metadata"]["usage"],
        json!({"input_tokens": 4, "output_tokens": 120, "total_tokens": 124})
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn fault_directives() {
    let agent = start(MockAgentOptions::default()).await;
    let url = agent.agent_url("a");

    let resp = http()
        .post(&url)
        .json(&msg_body("message/send", "x [error:500]", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let resp = http()
        .post(&url)
        .json(&msg_body("message/send", "[error:503]", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    let resp = http()
        .post(&url)
        .json(&msg_body("message/send", "x [garbage]", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "garbage must not parse: {text}");

    let body = send(&url, "x [rpc-error]").await;
    assert_eq!(body["error"]["code"], -32603);
    assert_eq!(body["id"], 7);

    let short = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let started = Instant::now();
    let err = short
        .post(&url)
        .json(&msg_body("message/send", "x [hang]", None, None))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Shutdown ends a hung request instead of waiting for it.
    let hung = tokio::spawn({
        let url = url.clone();
        async move {
            http().post(&url).json(&msg_body("message/send", "[hang]", None, None)).send().await
        }
    });
    let started = Instant::now();
    agent.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    if let Ok(resp) = hung.await.unwrap() {
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

#[tokio::test]
async fn delays_and_latency() {
    let agent = start(MockAgentOptions {
        latency: Duration::from_millis(40),
        ..MockAgentOptions::default()
    })
    .await;
    let url = agent.agent_url("a");
    let started = Instant::now();
    send(&url, "x").await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    let started = Instant::now();
    let body = send(&url, "slow [delay:60ms] answer").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(body["result"]["parts"][0]["text"], "[a] slow answer");
    agent.shutdown().await;
}

#[tokio::test]
async fn task_directive_answers_three_chunks() {
    let agent = start(MockAgentOptions::default()).await;
    let body = send(&agent.agent_url("qa"), "[task] Refunds are possible within 30 days.").await;
    let task = &body["result"];
    assert_eq!(task["kind"], "task");
    assert_eq!(task["status"]["state"], "completed");
    assert!(task["status"]["timestamp"].is_string());
    let parts = part_texts(&task["artifacts"][0]["parts"]);
    assert_eq!(parts.len(), 3);
    assert_eq!(parts.concat(), "[qa] Refunds are possible within 30 days.");
    assert_eq!(task["history"][0]["role"], "user");
    assert_eq!(task["history"][0]["taskId"], task["id"]);

    // tasks/get returns the same finished task; cancel is refused.
    let get =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task["id"]}});
    let (_, got) = post(&agent.agent_url("qa"), &get).await;
    assert_eq!(got["result"]["artifacts"], task["artifacts"]);
    let cancel =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/cancel", "params": {"id": task["id"]}});
    let (_, canceled) = post(&agent.agent_url("qa"), &cancel).await;
    assert_eq!(canceled["error"]["code"], -32002);
    agent.shutdown().await;
}

#[tokio::test]
async fn working_task_completes_on_first_get() {
    let agent = start(opts(MockDialect::V1_0, false)).await;
    let url = agent.agent_url("reports");
    let body = send(&url, "[working] build the report").await;
    let task = &body["result"];
    assert_eq!(task["status"]["state"], "working");
    assert!(task.get("artifacts").is_none());
    let id = task["id"].clone();

    let get = json!({"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": id, "historyLength": 1}});
    let (_, got) = post_v1(&url, &get).await;
    let task = &got["result"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(part_texts(&task["artifacts"][0]["parts"]).concat(), "[reports] build the report");
    assert_eq!(task["history"].as_array().unwrap().len(), 1);

    let unknown =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"id": "nope"}});
    let (_, missing) = post(&url, &unknown).await;
    assert_eq!(missing["error"]["code"], -32001);
    agent.shutdown().await;
}

#[tokio::test]
async fn input_required_is_completed_by_the_next_message() {
    let agent = start(MockAgentOptions::default()).await;
    let url = agent.agent_url("flights");
    let body = send(&url, "book a flight [input-required]").await;
    let task = &body["result"];
    assert_eq!(task["status"]["state"], "input-required");
    let question = &task["status"]["message"];
    assert_eq!(question["role"], "agent");
    assert!(question["parts"][0]["text"].as_str().unwrap().contains("more details"));
    let (ctx, id) = (task["contextId"].as_str().unwrap(), task["id"].as_str().unwrap());

    let follow_up = msg_body("message/send", "to Oslo on Friday", Some(ctx), Some(id));
    let (_, done) = post(&url, &follow_up).await;
    let task = &done["result"];
    assert_eq!(task["status"]["state"], "completed");
    assert_eq!(task["id"], id);
    assert_eq!(
        part_texts(&task["artifacts"][0]["parts"]).concat(),
        "[flights] (turn 2) to Oslo on Friday (previous: book a flight)"
    );
    let roles: Vec<&str> =
        task["history"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "agent", "user"]);

    // The task is finished now; unknown tasks are not found.
    let (_, again) = post(&url, &follow_up).await;
    assert_eq!(again["error"]["code"], -32004);
    let (_, unknown) = post(&url, &msg_body("message/send", "x", None, Some("no-such-task"))).await;
    assert_eq!(unknown["error"]["code"], -32001);
    agent.shutdown().await;
}

#[tokio::test]
async fn protocol_errors() {
    let agent = start(MockAgentOptions::default()).await;
    let url = agent.agent_url("a");
    let resp = http().post(&url).body("{not json").send().await.unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);

    let (_, body) = post(&url, &json!({"jsonrpc": "2.0", "id": 1, "method": "foo/bar"})).await;
    assert_eq!(body["error"]["code"], -32601);
    let (_, body) = post(&url, &json!({"id": 1, "method": "message/send"})).await;
    assert_eq!(body["error"]["code"], -32600);
    let (_, body) =
        post(&url, &json!({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {}}))
            .await;
    assert_eq!(body["error"]["code"], -32602);

    let big = "x".repeat(1024 * 1024 + 1);
    let resp = http().post(&url).body(big).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    agent.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_slow_requests_overlap() {
    let agent = start(MockAgentOptions {
        latency: Duration::from_millis(200),
        ..MockAgentOptions::default()
    })
    .await;
    let url = agent.agent_url("bench");
    let client = http();
    let started = Instant::now();
    let handles: Vec<_> = (0..300)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let body = msg_body("message/send", &format!("n{i}"), None, None);
                let resp: Value =
                    client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
                assert_eq!(resp["result"]["parts"][0]["text"], format!("[bench] n{i}"));
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    // 300 × 200 ms one after another would take a minute.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    agent.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The bundled demo scenarios: they load without a diagnostic, and the real engine, checks and
// judge (`rogue-runner demo`, the binary) get each one's intended outcome from the mock. One
// checker decides: `judge::assertions`, never a copy of it here.

mod bundled {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use rogue_runner::demo::bundled_scenarios;
    use rogue_runner::scenario::{LoadOptions, load_text};
    use serde_json::Value;

    #[test]
    fn bundled_scenarios_load_without_a_diagnostic_and_each_states_a_check() {
        let mut ids = Vec::new();
        for (file, text) in bundled_scenarios() {
            let path = Path::new(file);
            let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let (layout, scenarios, diagnostics) =
                load_text(path, text, is_json, &LoadOptions::default());
            assert!(layout.is_some(), "{file}");
            assert!(diagnostics.is_empty(), "{file}: {diagnostics:#?}");
            for s in &scenarios {
                assert!(!s.rubric.is_empty() || !s.assertions.is_empty(), "{}", s.id);
                ids.push(s.id.clone());
            }
        }
        assert_eq!(ids.len(), 20, "{ids:?}");
    }

    #[test]
    fn bundled_scenarios_produce_their_intended_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("demo");
        let run = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
            .args(["demo", "--progress", "quiet", "--output-dir"])
            .arg(&out)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("CI")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        // `demo` exits 0 when it showed every outcome and every P0 passed.
        assert_eq!(run.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
        let results: Value =
            serde_json::from_str(&fs_err::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let scenarios = results["scenarios"].as_array().unwrap();
        let outcomes: BTreeMap<&str, &str> = scenarios
            .iter()
            .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
            .collect();
        let expected = BTreeMap::from([
            ("qa_demo_p0_001", "passed"),
            ("support_demo_p0_002", "passed"),
            ("security_demo_p0_003", "passed"),
            ("analyst_demo_p0_004", "passed"),
            // Their `performance.max_tokens` cannot be checked against the mock, which reports
            // no usage: unassessed, not passed (the old copy of the checker said passed).
            ("support_demo_p1_001", "unassessed"),
            ("support_demo_p1_002", "unassessed"),
            ("support_demo_p1_003", "unassessed"),
            ("support_demo_p1_004", "failed"),
            ("support_demo_p1_005", "unassessed"),
            ("checkout_native_001", "passed"),
            ("checkout_native_002", "passed"),
            ("checkout_native_003", "passed"),
            ("checkout_native_004", "passed"),
            ("checkout_native_005", "passed"),
            ("checkout_native_006", "failed"),
            ("checkout_native_007", "error"),
            ("checkout_native_008", "passed"),
            ("rogue_tshirt_store#1", "passed"),
            ("rogue_tshirt_store#2", "passed"),
            ("rogue_tshirt_store#3", "passed"),
        ]);
        assert_eq!(outcomes, expected, "{results:#}");
        // Every P0 passes, so P0 fail-fast never trips on the demo.
        let p0: BTreeMap<&str, &str> = scenarios
            .iter()
            .filter(|s| s["priority"] == "P0")
            .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
            .collect();
        let p0_ids = [
            "analyst_demo_p0_004",
            "checkout_native_001",
            "checkout_native_002",
            "qa_demo_p0_001",
            "security_demo_p0_003",
            "support_demo_p0_002",
        ];
        assert_eq!(p0.keys().copied().collect::<Vec<_>>(), p0_ids);
        assert!(p0.values().all(|status| *status == "passed"), "{p0:?}");
    }
}
