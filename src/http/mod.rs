//! The HTTP layer every client sits on — agent protocols, the LLM judge and driver, the Rogue
//! server: the shared client, deadlines and bounded body reads, excerpts of error bodies,
//! retry delays and rate limiting, OpenAI-style usage objects, and the request log (`-vv`).
//!
//! Knows nothing of agents, judges or scenarios: above `model` (for `Usage`) and `redact`,
//! below `agent` and `judge`, so that neither has to import the other for plumbing.

mod body;
mod client;
mod log;
mod rate_limit;
mod retry;
mod snippet;
mod usage;

pub use body::{ReadError, deadline_after, error_message, read_limited, root_cause};
pub use client::client;
pub use log::{Peer, TARGET as LOG_TARGET, send, shown_url};
pub use rate_limit::{RateLimiter, RateShare, describe_rate, server_delay, with_jitter};
pub use retry::Backoff;
pub use snippet::{SNIPPET_CHARS, one_line, snippet};
pub use usage::usage;
