//! The hostile suite: a hostile agent, a hostile judge and hostile inputs, each driven through
//! the real binary and bounded in time. One file per front (see README, "Security model").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

mod agent;
mod inputs;
mod run;
