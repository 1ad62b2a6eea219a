//! The LLM judge: one OpenAI-compatible endpoint, a model per scenario (its own `judge.model`,
//! else per priority), a versioned prompt, and a verdict `{passed, reason, score}` read
//! through structured output or, for providers that ignore it, leniently from the text.

pub mod client;
pub mod prompt;
pub mod verdict;

use std::sync::Arc;

pub use client::{
    ChatMessage, ChatRequest, ChatResponse, KeyHeader, LlmClient, LlmEndpoint, LlmError,
};
pub use prompt::{JUDGE_PROMPT_VERSION, judge_messages, render_transcript};
pub use verdict::{LlmVerdict, parse_verdict, verdict_schema};

use crate::cost::{CostLedger, Pricing};

use crate::model::LlmRole;
use crate::model::{JudgeRuling, TranscriptEntry};
use crate::scenario::{Priority, Scenario};

/// The seed's defaults: P0 and P1 on GPT-4o, P2 on Gemini Flash.
pub const DEFAULT_P0_MODEL: &str = "gpt-4o";
pub const DEFAULT_P1_MODEL: &str = "gpt-4o";
pub const DEFAULT_P2_MODEL: &str = "gemini-2.5-flash";

/// Calls made for one verdict when the answer cannot be read (the first call included).
const VERDICT_ATTEMPTS: u32 = 2;

/// Judge models per priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityModels {
    pub p0: String,
    pub p1: String,
    pub p2: String,
}

impl Default for PriorityModels {
    fn default() -> Self {
        PriorityModels {
            p0: DEFAULT_P0_MODEL.to_owned(),
            p1: DEFAULT_P1_MODEL.to_owned(),
            p2: DEFAULT_P2_MODEL.to_owned(),
        }
    }
}

impl PriorityModels {
    pub fn get(&self, priority: Priority) -> &str {
        match priority {
            Priority::P0 => &self.p0,
            Priority::P1 => &self.p1,
            Priority::P2 => &self.p2,
        }
    }
}

/// Everything the judge and the driver need, validated.
#[derive(Debug, Clone)]
pub struct JudgeConfig {
    pub endpoint: LlmEndpoint,
    pub models: PriorityModels,
    /// Used for every scenario, its own `judge.model` included (`--judge-model`).
    pub force_model: Option<String>,
    /// The model playing the user in LLM-driven conversations (default: the judge model).
    pub driver_model: Option<String>,
    /// Sent to non-reasoning models.
    pub temperature: f64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            endpoint: LlmEndpoint::default(),
            models: PriorityModels::default(),
            force_model: None,
            driver_model: None,
            temperature: 0.0,
        }
    }
}

/// A configured judge. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Judge {
    client: LlmClient,
    config: Arc<JudgeConfig>,
    pricing: Arc<Pricing>,
    /// Earlier verdicts (`--use-cache`).
    cache: Option<Arc<dyn super::VerdictCache>>,
}

impl Judge {
    pub fn new(config: JudgeConfig, pricing: Arc<Pricing>, http: reqwest::Client) -> Self {
        let client = LlmClient::new(config.endpoint.clone(), http);
        Judge { client, config: Arc::new(config), pricing, cache: None }
    }

