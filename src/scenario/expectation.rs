//! Turning `expected_output` entries into typed assertions, or into rubric text when only an
//! LLM judge can assess them. Every entry ends up in exactly one of the two.

use super::comparator::{self, CmpOp, Comparator, ComparatorParse, Unit};
use super::file_context::FileContext;
use super::node::{Node, NodeKind, Typed};
use super::{Assertion, AssertionKind, ExpectedValue, PRESENCE_SENTINELS};

/// Where expectations went.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    pub assertions: Vec<Assertion>,
    /// `key: text` lines for the judge.
    pub rubric: Vec<String>,
}

/// Keys that are hints to the judge, not checks on the reply.
const JUDGE_HINT_KEYS: &[&str] = &["requires_validation", "requires_synthesis"];
/// Keys whose duration is the wall-clock time of the answer.
const LATENCY_KEYS: &[&str] = &["response_time", "latency", "max_latency"];

impl Expectations {
    /// Classify every entry of an `expected_output` mapping.
    pub(crate) fn from_expected_output(ctx: &mut FileContext<'_>, map: &Node) -> Self {
        let mut out = Expectations::default();
        for (key_node, value) in map.as_map().unwrap_or_default() {
            let key = key_node.as_scalar_text().unwrap_or_default();
            out.add(ctx, key, value);
        }
        out
    }

    fn add(&mut self, ctx: &mut FileContext<'_>, key: &str, value: &Node) {
        let raw = raw_text(value);
        let push = |this: &mut Self, kind: AssertionKind| {
            this.assertions.push(Assertion { key: key.to_owned(), raw: raw.clone(), kind });
        };
        match key {
            "contains" | "not_contains" | "excludes" => {
                let Some(needles) = scalar_list(value) else {
                    ctx.error(
                        value.pos,
                        format!("`{key}` must be a list of text, found {}", value.describe()),
                    )
                    .hint(
                        "expect-not-a-list",
                        "write it as a list, e.g. `contains: [refund, policy]`",
                    );
                    return;
                };
                let mut seen: Vec<&str> = Vec::new();
                for needle in needles {
                    if needle.is_empty() || seen.contains(&needle) {
                        continue;
                    }
                    seen.push(needle);
                    let kind = if key == "contains" {
                        AssertionKind::Contains { needle: needle.to_owned() }
                    } else {
                        AssertionKind::NotContains { needle: needle.to_owned() }
                    };
                    push(self, kind);
                }
                return;
            }
            "min_length" | "max_length" => {
                if let Some(Typed::Int(n)) = value.typed()
                    && n >= 0
                {
                    let chars = n as u64;
                    let kind = if key == "min_length" {
                        AssertionKind::MinLength { chars }
                    } else {
                        AssertionKind::MaxLength { chars }
                    };
                    push(self, kind);
                } else {
                    ctx.error(
                        value.pos,
                        format!(
                            "`{key}` must be a whole number of characters, found {}",
                            value.describe()
                        ),
                    )
                    .hint("expect-length-not-a-number", format!("write e.g. `{key}: 100`"));
                }
                return;
            }
            "regex" | "matches" => {
                let patterns: Vec<&str> = scalar_list(value).unwrap_or_default();
                if patterns.is_empty() {
                    ctx.error(
                        value.pos,
                        format!("`{key}` must be a regular expression or a list of them"),
                    );
                }
                for pattern in patterns {
                    match regex::Regex::new(pattern) {
                        Ok(_) => push(self, AssertionKind::Regex { pattern: pattern.to_owned() }),
                        Err(e) => {
                            ctx.error(
                                value.pos,
                                format!(
                                    "invalid regular expression `{pattern}`: {}",
                                    first_line(&e.to_string())
                                ),
                            )
                            .hint(
                                "expect-invalid-regex",
                                "fix the pattern; see https://docs.rs/regex for the syntax",
                            );
                        }
                    }
                }
                return;
            }
            _ => {}
        }
        if JUDGE_HINT_KEYS.contains(&key) {
            self.rubric.push(format!("{key}: {raw}"));
            return;
        }
        match &value.kind {
            NodeKind::Map(_) => {
                self.rubric.push(format!("{key}: {}", value.to_json()));
                ctx.warning(
                    value.pos,
                    format!("expectation `{key}` is a mapping; it is left to the judge"),
                );
            }
            NodeKind::Seq(_) => match scalar_list(value) {
                Some(items) => push(
                    self,
                    AssertionKind::FieldIncludesAll {
                        field: key.to_owned(),
                        items: items.into_iter().map(str::to_owned).collect(),
                    },
                ),
                None => {
                    self.rubric.push(format!("{key}: {}", value.to_json()));
                    ctx.warning(
                        value.pos,
                        format!("expectation `{key}` is a nested list; it is left to the judge"),
                    );
                }
            },
            NodeKind::Scalar { .. } => match value.typed() {
                Some(Typed::Bool(b)) => push(
                    self,
                    AssertionKind::FieldEquals {
                        field: key.to_owned(),
                        expected: ExpectedValue::Bool(b),
                    },
                ),
                Some(Typed::Int(i)) => push(
                    self,
                    AssertionKind::FieldEquals {
                        field: key.to_owned(),
                        expected: ExpectedValue::Number(i as f64),
                    },
                ),
                Some(Typed::Float(f)) => push(
                    self,
                    AssertionKind::FieldEquals {
                        field: key.to_owned(),
                        expected: ExpectedValue::Number(f),
                    },
                ),
                Some(Typed::Null) | None => {
                    ctx.warning(
                        value.pos,
                        format!("expectation `{key}` is empty; nothing to check"),
                    )
                    .hint("expect-empty", "give it a value, or remove the key");
                    self.rubric.push(format!("{key}: (empty)"));
                }
                Some(Typed::Str(text)) => self.add_text(ctx, key, value, text, &raw),
            },
        }
    }

