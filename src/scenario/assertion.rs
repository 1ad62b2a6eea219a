//! Deterministic checks, typed at load time from `expected_output` and `performance`.

use serde::{Deserialize, Serialize};

use super::comparator::{CmpOp, Unit};

/// One deterministic check, with the text it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assertion {
    /// The `expected_output` key (or `performance.max_latency_ms`, …) it came from.
    pub key: String,
    /// The original text of the expectation, exactly as written.
    pub raw: String,
    #[serde(flatten)]
    pub kind: AssertionKind,
}

/// What is checked. Reply-text checks always apply; `field_*` checks apply when the reply is
/// a JSON object (else the check is left to the judge and reported as not assessed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssertionKind {
    /// The reply contains `needle` (case-insensitive).
    Contains { needle: String },
    /// The reply does not contain `needle` (case-insensitive).
    NotContains { needle: String },
    /// The reply matches a regular expression.
    Regex { pattern: String },
    /// The reply is at least `chars` characters long.
    MinLength { chars: u64 },
    /// The reply is at most `chars` characters long.
    MaxLength { chars: u64 },
    /// Wall-clock time of the agent's answer (all turns) compared to `ms`.
    Latency { op: CmpOp, ms: f64 },
    /// Tokens the agent reported using, when it reports usage.
    MaxTokens { max: u64 },
    /// A numeric field of a JSON reply compared to a threshold.
    FieldCompare { field: String, op: CmpOp, value: f64, unit: Unit },
    /// A numeric field of a JSON reply within `lo..=hi`.
    FieldRange { field: String, lo: f64, hi: f64, unit: Unit },
    /// A field of a JSON reply equals a value (compared as text, case-insensitively for words).
    FieldEquals { field: String, expected: ExpectedValue },
    /// A field of a JSON reply is present and not empty (`provided`, `generated`, …).
    FieldPresent { field: String },
    /// A list field of a JSON reply includes all of `items`.
    FieldIncludesAll { field: String, items: Vec<String> },
}

/// An expected scalar, keeping the original text (`"0012"`, `yes`, `5.0` stay as written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ExpectedValue {
    Bool(bool),
    /// A number; the original text is in the assertion's `raw`.
    Number(f64),
    Text(String),
}

impl AssertionKind {
    /// The JSON field this check reads, if it reads one.
    pub fn field(&self) -> Option<&str> {
        match self {
            AssertionKind::FieldCompare { field, .. }
            | AssertionKind::FieldRange { field, .. }
            | AssertionKind::FieldEquals { field, .. }
            | AssertionKind::FieldPresent { field }
            | AssertionKind::FieldIncludesAll { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Presence sentinels: values that mean "the field is there and not empty", not equality.
pub const PRESENCE_SENTINELS: &[&str] = &[
    "provided",
    "generated",
    "identified",
    "listed",
    "calculated",
    "created",
    "assessed",
    "recommended",
    "included",
    "defined",
    "estimated",
    "breakdown",
    "present",
    "documented",
    "detected",
    "suggested",
    "explained",
    "described",
    "specified",
    "analyzed",
    "summarized",
    "implemented",
    "configured",
    "tracked",
    "returned",
    "populated",
    "available",
];
