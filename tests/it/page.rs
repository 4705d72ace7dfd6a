//! The on-call page in a real browser: `errwatch serve` over a database holding an incident and
//! the corpus's errors, all in the last hours (or, as on a fresh start, the incident alone), and
//! tests/browser/lookup.mjs using the page in Debian's Chromium as a person would, in a laptop's
//! window and a phone's. The script reports what the page showed; the checks are here, against
//! the rows this test stored.
//!
//! Needs /usr/bin/chromium and `npm ci --prefix tests/browser`; scripts/test.sh installs both.
//! Without them the test fails and says so: a page nobody opened is not a page that works.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use errwatch::source::Position;
use errwatch::store::{code_label, ErrorRow, DEFAULT_RAW_CAP};
use errwatch::timestamp::Timestamp;
use errwatch::{classify, ApiError, Classification, Limits};
use serde_json::Value;

use crate::clickhouse::TestDatabase;
use crate::process::Errwatch;

const CORPUS: &str = include_str!("../data/records.jsonl");
const CHROMIUM: &str = "/usr/bin/chromium";
/// The script's own waits time out well before this; it only stops a browser that hangs.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

/// One call, retried by its client, failing five ways under one correlation id, as clients log
/// it: JSON with the body escaped in a string, text with JSON appended, logfmt, and a 503 that
/// came without a body, so without a code. [`incident`] adds a sixth.
const INCIDENT_ID: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const INCIDENT: [&str; 5] = [
    r#"{"time":"2026-11-26T09:58:01.204Z","level":"warn","service":"mde-isolate","msg":"POST https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate failed","status":429,"headers":{"Retry-After":"12"},"body":"{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"API calls quota exceeded! Maximum allowed 100 per 1 minute(s).\",\"target\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}}"}"#,
    r#"{"time":"2026-11-26T09:58:13.877Z","level":"warn","service":"mde-isolate","msg":"POST https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate failed","status":429,"headers":{"Retry-After":"30"},"body":"{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"API calls quota exceeded! Maximum allowed 100 per 1 minute(s).\",\"target\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}}"}"#,
    r#"2026-11-26T09:58:44.310Z ERROR service=mde-isolate POST https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate -> 401 Unauthorized {"error":{"code":"Unauthorized","message":"The access token has expired.","target":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}}"#,
    r#"level=error time=2026-11-26T09:59:15.992Z service=mde-isolate method=POST url=https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate status=503 error="{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"The service is temporarily unavailable.\",\"target\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}}""#,
    r#"level=error time=2026-11-26T09:59:47.105Z service=mde-isolate method=POST url=https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate status=503 correlation_id=7c9e6679-7425-40de-944b-e07fc1f90ae7 msg="no body""#,
];

/// A 403 whose message is one long word, without a hyphen or slash to break at: the page must
/// wrap it inside its cell, however narrow the window.
const LONG_MESSAGE_CHARS: usize = 600;

/// Throttled calls of another client, all in the same minute, five minutes ago. Not a multiple
/// of a round step, so that the chart's top label must reach above the tallest bar.
const STORM_ID: &str = "5b2f8a4e-9c1d-4e7a-8f3b-2d6c0e9a1b47";
const STORM_CALLS: usize = 37;

/// The incident's records: [`INCIDENT`] and, between its last two, the 403 with the long message.
fn incident() -> Vec<String> {
    let message: String = "AuthorizationFailed.subscriptions.1e5bc9d7e4134dd7902c2932e418702b.Microsoft.Security."
        .chars()
        .cycle()
        .take(LONG_MESSAGE_CHARS)
        .collect();
    let forbidden = format!(
        r#"2026-11-26T09:59:30.518Z ERROR service=mde-isolate POST https://api.securitycenter.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate -> 403 Forbidden {{"error":{{"code":"Forbidden","message":"{message}","target":"{INCIDENT_ID}"}}}}"#
    );
    let mut records: Vec<String> = INCIDENT.iter().map(|record| (*record).to_owned()).collect();
    records.insert(INCIDENT.len() - 1, forbidden);
    records
}

