//! `--evaluator rogue`: each scenario becomes one job on a running Rogue server (REST API,
//! `POST /api/v1/evaluations`, then `GET /api/v1/evaluations/{job_id}` until it ends), and
//! the job's result becomes our outcome. Rogue runs the scenarios of one job one after the
//! other; one job per scenario, many at once (`--parallel`), is how we get concurrency.
//!
//! Rogue echoes the whole request, judge API key included, in every job it returns: nothing
//! of the job is stored except the verdict, the reason and the transcript, all scrubbed.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::agent::Auth;
use crate::http::one_line;
use crate::model::{JudgeRuling, Role, TranscriptEntry};
use crate::redact::redact_url;
use crate::scenario::{Conversation, DescriptionRole, Scenario};
use crate::secret::Secret;

/// The longest a job is waited for (the Rogue SDK's own limit).
const JOB_TIMEOUT: Duration = Duration::from_secs(3000);
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
    pub poll_interval: Duration,
    pub http: reqwest::Client,
    /// Picks the judge model per scenario as our judge would (`--judge-model`, the scenario's
    /// own, per priority).
    pub models: Option<crate::judge::JudgeConfig>,
    /// `GET /api/v1/health`, checked once for the whole run: a server that is down fails
    /// every scenario at once with the same message.
    pub health: std::sync::Arc<tokio::sync::OnceCell<Result<(), String>>>,
}

/// What Rogue decided about one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RogueResult {
    pub ruling: JudgeRuling,
    pub transcript: Vec<TranscriptEntry>,
}

impl RogueEvaluator {
    /// A litellm model string for `model` (`gpt-4o` → `openai/gpt-4o`,
    /// `gemini-2.5-flash` → `gemini/gemini-2.5-flash`); names with a provider stay as they are.
    pub fn litellm_model(model: &str) -> String {
        if model.contains('/') {
            model.to_owned()
        } else if model.starts_with("gemini") {
            format!("gemini/{model}")
        } else if model.starts_with("claude") {
            format!("anthropic/{model}")
        } else {
            format!("openai/{model}")
        }
    }

    /// Runs `scenario` against the agent at `agent_url` on the Rogue server and waits for it.
    pub async fn evaluate(
        &self,
        scenario: &Scenario,
        agent_url: &str,
        auth: &Auth,
    ) -> Result<RogueResult, String> {
        self.health
            .get_or_init(|| async {
                let url = format!("{}/api/v1/health", self.server.trim_end_matches('/'));
                self.send(self.http.get(&url)).await.map(|_| ())
            })
            .await
            .clone()?;
        let model = self.models.as_ref().map(|c| crate::judge::llm::model_for(c, scenario));
        let judge_model = model.as_deref();
        let base = format!("{}/api/v1/evaluations", self.server.trim_end_matches('/'));
        let request = self.request(scenario, agent_url, auth, judge_model);
        let created = self.send(self.http.post(&base).json(&request)).await?;
        let job_id = created
            .get("job_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Rogue answered without a job_id: {}", self.quote(&created)))?
            .to_owned();
        let url = format!("{base}/{job_id}");
        let deadline = crate::http::deadline_after(JOB_TIMEOUT);
        loop {
            let job = self.send(self.http.get(&url)).await?;
            match job.get("status").and_then(Value::as_str).unwrap_or("") {
                "completed" => return self.result_of(&job, judge_model),
                "failed" | "cancelled" => {
                    let message =
                        job.get("error_message").and_then(Value::as_str).unwrap_or("no message");
                    return Err(format!(
                        "Rogue job {job_id} ended as {}: {}",
                        job["status"].as_str().unwrap_or(""),
                        self.scrub(&one_line(message, 300))
                    ));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(format!("Rogue job {job_id} did not finish within {JOB_TIMEOUT:?}"));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    fn request(
        &self,
        scenario: &Scenario,
        agent_url: &str,
        auth: &Auth,
        judge_model: Option<&str>,
    ) -> Value {
        let (auth_type, credentials) = match auth {
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
                if let Conversation::Scripted { messages } = &scenario.conversation {
                    text.push_str("\nThe user says: ");
                    text.push_str(&messages.join(" / "));
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
            "protocol": "a2a",
            "transport": "http",
            "evaluated_agent_url": agent_url,
            "evaluated_agent_auth_type": auth_type,
            "business_context": r.business_context.clone().unwrap_or_default(),
            "interview_mode": false,
            "parallel_runs": 1,
        });
        if let Some(credentials) = credentials {
            agent_config["evaluated_agent_credentials"] = json!(credentials);
        }
        if let Some(model) =
            judge_model.map(Self::litellm_model).or_else(|| self.judge_model.clone())
        {
            agent_config["judge_llm"] = json!(model);
        }
        if let Some(key) = &self.judge_api_key {
            agent_config["judge_llm_api_key"] = json!(key.expose());
        }
        if let Some(base) = &self.judge_api_base {
            agent_config["judge_llm_api_base"] = json!(base);
        }
        json!({
            "agent_config": agent_config,
            "scenarios": [{
                "scenario": text,
                "scenario_type": "policy",
                "expected_outcome": expected,
                "multi_turn": multi_turn,
                "max_turns": max_turns,
            }],
            "max_retries": 3,
            "timeout_seconds": 600,
        })
    }

    fn result_of(&self, job: &Value, judge_model: Option<&str>) -> Result<RogueResult, String> {
        let result = job
            .get("results")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .or_else(|| job.pointer("/evaluation_results/results/0"))
            .ok_or_else(|| "the Rogue job completed without results".to_owned())?;
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
            .or_else(|| judge_model.map(Self::litellm_model))
            .or_else(|| self.judge_model.clone())
            .unwrap_or_else(|| "rogue default".to_owned());
        Ok(RogueResult {
            ruling: JudgeRuling {
                passed,
                reason: reasons.first().cloned().unwrap_or_default(),
                score: None,
                model,
                evaluator: "rogue".to_owned(),
                prompt_version: "rogue".to_owned(),
            },
            transcript,
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let server = redact_url(&self.server);
        let deadline = crate::http::deadline_after(REQUEST_TIMEOUT);
        let mut response = request.timeout(REQUEST_TIMEOUT).send().await.map_err(|e| {
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
        assert_eq!(RogueEvaluator::litellm_model("gpt-4o"), "openai/gpt-4o");
        assert_eq!(RogueEvaluator::litellm_model("gemini-2.5-flash"), "gemini/gemini-2.5-flash");
        assert_eq!(RogueEvaluator::litellm_model("openai/gpt-4o-mini"), "openai/gpt-4o-mini");
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64("a"), "YQ==");
        assert_eq!(base64("ab"), "YWI=");
    }
}
