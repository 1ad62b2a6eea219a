//! A precise sleep for the mock agent's latency.
//!
//! tokio's timer counts in whole milliseconds: it rounds every deadline up to the next tick,
//! and its driver's wait rounds up again, so `tokio::time::sleep(100ms)` answers after about
//! 101.5–102 ms. For a fake agent "of fixed latency L" in a benchmark, that 1.5–2 % would be
//! charged to the client under test (at `--parallel 5`, 400 waves of 2,000 scenarios add
//! 0.7 s). Here one background thread keeps the pending deadlines in a heap and wakes each
//! waiter when its time has come; a channel wait with a timeout is precise to tens of
//! microseconds, so a reply is never early and is rarely more than ~0.1 ms late. The thread
//! sleeps in the channel while nothing is pending, so an idle mock costs no CPU.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

type Request = (Instant, oneshot::Sender<()>);

/// Waits `delay` (at least; never less).
pub(crate) async fn sleep(delay: Duration) {
    let Some(at) = Instant::now().checked_add(delay) else {
        // Beyond what the clock can represent: wait forever, as a sleep that long would.
        std::future::pending::<()>().await;
        return;
    };
    let (wake, woken) = oneshot::channel();
    let queued = timer().is_some_and(|timer| timer.send((at, wake)).is_ok());
    // Without the timer thread (it could not be started), tokio's coarser timer still never
    // answers early.
    if !queued || woken.await.is_err() {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// The timer thread's inbox, started on first use; `None` if the thread cannot be started.
fn timer() -> Option<&'static mpsc::Sender<Request>> {
    static TIMER: OnceLock<Option<mpsc::Sender<Request>>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let (inbox, requests) = mpsc::channel();
            std::thread::Builder::new()
                .name("mock-agent-timer".to_owned())
                .spawn(move || run(&requests))
                .ok()
                .map(|_| inbox)
        })
        .as_ref()
}

/// One waiter, ordered by deadline (then by arrival, so equal deadlines wake in order).
#[derive(Debug)]
struct Waiter {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

fn run(requests: &mpsc::Receiver<Request>) {
    let mut pending: BinaryHeap<Reverse<Waiter>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while pending.peek().is_some_and(|Reverse(next)| next.at <= now) {
            if let Some(Reverse(due)) = pending.pop() {
                // The waiter may be gone (its request was dropped): nothing to do then.
                let _ = due.wake.send(());
            }
        }
        let received = match pending.peek() {
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(Reverse(next)) => requests.recv_timeout(next.at.saturating_duration_since(now)),
        };
        match received {
            Ok((at, wake)) => {
                seq += 1;
                pending.push(Reverse(Waiter { at, seq, wake }));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_early_and_close_to_the_deadline() {
        let mut lateness = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            sleep(Duration::from_millis(5)).await;
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(5), "{took:?}");
            lateness.push(took.saturating_sub(Duration::from_millis(5)));
        }
        lateness.sort();
        // Loose on purpose (a busy machine delays wake-ups); the benchmark measures the
        // precision. The median, so one descheduling does not fail the test.
        assert!(lateness[10] < Duration::from_millis(5), "{lateness:?}");
    }

    #[tokio::test]
    async fn concurrent_sleeps_wake_in_deadline_order() {
        let started = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for ms in [30u64, 10, 20] {
            let tx = tx.clone();
            tokio::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                let _ = tx.send(ms);
            });
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(ms) = rx.recv().await {
            order.push(ms);
        }
        assert_eq!(order, [10, 20, 30]);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