    /// Reuse the verdicts in `cache` for identical requests, and store new ones there.
    #[must_use]
    pub fn with_verdict_cache(mut self, cache: Arc<dyn super::VerdictCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn client(&self) -> &LlmClient {
        &self.client
    }

    pub fn config(&self) -> &JudgeConfig {
        &self.config
    }

    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// `--judge-model`, else the scenario's own model, else the one for its priority.
    pub fn model_for(&self, scenario: &Scenario) -> String {
        model_for(&self.config, scenario)
    }

    /// The model that plays the user for `scenario`.
    pub fn driver_model_for(&self, scenario: &Scenario) -> String {
        self.config.driver_model.clone().unwrap_or_else(|| self.model_for(scenario))
    }

    /// `model` as sent on the wire: litellm's `openai/` prefix is dropped (it only names the
    /// wire format), except for OpenRouter, whose model ids are `provider/model`.
    pub fn wire_model(&self, model: &str) -> String {
        wire_model(&self.config.endpoint.base_url, model)
    }

    /// One chat call, its usage recorded in `ledger` under `role`.
    pub async fn call(
        &self,
        role: LlmRole,
        model: &str,
        messages: Vec<ChatMessage>,
        schema: Option<(&'static str, serde_json::Value)>,
        ledger: &mut CostLedger,
    ) -> Result<ChatResponse, LlmError> {
        let request = ChatRequest {
            model: self.wire_model(model),
            messages,
            temperature: Some(self.config.temperature),
            schema,
        };
        let response = self.client.chat(&request).await?;
        ledger.record(self.pricing.priced(role, &response.model, response.usage));
        Ok(response)
    }

    /// Rules on `transcript`. An answer that cannot be read is asked for once more; an error
    /// after that (or after the client's retries) is returned, never turned into a verdict.
    pub async fn rule(
        &self,
        scenario: &Scenario,
        transcript: &[TranscriptEntry],
        ledger: &mut CostLedger,
    ) -> Result<JudgeRuling, String> {
        self.rule_cached(scenario, transcript, ledger).await.map(|(ruling, _)| ruling)
    }

    /// [`Judge::rule`], reusing the verdict on an identical request from the judge cache when
    /// there is one (then no call is made and the flag is true).
    pub async fn rule_cached(
        &self,
        scenario: &Scenario,
        transcript: &[TranscriptEntry],
        ledger: &mut CostLedger,
    ) -> Result<(JudgeRuling, bool), String> {
        let model = self.model_for(scenario);
        let messages = judge_messages(scenario, transcript);
        let key = self.cache.as_ref().map(|cache| {
            let key = super::cache::verdict_key(
                &model,
                &self.wire_model(&model),
                &self.config.endpoint.base_url,
                self.config.temperature,
                &messages,
            );
            (cache, key)
        });
        if let Some(ruling) = key.as_ref().and_then(|(cache, key)| cache.get(key)) {
            return Ok((ruling, true));
        }
        let spent_before = ledger.total_pico().unwrap_or(0);
        let ruling = self.rule_uncached(&model, messages, ledger).await?;
        if let Some((cache, key)) = &key {
            let spent = ledger.total_pico().unwrap_or(0).saturating_sub(spent_before);
            cache.put(key, &scenario.id, &ruling, Some(crate::model::usd(spent)));
        }
        Ok((ruling, false))
    }

    async fn rule_uncached(
        &self,
        model: &str,
        messages: Vec<ChatMessage>,
        ledger: &mut CostLedger,
    ) -> Result<JudgeRuling, String> {
        let mut last_problem = String::new();
        for _ in 0..VERDICT_ATTEMPTS {
            let response = self
                .call(
                    LlmRole::Judge,
                    model,
                    messages.clone(),
                    Some(("verdict", verdict_schema())),
                    ledger,
                )
                .await
                .map_err(|e| e.to_string())?;
            match parse_verdict(&response.content) {
                Ok(v) => {
                    return Ok(JudgeRuling {
                        passed: v.passed,
                        reason: self.client.scrub(&v.reason),
                        score: v.score,
                        model: response.model,
                        evaluator: "llm".to_owned(),
                        prompt_version: JUDGE_PROMPT_VERSION.to_owned(),
                    });
                }
                Err(problem) => last_problem = self.client.scrub(&problem),
            }
        }
        Err(format!(
            "the judge ({model}) gave no usable verdict after {VERDICT_ATTEMPTS} calls: {last_problem}"
        ))
    }
}

/// `model` as sent to `base_url`: litellm's `openai/` prefix dropped, except for OpenRouter.
pub fn wire_model(base_url: &str, model: &str) -> String {
    if base_url.contains("openrouter.ai") {
        return model.to_owned();
    }
    model.strip_prefix("openai/").unwrap_or(model).to_owned()
}

/// `force_model`, else the scenario's own judge model, else the one for its priority.
pub fn model_for(config: &JudgeConfig, scenario: &Scenario) -> String {
    config
        .force_model
        .clone()
        .or_else(|| scenario.rubric.model.clone().filter(|m| !m.trim().is_empty()))
        .unwrap_or_else(|| config.models.get(scenario.priority).to_owned())
}
