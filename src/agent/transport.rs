//! HTTP plumbing shared by every agent kind: credentials and extra headers on each request,
//! per-request deadlines, retries with backoff for connect errors and 5xx, bounded body
//! reads, and the mapping of every failure to an [`AgentError`] a user can act on.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use super::{AgentEndpoint, AgentError, Auth, ClientOptions};
use crate::http::{
    Backoff, Peer, ReadError, deadline_after, error_message, one_line, read_limited, root_cause,
    snippet,
};
use crate::redact::redact_url;
use crate::secret::Secret;

/// Longest backoff between two attempts, whatever `ClientOptions::backoff` says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error body is read to quote it.
const ERROR_BODY_BYTES: usize = 16 * 1024;
/// Redirects followed for one request (same origin, or GETs without credentials).
const MAX_REDIRECTS: u32 = 10;

/// Whether `a` and `b` are the same origin (scheme, host, port). Loopback names count as one
/// host (`localhost`, `127.0.0.1`, `[::1]`): agents often advertise one while the user typed
/// the other, and neither leaves the machine.
pub(crate) fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    if a.origin() == b.origin() {
        return true;
    }
    let loopback = |u: &reqwest::Url| {
        let host = u.host_str().unwrap_or("");
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    a.scheme() == b.scheme()
        && a.port_or_known_default() == b.port_or_known_default()
        && loopback(a)
        && loopback(b)
}

/// Where a redirect answer points, resolved against `current`; `None` when `response` is not
/// a redirect to follow (not 301/302/303/307/308, or no usable http(s) `Location`).
fn redirect_target(response: &Response, current: &reqwest::Url) -> Option<reqwest::Url> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    current.join(location.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// One HTTP request, rebuilt for every attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: &'a str,
    /// JSON text sent with `Content-Type: application/json`.
    pub(crate) body: Option<&'a str>,
    /// Protocol headers (`A2A-Version`, `Accept`), sent besides the credentials.
    pub(crate) headers: &'a [(&'static str, &'static str)],
}

impl<'a> Request<'a> {
    pub(crate) fn get(url: &'a str) -> Self {
        Request { method: &Method::GET, url, body: None, headers: &[] }
    }

    pub(crate) fn post_json(url: &'a str, body: &'a str) -> Self {
        Request { method: &Method::POST, url, body: Some(body), headers: &[] }
    }
}

/// Which answers count as success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Only 2xx; 5xx is retried, any other status is an [`AgentError::Http`].
    Success,
    /// Any HTTP answer (a reachability probe); only connect errors are retried.
    AnyStatus,
}

/// How strictly a JSON body's `Content-Type` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentType {
    /// A present `Content-Type` must be JSON (protocols that specify it).
    Json,
    /// Any `Content-Type`, as long as the body parses (hand-written HTTP agents).
    Lenient,
}

/// An answer whose status was accepted; the body is still unread.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) response: Response,
    /// The URL asked, passwords redacted, for error messages.
    pub(crate) url: String,
    /// When this request's time is up.
    pub(crate) deadline: Instant,
}

impl Answer {
    pub(crate) fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The `Content-Type` header, lower-cased, or "" when absent.
    pub(crate) fn content_type(&self) -> String {
        self.response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

/// Shared HTTP state of one agent client.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) endpoint: Arc<AgentEndpoint>,
    pub(crate) options: ClientOptions,
    http: reqwest::Client,
    /// Credentials and extra headers, built once; an invalid header is reported on use.
    headers: Arc<Result<HeaderMap, AgentError>>,
    /// Secret values to blank out of error messages, in case an agent echoes them back.
    secrets: Arc<Vec<Secret>>,
    /// When the current turn's time is up (`--timeout` bounds a whole turn: every request,
    /// body, event stream, poll and retry of it). Set by [`Transport::for_turn`].
    turn_deadline: Option<Instant>,
}

impl Transport {
    pub(crate) fn new(
        endpoint: AgentEndpoint,
        options: ClientOptions,
        http: reqwest::Client,
    ) -> Self {
        let headers = Arc::new(credential_headers(&endpoint));
        let secrets = Arc::new(secret_values(&endpoint));
        Transport {
            endpoint: Arc::new(endpoint),
            options,
            http,
            headers,
            secrets,
            turn_deadline: None,
        }
    }

    /// A handle for one turn (or one probe): nothing done through it outlasts `--timeout`
    /// from now, however the agent spreads its answer out.
    pub(crate) fn for_turn(&self) -> Transport {
        Transport { turn_deadline: Some(deadline_after(self.options.timeout)), ..self.clone() }
    }

