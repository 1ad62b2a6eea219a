//! What a user installs and wires up besides the binary itself: the man page and shell
//! completions it prints, the container image's Dockerfile, the composite GitHub Action
//! (action.yml) and the release workflow. The YAML files' actionlint check is in
//! tests/ci_workflow.rs with the other workflow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

/// Every subcommand `rogue-runner --help` lists, read from the help a user sees.
fn subcommands() -> Vec<String> {
    let help = common::run(&["--help"]);
    assert_eq!(help.code, 0, "{}", help.combined());
    let commands = help.stdout.split("Commands:\n").nth(1).expect("a Commands: section");
    let names: Vec<String> = commands
        .lines()
        .take_while(|line| line.starts_with("  "))
        // A name starts two spaces in; deeper lines continue a description.
        .filter(|line| !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    names
}

#[test]
fn man_prints_a_roff_page_that_names_every_subcommand() {
    let out = common::run(&["man"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let page = &out.stdout;
    let th = page.lines().find(|l| l.starts_with(".TH ")).expect("no .TH line");
    assert!(th.starts_with(".TH ROGUE-RUNNER 1 "), "{th}");
    assert!(th.contains(env!("CARGO_PKG_VERSION")), "the page does not name its release: {th}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    // roff escapes dashes: `mock-agent` is written `mock\-agent`.
    for name in subcommands() {
        let roff = format!("rogue\\-runner\\-{}(1)", name.replace('-', "\\-"));
        assert!(page.contains(&roff), "the page does not name `{name}` ({roff})");
    }
    assert!(page.contains("\\-\\-scenarios\\-dir"), "the run options are missing");
}

#[test]
fn man_prints_a_page_per_subcommand_and_refuses_an_unknown_one() {
    let out = common::run(&["man", "list"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(out.stdout.contains(".TH ROGUE-RUNNER-LIST 1 "), "{}", out.stdout);
    assert!(out.stdout.contains("\\fBrogue\\-runner list\\fR"), "the synopsis: {}", out.stdout);

    let out = common::run(&["man", "lst"]);
    assert_eq!(out.code, 2, "{}", out.combined());
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("no subcommand `lst`"), "{}", out.stderr);
    assert!(out.stderr.contains("list"), "the hint names the real ones: {}", out.stderr);
}

#[test]
fn completions_print_a_script_for_every_shell_that_knows_run() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = common::run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.combined());
        assert!(out.stdout.len() > 500, "{shell}: a short script:\n{}", out.stdout);
        assert!(out.stdout.contains("run"), "{shell}: no `run`");
        assert!(out.stdout.contains("scenarios-dir"), "{shell}: no run flags");
        assert!(out.stdout.contains("rogue-runner"), "{shell}: not about rogue-runner");
    }
}
