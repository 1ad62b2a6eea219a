//! `--evaluator rogue`: each scenario becomes one job on a running Rogue server (REST API,
//! `POST /api/v1/evaluations`, then `GET /api/v1/evaluations/{job_id}` until it ends), and
//! the job's result becomes our outcome. Rogue runs the scenarios of one job one after the
//! other; one job per scenario, many at once (`--parallel`), is how we get concurrency.
//!
//! Rogue echoes the whole request, judge API key included, in every job it returns: nothing
//! of the job is stored except the verdict, the reason and the transcript, all scrubbed.
//!
//! What Rogue 0.6.4 (PyPI `rogue-ai`) can and cannot take, checked against the real server
//! (`tests/fixtures/rogue/`): see [`unsupported_protocol`] and [`run_warnings`] for what is
//! refused or said up front, [`RogueEvaluator::litellm_model`] for model names, and
//! [`RogueEvaluator::evaluate`] for what becomes an `error` rather than a verdict.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::agent::{AgentEndpoint, AgentKind, Auth};
use crate::http::{Peer, one_line};
use crate::model::{JudgeRuling, Role, TranscriptEntry};
use crate::redact::redact_url;
use crate::scenario::{Conversation, DescriptionRole, Scenario};
use crate::secret::Secret;

/// The longest a job is waited for (the Rogue SDK's own limit).
const JOB_TIMEOUT: Duration = Duration::from_secs(3000);
/// The first wait between two polls of a job; each next wait is half as long again, up to
/// the poll interval. A job of one scenario often takes a fifth of a second: a fixed 1 s
/// poll would cost most of a second per scenario at `--parallel 1`. Growing by half rather
/// than doubling keeps a job that ends between two polls waiting at most a third of its
/// own time (a doubling would let a 0.36 s job wait 0.4 s more).
const FIRST_POLL: Duration = Duration::from_millis(50);
/// Rogue 0.6.4's A2A client timeout, fixed (not configurable through its API).
pub const ROGUE_AGENT_TIMEOUT: Duration = Duration::from_secs(30);
/// What Rogue records as the agent's reply when the reply has no text (a JSON-RPC error).
const NOT_A_TEXT_RESPONSE: &str = "Not a text response";
/// Where Rogue 0.6.4 (a2a-sdk 0.2.10) reads the agent card, and nowhere else.
const ROGUE_CARD_PATH: &str = "/.well-known/agent.json";
/// Each request to the Rogue server, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read from the Rogue server.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How to reach the Rogue server and what to tell it.
#[derive(Debug, Clone)]
pub struct RogueEvaluator {
    /// `http://localhost:8000` (the API is under `/api/v1`).
    pub server: String,
    /// litellm model string for Rogue's judge (`openai/gpt-4o`); `None`: Rogue's default.
    pub judge_model: Option<String>,
    pub judge_api_key: Option<Secret>,
    /// Sent as `judge_llm_api_base` (OpenAI-compatible base URL).
    pub judge_api_base: Option<String>,
    /// Sent as `judge_llm_api_version` (Azure OpenAI's api-version).
    pub judge_api_version: Option<String>,
    /// The longest wait between two polls of a job (the first is 50 ms, then it doubles).
    pub poll_interval: Duration,
    pub http: reqwest::Client,
    /// Picks the judge model per scenario as our judge would (`--judge-model`, the scenario's
    /// own, per priority).
    pub models: Option<crate::judge::JudgeConfig>,
    /// `GET /api/v1/health`, checked once for the whole run: a server that is down fails
    /// every scenario at once with the same message.
    pub health: Arc<OnceCell<Result<(), String>>>,
    /// Per A2A agent URL: whether the card is where Rogue reads it, checked once.
    pub cards: CardChecks,
}

/// One check per agent URL, shared by the scenarios that run at once.
pub type CardChecks = Arc<Mutex<HashMap<String, Arc<OnceCell<Result<(), String>>>>>>;

