//! The dashboard (`serve`) in a real browser: headless Chromium, driven through the DevTools
//! protocol, loads every page, applies a filter, opens a row, follows the deep link that row
//! left in the address bar, and watches the live page update while outcomes are recorded into
//! the store. No page may log an error (a CSP violation would). Screenshots of each page are
//! written to target/dashboard-screenshots/ (the README shows them, from docs/img/).
//!
//! The protocol runs over `--remote-debugging-pipe` (JSON messages ended by NUL on fds 3 and
//! 4), so no WebSocket client is needed: `sh` maps the child's stdin and stdout to those fds.
//!
//! Needs Debian's `chromium` at /usr/bin/chromium, so the test is ignored by a plain
//! `cargo test`; `.ci/run` installs it and runs it with `--ignored`, and run that way it fails,
//! never skips, when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
// `json!` reads its arguments by reference.
#![allow(clippy::needless_pass_by_value)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rogue_runner::model::{Outcome, Role, Status, TranscriptEntry};
use rogue_runner::scenario::Priority;
use rogue_runner::serve::sample::{SampleSpec, generate};
use rogue_runner::serve::{ServeOptions, start};
use rogue_runner::store::{RunStart, Store};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(30);
/// How long a fresh Chromium may take to answer its first command. Once, on a loaded 2-core
/// CI machine, one never answered; [`Browser::launch`] then starts another.
const FIRST_ANSWER: Duration = Duration::from_secs(60);

/// Headless Chromium with a DevTools session on one page.
struct Browser {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    /// Events read while waiting for an answer.
    events: VecDeque<Value>,
    next_id: u64,
    session: String,
}

impl Browser {
    /// A browser on a blank page. A Chromium that does not answer its first command is
    /// started again, once, with a fresh profile (the page's own behaviour is never retried);
    /// should that one not answer either, the test fails with both stderr logs.
    fn launch(profile: &Path) -> Browser {
        let mut failures = Vec::new();
        for attempt in 1..=2 {
            match Browser::start(&profile.with_extension(format!("try{attempt}"))) {
                Ok(browser) => return browser,
                Err(failure) => failures.push(format!("attempt {attempt}: {failure}")),
            }
        }
        panic!("chromium did not come up:\n{}", failures.join("\n"));
    }

