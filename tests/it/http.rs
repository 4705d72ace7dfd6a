//! The HTTP API of `errwatch serve` over a real ClickHouse holding the corpus's errors: every
//! endpoint, every kind of bad input, and ClickHouse going away.

use std::time::Duration;

use errwatch::source::Position;
use errwatch::store::{code_label, ErrorRow, Settings, DEFAULT_RAW_CAP};
use errwatch::timestamp::Timestamp;
use errwatch::{classify, Classification, CorrelationId, Limits};
use serde_json::Value;

use crate::clickhouse::{runtime, scalar, TestDatabase};
use crate::process::{http_request, http_request_with, wait_until, Answer, Errwatch};

const CORPUS: &str = include_str!("../data/records.jsonl");
const DEADLINE: Duration = Duration::from_secs(60);

/// The headers every answer carries, whatever its route and status: the page shows text that
/// whoever writes a log line chose, and these keep such text from ever running as script.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("content-security-policy", "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

fn check_security_headers(answer: &Answer, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(answer.header(name), Some(value), "{what} ({}): {name} in {:?}", answer.status, answer.headers);
    }
}

/// Stores every error of the corpus, as ingest would, and returns their correlation ids.
pub(crate) fn store_corpus(database: &TestDatabase) -> Vec<CorrelationId> {
    store_corpus_rows(database).iter().filter_map(|row| CorrelationId::parse(&row.correlation_id)).collect()
}

/// Stores every error of the corpus, as ingest would, and returns the rows.
fn store_corpus_rows(database: &TestDatabase) -> Vec<ErrorRow> {
    let now = Timestamp::now();
    let mut rows = Vec::new();
    for (line, entry) in CORPUS.lines().enumerate() {
        let entry: Value = serde_json::from_str(entry).unwrap();
        let input = entry["input"].as_str().unwrap();
        if let Classification::ApiError(error) = classify(input.as_bytes(), &Limits::default()) {
            let position = Position { source: "corpus".into(), partition: 0, offset: line as u64 };
            rows.push(ErrorRow::new(&error, input, &position, now, now, DEFAULT_RAW_CAP));
        }
    }
    assert!(rows.len() >= 20, "the corpus has errors: {}", rows.len());
    crate::clickhouse::store_rows(database, &rows);
    rows
}

/// Asserts an error answer in Defender's envelope, with a fresh GUID as target that the
/// server also logged.
fn check_problem(errwatch: &Errwatch, path: &str, status: u16, code: &str) -> String {
    let answer = errwatch.get(path);
    assert_eq!(answer.status, status, "{path}: {}", answer.body);
    assert_eq!(answer.content_type, "application/json", "{path}");
    check_security_headers(&answer, path);
    let body = answer.json();
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty(), "{path}");
    let target = body["error"]["target"].as_str().unwrap();
    assert!(errwatch::guid::Guid::parse(target).is_some(), "{path}: target {target:?} is a GUID");
    errwatch.wait_for_log(target, 1, DEADLINE);
    message
}

fn raw_count(settings: &Settings, sql: &str) -> u64 {
    runtime().block_on(scalar::<u64>(settings, sql))
}

#[test]
fn lookups_answer_every_spelling_and_refuse_bad_ids() {
    let database = TestDatabase::new("http_lookup");
    let ids = store_corpus(&database);
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());

    let id = ids[0];
    let expected =
        raw_count(&database.settings(), &format!("SELECT count() FROM api_errors WHERE correlation_id = '{id}'"));
    let shouted = format!("%7B{}%7D", id.to_string().to_uppercase());
    for spelling in [id.to_string(), shouted, id.to_string().replace('-', "")] {
        let answer = errwatch.get(&format!("/api/v1/correlations/{spelling}"));
        assert_eq!(answer.status, 200, "{spelling}: {}", answer.body);
        let body = answer.json();
        assert_eq!(body["correlation_id"], id.to_string());
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.len() as u64, expected, "{spelling}");
        assert_eq!(body["truncated"], false, "{spelling}: {body}");
        assert_eq!(body["limit"], 10_000, "{spelling}: {body}");
        assert!(events.iter().all(|event| event["correlation_id"] == id.to_string()));
    }

    check_problem(&errwatch, "/api/v1/correlations/not-a-guid", 400, "InvalidInput");
    check_problem(&errwatch, &format!("/api/v1/correlations/{}", "7".repeat(5000)), 400, "InvalidInput");
    check_problem(&errwatch, "/api/v1/correlations/%FF%FE", 400, "InvalidInput");
    let missing =
        check_problem(&errwatch, "/api/v1/correlations/00000000-0000-4000-8000-000000000000", 404, "NotFound");
    assert!(missing.contains("00000000-0000-4000-8000-000000000000"), "{missing}");
}

