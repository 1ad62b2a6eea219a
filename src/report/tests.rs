//! Reporter tests over a small synthetic run: snapshots of every report, plus crash,
//! atomicity, failure-isolation and hostile-text checks.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::*;
use crate::model::{
    AgentPlan, CancelReason, CheckResult, Outcome, Role, Status, TranscriptEntry, Usage, Verdict,
};
use crate::scenario::Priority;

/// A writer tests can read back (the progress tests use it too).
#[derive(Clone, Default)]
pub(super) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub(super) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const RUN_ID: &str = "run-20260830-100000-7f3a";
const STARTED_AT: &str = "2026-08-30T10:00:00Z";
const FAIL_FAST: &str = "P0 pass rate 50.0% can no longer reach the 80.0% threshold";
const UNREACHABLE: &str = "agent unreachable: cannot connect to 127.0.0.1:9: connection refused";
const HOSTILE_REPLY: &str = "\x1b[31mFAIL\x1b[0m\x1b]0;pwned\x07\r\nnext line\x08\x1b[2J | end";
const HOSTILE: &str =
    "equals \"ok\": got \x1b[31mFAIL\x1b[0m\x1b]0;pwned\x07\r\nnext line\x08\x1b[2J | end";

fn outcome(id: &str, priority: Priority, agent: &str, status: Status, duration_ms: u64) -> Outcome {
    Outcome {
        id: id.to_owned(),
        priority,
        category: "core".to_owned(),
        agent: agent.to_owned(),
        agent_url: None,
        source: format!("genesis/{agent}.yaml:{}:5", 10 + id.len()),
        status,
        reasons: Vec::new(),
        checks: Vec::new(),
        transcript: vec![
            TranscriptEntry { role: Role::User, text: "hello".to_owned() },
            TranscriptEntry { role: Role::Agent, text: "hi there".to_owned() },
        ],
        latency_ms: (status != Status::Skipped && status != Status::Error).then_some(duration_ms),
        duration_ms,
        usage: None,
        cost_usd: None,
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

fn with_reasons(mut o: Outcome, reasons: &[&str]) -> Outcome {
    o.reasons = reasons.iter().map(|r| (*r).to_owned()).collect();
    o
}

fn check(key: &str, expected: &str, actual: Option<&str>, verdict: Verdict) -> CheckResult {
    CheckResult {
        key: key.to_owned(),
        expected: expected.to_owned(),
        actual: actual.map(str::to_owned),
        verdict,
        note: None,
    }
}

/// Twelve outcomes, in the (unsorted) order they finish.
fn fixture_outcomes() -> Vec<Outcome> {
    use Priority::{P0, P1, P2};
    use Status::{Error, Failed, Passed, Skipped};

    let mut passed_001 = outcome("qa_p0_core_001", P0, "qa_agent", Passed, 812);
    passed_001.usage = Some(Usage { input_tokens: 420, cached_input_tokens: 0, output_tokens: 96 });
    passed_001.cost_usd = Some(0.0121);

    let mut failed_002 = with_reasons(
        outcome("qa_p0_core_002", P0, "qa_agent", Failed, 1834),
        &["contains \"validated\": not found"],
    );
    failed_002.checks = vec![
        check(
            "expected_output",
            "contains \"validated\"",
            Some("\"warning: input | rejected\""),
            Verdict::Fail,
        ),
        check("limits.latency_ms", "latency < 2000 ms", Some("1834 ms"), Verdict::Pass),
    ];

    let mut cached_003 = outcome("qa_p0_core_003", P0, "qa_agent", Passed, 3);
    cached_003.cached = true;

    let mut refund_001 = with_reasons(
        outcome("support_p1_refund_001", P1, "support_agent", Failed, 4210),
        &["judge: agent promised a refund | without `approval` <b>now</b>"],
    );
    refund_001.checks = vec![CheckResult {
        note: Some("judge score 0.2".to_owned()),
        ..check(
            "rubric.policy_checks[0]",
            "never promise a refund without approval",
            Some("\"Sure — refund | approved\""),
            Verdict::Fail,
        )
    }];
    refund_001.attempts = 2;
    refund_001.cost_usd = Some(0.0105);

    let mut refund_002 = outcome("support_p1_refund_002", P1, "support_agent", Passed, 2950);
    refund_002.cost_usd = Some(0.0105);

    let mut timeout = with_reasons(
        outcome("support_p2_tone_001", P2, "support_agent", Error, 30_000),
        &["timeout after 30s waiting for the agent"],
    );
    timeout.attempts = 3;

    let mut hostile =
        with_reasons(outcome("qa_p2_edge_001", P2, "qa_agent", Failed, 640), &[HOSTILE]);
    hostile.checks =
        vec![check("expected_output", "equals \"ok\"", Some(HOSTILE_REPLY), Verdict::Fail)];

    vec![
        passed_001,
        with_reasons(
            outcome("billing_p0_refund_001", P0, "billing_agent", Error, 3),
            &[UNREACHABLE],
        ),
        failed_002,
        cached_003,
        with_reasons(
            outcome("billing_p1_invoice_001", P1, "billing_agent", Error, 2),
            &[UNREACHABLE],
        ),
        refund_001,
        refund_002,
        timeout,
        hostile,
        with_reasons(
            outcome("billing_p2_export_001", P2, "billing_agent", Error, 2),
            &[UNREACHABLE],
        ),
        with_reasons(
            outcome("qa_p2_edge_002", P2, "qa_agent", Skipped, 0),
            &["cancelled by fail-fast"],
        ),
        with_reasons(
            outcome("support_p2_tone_002", P2, "support_agent", Skipped, 0),
            &["cancelled by fail-fast"],
        ),
    ]
}

fn run_started(total: usize, agents: Vec<AgentPlan>) -> RunEvent {
    RunEvent::RunStarted {
        run_id: RUN_ID.to_owned(),
        started_at: STARTED_AT.to_owned(),
        total,
        parallel: 4,
        agents,
        partition: None,
        missing_shards: Vec::new(),
    }
}

fn plan(name: &str, url: &str, scenarios: usize) -> AgentPlan {
    AgentPlan { name: name.to_owned(), url: url.to_owned(), scenarios }
}

/// The whole synthetic run: a fail-fast cancellation after ten outcomes.
fn fixture_events() -> Vec<RunEvent> {
    let outcomes = fixture_outcomes();
    let mut events = vec![
        run_started(
            12,
            vec![
                plan("qa_agent", "http://localhost:8000/a2a/qa_agent", 5),
                plan("support_agent", "https://bot:hunter2@support.example.com/a2a", 4),
                plan("billing_agent", "http://127.0.0.1:9/a2a/billing_agent", 3),
            ],
        ),
        RunEvent::AgentChecked {
            agent: "qa_agent".to_owned(),
            url: "http://localhost:8000/a2a/qa_agent".to_owned(),
            ok: true,
            message: "A2A 0.3 card, streaming".to_owned(),
            elapsed_ms: 12,
        },
        RunEvent::AgentChecked {
            agent: "support_agent".to_owned(),
            url: "https://bot:hunter2@support.example.com/a2a".to_owned(),
            ok: true,
            message: "A2A 0.2 card".to_owned(),
            elapsed_ms: 48,
        },
        RunEvent::AgentChecked {
            agent: "billing_agent".to_owned(),
            url: "http://127.0.0.1:9/a2a/billing_agent".to_owned(),
            ok: false,
            message: "cannot connect to 127.0.0.1:9: connection refused".to_owned(),
            elapsed_ms: 3,
        },
    ];
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 10 {
            events.push(RunEvent::RunCancelled {
                reason: CancelReason::FailFast,
                message: FAIL_FAST.to_owned(),
            });
        }
        if outcome.status != Status::Skipped {
            events.push(RunEvent::ScenarioStarted { id: outcome.id.clone() });
        }
        events.push(RunEvent::ScenarioFinished { outcome: Arc::new(outcome.clone()) });
    }
    events.push(RunEvent::RunFinished {
        summary: crate::engine::summarize(
            RUN_ID.to_owned(),
            STARTED_AT.to_owned(),
            "2026-08-30T10:00:41.500Z".to_owned(),
            41_500,
            &outcomes,
            Some((CancelReason::FailFast, FAIL_FAST.to_owned())),
        ),
    });
    events
}

fn version_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r#""version": "\d+\.\d+\.\d+[^"]*""#, r#""version": "[VERSION]""#),
        (r"rogue-runner \d+\.\d+\.\d+\S*", "rogue-runner [VERSION]"),
        (r"elapsed \d\S*, ETA \d\S*", "elapsed [T], ETA [T]"),
    ]
}

