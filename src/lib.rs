//! rogue-runner: runs LLM-agent test scenarios in parallel against live agents, judges them,
//! and tells a person and CI exactly what happened.
//!
//! The modules form a strict stack of layers, bottom to top (docs/architecture.md; enforced by
//! `tests/layering.rs`, so there is no module cycle):
//! `redact` → `secret` → `text` → `digest` → `scenario` → `model` → `cost` → `http` → `agent`
//! → `judge` → `engine` → `report` → `store` → `serve` → `demo` → `session` → `cli`. A module uses only
//! modules below it. Data flows one way: `scenario` (load, normalize, select) → `engine`
//! (schedule, converse through `agent`, check through `judge`, price through `cost`) → typed
//! `model` events → `report` consumers and the `store`. `session` is the one entry point of a
//! run (one HTTP pool, judge, budget and store per run); the binary is a thin layer over `cli`.
#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod cost;
pub mod demo;
pub mod digest;
pub mod engine;
pub mod http;
pub mod judge;
pub mod model;
pub mod redact;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod serve;
pub mod session;
pub mod store;
pub mod text;