    /// When the current request must be done: `--timeout` from now, and never after the
    /// turn's deadline.
    pub(crate) fn request_deadline(&self) -> Instant {
        let own = deadline_after(self.options.timeout);
        self.turn_deadline.map_or(own, |turn| own.min(turn))
    }

    /// The turn's deadline (or one `--timeout` from now outside a turn).
    pub(crate) fn turn_deadline(&self) -> Instant {
        self.turn_deadline.unwrap_or_else(|| deadline_after(self.options.timeout))
    }

    /// `err` with every secret value of this endpoint replaced by `***`: an agent may quote
    /// the credentials it received in an error body.
    pub(crate) fn scrub(&self, err: AgentError) -> AgentError {
        if self.secrets.is_empty() {
            return err;
        }
        let clean = |text: String| {
            self.secrets.iter().fold(text, |text, secret| {
                if text.contains(secret.expose()) {
                    text.replace(secret.expose(), "***")
                } else {
                    text
                }
            })
        };
        match err {
            AgentError::Unreachable { url, detail } => {
                AgentError::Unreachable { url: clean(url), detail: clean(detail) }
            }
            AgentError::Timeout { url, timeout_ms } => {
                AgentError::Timeout { url: clean(url), timeout_ms }
            }
            AgentError::TurnTimeout { url, timeout_ms } => {
                AgentError::TurnTimeout { url: clean(url), timeout_ms }
            }
            AgentError::Http { url, status, snippet } => {
                AgentError::Http { url: clean(url), status, snippet: clean(snippet) }
            }
            AgentError::BodyTooLarge { url, limit } => {
                AgentError::BodyTooLarge { url: clean(url), limit }
            }
            AgentError::Protocol { url, detail } => {
                AgentError::Protocol { url: clean(url), detail: clean(detail) }
            }
            AgentError::Remote { code, message } => {
                AgentError::Remote { code, message: clean(message) }
            }
            AgentError::TaskFailed { state, message } => {
                AgentError::TaskFailed { state: clean(state), message: clean(message) }
            }
        }
    }

    /// The per-request timeout, for error messages.
    pub(crate) fn timeout_error(&self, url: &str) -> AgentError {
        AgentError::Timeout { url: redact_url(url), timeout_ms: self.timeout_ms() }
    }

