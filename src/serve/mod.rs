//! `rogue-runner serve`: a read-only web dashboard over the store of one `--cache-dir`, or
//! over a shared PostgreSQL store (`--store`).
//!
//! Pages (rendered on the server by minijinja with HTML autoescaping; charts are inline SVG
//! drawn here; the one stylesheet and script are compiled into the binary):
//! - `/` **Runs**: every recorded run, and trends of pass rate, cost and p50/p95 latency;
//! - `/runs/{id}` **Run**: its scenarios, filtered and paginated on the server, each row
//!   opening its reasons, checks, judge ruling, transcript and timings; the URL carries the
//!   filters, the page and the open row;
//! - `/compare?a=&b=` **Compare**: what `rogue-runner compare` prints, for any two runs;
//! - `/scenario?id=` **Scenario**: one scenario across runs: a pass/fail strip, flakiness,
//!   latency and cost;
//! - `/live` **Live**: the run in progress (or `?run=ID`), updated through server-sent events;
//!   the shards of one partitioned run show as one.
//!
//! Safety: it binds 127.0.0.1 unless told otherwise, and anywhere else it requires a token;
//! it answers GET and HEAD only; a strict Content-Security-Policy allows its own script and
//! stylesheet and nothing else (see [`app`]). The store holds no secret (credentials never
//! reach an outcome), and what it shows is cleaned the way report.html cleans it.
//!
//! While it runs, a small state file in the cache directory ([`STATE_FILE_NAME`]) tells
//! `history`, `compare` and `run` where the dashboard is; it is removed on exit, and a reader
//! checks that the address still answers. With a shared store the file still lives in this
//! machine's `--cache-dir`: only commands on this machine with the same `--cache-dir` hint at
//! this dashboard (the store is shared; where a dashboard runs is not).
//!
//! Layer: above `store` (which it reads) and `report`; below `session` and `cli`.

mod app;
mod charts;
mod live;
mod pages;
pub mod sample;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{Location, StoreError};

pub use app::{CSP, TOKEN_COOKIE, TOKEN_HEADER};

/// The file in `--cache-dir` that says where a running dashboard is.
pub const STATE_FILE_NAME: &str = "dashboard.json";

/// The default address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:8484";

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the state file goes ([`STATE_FILE_NAME`]): `history`, `compare` and `run` with
    /// the same `--cache-dir` find the dashboard through it, whichever store it reads.
    pub cache_dir: PathBuf,
    /// The store it reads: the SQLite file in `cache_dir`, or a shared PostgreSQL store.
    pub store: Location,
    pub bind: SocketAddr,
    /// Required when binding a non-loopback address; generated when `None` there.
    pub token: Option<String>,
}

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {error}; choose another --bind address or port")]
    Bind { addr: SocketAddr, error: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the dashboard's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("--token must be at least 16 characters of letters, digits, `-` or `_`")]
    WeakToken,
}

/// What the state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardState {
    /// `http://127.0.0.1:8484` (never with the token).
    pub url: String,
    pub pid: u32,
    /// Where to check that it still answers.
    pub addr: SocketAddr,
}

/// A dashboard serving on its own thread. Dropping it stops the server and removes the state
/// file.
#[derive(Debug)]
pub struct Running {
    /// `http://HOST:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    /// The token a non-loopback dashboard requires (`None` on loopback without `--token`).
    pub token: Option<String>,
    /// Whether the token was generated (and so must be printed once).
    pub token_generated: bool,
    state_file: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The URL to open, with the token for a first visit when one is required.
    pub fn url_with_token(&self, path: &str) -> String {
        match &self.token {
            Some(token) => format!("{}{path}{}token={token}", self.url, sep(path)),
            None => format!("{}{path}", self.url),
        }
    }

    /// Serves until Ctrl-C or SIGTERM, then stops.
    pub fn wait_for_signal(mut self) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        runtime.block_on(stop_signal());
        self.stop();
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = fs_err::remove_file(&self.state_file);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sep(path: &str) -> &'static str {
    if path.contains('?') { "&" } else { "?" }
}

