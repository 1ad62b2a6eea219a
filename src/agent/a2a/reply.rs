//! Folding the events of one turn into the reply text and the next turn's state.

use super::event::{Artifact, Event, TaskState};
use crate::agent::{AgentError, ConversationState};

/// What is known about the agent's answer so far in this turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Progress {
    /// The agent answered with a Message: the turn is over.
    message: Option<String>,
    task_id: Option<String>,
    context_id: Option<String>,
    state: Option<TaskState>,
    status_text: Option<String>,
    artifacts: Vec<Artifact>,
    last_agent_text: Option<String>,
    /// A 0.x status update said `final: true`.
    saw_final: bool,
    events: usize,
}

impl Progress {
    /// Takes one event in. Returns true when the turn's answer is complete.
    pub(crate) fn absorb(&mut self, event: Event) -> bool {
        self.events += 1;
        match event {
            Event::Message(message) => {
                self.set_ids(message.task_id, message.context_id);
                self.message = Some(message.text);
            }
            Event::Task(task) => {
                self.set_ids(Some(task.id), task.context_id);
                self.state = Some(task.status.state);
                if task.status.text.is_some() {
                    self.status_text = task.status.text;
                }
                // A snapshot without artifacts must not erase chunks streamed so far.
                if !task.artifacts.is_empty() {
                    self.artifacts = task.artifacts;
                }
                if task.last_agent_text.is_some() {
                    self.last_agent_text = task.last_agent_text;
                }
            }
            Event::Status(update) => {
                self.set_ids(update.task_id, update.context_id);
                self.state = Some(update.status.state);
                if update.status.text.is_some() {
                    self.status_text = update.status.text;
                }
                self.saw_final |= update.is_final;
            }
            Event::Artifact(update) => {
                self.set_ids(update.task_id, update.context_id);
                self.add_artifact(update.artifact, update.append);
            }
        }
        self.is_settled()
    }

    fn set_ids(&mut self, task_id: Option<String>, context_id: Option<String>) {
        if task_id.is_some() {
            self.task_id = task_id;
        }
        if context_id.is_some() {
            self.context_id = context_id;
        }
    }

    /// `append` chunks extend the artifact with the same id (or the last one when the chunk
    /// has no id); other chunks replace it or start a new artifact.
    fn add_artifact(&mut self, chunk: Artifact, append: bool) {
        let existing = match &chunk.id {
            Some(id) => self.artifacts.iter_mut().find(|a| a.id.as_ref() == Some(id)),
            None if append => self.artifacts.last_mut(),
            None => None,
        };
        match existing {
            Some(artifact) if append => artifact.text.push_str(&chunk.text),
            Some(artifact) => *artifact = chunk,
            None => self.artifacts.push(chunk),
        }
    }

    /// Nothing more to wait for: a message arrived, the task reached a terminal or
    /// interrupted state, or a 0.x `final` flag was seen.
    pub(crate) fn is_settled(&self) -> bool {
        self.message.is_some()
            || self.saw_final
            || self.state.as_ref().is_some_and(|state| !state.is_running())
    }

    /// Whether any event arrived at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The task to poll when the answer is not complete yet.
    pub(crate) fn pending_task(&self) -> Option<&str> {
        if self.is_settled() { None } else { self.task_id.as_deref() }
    }