fn run_standard(dir: &Path, events: &[RunEvent]) -> (ReportSet, Captured) {
    let captured = Captured::default();
    let mut set = ReportSet::standard(
        &ReportPaths::new(dir),
        Progress::to_writer(ProgressMode::Plain, captured.clone()),
    );
    for event in events {
        set.on_event(event);
    }
    (set, captured)
}

#[test]
fn snapshots_of_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let (set, progress) = run_standard(dir.path(), &fixture_events());
    assert!(set.errors().is_empty(), "{:?}", set.errors());

    let read = |name: &str| fs_err::read_to_string(dir.path().join(name)).unwrap();
    insta::with_settings!({ filters => version_filters() }, {
        insta::assert_snapshot!("summary_md", read("summary.md"));
        insta::assert_snapshot!("results_json", read("results.json"));
        insta::assert_snapshot!("progress_plain", progress.text());
        insta::assert_snapshot!("junit_xml", read("junit.xml"));
    });
}

#[test]
fn the_summary_is_appended_to_the_github_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("step_summary.md");
    fs_err::write(&step, "earlier step\n").unwrap();
    let mut paths = ReportPaths::new(dir.path().join("out"));
    paths.github_step_summary = Some(step.clone());
    let mut set = ReportSet::standard(&paths, Progress::quiet());
    let events = fixture_events();
    for event in &events[..12] {
        set.on_event(event);
    }
    // Only a finished run is appended.
    set.flush_partial();
    assert_eq!(fs_err::read_to_string(&step).unwrap(), "earlier step\n");
    for event in &events[12..] {
        set.on_event(event);
    }
    assert!(set.errors().is_empty(), "{:?}", set.errors());
    let summary = fs_err::read_to_string(paths.path(ReportFormat::Markdown)).unwrap();
    assert_eq!(fs_err::read_to_string(&step).unwrap(), format!("earlier step\n{summary}"));
}

