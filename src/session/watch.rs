//! What `watch` waits for: a debounced change to a scenario file (or the config file) under
//! the watched paths, or a stop signal. Both arrive on one channel, so the command's loop is
//! a plain blocking `recv` between runs, and each run keeps its own runtime.
//!
//! The signal listener is installed before [`Watcher::start`] returns and stays for the whole
//! watch: once tokio handles SIGINT the default action (terminate) is gone for good, so a
//! Ctrl-C between two runs must reach someone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio_util::sync::CancellationToken;

use crate::engine::StopSignal;

/// How long a burst of file events is let settle before a rerun: an editor's save is often a
/// write, a rename and a chmod.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// What wakes `watch` up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// These files changed (written, created, removed or renamed), canonical paths.
    Changed(BTreeSet<PathBuf>),
    /// The file watcher reported a problem (events may have been lost).
    Error(String),
    /// A stop signal arrived.
    Stop(StopSignal),
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {}: {error}", .path.display())]
    Path { path: PathBuf, error: String },
    #[error("cannot listen for Ctrl-C: {0}")]
    Signals(String),
}

/// The watched paths and the channel their changes arrive on.
#[derive(Debug)]
pub struct Watcher {
    /// Kept alive: dropping it stops the watching.
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: mpsc::Receiver<WatchEvent>,
    stop_requested: StopRequest,
    config_file: PathBuf,
}

/// The first stop signal that arrived while watching, for the loop and for the run in
/// progress ([`super::Session::run_until`]).
#[derive(Debug, Clone, Default)]
pub struct StopRequest {
    first: Arc<Mutex<Option<StopSignal>>>,
    token: CancellationToken,
}

impl StopRequest {
    fn set(&self, signal: StopSignal) {
        if let Ok(mut first) = self.first.lock() {
            first.get_or_insert(signal);
        }
        self.token.cancel();
    }

    /// The signal, once one arrived.
    pub fn get(&self) -> Option<StopSignal> {
        self.first.lock().ok().and_then(|first| *first)
    }

    /// Waits for a signal.
    pub async fn stopped(&self) -> StopSignal {
        self.token.cancelled().await;
        self.get().unwrap_or(StopSignal::Interrupt)
    }
}

/// Which changed paths matter: scenario files under a watched directory, a watched file
/// itself, the config file; never anything under `ignored` (the reports and the store a run
/// writes, which may sit under a watched directory).
#[derive(Debug, Clone)]
struct Relevant {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    config_file: PathBuf,
    ignored: Vec<PathBuf>,
}

impl Relevant {
    fn matches(&self, path: &Path) -> bool {
        if self.ignored.iter().any(|dir| path.starts_with(dir)) {
            return false;
        }
        path == self.config_file
            || self.files.iter().any(|f| f == path)
            || (crate::scenario::is_scenario_file(path)
                && self.dirs.iter().any(|dir| path.starts_with(dir)))
    }
}

impl Watcher {
    /// Watches `paths` (directories recursively, files by their own name), the config file
    /// `config_file` (whether it exists yet or not), and listens for stop signals. Paths
    /// under `ignored` never count as changes.
    pub fn start(
        paths: &[PathBuf],
        config_file: &Path,
        ignored: &[PathBuf],
    ) -> Result<Watcher, WatchError> {
        let (tx, events) = mpsc::channel();
        let stop_requested = StopRequest::default();
        listen_for_stop(tx.clone(), stop_requested.clone())?;

        let config_file = absolute(config_file);
        let mut relevant = Relevant {
            dirs: Vec::new(),
            files: Vec::new(),
            config_file: config_file.clone(),
            ignored: ignored.iter().map(|p| absolute(p)).collect(),
        };
        // (directory, mode) pairs; a file is watched through its directory, because an
        // editor that saves by renaming a new file over it replaces what a watch on the
        // file itself would follow.
        let mut watches: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        for path in paths {
            let canonical = fs_err::canonicalize(path)
                .map_err(|e| WatchError::Path { path: path.clone(), error: e.to_string() })?;
            if canonical.is_dir() {
                relevant.dirs.push(canonical.clone());
                watches.push((canonical, RecursiveMode::Recursive));
            } else {
                let parent =
                    canonical.parent().map_or_else(|| canonical.clone(), Path::to_path_buf);
                relevant.files.push(canonical);
                watches.push((parent, RecursiveMode::NonRecursive));
            }
        }
        if let Some(parent) = config_file.parent().filter(|p| p.is_dir()) {
            watches.push((parent.to_path_buf(), RecursiveMode::NonRecursive));
        }

        let handler = {
            let relevant = relevant.clone();
            move |result: DebounceEventResult| {
                let event = match result {
                    Ok(events) => {
                        let changed: BTreeSet<PathBuf> = events
                            .iter()
                            // Reading a file is not changing it: a run loads every file.
                            .filter(|e| !matches!(e.kind, EventKind::Access(_)))
                            .flat_map(|e| e.paths.iter())
                            .filter(|p| relevant.matches(p))
                            .cloned()
                            .collect();
                        if changed.is_empty() {
                            return;
                        }
                        WatchEvent::Changed(changed)
                    }
                    Err(errors) => WatchEvent::Error(
                        errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                    ),
                };
                let _ = tx.send(event);
            }
        };
        let mut debouncer =
            new_debouncer(DEBOUNCE, None, handler).map_err(|e| WatchError::Path {
                path: paths.first().cloned().unwrap_or_default(),
                error: e.to_string(),
            })?;
        // A directory given twice (or a file's directory that is also watched) is watched
        // once, recursively when either asks for it.
        watches.sort_by_key(|(dir, mode)| (dir.clone(), *mode != RecursiveMode::Recursive));
        watches.dedup_by(|later, first| later.0 == first.0);
        for (dir, mode) in &watches {
            debouncer
                .watch(dir, *mode)
                .map_err(|e| WatchError::Path { path: dir.clone(), error: e.to_string() })?;
        }
        Ok(Watcher { _debouncer: debouncer, events, stop_requested, config_file })
    }

