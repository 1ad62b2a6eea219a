//! The dashboard over a real store, through real HTTP on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::*;
use crate::model::{Outcome, Status};
use crate::scenario::Priority;
use crate::store::{RunStart, Store};

/// One answer: status, headers (lowercase names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str("Host: ");
        head.push_str(&addr.to_string());
        head.push_str("\r\n");
    }
    for (name, value) in extra {
        for part in [*name, ": ", *value, "\r\n"] {
            head.push_str(part);
        }
    }
    head.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer { status, headers, body: body.to_owned() }
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, &[])
}

fn outcome(id: &str, status: Status, reason: &str) -> Outcome {
    Outcome {
        judge_ms: None,
        id: id.to_owned(),
        priority: Priority::P0,
        category: "c".to_owned(),
        agent: "qa".to_owned(),
        agent_url: None,
        source: "s.yaml:1:1".to_owned(),
        status,
        reasons: if reason.is_empty() { Vec::new() } else { vec![reason.to_owned()] },
        checks: Vec::new(),
        transcript: vec![crate::model::TranscriptEntry {
            role: crate::model::Role::Agent,
            text: format!("reply of {id}"),
        }],
        latency_ms: Some(100),
        duration_ms: 120,
        usage: None,
        cost_usd: Some(0.001),
        cached: false,
        cache: None,
        attempts: 1,
        judge: None,
        llm: Vec::new(),
    }
}

fn start_run(store: &Store, id: &str, at: &str, planned: usize) {
    store
        .record_run_started(&RunStart {
            run_id: id.to_owned(),
            started_at: at.to_owned(),
            planned,
            config_digest: "d".to_owned(),
            ..RunStart::default()
        })
        .unwrap();
}

fn finish_run(store: &Store, id: &str, outcomes: &[Outcome]) {
    let summary = crate::engine::summarize(
        id.to_owned(),
        "2026-01-01T00:00:00Z".to_owned(),
        "2026-01-01T00:01:00Z".to_owned(),
        60_000,
        outcomes,
        None,
    );
    store.finish_run(&summary).unwrap();
}

fn serve(dir: &Path, token: Option<&str>) -> Running {
    start(ServeOptions {
        cache_dir: dir.to_path_buf(),
        store: crate::store::Location::Dir(dir.to_path_buf()),
        bind: "127.0.0.1:0".parse().unwrap(),
        token: token.map(str::to_owned),
    })
    .unwrap()
}

const HOSTILE_ID: &str = "<script>alert('id')</script>";
const HOSTILE_REASON: &str = "\"><img src=x onerror=alert(1)><script>alert('reason')</script>";

/// Two finished runs with hostile text, so that every page has something to show.
fn hostile_store(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let tags = [vec!["<b>tag</b>".to_owned()]];
    for (run, at, status) in [
        ("run-a", "2026-01-01T00:00:00Z", Status::Passed),
        ("run-b", "2026-01-02T00:00:00Z", Status::Failed),
    ] {
        start_run(&store, run, at, 2);
        store.record_run_tags(run, [(HOSTILE_ID, &tags[0][..])]).unwrap();
        let mut hostile = outcome(HOSTILE_ID, status, HOSTILE_REASON);
        hostile.transcript[0].text = "<script>alert('transcript')</script>".to_owned();
        let outcomes = [hostile, outcome("plain", Status::Passed, "")];
        store.record_outcomes(run, &outcomes).unwrap();
        finish_run(&store, run, &outcomes);
    }
}

fn assert_safe(page: &str, body: &str) {
    assert!(
        !body.contains("<script>alert"),
        "{page}: a script from the data reached the page:\n{body}"
    );
    assert!(!body.contains("<img src=x"), "{page}: markup from the data reached the page");
    assert!(!body.contains("<b>tag"), "{page}: markup from a tag reached the page");
    // The only script is the dashboard's own file.
    assert_eq!(body.matches("<script").count(), 1, "{page}");
    assert!(body.contains("<script src=\"/assets/dashboard.js\" defer></script>"), "{page}");
}