    /// The reply text, updating `conversation` for the next turn: the returned `contextId`
    /// is kept; `taskId` is kept only when the task waits for input.
    pub(crate) fn finish(
        self,
        conversation: &mut ConversationState,
        url: &str,
    ) -> Result<String, AgentError> {
        if self.context_id.is_some() {
            conversation.context_id.clone_from(&self.context_id);
        }
        conversation.task_id = None;
        if let Some(text) = self.message {
            return Ok(text);
        }
        let artifacts = self
            .artifacts
            .iter()
            .map(|a| a.text.as_str())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let state = self.state.unwrap_or(TaskState::Unknown("(none)".to_owned()));
        let or_status = |artifacts: String| -> Option<String> {
            Some(artifacts).filter(|t| !t.is_empty()).or(self.status_text.clone())
        };
        match state {
            TaskState::Completed => {
                Ok(or_status(artifacts).or(self.last_agent_text.clone()).unwrap_or_default())
            }
            TaskState::InputRequired | TaskState::AuthRequired => {
                conversation.task_id.clone_from(&self.task_id);
                Ok(self.status_text.clone().or_else(|| or_status(artifacts)).unwrap_or_default())
            }
            TaskState::Failed | TaskState::Rejected | TaskState::Canceled => {
                Err(AgentError::TaskFailed {
                    state: state.name().to_owned(),
                    message: self
                        .status_text
                        .clone()
                        .unwrap_or_else(|| "no reason given".to_owned()),
                })
            }
            TaskState::Submitted | TaskState::Working if self.saw_final => {
                Ok(or_status(artifacts).unwrap_or_default())
            }
            TaskState::Submitted | TaskState::Working => Err(AgentError::Protocol {
                url: url.to_owned(),
                detail: format!(
                    "the task is still {} and the agent sent nothing more",
                    state.name()
                ),
            }),
            TaskState::Unknown(raw) => Err(AgentError::Protocol {
                url: url.to_owned(),
                detail: format!("the task is in state {raw}, which this client does not know"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::{ArtifactUpdate, Message, Status, StatusUpdate, Task};
    use super::*;

    fn chunk(id: &str, text: &str, append: bool) -> Event {
        Event::Artifact(ArtifactUpdate {
            task_id: Some("t".into()),
            context_id: Some("c".into()),
            artifact: Artifact { id: Some(id.into()), text: text.into() },
            append,
        })
    }

    fn status(state: TaskState, text: Option<&str>, is_final: bool) -> Event {
        Event::Status(StatusUpdate {
            task_id: Some("t".into()),
            context_id: Some("c".into()),
            status: Status { state, text: text.map(str::to_owned) },
            is_final,
        })
    }

    #[test]
    fn append_chunks_concatenate_and_artifacts_join_with_newlines() {
        let mut p = Progress::default();
        assert!(!p.absorb(chunk("a", "Refunds are poss", false)));
        assert!(!p.absorb(chunk("a", "ible within 30 d", true)));
        assert!(!p.absorb(chunk("a", "ays.", true)));
        assert!(!p.absorb(chunk("b", "Second.", false)));
        assert!(p.absorb(status(TaskState::Completed, None, false)));
        let mut conv = ConversationState::default();
        assert_eq!(
            p.finish(&mut conv, "http://a").unwrap(),
            "Refunds are possible within 30 days.\nSecond."
        );
        assert_eq!(conv.context_id.as_deref(), Some("c"));
        assert_eq!(conv.task_id, None);
    }

    #[test]
    fn non_append_chunk_replaces() {
        let mut p = Progress::default();
        p.absorb(chunk("a", "draft", false));
        p.absorb(chunk("a", "final", false));
        p.absorb(status(TaskState::Completed, None, true));
        assert_eq!(p.finish(&mut ConversationState::default(), "http://a").unwrap(), "final");
    }

    #[test]
    fn input_required_keeps_the_task() {
        let mut p = Progress::default();
        assert!(p.absorb(status(TaskState::InputRequired, Some("Which date?"), false)));
        let mut conv = ConversationState::default();
        assert_eq!(p.finish(&mut conv, "http://a").unwrap(), "Which date?");
        assert_eq!(conv.task_id.as_deref(), Some("t"));
    }

    #[test]
    fn failed_task_is_an_error_with_its_reason() {
        let mut p = Progress::default();
        p.absorb(status(TaskState::Rejected, Some("I will not do that"), true));
        let mut conv = ConversationState { task_id: Some("old".into()), ..Default::default() };
        let err = p.finish(&mut conv, "http://a").unwrap_err();
        assert_eq!(err.to_string(), "the agent ended the task as rejected: I will not do that");
        assert_eq!(conv.task_id, None);
    }

    #[test]
    fn completed_without_artifacts_uses_status_then_history() {
        let task = |status_text: Option<&str>, history: Option<&str>| {
            Event::Task(Task {
                id: "t".into(),
                context_id: None,
                status: Status {
                    state: TaskState::Completed,
                    text: status_text.map(str::to_owned),
                },
                artifacts: vec![],
                last_agent_text: history.map(str::to_owned),
            })
        };
        let mut p = Progress::default();
        p.absorb(task(Some("done"), Some("hist")));
        assert_eq!(p.finish(&mut ConversationState::default(), "http://a").unwrap(), "done");
        let mut p = Progress::default();
        p.absorb(task(None, Some("hist")));
        assert_eq!(p.finish(&mut ConversationState::default(), "http://a").unwrap(), "hist");
    }

    #[test]
    fn a_message_settles_and_keeps_the_old_context_when_none_is_returned() {
        let mut p = Progress::default();
        assert!(p.absorb(Event::Message(Message { text: "hi".into(), ..Default::default() })));
        let mut conv = ConversationState { context_id: Some("c0".into()), ..Default::default() };
        assert_eq!(p.finish(&mut conv, "http://a").unwrap(), "hi");
        assert_eq!(conv.context_id.as_deref(), Some("c0"));
    }

    #[test]
    fn working_task_is_pending() {
        let mut p = Progress::default();
        assert!(p.is_empty());
        assert!(!p.absorb(status(TaskState::Working, None, false)));
        assert_eq!(p.pending_task(), Some("t"));
    }
}