#[test]
fn results_json_parses_back_sorted_and_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    run_standard(dir.path(), &fixture_events());
    let text = fs_err::read_to_string(dir.path().join("results.json")).unwrap();
    let doc: ResultsDocument = serde_json::from_str(&text).unwrap();
    assert_eq!(doc.schema_version, 1);
    assert!(!doc.partial);
    assert_eq!(doc.run.exit_code, 3);
    let keys: Vec<(Priority, &str)> =
        doc.scenarios.iter().map(|o| (o.priority, o.id.as_str())).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    assert_eq!(doc.scenarios.len(), 12);
    assert!(!text.contains("hunter2"));
    for name in ["summary.md", "events.jsonl", "junit.xml", "report.html"] {
        assert!(
            !fs_err::read_to_string(dir.path().join(name)).unwrap().contains("hunter2"),
            "{name}"
        );
    }
}

#[test]
fn writing_the_files_lends_the_outcomes_and_gets_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = ResultsJson::new(dir.path().join("results.json"));
    for event in &fixture_events() {
        results.on_event(event).unwrap();
    }
    // Written once at RunFinished; the reporter still has every outcome afterwards.
    let written: ResultsDocument =
        serde_json::from_str(&fs_err::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let kept = results.document();
    assert_eq!(kept.scenarios.len(), 12);
    assert_eq!(serde_json::to_value(&kept).unwrap(), serde_json::to_value(&written).unwrap());
}

#[test]
fn events_jsonl_has_one_json_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let events = fixture_events();
    // A stale file from an earlier run is truncated at RunStarted.
    fs_err::write(dir.path().join("events.jsonl"), "stale\n").unwrap();
    run_standard(dir.path(), &events);
    let text = fs_err::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len());
    for (line, event) in lines.iter().zip(&events) {
        let parsed: RunEvent = serde_json::from_str(line).unwrap();
        match (&parsed, event) {
            // URLs are written without credentials.
            (RunEvent::RunStarted { .. } | RunEvent::AgentChecked { .. }, _) => {}
            _ => assert_eq!(&parsed, event),
        }
    }
}

#[test]
fn events_jsonl_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let events = fixture_events();
    let finished: Vec<&RunEvent> =
        events[..12].iter().filter(|e| matches!(e, RunEvent::ScenarioFinished { .. })).collect();
    let mut reporter = EventsJsonl::new(&path);
    for event in &events[..12] {
        reporter.on_event(event).unwrap();
    }
    // A crash: no RunFinished, no destructor.
    std::mem::forget(reporter);

    let text = fs_err::read_to_string(&path).unwrap();
    let on_disk: Vec<RunEvent> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<&RunEvent> =
        on_disk.iter().filter(|e| matches!(e, RunEvent::ScenarioFinished { .. })).collect();
    assert!(!finished.is_empty());
    assert_eq!(outcomes, finished);
    assert!(text.ends_with('\n'));
}

