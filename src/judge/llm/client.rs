//! A small client for one OpenAI-compatible chat completions endpoint (OpenAI, Azure
//! deployments, Gemini's OpenAI layer, vLLM, Ollama, OpenRouter, Anthropic's compatibility
//! layer): rate limited, retrying 429s and transient failures with the provider's delays,
//! and never quoting a credential in an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::http::{Backoff, RateLimiter, RateShare, server_delay, with_jitter};
use crate::model::Usage;
use crate::secret::Secret;

/// Bodies larger than this are refused.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Longest excerpt of a provider's error message kept.
const MESSAGE_CHARS: usize = 300;

/// How the API key is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer KEY` (OpenAI and most compatible servers).
    Bearer,
    /// `NAME: KEY` (`api-key` for Azure OpenAI).
    Named(String),
}

/// One OpenAI-compatible endpoint and how to talk to it.
#[derive(Debug, Clone)]
pub struct LlmEndpoint {
    /// `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`, or for Azure
    /// `https://RESOURCE.openai.azure.com` (or a full `…/openai/deployments/NAME`).
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub key_header: KeyHeader,
    /// Azure OpenAI: the `api-version` query parameter; the model name is the deployment.
    pub azure_api_version: Option<String>,
    /// Extra headers on every request (values may be secrets).
    pub headers: Vec<(String, Secret)>,
    /// Per request.
    pub timeout: Duration,
    /// Retries for connect errors, timeouts, 408, 409 and 5xx.
    pub retries: u32,
    /// Retries for 429 answers (each waits what the provider says).
    pub rate_limit_retries: u32,
    /// Client-side limit, requests per minute (`None`: no limit), for the whole run.
    pub requests_per_minute: Option<u32>,
    /// With `--partition hash:K/N`: this process is shard K of N and takes its 1/N of
    /// `requests_per_minute`, on slots of its own (see [`RateShare`]).
    pub rate_share: Option<RateShare>,
    /// Ask for `response_format: json_schema` (answers are parsed leniently either way).
    pub structured_output: bool,
}

impl Default for LlmEndpoint {
    fn default() -> Self {
        LlmEndpoint {
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            key_header: KeyHeader::Bearer,
            azure_api_version: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(120),
            retries: 3,
            rate_limit_retries: 12,
            requests_per_minute: None,
            rate_share: None,
            structured_output: true,
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage { role: "system", content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage { role: "user", content: content.into() }
    }
}

/// One chat completion request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f64>,
    /// `(name, JSON Schema)` for structured output.
    pub schema: Option<(&'static str, Value)>,
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub content: String,
    /// The model as the provider named it (often dated: `gpt-4o-mini-2024-07-18`), else the
    /// requested one.
    pub model: String,
    pub usage: Option<Usage>,
    /// HTTP attempts made.
    pub attempts: u32,
}

/// A failed LLM call. Messages never contain a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("cannot reach the LLM at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the LLM at {url} did not answer within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("the LLM at {url} answered HTTP {status}: {message}")]
    Http { url: String, status: u16, message: String },
    #[error(
        "the LLM at {url} was still rate limiting (HTTP 429) after {attempts} attempts: {message}"
    )]
    RateLimited { url: String, attempts: u32, message: String },
    #[error("the LLM at {url} sent an unusable answer: {detail}")]
    Protocol { url: String, detail: String },
}

impl LlmError {
    fn retryable(&self) -> bool {
        match self {
            LlmError::Unreachable { .. } | LlmError::Timeout { .. } => true,
            LlmError::Http { status, .. } => matches!(status, 408 | 409) || *status >= 500,
            LlmError::RateLimited { .. } | LlmError::Protocol { .. } => false,
        }
    }
}

/// Counters of one client, for reports and benchmarks.
#[derive(Debug, Default)]
pub struct LlmStats {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// A client for one endpoint. Cheap to clone: clones share the limiter and the counters.
#[derive(Debug, Clone)]
pub struct LlmClient {
    endpoint: Arc<LlmEndpoint>,
    http: reqwest::Client,
    limiter: Arc<RateLimiter>,
    stats: Arc<LlmStats>,
    /// Credential values to blank out of messages (kept as [`Secret`]s so that no `Debug`
    /// output shows them).
    secrets: Arc<Vec<Secret>>,
}

impl LlmClient {
    pub fn new(endpoint: LlmEndpoint, http: reqwest::Client) -> Self {
        let limiter =
            Arc::new(RateLimiter::shared(endpoint.requests_per_minute, endpoint.rate_share));
        let mut secrets: Vec<Secret> = endpoint
            .api_key
            .iter()
            .chain(endpoint.headers.iter().map(|(_, v)| v))
            .filter(|s| s.expose().chars().count() >= 4)
            .cloned()
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        secrets.dedup();
        LlmClient {
            endpoint: Arc::new(endpoint),
            http,
            limiter,
            stats: Arc::default(),
            secrets: Arc::new(secrets),
        }
    }

