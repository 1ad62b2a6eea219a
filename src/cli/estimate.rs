//! `rogue-runner estimate`: the projected LLM cost of a selection, per run and per month, and
//! the assumptions behind it. Nothing is sent anywhere.

use std::fmt::Write as _;
use std::io::Write;

use std::collections::BTreeSet;

use super::args::RunArgs;
use super::select::load_selection;
use super::{CliError, output};
use crate::agent::{AgentClient, AgentEndpoint};
use crate::cost::monthly;
use crate::engine::{Assumptions, Plan, SelectionEstimate, estimate_scenario, lookup_hits};
use crate::model::ExitCode;
use crate::scenario::Scenario;
use crate::store::{RunCache, Store};

pub(super) fn run(
    args: &RunArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let config = super::config::run_config(args)?;
    let scenarios = match load_selection(&config, stderr)? {
        Ok(s) => s.scenarios,
        Err(code) => return Ok(code),
    };
    let cache =
        if args.use_cache { Some(cache_preview(&config, &scenarios, stderr)?) } else { None };
    let authored: Vec<f64> = scenarios.iter().filter_map(|s| s.cost_estimate_usd).collect();
    let setup = &config.judge;
    let judge = setup.judge.as_ref().unwrap_or(&setup.would_use);
    let agent_model = config.options.agent_kind.model();
    let assumptions = Assumptions::default();
    let mut estimate = SelectionEstimate::default();
    // A scenario the cache would reuse costs nothing to run again.
    let would_run =
        scenarios.iter().filter(|s| cache.as_ref().is_none_or(|c| !c.hits.contains(&s.id)));
    for scenario in would_run {
        let e = estimate_scenario(scenario, Some(judge), agent_model, &setup.pricing, &assumptions);
        estimate.add(scenario.priority, &e);
    }
    let mut text = render(&estimate, setup, judge, agent_model, &assumptions);
    // The store the run would read: `--store`/`[store] url` when set, shown redacted.
    let store = config.store.location().display();
    text.push_str(&render_cache(cache.as_ref(), scenarios.len(), &store));
    if !authored.is_empty() {
        let _ = writeln!(
            text,
            "- the scenario files' own `cost_estimate` fields (written by their authors) sum to ${:.4} for {} of {} scenario(s); shown for comparison, used nowhere else",
            authored.iter().sum::<f64>(),
            authored.len(),
            scenarios.len()
        );
    }
    stdout.write_all(output::sanitize(&text).as_bytes())?;
    Ok(ExitCode::Success)
}

fn render(
    e: &SelectionEstimate,
    setup: &crate::session::JudgeSetup,
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
    let _ = writeln!(out, "- prices: {}", setup.pricing.snapshot);
    out
}

/// What `--use-cache` would reuse from the store.
#[derive(Debug, Default)]
struct CachePreview {
    /// Ids of the scenarios the store would answer.
    hits: BTreeSet<String>,
    /// Scenarios looked up (those whose agent answered and that have something to check).
    looked_up: usize,
    /// What the reused outcomes actually cost when they ran.
    saved_usd: f64,
    /// Why fewer scenarios could be looked up than selected.
    notes: Vec<String>,
}

/// The hits a run with `--use-cache` would get, computed as the run does: each agent URL's
/// card is read once (the keys depend on it), then the store is asked. No scenario is sent.
fn cache_preview(
    config: &crate::session::RunConfig,
    scenarios: &[Scenario],
    stderr: &mut dyn Write,
) -> Result<CachePreview, CliError> {
    let location = config.store.location();
    let store = match Store::open_existing_at(&location) {
        Ok(Some(store)) => store,
        Ok(None) => {
            return Ok(CachePreview {
                notes: vec![format!("nothing is recorded in {} yet", location.display())],
                ..CachePreview::default()
            });
        }
        Err(error) => {
            writeln!(stderr, "warning: {error}")?;
            return Ok(CachePreview {
                notes: vec![format!("the store in {} cannot be read", location.display())],
                ..CachePreview::default()
            });
        }
    };
    let plan = Plan::build(scenarios.to_vec(), &config.routing)
        .map_err(|e| super::run::unrouted_error(&e))?;
    let runtime = super::current_thread_runtime()?;
    let options = &config.options;
    let http = crate::http::client(plan.agents.len());
    let probes = runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        let mut urls: Vec<&str> = plan.agents.iter().map(|a| a.url.as_str()).collect();
        urls.sort_unstable();
        urls.dedup();
        for url in urls {
            let endpoint = AgentEndpoint {
                name: String::new(),
                url: url.to_owned(),
                kind: options.agent_kind.clone(),
                auth: options.auth.clone(),
                headers: options.headers.clone(),
            };
            let client = AgentClient::new(endpoint, options.client.clone(), http.clone());
            let url = url.to_owned();
            set.spawn(async move {
                let result = client.probe().await.map(|info| info.card).map_err(|e| e.to_string());
                (url, result)
            });
        }
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(probe) = joined {
                done.push(probe);
            }
        }
        done
    });
    let mut agent_down = vec![Some("not checked".to_owned()); plan.agents.len()];
    let mut cards = vec![None; plan.agents.len()];
    let mut notes = Vec::new();
    for (url, result) in probes {
        for (i, agent) in plan.agents.iter().enumerate().filter(|(_, a)| a.url == url) {
            match &result {
                Ok(card) => {
                    agent_down[i] = None;
                    cards[i].clone_from(card);
                }
                Err(e) => {
                    agent_down[i] = Some(e.clone());
                    notes.push(format!(
                        "agent {} ({}) is unreachable ({e}): its scenarios would error, not hit",
                        agent.name,
                        crate::redact::redact_url(&agent.url)
                    ));
                }
            }
        }
    }
    let cache = RunCache::new(
        store,
        config.store.key_context.clone(),
        config.store.pinning.clone(),
        config.store.cache_ttl,
    );
    let judged =
        config.judge.evaluator == crate::session::Evaluator::Rogue || config.judge.judge.is_some();
    let (hits, misses) = lookup_hits(&cache, &plan, &agent_down, &cards, judged);
    if let Some(error) = cache.take_error() {
        writeln!(stderr, "warning: the cache lookup failed: {error}")?;
    }
    let mut preview = CachePreview { notes, ..CachePreview::default() };
    for (planned, hit) in plan.scenarios.iter().zip(hits) {
        if let Some(hit) = hit {
            preview.saved_usd += hit.saved_usd;
            preview.hits.insert(planned.scenario.id.clone());
        }
    }
    preview.looked_up = preview.hits.len() + misses;
    Ok(preview)
}

/// The result-cache lines of the assumptions. `store` names the store: the `--cache-dir`
/// directory, or the shared store's URL without its credentials.
fn render_cache(cache: Option<&CachePreview>, selected: usize, store: &str) -> String {
    let mut out = String::new();
    let Some(c) = cache else {
        let _ = writeln!(
            out,
            "- result cache: not consulted (add --use-cache to count the hits the store in {store} would give)"
        );
        return out;
    };
    let _ = writeln!(
        out,
        "- result cache (--use-cache): {} of {selected} scenario(s) would be reused from {store} ({} looked up, each agent URL's card read once for the keys); the estimate above covers the {} that would run; the reused results cost ${:.4} when they ran",
        c.hits.len(),
        c.looked_up,
        selected - c.hits.len(),
        c.saved_usd
    );
    for note in &c.notes {
        let _ = writeln!(out, "  - {note}");
    }
    out
}
