//! `rogue-runner estimate`: the projected LLM cost of a selection, per run and per month, and
//! the assumptions behind it. Nothing is sent anywhere.

use std::fmt::Write as _;
use std::io::Write;

use super::args::RunArgs;
use super::run::{RunConfig, load_selection};
use super::{CliError, output};
use crate::agent::AgentKind;
use crate::cost::{Assumptions, SelectionEstimate, estimate_scenario, monthly};
use crate::engine::ExitCode;

pub(super) fn run(
    args: &RunArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let config = RunConfig::from_args(args)?;
    let scenarios = match load_selection(&config, stderr)? {
        Ok(s) => s.scenarios,
        Err(code) => return Ok(code),
    };
    let setup = &config.judge;
    let judge = setup.judge.as_ref().unwrap_or(&setup.would_use);
    let agent_model = match &config.options.agent_kind {
        AgentKind::OpenAiChat { model } => Some(model.as_str()),
        _ => None,
    };
    let assumptions = Assumptions::default();
    let mut estimate = SelectionEstimate::default();
    for scenario in &scenarios {
        let e = estimate_scenario(scenario, Some(judge), agent_model, &setup.pricing, &assumptions);
        estimate.add(scenario.priority, &e);
    }
    let text = render(&estimate, setup, judge, agent_model, &assumptions);
    stdout.write_all(output::sanitize(&text).as_bytes())?;
    Ok(ExitCode::Success)
}

fn render(
    e: &SelectionEstimate,
    setup: &super::judge_args::JudgeSetup,
    judge: &crate::judge::JudgeConfig,
    agent_model: Option<&str>,
    a: &Assumptions,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cost estimate for {} scenario(s) (dry run: nothing was sent)\n",
        e.scenarios
    );
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>12} {:>12} {:>14}",
        "priority", "scenarios", "LLM calls", "input tok", "output tok", "per run (USD)"
    );
    for (priority, (n, g)) in &e.by_priority {
        let _ = writeln!(
            out,
            "{:<10} {n:>9} {:>9} {:>12} {:>12} {:>14.4}",
            priority.to_string(),
            g.calls,
            g.usage.input_tokens,
            g.usage.output_tokens,
            g.cost_usd
        );
    }
    let _ = writeln!(
        out,
        "\n{:<40} {:>9} {:>12} {:>12} {:>14}",
        "role:model", "LLM calls", "input tok", "output tok", "per run (USD)"
    );
    for (model, g) in &e.by_model {
        let cost =
            if g.unpriced_calls > 0 { "unknown".to_owned() } else { format!("{:.4}", g.cost_usd) };
        let _ = writeln!(
            out,
            "{model:<40} {:>9} {:>12} {:>12} {cost:>14}",
            g.calls, g.usage.input_tokens, g.usage.output_tokens
        );
    }
    let t = &e.total;
    let _ = writeln!(out, "\nPer run:   ${:.4}", t.cost_usd);
    let _ = writeln!(
        out,
        "Per month: ${:.2} ({} run(s) per day x 30 days; --runs-per-day)",
        monthly(t.cost_pico_usd, setup.runs_per_day),
        setup.runs_per_day
    );
    if let Some(budget) = setup.max_cost {
        let verdict = if t.cost_usd <= budget { "fits" } else { "does NOT fit" };
        let _ = writeln!(out, "Budget:    ${budget:.4} (--max-cost): one run {verdict}");
    }
    if !e.unknown_models.is_empty() {
        let _ = writeln!(
            out,
            "Not priced: {} ({} call(s)): not in the pricing table, so their cost is unknown, not zero; add them with --pricing FILE",
            e.unknown_models.join(", "),
            t.unpriced_calls
        );
    }
    let _ = writeln!(out, "\nAssumptions:");
    let state = if setup.judge.is_some() {
        format!("configured (key: {})", setup.key_source)
    } else {
        format!("not configured now ({}); projected as if it were", setup.key_source)
    };
    let _ = writeln!(
        out,
        "- judge: {state}; models P0 {} / P1 {} / P2 {}{}; a scenario's own judge model wins",
        judge.models.p0,
        judge.models.p1,
        judge.models.p2,
        judge.force_model.as_deref().map_or(String::new(), |m| format!(", all forced to {m}"))
    );
    let _ = writeln!(
        out,
        "- judge: 1 call per scenario with rubric items or an LLM-driven goal; prompt = {} tokens of instructions + scenario, rubric and business context + transcript; {} output tokens; no retries",
        a.judge_instructions, a.judge_output
    );
    let _ = writeln!(
        out,
        "- transcript: user messages as written, each agent reply {} tokens; text at {} characters per token",
        a.agent_reply, a.chars_per_token
    );
    let _ = writeln!(
        out,
        "- driver ({}): LLM-driven conversations use all max_turns turns (worst case), 1 call per turn, {} instruction + {} output tokens, {} tokens per user message",
        judge.driver_model.as_deref().unwrap_or("the judge model"),
        a.driver_instructions,
        a.driver_output,
        a.driven_message
    );
    match agent_model {
        Some(model) => {
            let _ = writeln!(
                out,
                "- agents: OpenAI-compatible ({model}), sent the whole history every turn"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "- agents: A2A or HTTP agents: their own LLM cost is not visible to rogue-runner and not included"
            );
        }
    }
    let _ = writeln!(out, "- no result cache hits; prices: {}", setup.pricing.snapshot);
    out
}
