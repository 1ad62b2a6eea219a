//! Secrets (API keys, passwords) that never print.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`, so a secret cannot leak through a log
/// line, an error message or a report by accident; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for building a request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("sk-canary-123");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{s:?}").contains("canary"));
        assert_eq!(s.expose(), "sk-canary-123");
    }
}
