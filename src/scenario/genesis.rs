//! Genesis dialects A (`policy_checks`) and B (`judge`, `performance`) → [`Scenario`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::agent_alias;
use super::dialect::{FileDialect, nested_lists};
use super::expectation::Expectations;
use super::fields::{
    cost_usd, key_pos, optional_text, optional_u64, required_map, required_text, text_list,
};
use super::file_context::FileContext;
use super::node::{Node, Pos, Typed};
use super::{
    AgentRef, AgentSource, Conversation, DescriptionRole, Dialect, Layout, Limits, Placement,
    Priority, Rubric, Scenario, SourceLocation,
};

/// The [`FileDialect`] of Genesis files: a header mapping naming the agent, and one
/// `scenarios` list at the top level or inside the header. It claims every mapping no other
/// dialect did, so that a file with no list, or two, is told what is wrong.
#[derive(Debug)]
pub(crate) struct Genesis;

/// Keys of a Genesis file that are not the header.
const TAIL_SECTIONS: &[&str] = &["judge_llm", "cost_tracking", "reporting"];

impl FileDialect for Genesis {
    fn detect(&self, root: &Node) -> bool {
        root.as_map().is_some()
    }

    fn normalize(&self, ctx: &mut FileContext<'_>, root: &Node) -> (Option<Layout>, Vec<Scenario>) {
        let entries = root.as_map().unwrap_or_default();
        let nested = nested_lists(root);
        if let Some(list) = root.get("scenarios") {
            if let Some((key, header)) = nested.first() {
                ctx.error(
                    header.get("scenarios").map_or(header.pos, |n| n.pos),
                    format!("`scenarios` appears both at the top level and inside `{key}`"),
                )
                .hint("scenarios-twice", "keep one scenario list per file");
                return (None, Vec::new());
            }
            let Some(items) = list.as_seq() else {
                ctx.error(
                    list.pos,
                    format!("`scenarios` must be a list, found {}", list.describe()),
                );
                return (None, Vec::new());
            };
            let header = entries.iter().find(|(k, v)| {
                let key = k.as_scalar_text().unwrap_or_default();
                key != "scenarios" && !TAIL_SECTIONS.contains(&key) && v.as_map().is_some()
            });
            let header_key = header.and_then(|(k, _)| k.as_scalar_text());
            let header = header.map(|(_, v)| v);
            let mut defaults = header_defaults(ctx, header_key, header);
            // `agent: qa_agent` beside the list names the agent, as in the native format.
            if defaults.agent.is_none()
                && root.get("agent").is_some_and(|a| a.as_str().is_some())
                && let Some(name) = optional_text(ctx, root, "agent")
            {
                defaults.agent = Some((name, optional_text(ctx, root, "url")));
            }
            tail_sections(root, &mut defaults);
            let layout = Layout::new(list_dialect(items), Placement::TopLevel);
            let scenarios = normalize_items(ctx, items, layout, &defaults);
            check_header(ctx, header, &scenarios, items.len());
            return (Some(layout), scenarios);
        }
        match nested.as_slice() {
            [(key, header)] => {
                let Some(items) = header.get("scenarios").and_then(Node::as_seq) else {
                    let pos = header.get("scenarios").map_or(header.pos, |n| n.pos);
                    ctx.error(pos, format!("`{key}.scenarios` must be a list"));
                    return (None, Vec::new());
                };
                let mut defaults = header_defaults(ctx, Some(key), Some(header));
                tail_sections(root, &mut defaults);
                let layout = Layout::new(list_dialect(items), Placement::Nested);
                let scenarios = normalize_items(ctx, items, layout, &defaults);
                check_header(ctx, Some(header), &scenarios, items.len());
                (Some(layout), scenarios)
            }
            [] => {
                let guess = entries.iter().find(|(_, v)| {
                    v.as_seq().is_some_and(|items| items.iter().any(|i| i.get("id").is_some()))
                });
                let recorded = ctx.error(root.pos, "no `scenarios` list found");
                match guess {
                    Some((k, _)) => recorded.hint(
                        "scenarios-list-misnamed",
                        format!(
                            "`{}` holds scenarios: did you mean `scenarios`?",
                            k.as_scalar_text().unwrap_or_default()
                        ),
                    ),
                    None => recorded.hint(
                        "no-scenarios-list",
                        "add a `scenarios:` list at the top level or inside the header",
                    ),
                }
                (None, Vec::new())
            }
            [(first, _), (second, header), ..] => {
                ctx.error(
                    header.pos,
                    format!("both `{first}` and `{second}` hold a `scenarios` list"),
                )
                .hint("two-scenario-lists", "keep one scenario list per file");
                (None, Vec::new())
            }
        }
    }
}

