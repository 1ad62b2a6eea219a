//! What LLM calls cost: a pricing table shipped with the tool (`pricing/prices.toml`),
//! overridable by a user file, and a ledger of real usage per scenario, priority, agent and
//! model with a monthly projection.
//!
//! Money is counted in whole pico-dollars (1e-12 USD) so that sums are exact: a price in USD
//! per 1M tokens times 1e6 is a whole number of pico-dollars per token (`0.075` → 75 000), so
//! `tokens × price` and every sum of them are integers, converted to USD once, for display.

mod ledger;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use ledger::{CostLedger, monthly};

use crate::model::Usage;

/// The shipped table.
pub const SHIPPED_PRICES: &str = include_str!("../../pricing/prices.toml");

/// One model's list prices, USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input: f64,
    #[serde(default)]
    pub cached_input: Option<f64>,
    pub output: f64,
    /// When the price was read (YYYY-MM-DD).
    pub date: String,
    /// Where it was read.
    pub source: String,
}

impl ModelPrice {
    /// Exact cost of `usage`, in pico-dollars.
    pub fn cost_pico(&self, usage: &Usage) -> u64 {
        let micro = |usd_per_million: f64| (usd_per_million * 1e6).round() as u64;
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let fresh = usage.input_tokens - cached;
        let cached_price = self.cached_input.unwrap_or(self.input);
        fresh
            .saturating_mul(micro(self.input))
            .saturating_add(cached.saturating_mul(micro(cached_price)))
            .saturating_add(usage.output_tokens.saturating_mul(micro(self.output)))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct PriceFile {
    #[serde(default)]
    snapshot: Option<String>,
    #[serde(default)]
    models: BTreeMap<String, ModelPrice>,
}

/// The pricing table in force for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    models: BTreeMap<String, ModelPrice>,
    /// Date of the shipped snapshot, and of the user file when one was given.
    pub snapshot: String,
    /// The user file that overrides entries, if any.
    pub overrides: Option<String>,
}

/// A pricing file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("cannot read the pricing file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("the pricing file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

impl Pricing {
    /// The table shipped with this build.
    pub fn shipped() -> Self {
        // The shipped file is checked by a unit test; an unreadable one would be a build bug.
        let file: PriceFile = toml::from_str(SHIPPED_PRICES).unwrap_or_default();
        Pricing {
            models: file.models,
            snapshot: file.snapshot.unwrap_or_else(|| "unknown".to_owned()),
            overrides: None,
        }
    }

    /// The shipped table with the entries of `path` added or replaced.
    pub fn with_overrides(path: &Path) -> Result<Self, PricingError> {
        let text = fs_err::read_to_string(path)
            .map_err(|error| PricingError::Read { path: path.display().to_string(), error })?;
        Self::shipped().merged(&text, &path.display().to_string())
    }

    fn merged(mut self, text: &str, name: &str) -> Result<Self, PricingError> {
        let file: PriceFile = toml::from_str(text)
            .map_err(|e| PricingError::Invalid { path: name.to_owned(), message: e.to_string() })?;
        for (model, price) in file.models {
            if !(price.input >= 0.0 && price.output >= 0.0)
                || price.cached_input.is_some_and(|c| c.is_nan() || c < 0.0)
            {
                return Err(PricingError::Invalid {
                    path: name.to_owned(),
                    message: format!("model {model}: prices must be numbers ≥ 0"),
                });
            }
            self.models.insert(model.to_ascii_lowercase(), price);
        }
        if let Some(snapshot) = file.snapshot {
            self.snapshot = format!("{} + {name} ({snapshot})", self.snapshot);
        } else {
            self.snapshot = format!("{} + {name}", self.snapshot);
        }
        self.overrides = Some(name.to_owned());
        Ok(self)
    }

    /// The price of `model`: exact name, then without a provider prefix, then without a date
    /// suffix (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, `claude-haiku-4-5-20251001` →
    /// `claude-haiku-4-5`). Returns the table's name for it too.
    pub fn lookup(&self, model: &str) -> Option<(&str, &ModelPrice)> {
        let lower = model.trim().to_ascii_lowercase();
        let bare = strip_provider(&lower);
        for candidate in [lower.as_str(), bare, strip_date(bare)] {
            if let Some((name, price)) = self.models.get_key_value(candidate) {
                return Some((name.as_str(), price));
            }
        }
        None
    }