#[test]
fn summaries_and_series_count_what_clickhouse_holds() {
    let database = TestDatabase::new("http_counts");
    let rows = store_corpus_rows(&database);
    let settings = database.settings();
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());
    // Corpus records carry their own times; the range is the minutes they span.
    let first = raw_count(&settings, "SELECT toUInt64(min(event_time)) FROM api_errors") / 60 * 60;
    let last = raw_count(&settings, "SELECT toUInt64(max(event_time)) FROM api_errors") / 60 * 60 + 60;
    assert!(last - first <= 400 * 86_400, "the corpus spans less than the longest range");
    let in_range = format!("event_time >= {first} AND event_time < {last}");

    let summary = errwatch.get(&format!("/api/v1/errors/summary?from={first}&to={last}"));
    assert_eq!(summary.status, 200, "{}", summary.body);
    let summary = summary.json();
    let total = raw_count(&settings, &format!("SELECT count() FROM api_errors WHERE {in_range}"));
    assert_eq!(summary["total"], total);
    for (list, column) in [("by_category", "category"), ("by_http_status", "http_status"), ("by_service", "service")] {
        let entries = summary[list].as_array().unwrap();
        assert!(!entries.is_empty(), "{list}");
        for entry in entries {
            let value = entry["value"].as_str().unwrap().replace('\'', "\\'");
            let count = raw_count(
                &settings,
                &format!("SELECT count() FROM api_errors WHERE {in_range} AND toString({column}) = '{value}'"),
            );
            assert_eq!(entry["events"], count, "{list} {value}");
        }
    }

    // Codes as they are shown: an error without one is named by its status, never a blank.
    let by_code: Vec<(String, u64)> = summary["by_code"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["value"].as_str().unwrap().to_owned(), entry["events"].as_u64().unwrap()))
        .collect();
    let mut expected: Vec<(String, u64)> = Vec::new();
    for row in &rows {
        let label = code_label(&row.code, row.http_status).into_owned();
        match expected.iter_mut().find(|(value, _)| *value == label) {
            Some((_, events)) => *events += 1,
            None => expected.push((label, 1)),
        }
    }
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(by_code, expected);
    assert!(by_code.iter().all(|(value, _)| !value.trim().is_empty()), "{by_code:?}");
    let without_code = rows.iter().filter(|row| row.code.is_empty() && row.http_status == 503).count();
    assert!(without_code > 0, "the corpus has a 503 without a code");
    let unavailable = errwatch.get(&format!("/api/v1/errors/summary?from={first}&to={last}&code=HTTP%20503"));
    assert_eq!(unavailable.json()["total"], without_code as u64, "{}", unavailable.body);

    let throttled = errwatch.get(&format!("/api/v1/errors/summary?from={first}&to={last}&category=throttling"));
    let throttled_total =
        raw_count(&settings, &format!("SELECT count() FROM api_errors WHERE {in_range} AND category = 'throttling'"));
    assert!(throttled_total > 0);
    assert_eq!(throttled.json()["total"], throttled_total);

    // A time series over the same minutes adds up to the same total, bucket by bucket.
    let step = ((last - first) / 100).div_ceil(60).max(1) * 60;
    let series = errwatch.get(&format!("/api/v1/errors/timeseries?from={first}&to={last}&step={step}"));
    assert_eq!(series.status, 200, "{}", series.body);
    let series = series.json();
    assert_eq!(series["step_seconds"], step);
    let times = series["times"].as_array().unwrap();
    assert!(times.windows(2).all(|pair| pair[1].as_u64().unwrap() - pair[0].as_u64().unwrap() == step));
    let mut sum = 0;
    for category in series["categories"].as_array().unwrap() {
        let events = category["events"].as_array().unwrap();
        assert_eq!(events.len(), times.len());
        sum += events.iter().map(|n| n.as_u64().unwrap()).sum::<u64>();
    }
    assert_eq!(sum, total);
}

