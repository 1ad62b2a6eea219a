//! What the file reporters remember of a run, and how it becomes a [`ResultsDocument`].

use std::sync::Arc;

use jiff::Timestamp;

use super::ResultsDocument;
use super::document::{AgentCheck, AgentReport, PlanInfo, RESULTS_SCHEMA_VERSION, ToolInfo};
use super::text::redact_userinfo;
use crate::model::{AgentPlan, CancelReason, Outcome, RunEvent, RunSummary};

/// The message a partial document carries when the engine never said why it stopped.
pub(crate) const PARTIAL_MESSAGE: &str =
    "the run was interrupted before it finished; these results are partial";

/// The run as seen through its events.
#[derive(Debug, Default)]
pub(crate) struct RunState {
    run_id: String,
    started_at: String,
    plan: PlanInfo,
    agents: Vec<AgentPlan>,
    checks: Vec<(String, String, AgentCheck)>,
    /// Shared with the events: four file reporters keep the outcomes of a run, one copy.
    outcomes: Vec<Arc<Outcome>>,
    cancelled: Option<(CancelReason, String)>,
    summary: Option<RunSummary>,
}

impl RunState {
    pub(crate) fn new() -> Self {
        RunState::default()
    }

    pub(crate) fn apply(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id,
                started_at,
                total,
                parallel,
                agents,
                partition,
                missing_shards,
            } => {
                *self = RunState {
                    run_id: run_id.clone(),
                    started_at: started_at.clone(),
                    plan: PlanInfo {
                        total: *total,
                        parallel: *parallel,
                        partition: partition.clone(),
                        missing_shards: missing_shards.clone(),
                    },
                    agents: agents.clone(),
                    ..RunState::new()
                };
            }
            RunEvent::AgentChecked { agent, url, ok, message, elapsed_ms } => {
                let check =
                    AgentCheck { ok: *ok, message: message.clone(), elapsed_ms: *elapsed_ms };
                self.checks.retain(|(name, u, _)| name != agent || u != url);
                self.checks.push((agent.clone(), url.clone(), check));
            }
            RunEvent::ScenarioStarted { .. } | RunEvent::ScenarioWaiting { .. } => {}
            RunEvent::ScenarioFinished { outcome } => self.outcomes.push(Arc::clone(outcome)),
            RunEvent::RunCancelled { reason, message } => {
                if self.cancelled.is_none() {
                    self.cancelled = Some((*reason, message.clone()));
                }
            }
            RunEvent::RunFinished { summary } => self.summary = Some(summary.clone()),
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.summary.is_some()
    }

    /// The document of a finished run, or of what has finished so far (then `partial` is
    /// true and the summary says cancelled).
    pub(crate) fn document(&self) -> ResultsDocument {
        let mut scenarios = self.outcomes.clone();
        sort_scenarios(&mut scenarios);
        ResultsDocument { scenarios, ..self.document_without_scenarios() }
    }

    /// Calls `render` with [`Self::document`], lending it the list of outcomes instead of
    /// copying it. Every file reporter renders the whole run at the end, all at once (see
    /// `ReportSet::on_event`).
    pub(crate) fn with_document<T>(&mut self, render: impl FnOnce(&ResultsDocument) -> T) -> T {
        let mut doc = self.document_without_scenarios();
        doc.scenarios = std::mem::take(&mut self.outcomes);
        sort_scenarios(&mut doc.scenarios);
        let rendered = render(&doc);
        // Back in document order, which nothing else depends on.
        self.outcomes = doc.scenarios;
        rendered
    }

    fn document_without_scenarios(&self) -> ResultsDocument {
        let (run, partial) = match &self.summary {
            Some(summary) => (summary.clone(), false),
            None => (self.partial_summary(Timestamp::now()), true),
        };
        ResultsDocument {
            schema_version: RESULTS_SCHEMA_VERSION,
            tool: ToolInfo::current(),
            partial,
            plan: self.plan.clone(),
            run,
            agents: self.agent_reports(),
            scenarios: Vec::new(),
        }
    }

    fn partial_summary(&self, now: Timestamp) -> RunSummary {
        let duration_ms = self
            .started_at
            .parse::<Timestamp>()
            .map_or(0, |start| (now.as_millisecond() - start.as_millisecond()).max(0));
        let cancelled = self
            .cancelled
            .clone()
            .unwrap_or_else(|| (CancelReason::Interrupted, PARTIAL_MESSAGE.to_owned()));
        crate::engine::summarize(
            self.run_id.clone(),
            self.started_at.clone(),
            now.to_string(),
            u64::try_from(duration_ms).unwrap_or(0),
            self.outcomes.iter().map(AsRef::as_ref),
            Some(cancelled),
        )
    }

    /// Planned agents in plan order, then any agent that was checked without being planned.
    fn agent_reports(&self) -> Vec<AgentReport> {
        let check_of = |name: &str, url: &str| {
            self.checks
                .iter()
                .find(|(agent, u, _)| agent == name && u == url)
                .map(|(_, _, c)| c.clone())
        };
        let mut reports: Vec<AgentReport> = self
            .agents
            .iter()
            .map(|plan| AgentReport {
                name: plan.name.clone(),
                url: redact_userinfo(&plan.url),
                scenarios: plan.scenarios,
                check: check_of(&plan.name, &plan.url),
            })
            .collect();
        for (name, url, check) in &self.checks {
            if !self.agents.iter().any(|plan| &plan.name == name && &plan.url == url) {
                reports.push(AgentReport {
                    name: name.clone(),
                    url: redact_userinfo(url),
                    scenarios: 0,
                    check: Some(check.clone()),
                });
            }
        }
        for report in &mut reports {
            if let Some(check) = &mut report.check {
                check.message = redact_userinfo(&check.message);
            }
        }
        reports
    }
}

/// Priority first, then id: the order of every report.
fn sort_scenarios(scenarios: &mut [Arc<Outcome>]) {
    scenarios.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
}