    /// Exact cost of `usage` on `model` in pico-dollars; `None` for a model not in the table.
    pub fn cost_pico(&self, model: &str, usage: &Usage) -> Option<u64> {
        self.lookup(model).map(|(_, price)| price.cost_pico(usage))
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// `openai/gpt-4o` → `gpt-4o`; `models/gemini-2.5-flash` → `gemini-2.5-flash`.
fn strip_provider(model: &str) -> &str {
    model.rsplit_once('/').map_or(model, |(_, name)| name)
}

/// `gpt-4o-2024-08-06` → `gpt-4o`; `claude-haiku-4-5-20251001` → `claude-haiku-4-5`;
/// `gemini-2.5-flash-preview-05-20` → `gemini-2.5-flash`; `gpt-4o-latest` → `gpt-4o`.
fn strip_date(model: &str) -> &str {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    // -YYYY-MM-DD
    if model.len() > 11 {
        let (head, tail) = model.split_at(model.len() - 11);
        let parts: Vec<&str> = tail.splitn(4, '-').collect();
        if let ["", y, m, d] = parts.as_slice()
            && digits(y, 4)
            && digits(m, 2)
            && digits(d, 2)
        {
            return head;
        }
    }
    if let Some((head, tail)) = model.rsplit_once('-') {
        // -YYYYMMDD
        if digits(tail, 8) || tail == "latest" {
            return head;
        }
        // -preview-MM-DD
        if let Some(head) = head.strip_suffix("-preview").or_else(|| {
            let (h, mm) = head.rsplit_once('-')?;
            (digits(mm, 2) && digits(tail, 2)).then_some(h)?.strip_suffix("-preview")
        }) {
            return head;
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::usd;

    #[test]
    fn the_shipped_table_parses_and_dates_every_price() {
        let file: PriceFile = toml::from_str(SHIPPED_PRICES).unwrap();
        assert!(file.models.len() >= 10);
        for (name, price) in &file.models {
            assert!(!price.date.is_empty() && !price.source.is_empty(), "{name}");
        }
        assert_eq!(Pricing::shipped().snapshot, "2026-11-24");
    }

    #[test]
    fn dated_and_prefixed_names_price_as_their_family() {
        let p = Pricing::shipped();
        assert_eq!(p.lookup("gpt-4o-mini-2024-07-18").unwrap().0, "gpt-4o-mini");
        assert_eq!(p.lookup("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(p.lookup("openai/gpt-4o").unwrap().0, "gpt-4o");
        assert_eq!(p.lookup("GPT-4o").unwrap().0, "gpt-4o");
        assert_eq!(p.lookup("claude-haiku-4-5-20251001").unwrap().0, "claude-haiku-4-5");
        assert_eq!(p.lookup("gemini/gemini-2.5-flash").unwrap().0, "gemini-2.5-flash");
        assert_eq!(p.lookup("gemini-2.5-flash-preview-05-20").unwrap().0, "gemini-2.5-flash");
        assert_eq!(p.lookup("gpt-4o-latest").unwrap().0, "gpt-4o");
        assert!(p.lookup("my-local-llama").is_none());
        assert!(p.lookup("gpt-4o-mini-2024").is_none());
    }

    #[test]
    fn cost_is_exact_integer_arithmetic() {
        let p = Pricing::shipped();
        let usage = Usage { input_tokens: 1_000_000, cached_input_tokens: 0, output_tokens: 0 };
        assert_eq!(p.cost_pico("gpt-4o", &usage), Some(2_500_000_000_000));
        // 26 prompt (8 cached) + 20 completion on gpt-4o-mini:
        // 18·0.15 + 8·0.075 + 20·0.60 micro-dollars = 2.7 + 0.6 + 12 = 15.3 µ$.
        let usage = Usage { input_tokens: 26, cached_input_tokens: 8, output_tokens: 20 };
        assert_eq!(p.cost_pico("gpt-4o-mini-2024-07-18", &usage), Some(15_300_000));
        assert!((usd(15_300_000) - 0.000_015_3).abs() < 1e-18);
        assert_eq!(p.cost_pico("unknown-model", &usage), None);
    }

    #[test]
    fn user_files_override_and_extend() {
        let text = "snapshot = \"mine\"\n[models.\"gpt-4o\"]\ninput = 1.0\noutput = 2.0\ndate = \"2026-11-25\"\nsource = \"contract\"\n[models.\"llama-local\"]\ninput = 0\noutput = 0\ndate = \"2026-11-25\"\nsource = \"self-hosted\"\n";
        let p = Pricing::shipped().merged(text, "prices.toml").unwrap();
        assert!((p.lookup("gpt-4o").unwrap().1.input - 1.0).abs() < f64::EPSILON);
        assert_eq!(p.cost_pico("llama-local", &Usage::default()), Some(0));
        assert!(p.snapshot.contains("mine"));
        let bad = "[models.x]\ninput = -1\noutput = 0\ndate = \"d\"\nsource = \"s\"\n";
        assert!(Pricing::shipped().merged(bad, "bad.toml").is_err());
        assert!(Pricing::shipped().merged("models = 3", "bad.toml").is_err());
    }
}
