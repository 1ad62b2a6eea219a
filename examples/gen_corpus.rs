//! Seeded generator of a synthetic scenario corpus shaped like the Genesis corpus, for
//! benchmarks: `cargo run --release --example gen_corpus -- OUT_DIR [SCENARIOS] [FILES] [SEED]`.
//!
//! Files mix the real layouts (dialect B nested and top-level, dialect A with comparators, and
//! the native format) with realistic field sizes (~800 bytes per scenario, as in Genesis).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::PathBuf;

const AGENTS: &[&str] = &[
    "qa_agent",
    "support_agent",
    "legal_agent",
    "analyst_agent",
    "content_agent",
    "security_agent",
    "builder_agent",
    "deploy_agent",
    "spec_agent",
    "reflection_agent",
    "marketing_agent",
    "email_agent",
];
const CATEGORIES: &[&str] = &[
    "success",
    "edge_case",
    "error_handling",
    "performance",
    "security",
    "integration",
    "compliance",
];
const WORDS: &[&str] = &[
    "refund",
    "policy",
    "validated",
    "success",
    "latency",
    "report",
    "deploy",
    "contract",
    "invoice",
    "summary",
    "pipeline",
    "customer",
    "schema",
    "coverage",
    "incident",
    "campaign",
    "budget",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen_corpus OUT_DIR [SCENARIOS=100000] [FILES=500] [SEED=42]");
        std::process::exit(2);
    };
    let scenarios: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500).max(1);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let mut rng = fastrand::Rng::with_seed(seed);
    if let Err(e) = fs_err::create_dir_all(&out) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let mut bytes = 0usize;
    for file in 0..files {
        let count = scenarios / files + usize::from(file < scenarios % files);
        let agent = AGENTS[file % AGENTS.len()];
        let priority = ["P0", "P1", "P2"][file % 3];
        let text = match file % 4 {
            0 | 1 => dialect_b(&mut rng, file, agent, priority, count, true),
            2 => dialect_a(&mut rng, file, agent, priority, count),
            _ => native(&mut rng, file, agent, priority, count),
        };
        bytes += text.len();
        let path = out.join(format!("{agent}_{file:04}.yaml"));
        if let Err(e) = fs_err::write(&path, text) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    println!(
        "wrote {scenarios} scenarios in {files} files ({:.1} MiB) to {}",
        bytes as f64 / 1_048_576.0,
        out.display()
    );
}

fn words(rng: &mut fastrand::Rng, n: usize) -> Vec<&'static str> {
    (0..n).map(|_| WORDS[rng.usize(..WORDS.len())]).collect()
}

fn sentence(rng: &mut fastrand::Rng, n: usize) -> String {
    words(rng, n).join(" ")
}

fn dialect_b(
    rng: &mut fastrand::Rng,
    file: usize,
    agent: &str,
    priority: &str,
    count: usize,
    nested: bool,
) -> String {
    let mut s = String::new();
    let short = agent.trim_end_matches("_agent");
    let _ = writeln!(
        s,
        "{agent}_{}_{file}:\n  agent: {agent}\n  priority: {priority}\n  total_scenarios: {count}",
        priority.to_lowercase()
    );
    let indent = if nested { "  " } else { "" };
    if nested {
        s.push_str("  scenarios:\n");
    } else {
        s.push_str("scenarios:\n");
    }
    for i in 0..count {
        let category = CATEGORIES[rng.usize(..CATEGORIES.len())];
        let _ = write!(
            s,
            "{indent}- id: {agent}_{}_{file}_{i:05}\n{indent}  name: {} - synthetic test {i}\n{indent}  priority: {priority}\n{indent}  category: {category}\n{indent}  tags:\n{indent}  - {short}\n{indent}  - {}\n{indent}  - {category}\n",
            priority.to_lowercase(),
            agent,
            priority.to_lowercase()
        );
        let _ = write!(
            s,
            "{indent}  input:\n{indent}    prompt: {}\n{indent}    agent: {short}\n{indent}    context:\n{indent}      test_type: {category}\n{indent}      priority: critical\n",
            sentence(rng, 12)
        );
        let needles = words(rng, 3);
        let _ = write!(
            s,
            "{indent}  expected_output:\n{indent}    contains:\n{indent}    - {}\n{indent}    - {}\n{indent}    - {}\n{indent}    min_length: {}\n{indent}    requires_validation: true\n",
            needles[0],
            needles[1],
            needles[2],
            50 + rng.usize(..200)
        );
        let _ = write!(
            s,
            "{indent}  judge:\n{indent}    model: gpt-4o\n{indent}    criteria:\n{indent}    - accuracy\n{indent}    - completeness\n{indent}  performance:\n{indent}    max_latency_ms: {}\n{indent}    max_tokens: 800\n{indent}  cost_estimate: 0.012\n{indent}  description: {} - synthetic {category} test\n",
            1000 * (1 + rng.usize(..10)),
            agent
        );
    }
    s
}

fn dialect_a(
    rng: &mut fastrand::Rng,
    file: usize,
    agent: &str,
    priority: &str,
    count: usize,
) -> String {
    let mut s = format!(
        "# synthetic dialect A file {file}\n{agent}_{file}:\n  agent: {agent}\n  business_context: |\n    {}\n\nscenarios:\n",
        sentence(rng, 20)
    );
    for i in 0..count {
        let category = CATEGORIES[rng.usize(..CATEGORIES.len())];
        let _ = write!(
            s,
            "  - id: \"{agent}_a_{file}_{i:05}\"\n    priority: \"{priority}\"\n    category: \"{category}\"\n    tags: [\"{agent}\", \"{category}\", \"critical\"]\n    description: \"{}\"\n    input:\n      task: \"{}\"\n      requirements: [\"{}\", \"{}\"]\n    expected_output:\n      status: \"success\"\n      test_count: \">={}\"\n      confidence_score: \">0.{}\"\n      response_time: \"<{}s\"\n    policy_checks:\n      - \"{}\"\n      - \"{}\"\n      - \"{}\"\n    cost_estimate: \"$0.0{}\"\n\n",
            sentence(rng, 6),
            sentence(rng, 10),
            sentence(rng, 3),
            sentence(rng, 3),
            1 + rng.usize(..9),
            50 + rng.usize(..49),
            1 + rng.usize(..5),
            sentence(rng, 5),
            sentence(rng, 5),
            sentence(rng, 5),
            1 + rng.usize(..9)
        );
    }
    s
}

fn native(
    rng: &mut fastrand::Rng,
    file: usize,
    agent: &str,
    priority: &str,
    count: usize,
) -> String {
    let mut s = format!(
        "version: 1\nagent: {agent}\nbusiness_context: {}\nscenarios:\n",
        sentence(rng, 15)
    );
    for i in 0..count {
        let category = CATEGORIES[rng.usize(..CATEGORIES.len())];
        let needles = words(rng, 2);
        let _ = write!(
            s,
            "  - id: native_{file}_{i:05}\n    priority: {priority}\n    category: {category}\n    tags: [{category}, synthetic]\n    messages:\n      - {}\n      - {}\n    expect:\n      contains: [{}, {}]\n      not_contains: [error]\n      min_length: {}\n      max_latency_ms: {}\n      fields:\n        status: success\n        score: \">0.{}\"\n    rubric:\n      - {}\n      - {}\n",
            sentence(rng, 10),
            sentence(rng, 8),
            needles[0],
            needles[1],
            20 + rng.usize(..100),
            1000 + rng.usize(..4000),
            rng.usize(10..99),
            sentence(rng, 8),
            sentence(rng, 8)
        );
    }
    s
}