/// Starts the dashboard on its own thread: the address is bound (and its errors reported)
/// before this returns.
pub fn start(options: ServeOptions) -> Result<Running, ServeError> {
    let loopback = is_loopback(options.bind.ip());
    let (token, token_generated) = token_policy(options.bind.ip(), options.token)?;
    // Creates the store if there is none yet: a dashboard opened before the first run shows
    // that run live.
    let store = crate::store::Store::open_at(&options.store)?;
    let listener = std::net::TcpListener::bind(options.bind)
        .map_err(|error| ServeError::Bind { addr: options.bind, error })?;
    let addr =
        listener.local_addr().map_err(|error| ServeError::Bind { addr: options.bind, error })?;
    listener.set_nonblocking(true).map_err(|error| ServeError::Bind { addr, error })?;
    let url = format!("http://{}", display_addr(addr));
    let state = app::AppState::new(store, options.store.clone(), token.clone(), loopback);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dashboard")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    // Before the URL is given out: then even the first visit finds the history counted.
    runtime.block_on(pages::warm_up(std::sync::Arc::clone(&state)));
    let router = app::router(state);
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .map_err(|error| ServeError::Bind { addr, error })?
    };
    let thread = std::thread::Builder::new()
        .name("dashboard".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
            // Open event streams would hold a graceful shutdown forever.
            runtime.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(ServeError::Runtime)?;
    let state_file = options.cache_dir.join(STATE_FILE_NAME);
    let record = DashboardState { url: url.clone(), pid: std::process::id(), addr };
    if let Ok(json) = serde_json::to_string_pretty(&record) {
        // Only a convenience for other commands: a dashboard that cannot write it still serves.
        // A shared store creates nothing in --cache-dir, so the directory may be new.
        let _ = fs_err::create_dir_all(&options.cache_dir);
        let _ = fs_err::write(&state_file, json);
    }
    Ok(Running {
        url,
        addr,
        token,
        token_generated,
        state_file,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
    })
}

/// The dashboard serving `cache_dir`, when one is running: its state file names an address
/// that still accepts connections.
pub fn running_dashboard(cache_dir: &Path) -> Option<DashboardState> {
    let text = fs_err::read_to_string(cache_dir.join(STATE_FILE_NAME)).ok()?;
    let state: DashboardState = serde_json::from_str(&text).ok()?;
    let mut probe = state.addr;
    if probe.ip().is_unspecified() {
        probe.set_ip(match probe.ip() {
            IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(_) => IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        });
    }
    TcpStream::connect_timeout(&probe, Duration::from_millis(300)).ok()?;
    Some(state)
}

/// The token a dashboard on `ip` requires, and whether it was generated: `given` when there
/// is one (if strong enough), else a random one anywhere but on loopback.
fn token_policy(ip: IpAddr, given: Option<String>) -> Result<(Option<String>, bool), ServeError> {
    match given {
        Some(token) if !strong(&token) => Err(ServeError::WeakToken),
        Some(token) => Ok((Some(token), false)),
        None if is_loopback(ip) => Ok((None, false)),
        None => Ok((Some(uuid::Uuid::new_v4().simple().to_string()), true)),
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// A token worth requiring: long, and safe in a URL and a cookie as it is.
fn strong(token: &str) -> bool {
    token.len() >= 16 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn display_addr(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("{}:{}", host_for_unspecified(ip), addr.port()),
        _ => addr.to_string(),
    }
}

/// `0.0.0.0` is no address to open; the machine's loopback reaches it from here.
fn host_for_unspecified(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "127.0.0.1",
        IpAddr::V6(_) => "[::1]",
    }
}

/// Ctrl-C everywhere; SIGTERM too on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Opens `url` in the desktop's default browser.
pub fn open_browser(url: &str) -> std::io::Result<()> {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

#[cfg(test)]
mod tests;
