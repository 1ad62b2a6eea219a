//! `cache why ID`: whether a run with the same flags would be served from the cache.

use std::io::Write;

use super::{aligned, fmt_time, open_existing, store_error};
use crate::cli::args::WhyArgs;
use crate::cli::{CliError, output};
use crate::model::ExitCode;
use crate::store::{StoredEntry, key_parts, within_ttl};

/// `cache why ID`: the key a run with these flags would compute for scenario ID, part by part,
/// against the closest entry stored for it.
pub(super) fn why(
    args: &WhyArgs,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let config = crate::cli::config::run_config(&args.run)?;
    let scenarios = match crate::cli::select::load_selection(&config, stderr)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let plan = crate::engine::Plan::build(scenarios.scenarios, &config.routing)
        .map_err(|e| crate::cli::run::unrouted_error(&e))?;
    let Some(planned) = plan.scenarios.iter().find(|p| p.scenario.id == args.scenario) else {
        return Err(CliError::usage(
            format!("no scenario `{}` in the selected scenarios", args.scenario),
            format!(
                "`rogue-runner list {}` shows the ids",
                crate::cli::select::shell_paths(&config.paths)
            ),
        ));
    };
    let agent = &plan.agents[planned.agent];
    let card = agent_card(&config, agent)?;
    let pinning = &config.store.pinning;
    let identity = pinning.identity(&agent.name, card.as_ref().ok().and_then(Option::as_ref));
    let parts = key_parts(
        &planned.scenario,
        &agent.url,
        card.as_ref().ok().and_then(Option::as_ref),
        &identity,
        &config.store.key_context,
    );
    let key = parts.key();
    let store = open_existing(&config.store.location())?;
    let (entries, verdicts) = match &store {
        Some(store) => (
            store.cache_entries_for(&args.scenario).map_err(|e| store_error(&e))?,
            store.judge_entries_for(&args.scenario).map_err(|e| store_error(&e))?,
        ),
        None => (Vec::new(), 0),
    };
    let now = crate::store::now_ms();
    let ttl = config.store.cache_ttl;
    writeln!(
        out,
        "scenario {} ({}:{}), agent {} at {}",
        output::sanitize(&args.scenario),
        planned.scenario.source.file.display(),
        planned.scenario.source.line,
        output::sanitize(&agent.name),
        crate::redact::redact_url(&agent.url)
    )?;
    if let Err(problem) = &card {
        writeln!(
            out,
            "note: the agent check failed ({problem}); a run would report its scenarios as \
             errors without looking anything up"
        )?;
    }
    // The entry with this very key, else the one with the most parts in common (newest first
    // on a tie: the entries come newest first).
    let exact = entries.iter().find(|e| e.key == key.as_str());
    let closest = exact.or_else(|| {
        entries
            .iter()
            .filter(|e| e.parts.is_some())
            .rev()
            .max_by_key(|e| {
                e.parts.as_ref().map_or(0, |stored| {
                    parts
                        .0
                        .iter()
                        .filter(|p| stored.get(&p.name).is_some_and(|s| s.digest == p.digest))
                        .count()
                })
            })
            .or_else(|| entries.first())
    });
    let differing: Vec<&str> = closest
        .and_then(|e| e.parts.as_ref())
        .map(|stored| {
            parts
                .0
                .iter()
                .filter(|p| stored.get(&p.name).is_none_or(|s| s.digest != p.digest))
                .map(|p| p.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let fresh = |e: &StoredEntry| within_ttl(e.created_ms, ttl, now);
    let ttl_text = humantime::format_duration(ttl).to_string();
    let verdict = if identity.is_pinned() {
        match (exact, closest) {
            (Some(e), _) if fresh(e) => format!(
                "HIT: the whole outcome ({}) would be reused, the agent not called",
                e.status
            ),
            (Some(_), _) => {
                format!("MISS: the entry with this key is older than --cache-ttl {ttl_text}")
            }
            (None, None) => "MISS: nothing is stored for this scenario".to_owned(),
            (None, Some(_)) if differing.is_empty() => {
                "MISS: the stored entries were written by an older rogue-runner".to_owned()
            }
            (None, Some(_)) => format!("MISS: the key differs in {}", differing.join(", ")),
        }
    } else {
        "MISS: the agent's identity is not pinned, so it is always called (pin it with \
         --agent-version VALUE, or --trust-card-version if its card's version changes with \
         every deploy)"
            .to_owned()
    };
    let verdict = if config.store.use_cache {
        verdict
    } else {
        format!("{verdict} (with --use-cache; these flags have none, so nothing is reused)")
    };
    writeln!(out, "outcome cache: {verdict}")?;
    if let Some(entry) = closest {
        let age = humantime::format_duration(std::time::Duration::from_secs(
            u64::try_from(now.saturating_sub(entry.created_ms) / 1000).unwrap_or(0),
        ));
        let stored_at = jiff::Timestamp::from_millisecond(entry.created_ms)
            .map_or_else(|_| String::new(), |t| fmt_time(&t.to_string()));
        let which = if exact.is_some() { "the entry with this key" } else { "the closest entry" };
        writeln!(
            out,
            "compared with {which} ({} stored for this scenario): {}, stored {stored_at} UTC, \
             {age} ago",
            entries.len(),
            entry.status,
        )?;
        let mut rows = vec![vec![
            "  ".to_owned(),
            "PART".to_owned(),
            "THIS RUN".to_owned(),
            "STORED".to_owned(),
        ]];
        for part in &parts.0 {
            let stored = entry.parts.as_ref().and_then(|s| s.get(&part.name));
            rows.push(vec![
                if stored.is_some_and(|s| s.digest == part.digest) {
                    "  same".to_owned()
                } else {
                    "  DIFFERS".to_owned()
                },
                part.name.clone(),
                output::sanitize(&part.shown),
                stored.map_or_else(|| "(not recorded)".to_owned(), |s| output::sanitize(&s.shown)),
            ]);
        }
        rows.push(vec![
            if fresh(entry) { "  ok".to_owned() } else { "  EXPIRED".to_owned() },
            "TTL".to_owned(),
            format!("--cache-ttl {ttl_text}"),
            if fresh(entry) { "within it".to_owned() } else { "expired".to_owned() },
        ]);
        aligned(out, &rows)?;
    }
    writeln!(
        out,
        "judge cache: {verdicts} verdict(s) stored for this scenario; one is reused when the \
         agent gives the very same conversation, judged by the same model and prompts"
    )?;
    Ok(ExitCode::Success)
}

/// The card of `agent`, fetched as a run's agent check would (`Ok(None)`: it has none).
fn agent_card(
    config: &crate::session::RunConfig,
    agent: &crate::engine::AgentTarget,
) -> Result<Result<Option<serde_json::Value>, String>, CliError> {
    let runtime = crate::cli::current_thread_runtime()?;
    let endpoint = crate::agent::AgentEndpoint {
        name: agent.name.clone(),
        url: agent.url.clone(),
        kind: config.options.agent_kind.clone(),
        auth: config.options.auth.clone(),
        headers: config.options.headers.clone(),
    };
    let client = crate::agent::AgentClient::new(
        endpoint,
        config.options.client.clone(),
        crate::http::client(1),
    );
    Ok(runtime.block_on(client.probe()).map(|info| info.card).map_err(|e| e.to_string()))
}