#[test]
fn every_page_escapes_hostile_ids_reasons_and_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(dir.path());
    let running = serve(dir.path(), None);
    let id_query: String = form_urlencoded::byte_serialize(HOSTILE_ID.as_bytes()).collect();
    let pages = [
        "/".to_owned(),
        "/runs/run-b".to_owned(),
        format!("/runs/run-b?open={id_query}"),
        "/compare?a=run-a&b=run-b".to_owned(),
        "/compare".to_owned(),
        format!("/scenario?id={id_query}"),
        "/live?run=run-b".to_owned(),
        "/live".to_owned(),
    ];
    for path in &pages {
        let answer = get(running.addr, path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_safe(path, &answer.body);
        assert_eq!(answer.header("content-security-policy"), Some(CSP), "{path}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let run = get(running.addr, &format!("/runs/run-b?open={id_query}")).body;
    assert!(run.contains("&lt;script&gt;alert(&#x27;id&#x27;)&lt;&#x2f;script&gt;"), "{run}");
    assert!(
        run.contains("&lt;script&gt;alert(&#x27;transcript&#x27;)"),
        "the transcript is shown, escaped"
    );
    assert!(run.contains(" open>"), "the linked row is open");
    let compare = get(running.addr, "/compare?a=run-a&b=run-b").body;
    assert!(compare.contains("newly failing"), "{compare}");
    assert!(compare.contains("&lt;img src=x"), "the reason is shown, escaped");
    // An unknown run is a 404 page, escaped too.
    let missing = get(running.addr, &format!("/runs/{id_query}"));
    assert_eq!(missing.status, 404);
    assert_safe("404", &missing.body);
    // The script itself is served with its type, and cannot be sniffed as anything else.
    let js = get(running.addr, "/assets/dashboard.js");
    assert_eq!(js.status, 200);
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(!js.body.contains("innerHTML"), "the script builds no HTML from data");
}

#[test]
fn only_get_and_head_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(dir.path());
    let running = serve(dir.path(), None);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for path in ["/", "/runs/run-a", "/live/events", "/nowhere"] {
            let answer = request(running.addr, method, path, &[]);
            assert_eq!(answer.status, 405, "{method} {path}");
            assert_eq!(answer.header("allow"), Some("GET, HEAD"));
        }
    }
    assert_eq!(request(running.addr, "HEAD", "/", &[]).status, 200);
    assert_eq!(get(running.addr, "/nowhere").status, 404);
}

#[test]
fn a_token_is_required_when_set_and_traded_for_a_cookie() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(dir.path());
    let token = "0123456789abcdef0123";
    let running = serve(dir.path(), Some(token));
    assert_eq!(running.url_with_token("/live"), format!("{}/live?token={token}", running.url));
    assert_eq!(get(running.addr, "/").status, 401);
    assert_eq!(get(running.addr, "/assets/dashboard.js").status, 401);
    assert_eq!(get(running.addr, "/runs/run-a?token=wrong-wrong-wrong-1").status, 401);
    let first = get(running.addr, &format!("/runs/run-a?status=failed&token={token}"));
    assert_eq!(first.status, 303);
    assert_eq!(
        first.header("location"),
        Some("/runs/run-a?status=failed"),
        "the token leaves the URL"
    );
    let cookie = first.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(request(running.addr, "GET", "/", &[("Cookie", &pair)]).status, 200);
    assert_eq!(request(running.addr, "GET", "/", &[("x-rogue-token", token)]).status, 200);
    let bearer = format!("Bearer {token}");
    assert_eq!(request(running.addr, "GET", "/", &[("Authorization", &bearer)]).status, 200);
    assert_eq!(
        request(running.addr, "GET", "/", &[("x-rogue-token", "0123456789abcdef0124")]).status,
        401
    );
    // With a token, the Host header does not matter (it may be a name of this machine).
    assert_eq!(
        request(
            running.addr,
            "GET",
            "/",
            &[("x-rogue-token", token), ("Host", "dash.internal:8484")]
        )
        .status,
        200
    );
}

