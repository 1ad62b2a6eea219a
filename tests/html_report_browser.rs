//! `report.html` in a real browser: headless Chromium opens the file with no network, the
//! inline script runs without a console message (a CSP violation would log one), the filters
//! work from the link's query, hostile agent text stays text, and a screenshot is taken.
//!
//! Needs Debian's `chromium` at /usr/bin/chromium, so the tests are ignored by a plain
//! `cargo test`; `.ci/run` installs it and runs them with `--include-ignored`, and run that way
//! they fail, never skip, when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rogue_runner::model::{
    AgentPlan, CheckResult, Outcome, Role, RunEvent, Status, TranscriptEntry, Verdict,
};
use rogue_runner::report::{HtmlReport, Reporter, ResultsDocument};
use rogue_runner::scenario::Priority;

const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The browser; a test run on purpose without it fails and says what to install.
fn chromium() -> PathBuf {
    let path = PathBuf::from(CHROMIUM);
    assert!(path.is_file(), "{CHROMIUM} is missing: install it with `apt-get install -y chromium`");
    path
}

/// What one headless Chromium run left.
struct Browser {
    stdout: String,
    stderr: String,
}

impl Browser {
    /// Console lines the page produced (errors, CSP violations, `console.*`): Chromium logs
    /// them as `…:CONSOLE(…)] "message", source: file:///…`.
    fn console_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
    }
}

/// Runs headless Chromium on `url` with `extra` arguments, isolated in `profile`, offline
/// (no background networking, updates, sync), and waits at most `BROWSER_TIMEOUT`.
fn run_chromium(browser: &Path, profile: &Path, extra: &[String], url: &str) -> Browser {
    let out = profile.with_extension("stdout");
    let err = profile.with_extension("stderr");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(fs_err::File::create(&out).unwrap().into_parts().0)
        .stderr(fs_err::File::create(&err).unwrap().into_parts().0)
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {BROWSER_TIMEOUT:?}; stderr:\n{}",
                fs_err::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let result = Browser {
        stdout: fs_err::read_to_string(&out).unwrap(),
        stderr: fs_err::read_to_string(&err).unwrap(),
    };
    assert!(status.success(), "chromium failed ({status}):\n{}", result.stderr);
    result
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// The `<details class="scenario" …>` start tags of a dumped DOM.
fn scenario_rows(dom: &str) -> Vec<&str> {
    dom.split("<details class=\"scenario\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .collect()
}

fn visible_rows(dom: &str) -> usize {
    scenario_rows(dom).iter().filter(|tag| !tag.contains(" hidden")).count()
}

fn dump_dom(browser: &Path, dir: &Path, name: &str, url: &str) -> String {
    let page = run_chromium(
        browser,
        &dir.join(format!("profile-{name}")),
        &["--dump-dom".to_owned()],
        url,
    );
    assert_eq!(page.console_lines(), Vec::<&str>::new(), "the page logged to the console");
    assert!(
        page.stdout.contains("<html lang=\"en\" data-ready=\"true\">"),
        "the inline script did not run (or something else touched <html>):\n{}",
        &page.stdout[..page.stdout.len().min(600)]
    );
    page.stdout
}

#[test]
#[ignore = "needs chromium at /usr/bin/chromium: apt-get install -y chromium"]
fn the_demo_report_opens_offline_filters_and_renders() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let run = common::run(&[
        "demo",
        "--output-dir",
        out.to_str().unwrap(),
        "--progress",
        "quiet",
        "--format",
        "html,json",
    ]);
    assert_eq!(run.code, 0, "{}", run.combined());
    let mut written: Vec<String> = fs_err::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["report.html", "results.json"], "--format html,json");

    let doc: ResultsDocument =
        serde_json::from_str(&fs_err::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let count = |keep: &dyn Fn(&Outcome) -> bool| doc.scenarios.iter().filter(|o| keep(o)).count();
    let html = out.join("report.html");
    let url = file_url(&html);

    // Every row, all shown.
    let dom = dump_dom(&browser, dir.path(), "all", &url);
    assert_eq!(scenario_rows(&dom).len(), doc.scenarios.len());
    assert_eq!(visible_rows(&dom), doc.scenarios.len());

    // Filters from the link, applied by the page's script.
    let problems = count(&|o| matches!(o.status, Status::Failed | Status::Error));
    assert!(problems > 0, "the demo shows failures");
    let dom = dump_dom(&browser, dir.path(), "problems", &format!("{url}?status=problems"));
    assert_eq!(visible_rows(&dom), problems);
    assert!(dom.contains(&format!("id=\"shown-count\">{problems}<")), "shown count");

    let agent = doc.scenarios.iter().find(|o| o.status == Status::Passed).unwrap().agent.clone();
    let expected = count(&|o| o.priority == Priority::P1 && o.agent == agent);
    let dom = dump_dom(&browser, dir.path(), "agent", &format!("{url}?priority=P1&agent={agent}"));
    assert_eq!(visible_rows(&dom), expected, "P1 scenarios of {agent}");

    // A screenshot a person can read: a laptop-wide window, a real picture.
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-demo.png");
    let _ = fs_err::remove_file(&png);
    let shot = run_chromium(
        &browser,
        &dir.path().join("profile-shot"),
        &[format!("--screenshot={}", png.display()), "--window-size=1280,1600".to_owned()],
        &url,
    );
    assert_eq!(shot.console_lines(), Vec::<&str>::new());
    let bytes = fs_err::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 1600));
    // A blank 1280x1600 page compresses to a few kilobytes; text, tables and colour do not.
    assert!(bytes.len() > 30_000, "screenshot is nearly empty ({} bytes)", bytes.len());
    println!("screenshot: {}", png.display());
}

