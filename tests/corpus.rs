//! The real Genesis corpus and Rogue's own files: every file loads with zero errors, and the
//! counts match the inventory in `../shared/reference/corpus.md`. Ignored by a plain
//! `cargo test` (they need `../shared`); `.ci/run` runs them with `--include-ignored`, and
//! there they fail, never skip, when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;

use rogue_runner::scenario::{AgentSource, LoadOptions, Priority, Stats, load_paths};

/// Per-file rows of the inventory's §1.3 table: file → (P0, P1, P2).
fn inventory_per_file() -> BTreeMap<String, [usize; 3]> {
    let corpus = common::shared_corpus("genesis");
    let doc = fs_err::read_to_string(corpus.join("../../reference/corpus.md")).unwrap();
    let mut files = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | file | layout | header key | agent | scenarios | priorities | total | tail |
        if cells.len() < 8
            || !std::path::Path::new(cells[2])
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml"))
            || cells[1].parse::<u32>().is_err()
        {
            continue;
        }
        let mut counts = [0usize; 3];
        for part in cells[7].split(',') {
            let (p, n) = part.trim().split_once(':').unwrap();
            let index = p.trim().parse::<Priority>().unwrap().index();
            counts[index] = n.trim().parse().unwrap();
        }
        assert_eq!(counts.iter().sum::<usize>(), cells[6].parse::<usize>().unwrap(), "{line}");
        files.insert(cells[2].to_owned(), counts);
    }
    files
}

#[test]
#[ignore = "needs ../shared: the shared corpus checked out beside this repository"]
fn genesis_corpus_loads_with_zero_errors_and_matches_the_inventory() {
    let inventory = inventory_per_file();
    let corpus = common::shared_corpus("genesis");
    assert_eq!(inventory.len(), 67, "the inventory table has 67 files");

    let report = load_paths(&[corpus], &LoadOptions::default());
    let errors: Vec<String> =
        report.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert!(errors.is_empty(), "errors in the real corpus:\n{}", errors.join("\n"));
    assert_eq!(report.files.len(), 67);
    assert_eq!(report.scenarios.len(), 1626);

    let stats = Stats::of(&report.scenarios);
    assert_eq!((stats.by_priority.p0, stats.by_priority.p1, stats.by_priority.p2), (533, 743, 350));

    for (path, counts) in &stats.by_file {
        let name = path.file_name().unwrap().to_str().unwrap();
        let expected =
            inventory.get(name).unwrap_or_else(|| panic!("{name} is not in the inventory"));
        assert_eq!([counts.p0, counts.p1, counts.p2], *expected, "{name}");
    }
    assert_eq!(stats.by_file.len(), 67);

    // §1.4: the agent table, header first, id prefix only for agents_p0_core.
    let expected_agents = [
        ("analyst_agent", [26, 43, 20]),
        ("builder_agent", [26, 43, 20]),
        ("content_agent", [26, 43, 20]),
        ("deploy_agent", [26, 43, 20]),
        ("email_agent", [26, 42, 20]),
        ("legal_agent", [26, 43, 20]),
        ("marketing_agent", [26, 42, 20]),
        ("qa_agent", [29, 45, 20]),
        ("reflection_agent", [26, 43, 20]),
        ("se_darwin_agent", [26, 43, 20]),
        ("security_agent", [26, 43, 20]),
        ("spec_agent", [26, 43, 20]),
        ("support_agent", [26, 43, 20]),
        ("waltzrl_conversation_agent", [26, 42, 20]),
        ("waltzrl_feedback_agent", [26, 42, 20]),
        ("orchestration", [140, 100, 50]),
    ];
    assert_eq!(stats.by_agent.len(), expected_agents.len(), "{:?}", stats.by_agent.keys());
    for (agent, [p0, p1, p2]) in expected_agents {
        let c = stats.by_agent[agent];
        assert_eq!([c.p0, c.p1, c.p2], [p0, p1, p2], "{agent}");
    }
    for s in &report.scenarios {
        assert!(!s.agent.name.is_empty(), "{} has no agent", s.id);
        let inferred = s.agent.resolved_from == AgentSource::IdPrefix;
        assert_eq!(
            inferred,
            s.source.file.ends_with("agents_p0_core.yaml"),
            "{} resolved from {:?}",
            s.id,
            s.agent.resolved_from
        );
    }

    // 156 categories, and the prototype's prefix rule is not what routes them.
    assert_eq!(stats.by_category.len(), 156);
    let se_darwin = report.scenarios.iter().filter(|s| s.id.starts_with("se_darwin")).count();
    assert!(se_darwin > 0 && report.scenarios.iter().all(|s| s.agent.name != "se_agent"));
}

#[test]
#[ignore = "needs ../shared: the shared corpus checked out beside this repository"]
fn every_b_scenario_gets_real_checks_and_nothing_is_dropped() {
    let corpus = common::shared_corpus("genesis");
    let report = load_paths(&[corpus], &LoadOptions::default());
    let mut assertion_entries = 0;
    let mut rubric_entries = 0;
    for s in &report.scenarios {
        assertion_entries += s.assertions.len();
        rubric_entries += s.rubric.item_count();
        if s.rubric.criteria.is_empty() {
            assert!(!s.rubric.policy_checks.is_empty(), "{}: dialect A has policy checks", s.id);
        } else {
            let contains = s.assertions.iter().filter(|a| a.key == "contains").count();
            assert!(contains >= 1, "{}: dialect B has contains checks", s.id);
            assert!(s.limits.max_latency_ms.is_some() && s.limits.max_tokens.is_some(), "{}", s.id);
        }
    }
    // 5,081 expected_output entries (lists count once per distinct needle) + performance keys.
    assert!(assertion_entries > 5_000, "{assertion_entries}");
    // 1,223 policy checks + 2,644 judge criteria + 3 success criteria at least.
    assert!(rubric_entries >= 1_223 + 2_644 + 3, "{rubric_entries}");
}

#[test]
#[ignore = "needs ../shared: the shared corpus checked out beside this repository"]
fn rogue_files_load_as_driven_conversations() {
    let corpus = common::shared_corpus("rogue");
    let report = load_paths(&[corpus], &LoadOptions::default());
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    assert_eq!(report.files.len(), 3);
    assert_eq!(report.scenarios.len(), 8);
    let echo: Vec<_> =
        report.scenarios.iter().filter(|s| s.id.starts_with("echo_agent_multi_turn")).collect();
    assert_eq!(echo.len(), 2);
    assert!(echo.iter().all(|s| matches!(
        s.conversation,
        rogue_runner::scenario::Conversation::Driven { max_turns: 10, .. }
    )));
    let policy = report.scenarios.iter().find(|s| s.id == "rogue_root_policy_e1c5b56#1").unwrap();
    assert!(policy.rubric.expected_outcome.is_some());
    assert!(policy.rubric.business_context.is_some());
    let injection = report.scenarios.iter().find(|s| s.category == "prompt_injection").unwrap();
    assert_eq!(injection.metadata["dataset"], "qualifire/prompt-injections-benchmark");
}
