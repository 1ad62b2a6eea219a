//! Shared test helpers.

pub(crate) mod fake_agent;
