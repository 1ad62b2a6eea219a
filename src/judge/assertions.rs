//! Deterministic checks of an agent's reply, from the loader's typed assertions.
//!
//! Text checks (`contains`, `not_contains`, `regex`) read every agent turn; length and JSON
//! field checks read the last reply. Field checks need a JSON object reply: on prose they are
//! reported as not assessed (the scenario is then `unassessed`), never passed silently.

use serde_json::Value;

use crate::model::{CheckResult, Usage, Verdict};
use crate::scenario::comparator::{CmpOp, Unit, format_number};
use crate::scenario::{Assertion, AssertionKind, ExpectedValue, Rubric};

/// What the checks look at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Every agent turn, joined by newlines.
    pub all_replies: &'a str,
    /// The last agent turn.
    pub last_reply: &'a str,
    /// Wall-clock time spent waiting for the agent, all turns.
    pub latency_ms: u64,
    /// Tokens the agent reported, if it did.
    pub usage: Option<Usage>,
}

/// Evaluate every assertion.
pub fn check_assertions(assertions: &[Assertion], evidence: &Evidence<'_>) -> Vec<CheckResult> {
    let json = parse_json_object(evidence.last_reply);
    let lower_all = evidence.all_replies.to_lowercase();
    assertions.iter().map(|a| check_one(a, evidence, &lower_all, json.as_ref())).collect()
}

/// How to get a judge, for every "needs a judge" message.
pub const CONFIGURE_JUDGE: &str =
    "configure one with OPENAI_API_KEY or --judge-base-url (see README, \"The LLM judge\")";

/// The note of a check left to a judge that is not configured.
const NEEDS_JUDGE: &str = "needs an LLM judge; none is configured";

/// Whether an assertion says something about the reply itself. Timing and usage limits
/// (`latency`, `max_tokens`) do not: alone, they never make a pass.
pub fn is_about_reply(kind: &AssertionKind) -> bool {
    !matches!(kind, AssertionKind::Latency { .. } | AssertionKind::MaxTokens { .. })
}

/// What a scenario's checks assessed. `checks` are [`check_assertions`]'s results for
/// `assertions` (in order), then the judge's or rubric checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Expectations the scenario states (one per check).
    pub expectations: usize,
    /// Checks about the reply (not timing or usage) that passed.
    pub passed_about_reply: usize,
    /// Left to a judge that is not configured.
    pub need_judge: usize,
    /// JSON-field checks on a reply that is not JSON.
    pub no_json: usize,
    /// Token limits on an agent that reports no usage.
    pub no_usage: usize,
}

impl Assessment {
    pub fn of(assertions: &[Assertion], checks: &[CheckResult]) -> Self {
        let mut a = Assessment { expectations: checks.len(), ..Assessment::default() };
        for (i, check) in checks.iter().enumerate() {
            let kind = assertions.get(i).map(|x| &x.kind);
            match (check.verdict, kind) {
                (Verdict::Pass, Some(kind)) if !is_about_reply(kind) => {}
                (Verdict::Pass, _) => a.passed_about_reply += 1,
                (Verdict::Fail, _) => {}
                (Verdict::NotAssessed, Some(AssertionKind::MaxTokens { .. })) => a.no_usage += 1,
                (Verdict::NotAssessed, Some(_)) => a.no_json += 1,
                (Verdict::NotAssessed, None) => a.need_judge += 1,
            }
        }
        a
    }

    /// Expectations that could not be checked.
    pub fn open(&self) -> usize {
        self.need_judge + self.no_json + self.no_usage
    }

