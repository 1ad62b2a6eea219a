//! The hints of `run`'s configuration errors are true: each broken command line (or config
//! file, or environment) is refused with its hint, and the same with the hint applied gets
//! past configuration (to "no scenario matches", as `--id nothing_*` selects nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// One configuration error: what breaks it, the hint it must give, and what fixes it.
struct Case {
    /// Words of the hint the error gives.
    hint: &'static str,
    broken: Invocation,
    fixed: Invocation,
}

#[derive(Default, Clone)]
struct Invocation {
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    /// `rogue-runner.toml` in the working directory.
    config: Option<&'static str>,
}

fn args(args: &[&'static str]) -> Invocation {
    Invocation { args: args.to_vec(), ..Invocation::default() }
}

const SCENARIO: &str =
    "version: 1\nagent: qa_agent\nscenarios:\n- id: n1\n  priority: P0\n  message: hi\n";

/// `run s.yaml --id nothing_* ARGS` in a fresh directory: exit code and stderr.
fn run(invocation: &Invocation) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("s.yaml"), SCENARIO).unwrap();
    if let Some(config) = invocation.config {
        fs_err::write(dir.path().join("rogue-runner.toml"), config).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_rogue-runner"));
    command
        .args(["run", "s.yaml", "--id", "nothing_*", "--output-dir", "out"])
        .args(&invocation.args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1");
    for var in ["ROGUE_RUNNER_CONFIG", "ROGUE_SERVER", "OPENAI_API_KEY", "ROGUE_JUDGE_BASE_URL"] {
        command.env_remove(var);
    }
    for (name, value) in &invocation.env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether `text` says `words`, however miette wrapped it (at spaces and after hyphens).
fn says(text: &str, words: &str) -> bool {
    let squeeze =
        |s: &str| s.chars().filter(|c| !c.is_whitespace() && *c != '│').collect::<String>();
    squeeze(text).contains(&squeeze(words))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            hint: "give a fraction such as 0.8",
            broken: args(&["--p0-threshold", "80"]),
            fixed: args(&["--p0-threshold", "0.8"]),
        },
        Case {
            hint: "for example --rogue-server http://localhost:8000",
            broken: args(&["--rogue-server", "localhost:8000"]),
            fixed: args(&["--rogue-server", "http://localhost:8000"]),
        },
        Case {
            hint: "e.g. --agent qa_agent=http://localhost:9001",
            broken: args(&["--agent", "qa_agent"]),
            fixed: args(&["--agent", "qa_agent=http://localhost:9001"]),
        },
        Case {
            hint: "export AGENT_TOKEN=… before running",
            broken: args(&["--auth", "bearer:AGENT_TOKEN"]),
            fixed: Invocation {
                env: vec![("AGENT_TOKEN", "s3cret")],
                ..args(&["--auth", "bearer:AGENT_TOKEN"])
            },
        },
        Case {
            hint: "write --auth bearer:ENV_VAR",
            broken: args(&["--auth", "token:AGENT_TOKEN"]),
            fixed: Invocation {
                env: vec![("AGENT_TOKEN", "s3cret")],
                ..args(&["--auth", "bearer:AGENT_TOKEN"])
            },
        },
        Case {
            hint: "write --agent-version VALUE",
            broken: args(&["--agent-version", "qa_agent= "]),
            fixed: args(&["--agent-version", "qa_agent=9c1e2f"]),
        },
        Case {
            hint: "give one --agent-version VALUE, or NAME=VALUE per agent",
            broken: args(&["--agent-version", "9c1e2f", "--agent-version", "41ab07"]),
            fixed: args(&["--agent-version", "9c1e2f", "--agent-version", "qa_agent=41ab07"]),
        },
        Case {
            hint: "for example --judge-base-url https://api.openai.com/v1",
            broken: args(&["--judge-base-url", "api.openai.com/v1"]),
            fixed: args(&["--judge-base-url", "https://api.openai.com/v1"]),
        },
        Case {
            hint: "--judge-header OpenAI-Organization=OPENAI_ORG",
            broken: args(&["--judge-header", "OpenAI-Organization"]),
            fixed: Invocation {
                env: vec![("OPENAI_ORG", "org-1")],
                ..args(&["--judge-header", "OpenAI-Organization=OPENAI_ORG"])
            },
        },
        Case {
            hint: "export OPENAI_ORG=… before running",
            broken: args(&["--judge-header", "OpenAI-Organization=OPENAI_ORG"]),
            fixed: Invocation {
                env: vec![("OPENAI_ORG", "org-1")],
                ..args(&["--judge-header", "OpenAI-Organization=OPENAI_ORG"])
            },
        },
        Case {
            hint: "write e.g. \"120s\"",
            broken: Invocation {
                config: Some("[judge]\ntimeout = \"two minutes\"\n"),
                ..Invocation::default()
            },
            fixed: Invocation {
                config: Some("[judge]\ntimeout = \"120s\"\n"),
                ..Invocation::default()
            },
        },
        Case {
            hint: "write a number from 0 to 20 in rogue-runner.toml",
            broken: Invocation { config: Some("[judge]\nretries = 50\n"), ..Invocation::default() },
            fixed: Invocation { config: Some("[judge]\nretries = 20\n"), ..Invocation::default() },
        },
        Case {
            hint: "for example --max-cost 2.50",
            broken: Invocation {
                config: Some("[cost]\nmax_cost = -1.0\n"),
                ..Invocation::default()
            },
            fixed: Invocation {
                config: Some("[cost]\nmax_cost = -1.0\n"),
                ..args(&["--max-cost", "2.50"])
            },
        },
        Case {
            hint: "write --partition hash:2/4 (shard 2 of 4)",
            broken: args(&["--partition", "2/4"]),
            fixed: args(&["--partition", "hash:2/4"]),
        },
        Case {
            hint: "use shell-style globs such as `qa_*`",
            broken: args(&["--id", "qa_[p0"]),
            fixed: args(&["--id", "qa_*"]),
        },
        Case {
            hint: "pass the same --seed S to every shard",
            broken: args(&["--partition", "hash:1/2", "--sample", "3"]),
            fixed: args(&["--partition", "hash:1/2", "--sample", "3", "--seed", "7"]),
        },
        Case {
            hint: "use --agent-protocol a2a or openai, or --evaluator llm for an http-json agent",
            broken: args(&["--evaluator", "rogue", "--agent-protocol", "http-json"]),
            fixed: args(&["--evaluator", "llm", "--agent-protocol", "http-json"]),
        },
    ]
}

#[test]
fn every_configuration_hint_applied_gets_the_run_past_configuration() {
    let mut failures = Vec::new();
    for case in cases() {
        let (code, stderr) = run(&case.broken);
        if code != 2 || !says(&stderr, case.hint) {
            failures.push(format!("`{}`: the broken input gave exit {code}:\n{stderr}", case.hint));
            continue;
        }
        let (code, after) = run(&case.fixed);
        // Past configuration, the run stops at the selection (exit 2, no scenario matches).
        if code != 2 || !says(&after, "no scenario matches the filters") || says(&after, case.hint)
        {
            failures.push(format!("`{}`: the fix gave exit {code}:\n{after}", case.hint));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