    pub fn endpoint(&self) -> &LlmEndpoint {
        &self.endpoint
    }

    pub fn stats(&self) -> &LlmStats {
        &self.stats
    }

    /// The URL a request for `model` goes to (Azure: the deployment is the model).
    pub fn chat_url(&self, model: &str) -> String {
        let base = self.endpoint.base_url.trim_end_matches('/');
        match &self.endpoint.azure_api_version {
            Some(version) if base.contains("/deployments/") => {
                format!("{base}/chat/completions?api-version={version}")
            }
            Some(version) => {
                format!("{base}/openai/deployments/{model}/chat/completions?api-version={version}")
            }
            None => format!("{base}/chat/completions"),
        }
    }

    /// Sends `request`, waiting for the rate limiter, retrying 429 and transient failures.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let url = self.chat_url(&request.model);
        let shown_url = self.scrub(&crate::redact::redact_url(&url));
        let body = self.body(request).to_string();
        let (mut attempts, mut errors, mut limited) = (0u32, 0u32, 0u32);
        loop {
            self.limiter.acquire().await;
            attempts += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(&url, &shown_url, &body).await {
                Ok(reply) => return self.read(&reply, request, &shown_url, attempts),
                Err(Attempt::RateLimited { delay, asked, message }) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if limited >= self.endpoint.rate_limit_retries {
                        return Err(LlmError::RateLimited { url: shown_url, attempts, message });
                    }
                    let wait = delay.map_or_else(|| Backoff::LLM.delay(limited), with_jitter);
                    // Never wait past the scenario's deadline (`--scenario-timeout`): a wait
                    // that would end after it is not started, and the reason says why.
                    if let Some(left) = scenario_time_left()
                        && wait >= left
                    {
                        let asked = asked.map_or_else(
                            || format!("{} s", wait.as_secs()),
                            |raw| format!("Retry-After: {raw}"),
                        );
                        return Err(LlmError::RateLimited {
                            url: shown_url,
                            attempts,
                            message: format!(
                                "{message} (it asked to wait ({asked}), longer than the {} s \
                                 left before --scenario-timeout; not waited)",
                                left.as_secs()
                            ),
                        });
                    }
                    limited += 1;
                    if wait >= NOTICE_AFTER {
                        notice_wait(|| {
                            let asked = asked
                                .map(|raw| format!(" (it asked for Retry-After: {raw})"))
                                .unwrap_or_default();
                            format!(
                                "the LLM at {shown_url} is rate limiting (HTTP 429): waiting {} s \
                                 before retry {limited} of {}{asked}",
                                wait.as_secs(),
                                self.endpoint.rate_limit_retries
                            )
                        });
                    }
                    self.limiter.pause_until(crate::http::deadline_after(wait));
                }
                Err(Attempt::Failed(err)) if err.retryable() && errors < self.endpoint.retries => {
                    tokio::time::sleep(Backoff::LLM.delay(errors)).await;
                    errors += 1;
                }
                Err(Attempt::Failed(err)) => return Err(err),
            }
        }
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        let mut body = json!({ "model": request.model, "messages": messages });
        if let Some(t) = request.temperature
            && !is_reasoning_model(&request.model)
        {
            body["temperature"] = json!(t);
        }
        if let (Some((name, schema)), true) = (&request.schema, self.endpoint.structured_output) {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": name, "strict": true, "schema": schema }
            });
        }
        body
    }

    fn headers(&self) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::new();
        let mut insert = |name: &str, value: &str| -> Result<(), String> {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name {name:?} is not valid"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header {name} is not a valid header value"))?;
            value.set_sensitive(true);
            map.append(name, value);
            Ok(())
        };
        for (name, value) in &self.endpoint.headers {
            insert(name, value.expose())?;
        }
        if let Some(key) = &self.endpoint.api_key {
            match &self.endpoint.key_header {
                KeyHeader::Bearer => insert("authorization", &format!("Bearer {}", key.expose()))?,
                KeyHeader::Named(name) => insert(name, key.expose())?,
            }
        }
        Ok(map)
    }

    async fn attempt(&self, url: &str, shown: &str, body: &str) -> Result<Reply, Attempt> {
        let headers = self.headers().map_err(|detail| {
            Attempt::Failed(LlmError::Protocol { url: shown.to_owned(), detail })
        })?;
        let deadline = crate::http::deadline_after(self.endpoint.timeout);
        let timeout = || LlmError::Timeout {
            url: shown.to_owned(),
            timeout_ms: u64::try_from(self.endpoint.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let send = self
            .http
            .post(url)
            .headers(headers)
            .header("content-type", "application/json")
            .body(body.to_owned());
        let send = crate::http::send(send, crate::http::Peer::Judge);
        let response = match tokio::time::timeout_at(deadline, send).await {
            Err(_) => return Err(Attempt::Failed(timeout())),
            Ok(Err(err)) => {
                let detail = self.scrub(&crate::http::root_cause(&err));
                let err = if err.is_timeout() {
                    timeout()
                } else {
                    LlmError::Unreachable { url: shown.to_owned(), detail }
                };
                return Err(Attempt::Failed(err));
            }
            Ok(Ok(response)) => response,
        };
        let mut response = response;
        let status = response.status();
        let delay = server_delay(response.headers());
        let asked = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(|v| crate::http::one_line(v, 40));
        // OpenAI's `x-should-retry` overrides the status-based decision either way.
        let should_retry = response
            .headers()
            .get("x-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().eq_ignore_ascii_case("true"));
        // Chunked bodies too: never more than MAX_BODY_BYTES in memory, whatever is sent.
        let bytes = match crate::http::read_limited(&mut response, MAX_BODY_BYTES, deadline).await {
            Ok(bytes) => bytes,
            Err(crate::http::ReadError::TooLarge(_)) => {
                return Err(Attempt::Failed(LlmError::Protocol {
                    url: shown.to_owned(),
                    detail: format!("the body is over {MAX_BODY_BYTES} bytes"),
                }));
            }
            Err(crate::http::ReadError::Timeout) => return Err(Attempt::Failed(timeout())),
            Err(crate::http::ReadError::Broken { cause, .. }) => {
                return Err(Attempt::Failed(LlmError::Unreachable {
                    url: shown.to_owned(),
                    detail: format!("the connection broke mid-answer ({})", self.scrub(&cause)),
                }));
            }
        };
        if status.is_success() {
            return Ok(Reply { bytes });
        }
        if status.is_redirection() {
            // The shared client follows no redirect: the key must not travel to another host.
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "(no location)".to_owned(), |l| self.scrub(&redact_location(l)));
            return Err(Attempt::Failed(LlmError::Protocol {
                url: shown.to_owned(),
                detail: format!(
                    "HTTP {} redirecting to {location}, which is not followed so that the API \
                     key only goes where it is configured; use the final URL as the judge's base \
                     URL",
                    status.as_u16()
                ),
            }));
        }
        let (message, code) = crate::http::error_message(&bytes, MESSAGE_CHARS);
        let message = self.scrub(&message);
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
            && code.as_deref() != Some("insufficient_quota");
        if rate_limited && should_retry != Some(false) {
            return Err(Attempt::RateLimited { delay, asked, message });
        }
        if should_retry == Some(true) {
            return Err(Attempt::RateLimited { delay, asked, message });
        }
        let message = match status.as_u16() {
            401 | 403 if self.endpoint.api_key.is_none() => {
                format!(
                    "{message} (no API key is configured: set OPENAI_API_KEY or --judge-api-key-env)"
                )
            }
            _ => message,
        };
        if should_retry == Some(false) {
            // Final whatever the status says.
            return Err(Attempt::Failed(LlmError::Protocol {
                url: shown.to_owned(),
                detail: format!("HTTP {} (x-should-retry: false): {message}", status.as_u16()),
            }));
        }
        Err(Attempt::Failed(LlmError::Http {
            url: shown.to_owned(),
            status: status.as_u16(),
            message,
        }))
    }

    fn read(
        &self,
        reply: &Reply,
        request: &ChatRequest,
        url: &str,
        attempts: u32,
    ) -> Result<ChatResponse, LlmError> {
        let protocol = |detail: String| LlmError::Protocol { url: url.to_owned(), detail };
        let value: Value = serde_json::from_slice(&reply.bytes).map_err(|e| {
            protocol(format!(
                "the body is not JSON ({e}): {}",
                self.scrub(&crate::http::one_line(&String::from_utf8_lossy(&reply.bytes), 200))
            ))
        })?;
        let message = value.pointer("/choices/0/message");
        let content = match message.and_then(|m| m.get("content")) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => {
                parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect()
            }
            _ => {
                if let Some(refusal) =
                    message.and_then(|m| m.get("refusal")).and_then(Value::as_str)
                {
                    return Err(protocol(format!(
                        "the model refused: {}",
                        self.scrub(&crate::http::one_line(refusal, MESSAGE_CHARS))
                    )));
                }
                return Err(protocol("no choices[0].message.content in the answer".to_owned()));
            }
        };
        let model = value
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(&request.model)
            .to_owned();
        Ok(ChatResponse { content, model, usage: crate::http::usage(&value), attempts })
    }

    /// `text` with every credential of this endpoint replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |text, secret| text.replace(secret.expose(), "***"))
    }
}