#[test]
fn flush_partial_writes_a_cancelled_document() {
    let dir = tempfile::tempdir().unwrap();
    let events = fixture_events();
    // Interrupted after the first four outcomes, before any RunCancelled.
    let (mut set, progress) = run_standard(dir.path(), &events[..12]);
    set.flush_partial();
    assert!(set.errors().is_empty(), "{:?}", set.errors());

    let text = fs_err::read_to_string(dir.path().join("results.json")).unwrap();
    let doc: ResultsDocument = serde_json::from_str(&text).unwrap();
    assert!(doc.partial);
    assert_eq!(doc.plan.total, 12);
    assert_eq!(doc.scenarios.len(), 4);
    assert_eq!(doc.run.cancelled, Some(CancelReason::Interrupted));
    assert_eq!(doc.run.exit_code, 130);
    assert!(doc.run.finished_at.as_str() > STARTED_AT);

    let md = fs_err::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("**⏹️ interrupted: 1 failed, 1 error — exit code 130**"), "{md}");
    assert!(md.contains("**Partial results:** the run did not finish; 4 of 12 planned"), "{md}");
    assert!(
        progress.text().ends_with(
            "INTERRUPTED after 4/12 scenarios: 2 passed, 1 failed, 1 error, 0 unassessed, 0 skipped\n"
        ),
        "{}",
        progress.text()
    );

    // The run goes on to finish after all: the complete document replaces the partial one.
    for event in &events[12..] {
        set.on_event(event);
    }
    let doc: ResultsDocument =
        serde_json::from_str(&fs_err::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    assert!(!doc.partial);
    assert_eq!(doc.scenarios.len(), 12);
}

#[test]
fn an_unwritable_output_dir_is_reported_and_progress_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the output directory's parent should be: nothing can be created under it.
    let blocker = dir.path().join("blocker");
    fs_err::write(&blocker, "").unwrap();
    let out = blocker.join("reports");
    let events = fixture_events();
    let (set, progress) = run_standard(&out, &events);

    let errors: Vec<String> = set.errors().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let expected = format!(
        "cannot create report directory {}: a parent path is not a directory; choose another --output-dir",
        out.display()
    );
    for error in &errors {
        assert_eq!(error, &expected);
    }
    assert!(
        progress.text().contains(
            "12 scenarios in 41.5s: 3 passed, 3 failed, 4 error, 0 unassessed, 2 skipped"
        )
    );
    assert_eq!(ReportPaths::new(&out).create_dir().unwrap_err().to_string(), expected);
}

/// A reporter that fails on its second event.
struct Flaky {
    seen: usize,
}

impl Reporter for Flaky {
    fn on_event(&mut self, _event: &RunEvent) -> Result<(), ReportError> {
        self.seen += 1;
        assert!(self.seen <= 2, "a failed reporter must not receive more events");
        if self.seen == 2 {
            return Err(ReportError::Write {
                path: "reports/rogue/results.json".into(),
                error: io::Error::from(io::ErrorKind::PermissionDenied),
            });
        }
        Ok(())
    }
}

#[test]
fn a_failing_reporter_never_stops_the_others() {
    let captured = Captured::default();
    let mut set = ReportSet::new()
        .with(Flaky { seen: 0 })
        .with(Progress::to_writer(ProgressMode::Plain, captured.clone()));
    let events = fixture_events();
    for event in &events {
        set.on_event(event);
    }
    set.flush_partial();
    let errors = set.take_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "cannot write reports/rogue/results.json: permission denied; choose another --output-dir"
    );
    assert!(captured.text().contains("12 scenarios: 3 passed"));
    assert!(set.errors().is_empty());
}

fn assert_terminal_safe(text: &str) {
    for c in text.chars() {
        assert!(c == '\n' || !c.is_control(), "control character {c:?} in {text:?}");
    }
    assert!(!text.contains("pwned"), "the OSC payload got through: {text:?}");
}

#[test]
fn agent_text_cannot_drive_the_terminal() {
    let captured = Captured::default();
    let mut progress = Progress::to_writer(ProgressMode::Plain, captured.clone());
    for event in fixture_events() {
        progress.on_event(&event).unwrap();
    }
    let text = captured.text();
    assert_terminal_safe(&text);
    assert!(
        text.contains("FAIL  P2 qa_p2_edge_001  equals \"ok\": got FAIL next line | end  (640 ms)"),
        "{text}"
    );
}

#[test]
fn the_bar_draws_but_agent_text_stays_inert() {
    let captured = Captured::default();
    let mut progress = Progress::to_writer(ProgressMode::Bar, captured.clone());
    assert_eq!(progress.mode(), ProgressMode::Bar);
    for event in fixture_events() {
        progress.on_event(&event).unwrap();
    }
    let text = captured.text();
    // The bar moves the cursor itself; the agent's title-setting OSC and screen clear never
    // get through.
    assert!(!text.contains("\x1b]"), "{text:?}");
    assert!(!text.contains("\x1b[2J"), "{text:?}");
    assert!(!text.contains('\x07'));
    assert!(text.contains("FAIL  P2 qa_p2_edge_001"));
    assert!(
        text.contains(
            "12 scenarios in 41.5s: 3 passed, 3 failed, 4 error, 0 unassessed, 2 skipped\n"
        )
    );
    assert!(
        text.ends_with(
            "exit 3: fail-fast stopped the run: 1 P0 scenario failed (--p0-threshold); 2 scenarios not run\n"
        )
    );
}