/// What the database holds besides the incident.
#[derive(Clone, Copy)]
enum History {
    /// The corpus's errors, spread over four and a half of the chart's six hours.
    Hours,
    /// Nothing: errwatch started minutes ago, with the incident and the storm.
    FreshStart,
}

/// Stored nowhere: the page must say there are no events.
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

const MINUTE_MILLIS: i64 = 60_000;

fn row(error: &ApiError, record: &str, offset: usize, now: Timestamp) -> ErrorRow {
    let position = Position { source: "page".into(), partition: 0, offset: offset as u64 };
    ErrorRow::new(error, record, &position, now, now, DEFAULT_RAW_CAP)
}

fn api_error(record: &str) -> Option<ApiError> {
    match classify(record.as_bytes(), &Limits::default()) {
        Classification::ApiError(error) => Some(*error),
        _ => None,
    }
}

/// Stores the incident, the storm and, with [`History::Hours`], every error of the corpus, as
/// ingest would, and returns the rows. The page charts the last six hours, so the records' own times are
/// moved: the incident keeps its spacing and ends 20 minutes ago, the corpus's errors are spread
/// over 4.5 hours.
fn store_errors(database: &TestDatabase, history: History) -> Vec<ErrorRow> {
    let now = Timestamp::now();
    let millis = |time: Option<Timestamp>| time.expect("every record used here carries its time").unix_millis();
    let records = incident();
    let incident: Vec<ApiError> =
        records.iter().map(|record| api_error(record).unwrap_or_else(|| panic!("not an error: {record}"))).collect();
    let end = incident.iter().map(|error| millis(error.timestamp)).max().unwrap();
    let shift = now.unix_millis() - 20 * MINUTE_MILLIS - end;
    let corpus: Vec<(String, ApiError)> = CORPUS
        .lines()
        .map(|entry| serde_json::from_str::<Value>(entry).unwrap()["input"].as_str().unwrap().to_owned())
        .filter_map(|record| api_error(&record).map(|error| (record, error)))
        .take(match history {
            History::Hours => usize::MAX,
            History::FreshStart => 0,
        })
        .collect();
    assert!(matches!(history, History::FreshStart) || corpus.len() >= 20, "the corpus has errors: {}", corpus.len());
    assert!(10 + 13 * corpus.len() < 6 * 60, "the chart's six hours hold every error");
    let mut rows = Vec::new();
    for (record, mut error) in records.iter().zip(incident) {
        error.timestamp = Timestamp::from_unix_millis(millis(error.timestamp) + shift);
        rows.push(row(&error, record, rows.len(), now));
    }
    for (spread, (record, mut error)) in (0..).zip(corpus) {
        error.timestamp = Timestamp::from_unix_millis(now.unix_millis() - (10 + 13 * spread) * MINUTE_MILLIS);
        rows.push(row(&error, &record, rows.len(), now));
    }
    let storm = INCIDENT[0].replace(INCIDENT_ID, STORM_ID);
    let mut error = api_error(&storm).unwrap();
    let minute = (now.unix_millis() / MINUTE_MILLIS - 5) * MINUTE_MILLIS;
    for call in 0..STORM_CALLS as i64 {
        error.timestamp = Timestamp::from_unix_millis(minute + call * 1_000);
        rows.push(row(&error, &storm, rows.len(), now));
    }

    let incident = rows.iter().filter(|row| row.correlation_id == INCIDENT_ID).count();
    assert_eq!(incident, records.len(), "the corpus does not use the incident's id");
    let longest = rows.iter().map(|row| &row.message).max_by_key(|message| message.len()).unwrap();
    assert!(
        longest.len() == LONG_MESSAGE_CHARS && !longest.contains(char::is_whitespace),
        "the long message is stored whole and unbroken: {longest}"
    );
    crate::clickhouse::store_rows(database, &rows);
    rows
}

fn browser_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Fails, before anything is stored, when the browser or its driver is not installed.
fn check_prerequisites() {
    assert!(
        browser_tests().join("node_modules/playwright-core").is_dir(),
        "{} has no node_modules/playwright-core: run `npm ci --prefix tests/browser` (scripts/test.sh does)",
        browser_tests().display()
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh does)"
    );
}