    fn start(profile: &Path) -> Result<Browser, String> {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
        );
        let stderr_path = profile.with_extension("stderr");
        let stderr = fs_err::File::create(&stderr_path).unwrap();
        // fd 3: what Chromium reads (our pipe); fd 4: what it writes (our pipe).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(CHROMIUM)
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
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr.into_parts().0)
            .spawn()
            .expect("start chromium");
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        message.pop();
                        if let Ok(value) = serde_json::from_slice::<Value>(&message) {
                            if send.send(value).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            input,
            messages,
            events: VecDeque::new(),
            next_id: 0,
            session: String::new(),
        };
        let target = match browser.send_within(
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            FIRST_ANSWER,
        ) {
            Ok(answer) => answer["result"].clone(),
            Err(failure) => {
                drop(browser);
                let log = fs_err::read_to_string(&stderr_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(format!("{failure}; its stderr ends:\n{}", tail.join("\n")));
            }
        };
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser
            .call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        attached["sessionId"].as_str().unwrap().clone_into(&mut browser.session);
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({}));
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        Ok(browser)
    }

    /// Sends one command (to the page's session once there is one) and waits for its answer.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let answer = self.send(method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// [`Browser::call`], with the whole answer, errors included.
    fn send(&mut self, method: &str, params: Value) -> Value {
        self.send_within(method, params, WAIT).unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// [`Browser::send`], waiting `wait` at most.
    fn send_within(
        &mut self,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.input
            .write_all(&bytes)
            .and_then(|()| self.input.flush())
            .map_err(|error| format!("{method}: cannot write to chromium: {error}"))?;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(value) if value["id"] == json!(id) => return Ok(value),
                Ok(event) => self.events.push_back(event),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer within {wait:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: chromium went away"));
                }
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Whether `expression` is true now; false while the page is being replaced.
    fn holds(&mut self, expression: &str) -> bool {
        let answer = self.send(
            "Runtime.evaluate",
            json!({ "expression": format!("!!({expression})"), "returnByValue": true }),
        );
        answer["result"]["result"]["value"] == json!(true)
    }

    /// Waits until `expression` is true in the page (the page's own work, not a fixed time).
    fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.holds(expression) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {expression}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` and waits until the dashboard's script has run on it.
    fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_ready(&format!("location.href === {}", json!(url)));
    }

    fn wait_ready(&mut self, also: &str) {
        self.wait_for(
            "the page",
            &format!(
                "({also}) && document.readyState === 'complete' \
                 && document.documentElement.getAttribute('data-ready') === 'true'"
            ),
        );
    }

    fn screenshot(&mut self, dir: &Path, name: &str) -> PathBuf {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(bytes.len() > 20_000, "{name}: the screenshot is nearly empty");
        let path = dir.join(format!("{name}.png"));
        fs_err::write(&path, bytes).unwrap();
        println!("screenshot: {}", path.display());
        path
    }

    /// Errors the pages logged (console errors, CSP violations, uncaught exceptions).
    fn errors(&mut self) -> Vec<String> {
        while let Ok(event) = self.messages.try_recv() {
            self.events.push_back(event);
        }
        self.events
            .iter()
            .filter(|e| {
                let method = e["method"].as_str().unwrap_or("");
                method == "Runtime.exceptionThrown"
                    || (method == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
                    || (method == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
            })
            .map(Value::to_string)
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn outcome(id: &str, status: Status) -> Outcome {
    Outcome {
        judge_ms: None,
        id: id.to_owned(),
        priority: Priority::P0,
        category: "live".to_owned(),
        agent: "support_agent".to_owned(),
        agent_url: None,
        source: "live.yaml:1:1".to_owned(),
        status,
        reasons: if status == Status::Passed {
            Vec::new()
        } else {
            vec!["the reply said no".to_owned()]
        },
        checks: Vec::new(),
        transcript: vec![TranscriptEntry { role: Role::Agent, text: "no".to_owned() }],
        latency_ms: Some(300),
        duration_ms: 320,
        usage: None,
        cost_usd: Some(0.001),
        cached: false,
        cache: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

#[test]
#[ignore = "needs chromium at /usr/bin/chromium: apt-get install -y chromium"]
fn the_dashboard_filters_opens_links_and_updates_live_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    generate(
        &cache,
        SampleSpec { runs: 24, scenarios_per_run: 240, seed: 11, last_unfinished: false },
    )
    .unwrap();
    // A run in progress, newer than the history.
    let store = Store::open(&cache).unwrap();
    store
        .record_run_started(&RunStart {
            run_id: "live-run-0001".to_owned(),
            started_at: jiff::Timestamp::now().to_string(),
            planned: 40,
            config_digest: "d".to_owned(),
            ..RunStart::default()
        })
        .unwrap();
    for i in 0..12 {
        store
            .record_outcome(
                "live-run-0001",
                &outcome(&format!("live_{i:02}"), Status::Passed),
                None,
            )
            .unwrap();
    }
    let finished = store.run_ids(3).unwrap()[1].0.clone();
    let running = start(ServeOptions {
        cache_dir: cache.clone(),
        store: rogue_runner::store::Location::Dir(cache.clone()),
        bind: "127.0.0.1:0".parse().unwrap(),
        token: None,
    })
    .unwrap();
    let base = running.url.clone();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots");
    fs_err::create_dir_all(&shots).unwrap();
    let mut browser = Browser::launch(&dir.path().join("profile"));

    // Runs: every run listed, the trends drawn.
    browser.open(&format!("{base}/"));
    assert_eq!(browser.eval("document.querySelectorAll('#runs tbody tr').length"), json!(25));
    assert_eq!(browser.eval("document.querySelectorAll('figure.chart polyline').length"), json!(4));
    browser.screenshot(&shots, "runs");

    // Run: apply a filter (the script submits the form; the server filters).
    browser.open(&format!("{base}/runs/{finished}"));
    assert_eq!(browser.eval("document.querySelectorAll('details.scenario').length"), json!(50));
    browser.eval(
        "(() => { const s = document.getElementById('f-status'); s.value = 'failed'; \
         s.dispatchEvent(new Event('change')); return true; })()",
    );
    browser.wait_ready("location.search.includes('status=failed')");
    let statuses = browser.eval(
        "[...document.querySelectorAll('details.scenario summary .pill')].map(p => p.textContent)",
    );
    let statuses = statuses.as_array().unwrap();
    assert!(!statuses.is_empty() && statuses.iter().all(|s| s == "failed"), "{statuses:?}");
    browser.screenshot(&shots, "run");

    // Open a row: its checks and transcript show, and the address bar becomes its deep link.
    let opened = browser.eval(
        "(() => { const row = document.querySelector('details.scenario'); \
         row.querySelector('summary').click(); return row.getAttribute('data-id'); })()",
    );
    let opened = opened.as_str().unwrap().to_owned();
    browser.wait_for("the row to open", "document.querySelector('details.scenario[open]')");
    browser.wait_for("the deep link", &format!("location.search.includes('open={opened}')"));
    let body = browser.eval("document.querySelector('details.scenario[open] .body').innerText");
    let body = body.as_str().unwrap();
    for part in ["Checks", "Expected", "Actual", "Transcript", "contains \"validated\""] {
        assert!(body.contains(part), "the open row lacks {part}: {body}");
    }
    browser.screenshot(&shots, "run-open");
    let deep_link = browser.eval("location.href").as_str().unwrap().to_owned();

    // Follow the deep link afresh: the same filter, the same row open.
    browser.open(&format!("{base}/"));
    browser.open(&deep_link);
    assert_eq!(
        browser.eval("document.querySelector('details.scenario[open]').getAttribute('data-id')"),
        json!(opened)
    );
    assert_eq!(browser.eval("document.getElementById('f-status').value"), json!("failed"));

    // Compare and Scenario.
    browser.open(&format!("{base}/compare"));
    assert_eq!(browser.eval("document.querySelectorAll('#compare-counts .card').length"), json!(4));
    browser.screenshot(&shots, "compare");
    let scenario = rogue_runner::serve::sample::scenario_id(3);
    browser.open(&format!("{base}/scenario?id={scenario}"));
    assert_eq!(browser.eval("document.querySelectorAll('.strip-svg rect').length"), json!(24));
    browser.screenshot(&shots, "scenario");

    // Live: outcomes recorded while the page is open appear without a reload.
    browser.open(&format!("{base}/live"));
    assert_eq!(browser.eval("document.querySelector('[data-live=done]').textContent"), json!("12"));
    browser.eval("window.notReloaded = true");
    store.record_outcome("live-run-0001", &outcome("live_12", Status::Passed), None).unwrap();
    store.record_outcome("live-run-0001", &outcome("live_broke", Status::Failed), None).unwrap();
    browser.wait_for(
        "the live update",
        "document.querySelector('[data-live=done]').textContent === '14' \
         && document.getElementById('failures').textContent.includes('live_broke')",
    );
    assert_eq!(
        browser.eval("window.notReloaded === true"),
        json!(true),
        "the page was not reloaded"
    );
    assert_eq!(browser.eval("document.getElementById('progress').value"), json!(35));
    browser.screenshot(&shots, "live");

    assert_eq!(browser.errors(), Vec::<String>::new(), "a page logged an error");
}