    /// Why the scenario is not a pass although nothing failed: some expectations could not be
    /// checked, or only timing and usage were. `None` when everything was assessed and
    /// something about the reply held.
    pub fn unassessed_reason(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.need_judge > 0 {
            parts.push(format!(
                "{} of {} expectation(s) need a judge: {CONFIGURE_JUDGE}",
                self.need_judge, self.expectations
            ));
        }
        if self.no_json > 0 {
            parts.push(format!(
                "{} field check(s) found no JSON in the reply (it is prose)",
                self.no_json
            ));
        }
        if self.no_usage > 0 {
            parts.push(format!(
                "{} token check(s) could not be made: the agent reports no token usage",
                self.no_usage
            ));
        }
        if parts.is_empty() && self.passed_about_reply == 0 {
            parts.push(if self.expectations == 0 {
                "the scenario states no expectation: add expected_output or a rubric".to_owned()
            } else {
                "only timing or usage was checked (latency, tokens), nothing about the reply: \
                 add an expectation on the reply, or a rubric and a judge"
                    .to_owned()
            });
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The judge's ruling on the whole conversation, not assessed while no judge is configured
/// (LLM-driven and Rogue scenarios with no rubric items: their goal is the expectation).
pub fn goal_not_assessed(expected: String) -> CheckResult {
    CheckResult {
        key: "judge".to_owned(),
        expected,
        actual: None,
        verdict: Verdict::NotAssessed,
        note: Some(NEEDS_JUDGE.to_owned()),
    }
}

/// Rubric items, reported as not assessed while no LLM judge is configured.
pub fn rubric_not_assessed(rubric: &Rubric) -> Vec<CheckResult> {
    let note = Some(NEEDS_JUDGE.to_owned());
    let mut out = Vec::new();
    let mut push = |key: String, expected: &str| {
        out.push(CheckResult {
            key,
            expected: expected.to_owned(),
            actual: None,
            verdict: Verdict::NotAssessed,
            note: note.clone(),
        });
    };
    for (i, c) in rubric.criteria.iter().enumerate() {
        push(format!("judge.criteria[{i}]"), c);
    }
    for (i, c) in rubric.policy_checks.iter().enumerate() {
        push(format!("policy_checks[{i}]"), c);
    }
    for (i, c) in rubric.success_criteria.iter().enumerate() {
        push(format!("success_criteria[{i}]"), c);
    }
    if let Some(outcome) = &rubric.expected_outcome {
        push("expected_outcome".to_owned(), outcome);
    }
    for (i, c) in rubric.expectations.iter().enumerate() {
        push(format!("expectations[{i}]"), c);
    }
    out
}

fn result(
    a: &Assertion,
    expected: String,
    actual: Option<String>,
    verdict: Verdict,
    note: Option<String>,
) -> CheckResult {
    CheckResult { key: a.key.clone(), expected, actual, verdict, note }
}

fn pass_fail(ok: bool) -> Verdict {
    if ok { Verdict::Pass } else { Verdict::Fail }
}

fn check_one(
    a: &Assertion,
    ev: &Evidence<'_>,
    lower_all: &str,
    json: Option<&Value>,
) -> CheckResult {
    match &a.kind {
        AssertionKind::Contains { needle } => {
            let found = lower_all.contains(&needle.to_lowercase());
            let note = (!found).then(|| "not found in the reply".to_owned());
            result(a, format!("contains {needle:?}"), None, pass_fail(found), note)
        }
        AssertionKind::NotContains { needle } => {
            let found = lower_all.contains(&needle.to_lowercase());
            let note = found.then(|| "found in the reply".to_owned());
            result(a, format!("does not contain {needle:?}"), None, pass_fail(!found), note)
        }
        AssertionKind::Regex { pattern } => match regex::Regex::new(pattern) {
            Ok(re) => {
                let ok = re.is_match(ev.all_replies);
                result(
                    a,
                    format!("matches /{pattern}/"),
                    None,
                    pass_fail(ok),
                    (!ok).then(|| "no match in the reply".to_owned()),
                )
            }
            Err(e) => result(
                a,
                format!("matches /{pattern}/"),
                None,
                Verdict::Fail,
                Some(format!("invalid pattern: {e}")),
            ),
        },
        AssertionKind::MinLength { chars } => {
            let len = ev.last_reply.chars().count() as u64;
            result(
                a,
                format!("at least {chars} characters"),
                Some(format!("{len} characters")),
                pass_fail(len >= *chars),
                None,
            )
        }
        AssertionKind::MaxLength { chars } => {
            let len = ev.last_reply.chars().count() as u64;
            result(
                a,
                format!("at most {chars} characters"),
                Some(format!("{len} characters")),
                pass_fail(len <= *chars),
                None,
            )
        }
        AssertionKind::Latency { op, ms } => {
            let ok = op.holds(ev.latency_ms as f64, *ms);
            result(
                a,
                format!("latency {op} {} ms", format_number(*ms)),
                Some(format!("{} ms", ev.latency_ms)),
                pass_fail(ok),
                None,
            )
        }
        AssertionKind::MaxTokens { max } => match ev.usage {
            Some(usage) => {
                let used = usage.output_tokens;
                result(
                    a,
                    format!("at most {max} output tokens"),
                    Some(format!("{used} tokens")),
                    pass_fail(used <= *max),
                    None,
                )
            }
            None => result(
                a,
                format!("at most {max} output tokens"),
                None,
                Verdict::NotAssessed,
                Some("the agent reports no token usage".to_owned()),
            ),
        },
        AssertionKind::FieldCompare { field, op, value, unit } => {
            let expected =
                format!("{field} {op} {}{}", money(*unit), format_with_unit(*value, *unit));
            field_check(a, expected, json, field, |v| {
                let actual = number_of(v, *unit)?;
                Some((op.holds(actual, *value), format_with_unit(actual, *unit)))
            })
        }
        AssertionKind::FieldRange { field, lo, hi, unit } => {
            let expected = format!(
                "{field} within {}–{}",
                format_with_unit(*lo, *unit),
                format_with_unit(*hi, *unit)
            );
            field_check(a, expected, json, field, |v| {
                let actual = number_of(v, *unit)?;
                Some((*lo <= actual && actual <= *hi, format_with_unit(actual, *unit)))
            })
        }
        AssertionKind::FieldEquals { field, expected } => {
            let text = match expected {
                ExpectedValue::Bool(b) => b.to_string(),
                ExpectedValue::Number(_) => a.raw.clone(),
                ExpectedValue::Text(t) => format!("{t:?}"),
            };
            field_check(a, format!("{field} = {text}"), json, field, |v| {
                Some((equals(v, expected), short_json(v)))
            })
        }
        AssertionKind::FieldPresent { field } => {
            field_check(a, format!("{field} present"), json, field, |v| {
                let present = match v {
                    Value::Null => false,
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Array(items) => !items.is_empty(),
                    Value::Object(map) => !map.is_empty(),
                    _ => true,
                };
                Some((present, short_json(v)))
            })
        }
        AssertionKind::FieldIncludesAll { field, items } => {
            field_check(a, format!("{field} includes {}", items.join(", ")), json, field, |v| {
                let haystack: Vec<String> = match v {
                    Value::Array(values) => {
                        values.iter().map(|x| scalar_text(x).to_lowercase()).collect()
                    }
                    other => vec![scalar_text(other).to_lowercase()],
                };
                let all = items.iter().all(|item| {
                    let item = item.to_lowercase();
                    haystack
                        .iter()
                        .any(|h| *h == item || (matches!(v, Value::String(_)) && h.contains(&item)))
                });
                Some((all, short_json(v)))
            })
        }
    }
}

/// Run a check on `field` of the JSON reply; not assessed when the reply is not JSON.
fn field_check(
    a: &Assertion,
    expected: String,
    json: Option<&Value>,
    field: &str,
    check: impl FnOnce(&Value) -> Option<(bool, String)>,
) -> CheckResult {
    let Some(json) = json else {
        return result(
            a,
            expected,
            None,
            Verdict::NotAssessed,
            Some("the reply is not a JSON object: this field could not be checked".to_owned()),
        );
    };
    let Some(value) = lookup(json, field) else {
        return result(
            a,
            expected,
            None,
            Verdict::Fail,
            Some(format!("the JSON reply has no field `{field}`")),
        );
    };
    match check(value) {
        Some((ok, actual)) => result(a, expected, Some(actual), pass_fail(ok), None),
        None => result(
            a,
            expected,
            Some(short_json(value)),
            Verdict::Fail,
            Some("not a number".to_owned()),
        ),
    }
}

/// `a.b.c`, a JSON Pointer `/a/b`, or a top-level key (which may itself contain dots).
fn lookup<'v>(json: &'v Value, field: &str) -> Option<&'v Value> {
    if field.starts_with('/') {
        return json.pointer(field);
    }
    if let Some(v) = json.get(field) {
        return Some(v);
    }
    field.split('.').try_fold(json, |node, part| match node {
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => node.get(part),
    })
}

/// The reply as a JSON object: the whole text, or the body of a ```json fence.
fn parse_json_object(reply: &str) -> Option<Value> {
    let trimmed = reply.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .unwrap_or(trimmed);
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

/// A number from a JSON value; strings may carry the unit (`"1.8s"`, `"95%"`, `"$0.02"`).
fn number_of(value: &Value, unit: Unit) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(s) => {
            let s = s.trim().trim_start_matches('$').trim();
            let (number, suffix) = split_number(s)?;
            let scale = match (unit, suffix.trim()) {
                (Unit::Millis, "s") => 1_000.0,
                (Unit::Millis, "m" | "min") => 60_000.0,
                (Unit::Millis, "h") => 3_600_000.0,
                (Unit::Millis, "ms") | (_, "" | "%" | "x") => 1.0,
                _ => return None,
            };
            Some(number * scale)
        }
    }
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    Some((s[..end].parse().ok()?, &s[end..]))
}

