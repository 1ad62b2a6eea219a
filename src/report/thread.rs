//! [`ReportThread`]: the report set on a thread of its own, so the engine never waits for a
//! reporter.
//!
//! The engine's dispatch loop hands each event over and goes straight back to filling slots.
//! Before, it called every reporter itself, so at `--parallel 500` a burst of finished
//! scenarios held the next starts until each had been recorded (one store transaction each)
//! and written to `events.jsonl`: recording 2,000 outcomes added a fifth to the run. Now the
//! events that arrive while the reporters are busy are taken together as one batch
//! ([`ReportSet::on_events`]): the store's recorder writes their outcomes in one transaction
//! before any other reporter sees them, so what `events.jsonl` shows finished is still
//! recorded already, and a runner killed with SIGKILL loses only what had not finished.
//! The thread lets a batch gather for a few milliseconds ([`GATHER`]), so that a burst of
//! outcomes is one write, not one per outcome.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{ReportError, ReportSet};
use crate::model::RunEvent;

/// How long the thread lets events gather after the first of a batch. Outcomes finish one by
/// one, a fraction of a millisecond apart at `--parallel 500`: handed over as they come, most
/// batches would hold one outcome, each its own statement (2,000 of them cost PostgreSQL a
/// quarter of a second of CPU, measured). Gathered for 5 ms, 2,000 outcomes took 13
/// statements. Nothing waits for it but the reporters: the engine has moved on, and the end
/// of the run is handed over at once.
const GATHER: Duration = Duration::from_millis(5);

/// A [`ReportSet`] fed through a queue and drained by its own thread.
#[derive(Debug)]
pub struct ReportThread {
    shared: Arc<Shared>,
    /// `None` when the system refused a thread, or once [`ReportThread::finish`] joined it.
    worker: Mutex<Option<JoinHandle<()>>>,
    threaded: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    set: Mutex<ReportSet>,
}

#[derive(Debug, Default)]
struct Queue {
    events: Vec<RunEvent>,
    closed: bool,
}

impl ReportThread {
    /// Starts the thread that hands the events to `set`. Without a thread (the system refused
    /// one) each event is handed over at once by [`ReportThread::send`], as before.
    pub fn spawn(set: ReportSet) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            ready: Condvar::new(),
            set: Mutex::new(set),
        });
        let worker = std::thread::Builder::new().name("reports".to_owned()).spawn({
            let shared = Arc::clone(&shared);
            move || shared.drain()
        });
        let worker = worker.ok();
        ReportThread { shared, threaded: worker.is_some(), worker: Mutex::new(worker) }
    }

    /// Queues `event` for the reporters and returns at once.
    pub fn send(&self, event: RunEvent) {
        if !self.threaded {
            self.shared.lock_set().on_events(std::slice::from_ref(&event));
            return;
        }
        let mut queue = self.shared.lock_queue();
        // The thread waits for the first event of a batch, and for the end of the run while
        // it gathers the rest; other events need not wake it.
        let wake = queue.events.is_empty() || matches!(event, RunEvent::RunFinished { .. });
        queue.events.push(event);
        drop(queue);
        if wake {
            self.shared.ready.notify_one();
        }
    }

    /// The second Ctrl-C: hand over what is queued and have every reporter write what it can,
    /// now — unless a reporter is busy (then nothing is waited for: the process is exiting).
    pub fn flush_partial_now(&self) {
        let Ok(mut set) = self.shared.set.try_lock() else { return };
        let queued = std::mem::take(&mut self.shared.lock_queue().events);
        set.on_events(&queued);
        set.flush_partial();
    }

    /// Waits until every queued event has been handed over, then returns the reporters'
    /// errors.
    pub fn finish(&self) -> Vec<ReportError> {
        self.shared.lock_queue().closed = true;
        self.shared.ready.notify_one();
        let mut errors = Vec::new();
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(worker) = worker
            && worker.join().is_err()
        {
            errors.push(ReportError::Render {
                what: "the reports",
                message: "a reporter panicked; the reports may be incomplete".to_owned(),
            });
        }
        // The thread ends only once the queue is empty; after a panic what was left in it
        // stays there (the reporters may be in any state).
        let mut all = self.shared.lock_set().take_errors();
        all.extend(errors);
        all
    }
}