/// The dialect of a whole list: its first item's.
fn list_dialect(items: &[Node]) -> Dialect {
    items.first().map_or(Dialect::GenesisA, dialect_of)
}

/// The Genesis dialect an item is written in.
pub(crate) fn dialect_of(item: &Node) -> Dialect {
    if is_shape_b(item) { Dialect::GenesisB } else { Dialect::GenesisA }
}

/// Every item of a list, with a warning when some agents are only inferred from ids.
fn normalize_items(
    ctx: &mut FileContext<'_>,
    items: &[Node],
    layout: Layout,
    defaults: &FileDefaults,
) -> Vec<Scenario> {
    let scenarios: Vec<Scenario> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| normalize(ctx, item, i, layout, defaults))
        .collect();
    let inferred =
        scenarios.iter().filter(|s| s.agent.resolved_from == AgentSource::IdPrefix).count();
    if inferred > 0 {
        let pos = items.first().map_or(Pos { line: 1, col: 1, offset: 0 }, |n| n.pos);
        ctx.warning(
            pos,
            format!("the agent of {inferred} scenario(s) is inferred from their id prefix"),
        )
        .hint(
            "agent-from-id-prefix",
            "name the agent to be explicit: `agent: qa_agent` above `scenarios:`, or on each scenario",
        );
    }
    warn_unassigned(ctx, items, &scenarios);
    scenarios
}

/// A warning when some scenarios name no agent (and their id gives none): they load, and a
/// run sends them where `--agent default=URL` or `--agent '*=URL'` says.
pub(crate) fn warn_unassigned(ctx: &mut FileContext<'_>, items: &[Node], scenarios: &[Scenario]) {
    // Rogue items (in a bare list) never name an agent: the format has no place for one.
    let unassigned = scenarios
        .iter()
        .filter(|s| s.agent.name.is_empty() && s.source.layout.dialect != Dialect::Rogue)
        .count();
    if unassigned > 0 {
        let pos = items.first().map_or(Pos { line: 1, col: 1, offset: 0 }, |n| n.pos);
        ctx.warning(pos, format!("{unassigned} scenario(s) name no agent"))
            .hint(
                "agent-unnamed",
                "name it (`agent: qa_agent` above `scenarios:`, or on each scenario), or run with --agent default=URL",
            );
    }
}

/// What the file header and tail sections give every scenario of a file.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileDefaults {
    /// Agent named by the header: name and optional URL.
    pub agent: Option<(String, Option<String>)>,
    pub priority: Option<Priority>,
    pub business_context: Option<String>,
    /// `judge_llm.model` of dialect-A files.
    pub judge_model: Option<String>,
    /// Header fields (minus `scenarios`) and tail sections, kept as metadata.
    pub metadata: BTreeMap<String, Value>,
}

/// Keys a Genesis scenario may have; anything else is kept as metadata with a warning.
const KNOWN_KEYS: &[&str] = &[
    "id",
    "name",
    "priority",
    "category",
    "tags",
    "description",
    "input",
    "expected_output",
    "policy_checks",
    "success_criteria",
    "judge",
    "performance",
    "cost_estimate",
    "agent",
    "url",
];

/// Whether an item is dialect B (judge-style).
pub(crate) fn is_shape_b(item: &Node) -> bool {
    item.get("judge").is_some() || item.get("performance").is_some() || item.get("name").is_some()
}

/// Reads the priority exactly (`P0`, `P1`, `P2`).
pub(crate) fn priority(ctx: &mut FileContext<'_>, item: &Node) -> Option<Priority> {
    let text = required_text(ctx, item, "priority", "the scenario")?;
    match text.parse::<Priority>() {
        Ok(p) => Some(p),
        Err(e) => {
            let value_pos = item.get("priority").map_or(item.pos, |n| n.pos);
            let upper = text.trim().to_ascii_uppercase();
            let recorded = ctx.error(value_pos, e.to_string());
            if upper.parse::<Priority>().is_ok() {
                recorded.hint(
                    "priority-lower-case",
                    format!("priorities are upper case: write `{upper}`"),
                );
            } else {
                recorded.hint(
                    "priority-unknown",
                    "use P0 (critical), P1 (important) or P2 (edge cases)",
                );
            }
            None
        }
    }
}