/// Text that would mark the page if it ever ran as markup or script.
const PWN: &str = "document.documentElement.setAttribute('data-pwned','1')";

fn hostile_events() -> Vec<RunEvent> {
    let agent = format!("qa\"onmouseover=\"{PWN}\" x=\"");
    let outcome = Outcome {
        id: format!("<script>{PWN}</script>"),
        priority: Priority::P0,
        category: format!("<img src=x onerror=\"{PWN}\">"),
        agent: agent.clone(),
        agent_url: None,
        source: format!("</summary></details><script>{PWN}</script>:1:1"),
        status: Status::Failed,
        reasons: vec![format!("</td></table><svg onload=\"{PWN}\"></svg>")],
        checks: vec![CheckResult {
            key: format!("' onfocus='{PWN}' autofocus='"),
            expected: "<style>body{display:none}</style>".to_owned(),
            actual: Some(format!("\"><iframe srcdoc=\"<script>{PWN}</script>\">")),
            verdict: Verdict::Fail,
            note: Some("<!-- unclosed comment".to_owned()),
        }],
        transcript: vec![
            TranscriptEntry { role: Role::User, text: format!("</script><script>{PWN}</script>") },
            TranscriptEntry {
                role: Role::Agent,
                text: "\x1b]0;title\x07<b>bold?</b>\u{202E}reversed".to_owned(),
            },
        ],
        latency_ms: Some(5),
        duration_ms: 5,
        usage: None,
        cost_usd: None,
        cached: false,
        cache: None,
        judge_ms: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    };
    let outcomes = vec![outcome];
    vec![
        RunEvent::RunStarted {
            run_id: "run-hostile".to_owned(),
            started_at: "2026-08-30T10:00:00Z".to_owned(),
            total: 1,
            parallel: 1,
            agents: vec![AgentPlan {
                name: agent.clone(),
                url: format!("javascript:{PWN}"),
                scenarios: 1,
            }],
            partition: None,
            missing_shards: Vec::new(),
        },
        RunEvent::ScenarioFinished { outcome: Arc::new(outcomes[0].clone()) },
        RunEvent::RunFinished {
            summary: rogue_runner::engine::summarize(
                "run-hostile".to_owned(),
                "2026-08-30T10:00:00Z".to_owned(),
                "2026-08-30T10:00:01Z".to_owned(),
                1000,
                &outcomes,
                None,
            ),
        },
    ]
}

#[test]
#[ignore = "needs chromium at /usr/bin/chromium: apt-get install -y chromium"]
fn hostile_text_stays_text_in_the_browser() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let mut reporter = HtmlReport::new(&html);
    for event in hostile_events() {
        reporter.on_event(&event).unwrap();
    }
    let dom = dump_dom(&browser, dir.path(), "hostile", &file_url(&html));
    assert!(!dom.contains("data-pwned=\"1\""), "an injected script ran");
    assert_eq!(scenario_rows(&dom).len(), 1);
    for element in ["<img", "<svg", "<iframe", "<b>"] {
        assert!(!dom.contains(element), "{element} became an element");
    }
    // The text is there, as text.
    assert!(dom.contains("&lt;script&gt;document.documentElement.setAttribute"), "{dom}");
    assert!(dom.contains("&lt;b&gt;bold?&lt;/b&gt;reversed"), "{dom}");
}