/// What Rogue decided about one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RogueResult {
    pub ruling: JudgeRuling,
    pub transcript: Vec<TranscriptEntry>,
    /// The agent failed inside Rogue's conversation (it answered none of Rogue's messages,
    /// or answered with an error): the outcome is an `error` with this reason, whatever
    /// Rogue's judge ruled on the one-sided transcript.
    pub agent_failure: Option<String>,
}

/// Rogue's `protocol` and `transport` for an agent of `kind`, or why Rogue cannot talk to it.
pub fn protocol_of(kind: &AgentKind) -> Result<(&'static str, &'static str), String> {
    match kind {
        AgentKind::A2a => Ok(("a2a", "http")),
        AgentKind::OpenAiChat { .. } => Ok(("openai_api", "chat_completions")),
        AgentKind::HttpJson { .. } => Err(unsupported_protocol()),
    }
}

/// Why `--agent-protocol http-json` is refused with `--evaluator rogue`.
pub fn unsupported_protocol() -> String {
    "Rogue 0.6.4 cannot talk to an http-json agent (it speaks a2a, mcp, openai_api and python)"
        .to_owned()
}

/// What Rogue 0.6.4 does differently from our own run with these settings: one line each,
/// said once, up front. `timeout` is `--timeout`; `driver_model` is `--driver-model`.
pub fn run_warnings(
    scenarios: &[Scenario],
    kind: &AgentKind,
    auth: &Auth,
    driver_model: Option<&str>,
    timeout: Duration,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(model) = driver_model {
        warnings.push(format!(
            "--driver-model {model} has no effect with --evaluator rogue: Rogue's driver uses \
             the judge model; drop --driver-model or use --evaluator llm"
        ));
    }
    if timeout != ROGUE_AGENT_TIMEOUT {
        warnings.push(format!(
            "--timeout {} has no effect with --evaluator rogue: Rogue 0.6.4 waits a fixed 30s \
             for each agent reply (--scenario-timeout still bounds each job)",
            humantime::format_duration(timeout)
        ));
    }
    if let AgentKind::OpenAiChat { model } = kind {
        warnings.push(format!(
            "--agent-model {model} is not passed on: Rogue 0.6.4 names the model \
             `evaluated-agent` in every request to the agent"
        ));
    }
    if let Auth::ApiKey { header, .. } = auth
        && !header.eq_ignore_ascii_case("x-api-key")
    {
        warnings.push(format!(
            "--auth api-key:{header}: Rogue 0.6.4 always sends the key as X-API-Key, not {header}"
        ));
    }
    let scripted: Vec<&str> = scenarios
        .iter()
        .filter(|s| matches!(&s.conversation, Conversation::Scripted { messages } if !messages.is_empty()))
        .filter(|s| s.description_is != DescriptionRole::Policy)
        .map(|s| s.id.as_str())
        .collect();
    if !scripted.is_empty() {
        warnings.push(format!(
            "{} scenario(s) have scripted user messages ({}{}): Rogue cannot send them as \
             written; its driver LLM rephrases them toward the scenario's goal, and the \
             deterministic checks run on the replies to its messages. Use --evaluator llm to \
             send them verbatim",
            scripted.len(),
            scripted.iter().take(3).copied().collect::<Vec<_>>().join(", "),
            if scripted.len() > 3 { ", …" } else { "" }
        ));
    }
    let injections = scenarios.iter().filter(|s| s.rubric.scenario_type.is_some()).count();
    if injections > 0 {
        warnings.push(format!(
            "{injections} scenario(s) are prompt_injection: Rogue 0.6.4 converses but returns \
             no result for them (its judge step drops the dataset), so they are reported as \
             errors"
        ));
    }
    warnings
}

/// The waits between polls: 50 ms, then each half as long again, never over `cap`.
fn next_wait(previous: Option<Duration>, cap: Duration) -> Duration {
    match previous {
        None => FIRST_POLL.min(cap),
        Some(wait) => (wait + wait / 2).min(cap),
    }
}