#[test]
fn bad_ranges_steps_and_paths_are_refused_in_the_envelope() {
    let database = TestDatabase::new("http_bad");
    runtime().block_on(database.migrated());
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());
    let check = |path: &str, status: u16, code: &str| {
        check_problem(&errwatch, path, status, code);
    };
    check("/api/v1/errors/summary?from=yesterday", 400, "InvalidInput");
    check("/api/v1/errors/summary?from=1700000000&to=1600000000", 400, "InvalidInput");
    check("/api/v1/errors/summary?from=1600000000&to=1700000000", 400, "InvalidInput");
    check("/api/v1/errors/summary?step=5m", 400, "InvalidInput");
    check("/api/v1/errors/summary?bogus=1", 400, "InvalidInput");
    check(&format!("/api/v1/errors/summary?service={}", "s".repeat(300)), 400, "InvalidInput");
    check("/api/v1/errors/summary?service=", 400, "InvalidInput");
    check("/api/v1/errors/timeseries?step=90", 400, "InvalidInput");
    check("/api/v1/errors/timeseries?step=1m&from=1690000000&to=1700000000", 400, "InvalidInput");
    check("/api/v1/errors/timeseries?step=-1", 400, "InvalidInput");
    check("/api/v1/errors/timeseries?from=%FF", 400, "InvalidInput");
    check("/api/v2/anything", 404, "NotFound");
    check("/nowhere", 404, "NotFound");

    for (method, path) in
        [("POST", "/api/v1/errors/summary"), ("POST", "/"), ("DELETE", "/healthz"), ("PUT", "/metrics")]
    {
        let answer = http_request(&errwatch.http_address(), method, path);
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "MethodNotAllowed", "{method} {path}");
    }

    // Good requests over an empty database are empty answers, not errors.
    let empty = errwatch.get("/api/v1/errors/summary");
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.json()["total"], 0);
    let series = errwatch.get("/api/v1/errors/timeseries?step=1h");
    assert_eq!(series.status, 200, "{}", series.body);
    // A day in whole hours: 24 buckets, or 25 when the day does not start on the hour.
    let buckets = series.json()["times"].as_array().unwrap().len();
    assert!((24..=25).contains(&buckets), "{buckets}");
}

#[test]
fn health_metrics_document_and_page_are_served() {
    let database = TestDatabase::new("http_meta");
    runtime().block_on(database.migrated());
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());

    let health = errwatch.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = errwatch.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["ready"], true);

    let metrics = errwatch.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain; version=0.0.4"), "{}", metrics.content_type);
    assert!(metrics.body.contains("errwatch_build_info{version=\""), "{}", metrics.body);

    let document = errwatch.get("/api/v1/openapi.json");
    assert_eq!(document.status, 200);
    let document = document.json();
    assert_eq!(document["openapi"], "3.0.3");
    for path in ["/api/v1/correlations/{id}", "/api/v1/errors/summary", "/api/v1/errors/timeseries"] {
        assert!(document["paths"][path]["get"].is_object(), "{path} is documented");
    }

    let page = errwatch.get("/");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    assert!(page.body.contains(r#"<script src="page.js">"#), "{}", page.body);
    let script = errwatch.get("/page.js");
    assert_eq!(script.status, 200);
    assert!(script.content_type.starts_with("text/javascript"), "{}", script.content_type);
    assert!(script.body.contains("api/v1/correlations/"), "the page uses the API");
    let style = errwatch.get("/page.css");
    assert_eq!(style.status, 200);
    assert!(style.content_type.starts_with("text/css"), "{}", style.content_type);
}

#[test]
fn every_answer_carries_the_security_headers() {
    let database = TestDatabase::new("http_headers");
    let ids = store_corpus(&database);
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());
    let lookup = format!("/api/v1/correlations/{}", ids[0]);
    let check = |method: &str, path: &str, status: u16| {
        let answer = http_request(&errwatch.http_address(), method, path);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        check_security_headers(&answer, &format!("{method} {path}"));
    };
    check("GET", "/", 200);
    check("GET", "/page.js", 200);
    check("GET", "/page.css", 200);
    check("GET", &lookup, 200);
    check("GET", "/api/v1/errors/summary", 200);
    check("GET", "/api/v1/errors/timeseries", 200);
    check("GET", "/api/v1/openapi.json", 200);
    check("GET", "/metrics", 200);
    check("GET", "/healthz", 200);
    check("GET", "/readyz", 200);
    check("GET", "/api/v1/correlations/not-a-guid", 400);
    check("GET", "/api/v1/errors/summary?bogus=1", 400);
    check("GET", "/api/v1/correlations/00000000-0000-4000-8000-000000000000", 404);
    check("GET", "/api/v2/anything", 404);
    check("GET", "/nowhere", 404);
    check("POST", "/", 405);
    check("POST", "/api/v1/errors/summary", 405);
    check("DELETE", "/healthz", 405);
}

