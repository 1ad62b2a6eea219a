//! Client-side rate limiting for one LLM endpoint, and how long to wait after a 429 (the
//! exponential backoff when the server names no delay is [`super::Backoff`]).
//!
//! The limiter spaces requests evenly at the configured requests per minute (a GCRA with no
//! burst: the ideal throughput is exactly the limit). A 429 pauses the whole endpoint until
//! the provider says it resets, so a burst of 429s slows every worker down instead of each
//! one hammering the endpoint on its own schedule.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Waits never exceed this, whatever a provider's headers say.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(120);

/// Spaces the requests of one endpoint.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two requests; `None` = unlimited.
    interval: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The earliest time the next request may go (theoretical arrival time).
    next: Option<Instant>,
    /// No request before this (after a 429).
    paused_until: Option<Instant>,
}

impl RateLimiter {
    /// At most `requests_per_minute` requests per minute; `None` or 0 for no limit.
    pub fn new(requests_per_minute: Option<u32>) -> Self {
        let interval = requests_per_minute
            .filter(|&n| n > 0)
            .map(|n| Duration::from_secs(60).div_f64(f64::from(n)));
        RateLimiter { interval, state: Mutex::new(State::default()) }
    }

    /// Books the next slot at or after `now` and returns when it starts.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut start = now;
        if let Some(paused) = state.paused_until {
            start = start.max(paused);
        }
        if let Some(interval) = self.interval {
            if let Some(next) = state.next {
                start = start.max(next);
            }
            state.next = Some(start + interval);
        }
        start
    }

    /// Waits for the next slot.
    pub async fn acquire(&self) {
        let at = self.reserve(Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Nobody sends before `until` (the endpoint said 429).
    pub fn pause_until(&self, until: Instant) {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }
}

/// How long the provider asks us to wait, from (in this order) `retry-after-ms`,
/// `retry-after` (seconds or an HTTP date), then the longest of `x-ratelimit-reset-requests`
/// and `x-ratelimit-reset-tokens` (`1s`, `6m0s`, `12ms`). Capped at [`MAX_RETRY_DELAY`].
pub fn server_delay(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let delay = text("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| text("retry-after").and_then(parse_retry_after))
        .or_else(|| {
            ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
                .iter()
                .filter_map(|name| text(name).and_then(parse_go_duration))
                .max()
        })?;
    Some(delay.min(MAX_RETRY_DELAY))
}

/// `Retry-After`: delta seconds (integer or decimal) or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?;
    let wait = date.timestamp().duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Go-style durations as OpenAI sends them: `1s`, `6m0s`, `12ms`, `1h2m3.5s`, `250us`.
fn parse_go_duration(value: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(0);
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

/// A server-named delay plus up to 10 % jitter, so that workers paused together do not all
/// come back in the same millisecond.
pub fn with_jitter(delay: Duration) -> Duration {
    delay.mul_f64(1.0 + fastrand::f64() * 0.1)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn header_precedence_and_formats() {
        let ms = |n: u64| Some(Duration::from_millis(n));
        assert_eq!(server_delay(&headers(&[("retry-after-ms", "250")])), ms(250));
        assert_eq!(
            server_delay(&headers(&[("retry-after-ms", "250"), ("retry-after", "3")])),
            ms(250)
        );
        assert_eq!(server_delay(&headers(&[("retry-after", "2")])), ms(2000));
        assert_eq!(server_delay(&headers(&[("retry-after", "0.5")])), ms(500));
        assert_eq!(
            server_delay(&headers(&[
                ("x-ratelimit-reset-requests", "120ms"),
                ("x-ratelimit-reset-tokens", "1s")
            ])),
            ms(1000)
        );
        assert_eq!(server_delay(&headers(&[("x-ratelimit-reset-tokens", "6m0s")])), ms(120_000));
        assert_eq!(server_delay(&headers(&[])), None);
        assert_eq!(server_delay(&headers(&[("retry-after", "soon")])), None);
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(server_delay(&headers(&[("retry-after", past)])), ms(0));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_go_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("s"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn spaces_requests_evenly_at_the_limit() {
        let limiter = RateLimiter::new(Some(600)); // one per 100 ms
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| limiter.reserve(t0) - t0).collect();
        let ms: Vec<u128> = slots.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 100, 200, 300, 400]);
        // A caller arriving late gets a slot at once, and the spacing restarts from there.
        let late = t0 + Duration::from_secs(10);
        assert_eq!(limiter.reserve(late), late);
        assert_eq!(limiter.reserve(late) - late, Duration::from_millis(100));
    }

    #[test]
    fn a_429_pauses_everyone() {
        let limiter = RateLimiter::new(None);
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(t0), t0);
        limiter.pause_until(t0 + Duration::from_secs(2));
        limiter.pause_until(t0 + Duration::from_secs(1)); // an earlier pause never shortens it
        assert_eq!(limiter.reserve(t0) - t0, Duration::from_secs(2));
        assert_eq!(limiter.reserve(t0 + Duration::from_secs(3)) - t0, Duration::from_secs(3));
    }

    #[test]
    fn unlimited_never_waits() {
        let limiter = RateLimiter::new(Some(0));
        let t0 = Instant::now();
        assert!((0..100).all(|_| limiter.reserve(t0) == t0));
    }
}