impl RogueEvaluator {
    /// A litellm model string for `model`. Names with a provider (`openai/gpt-4o`) stay as
    /// they are. With Azure's api-version set, a bare name is an Azure deployment
    /// (`azure/NAME`); with a judge base URL, it is a model of that OpenAI-compatible endpoint
    /// (`openai/NAME`: litellm would send `gemini/…` to Google's own API shape). Otherwise the
    /// provider is guessed from the name (`gemini-2.5-flash` → `gemini/gemini-2.5-flash`).
    pub fn litellm_model(model: &str, api_base: Option<&str>, api_version: Option<&str>) -> String {
        if model.contains('/') {
            model.to_owned()
        } else if api_version.is_some() {
            format!("azure/{model}")
        } else if api_base.is_some() {
            format!("openai/{model}")
        } else if model.starts_with("gemini") {
            format!("gemini/{model}")
        } else if model.starts_with("claude") {
            format!("anthropic/{model}")
        } else {
            format!("openai/{model}")
        }
    }

    /// [`Self::litellm_model`] with this evaluator's base URL and api-version.
    fn model_name(&self, model: &str) -> String {
        Self::litellm_model(
            model,
            self.judge_api_base.as_deref(),
            self.judge_api_version.as_deref(),
        )
    }

    /// Runs `scenario` against `agent` on the Rogue server and waits for it. An `Err` is an
    /// `error` outcome: Rogue could not be asked, the job failed, Rogue returned no result
    /// (it drops some scenarios without one), or Rogue could not reach the agent's card.
    pub async fn evaluate(
        &self,
        scenario: &Scenario,
        agent: &AgentEndpoint,
    ) -> Result<RogueResult, String> {
        self.health
            .get_or_init(|| async {
                let url = format!("{}/api/v1/health", self.server.trim_end_matches('/'));
                self.send(self.http.get(&url)).await.map(|_| ())
            })
            .await
            .clone()?;
        if agent.kind == AgentKind::A2a {
            self.check_card(agent).await?;
        }
        let model = self.models.as_ref().map(|c| crate::judge::llm::model_for(c, scenario));
        let judge_model = model.as_deref();
        let base = format!("{}/api/v1/evaluations", self.server.trim_end_matches('/'));
        let request = self.request(scenario, agent, judge_model)?;
        let created = self.send(self.http.post(&base).json(&request)).await?;
        let job_id = created
            .get("job_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Rogue answered without a job_id: {}", self.quote(&created)))?
            .to_owned();
        let url = format!("{base}/{job_id}");
        let deadline = crate::http::deadline_after(JOB_TIMEOUT);
        let mut wait = None;
        loop {
            // The job runs in the background on the server: it is never done at once.
            let next = next_wait(wait, self.poll_interval);
            wait = Some(next);
            tokio::time::sleep(next).await;
            let job = self.send(self.http.get(&url)).await?;
            match job.get("status").and_then(Value::as_str).unwrap_or("") {
                "completed" => return self.result_of(&job, scenario, judge_model),
                "failed" | "cancelled" => {
                    let message =
                        job.get("error_message").and_then(Value::as_str).unwrap_or("no message");
                    return Err(self.job_failure(&job_id, &job, message, scenario));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(format!("Rogue job {job_id} did not finish within {JOB_TIMEOUT:?}"));
            }
        }
    }

    /// Why a job that ended `failed` or `cancelled` gave no verdict.
    fn job_failure(&self, job_id: &str, job: &Value, message: &str, scenario: &Scenario) -> String {
        let status = job.get("status").and_then(Value::as_str).unwrap_or("");
        let message = self.scrub(&one_line(message, 300));
        if message.contains("no results were generated") {
            return no_result(scenario, &format!("job {job_id} ended as {status}: {message}"));
        }
        format!("Rogue job {job_id} ended as {status}: {message}")
    }

