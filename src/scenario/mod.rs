//! Scenario files: discovery, parsing, normalization into one model, selection and counts.

mod assertion;
pub mod comparator;
mod model;
mod priority;

pub use assertion::{Assertion, AssertionKind, ExpectedValue, PRESENCE_SENTINELS};
pub use model::{
    AgentRef, AgentSource, Conversation, Layout, Limits, Rubric, Scenario, SourceLocation,
};
pub use priority::{InvalidPriority, Priority};