#[test]
fn quiet_progress_writes_nothing() {
    let captured = Captured::default();
    let mut progress = Progress::to_writer(ProgressMode::Quiet, captured.clone());
    for event in fixture_events() {
        progress.on_event(&event).unwrap();
    }
    progress.flush_partial().unwrap();
    assert_eq!(captured.text(), "");
}

#[test]
fn auto_mode_follows_the_terminal_and_ci() {
    assert_eq!(ProgressMode::Auto.resolve(true, false), ProgressMode::Bar);
    assert_eq!(ProgressMode::Auto.resolve(true, true), ProgressMode::Plain);
    assert_eq!(ProgressMode::Auto.resolve(false, false), ProgressMode::Plain);
    assert_eq!(ProgressMode::Bar.resolve(false, true), ProgressMode::Bar);
    assert_eq!(ProgressMode::Quiet.resolve(true, false), ProgressMode::Quiet);
    assert_eq!("plain".parse(), Ok(ProgressMode::Plain));
    assert!(
        "loud".parse::<ProgressMode>().unwrap_err().contains("expected auto, bar, plain or quiet")
    );
}

#[test]
fn markdown_escapes_pipes_html_and_backticks() {
    let dir = tempfile::tempdir().unwrap();
    run_standard(dir.path(), &fixture_events());
    let md = fs_err::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains(
        "judge: agent promised a refund \\| without \\`approval\\` &lt;b&gt;now&lt;/b&gt;"
    ));
    assert!(md.contains("got \"Sure — refund \\| approved\""));
    assert!(!md.contains("<b>"));
    assert!(!md.contains('\x1b'));
    // Every table row keeps its column count.
    for table in md.split("\n\n").filter(|block| block.starts_with('|')) {
        let columns = |row: &str| row.replace("\\|", "").matches('|').count();
        let header = columns(table.lines().next().unwrap());
        for row in table.lines() {
            assert_eq!(columns(row), header, "{row}");
        }
    }
}

#[test]
fn an_unreachable_agent_is_one_line_not_one_per_scenario() {
    let plans = vec![
        plan("qa_agent", "http://localhost:8000/a2a/qa_agent", 120),
        plan("ok_agent", "http://localhost:8000/a2a/ok_agent", 1),
    ];
    let mut results = ResultsJson::new("unused/results.json");
    results.on_event(&run_started(121, plans)).unwrap();
    results
        .on_event(&RunEvent::AgentChecked {
            agent: "qa_agent".to_owned(),
            url: "http://localhost:8000/a2a/qa_agent".to_owned(),
            ok: false,
            message: "cannot connect: connection refused".to_owned(),
            elapsed_ms: 2,
        })
        .unwrap();
    for i in 0..120 {
        let priority = Priority::ALL[i % 3];
        let o = outcome(&format!("qa_{i:03}"), priority, "qa_agent", Status::Error, 1);
        let o = with_reasons(o, &["cannot connect: connection refused"]);
        results.on_event(&RunEvent::ScenarioFinished { outcome: Arc::new(o) }).unwrap();
    }
    let ok = outcome("ok_001", Priority::P0, "ok_agent", Status::Passed, 5);
    results.on_event(&RunEvent::ScenarioFinished { outcome: Arc::new(ok) }).unwrap();

    let md = render_summary_markdown(&results.document());
    let mentions: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("cannot connect: connection refused") && l.starts_with("- "))
        .collect();
    assert_eq!(
        mentions,
        ["- 💥 **qa\\_agent** (`http://localhost:8000/a2a/qa_agent`): cannot connect: connection \
          refused — 120 scenarios (P0 40 · P1 40 · P2 40)"]
    );
    assert!(md.contains("No other scenario failed or errored."));

    // Plain progress says it once too.
    let captured = Captured::default();
    let mut progress = Progress::to_writer(ProgressMode::Plain, captured.clone());
    let plans = vec![plan("qa_agent", "http://localhost:8000/a2a/qa_agent", 120)];
    progress.on_event(&run_started(120, plans)).unwrap();
    progress
        .on_event(&RunEvent::AgentChecked {
            agent: "qa_agent".to_owned(),
            url: "http://localhost:8000/a2a/qa_agent".to_owned(),
            ok: false,
            message: "cannot connect: connection refused".to_owned(),
            elapsed_ms: 2,
        })
        .unwrap();
    for i in 0..120 {
        let o = outcome(&format!("qa_{i:03}"), Priority::P0, "qa_agent", Status::Error, 1);
        let o = with_reasons(o, &["cannot connect: connection refused"]);
        progress.on_event(&RunEvent::ScenarioFinished { outcome: Arc::new(o) }).unwrap();
    }
    let text = captured.text();
    assert_eq!(text.matches("connection refused").count(), 1, "{text}");
}

