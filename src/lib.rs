//! rogue-runner: runs LLM-agent test scenarios in parallel against live agents, judges them,
//! and tells a person and CI exactly what happened.
//!
//! The binary is a thin layer over these modules; data flows one way:
//! `scenario` (load, normalize, select) → `engine` (schedule, converse through `agent`,
//! check through `judge`) → typed events → `report` consumers. `session` is the one entry
//! point of a run (one HTTP pool, judge, budget and store per run), just below `cli`.
#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod cost;
pub mod demo;
pub mod engine;
pub mod judge;
pub mod redact;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod session;
pub mod store;
pub mod text;