/// Runs tests/browser/lookup.mjs and returns what it reports the page showed.
fn use_page(url: &str, pasted: &str, unknown: &str, screenshots: &Path, token: Option<&str>) -> Value {
    let mut child = Command::new("node")
        .arg(browser_tests().join("lookup.mjs"))
        .args([url, pasted, unknown])
        .arg(screenshots)
        .args(token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run node ({error}): Node.js 20 or later is needed for the page test"));
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // The output is read on threads of their own so that a chatty process never blocks on a
    // full pipe, and the wait can give up on a process that hangs.
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = sender.send(text);
    });
    let Ok(out) = receiver.recv_timeout(BROWSER_DEADLINE) else {
        // SIGTERM first, which Playwright answers by closing the browser it started.
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        for _ in 0..100 {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("lookup.mjs did not finish within {BROWSER_DEADLINE:?}; its errors:\n{}", err_reader.join().unwrap());
    };
    let status = child.wait().unwrap();
    let errors = err_reader.join().unwrap();
    assert!(status.success(), "lookup.mjs failed ({status}):\n{errors}");
    serde_json::from_str(&out).unwrap_or_else(|error| panic!("lookup.mjs printed no report ({error}): {out}\n{errors}"))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

/// The leading number of a status text such as "24 errors in the last 6 hours".
fn leading_number(status: &str) -> u64 {
    let digits: String = status.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("{status:?} does not start with a count"))
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("no screenshot at {}: {error}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000, "{} is not a real PNG", path.display());
}

#[test]
fn a_pasted_correlation_id_shows_its_events_and_the_chart_counts_every_error() {
    check_the_page("page", None, History::Hours);
}

/// Also the fresh start: the chart holds only the incident's last minutes.
#[test]
fn the_page_asks_for_the_token_when_errwatch_has_one() {
    check_the_page("page_token", Some("correct-horse-battery-staple"), History::FreshStart);
}

/// Stores the errors, starts `errwatch serve` (with `token`, if any) and uses the page in a
/// browser: the incident's lookup, an unknown id, and the chart.
fn check_the_page(name: &str, token: Option<&str>, history: History) {
    check_prerequisites();
    let database = TestDatabase::new(name);
    let rows = store_errors(&database, history);
    let environment: Vec<(&str, &str)> = token.map(|token| ("ERRWATCH_API_TOKEN", token)).into_iter().collect();
    let errwatch = Errwatch::serve_with(&database, &crate::clickhouse::url(), &environment);
    let url = format!("http://{}/", errwatch.http_address());
    // Under target/, for people to look at after a run.
    let screenshots: PathBuf =
        Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("page-screenshots").join(name);
    // Pasted as a Windows log writes it, braces, capitals, stray spaces and all.
    let pasted = format!(" {{{}}} ", INCIDENT_ID.to_uppercase());
    let seen = use_page(&url, &pasted, UNKNOWN_ID, &screenshots, token);
    let report = serde_json::to_string_pretty(&seen).unwrap();

    assert_eq!(seen["page_status"], 200, "{report}");
    // The page worked under its policy, not beside it.
    assert!(text(&seen["page_policy"]).contains("default-src 'self'"), "{report}");
    assert_eq!(seen["page_errors"], Value::Array(Vec::new()), "the page's scripts failed: {report}");
    if token.is_some() {
        assert_eq!(seen["token_asked"], true, "{report}");
        assert_eq!(seen["token_section_hidden_after"], true, "{report}");
    }

    // The incident: its six events, oldest first, each with its status, code (or, without one,
    // its status named) and category.
    let lookup = &seen["lookup"];
    let status = text(&lookup["status"]);
    assert_eq!(lookup["status_is_error"], false, "{report}");
    assert!(status.starts_with(&format!("{} events for {INCIDENT_ID}", INCIDENT.len() + 1)), "{status:?}");
    assert_eq!(lookup["table_visible"], true, "{report}");
    let columns: Vec<&str> = lookup["columns"].as_array().unwrap().iter().map(text).collect();
    let column =
        |name: &str| columns.iter().position(|column| *column == name).unwrap_or_else(|| panic!("{columns:?}"));
    let (status_at, code_at, category_at) = (column("Status"), column("Code"), column("Category"));
    let shown: Vec<(String, String, String)> = lookup["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (text(&row[status_at]).into(), text(&row[code_at]).into(), text(&row[category_at]).into()))
        .collect();
    let mut incident: Vec<&ErrorRow> = rows.iter().filter(|row| row.correlation_id == INCIDENT_ID).collect();
    incident.sort_by_key(|row| (row.event_time, row.event_millis));
    let expected: Vec<(String, String, String)> = incident
        .iter()
        .map(|row| {
            (row.http_status.to_string(), code_label(&row.code, row.http_status).into_owned(), row.category.clone())
        })
        .collect();
    assert!(expected.iter().any(|(_, code, _)| code == "HTTP 503"), "the incident has an error without a code");
    assert_eq!(shown, expected, "{report}");

    // An id nothing was stored under: the error text, and no table.
    let unknown = &seen["unknown"];
    let status = text(&unknown["status"]);
    assert_eq!(unknown["status_is_error"], true, "{report}");
    assert!(status.starts_with(&format!("no events for correlation id {UNKNOWN_ID}")), "{status:?}");
    assert_eq!(unknown["table_visible"], false, "{report}");
    assert_eq!(unknown["rows"], Value::Array(Vec::new()), "{report}");

    // The chart: every stored error counted, per category in the legend, and bars painted.
    let chart = &seen["chart"];
    let status = text(&chart["status"]);
    assert_eq!(chart["status_is_error"], false, "{report}");
    assert_eq!(leading_number(status), rows.len() as u64, "{status:?}");
    let mut per_category: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        *per_category.entry(row.category.clone()).or_default() += 1;
    }
    let legend: BTreeMap<String, u64> = chart["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let (category, count) = text(entry).rsplit_once(' ').unwrap();
            (category.to_owned(), count.parse().unwrap())
        })
        .collect();
    assert_eq!(legend, per_category, "{report}");
    assert!(chart["bar_pixels"].as_u64().unwrap() > 0, "no bars painted: {report}");

    for name in ["lookup-1280.png", "lookup-390.png", "no-events.png"] {
        assert_png(&screenshots.join(name));
    }

    // Every width is checked before failing, so that one run shows all that is wrong.
    let widths = seen["widths"].as_array().unwrap();
    let measured: Vec<u64> = widths.iter().map(|width| width["width"].as_u64().unwrap()).collect();
    assert_eq!(measured, [1280, 390], "{report}");
    let mut problems = Vec::new();
    for width in widths {
        assert_png(Path::new(text(&width["screenshot"])));
        let at = |problem: String| format!("at {} px: {problem}", width["width"]);
        // The message's column is some 440 px wide in the laptop's window; the phone's gives it
        // the block's whole width, under 360 px.
        let lines = match width["width"].as_u64() {
            Some(1280) => 12,
            _ => 18,
        };
        problems.extend(layout_problems(width, lines).into_iter().map(at));
        problems.extend(chart_problems(&width["chart"], &rows).into_iter().map(at));
    }
    assert!(problems.is_empty(), "{}\n{report}", problems.join("\n"));
}