fn equals(value: &Value, expected: &ExpectedValue) -> bool {
    match expected {
        ExpectedValue::Bool(b) => match value {
            Value::Bool(v) => v == b,
            Value::String(s) => s.trim().eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        },
        ExpectedValue::Number(n) => {
            number_of(value, Unit::None).is_some_and(|v| CmpOp::Eq.holds(v, *n))
        }
        ExpectedValue::Text(t) => scalar_text(value).trim().eq_ignore_ascii_case(t.trim()),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn short_json(value: &Value) -> String {
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

fn money(unit: Unit) -> &'static str {
    if unit == Unit::Dollars { "$" } else { "" }
}

fn format_with_unit(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Millis => format!("{} ms", format_number(value)),
        other => format!("{}{}", format_number(value), other.suffix()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::comparator::CmpOp;

    fn assertion(key: &str, kind: AssertionKind) -> Assertion {
        Assertion { key: key.to_owned(), raw: "raw".to_owned(), kind }
    }

    fn check(kind: AssertionKind, reply: &str) -> CheckResult {
        let ev = Evidence { all_replies: reply, last_reply: reply, latency_ms: 1500, usage: None };
        check_assertions(&[assertion("k", kind)], &ev).remove(0)
    }

    #[test]
    fn contains_is_case_insensitive_and_says_what_is_missing() {
        let hit =
            check(AssertionKind::Contains { needle: "Refund".into() }, "a refund within 30 days");
        assert_eq!(hit.verdict, Verdict::Pass);
        let miss = check(AssertionKind::Contains { needle: "validated".into() }, "done");
        assert_eq!(miss.verdict, Verdict::Fail);
        assert_eq!(miss.expected, "contains \"validated\"");
        assert_eq!(miss.note.as_deref(), Some("not found in the reply"));
    }

    #[test]
    fn latency_and_length() {
        assert_eq!(
            check(AssertionKind::Latency { op: CmpOp::Lt, ms: 2000.0 }, "x").verdict,
            Verdict::Pass
        );
        let slow = check(AssertionKind::Latency { op: CmpOp::Lt, ms: 1000.0 }, "x");
        assert_eq!((slow.verdict, slow.actual.as_deref()), (Verdict::Fail, Some("1500 ms")));
        assert_eq!(check(AssertionKind::MinLength { chars: 3 }, "héllo").verdict, Verdict::Pass);
        assert_eq!(check(AssertionKind::MinLength { chars: 6 }, "héllo").verdict, Verdict::Fail);
    }

    #[test]
    fn field_checks_read_json_replies_and_leave_prose_to_the_judge() {
        let json = r#"{"status": "Success", "score": 0.91, "took": "1.2s", "items": ["POST", "GET"], "nested": {"n": 3}}"#;
        let field = |kind| check(kind, json).verdict;
        assert_eq!(
            field(AssertionKind::FieldEquals {
                field: "status".into(),
                expected: ExpectedValue::Text("success".into())
            }),
            Verdict::Pass
        );
        assert_eq!(
            field(AssertionKind::FieldCompare {
                field: "score".into(),
                op: CmpOp::Gt,
                value: 0.85,
                unit: Unit::None
            }),
            Verdict::Pass
        );
        assert_eq!(
            field(AssertionKind::FieldCompare {
                field: "took".into(),
                op: CmpOp::Lt,
                value: 1000.0,
                unit: Unit::Millis
            }),
            Verdict::Fail
        );
        assert_eq!(
            field(AssertionKind::FieldIncludesAll {
                field: "items".into(),
                items: vec!["get".into(), "post".into()]
            }),
            Verdict::Pass
        );
        assert_eq!(
            field(AssertionKind::FieldEquals {
                field: "nested.n".into(),
                expected: ExpectedValue::Number(3.0)
            }),
            Verdict::Pass
        );
        assert_eq!(
            field(AssertionKind::FieldRange {
                field: "/nested/n".into(),
                lo: 1.0,
                hi: 2.0,
                unit: Unit::None
            }),
            Verdict::Fail
        );
        let missing = check(AssertionKind::FieldPresent { field: "summary".into() }, json);
        assert_eq!(
            (missing.verdict, missing.note.as_deref()),
            (Verdict::Fail, Some("the JSON reply has no field `summary`"))
        );
        let prose =
            check(AssertionKind::FieldPresent { field: "summary".into() }, "Here is a summary.");
        assert_eq!(prose.verdict, Verdict::NotAssessed);
    }

    #[test]
    fn fenced_json_is_read() {
        let reply = "```json\n{\"status\": \"success\"}\n```";
        let r = check(
            AssertionKind::FieldEquals {
                field: "status".into(),
                expected: ExpectedValue::Text("success".into()),
            },
            reply,
        );
        assert_eq!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn timing_alone_or_an_open_expectation_is_never_a_pass() {
        let latency = assertion("l", AssertionKind::Latency { op: CmpOp::Lt, ms: 2000.0 });
        let field = assertion("f", AssertionKind::FieldPresent { field: "summary".into() });
        let words = assertion("c", AssertionKind::Contains { needle: "hi".into() });
        let ev = Evidence { all_replies: "hi", last_reply: "hi", latency_ms: 5, usage: None };
        let judged = |assertions: &[Assertion], rubric: usize| {
            let mut checks = check_assertions(assertions, &ev);
            let items = Rubric { criteria: vec!["polite".into(); rubric], ..Rubric::default() };
            checks.extend(rubric_not_assessed(&items));
            Assessment::of(assertions, &checks).unassessed_reason()
        };
        assert_eq!(judged(std::slice::from_ref(&words), 0), None);
        let timing = judged(std::slice::from_ref(&latency), 0).unwrap();
        assert!(timing.starts_with("only timing or usage was checked"), "{timing}");
        let prose = judged(&[words.clone(), field], 0).unwrap();
        assert!(prose.starts_with("1 field check(s) found no JSON in the reply"), "{prose}");
        let rubric = judged(&[words, latency], 3).unwrap();
        assert!(
            rubric.starts_with("3 of 5 expectation(s) need a judge: configure one"),
            "{rubric}"
        );
    }

    #[test]
    fn tokens_need_reported_usage() {
        assert_eq!(check(AssertionKind::MaxTokens { max: 10 }, "x").verdict, Verdict::NotAssessed);
        let ev = Evidence {
            all_replies: "x",
            last_reply: "x",
            latency_ms: 1,
            usage: Some(Usage { input_tokens: 5, cached_input_tokens: 0, output_tokens: 20 }),
        };
        let r = check_assertions(&[assertion("t", AssertionKind::MaxTokens { max: 10 })], &ev);
        assert_eq!(r[0].verdict, Verdict::Fail);
    }
}