struct Reply {
    bytes: Vec<u8>,
}

enum Attempt {
    /// `asked`: the raw `Retry-After`, for the message when it is not waited for.
    RateLimited {
        delay: Option<Duration>,
        asked: Option<String>,
        message: String,
    },
    Failed(LlmError),
}

/// Tells the user why a running scenario pauses (shown on the progress line).
pub type WaitNotice = Arc<dyn Fn(String) + Send + Sync>;

/// The scenario a judge or driver call runs for, set by the engine around each scenario.
#[derive(Clone)]
struct ScenarioScope {
    /// `--scenario-timeout`: no rate-limit wait is started that would end after it.
    deadline: Instant,
    notice: WaitNotice,
}

tokio::task_local! {
    static SCENARIO: ScenarioScope;
}

/// Waits shorter than this pass without a notice.
const NOTICE_AFTER: Duration = Duration::from_secs(5);

/// Runs `work` with `deadline` as the scenario deadline that judge and driver calls respect
/// (no rate-limit wait is started that would end after it); `notice` hears of the long waits
/// they do start.
pub async fn within_scenario_deadline<T>(
    deadline: Instant,
    notice: WaitNotice,
    work: impl std::future::Future<Output = T>,
) -> T {
    SCENARIO.scope(ScenarioScope { deadline, notice }, work).await
}