/// Normalize one Genesis scenario. `None` when it has errors (all of them are recorded).
pub(crate) fn normalize(
    ctx: &mut FileContext<'_>,
    item: &Node,
    index: usize,
    layout: Layout,
    defaults: &FileDefaults,
) -> Option<Scenario> {
    if item.as_map().is_none() {
        ctx.error(item.pos, format!("a scenario must be a mapping, found {}", item.describe()))
            .hint("scenario-not-a-mapping", "each list item needs `id:`, `priority:`, `category:`, `description:`, `input:` and `expected_output:`");
        return None;
    }
    let errors_before = ctx.error_count();
    let shape_b = is_shape_b(item);

    let id = required_text(ctx, item, "id", "the scenario");
    if let Some(id) = &id
        && id.trim().is_empty()
    {
        ctx.error(key_pos(item, "id"), "`id` is empty")
            .hint("empty-id", "give the scenario a unique id");
    }
    let priority = priority(ctx, item);
    let category = required_text(ctx, item, "category", "the scenario");
    let description = required_text(ctx, item, "description", "the scenario");
    let title = optional_text(ctx, item, "name");
    let tags = dedup_tags(ctx, item);
    let input = required_map(ctx, item, "input", "the scenario");
    let expected = required_map(ctx, item, "expected_output", "the scenario");

    let mut rubric = Rubric {
        model: defaults.judge_model.clone(),
        business_context: defaults.business_context.clone(),
        policy_checks: text_list(ctx, item, "policy_checks"),
        success_criteria: text_list(ctx, item, "success_criteria"),
        ..Rubric::default()
    };
    let mut metadata = defaults.metadata.clone();

    if let Some(judge) = item.get("judge") {
        if judge.as_map().is_some() {
            if let Some(model) = optional_text(ctx, judge, "model") {
                rubric.model = Some(model);
            }
            rubric.criteria = text_list(ctx, judge, "criteria");
            for (k, v) in judge.as_map().unwrap_or_default() {
                let key = k.as_scalar_text().unwrap_or_default();
                if key != "model" && key != "criteria" {
                    metadata.insert(format!("judge.{key}"), v.to_json());
                }
            }
        } else {
            ctx.error(
                judge.pos,
                format!(
                    "`judge` must be a mapping with `model` and `criteria`, found {}",
                    judge.describe()
                ),
            );
        }
    }

    let mut expectations =
        expected.map(|e| Expectations::from_expected_output(ctx, e)).unwrap_or_default();
    let mut limits = Limits::default();
    if let Some(perf) = item.get("performance") {
        if perf.as_map().is_some() {
            if let Some(ms) = optional_u64(ctx, perf, "max_latency_ms") {
                limits.max_latency_ms = Some(ms);
                expectations.add_latency_limit("performance.max_latency_ms", ms.to_string(), ms);
            }
            if let Some(max) = optional_u64(ctx, perf, "max_tokens") {
                limits.max_tokens = Some(max);
                expectations.add_token_limit("performance.max_tokens", max.to_string(), max);
            }
            for (k, v) in perf.as_map().unwrap_or_default() {
                let key = k.as_scalar_text().unwrap_or_default();
                if key != "max_latency_ms" && key != "max_tokens" {
                    metadata.insert(format!("performance.{key}"), v.to_json());
                }
            }
        } else {
            ctx.error(
                perf.pos,
                format!("`performance` must be a mapping, found {}", perf.describe()),
            );
        }
    }
    rubric.expectations = expectations.rubric;

    let cost_estimate_usd = item.get("cost_estimate").and_then(|v| {
        let cost = cost_usd(ctx, v);
        if cost.is_none() {
            metadata.insert("cost_estimate".to_owned(), v.to_json());
        }
        cost
    });

    for (k, v) in item.as_map().unwrap_or_default() {
        let key = k.as_scalar_text().unwrap_or_default();
        if !KNOWN_KEYS.contains(&key) {
            ctx.warning(k.pos, format!("unknown key `{key}` is kept as metadata"))
                .hint("unknown-key", "check the spelling; known keys are id, name, priority, category, tags, description, input, expected_output, policy_checks, success_criteria, judge, performance, cost_estimate");
            metadata.insert(key.to_owned(), v.to_json());
        }
    }

    let (message, payload) = input.map(|input| split_input(input, shape_b)).unwrap_or_default();
    let agent = id.as_deref().and_then(|id| resolve_agent(ctx, item, input, id, shape_b, defaults));
    if let Some(id) = &id
        && agent.as_ref().is_some_and(|a| a.name == "orchestration")
        && let Some(prefix) = agent_alias::id_prefix(id)
        && ["htdag", "halo", "aop", "daao"].contains(&prefix)
    {
        metadata.insert("component".to_owned(), Value::String(prefix.to_owned()));
    }

    if ctx.error_count() > errors_before {
        return None;
    }
    Some(Scenario {
        id: id?,
        priority: priority?,
        category: category?,
        tags,
        title,
        description: description?,
        description_is: DescriptionRole::Context,
        agent: agent?,
        conversation: Conversation::Scripted { messages: vec![message] },
        payload,
        assertions: expectations.assertions,
        rubric,
        limits,
        cost_estimate_usd,
        source: SourceLocation {
            file: ctx.path(),
            line: item.pos.line,
            col: item.pos.col,
            layout,
            index,
        },
        metadata,
    })
}