impl Drop for ReportThread {
    fn drop(&mut self) {
        // Dropped without `finish` (the run's future was dropped): let the thread end.
        self.shared.lock_queue().closed = true;
        self.shared.ready.notify_one();
    }
}

impl Shared {
    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_set(&self) -> std::sync::MutexGuard<'_, ReportSet> {
        self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread: wait for an event, gather what follows it for [`GATHER`], hand it all
    /// over as one batch; repeat until closed and empty.
    fn drain(&self) {
        loop {
            let batch = {
                let mut queue = self.lock_queue();
                while queue.events.is_empty() && !queue.closed {
                    queue = self.ready.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
                if queue.events.is_empty() {
                    return;
                }
                let deadline = Instant::now() + GATHER;
                while !queue.closed
                    && !matches!(queue.events.last(), Some(RunEvent::RunFinished { .. }))
                {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    queue = self
                        .ready
                        .wait_timeout(queue, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::take(&mut queue.events)
            };
            self.lock_set().on_events(&batch);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc::{Receiver, Sender, channel};

    use super::*;
    use crate::report::Reporter;

    fn started(id: &str) -> RunEvent {
        RunEvent::ScenarioStarted { id: id.to_owned() }
    }

    fn id(event: &RunEvent) -> String {
        match event {
            RunEvent::ScenarioStarted { id } => id.clone(),
            other => format!("{other:?}"),
        }
    }

    /// Notes every batch it takes into a log shared with the test.
    struct Noting {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Reporter for Noting {
        fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
            self.on_events(std::slice::from_ref(event))
        }

        fn on_events(&mut self, events: &[RunEvent]) -> Result<(), ReportError> {
            let ids: Vec<String> = events.iter().map(id).collect();
            self.log.lock().unwrap().push(format!("{}:{}", self.name, ids.join(",")));
            Ok(())
        }
    }

    /// The first batch waits until the test lets it go, so the next events queue up.
    struct Gated {
        entered: Sender<()>,
        gate: Receiver<()>,
        batches: Arc<Mutex<Vec<Vec<String>>>>,
    }

    impl Reporter for Gated {
        fn on_event(&mut self, event: &RunEvent) -> Result<(), ReportError> {
            self.on_events(std::slice::from_ref(event))
        }

        fn on_events(&mut self, events: &[RunEvent]) -> Result<(), ReportError> {
            let first = self.batches.lock().unwrap().is_empty();
            self.batches.lock().unwrap().push(events.iter().map(id).collect());
            if first {
                self.entered.send(()).unwrap();
                self.gate.recv().unwrap();
            }
            if events.iter().any(|e| id(e) == "bad") {
                return Err(ReportError::Render { what: "a test report", message: "bad".into() });
            }
            Ok(())
        }
    }

    struct Panicking;

    impl Reporter for Panicking {
        fn on_event(&mut self, _: &RunEvent) -> Result<(), ReportError> {
            panic!("a reporter bug")
        }
    }

    #[test]
    fn the_first_reporter_takes_the_whole_batch_before_the_next_sees_any_of_it() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut set = ReportSet::new()
            .with(Noting { name: "files", log: Arc::clone(&log) })
            .with_first(Noting { name: "store", log: Arc::clone(&log) });
        set.on_events(&[started("a"), started("b"), started("c")]);
        assert_eq!(*log.lock().unwrap(), ["store:a,b,c", "files:a,b,c"]);
    }

    #[test]
    fn events_that_queue_while_a_reporter_is_busy_arrive_together_and_in_order() {
        let (entered_tx, entered) = channel();
        let (release, gate) = channel();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let reports = ReportThread::spawn(ReportSet::new().with(Gated {
            entered: entered_tx,
            gate,
            batches: Arc::clone(&batches),
        }));
        reports.send(started("1"));
        entered.recv().unwrap();
        for n in ["2", "3", "bad", "5"] {
            reports.send(started(n));
        }
        release.send(()).unwrap();
        let errors = reports.finish();
        assert_eq!(*batches.lock().unwrap(), [vec!["1"], vec!["2", "3", "bad", "5"]]);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("bad"), "{messages:?}");
    }

    #[test]
    fn a_reporter_that_panics_is_an_error_at_the_end_not_a_hang() {
        let reports = ReportThread::spawn(ReportSet::new().with(Panicking));
        reports.send(started("a"));
        reports.send(started("b"));
        let errors = reports.finish();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("a reporter panicked"), "{}", errors[0]);
    }
}
