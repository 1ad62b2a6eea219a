//! Client-side rate limiting for one LLM endpoint, and how long to wait after a 429 (the
//! exponential backoff when the server names no delay is [`super::Backoff`]).
//!
//! The limiter spaces requests evenly at the configured requests per minute (a GCRA with no
//! burst: the ideal throughput is exactly the limit). A 429 pauses the whole endpoint until
//! the provider says it resets, so a burst of 429s slows every worker down instead of each
//! one hammering the endpoint on its own schedule.
//!
//! The limit is the whole run's. The N shards of a partitioned run (`--partition hash:K/N`,
//! separate processes that share no state) each take a [`RateShare`]: one request every N
//! intervals, on slots of their own — shard K's slots sit K−1 intervals into a period of N
//! intervals counted from the Unix epoch. Shards on one clock (or clocks NTP keeps within a
//! few milliseconds) therefore interleave exactly: together they send at most the limit,
//! evenly spaced, from their first request on — no burst of N requests when they all start
//! at once, and no rounding (a limit below N still works: each shard then sends less than one
//! request a minute).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Waits never exceed this, whatever a provider's headers say.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(120);

/// This process's part of a request budget shared by the `of` shards of one partitioned run
/// (`--partition hash:shard/of`, shard counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateShare {
    pub shard: u32,
    pub of: u32,
}

impl RateShare {
    /// `None` for a whole run (one shard of one, or out-of-range numbers).
    fn sharded(share: Option<RateShare>) -> Option<RateShare> {
        share.filter(|s| s.of > 1 && (1..=s.of).contains(&s.shard))
    }
}

/// The limit as the run header shows it: `60 requests/min`, or for a shard
/// `20 requests/min (this shard's share of 60 across 3 shards)`.
pub fn describe_rate(requests_per_minute: u32, share: Option<RateShare>) -> String {
    let Some(share) = RateShare::sharded(share) else {
        return format!("{requests_per_minute} requests/min");
    };
    let per_shard = f64::from(requests_per_minute) / f64::from(share.of);
    let shown = format!("{per_shard:.2}");
    let shown = shown.trim_end_matches('0').trim_end_matches('.');
    format!(
        "{shown} requests/min (this shard's share of {requests_per_minute} across {} shards)",
        share.of
    )
}

/// Spaces the requests of one endpoint.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two requests of this process; `None` = unlimited.
    interval: Option<Duration>,
    /// For a shard: where its slots are.
    grid: Option<Grid>,
    state: Mutex<State>,
}

/// One shard's slots: every `period` (N intervals of the whole run's limit), `phase` into the
/// period, both counted on the wall clock from the Unix epoch so that shards in separate
/// processes agree on them.
#[derive(Debug)]
struct Grid {
    /// The wall clock (since the Unix epoch) at `origin`.
    wall_at_origin: Duration,
    origin: Instant,
    period_ns: u128,
    phase_ns: u128,
}

impl Grid {
    /// The first of this shard's slots at or after `t`.
    fn align(&self, t: Instant) -> Instant {
        let wall = match t.checked_duration_since(self.origin) {
            Some(after) => self.wall_at_origin + after,
            None => self.wall_at_origin.saturating_sub(self.origin - t),
        };
        let into = (wall.as_nanos() + self.period_ns - self.phase_ns) % self.period_ns;
        if into == 0 { t } else { t + nanos(self.period_ns - into) }
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
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
        Self::shared(requests_per_minute, None)
    }

    /// `share` of a run-wide limit of `requests_per_minute` (`None`: the whole of it).
    pub fn shared(requests_per_minute: Option<u32>, share: Option<RateShare>) -> Self {
        // Before the epoch only on a broken clock; the slots are then merely not interleaved.
        let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Self::shared_at(requests_per_minute, share, wall, Instant::now())
    }