/// Tags, deduplicated with a warning (7 corpus scenarios repeat one).
pub(crate) fn dedup_tags(ctx: &mut FileContext<'_>, item: &Node) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in text_list(ctx, item, "tags") {
        if tags.contains(&tag) {
            ctx.warning(
                key_pos(item, "tags"),
                format!("tag `{tag}` is listed twice; counted once"),
            );
        } else {
            tags.push(tag);
        }
    }
    tags
}

/// The message sent to the agent, and the rest of `input` as a payload.
///
/// The message is `input.prompt` or `input.task` when it is text, else the whole input as JSON
/// (176 corpus scenarios carry only structured input, e.g. `{ticket, customer_tier}`).
fn split_input(input: &Node, shape_b: bool) -> (String, Value) {
    let text_of = |key: &str| input.get(key).and_then(Node::as_str).map(str::to_owned);
    let (message, used) = match text_of("prompt") {
        Some(prompt) => (prompt, Some("prompt")),
        None => match text_of("task") {
            Some(task) => (task, Some("task")),
            None => (input.to_json().to_string(), None),
        },
    };
    let mut payload = serde_json::Map::new();
    for (k, v) in input.as_map().unwrap_or_default() {
        let key = k.as_scalar_text().unwrap_or_default();
        // In dialect B `input.agent` is a routing hint; in A it is payload.
        if Some(key) == used || (shape_b && key == "agent") {
            continue;
        }
        payload.insert(key.to_owned(), v.to_json());
    }
    let payload = if payload.is_empty() { Value::Null } else { Value::Object(payload) };
    (message, payload)
}

/// Header first, then the scenario's own `agent`/`url`, then the id prefix (design §3).
fn resolve_agent(
    ctx: &mut FileContext<'_>,
    item: &Node,
    input: Option<&Node>,
    id: &str,
    shape_b: bool,
    defaults: &FileDefaults,
) -> Option<AgentRef> {
    if let Some(name) = optional_text(ctx, item, "agent") {
        let url = optional_text(ctx, item, "url");
        return Some(AgentRef { name, url, resolved_from: AgentSource::Scenario });
    }
    if let Some((name, url)) = &defaults.agent {
        if shape_b && let Some(short) = input.and_then(|i| i.get("agent")).and_then(Node::as_str) {
            let hinted = agent_alias::agent_for_short_name(short);
            if hinted != *name && short != name {
                let pos = input.and_then(|i| i.get("agent")).map_or(item.pos, |n| n.pos);
                ctx.error(pos, format!("`input.agent: {short}` names `{hinted}`, but the file header names `{name}`"))
                    .hint("input-agent-mismatch", "make `input.agent` match the header's agent, or move the scenario to that agent's file");
                return None;
            }
        }
        return Some(AgentRef {
            name: name.clone(),
            url: url.clone(),
            resolved_from: AgentSource::FileHeader,
        });
    }
    // Nothing names the agent: the scenario is unassigned, as a Rogue scenario is, and the
    // run sends it where `--agent default=URL` (or `*=URL`) says; without either the run
    // refuses to start and says so. An error here would make such files unrunnable.
    let (name, resolved_from) = match agent_alias::agent_for_id(id) {
        Some(name) => (name, AgentSource::IdPrefix),
        None => (String::new(), AgentSource::Default),
    };
    Some(AgentRef { name, url: None, resolved_from })
}

