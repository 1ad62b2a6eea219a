//! How long to wait before retrying: one exponential backoff with jitter for every client
//! (agents, the LLM judge and driver), each with its own base and cap.

use std::time::Duration;

/// Exponential backoff: retry `n` (0-based) waits `base · 2ⁿ`, capped at `max`, minus up to
/// 25 % jitter so that clients that failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// For LLM calls when the server named no delay: 0.5 s · 2ⁿ capped at 8 s (the OpenAI
    /// SDK's policy).
    pub const LLM: Backoff =
        Backoff { base: Duration::from_millis(500), max: Duration::from_secs(8) };

    /// The delay before retry number `retry` (0-based).
    pub fn delay(self, retry: u32) -> Duration {
        let base = self.base.saturating_mul(1u32 << retry.min(16)).min(self.max);
        base.mul_f64(1.0 - fastrand::f64() * 0.25)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_backoff_is_bounded_and_grows() {
        for retry in 0..40 {
            let d = Backoff::LLM.delay(retry);
            assert!(d <= Duration::from_secs(8), "{d:?}");
            assert!(d >= Duration::from_millis(375).min(Duration::from_secs(6)), "{d:?}");
        }
        assert!(Backoff::LLM.delay(0) <= Duration::from_millis(500));
        assert!(Backoff::LLM.delay(3) >= Duration::from_secs(3), "4 s minus at most 25 %");
    }

    #[test]
    fn a_configured_base_doubles_up_to_its_cap() {
        let backoff = Backoff { base: Duration::from_millis(200), max: Duration::from_secs(30) };
        let d = backoff.delay(2);
        assert!(d > Duration::from_millis(600) && d <= Duration::from_millis(800), "{d:?}");
        // Huge retry counts neither overflow nor pass the cap.
        assert!(backoff.delay(u32::MAX) <= Duration::from_secs(30));
        assert!(backoff.delay(u32::MAX) >= Duration::from_millis(22_500));
    }
}