    /// Rogue 0.6.4 fetches the card of an A2A agent itself, only from
    /// `/.well-known/agent.json`, with the run's credentials; an agent that serves only the
    /// newer `agent-card.json` passes our own check and then fails every turn inside Rogue.
    /// Checked once per URL, so that it is an `error` saying so rather than a verdict on a
    /// conversation the agent never saw.
    async fn check_card(&self, agent: &AgentEndpoint) -> Result<(), String> {
        let cell = match self.cards.lock() {
            Ok(mut cards) => Arc::clone(cards.entry(agent.url.clone()).or_default()),
            Err(_) => return Ok(()),
        };
        cell.get_or_init(|| async {
            let url = format!("{}{ROGUE_CARD_PATH}", agent.url.trim_end_matches('/'));
            let shown = redact_url(&url);
            let mut request = self.http.get(&url).timeout(ROGUE_AGENT_TIMEOUT);
            if let Some((name, value)) = auth_header(&agent.auth) {
                request = request.header(name, value);
            }
            let response = crate::http::send(request, Peer::Agent).await.map_err(|e| {
                format!(
                    "Rogue reads the agent card at {shown}, which cannot be fetched: {}",
                    crate::http::root_cause(&e)
                )
            })?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!(
                    "Rogue 0.6.4 reads the agent card only at {shown} (a2a-sdk 0.2.10, not the \
                     newer agent-card.json), which answered HTTP {}: serve the card at that path \
                     too, or use --evaluator llm",
                    status.as_u16()
                ));
            }
            Ok(())
        })
        .await
        .clone()
    }

    /// The body of `POST /api/v1/evaluations` for `scenario` (Rogue's `EvaluationRequest`).
    pub fn request(
        &self,
        scenario: &Scenario,
        agent: &AgentEndpoint,
        judge_model: Option<&str>,
    ) -> Result<Value, String> {
        let (protocol, transport) = protocol_of(&agent.kind)?;
        let (auth_type, credentials) = match &agent.auth {
            Auth::None => ("no_auth", None),
            Auth::Bearer(token) => ("bearer_token", Some(token.expose().to_owned())),
            Auth::ApiKey { key, .. } => ("api_key", Some(key.expose().to_owned())),
            Auth::Basic { user, password } => {
                ("basic", Some(base64(&format!("{user}:{}", password.expose()))))
            }
        };
        let (multi_turn, max_turns) = match &scenario.conversation {
            Conversation::Driven { max_turns, .. } => (true, (*max_turns).clamp(1, 100)),
            Conversation::Scripted { messages } => {
                (messages.len() > 1, messages.len().clamp(1, 100) as u32)
            }
        };
        let r = &scenario.rubric;
        let text = match (scenario.description_is, &scenario.conversation) {
            (DescriptionRole::Policy, _) => scenario.description.clone(),
            (_, Conversation::Driven { goal, .. }) => goal.clone(),
            _ => {
                let mut text = scenario.description.clone();
                for item in r.policy_checks.iter().chain(&r.criteria) {
                    text.push_str("\n- ");
                    text.push_str(item);
                }
                // Rogue's driver LLM writes every message itself: a runbook is the closest
                // it comes to sending scripted turns as written (said up front, see
                // `run_warnings`).
                if let Conversation::Scripted { messages } = &scenario.conversation {
                    text.push_str(
                        "\nSend these user messages exactly as written, one per turn, in order:",
                    );
                    for (i, message) in messages.iter().enumerate() {
                        let _ = write!(text, "\n{}. {message}", i + 1);
                    }
                }
                text
            }
        };
        let expected = r.expected_outcome.clone().or_else(|| {
            let items: Vec<&str> =
                r.success_criteria.iter().chain(&r.expectations).map(String::as_str).collect();
            (!items.is_empty()).then(|| items.join("; "))
        });
        let mut agent_config = json!({
            "protocol": protocol,
            "transport": transport,
            "evaluated_agent_url": agent.url,
            "evaluated_agent_auth_type": auth_type,
            "business_context": r.business_context.clone().unwrap_or_default(),
            "interview_mode": false,
            "parallel_runs": 1,
        });
        if let Some(credentials) = credentials {
            agent_config["evaluated_agent_credentials"] = json!(credentials);
        }
        if let Some(model) =
            judge_model.map(|m| self.model_name(m)).or_else(|| self.judge_model.clone())
        {
            agent_config["judge_llm"] = json!(model);
        }
        if let Some(key) = &self.judge_api_key {
            agent_config["judge_llm_api_key"] = json!(key.expose());
        }
        if let Some(base) = &self.judge_api_base {
            agent_config["judge_llm_api_base"] = json!(base);
        }
        if let Some(version) = &self.judge_api_version {
            agent_config["judge_llm_api_version"] = json!(version);
        }
        let mut item = json!({
            "scenario": text,
            "scenario_type": "policy",
            "expected_outcome": expected,
            "multi_turn": multi_turn,
            "max_turns": max_turns,
        });
        if let Some(kind) = &r.scenario_type {
            item["scenario_type"] = json!(kind.name);
            item["dataset"] = json!(kind.dataset);
            item["dataset_sample_size"] = json!(kind.dataset_sample_size);
        }
        Ok(json!({
            "agent_config": agent_config,
            "scenarios": [item],
            "max_retries": 3,
            "timeout_seconds": 600,
        }))
    }

    /// The verdict of a completed job, or why it has none.
    pub fn result_of(
        &self,
        job: &Value,
        scenario: &Scenario,
        judge_model: Option<&str>,
    ) -> Result<RogueResult, String> {
        let result = job
            .get("results")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .or_else(|| job.pointer("/evaluation_results/results/0"))
            .ok_or_else(|| no_result(scenario, "the job completed without results"))?;
        let conversations = result.get("conversations").and_then(Value::as_array);
        let mut transcript = Vec::new();
        let mut reasons = Vec::new();
        for conversation in conversations.into_iter().flatten() {
            let messages = conversation.pointer("/messages/messages").and_then(Value::as_array);
            for m in messages.into_iter().flatten() {
                let role = match m.get("role").and_then(Value::as_str) {
                    Some("user") => Role::User,
                    _ => Role::Agent,
                };
                let text = m.get("content").and_then(Value::as_str).unwrap_or("");
                transcript.push(TranscriptEntry { role, text: self.scrub(text) });
            }
            if conversation.get("passed").and_then(Value::as_bool) == Some(false)
                || reasons.is_empty()
            {
                if let Some(reason) = conversation.get("reason").and_then(Value::as_str) {
                    if conversation.get("passed").and_then(Value::as_bool) == Some(false) {
                        reasons.insert(0, self.scrub(reason));
                    } else {
                        reasons.push(self.scrub(reason));
                    }
                }
            }
        }
        let passed = result
            .get("passed")
            .and_then(Value::as_bool)
            .ok_or_else(|| "the Rogue result has no boolean `passed`".to_owned())?;
        let model = job
            .get("judge_model")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| judge_model.map(|m| self.model_name(m)))
            .or_else(|| self.judge_model.clone())
            .unwrap_or_else(|| "rogue default".to_owned());
        let reason = reasons.first().cloned().unwrap_or_default();
        let agent_failure = agent_failure(&transcript, passed, &reason);
        Ok(RogueResult {
            ruling: JudgeRuling {
                passed,
                reason,
                score: None,
                model,
                evaluator: "rogue".to_owned(),
                prompt_version: "rogue".to_owned(),
            },
            transcript,
            agent_failure,
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let server = redact_url(&self.server);
        let deadline = crate::http::deadline_after(REQUEST_TIMEOUT);
        let mut response = crate::http::send(request.timeout(REQUEST_TIMEOUT), Peer::Rogue)
            .await
            .map_err(|e| {
            format!("cannot reach the Rogue server at {server}: {}", crate::http::root_cause(&e))
        })?;
        let status = response.status();
        // Bounded, chunked bodies included: a job echoes transcripts, never gigabytes.
        let body = match crate::http::read_limited(&mut response, MAX_BODY_BYTES, deadline).await {
            Ok(body) => body,
            Err(crate::http::ReadError::TooLarge(_)) => {
                return Err(format!(
                    "the Rogue server at {server} sent a body over {MAX_BODY_BYTES} bytes"
                ));
            }
            Err(crate::http::ReadError::Timeout) => {
                return Err(format!(
                    "the Rogue server at {server} did not answer within {REQUEST_TIMEOUT:?}"
                ));
            }
            Err(crate::http::ReadError::Broken { cause, .. }) => {
                return Err(format!("the Rogue server at {server} broke off: {cause}"));
            }
        };
        if !status.is_success() {
            return Err(format!(
                "the Rogue server at {server} answered HTTP {}: {}",
                status.as_u16(),
                self.scrub(&one_line(&String::from_utf8_lossy(&body), 300))
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("the Rogue server at {server} sent no JSON ({e})"))
    }

    fn quote(&self, value: &Value) -> String {
        self.scrub(&one_line(&value.to_string(), 200))
    }

    /// `text` without the judge key.
    fn scrub(&self, text: &str) -> String {
        match &self.judge_api_key {
            Some(key) if key.expose().len() >= 4 => text.replace(key.expose(), "***"),
            _ => text.to_owned(),
        }
    }
}

/// Why Rogue gave no result for `scenario`; `what` is what the server said.
fn no_result(scenario: &Scenario, what: &str) -> String {
    match &scenario.rubric.scenario_type {
        Some(kind) => format!(
            "Rogue dropped this {} scenario without a result ({what}): Rogue 0.6.4's judge step \
             rebuilds the scenario without its dataset, fails to validate it and skips it",
            kind.name
        ),
        None => format!(
            "Rogue dropped this scenario without a result ({what}); the Rogue server's log says \
             why (often a failed judge LLM call)"
        ),
    }
}

/// Why the agent, rather than Rogue's judge, decided this conversation: it answered none of
/// Rogue's messages (Rogue ends a conversation at the first failed turn and still lets its
/// judge rule on the user's messages alone), or answered with an error.
fn agent_failure(transcript: &[TranscriptEntry], passed: bool, reason: &str) -> Option<String> {
    let sent = transcript.iter().filter(|t| t.role == Role::User).count();
    let verdict = if passed { "passed" } else { "failed" };
    let judged = one_line(reason, 200);
    if !transcript.iter().any(|t| t.role == Role::Agent && !t.text.trim().is_empty()) {
        return Some(format!(
            "the agent answered none of Rogue's {sent} message(s): Rogue ended the conversation \
             at the first failed turn (an HTTP error, no reply within Rogue's fixed 30s, an empty \
             reply, or an agent card it could not read; the Rogue server's log says which). \
             Rogue's judge ruled {verdict} on the user's messages alone: {judged}"
        ));
    }
    let errors = transcript
        .iter()
        .filter(|t| t.role == Role::Agent && t.text.trim() == NOT_A_TEXT_RESPONSE)
        .count();
    (errors > 0).then(|| {
        format!(
            "the agent answered {errors} of Rogue's {sent} message(s) with an error (Rogue \
             records a JSON-RPC error or a reply without text as \"{NOT_A_TEXT_RESPONSE}\"). \
             Rogue's judge ruled {verdict}: {judged}"
        )
    })
}

/// The header Rogue 0.6.4 sends for `auth` (`X-API-Key` whatever header the run names).
fn auth_header(auth: &Auth) -> Option<(&'static str, String)> {
    match auth {
        Auth::None => None,
        Auth::Bearer(token) => Some(("authorization", format!("Bearer {}", token.expose()))),
        Auth::ApiKey { key, .. } => Some(("x-api-key", key.expose().to_owned())),
        Auth::Basic { user, password } => Some((
            "authorization",
            format!("Basic {}", base64(&format!("{user}:{}", password.expose()))),
        )),
    }
}

/// Standard base64 (for Rogue's `basic` credentials, which it sends as they are).
fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_names_and_base64() {
        let name = |m| RogueEvaluator::litellm_model(m, None, None);
        assert_eq!(name("gpt-4o"), "openai/gpt-4o");
        assert_eq!(name("gemini-2.5-flash"), "gemini/gemini-2.5-flash");
        assert_eq!(name("openai/gpt-4o-mini"), "openai/gpt-4o-mini");
        // With a judge base URL, a bare name is a model of that OpenAI-compatible endpoint,
        // whatever it looks like; a named provider stays.
        let base = Some("http://127.0.0.1:9/v1");
        assert_eq!(
            RogueEvaluator::litellm_model("gemini-2.5-flash", base, None),
            "openai/gemini-2.5-flash"
        );
        assert_eq!(
            RogueEvaluator::litellm_model("gemini/gemini-2.5-flash", base, None),
            "gemini/gemini-2.5-flash"
        );
        assert_eq!(
            RogueEvaluator::litellm_model("gpt4o-prod", base, Some("2024-10-21")),
            "azure/gpt4o-prod"
        );
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64("a"), "YQ==");
        assert_eq!(base64("ab"), "YWI=");
    }

    #[test]
    fn polls_start_at_50ms_and_grow_by_half_up_to_the_interval() {
        let mut waits = Vec::new();
        let mut wait = None;
        for _ in 0..10 {
            let next = next_wait(wait, Duration::from_secs(1));
            waits.push(next.as_millis());
            wait = Some(next);
        }
        assert_eq!(waits, [50, 75, 112, 168, 253, 379, 569, 854, 1000, 1000]);
        // Polled at 50, 125, 237, 405, 658, 1037 ms…: a job that ends just after one poll is
        // seen at the next, under 300 ms later for any job shorter than 0.65 s (3.5 times the
        // median job of one scenario on the real server).
        let mut at = Duration::ZERO;
        let mut wait = None;
        let mut polls = Vec::new();
        while at < Duration::from_millis(1200) {
            let next = next_wait(wait, Duration::from_secs(1));
            at += next;
            wait = Some(next);
            polls.push(at);
        }
        for pair in polls.windows(2).filter(|p| p[0] < Duration::from_millis(650)) {
            let late = pair[1].saturating_sub(pair[0]);
            assert!(late < Duration::from_millis(300), "{polls:?}");
        }
        // A shorter --rogue-poll-interval is the most ever waited, from the first poll on.
        assert_eq!(next_wait(None, Duration::from_millis(20)), Duration::from_millis(20));
        let capped = next_wait(Some(Duration::from_millis(20)), Duration::from_millis(20));
        assert_eq!(capped.as_millis(), 20);
    }

    fn entry(role: Role, text: &str) -> TranscriptEntry {
        TranscriptEntry { role, text: text.to_owned() }
    }

    #[test]
    fn an_agent_that_never_answered_or_answered_errors_is_its_failure() {
        let silent = [entry(Role::User, "hi"), entry(Role::User, "hello?")];
        let why = agent_failure(&silent, false, "the agent did not answer").unwrap();
        assert!(why.contains("none of Rogue's 2 message(s)"), "{why}");
        assert!(why.contains("ruled failed"), "{why}");
        let rpc = [entry(Role::User, "hi"), entry(Role::Agent, NOT_A_TEXT_RESPONSE)];
        assert!(agent_failure(&rpc, true, "ok").unwrap().contains("with an error"));
        let fine = [entry(Role::User, "hi"), entry(Role::Agent, "hello")];
        assert_eq!(agent_failure(&fine, false, "rude"), None);
    }
}
