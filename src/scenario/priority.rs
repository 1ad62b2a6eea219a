use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How critical a scenario is. P0 runs first and drives fail-fast.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Priority {
    P0,
    P1,
    P2,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::P0, Priority::P1, Priority::P2];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `P0`, `P1`, `P2` (exact, upper case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid priority `{0}`: expected P0, P1 or P2")]
pub struct InvalidPriority(pub String);

impl FromStr for Priority {
    type Err = InvalidPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "P0" => Ok(Priority::P0),
            "P1" => Ok(Priority::P1),
            "P2" => Ok(Priority::P2),
            other => Err(InvalidPriority(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_exact_upper_case() {
        assert_eq!("P0".parse(), Ok(Priority::P0));
        assert_eq!("P2".parse(), Ok(Priority::P2));
        assert!("p0".parse::<Priority>().is_err());
        assert!("P3".parse::<Priority>().is_err());
        assert!(" P1".parse::<Priority>().is_err());
    }

    #[test]
    fn orders_p0_first() {
        let mut v = vec![Priority::P2, Priority::P0, Priority::P1];
        v.sort();
        assert_eq!(v, Priority::ALL);
    }
}
