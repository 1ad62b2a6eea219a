//! Judging a conversation: deterministic assertions, then the LLM judge (or a Rogue server)
//! for what only an LLM can assess; and the driver that plays the user in LLM-driven
//! conversations.

mod assertions;
pub mod cache;
pub mod driver;
pub mod llm;
pub mod rogue_evaluator;

pub use assertions::{
    Assessment, CONFIGURE_JUDGE, Evidence, check_assertions, goal_not_assessed, is_about_reply,
    rubric_not_assessed,
};
pub use cache::VerdictCache;
pub use llm::{Judge, JudgeConfig, PriorityModels};