#[test]
fn clickhouse_away_means_not_ready_and_503() {
    let database = TestDatabase::new("http_down");
    let ids = store_corpus(&database);
    let proxy_runtime = runtime();
    let switch = proxy_runtime.block_on(crate::proxy::Switch::start(&crate::clickhouse::url()));
    let errwatch = Errwatch::serve(&database, &switch.url());
    let lookup = format!("/api/v1/correlations/{}", ids[0]);
    assert_eq!(errwatch.get(&lookup).status, 200);

    switch.set_down(true);
    // The proxy cuts its open connections as soon as it sees the switch, which may be just
    // after a pooled connection carried one more readiness query through.
    wait_until("errwatch to be not ready", DEADLINE, || errwatch.get("/readyz").status == 503);
    let ready = errwatch.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["ready"], false);
    check_security_headers(&ready, "/readyz");
    check_problem(&errwatch, &lookup, 503, "ServiceUnavailable");
    check_problem(&errwatch, "/api/v1/errors/summary", 503, "ServiceUnavailable");
    assert_eq!(errwatch.get("/healthz").status, 200, "alive all the same");

    switch.set_down(false);
    wait_until("errwatch to be ready again", DEADLINE, || errwatch.get("/readyz").status == 200);
    assert_eq!(errwatch.get(&lookup).status, 200);
}

#[test]
fn the_api_open_to_the_network_needs_a_token() {
    let database = TestDatabase::new("http_token");
    let ids = store_corpus(&database);

    // Bound beyond loopback without a token, errwatch refuses to start and says what to do.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .arg("serve")
        .env("ERRWATCH_CLICKHOUSE_URL", crate::clickhouse::url())
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .env("ERRWATCH_HTTP_ADDR", "0.0.0.0:0")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("ERRWATCH_API_TOKEN") && message.contains("--insecure-no-auth"), "{message}");

    let token = "correct-horse-battery-staple";
    let errwatch = Errwatch::serve_with(&database, &crate::clickhouse::url(), &[("ERRWATCH_API_TOKEN", token)]);
    let address = errwatch.http_address();
    let lookup = format!("/api/v1/correlations/{}", ids[0]);
    for (authorization, status) in [
        (None, 401),
        (Some("Bearer wrong-token-wrong-token".to_owned()), 401),
        (Some(format!("Basic {token}")), 401),
        (Some(format!("Bearer {token}")), 200),
    ] {
        let headers: Vec<(&str, &str)> = authorization.iter().map(|value| ("Authorization", value.as_str())).collect();
        for path in [lookup.as_str(), "/api/v1/errors/summary"] {
            let answer = http_request_with(&address, "GET", path, &headers);
            assert_eq!(answer.status, status, "{path} with {authorization:?}: {}", answer.body);
            if status == 401 {
                assert_eq!(answer.json()["error"]["code"], "Unauthorized");
            }
            check_security_headers(&answer, path);
        }
    }
    // Operations stay open for probes and scrapers.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(errwatch.get(path).status, 200, "{path}");
    }
    // So does the page, which a browser opens without a header: it holds no data, and asks
    // for the token once the API wants one.
    let page = errwatch.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="token-form""#), "the page can ask for the token");
    let bearer = format!("Bearer {token}");
    let with_token = http_request_with(&address, "GET", "/", &[("Authorization", bearer.as_str())]);
    assert_eq!(page.body, with_token.body, "the page is the same without the token: it holds no data");
    assert!(!errwatch.log().contains(token), "the token never reaches the log");
}
