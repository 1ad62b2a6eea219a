//! The embedded demo: a deterministic mock A2A agent ([`MockAgent`], documented with its
//! reply directives in [`mock_agent`]) and the example scenario files the `demo` command runs
//! against it.

mod directives;
mod memory;
pub mod mock_agent;
mod wire;

pub use mock_agent::{MockAgent, MockAgentOptions, MockDialect, serve_forever};