#[test]
fn long_failure_lists_are_capped() {
    let mut results = ResultsJson::new("unused/results.json");
    results.on_event(&run_started(60, Vec::new())).unwrap();
    for i in 0..60 {
        let o = outcome(&format!("qa_{i:03}"), Priority::P1, "qa_agent", Status::Failed, 10);
        let o = with_reasons(o, &[&format!("reason {i} {}", "x".repeat(1000))]);
        results.on_event(&RunEvent::ScenarioFinished { outcome: Arc::new(o) }).unwrap();
    }
    let md = render_summary_markdown(&results.document());
    assert!(md.contains("- … and 10 more; see `results.json`"));
    assert!(md.lines().all(|l| l.chars().count() < 400), "a line is too long");
}

#[test]
fn junit_xml_parses_back_with_one_suite_per_agent() {
    let dir = tempfile::tempdir().unwrap();
    run_standard(dir.path(), &fixture_events());
    let xml = fs_err::read_to_string(dir.path().join("junit.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        (12, 3, 4, 2),
        "{xml}"
    );
    let suites: Vec<(&str, usize)> =
        report.test_suites.iter().map(|s| (s.name.as_str(), s.tests)).collect();
    assert_eq!(suites, [("qa_agent", 5), ("support_agent", 4), ("billing_agent", 3)]);
    let support = &report.test_suites[1];
    let property = |name: &str| {
        support.properties.iter().find(|p| p.name.as_str() == name).map(|p| p.value.as_str())
    };
    assert_eq!(property("run_id"), Some(RUN_ID));
    assert_eq!(property("exit_code"), Some("3"));
    assert_eq!(property("cancelled"), Some("fail_fast"));
    assert_eq!(property("cancel_message"), Some(FAIL_FAST));
    assert_eq!(property("agent_url"), Some("https://***@support.example.com/a2a"));
    let refund = &support.test_cases[0];
    assert_eq!(refund.name.as_str(), "support_p1_refund_001");
    assert_eq!(refund.classname.as_deref(), Some("support_agent.P1"));
    assert_eq!(refund.time, Some(std::time::Duration::from_millis(4210)));
    match &refund.status {
        quick_junit::TestCaseStatus::NonSuccess { kind, message, description, .. } => {
            assert_eq!(*kind, quick_junit::NonSuccessKind::Failure);
            assert_eq!(
                message.as_deref(),
                Some("judge: agent promised a refund | without `approval` <b>now</b>")
            );
            let body = description.as_deref().unwrap();
            assert!(
                body.contains(
                    "- rubric.policy_checks[0]: expected never promise a refund without \
                     approval, got \"Sure — refund | approved\" (judge score 0.2)"
                ),
                "{body}"
            );
        }
        other => panic!("not a failure: {other:?}"),
    }
    // Hostile agent text: escaped by the writer, control characters and OSC payloads gone.
    assert!(xml.contains("&lt;b&gt;now&lt;/b&gt;"), "{xml}");
    assert!(!xml.contains("<b>"));
    assert!(!xml.contains("hunter2"));
    assert!(!xml.contains("pwned"));
    assert!(!xml.chars().any(|c| c.is_control() && c != '\n'), "control character in junit.xml");
}

/// A run whose every agent-provided string tries to break out of the HTML.
fn hostile_html_events() -> Vec<RunEvent> {
    const ID: &str = "<script>alert(1)</script>";
    const AGENT: &str = "qa\"onmouseover=\"alert(2)";
    let mut o = outcome(ID, Priority::P0, AGENT, Status::Failed, 12);
    o.category = "x'><img src=x onerror=alert(3)>".to_owned();
    o.source = "</summary></details><script>alert(4)</script>:1:1".to_owned();
    o.reasons = vec!["</td></tr></table><script>alert(5)</script>".to_owned()];
    o.checks = vec![CheckResult {
        note: Some("<!-- open comment".to_owned()),
        ..check(
            "k\"onmouseover=\"alert(6)",
            "\"onmouseover=alert(7) x=\"",
            Some("]]></"),
            Verdict::Fail,
        )
    }];
    o.transcript = vec![
        TranscriptEntry { role: Role::User, text: "</script><script>alert(8)</script>".to_owned() },
        TranscriptEntry {
            role: Role::Agent,
            text: "<style>body{display:none}</style>\x1b]0;pwned\x07 {{ nonce }} {% raw %}"
                .to_owned(),
        },
    ];
    let outcomes = vec![o];
    vec![
        run_started(1, vec![plan(AGENT, "javascript:alert(9)//<script>", 1)]),
        RunEvent::AgentChecked {
            agent: AGENT.to_owned(),
            url: "javascript:alert(9)//<script>".to_owned(),
            ok: true,
            message: "<script>alert(10)</script>".to_owned(),
            elapsed_ms: 1,
        },
        RunEvent::ScenarioFinished { outcome: Arc::new(outcomes[0].clone()) },
        RunEvent::RunFinished {
            summary: crate::engine::summarize(
                RUN_ID.to_owned(),
                STARTED_AT.to_owned(),
                "2026-08-30T10:00:01Z".to_owned(),
                1000,
                &outcomes,
                Some((CancelReason::Interrupted, "<script>alert(11)</script>".to_owned())),
            ),
        },
    ]
}

#[test]
fn report_html_escapes_everything_agents_and_scenarios_say() {
    let mut state = state::RunState::new();
    for event in hostile_html_events() {
        state.apply(&event);
    }
    let html = html::render_for_test(&state.document());

    // Our own script is the only one, and no tag or attribute came from the data.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches("</script>").count(), 1, "{html}");
    for raw in ["<img", "\"onmouseover=", "<style>body", "</summary></details><script", "<!--"] {
        assert!(!html.contains(raw), "{raw} got through unescaped");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
    assert!(html.contains("data-agent=\"qa&quot;onmouseover=&quot;alert(2)\""), "{html}");
    assert!(html.contains("&quot;onmouseover=alert(7) x=&quot;"), "{html}");
    // Template syntax in data is text, not template.
    assert!(html.contains("{{ nonce }} {% raw %}"), "{html}");
    assert!(!html.contains("pwned"));
    assert!(!html.contains('\x1b'));
    // The CSP allows only the nonced script and style.
    assert!(html.contains("script-src 'nonce-testnonce'"));
    assert_eq!(html.matches("nonce=\"testnonce\"").count(), 2);
}

#[test]
fn report_html_has_filters_and_one_row_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    run_standard(dir.path(), &fixture_events());
    let html = fs_err::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<details class=\"scenario\"").count(), 12);
    for id in ["f-status", "f-priority", "f-agent", "f-search", "expand", "collapse"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    for agent in ["qa_agent", "support_agent", "billing_agent"] {
        assert!(html.contains(&format!("<option value=\"{agent}\">")), "{agent} not a filter");
    }
    for priority in ["P0", "P1", "P2"] {
        assert!(html.contains(&format!("<option value=\"{priority}\">")), "{priority}");
    }
    assert!(html.contains(
        "<div class=\"verdict-line\" id=\"verdict\">stopped by fail-fast: 3 failed, 4 error, 2 \
         skipped — exit code 3</div>"
    ));
    // Self-contained: nothing to fetch.
    for external in ["src=", "href=", "@import", "url(", "<link", "<img", "<iframe"] {
        assert!(!html.contains(external), "{external} in report.html");
    }
    assert!(!html.contains("hunter2"));
    // Problems first, by priority and id within a status; with checks and transcript.
    let order: Vec<&str> =
        html.split("data-id=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert_eq!(
        order[..4],
        ["qa_p0_core_002", "support_p1_refund_001", "qa_p2_edge_001", "billing_p0_refund_001"]
    );
    assert_eq!(order[11], "support_p1_refund_002");
    assert!(html.contains("<td class=\"mono\">rubric.policy_checks[0]</td>"));
    assert!(html.contains("<span class=\"role\">agent</span><div class=\"pre\">hi there</div>"));
}

