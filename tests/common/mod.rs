//! Helpers shared by the integration tests: run the real binary and capture what a user sees.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod pg_cluster;

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Both streams, for snapshots: stdout first.
    pub fn combined(&self) -> String {
        format!("exit: {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// The crate root; tests run the binary from there so paths in output are stable.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `rogue-runner ARGS` from the crate root, without colour or terminal.
pub fn run(args: &[&str]) -> Output {
    run_in(&root(), args)
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_rogue-runner"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ROGUE_SERVER")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("CI")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ROGUE_JUDGE_BASE_URL")
        .env_remove("ROGUE_RUNNER_CONFIG")
        .output()
        .expect("run rogue-runner");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `../shared/corpus/<name>`, the real corpus checked out beside this repository. The tests
/// that read it are `#[ignore = "needs ../shared …"]`; run on purpose (`--include-ignored`,
/// as `.ci/run` does) they fail, never skip, when it is missing.
pub fn shared_corpus(name: &str) -> PathBuf {
    let path = root().join("..").join("shared").join("corpus").join(name);
    assert!(
        path.is_dir(),
        "{} is missing: check out the shared corpus beside this repository as ../shared \
         (this test is ignored by a plain `cargo test`)",
        path.display()
    );
    path
}

/// The embedded mock A2A agent on 127.0.0.1:0, served by a runtime of its own for as long as
/// the value lives (the binary under test talks to it from another process); shut down
/// gracefully on drop.
pub struct MockServer {
    runtime: tokio::runtime::Runtime,
    agent: Option<rogue_runner::demo::MockAgent>,
}

impl MockServer {
    pub fn start(options: rogue_runner::demo::MockAgentOptions) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let agent = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            rogue_runner::demo::MockAgent::start(listener, options).await.unwrap()
        });
        MockServer { runtime, agent: Some(agent) }
    }

    /// `http://127.0.0.1:PORT`, for `--rogue-server` or `--agent NAME=URL/a2a/NAME`.
    pub fn base_url(&self) -> String {
        self.agent.as_ref().unwrap().base_url()
    }

    /// The URL of agent `name`.
    pub fn agent_url(&self, name: &str) -> String {
        self.agent.as_ref().unwrap().agent_url(name)
    }

    /// The runtime serving the agent, for other fake servers a test needs beside it.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(agent) = self.agent.take() {
            self.runtime.block_on(agent.shutdown());
        }
    }
}
