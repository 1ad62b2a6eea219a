//! The store's two hooks into a run: [`RunCache`], the engine's [`ResultCache`] (one batched
//! lookup before scheduling), and [`Recorder`], a [`Reporter`] that writes the history and
//! the cache from the event stream.
//!
//! Recording failures never fail a run: the recorder keeps going after an error, counts what
//! it could not write, and reports it once, as a report error, when the run ends.
//!
//! The outcomes conversations produced are written as they arrive: those of one batch (the
//! report thread lets events gather for a few milliseconds) in one transaction — group
//! commit — before any later reporter sees them.
//! Outcomes that came from the cache arrive in a burst, without a conversation in between;
//! their history rows are written together (up to [`CACHED_BATCH`] at once, and before any
//! other event), which makes a fully cached rerun several times cheaper to record. A run
//! killed inside such a burst can miss history rows of cached outcomes; their results are
//! in the cache already.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use super::cache_key::AgentParts;
use super::{
    CacheKey, KeyContext, KeyParts, OutcomeWrite, Pinning, RunStart, Store, StoreError,
    agent_parts, key_parts_with, within_ttl,
};
use crate::engine::{CacheHit, CacheQuery, ResultCache};
use crate::judge::VerdictCache;
use crate::model::{CacheKind, JudgeRuling, Outcome, RunEvent};
use crate::report::{ReportError, Reporter};

/// Keys of the scenarios the cache missed, by scenario id: the recorder stores their outcomes
/// under these keys.
type PendingKeys = Mutex<HashMap<String, CacheKey>>;

/// Cached outcomes whose history rows are written in one transaction.
pub const CACHED_BATCH: usize = 512;

/// The default of `--cache-ttl`: how long a cached outcome or verdict is reused.
pub const DEFAULT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// One store connection shared by a run's cache and its recorder, so a run opens the SQLite
/// file once; writes are short transactions, so the lock is never held long.
pub type SharedStore = Arc<Mutex<Store>>;

/// The result cache of one run (`--use-cache`): whole outcomes for pinned agents, and the
/// judge's verdicts ([`VerdictCache`]) for every agent.
#[derive(Debug)]
pub struct RunCache {
    store: SharedStore,
    context: KeyContext,
    pinning: Pinning,
    ttl: std::time::Duration,
    pending: Arc<PendingKeys>,
    error: Mutex<Option<StoreError>>,
}

impl RunCache {
    /// The connection this cache reads through, for the run's [`Recorder`]: one open file.
    pub fn shared_store(&self) -> SharedStore {
        Arc::clone(&self.store)
    }

    /// With `pinning` saying which agents' outcomes may be reused, and entries reused for
    /// `ttl` after they were stored.
    pub fn new(
        store: Store,
        context: KeyContext,
        pinning: Pinning,
        ttl: std::time::Duration,
    ) -> Self {
        RunCache {
            store: Arc::new(Mutex::new(store)),
            context,
            pinning,
            ttl,
            pending: Arc::default(),
            error: Mutex::default(),
        }
    }

    fn note_error(&self, error: StoreError) {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
    }