/// What is left of the current scenario's deadline, if one is set.
fn scenario_time_left() -> Option<Duration> {
    SCENARIO.try_with(|s| s.deadline.saturating_duration_since(Instant::now())).ok()
}

/// Reports a long wait of the current scenario, if it runs under the engine.
fn notice_wait(message: impl FnOnce() -> String) {
    if let Ok(notice) = SCENARIO.try_with(|s| Arc::clone(&s.notice)) {
        notice(message());
    }
}

/// A redirect's `Location` for a message: a relative one as is, an absolute one redacted.
fn redact_location(location: &str) -> String {
    crate::http::one_line(&crate::redact::redact_url(location), 200)
}

/// o-series and gpt-5 reasoning models reject a non-default temperature.
fn is_reasoning_model(model: &str) -> bool {
    let bare = model.rsplit_once('/').map_or(model, |(_, m)| m).to_ascii_lowercase();
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| bare.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: LlmEndpoint) -> LlmClient {
        LlmClient::new(endpoint, reqwest::Client::new())
    }

    #[test]
    fn urls_for_openai_and_azure() {
        let c = client(LlmEndpoint { base_url: "http://h/v1/".into(), ..LlmEndpoint::default() });
        assert_eq!(c.chat_url("gpt-4o"), "http://h/v1/chat/completions");
        let azure = client(LlmEndpoint {
            base_url: "https://r.openai.azure.com".into(),
            azure_api_version: Some("2024-10-21".into()),
            ..LlmEndpoint::default()
        });
        assert_eq!(
            azure.chat_url("judge-4o"),
            "https://r.openai.azure.com/openai/deployments/judge-4o/chat/completions?api-version=2024-10-21"
        );
        let fixed = client(LlmEndpoint {
            base_url: "https://r.openai.azure.com/openai/deployments/d1".into(),
            azure_api_version: Some("v".into()),
            ..LlmEndpoint::default()
        });
        assert_eq!(
            fixed.chat_url("x"),
            "https://r.openai.azure.com/openai/deployments/d1/chat/completions?api-version=v"
        );
    }

    #[test]
    fn reasoning_models_get_no_temperature() {
        let c = client(LlmEndpoint::default());
        let request = |model: &str| ChatRequest {
            model: model.into(),
            messages: vec![ChatMessage::user("hi")],
            temperature: Some(0.0),
            schema: Some(("verdict", json!({"type": "object"}))),
        };
        assert_eq!(c.body(&request("gpt-4o"))["temperature"], json!(0.0));
        assert!(c.body(&request("o4-mini")).get("temperature").is_none());
        assert!(c.body(&request("openai/gpt-5-mini")).get("temperature").is_none());
        assert_eq!(c.body(&request("gpt-4o"))["response_format"]["type"], "json_schema");
        let plain = client(LlmEndpoint { structured_output: false, ..LlmEndpoint::default() });
        assert!(plain.body(&request("gpt-4o")).get("response_format").is_none());
    }

    #[test]
    fn scrubs_every_credential() {
        let c = client(LlmEndpoint {
            api_key: Some(Secret::new("sk-canary-1")),
            headers: vec![("x-org".into(), Secret::new("org-secret"))],
            ..LlmEndpoint::default()
        });
        assert_eq!(c.scrub("key sk-canary-1 and org-secret"), "key *** and ***");
    }
}