/// Nothing wider than the window, nothing outside its section, every cell's text inside the
/// cell, and the long message wrapped into a block of at most `most_lines`, not a strip.
fn layout_problems(seen: &Value, most_lines: u64) -> Vec<String> {
    let number = |name: &str| seen[name].as_u64().unwrap_or_else(|| panic!("no {name} measured: {seen}"));
    let mut problems = Vec::new();
    if number("elements_checked") < 20 {
        problems.push(format!("only {} elements measured", number("elements_checked")));
    }
    // Each event's seven cells; the header's, where the layout shows them.
    if number("cells_checked") < 7 * (INCIDENT.len() as u64 + 1) {
        problems.push(format!("only {} table cells measured", number("cells_checked")));
    }
    if number("scroll_width") > number("inner_width") {
        problems.push(format!(
            "the page is {} px wide in a {} px window",
            number("scroll_width"),
            number("inner_width")
        ));
    }
    for list in ["outside", "cells_overflowing"] {
        problems.extend(seen[list].as_array().unwrap().iter().map(|entry| format!("{list}: {}", text(entry))));
    }
    if number("most_cell_lines") > most_lines {
        problems.push(format!("a cell is a strip of {} lines", number("most_cell_lines")));
    }
    problems
}

/// Whether `step` is 1, 2 or 5 times a power of ten.
fn is_round_step(step: u64) -> bool {
    let mut digits = step;
    while digits >= 10 && digits.is_multiple_of(10) {
        digits /= 10;
    }
    matches!(digits, 1 | 2 | 5)
}