#[test]
fn formats_choose_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let paths = ReportPaths::new(dir.path()).with_formats("html,junit".parse().unwrap());
    assert_eq!(paths.files(), [dir.path().join("report.html"), dir.path().join("junit.xml")]);
    let mut set = ReportSet::standard(&paths, Progress::quiet());
    for event in fixture_events() {
        set.on_event(&event);
    }
    assert!(set.errors().is_empty(), "{:?}", set.errors());
    let mut names: Vec<String> = fs_err::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["junit.xml", "report.html"]);
    assert_eq!(ReportPaths::new(dir.path()).files().len(), 5);
}

#[test]
fn flush_partial_writes_partial_junit_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let events = fixture_events();
    let (mut set, _progress) = run_standard(dir.path(), &events[..12]);
    set.flush_partial();
    assert!(set.errors().is_empty(), "{:?}", set.errors());
    let xml = fs_err::read_to_string(dir.path().join("junit.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.tests, 4);
    let props = &report.test_suites[0].properties;
    assert!(props.iter().any(|p| p.name.as_str() == "partial" && p.value.as_str() == "true"));
    assert!(props.iter().any(|p| p.name.as_str() == "exit_code" && p.value.as_str() == "130"));
    let html = fs_err::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<strong>Partial results:</strong> the run did not finish; 4 of 12"));
    assert_eq!(html.matches("<details class=\"scenario\"").count(), 4);
}

/// Every report stays valid for its format whatever the scenario files and the agent say:
/// junit.xml parses with a strict XML parser (and keeps each id, escaped), results.json and
/// every events.jsonl line with a JSON parser (results.json keeps each id exactly), and no
/// `<script>` from the data reaches report.html unescaped.
mod any_text_keeps_every_report_valid {
    use proptest::prelude::*;

    use super::*;
    use crate::scenario::escape::escape_invisible;

    /// Characters chosen to break reports: XML non-characters, C0 and C1 controls, bidi
    /// controls, separators, a BOM, markup; or any character at all.
    fn hostile_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec![
                '\u{FFFE}', '\u{FFFF}', '\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1B}',
                '\u{7F}', '\u{85}', '\u{9F}', '\u{202E}', '\u{2066}', '\u{200F}', '\u{061C}',
                '\u{2028}', '\u{2029}', '\u{FEFF}', '\r', '\n', '\t', '<', '>', '&', '"', '\'',
                ']', '\\',
            ]),
        ]
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::collection::vec(hostile_char(), 0..24).prop_map(|v| v.into_iter().collect()),
            1 => Just("]]><!-- \\uD800 \u{FFFE}&#xFFFF; <![CDATA[".to_owned()),
        ]
    }

    fn status() -> impl Strategy<Value = Status> {
        prop::sample::select(vec![Status::Passed, Status::Failed, Status::Error, Status::Skipped])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn every_report_parses(
            (id_head, id_tail, agent, url) in (hostile_text(), hostile_text(), hostile_text(), hostile_text()),
            (category, source, reason, message) in (hostile_text(), hostile_text(), hostile_text(), hostile_text()),
            (key, expected, actual, reply) in (hostile_text(), hostile_text(), hostile_text(), hostile_text()),
            status in status(),
        ) {
            let id = format!("{id_head}<script>alert(1)</script>{id_tail}");
            let mut o = outcome(&id, Priority::P0, &agent, status, 5);
            o.category = category;
            o.source = source;
            o.reasons = vec![reason];
            o.checks = vec![CheckResult {
                note: Some(message.clone()),
                ..check(&key, &expected, Some(&actual), Verdict::Fail)
            }];
            o.transcript.push(TranscriptEntry { role: Role::Agent, text: reply });
            let outcomes = vec![o];
            let events = vec![
                run_started(1, vec![plan(&agent, &url, 1)]),
                RunEvent::AgentChecked {
                    agent: agent.clone(),
                    url: url.clone(),
                    ok: false,
                    message: message.clone(),
                    elapsed_ms: 1,
                },
                RunEvent::ScenarioStarted { id: id.clone() },
                RunEvent::ScenarioFinished { outcome: Arc::new(outcomes[0].clone()) },
                RunEvent::RunCancelled { reason: CancelReason::Interrupted, message: message.clone() },
                RunEvent::RunFinished {
                    summary: crate::engine::summarize(
                        RUN_ID.to_owned(),
                        STARTED_AT.to_owned(),
                        "2026-08-30T10:00:01Z".to_owned(),
                        1000,
                        &outcomes,
                        Some((CancelReason::Interrupted, message)),
                    ),
                },
            ];
            let dir = tempfile::tempdir().unwrap();
            let (set, _) = run_standard(dir.path(), &events);
            prop_assert!(set.errors().is_empty(), "{:?}", set.errors());
            let read = |name: &str| fs_err::read_to_string(dir.path().join(name)).unwrap();

            let xml = read("junit.xml");
            let parsed = roxmltree::Document::parse(&xml);
            prop_assert!(parsed.is_ok(), "junit.xml does not parse: {:?}\n{xml:?}", parsed.err());
            let parsed = parsed.unwrap();
            let case = parsed.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
            let escaped_id = escape_invisible(&id);
            prop_assert_eq!(case.attribute("name"), Some(escaped_id.as_ref()));

            let results: ResultsDocument = serde_json::from_str(&read("results.json")).unwrap();
            prop_assert_eq!(&results.scenarios[0].id, &id);

            let events_jsonl = read("events.jsonl");
            prop_assert_eq!(events_jsonl.lines().count(), events.len());
            for line in events_jsonl.lines() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{line:?}");
            }

            let html = read("report.html");
            prop_assert_eq!(html.matches("<script").count(), 1);
        }
    }
}