    fn add_text(
        &mut self,
        ctx: &mut FileContext<'_>,
        key: &str,
        value: &Node,
        text: &str,
        raw: &str,
    ) {
        let assertion = |kind| Assertion { key: key.to_owned(), raw: raw.to_owned(), kind };
        let (parsed, unicode_op) = comparator::parse(text);
        if unicode_op {
            ctx.warning(value.pos, format!("`{text}` uses ≥/≤; read as >=/<="))
                .hint("comparator-unicode", "write >= or <= instead");
        }
        match parsed {
            ComparatorParse::Parsed(Comparator::Compare { op, value: number, unit }) => {
                if LATENCY_KEYS.contains(&key) && unit == Unit::Millis {
                    self.assertions.push(assertion(AssertionKind::Latency { op, ms: number }));
                } else {
                    self.assertions.push(assertion(AssertionKind::FieldCompare {
                        field: key.to_owned(),
                        op,
                        value: number,
                        unit,
                    }));
                }
            }
            ComparatorParse::Parsed(Comparator::Range { lo, hi, unit }) => {
                self.assertions.push(assertion(AssertionKind::FieldRange {
                    field: key.to_owned(),
                    lo,
                    hi,
                    unit,
                }));
            }
            ComparatorParse::Prose => {
                self.rubric.push(format!("{key}: {text}"));
                ctx.warning(
                    value.pos,
                    format!("comparator `{text}` carries prose; it is left to the judge"),
                )
                .hint(
                    "comparator-prose",
                    "use a plain comparator such as `>=2x` to check it deterministically",
                );
            }
            ComparatorParse::Invalid(message) => {
                ctx.error(value.pos, format!("malformed comparator for `{key}`: {message}")).hint(
                    "comparator-malformed",
                    "comparators look like `<2s`, `>=5`, `>0.85`, `<$0.01`, `>=90%` or `5-10`",
                );
            }
            ComparatorParse::NotComparator => {
                let lower = text.trim().to_ascii_lowercase();
                if PRESENCE_SENTINELS.contains(&lower.as_str()) {
                    self.assertions
                        .push(assertion(AssertionKind::FieldPresent { field: key.to_owned() }));
                } else if is_token(text) {
                    self.assertions.push(assertion(AssertionKind::FieldEquals {
                        field: key.to_owned(),
                        expected: ExpectedValue::Text(text.to_owned()),
                    }));
                } else {
                    self.rubric.push(format!("{key}: {text}"));
                }
            }
        }
    }

    /// `performance: {max_latency_ms, max_tokens}` of Genesis dialect B.
    pub(crate) fn add_latency_limit(&mut self, key: &str, raw: String, ms: u64) {
        self.assertions.push(Assertion {
            key: key.to_owned(),
            raw,
            kind: AssertionKind::Latency { op: CmpOp::Le, ms: ms as f64 },
        });
    }

    pub(crate) fn add_token_limit(&mut self, key: &str, raw: String, max: u64) {
        self.assertions.push(Assertion {
            key: key.to_owned(),
            raw,
            kind: AssertionKind::MaxTokens { max },
        });
    }
}

/// A word-like value (`success`, `TimeoutError`, `gemini-2.5-flash`): compared for equality.
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.len() <= 80 && !text.chars().any(char::is_whitespace)
}

/// The scalars of a list (or a single scalar as a one-item list), as written.
pub(crate) fn scalar_list(node: &Node) -> Option<Vec<&str>> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => Some(vec![text.as_str()]),
        NodeKind::Seq(items) => items.iter().map(Node::as_scalar_text).collect(),
        NodeKind::Map(_) => None,
    }
}

/// The original text of a value: scalars as written, collections as compact JSON.
pub(crate) fn raw_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { text, .. } => text.clone(),
        _ => node.to_json().to_string(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text).trim()
}