    /// [`Self::shared`] with the wall clock reading `wall` at `origin`.
    fn shared_at(
        requests_per_minute: Option<u32>,
        share: Option<RateShare>,
        wall: Duration,
        origin: Instant,
    ) -> Self {
        let Some(rpm) = requests_per_minute.filter(|&n| n > 0) else {
            return RateLimiter { interval: None, grid: None, state: Mutex::default() };
        };
        let Some(share) = RateShare::sharded(share) else {
            let interval = Duration::from_secs(60).div_f64(f64::from(rpm));
            return RateLimiter { interval: Some(interval), grid: None, state: Mutex::default() };
        };
        // Rounded up, so that the shards together never go above the limit.
        let period_ns = (60_000_000_000 * u128::from(share.of)).div_ceil(u128::from(rpm));
        let phase_ns = period_ns * u128::from(share.shard - 1) / u128::from(share.of);
        RateLimiter {
            interval: Some(nanos(period_ns)),
            grid: Some(Grid { wall_at_origin: wall, origin, period_ns, phase_ns }),
            state: Mutex::default(),
        }
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
            if let Some(grid) = &self.grid {
                start = grid.align(start);
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

    /// Slots of shard `shard` of `of` at `rpm`, `n` callers all arriving at `t0`, in ms from
    /// `t0`, with the wall clock at `wall_ms` when `t0`.
    fn shard_slots(rpm: u32, shard: u32, of: u32, wall_ms: u64, n: usize) -> Vec<u128> {
        let t0 = Instant::now();
        let share = Some(RateShare { shard, of });
        let limiter = RateLimiter::shared_at(Some(rpm), share, Duration::from_millis(wall_ms), t0);
        (0..n).map(|_| (limiter.reserve(t0) - t0).as_millis()).collect()
    }

    #[test]
    fn shards_take_interleaved_slots_that_add_up_to_the_limit_from_the_first_request() {
        // 180/min across 3 shards: one request every 333 ms in all, each shard one a second.
        // All three start at the same moment: no burst of three, the slots interleave.
        let wall = 1_000_000_000_000; // a whole second: shard 1's slot is now
        let mut all: Vec<u128> = Vec::new();
        for shard in 1..=3 {
            let slots = shard_slots(180, shard, 3, wall, 4);
            let first = u128::from(shard - 1) * 1000 / 3;
            assert_eq!(slots, [first, first + 1000, first + 2000, first + 3000], "shard {shard}");
            all.extend(slots);
        }
        all.sort_unstable();
        let gaps: Vec<u128> = all.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (333..=334).contains(g)), "{all:?}");
        // Started at another moment, a shard waits for its own slot (at most one period).
        assert_eq!(shard_slots(180, 2, 3, wall + 500, 2), [833, 1833]);
        assert_eq!(shard_slots(180, 1, 3, wall + 1, 1), [999]);
    }

    #[test]
    fn a_limit_below_the_shard_count_is_spread_never_rounded_to_zero_or_one() {
        // 2/min across 3 shards: each shard one request every 90 s, 30 s apart.
        let wall = 90_000 * 1_000_000;
        assert_eq!(shard_slots(2, 1, 3, wall, 2), [0, 90_000]);
        assert_eq!(shard_slots(2, 2, 3, wall, 2), [30_000, 120_000]);
        assert_eq!(shard_slots(2, 3, 3, wall, 2), [60_000, 150_000]);
        // A limit that does not divide: 100/min across 3, each shard every 1.8 s.
        assert_eq!(shard_slots(100, 1, 3, 0, 3), [0, 1800, 3600]);
        assert_eq!(shard_slots(100, 3, 3, 0, 3), [1200, 3000, 4800]);
    }

    #[test]
    fn one_shard_of_one_is_the_whole_run() {
        for share in [None, Some(RateShare { shard: 1, of: 1 })] {
            let limiter =
                RateLimiter::shared_at(Some(600), share, Duration::from_millis(7), Instant::now());
            let t0 = Instant::now();
            let ms: Vec<u128> = (0..3).map(|_| (limiter.reserve(t0) - t0).as_millis()).collect();
            assert_eq!(ms, [0, 100, 200], "{share:?}");
        }
    }

    #[test]
    fn the_header_names_the_share() {
        assert_eq!(describe_rate(60, None), "60 requests/min");
        assert_eq!(describe_rate(60, Some(RateShare { shard: 1, of: 1 })), "60 requests/min");
        assert_eq!(
            describe_rate(180, Some(RateShare { shard: 2, of: 3 })),
            "60 requests/min (this shard's share of 180 across 3 shards)"
        );
        assert_eq!(
            describe_rate(100, Some(RateShare { shard: 1, of: 3 })),
            "33.33 requests/min (this shard's share of 100 across 3 shards)"
        );
        assert_eq!(
            describe_rate(2, Some(RateShare { shard: 3, of: 3 })),
            "0.67 requests/min (this shard's share of 2 across 3 shards)"
        );
    }

    #[test]
    fn unlimited_never_waits() {
        let limiter = RateLimiter::new(Some(0));
        let t0 = Instant::now();
        assert!((0..100).all(|_| limiter.reserve(t0) == t0));
    }
}
