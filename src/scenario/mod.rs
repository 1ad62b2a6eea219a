//! Scenario files: discovery, parsing, normalization into one model, selection and counts.

mod agent_alias;
mod assertion;
pub mod comparator;
mod diagnostic;
mod dialect;
pub mod escape;
mod expectation;
mod fields;
mod file_context;
pub mod filter;
mod genesis;
mod headerless;
mod loader;
mod model;
pub mod native;
pub mod node;
mod partition;
mod priority;
mod rogue;
pub mod source_file;

pub use assertion::{Assertion, AssertionKind, ExpectedValue, PRESENCE_SENTINELS};
pub use diagnostic::{Diagnostic, RenderedDiagnostic, Severity};
pub use loader::{
    FileResult, LoadOptions, LoadReport, LoadedFile, is_scenario_file, line_col_offset, load_file,
    load_paths, load_text,
};
pub use model::{
    AgentRef, AgentSource, Conversation, DescriptionRole, Dialect, Layout, Limits, Placement,
    Rubric, Scenario, ScenarioType, SourceLocation,
};
pub use partition::{InvalidPartition, Partition, ShardInfo, selection_digest};
pub use priority::{InvalidPriority, Priority};
mod selection;
mod stats;
pub use filter::{FilterError, FilterSet, ResolvedFilter, StatusLookup};
pub use selection::{InvalidPattern, Rerun, Sampling, Selection};
pub use stats::{PriorityCounts, Stats, UNASSIGNED_AGENT};
