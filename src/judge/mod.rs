//! Judging a conversation: deterministic assertions now; the LLM judge arrives with its issue.

mod assertions;

pub use assertions::{Evidence, check_assertions, rubric_not_assessed};
