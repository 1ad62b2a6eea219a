//! The one HTTP client of a run: agents, the judge and the Rogue server share its pool.

/// A connection pool sized for a run.
pub fn client(parallel: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(parallel.max(8))
        .tcp_nodelay(true)
        .user_agent(concat!("rogue-runner/", env!("CARGO_PKG_VERSION")))
        // No redirect is followed blindly: the agent client follows only those that keep the
        // credentials with their origin, the judge none (see `agent::transport`).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}