#[test]
fn a_non_loopback_address_gets_a_token_and_weak_tokens_are_refused() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(
        is_loopback(ip("127.0.0.1"))
            && is_loopback(ip("::1"))
            && is_loopback(ip("::ffff:127.0.0.1"))
    );
    assert!(
        !is_loopback(ip("0.0.0.0")) && !is_loopback(ip("192.168.1.2")) && !is_loopback(ip("::"))
    );
    let (token, generated) = token_policy(ip("0.0.0.0"), None).unwrap();
    assert!(generated && token.as_deref().is_some_and(strong));
    assert_eq!(token_policy(ip("127.0.0.1"), None).unwrap(), (None, false));
    assert!(matches!(
        token_policy(ip("0.0.0.0"), Some("short".to_owned())),
        Err(ServeError::WeakToken)
    ));
    assert!(matches!(
        token_policy(ip("127.0.0.1"), Some("has spaces in it, sixteen+".to_owned())),
        Err(ServeError::WeakToken)
    ));
}

#[test]
fn loopback_without_a_token_answers_only_local_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(dir.path(), None);
    for host in ["localhost:8484", "127.0.0.1", "[::1]:8484", "LOCALHOST"] {
        assert_eq!(request(running.addr, "GET", "/", &[("Host", host)]).status, 200, "{host}");
    }
    for host in ["evil.example", "evil.example:8484", "127.0.0.1.evil.example"] {
        assert_eq!(request(running.addr, "GET", "/", &[("Host", host)]).status, 421, "{host}");
    }
}

#[test]
fn the_run_page_is_paginated_and_filtered_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    start_run(&store, "big", "2026-01-01T00:00:00Z", 120);
    let outcomes: Vec<Outcome> = (0..120)
        .map(|i| {
            outcome(
                &format!("s{i:03}"),
                if i % 10 == 0 { Status::Failed } else { Status::Passed },
                "why",
            )
        })
        .collect();
    store.record_outcomes("big", &outcomes).unwrap();
    finish_run(&store, "big", &outcomes);
    let running = serve(dir.path(), None);
    let rows = |body: &str| body.matches("<details class=\"scenario\"").count();
    let first = get(running.addr, "/runs/big").body;
    assert_eq!(rows(&first), pages::PAGE_ROWS);
    assert!(first.contains("1–50 of 120"), "{first}");
    // minijinja escapes `/` too; the browser reads it back.
    assert!(first.contains("href=\"&#x2f;runs&#x2f;big?page=2\" rel=\"next\""), "a next link");
    let last = get(running.addr, "/runs/big?page=3").body;
    assert_eq!(rows(&last), 20);
    let failed = get(running.addr, "/runs/big?status=failed").body;
    assert_eq!(rows(&failed), 12);
    assert!(!failed.contains("pill passed\">passed</span></span>"), "only failed rows");
    let searched = get(running.addr, "/runs/big?q=s11").body;
    assert_eq!(rows(&searched), 10);
    assert_eq!(get(running.addr, "/runs/big?status=bogus").status, 400);
}

#[test]
fn the_live_stream_sends_an_update_when_an_outcome_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    start_run(&store, "live-run", "2026-01-01T00:00:00Z", 3);
    store.record_outcome("live-run", &outcome("first", Status::Passed, ""), None).unwrap();
    let running = serve(dir.path(), None);
    let page = get(running.addr, "/live").body;
    assert!(page.contains("data-events=\"&#x2f;live&#x2f;events\""), "{page}");
    let mut stream = TcpStream::connect(running.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    // Each `data:` line is one update: the whole view as JSON.
    let mut next_update = || -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "no update");
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(json) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                return serde_json::from_str(json.trim()).unwrap();
            }
        }
    };
    let first = next_update();
    assert_eq!(first["done"], 1);
    assert_eq!(first["planned"], 3);
    assert_eq!(first["state"], "running");
    store
        .record_outcome("live-run", &outcome("second", Status::Failed, "it broke <b>"), None)
        .unwrap();
    let update = loop {
        let update = next_update();
        if update["done"] == 2 {
            break update;
        }
    };
    assert_eq!(update["counts"]["failed"], 1);
    assert_eq!(update["failures"][0]["id"], "second");
    assert_eq!(
        update["failures"][0]["reason"], "it broke <b>",
        "JSON carries text; the page sets it as text"
    );
}