    /// The lookup's error, if it failed (every scenario then ran).
    pub fn take_error(&self) -> Option<StoreError> {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl ResultCache for RunCache {
    fn lookup(&self, queries: &[CacheQuery<'_>]) -> Vec<Option<CacheHit>> {
        // The agent's parts of the key, once per agent.
        let mut agents: HashMap<(&str, &str), (AgentParts, bool)> = HashMap::new();
        for q in queries {
            agents.entry((q.agent.name.as_str(), q.agent.url.as_str())).or_insert_with(|| {
                let identity = self.pinning.identity(&q.agent.name, q.card);
                let pinned = identity.is_pinned();
                (agent_parts(&q.agent.url, q.card, &identity, &self.context), pinned)
            });
        }
        let keyed: Vec<(KeyParts, CacheKey, bool)> = queries
            .par_iter()
            .map(|q| {
                let (agent, pinned) = &agents[&(q.agent.name.as_str(), q.agent.url.as_str())];
                let parts = key_parts_with(q.scenario, agent);
                let key = parts.bare_key();
                (parts, key, *pinned)
            })
            .collect();
        // Only pinned agents' entries are looked up: an unpinned agent is always called.
        let keys: Vec<CacheKey> =
            keyed.iter().filter(|(_, _, pinned)| *pinned).map(|(_, key, _)| key.clone()).collect();
        let found = if keys.is_empty() {
            Ok(Vec::new())
        } else {
            let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            store.cache_lookup_many(&keys)
        };
        let mut found = found
            .unwrap_or_else(|error| {
                self.note_error(error);
                vec![None; keys.len()]
            })
            .into_iter();
        let now = super::now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        queries
            .iter()
            .zip(keyed)
            .map(|(query, (parts, key, pinned))| {
                let entry = if pinned { found.next().flatten() } else { None };
                match entry.filter(|e| within_ttl(e.created_ms, self.ttl, now)) {
                    Some(entry) => {
                        // The key covers the scenario's content, not where it is written nor
                        // the name this run gives its agent.
                        let mut outcome = entry.outcome;
                        let source = &query.scenario.source;
                        outcome.source =
                            format!("{}:{}:{}", source.file.display(), source.line, source.col);
                        outcome.agent.clone_from(&query.agent.name);
                        outcome.cached = true;
                        outcome.cache = Some(CacheKind::Outcome);
                        outcome.duration_ms = 0;
                        // Saved: what the reused outcome actually cost when it ran, as
                        // recorded with it (its priced LLM calls; $0 when it made none) —
                        // never an estimate.
                        let saved_usd = outcome.cost_usd.unwrap_or(0.0);
                        outcome.cost_usd = outcome.cost_usd.map(|_| 0.0);
                        Some(CacheHit { outcome, saved_usd })
                    }
                    None => {
                        // Stored with its parts, for `cache why`.
                        debug_assert_eq!(parts.bare_key(), key);
                        pending.insert(query.scenario.id.clone(), parts.key());
                        None
                    }
                }
            })
            .collect()
    }
}

impl VerdictCache for RunCache {
    fn get(&self, key: &str) -> Option<JudgeRuling> {
        let found = self.store.lock().unwrap_or_else(PoisonError::into_inner).judge_lookup(key);
        match found {
            Ok(entry) => entry
                .filter(|e| within_ttl(e.created_ms, self.ttl, super::now_ms()))
                .map(|e| e.ruling),
            Err(error) => {
                self.note_error(error);
                None
            }
        }
    }

    fn put(&self, key: &str, scenario_id: &str, ruling: &JudgeRuling, cost_usd: Option<f64>) {
        let stored = self.store.lock().unwrap_or_else(PoisonError::into_inner).judge_put(
            key,
            scenario_id,
            ruling,
            cost_usd,
        );
        if let Err(error) = stored {
            self.note_error(error);
        }
    }
}

/// What the recorder knows of a run beyond its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    pub git_commit: Option<String>,
    pub config_digest: String,
}

/// Records the run in the history and, with a [`RunCache`], every cache miss's outcome in
/// the cache. The finished outcomes of each batch of events are written in one transaction
/// as they arrive, so a killed run keeps every result that finished. Put it first in the
/// report set: then whatever `events.jsonl` shows finished is already in the store.
#[derive(Debug)]
pub struct Recorder {
    store: SharedStore,
    info: RunInfo,
    pending: Option<Arc<PendingKeys>>,
    start: Option<RunStart>,
    started: bool,
    /// Cached outcomes not yet written to the history.
    cached: Vec<Arc<Outcome>>,
    failed_writes: usize,
    first_error: Option<String>,
    reported: bool,
    /// The tags of the planned scenarios that have any, recorded when the run starts.
    tags: Vec<(String, Vec<String>)>,
    /// Finding the commit, when it is still under way: joined when the run starts.
    git_commit: Option<std::thread::JoinHandle<Option<String>>>,
}

impl Recorder {
    pub fn new(store: Store, info: RunInfo) -> Self {
        Recorder::on_shared(Arc::new(Mutex::new(store)), info)
    }

    /// A recorder writing through `store`, a connection the run shares (see
    /// [`RunCache::shared_store`]).
    pub fn on_shared(store: SharedStore, info: RunInfo) -> Self {
        Recorder {
            store,
            info,
            pending: None,
            start: None,
            started: false,
            cached: Vec::new(),
            failed_writes: 0,
            first_error: None,
            reported: false,
            tags: Vec::new(),
            git_commit: None,
        }
    }

    /// The commit the run is recorded with is what `finding` finds (a thread started before
    /// the run, so the run does not wait for `git`); it replaces [`RunInfo::git_commit`].
    #[must_use]
    pub fn with_git_commit(
        mut self,
        finding: Option<std::thread::JoinHandle<Option<String>>>,
    ) -> Self {
        self.git_commit = finding;
        self
    }

    /// Also record the tags of the planned scenarios (`(id, tags)`), for the dashboard's
    /// filters.
    #[must_use]
    pub fn with_tags(mut self, tags: Vec<(String, Vec<String>)>) -> Self {
        self.tags = tags;
        self
    }

    /// Also store the outcomes of `cache`'s misses in the cache.
    #[must_use]
    pub fn with_cache(mut self, cache: &RunCache) -> Self {
        self.pending = Some(Arc::clone(&cache.pending));
        self
    }

    fn note(&mut self, result: Result<(), StoreError>) {
        if let Err(error) = result {
            self.failed_writes += 1;
            self.first_error.get_or_insert_with(|| error.to_string());
        }
    }

    /// Records the start if that has not worked yet (it is retried before each outcome).
    fn ensure_started(&mut self) {
        if self.started {
            return;
        }
        if let Some(start) = &self.start {
            let result =
                self.store.lock().unwrap_or_else(PoisonError::into_inner).record_run_started(start);
            self.started = result.is_ok();
            self.note(result);
        }
    }

    /// Writes the outcomes conversations produced (`fresh`, in order) in one transaction,
    /// each with its cache entry when the cache missed it. Should that fail, each is tried on
    /// its own, so one bad outcome does not lose the others.
    fn record_fresh(&mut self, fresh: &[&Outcome]) {
        if fresh.is_empty() {
            return;
        }
        self.flush_cached();
        let Some(run_id) = self.start.as_ref().map(|s| s.run_id.clone()) else { return };
        let keys: Vec<Option<CacheKey>> = match &self.pending {
            Some(pending) => {
                let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
                fresh.iter().map(|outcome| pending.remove(&outcome.id)).collect()
            }
            None => vec![None; fresh.len()],
        };
        // The cache keeps the outcome's actual cost, never the file's `cost_estimate`.
        let batch: Vec<OutcomeWrite<'_>> = fresh
            .iter()
            .zip(&keys)
            .map(|(outcome, key)| (*outcome, key.as_ref().map(|key| (key, outcome.cost_usd))))
            .collect();
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let results = match store.record_outcome_batch(&run_id, &batch) {
            Ok(()) => vec![Ok(())],
            Err(_) if batch.len() > 1 => {
                batch.iter().map(|write| store.record_outcome_batch(&run_id, &[*write])).collect()
            }
            Err(error) => vec![Err(error)],
        };
        drop(store);
        for result in results {
            self.note(result);
        }
    }

    /// Takes a batch of events: the outcomes conversations produced in it are written
    /// together when the batch ends, or the run starts, stops or ends inside it.
    fn take(&mut self, events: &[RunEvent]) -> Result<(), ReportError> {
        let mut fresh: Vec<&Outcome> = Vec::new();
        for event in events {
            match event {
                RunEvent::ScenarioFinished { outcome } if outcome.cached => {
                    self.cached.push(Arc::clone(outcome));
                    if self.cached.len() >= CACHED_BATCH {
                        self.flush_cached();
                    }
                }
                // Written together when the batch ends (`record_fresh` writes the pending
                // cached outcomes' rows first).
                RunEvent::ScenarioFinished { outcome } => fresh.push(outcome),
                // A run's start and end keep their order with its outcomes; scenarios that
                // start between two that finish (a freed slot refilled) need not split the
                // write.
                other @ (RunEvent::RunStarted { .. }
                | RunEvent::RunFinished { .. }
                | RunEvent::RunCancelled { .. }) => {
                    self.record_fresh(&std::mem::take(&mut fresh));
                    self.on_other(other)?;
                }
                other => self.on_other(other)?,
            }
        }
        self.record_fresh(&fresh);
        Ok(())
    }

    /// Writes the history rows of the cached outcomes seen so far.
    fn flush_cached(&mut self) {
        self.ensure_started();
        if self.cached.is_empty() {
            return;
        }
        let Some(run_id) = self.start.as_ref().map(|s| s.run_id.clone()) else { return };
        let cached = std::mem::take(&mut self.cached);
        let result = self
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record_outcomes(&run_id, cached.iter().map(|outcome| &**outcome));
        self.note(result);
    }

    /// The error to report once, if any write failed.
    fn report(&mut self) -> Result<(), ReportError> {
        if self.reported || self.failed_writes == 0 {
            return Ok(());
        }
        self.reported = true;
        Err(ReportError::Store {
            failed: self.failed_writes,
            message: self.first_error.clone().unwrap_or_default(),
        })
    }
}

impl Reporter for Recorder {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        self.take(std::slice::from_ref(event))
    }

    fn on_events(&mut self, events: &[RunEvent]) -> Result<(), ReportError> {
        self.take(events)
    }

    fn flush_partial(&mut self) -> Result<(), ReportError> {
        self.flush_cached();
        self.report()
    }
}

impl Recorder {
    /// Every event but a finished scenario.
    fn on_other(&mut self, event: &RunEvent) -> Result<(), ReportError> {
        match event {
            RunEvent::RunStarted { run_id, started_at, total, partition, .. } => {
                if let Some(finding) = self.git_commit.take() {
                    self.info.git_commit = finding.join().ok().flatten();
                }
                self.start = Some(RunStart {
                    run_id: run_id.clone(),
                    started_at: started_at.clone(),
                    planned: *total,
                    git_commit: self.info.git_commit.clone(),
                    config_digest: self.info.config_digest.clone(),
                    partition: partition.as_ref().map(|p| format!("{}/{}", p.shard, p.of)),
                    selection_digest: partition.as_ref().and_then(|p| p.selection_digest.clone()),
                });
                self.started = false;
                self.ensure_started();
                if self.started && !self.tags.is_empty() {
                    let tags = std::mem::take(&mut self.tags);
                    let result =
                        self.store.lock().unwrap_or_else(PoisonError::into_inner).record_run_tags(
                            run_id,
                            tags.iter().map(|(id, tags)| (id.as_str(), tags.as_slice())),
                        );
                    self.note(result);
                }
            }
            RunEvent::ScenarioFinished { .. } => {}
            RunEvent::RunFinished { summary } => {
                self.flush_cached();
                let result = self
                    .store
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .finish_run(summary)
                    .map(|_| ());
                self.note(result);
                return self.report();
            }
            RunEvent::AgentChecked { .. }
            | RunEvent::ScenarioStarted { .. }
            | RunEvent::ScenarioWaiting { .. }
            | RunEvent::RunCancelled { .. } => self.flush_cached(),
        }
        Ok(())
    }
}
