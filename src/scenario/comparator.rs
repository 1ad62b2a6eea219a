//! The comparator grammar of `expected_output` strings: `">=5"`, `"<2s"`, `"<$0.01"`,
//! `">=90%"`, `"5-10"`, `"3"`. Covers every comparator in the Genesis corpus except three
//! prose ones (`">=2x vs sequential"`), which go to the judge.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
        }
    }

    /// Whether `actual OP expected` holds.
    pub fn holds(self, actual: f64, expected: f64) -> bool {
        match self {
            CmpOp::Lt => actual < expected,
            CmpOp::Le => actual <= expected,
            CmpOp::Gt => actual > expected,
            CmpOp::Ge => actual >= expected,
            CmpOp::Eq => (actual - expected).abs() <= f64::EPSILON * expected.abs().max(1.0),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The unit a comparator's number is in. Durations are normalized to milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain number.
    None,
    /// A duration, normalized to milliseconds.
    Millis,
    Percent,
    Dollars,
    Multiplier,
}

impl Unit {
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::None | Unit::Dollars => "",
            Unit::Millis => "ms",
            Unit::Percent => "%",
            Unit::Multiplier => "x",
        }
    }
}

/// A parsed comparator string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparator {
    /// `op value unit`; a bare value has `op == Eq`.
    Compare { op: CmpOp, value: f64, unit: Unit },
    /// `lo-hi`, inclusive.
    Range { lo: f64, hi: f64, unit: Unit },
}

/// What a string turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparatorParse {
    /// A comparator we can check.
    Parsed(Comparator),
    /// Starts like a comparator but carries prose (`">=300 tokens/sec"`): judge material.
    Prose,
    /// Not a comparator at all (a word, a sentence).
    NotComparator,
    /// Looks like a comparator but is malformed; the message says why.
    Invalid(String),
}

static COMPARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(<=|>=|<|>|≤|≥)?\s*(\$)?(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*(ms|s|min|m|h|%|x)?\s*$",
    )
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|%)?\s*-\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|%)?\s*$",
    )
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static LEADING_OP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(<=|>=|<|>|≤|≥|==|=|!=)").unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

fn unit_of(suffix: Option<&str>, dollars: bool) -> (Unit, f64) {
    match suffix {
        Some("ms") => (Unit::Millis, 1.0),
        Some("s") => (Unit::Millis, 1_000.0),
        Some("m" | "min") => (Unit::Millis, 60_000.0),
        Some("h") => (Unit::Millis, 3_600_000.0),
        Some("%") => (Unit::Percent, 1.0),
        Some("x") => (Unit::Multiplier, 1.0),
        _ if dollars => (Unit::Dollars, 1.0),
        _ => (Unit::None, 1.0),
    }
}

/// Parse a comparator string. Returns whether the `≥`/`≤` spelling was used (a warning).
pub fn parse(text: &str) -> (ComparatorParse, bool) {
    let trimmed = text.trim();
    if trimmed.starts_with(">>") || trimmed.starts_with("<<") {
        return (ComparatorParse::Invalid(format!("`{trimmed}` has a doubled operator")), false);
    }
    if let Some(caps) = COMPARE.captures(trimmed) {
        let op_text = caps.get(1).map(|m| m.as_str());
        let unicode = matches!(op_text, Some("≤" | "≥"));
        let op = match op_text {
            Some("<") => CmpOp::Lt,
            Some("<=" | "≤") => CmpOp::Le,
            Some(">") => CmpOp::Gt,
            Some(">=" | "≥") => CmpOp::Ge,
            _ => CmpOp::Eq,
        };
        // A bare `010` or `0012` is an identifier, not the number ten: keep it as text.
        let digits = caps[3].trim_start_matches('-');
        let leading_zero = digits.len() > 1
            && digits.starts_with('0')
            && digits.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
        if op_text.is_none() && caps.get(4).is_none() && caps.get(2).is_none() && leading_zero {
            return (ComparatorParse::NotComparator, false);
        }
        let Ok(number) = caps[3].parse::<f64>() else {
            return (ComparatorParse::NotComparator, false);
        };
        let (unit, scale) = unit_of(caps.get(4).map(|m| m.as_str()), caps.get(2).is_some());
        return (
            ComparatorParse::Parsed(Comparator::Compare { op, value: number * scale, unit }),
            unicode,
        );
    }
    if let Some(caps) = RANGE.captures(trimmed) {
        let (Ok(lo), Ok(hi)) = (caps[1].parse::<f64>(), caps[3].parse::<f64>()) else {
            return (ComparatorParse::NotComparator, false);
        };
        let lo_unit = caps.get(2).map(|m| m.as_str());
        let hi_unit = caps.get(4).map(|m| m.as_str());
        if lo_unit.is_some() && hi_unit.is_some() && lo_unit != hi_unit {
            return (ComparatorParse::Invalid(format!("range `{trimmed}` mixes units")), false);
        }
        let (unit, scale) = unit_of(hi_unit.or(lo_unit), false);
        if lo > hi {
            return (
                ComparatorParse::Invalid(format!(
                    "range `{trimmed}` is reversed: its low end is above its high end"
                )),
                false,
            );
        }
        return (
            ComparatorParse::Parsed(Comparator::Range { lo: lo * scale, hi: hi * scale, unit }),
            false,
        );
    }
    if LEADING_OP.is_match(trimmed) {
        if trimmed.starts_with("==") || trimmed.starts_with("!=") || trimmed.starts_with('=') {
            return (
                ComparatorParse::Invalid(format!(
                    "`{trimmed}` uses an operator the grammar does not have (use <, <=, >, >= or a bare value)"
                )),
                false,
            );
        }
        return (ComparatorParse::Prose, false);
    }
    (ComparatorParse::NotComparator, false)
}

