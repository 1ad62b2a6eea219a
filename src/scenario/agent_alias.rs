//! Agent names inferred from scenario ids, for multi-agent files with no agent in the header.
//!
//! Never the prototype's `id.split('_')[0] + "_agent"` rule: it routes 34% of the Genesis
//! corpus to agents that do not exist (`se_agent`, `waltzrl_agent`, `htdag_agent`).

/// Short id prefixes whose agent is not `<prefix>_agent`.
const ALIASES: &[(&str, &str)] = &[
    ("darwin", "se_darwin_agent"),
    ("se_darwin", "se_darwin_agent"),
    ("waltzrl_conv", "waltzrl_conversation_agent"),
    ("waltzrl_conversation", "waltzrl_conversation_agent"),
    ("waltzrl_fb", "waltzrl_feedback_agent"),
    ("waltzrl_feedback", "waltzrl_feedback_agent"),
    ("htdag", "orchestration"),
    ("halo", "orchestration"),
    ("aop", "orchestration"),
    ("daao", "orchestration"),
    ("orch", "orchestration"),
    ("orchestration", "orchestration"),
];

/// The id's agent prefix: everything before the first `_p<digit>` segment or the first
/// numeric segment (`waltzrl_conv_p0_core_001` → `waltzrl_conv`, `qa_001_x` → `qa`).
pub(crate) fn id_prefix(id: &str) -> Option<&str> {
    let mut end = 0;
    for (i, segment) in id.split('_').enumerate() {
        let is_priority = segment.len() >= 2
            && segment.starts_with(['p', 'P'])
            && segment[1..].bytes().all(|b| b.is_ascii_digit());
        let is_number = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
        if i > 0 && (is_priority || is_number) {
            break;
        }
        end += segment.len() + usize::from(i > 0);
    }
    let prefix = &id[..end.min(id.len())];
    (!prefix.is_empty() && prefix != id).then_some(prefix)
}

/// The agent an id prefix stands for.
pub(crate) fn agent_for_id(id: &str) -> Option<String> {
    let prefix = id_prefix(id)?;
    if let Some((_, agent)) = ALIASES.iter().find(|(alias, _)| *alias == prefix) {
        return Some((*agent).to_owned());
    }
    if prefix.ends_with("_agent") {
        return Some(prefix.to_owned());
    }
    Some(format!("{prefix}_agent"))
}

/// The agent for a dialect-B `input.agent` short name (`qa` → `qa_agent`).
pub(crate) fn agent_for_short_name(short: &str) -> String {
    if short.ends_with("_agent") || short == "orchestration" {
        short.to_owned()
    } else {
        format!("{short}_agent")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_id_formats() {
        assert_eq!(agent_for_id("qa_p0_core_001").as_deref(), Some("qa_agent"));
        assert_eq!(agent_for_id("darwin_p0_core_003").as_deref(), Some("se_darwin_agent"));
        assert_eq!(
            agent_for_id("waltzrl_conv_p0_core_001").as_deref(),
            Some("waltzrl_conversation_agent")
        );
        assert_eq!(
            agent_for_id("waltzrl_fb_p0_core_010").as_deref(),
            Some("waltzrl_feedback_agent")
        );
        assert_eq!(agent_for_id("se_darwin_p1_001").as_deref(), Some("se_darwin_agent"));
        assert_eq!(agent_for_id("qa_agent_p0_100").as_deref(), Some("qa_agent"));
        assert_eq!(agent_for_id("qa_001_screenshot_analysis_success").as_deref(), Some("qa_agent"));
        assert_eq!(agent_for_id("htdag_p0_001").as_deref(), Some("orchestration"));
        assert_eq!(agent_for_id("orchestration_p0_200").as_deref(), Some("orchestration"));
        assert_eq!(agent_for_id("lonely"), None);
    }
}
