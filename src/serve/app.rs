//! The router, the shared state, and the rules every request passes: GET and HEAD only, the
//! token (when one is required), the Host header on loopback, and the security headers on
//! every answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;

use crate::store::{Location, Store, StoreError};

/// The Content-Security-Policy of every answer: the dashboard's own script and stylesheet,
/// its own event stream, and nothing else (no inline script or style, no frame, no other
/// origin).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// The cookie that carries the token after a first `?token=` visit.
pub const TOKEN_COOKIE: &str = "rogue_dashboard_token";
/// The header a script or `curl` may send the token in instead.
pub const TOKEN_HEADER: &str = "x-rogue-token";

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// Stats of finished runs (they never change), by run id.
pub(super) type RunStatsCache = Mutex<HashMap<String, super::pages::RunStats>>;

/// What every handler shares.
#[derive(Debug)]
pub(super) struct AppState {
    /// Idle connections; a request takes one or opens another.
    stores: Mutex<Vec<Store>>,
    /// Where another connection opens.
    location: Location,
    token: Option<String>,
    /// Bound to loopback: the Host header must name this machine (DNS rebinding).
    loopback: bool,
    pub(super) templates: Environment<'static>,
    pub(super) run_stats: RunStatsCache,
    /// Finished runs (they never change), by id: the Runs page counts no scenario twice.
    pub(super) finished_runs: Mutex<HashMap<String, crate::store::RunRecord>>,
}

impl AppState {
    pub(super) fn new(
        store: Store,
        location: Location,
        token: Option<String>,
        loopback: bool,
    ) -> Arc<Self> {
        Arc::new(AppState {
            stores: Mutex::new(vec![store]),
            location,
            token,
            loopback,
            templates: templates(),
            run_stats: Mutex::default(),
            finished_runs: Mutex::default(),
        })
    }

    /// Runs `body` with a store connection, off the async threads.
    pub(super) async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        body: impl FnOnce(&AppState, &Store) -> Result<T, PageError> + Send + 'static,
    ) -> Result<T, PageError> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let taken = state.stores.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let store = match taken {
                Some(store) => store,
                None => Store::open_at(&state.location).map_err(PageError::Store)?,
            };
            let result = body(&state, &store);
            let mut idle = state.stores.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < 8 {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
    }

    /// Renders template `name` with `context`.
    pub(super) fn render(
        &self,
        name: &str,
        context: impl serde::Serialize,
    ) -> Result<String, PageError> {
        let template =
            self.templates.get_template(name).map_err(|e| PageError::Internal(format!("{e:#}")))?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(&context)))
            .map_err(|e| PageError::Internal(format!("{e:#}")))
    }
}

/// The templates, compiled in; autoescaping follows from the `.html` names.
fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html.j2")),
        ("runs.html", include_str!("templates/runs.html.j2")),
        ("run.html", include_str!("templates/run.html.j2")),
        ("compare.html", include_str!("templates/compare.html.j2")),
        ("scenario.html", include_str!("templates/scenario.html.j2")),
        ("live.html", include_str!("templates/live.html.j2")),
        ("message.html", include_str!("templates/message.html.j2")),
        ("chart.html", include_str!("templates/chart.html.j2")),
    ] {
        // The templates are part of the binary; a broken one fails the tests.
        if let Err(error) = env.add_template(name, source) {
            debug_assert!(false, "template {name}: {error:#}");
        }
    }
    env
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(super) enum PageError {
    NotFound(String),
    BadRequest(String),
    Store(StoreError),
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownRun(_) | StoreError::AmbiguousRun { .. } => {
                PageError::NotFound(error.to_string())
            }
            other => PageError::Store(other),
        }
    }
}

impl PageError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Store(_) | PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(super) fn message(&self) -> String {
        match self {
            PageError::NotFound(m) | PageError::BadRequest(m) | PageError::Internal(m) => m.clone(),
            PageError::Store(e) => e.to_string(),
        }
    }
}

pub(super) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(super::pages::runs))
        .route("/runs/{id}", get(super::pages::run))
        .route("/compare", get(super::pages::compare))
        .route("/scenario", get(super::pages::scenario))
        .route("/live", get(super::live::page))
        .route("/live/events", get(super::live::events))
        .route("/assets/dashboard.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route(
            "/assets/dashboard.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        // Browsers ask for it on every page; there is none.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn not_found(State(state): State<Arc<AppState>>) -> Response {
    super::pages::error_page(&state, &PageError::NotFound("no such page".to_owned()))
}

/// Every request: the method, the Host, the token; every answer: the security headers.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let mut response = check(&state, request, next).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn check(state: &Arc<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response =
            plain(StatusCode::METHOD_NOT_ALLOWED, "the dashboard is read-only: GET only\n");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if state.loopback && state.token.is_none() && !local_host(request.headers()) {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this dashboard answers only to localhost, 127.0.0.1 or [::1]\n",
        );
    }
    let Some(token) = &state.token else { return next.run(request).await };
    if let Some(given) = query_token(request.uri().query()) {
        if !same(given.as_bytes(), token.as_bytes()) {
            return plain(StatusCode::UNAUTHORIZED, "wrong token: use the URL `serve` printed\n");
        }
        // Swap the token in the URL for a cookie, so that it is not left in the address bar
        // or the history.
        let rest = without_token(request.uri().query());
        let location = match rest {
            Some(q) => format!("{}?{q}", request.uri().path()),
            None => request.uri().path().to_owned(),
        };
        let mut response = plain(StatusCode::SEE_OTHER, "");
        let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let (Ok(location), Ok(cookie)) =
            (HeaderValue::from_str(&location), HeaderValue::from_str(&cookie))
        {
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    if presented(request.headers()).is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    plain(
        StatusCode::UNAUTHORIZED,
        "this dashboard needs its token: open the URL `serve` printed (…?token=…), or send the \
         x-rogue-token header\n",
    )
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The token of the `x-rogue-token` header, an `Authorization: Bearer` header, or the cookie.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(value.trim().to_owned());
    }
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = value.strip_prefix("Bearer ") {
            return Some(token.trim().to_owned());
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn without_token(query: Option<&str>) -> Option<String> {
    let kept: Vec<(String, String)> = form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k != "token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return None;
    }
    Some(form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The Host header names this machine: a page of another site that a rebinding DNS name
/// points here cannot read the dashboard.
fn local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.0 without Host: not a browser.
        return true;
    };
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h).to_owned()
    };
    matches!(name.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "[::1]")
}