    /// The next change or stop signal; changes that arrived together are merged.
    pub fn next(&self) -> WatchEvent {
        let Ok(first) = self.events.recv() else {
            // Both senders gone: nothing can wake us any more.
            return WatchEvent::Stop(StopSignal::Interrupt);
        };
        let WatchEvent::Changed(mut changed) = first else { return first };
        while let Ok(more) = self.events.try_recv() {
            match more {
                WatchEvent::Changed(paths) => changed.extend(paths),
                other => return other,
            }
        }
        WatchEvent::Changed(changed)
    }

    /// The stop signal that arrived, if one did: a run's own listener hears only the
    /// signals sent while it runs, so one sent while a round loads its files, or just before
    /// the run listens, is found here.
    pub fn stop_requested(&self) -> Option<StopSignal> {
        self.stop_requested.get()
    }

    /// What a run started by `watch` listens to besides its own signal handlers.
    pub fn stop(&self) -> &StopRequest {
        &self.stop_requested
    }

    /// The config file, as changed paths name it.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }
}

/// `path` made absolute and, where it exists, canonical, as the watcher reports paths.
fn absolute(path: &Path) -> PathBuf {
    fs_err::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Starts a thread that turns SIGINT (and SIGTERM, SIGHUP on Unix) into [`WatchEvent::Stop`];
/// returns once the handlers are installed.
fn listen_for_stop(
    tx: mpsc::Sender<WatchEvent>,
    stop_requested: StopRequest,
) -> Result<(), WatchError> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("watch-signals".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut signals = match Signals::install() {
                    Ok(signals) => signals,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Some(signal) = signals.next().await {
                    stop_requested.set(signal);
                    if tx.send(WatchEvent::Stop(signal)).is_err() {
                        return;
                    }
                }
            });
        })
        .map_err(|e| WatchError::Signals(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(WatchError::Signals(e)),
        Err(_) => Err(WatchError::Signals("the listener thread ended".to_owned())),
    }
}

/// The stop signals, installed at once (a `tokio::signal::ctrl_c()` future would install its
/// handler only when first polled).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(windows)]
        Ok(Signals { ctrl_c: tokio::signal::windows::ctrl_c()? })
    }

    async fn next(&mut self) -> Option<StopSignal> {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => Some(StopSignal::Interrupt),
                Some(()) = self.terminate.recv() => Some(StopSignal::Terminate),
                Some(()) = self.hangup.recv() => Some(StopSignal::Hangup),
                else => None,
            }
        }
        #[cfg(windows)]
        self.ctrl_c.recv().await.map(|()| StopSignal::Interrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scenario_files_under_the_watched_paths_and_the_config_file_count() {
        let relevant = Relevant {
            dirs: vec![PathBuf::from("/w/scenarios")],
            files: vec![PathBuf::from("/w/one/notes.txt")],
            config_file: PathBuf::from("/w/rogue-runner.toml"),
            ignored: vec![PathBuf::from("/w/scenarios/reports")],
        };
        assert!(relevant.matches(Path::new("/w/scenarios/a.yaml")));
        assert!(relevant.matches(Path::new("/w/scenarios/deep/b.JSON")));
        assert!(relevant.matches(Path::new("/w/one/notes.txt")), "a file named is watched");
        assert!(relevant.matches(Path::new("/w/rogue-runner.toml")));
        // Editor droppings, other files beside a watched file, and what a run writes.
        assert!(!relevant.matches(Path::new("/w/scenarios/.a.yaml.swp")));
        assert!(!relevant.matches(Path::new("/w/scenarios/4913")));
        assert!(!relevant.matches(Path::new("/w/one/other.yaml")));
        assert!(!relevant.matches(Path::new("/w/scenarios/reports/results.json")));
        assert!(!relevant.matches(Path::new("/w/other/a.yaml")));
    }
}