#[test]
fn round_steps_are_one_two_or_five_times_a_power_of_ten() {
    fn check(step: u64, round: bool) {
        assert_eq!(is_round_step(step), round, "{step}");
    }
    for (step, round) in [(1, true), (2, true), (5, true), (10, true), (200, true), (5000, true)] {
        check(step, round);
    }
    for (step, round) in [(0, false), (3, false), (4, false), (15, false), (25, false), (658, false), (1010, false)] {
        check(step, round);
    }
}

/// Round y-axis labels from zero up to at least the tallest bar, which stays under the top grid
/// line, and a time range that starts at the oldest error's bar and ends after the newest,
/// within the hours selected.
fn chart_problems(chart: &Value, rows: &[ErrorRow]) -> Vec<String> {
    let number = |name: &str| chart[name].as_u64().unwrap_or_else(|| panic!("the chart has no {name}: {chart}"));
    let (from, to, step) = (number("from"), number("to"), number("step"));
    assert!(step > 0, "{chart}");
    let mut problems = Vec::new();
    let mut per_bar: BTreeMap<u64, u64> = BTreeMap::new();
    for row in rows {
        *per_bar.entry(u64::from(row.event_time) / step).or_default() += 1;
    }
    let tallest = per_bar.values().copied().max().unwrap();

    let ticks: Vec<u64> = chart["y_ticks"]
        .as_array()
        .unwrap_or_else(|| panic!("the chart names no y-axis labels: {chart}"))
        .iter()
        .map(|tick| tick.as_u64().unwrap_or_else(|| panic!("{tick} is not a whole number: {chart}")))
        .collect();
    assert!(ticks.len() >= 2 && ticks[0] == 0, "{ticks:?}");
    let tick_step = ticks[1];
    if !is_round_step(tick_step) || ticks.windows(2).any(|pair| pair[1] - pair[0] != tick_step) {
        problems.push(format!("y-axis labels not in round steps: {ticks:?}"));
    }
    if ticks[ticks.len() - 1] < tallest {
        problems.push(format!("the top label is under the tallest bar, {tallest}: {ticks:?}"));
    }
    let bar_top = chart["tallest_bar_top"].as_f64().unwrap_or_else(|| panic!("no bars: {chart}"));
    let grid_top = chart["top_grid_line"].as_f64().unwrap_or_else(|| panic!("no grid line: {chart}"));
    if bar_top < grid_top {
        problems.push(format!("the tallest bar rises to {bar_top} px, past the top line at {grid_top} px"));
    }

    let oldest = rows.iter().map(|row| u64::from(row.event_time)).min().unwrap();
    let newest = rows.iter().map(|row| u64::from(row.event_time)).max().unwrap();
    if from > oldest || oldest >= from + step {
        problems.push(format!(
            "the chart starts at {from}, {} s before the oldest error, not at its {step} s bar",
            oldest as i64 - from as i64
        ));
    }
    if to <= newest {
        problems.push(format!("the chart ends at {to}, before the newest error at {newest}"));
    }
    let selected = number("selected_hours") * 3600;
    if to - from > selected + step {
        problems.push(format!("the chart spans {} s, more than the {selected} s selected", to - from));
    }
    problems
}