    /// The turn ran out of time while the agent was still answering (a stream that never
    /// ends, a task that stays `working`).
    pub(crate) fn turn_timeout_error(&self, url: &str) -> AgentError {
        AgentError::TurnTimeout { url: redact_url(url), timeout_ms: self.timeout_ms() }
    }

    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.options.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends `request`, retrying connect errors (and 5xx under [`Accept::Success`]) with
    /// exponential backoff and jitter. `attempts` is incremented once per retry.
    pub(crate) async fn execute(
        &self,
        request: Request<'_>,
        accept: Accept,
        attempts: &mut u32,
    ) -> Result<Answer, AgentError> {
        let mut retry = 0;
        loop {
            let result = self.attempt(request, accept).await;
            match result {
                Err(err) if err.is_retryable() && retry < self.options.retries => {
                    // A retry that could not even start before the turn's deadline is not
                    // waited for: the error stands.
                    let at = Instant::now().checked_add(
                        Backoff { base: self.options.backoff, max: MAX_BACKOFF }.delay(retry),
                    );
                    if at.is_none_or(|at| at >= self.turn_deadline()) {
                        return Err(err);
                    }
                    tokio::time::sleep_until(at.unwrap_or_else(Instant::now)).await;
                    retry += 1;
                    *attempts += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, request: Request<'_>, accept: Accept) -> Result<Answer, AgentError> {
        let url = redact_url(request.url);
        let headers = self.headers.as_ref().as_ref().map_err(Clone::clone)?;
        let first = reqwest::Url::parse(request.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| AgentError::Unreachable {
                url: url.clone(),
                detail: "not an http(s) URL".to_owned(),
            })?;
        let deadline = self.request_deadline();
        let mut target = first.clone();
        // Credentials go only to the origin the request was meant for: after a redirect to
        // another origin, none is sent again (reqwest only strips `Authorization` itself, and
        // the shared client follows no redirect at all; see `http::client`).
        let mut credentials = true;
        let mut hops = 0;
        let response = loop {
            let mut builder = self.http.request(request.method.clone(), target.clone());
            if credentials {
                builder = builder.headers(headers.clone());
                if let Auth::Basic { user, password } = &self.endpoint.auth {
                    builder = builder.basic_auth(user, Some(password.expose()));
                }
            }
            for (name, value) in request.headers {
                builder = builder.header(*name, *value);
            }
            if let Some(body) = request.body {
                builder =
                    builder.header(header::CONTENT_TYPE, "application/json").body(body.to_owned());
            }
            let response =
                match tokio::time::timeout_at(deadline, crate::http::send(builder, Peer::Agent))
                    .await
                {
                    Err(_elapsed) => return Err(self.timeout_error(request.url)),
                    Ok(Err(err)) => return Err(self.send_error(&url, &err)),
                    Ok(Ok(response)) => response,
                };
            let Some(next) = redirect_target(&response, &target) else { break response };
            if accept == Accept::AnyStatus {
                // A probe: any answer shows the server is there.
                break response;
            }
            hops += 1;
            let status = response.status().as_u16();
            let same_origin = same_origin(&next, &first);
            let refuse = |why: &str| AgentError::Protocol {
                url: url.clone(),
                detail: format!(
                    "answered HTTP {status} redirecting to {}, which is not followed: {why}",
                    redact_url(next.as_str())
                ),
            };
            if hops > MAX_REDIRECTS {
                return Err(refuse(&format!("more than {MAX_REDIRECTS} redirects in a row")));
            }
            if request.method != Method::GET && request.method != Method::HEAD {
                if !matches!(status, 307 | 308) {
                    return Err(refuse(
                        "a 301, 302 or 303 would turn the message into a GET; point --agent at \
                         the final URL",
                    ));
                }
                if !same_origin {
                    return Err(refuse(
                        "it leads to another origin, which would receive the message and the \
                         credentials; point --agent at the final URL if that server is trusted",
                    ));
                }
            }
            credentials &= same_origin;
            target = next;
        };
        let status = response.status();
        if accept == Accept::AnyStatus || status.is_success() {
            return Ok(Answer { response, url, deadline });
        }
        let err = self.status_error(url, response, deadline).await;
        Err(match err {
            // Say why the credentials were missing where the answer came from.
            AgentError::Http { url, status, snippet } if !credentials => AgentError::Http {
                url,
                status,
                snippet: format!(
                    "{snippet} (after a redirect to {}, another origin, where no credentials \
                     are sent; point --agent at that origin if it is the agent's)",
                    redact_url(target.as_str())
                ),
            },
            other => other,
        })
    }

    /// Maps a failure to send (no response yet) to an error.
    fn send_error(&self, url: &str, err: &reqwest::Error) -> AgentError {
        if err.is_timeout() {
            return self.timeout_error(url);
        }
        let cause = root_cause(err);
        if err.is_connect() {
            AgentError::Unreachable { url: url.to_owned(), detail: cause }
        } else {
            AgentError::Protocol {
                url: url.to_owned(),
                detail: format!("the request failed before an answer arrived: {cause}"),
            }
        }
    }

    /// An [`AgentError::Http`] for a non-2xx answer, quoting a short part of its body.
    async fn status_error(
        &self,
        url: String,
        mut response: Response,
        deadline: Instant,
    ) -> AgentError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(|v| one_line(v, 40));
        let limit = ERROR_BODY_BYTES.min(self.options.max_body_bytes);
        let body = match read_limited(&mut response, limit, deadline).await {
            Ok(body) | Err(ReadError::TooLarge(body)) => body,
            Err(ReadError::Timeout | ReadError::Broken { .. }) => Vec::new(),
        };
        let (mut text, _) = error_message(&body, crate::http::SNIPPET_CHARS);
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let what = if matches!(self.endpoint.auth, Auth::None) {
                "the agent wants credentials and none are configured"
            } else {
                "the agent rejected the credentials"
            };
            text = format!("{what} ({text})");
        }
        if let Some(retry_after) = retry_after {
            text = format!("{text} (retry-after: {retry_after})");
        }
        AgentError::Http { url, status: status.as_u16(), snippet: text }
    }

    /// Reads the whole body, at most `max_body_bytes`, before the request's deadline.
    pub(crate) async fn read_body(&self, answer: &mut Answer) -> Result<Vec<u8>, AgentError> {
        let limit = self.options.max_body_bytes;
        read_limited(&mut answer.response, limit, answer.deadline).await.map_err(|err| match err {
            ReadError::TooLarge(_) => AgentError::BodyTooLarge { url: answer.url.clone(), limit },
            ReadError::Timeout => self.timeout_error(&answer.url),
            ReadError::Broken { read, cause } => broken_body(&answer.url, read, &cause),
        })
    }

    /// Reads and parses a JSON body, checking its `Content-Type` as `rule` says.
    pub(crate) async fn read_json(
        &self,
        mut answer: Answer,
        rule: ContentType,
    ) -> Result<Value, AgentError> {
        let content_type = answer.content_type();
        let body = self.read_body(&mut answer).await?;
        parse_json(&answer.url, &content_type, &body, rule)
    }
}

/// Parses `body` as JSON; errors name the content type or quote the body.
pub(crate) fn parse_json(
    url: &str,
    content_type: &str,
    body: &[u8],
    rule: ContentType,
) -> Result<Value, AgentError> {
    let json_type = content_type.is_empty() || is_json_content_type(content_type);
    if rule == ContentType::Json && !json_type {
        return Err(AgentError::Protocol {
            url: url.to_owned(),
            detail: format!(
                "expected a JSON body but got Content-Type {}: {}",
                one_line(content_type, 80),
                snippet(body)
            ),
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AgentError::Protocol {
            url: url.to_owned(),
            detail: "expected a JSON body but the body is empty".to_owned(),
        });
    }
    serde_json::from_slice(body).map_err(|err| AgentError::Protocol {
        url: url.to_owned(),
        detail: if json_type {
            format!("the body is not valid JSON ({err}): {}", snippet(body))
        } else {
            format!(
                "the body (Content-Type {}) is not valid JSON ({err}): {}",
                one_line(content_type, 80),
                snippet(body)
            )
        },
    })
}

/// `application/json`, `application/a2a+json`, … (parameters such as charset ignored).
pub(crate) fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence.ends_with("+json")
}

/// The error for a body that stopped before its end.
pub(crate) fn broken_body(url: &str, read: usize, cause: &str) -> AgentError {
    AgentError::Protocol {
        url: url.to_owned(),
        detail: format!(
            "the connection closed mid-response after {read} bytes of the body ({cause})"
        ),
    }
}

/// The secret values of `endpoint` worth scrubbing (shorter ones would mangle messages more
/// than they could leak), longest first so that a secret containing another goes first.
fn secret_values(endpoint: &AgentEndpoint) -> Vec<Secret> {
    let mut values: Vec<Secret> = endpoint.headers.iter().map(|(_, v)| v.clone()).collect();
    match &endpoint.auth {
        Auth::None => {}
        Auth::ApiKey { key, .. } => values.push(key.clone()),
        Auth::Bearer(token) => values.push(token.clone()),
        Auth::Basic { password, .. } => values.push(password.clone()),
    }
    values.retain(|v| v.expose().chars().count() >= 4);
    values.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
    values.dedup();
    values
}

/// The credential and extra headers of `endpoint`, marked sensitive so that no debug output
/// shows them. Basic auth is added per request by reqwest. Errors never quote values.
fn credential_headers(endpoint: &AgentEndpoint) -> Result<HeaderMap, AgentError> {
    let mut map = HeaderMap::new();
    let invalid = |what: String| AgentError::Protocol {
        url: redact_url(&endpoint.url),
        detail: format!("cannot send {what}: it is not a valid HTTP header"),
    };
    let mut insert = |name: &str, value: &str| -> Result<(), AgentError> {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("header name {:?}", one_line(name, 60))))?;
        let mut header_value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of header {header_name}")))?;
        header_value.set_sensitive(true);
        map.append(header_name, header_value);
        Ok(())
    };
    for (name, value) in &endpoint.headers {
        insert(name, value.expose())?;
    }
    match &endpoint.auth {
        Auth::None | Auth::Basic { .. } => {}
        Auth::ApiKey { header, key } => insert(header, key.expose())?,
        Auth::Bearer(token) => insert("authorization", &format!("Bearer {}", token.expose()))?,
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("application/json; charset=utf-8"));
        assert!(is_json_content_type("application/a2a+json"));
        assert!(!is_json_content_type("text/html; charset=utf-8"));
        assert!(!is_json_content_type("text/event-stream"));
    }

    #[test]
    fn garbage_json_quotes_a_short_snippet() {
        let body = format!("{{\"result\": {}\u{1}", "x".repeat(500));
        let err = parse_json("http://a", "application/json", body.as_bytes(), ContentType::Json)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not valid JSON"), "{text}");
        assert!(text.len() < 400, "{text}");
        assert!(!text.contains('\u{1}'));
    }

    #[test]
    fn invalid_header_values_are_not_quoted() {
        let endpoint = AgentEndpoint {
            name: "a".into(),
            url: "http://a".into(),
            kind: super::super::AgentKind::A2a,
            auth: Auth::ApiKey {
                header: "x-api-key".into(),
                key: crate::secret::Secret::new("sk-canary\nsecret"),
            },
            headers: vec![],
        };
        let err = credential_headers(&endpoint).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("canary"), "{err:?}");
    }
}