/// Reads the defaults from a Genesis header mapping.
pub(crate) fn header_defaults(
    ctx: &mut FileContext<'_>,
    key: Option<&str>,
    header: Option<&Node>,
) -> FileDefaults {
    let mut defaults = FileDefaults::default();
    let Some(header) = header else { return defaults };
    // The template's header *is* the agent: `agent: {name, url, business_context}`.
    let header_is_agent = key == Some("agent") && header.get("name").is_some();
    if header_is_agent && let Some(name) = optional_text(ctx, header, "name") {
        defaults.agent = Some((name, optional_text(ctx, header, "url")));
    }
    match header.get("agent") {
        _ if header_is_agent => {}
        Some(agent) if agent.as_map().is_some() => {
            if let Some(name) = optional_text(ctx, agent, "name") {
                defaults.agent = Some((name, optional_text(ctx, agent, "url")));
            }
            if let Some(bc) = agent.get("business_context").and_then(Node::as_str) {
                defaults.business_context = Some(bc.to_owned());
            }
        }
        Some(agent) => {
            if let Some(name) = optional_text(ctx, header, "agent") {
                defaults.agent = Some((name, optional_text(ctx, header, "url")));
            } else {
                let _ = agent;
            }
        }
        None => {
            if let Some(name) = header.get("name").and_then(Node::as_str)
                && name.starts_with("orchestration")
            {
                defaults.agent =
                    Some(("orchestration".to_owned(), optional_text(ctx, header, "url")));
            }
        }
    }
    if let Some(p) = header.get("priority") {
        if let Some(Typed::Str(text)) = p.typed() {
            match text.parse() {
                Ok(priority) => defaults.priority = Some(priority),
                Err(e) => {
                    ctx.error(p.pos, format!("header {e}"))
                        .hint("header-priority", "use P0, P1 or P2");
                }
            }
        }
    }
    if let Some(bc) = header.get("business_context").and_then(Node::as_str) {
        defaults.business_context = Some(bc.to_owned());
    }
    let mut kept = serde_json::Map::new();
    if let Some(key) = key {
        kept.insert("key".to_owned(), Value::String(key.to_owned()));
    }
    for (k, v) in header.as_map().unwrap_or_default() {
        let name = k.as_scalar_text().unwrap_or_default();
        if name != "scenarios" {
            kept.insert(name.to_owned(), v.to_json());
        }
    }
    if !kept.is_empty() {
        defaults.metadata.insert("header".to_owned(), Value::Object(kept));
    }
    defaults
}

/// Tail sections (`judge_llm`, `cost_tracking`, `reporting`) of dialect-A files.
pub(crate) fn tail_sections(root: &Node, defaults: &mut FileDefaults) {
    for key in ["judge_llm", "cost_tracking", "reporting"] {
        if let Some(section) = root.get(key) {
            if key == "judge_llm"
                && let Some(model) = section.get("model").and_then(Node::as_str)
            {
                defaults.judge_model = Some(model.to_owned());
            }
            defaults.metadata.insert(format!("file.{key}"), section.to_json());
        }
    }
}

/// Header checks once all scenarios are read: declared count and priority.
pub(crate) fn check_header(
    ctx: &mut FileContext<'_>,
    header: Option<&Node>,
    scenarios: &[Scenario],
    listed: usize,
) {
    let Some(header) = header else { return };
    if let Some(total) = header.get("total_scenarios")
        && let Some(Typed::Int(declared)) = total.typed()
        && declared as usize != listed
    {
        ctx.warning(
            total.pos,
            format!("the header says {declared} scenarios, the file lists {listed}"),
        )
        .hint("total-scenarios-mismatch", "update `total_scenarios`");
    }
    if let Some(p) = header.get("priority")
        && let Some(Typed::Str(text)) = p.typed()
        && let Ok(priority) = text.parse::<Priority>()
    {
        let differing = scenarios.iter().filter(|s| s.priority != priority).count();
        if differing > 0 {
            ctx.warning(
                p.pos,
                format!(
                    "the header says {priority} but {differing} scenario(s) have another priority"
                ),
            );
        }
    }
}