/// Render a number without a trailing `.0`.
pub fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(text: &str) -> Comparator {
        match parse(text).0 {
            ComparatorParse::Parsed(c) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn corpus_comparators() {
        assert_eq!(
            cmp("<2s"),
            Comparator::Compare { op: CmpOp::Lt, value: 2000.0, unit: Unit::Millis }
        );
        assert_eq!(
            cmp("<100ms"),
            Comparator::Compare { op: CmpOp::Lt, value: 100.0, unit: Unit::Millis }
        );
        assert_eq!(
            cmp("<2h"),
            Comparator::Compare { op: CmpOp::Lt, value: 7_200_000.0, unit: Unit::Millis }
        );
        assert_eq!(
            cmp("<=1.1s"),
            Comparator::Compare { op: CmpOp::Le, value: 1100.0, unit: Unit::Millis }
        );
        assert_eq!(cmp(">=5"), Comparator::Compare { op: CmpOp::Ge, value: 5.0, unit: Unit::None });
        assert_eq!(
            cmp(">0.85"),
            Comparator::Compare { op: CmpOp::Gt, value: 0.85, unit: Unit::None }
        );
        assert_eq!(
            cmp("<$0.01"),
            Comparator::Compare { op: CmpOp::Lt, value: 0.01, unit: Unit::Dollars }
        );
        assert_eq!(
            cmp("<-0.6"),
            Comparator::Compare { op: CmpOp::Lt, value: -0.6, unit: Unit::None }
        );
        assert_eq!(
            cmp(">=90%"),
            Comparator::Compare { op: CmpOp::Ge, value: 90.0, unit: Unit::Percent }
        );
        assert_eq!(
            cmp(">=10x"),
            Comparator::Compare { op: CmpOp::Ge, value: 10.0, unit: Unit::Multiplier }
        );
        assert_eq!(cmp("3"), Comparator::Compare { op: CmpOp::Eq, value: 3.0, unit: Unit::None });
        assert_eq!(
            cmp("25m"),
            Comparator::Compare { op: CmpOp::Eq, value: 1_500_000.0, unit: Unit::Millis }
        );
        assert_eq!(cmp("5-10"), Comparator::Range { lo: 5.0, hi: 10.0, unit: Unit::None });
        assert_eq!(cmp("750-850"), Comparator::Range { lo: 750.0, hi: 850.0, unit: Unit::None });
    }

    #[test]
    fn prose_and_words_are_not_checked() {
        assert_eq!(parse(">=2x vs sequential").0, ComparatorParse::Prose);
        assert_eq!(parse(">8/10").0, ComparatorParse::Prose);
        assert_eq!(parse(">=300 tokens/sec").0, ComparatorParse::Prose);
        assert_eq!(parse("success").0, ComparatorParse::NotComparator);
        assert_eq!(parse("150-200 words").0, ComparatorParse::NotComparator);
    }

    #[test]
    fn malformed_comparators_are_errors() {
        assert!(matches!(parse(">>5").0, ComparatorParse::Invalid(_)));
        assert!(matches!(parse("10-5").0, ComparatorParse::Invalid(_)));
        assert!(matches!(parse("==5").0, ComparatorParse::Invalid(_)));
    }

    #[test]
    fn unicode_operators_are_accepted_with_a_warning() {
        let (parsed, warn) = parse("≥5");
        assert_eq!(
            parsed,
            ComparatorParse::Parsed(Comparator::Compare {
                op: CmpOp::Ge,
                value: 5.0,
                unit: Unit::None
            })
        );
        assert!(warn);
    }
}