#[test]
fn shards_of_one_partitioned_run_show_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (k, id) in [(1, "shard-1"), (2, "shard-2")] {
        store
            .record_run_started(&RunStart {
                run_id: id.to_owned(),
                started_at: "2026-01-01T00:00:00Z".to_owned(),
                planned: 2,
                config_digest: "d".to_owned(),
                partition: Some(format!("{k}/3")),
                selection_digest: Some("sel".to_owned()),
                ..RunStart::default()
            })
            .unwrap();
        store.record_outcome(id, &outcome(&format!("s{k}"), Status::Failed, "no"), None).unwrap();
    }
    let view = live::live_view(&store, Some("shard-1")).unwrap();
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["done"], 2);
    assert_eq!(json["planned"], 4);
    assert_eq!(json["shards_note"], "2 of 3 shards recorded");
    assert_eq!(json["failures"].as_array().unwrap().len(), 2);
}

#[test]
fn the_state_file_names_a_running_dashboard_and_goes_away_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(dir.path(), None);
    let state = running_dashboard(dir.path()).unwrap();
    assert_eq!(state.url, running.url);
    assert_eq!(state.pid, std::process::id());
    drop(running);
    assert!(running_dashboard(dir.path()).is_none());
    assert!(!dir.path().join(STATE_FILE_NAME).exists());
    // A state file left by a killed dashboard names an address that no longer answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let stale = DashboardState { url: format!("http://{addr}"), pid: 1, addr };
    fs_err::write(dir.path().join(STATE_FILE_NAME), serde_json::to_string(&stale).unwrap())
        .unwrap();
    assert!(running_dashboard(dir.path()).is_none());
}

#[test]
fn the_sample_history_is_seeded_and_every_page_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec =
        sample::SampleSpec { runs: 4, scenarios_per_run: 60, seed: 7, last_unfinished: true };
    sample::generate(dir.path(), spec).unwrap();
    let other = tempfile::tempdir().unwrap();
    sample::generate(other.path(), spec).unwrap();
    let runs = |d: &Path| Store::open(d).unwrap().runs(10).unwrap();
    let (a, b) = (runs(dir.path()), runs(other.path()));
    assert_eq!(a.len(), 4);
    assert_eq!(
        a.iter().map(|r| (&r.id, r.counts)).collect::<Vec<_>>(),
        b.iter().map(|r| (&r.id, r.counts)).collect::<Vec<_>>()
    );
    assert!(!a[0].is_finished(), "the newest run is still going");
    let running = serve(dir.path(), None);
    let id = &a[1].id;
    for path in [
        "/".to_owned(),
        format!("/runs/{id}"),
        format!("/runs/{id}?tag=security&priority=P0"),
        "/compare".to_owned(),
        format!("/scenario?id={}", sample::scenario_id(3)),
        "/live".to_owned(),
    ] {
        let answer = get(running.addr, &path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(!answer.body.contains("Something went wrong"), "{path}");
    }
    let runs_page = get(running.addr, "/").body;
    assert!(runs_page.contains("<polyline class=\"series rate\""), "the pass-rate trend is drawn");
    assert!(runs_page.contains("watch it live"), "the unfinished run is offered live");
    let scenario = get(running.addr, &format!("/scenario?id={}", sample::scenario_id(3))).body;
    assert_eq!(scenario.matches("<rect class=\"cell ").count(), 4, "one cell per run");
}

#[test]
fn the_compare_page_compares_as_the_store_does() {
    let dir = tempfile::tempdir().unwrap();
    let spec =
        sample::SampleSpec { runs: 12, scenarios_per_run: 80, seed: 3, last_unfinished: true };
    sample::generate(dir.path(), spec).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let state = app::AppState::new(
        Store::open(dir.path()).unwrap(),
        crate::store::Location::Dir(dir.path().to_path_buf()),
        None,
        true,
    );
    let runs = store.runs(20).unwrap();
    for (a, b) in [(5, 1), (3, 0), (11, 10), (1, 5), (2, 2)] {
        for window in [0, 1, 3, 10, 50] {
            let page = pages::comparison(&state, &store, &runs[a], &runs[b], window).unwrap();
            let cli = store.compare_runs(&runs[a], &runs[b], window).unwrap();
            assert_eq!(page, cli, "runs {a} and {b}, window {window}");
        }
    }
}
