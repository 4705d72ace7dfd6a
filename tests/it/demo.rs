//! `errwatch demo` as a newcomer runs it: it prints where to look and ids to try, the events
//! reach ClickHouse, `/metrics` counts them, and `errwatch lookup` finds a printed id.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clickhouse::{runtime, scalar, TestDatabase};
use crate::process::{http_request, sample, wait_until};

#[test]
fn the_demo_stores_what_it_generates_and_says_where_to_look() {
    let database = TestDatabase::new("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .args(["demo", "--duration", "20s", "--summary-every", "2", "--rate", "300", "--seed", "11"])
        .env("ERRWATCH_CLICKHOUSE_URL", crate::clickhouse::url())
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .env("ERRWATCH_HTTP_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let printed = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let printed = printed.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                printed.lock().unwrap().push(line);
            }
        })
    };
    let find = |prefix: &str| {
        printed.lock().unwrap().iter().find_map(|line| line.trim().strip_prefix(prefix).map(str::to_owned))
    };
    let deadline = Duration::from_secs(60);
    wait_until("the demo to print ids to try", deadline, || find("try: errwatch lookup ").is_some());
    let id = find("try: errwatch lookup ").unwrap().split_whitespace().next().unwrap().to_owned();
    let metrics_url = find("metrics").unwrap();
    let address = metrics_url.trim().trim_start_matches("http://").trim_end_matches("/metrics").to_owned();

    // While it runs, /metrics counts the errors it stored.
    let metrics = http_request(&address, "GET", "/metrics").body;
    let errors = sample(&metrics, r#"errwatch_records_total{outcome="error"}"#).unwrap_or(0.0);
    assert!(errors > 0.0, "{metrics}");

    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < deadline, "the demo did not stop after its duration");
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    assert!(status.success(), "{status}: {:?}", printed.lock().unwrap());
    let summaries = printed.lock().unwrap().iter().filter(|line| line.contains("records/s |")).count();
    assert!(summaries >= 3, "a summary every 2 s: {:?}", printed.lock().unwrap());

    // Its last line counts what it stored once everything read was flushed and committed:
    // ClickHouse must hold exactly that, no row lost and none twice.
    let last = printed.lock().unwrap().last().cloned().unwrap_or_default();
    let counted: u64 = last
        .strip_prefix("stopped: ")
        .and_then(|rest| rest.split(" records read, ").nth(1))
        .and_then(|rest| rest.strip_suffix(" errors stored"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("the last line says what was stored: {last:?}"));
    assert!(counted as f64 >= errors, "the errors counted while running are among those stored");
    let stored: u64 = runtime().block_on(scalar(&database.settings(), "SELECT count() FROM api_errors"));
    assert_eq!(stored, counted, "ClickHouse holds exactly the errors the demo counted");
    let positions: u64 = runtime().block_on(scalar(
        &database.settings(),
        "SELECT count() FROM (SELECT DISTINCT source, source_partition, source_offset FROM api_errors)",
    ));
    assert_eq!(positions, stored, "no position stored twice");
    let lookup = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .args(["lookup", &id, "--json"])
        .env("ERRWATCH_CLICKHOUSE_URL", crate::clickhouse::url())
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .output()
        .unwrap();
    assert_eq!(lookup.status.code(), Some(0), "{}", String::from_utf8_lossy(&lookup.stderr));
    let events: serde_json::Value = serde_json::from_slice(&lookup.stdout).unwrap();
    assert!(!events.as_array().unwrap().is_empty());
    assert!(events.as_array().unwrap().iter().all(|event| event["correlation_id"] == id.as_str()), "{events}");
}
