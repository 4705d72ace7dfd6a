//! Storage against a real ClickHouse server: migrations, ingest, lookup, roll-up, retention,
//! and the sink through broken connections.

use std::io::Write;
use std::path::PathBuf;

use errwatch::app::ingest::{self, IngestOptions, IngestSummary, Progress};
use errwatch::extract::Unreadable;
use errwatch::source::file::InputPath;
use errwatch::source::Position;
use errwatch::store::{
    ErrorRow, InsertCompression, QuarantineRow, Settings, SinkSettings, Store, DEFAULT_RAW_CAP, LOOKUP_LIMIT,
    MIGRATIONS,
};
use errwatch::timestamp::Timestamp;
use errwatch::{classify, Classification, CorrelationId, Limits};

use crate::check::corpus_lines;

use crate::clickhouse::{rows, runtime, scalar, TestDatabase};

/// A temporary file that removes itself.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &[u8]) -> TempFile {
        let directory = std::env::temp_dir().join(format!("errwatch-it-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(name);
        std::fs::File::create(&path).unwrap().write_all(content).unwrap();
        TempFile(path)
    }

    fn input(&self) -> InputPath {
        InputPath::File(self.0.clone())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn options(max_record_bytes: usize) -> IngestOptions {
    IngestOptions {
        limits: Limits { max_record_bytes, ..Limits::default() },
        raw_cap: 64,
        sink: SinkSettings { max_rows: 5, ..SinkSettings::default() },
        progress: Progress::Quiet,
    }
}

fn ingest_file(store: &Store, file: &TempFile, max_record_bytes: usize) -> IngestSummary {
    let runtime = runtime();
    ingest::run(&runtime, store, &[file.input()], &options(max_record_bytes)).unwrap()
}

#[test]
fn migrations_twice_change_nothing_and_race_harmlessly() {
    let database = TestDatabase::new("migrate");
    runtime().block_on(async {
        let store = database.store();
        let (first, second) = tokio::join!(store.migrate(), store.migrate());
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.created_database || second.created_database);
        let tables_after_first: Vec<String> = rows(
            &database.settings(),
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name",
        )
        .await;
        assert_eq!(
            tables_after_first,
            [
                "api_errors",
                "api_errors_by_correlation",
                "api_errors_by_correlation_mv",
                "api_errors_per_minute",
                "api_errors_per_minute_mv",
                "quarantine",
                "schema_migrations"
            ]
        );
        let again = store.migrate().await.unwrap();
        assert!(!again.created_database);
        assert!(again.applied.is_empty(), "a second run applied {:?}", again.applied);
        let versions: u64 = scalar(&database.settings(), "SELECT uniqExact(version) FROM schema_migrations").await;
        assert_eq!(versions, MIGRATIONS.len() as u64);
    });
}

#[test]
fn ingest_stores_the_corpus_and_quarantines_unreadable_records_once() {
    let database = TestDatabase::new("ingest");
    let store = runtime().block_on(database.migrated());
    let corpus = corpus_lines();
    let mut content = Vec::new();
    for (record, _) in &corpus {
        content.extend_from_slice(record.as_bytes());
        content.push(b'\n');
    }
    content.extend_from_slice(b"not \xff UTF-8 (503)\n");
    content.extend_from_slice(&[b'x'; 3000]);
    content.push(b'\n');
    let file = TempFile::new("corpus.log", &content);

    let summary = ingest_file(&store, &file, 2048);
    let expected_errors = corpus.iter().filter(|(_, expect)| expect["envelope"] == true).count() as u64;
    assert_eq!(
        summary,
        IngestSummary { records: corpus.len() as u64 + 2, skipped: 0, errors_stored: expected_errors, quarantined: 2 }
    );

    let settings = database.settings();
    runtime().block_on(async {
        let stored: Vec<(u64, String, u16, String, String)> = rows(
            &settings,
            "SELECT source_offset, code, http_status, category, correlation_id FROM api_errors ORDER BY source_offset",
        )
        .await;
        assert_eq!(stored.len() as u64, expected_errors);
        for (line, code, status, category, correlation_id) in &stored {
            let (record, expect) = &corpus[*line as usize - 1];
            assert_eq!(expect["envelope"], true, "line {line} stored but not an error: {record}");
            if let Some(expected) = expect.get("code") {
                assert_eq!(code.as_str(), expected.as_str().unwrap_or(""), "{record}");
            }
            if let Some(expected) = expect.get("http_status") {
                assert_eq!(u64::from(*status), expected.as_u64().unwrap_or(0), "{record}");
            }
            if let Some(expected) = expect.get("category") {
                assert_eq!(category, expected.as_str().unwrap(), "{record}");
            }
            if let Some(expected) = expect.get("correlation_id") {
                assert_eq!(correlation_id.as_str(), expected.as_str().unwrap_or(""), "{record}");
            }
        }
        let quarantined: Vec<(u64, String, u64, u8)> =
            rows(&settings, "SELECT source_offset, reason, size, raw_truncated FROM quarantine ORDER BY source_offset")
                .await;
        let first_bad_line = corpus.len() as u64 + 1;
        assert_eq!(
            quarantined,
            [(first_bad_line, "not_utf8".to_owned(), 17, 0), (first_bad_line + 1, "too_large".to_owned(), 3000, 1)]
        );
        let raw: Vec<u8> = scalar::<String>(&settings, "SELECT hex(raw) FROM quarantine WHERE reason = 'not_utf8'")
            .await
            .as_bytes()
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect();
        assert_eq!(raw, b"not \xff UTF-8 (503)", "quarantine keeps the bytes as they were");
    });

    // Again: nothing new is stored, every error and unreadable line is recognised as stored.
    let again = ingest_file(&store, &file, 2048);
    assert_eq!(again.skipped, expected_errors + 2);
    assert_eq!((again.errors_stored, again.quarantined), (0, 0));
    runtime().block_on(async {
        let total: u64 = scalar(&settings, "SELECT count() FROM api_errors").await;
        assert_eq!(total, expected_errors);
        let quarantined: u64 = scalar(&settings, "SELECT count() FROM quarantine").await;
        assert_eq!(quarantined, 2);
    });

    // The same log grown by a line: only the new line is read, from the same identity.
    let long_prefix = format!("{{\"status\":503,\"msg\":\"{}\"}}\n", "p".repeat(1100));
    let first = TempFile::new("grows.log", long_prefix.as_bytes());
    assert_eq!(ingest_file(&store, &first, 4096).errors_stored, 1);
    let grown = TempFile::new("grown.log", format!("{long_prefix}(429) throttled\n").as_bytes());
    let after_growth = ingest_file(&store, &grown, 4096);
    assert_eq!((after_growth.skipped, after_growth.errors_stored), (1, 1));
}

#[test]
fn lookup_finds_an_incident_under_every_spelling() {
    let database = TestDatabase::new("lookup");
    let store = runtime().block_on(database.migrated());
    let guid = "c0ffee00-1234-4abc-8def-0123456789ab";
    let lines = [
        format!(
            r#"{{"ts":"2026-11-26T10:00:02.500Z","service":"sync","url":"https://h/api/machines/42/isolate","method":"POST","status":403,"body":{{"error":{{"code":"Forbidden","message":"no","target":"{guid}"}}}}}}"#
        ),
        "2026-11-26T10:00:00Z INFO unrelated".to_owned(),
        format!(
            r#"{{"ts":"2026-11-26T10:00:01Z","error":{{"code":"TooManyRequests","message":"slow down","target":"{}"}}}}"#,
            guid.to_uppercase()
        ),
        r#"{"error":{"code":"NotFound","target":"11111111-2222-4333-8444-555555555555"}}"#.to_owned(),
    ];
    let file = TempFile::new("lookup.log", lines.join("\n").as_bytes());
    ingest_file(&store, &file, 4096);

    runtime().block_on(async {
        for spelling in [guid.to_owned(), guid.to_uppercase(), format!("{{{guid}}}"), guid.replace('-', "")] {
            let id = CorrelationId::parse(&spelling).unwrap();
            let found = store.lookup(id).await.unwrap();
            assert!(!found.truncated, "{spelling}");
            assert_eq!(found.limit, LOOKUP_LIMIT);
            let events = found.events;
            let codes: Vec<&str> = events.iter().map(|event| event.code.as_str()).collect();
            assert_eq!(codes, ["TooManyRequests", "Forbidden"], "oldest first, for {spelling}");
            assert_eq!(events[1].api, "/api/machines/{id}/isolate");
            assert_eq!(events[1].timestamp().unwrap().to_string(), "2026-11-26T10:00:02.500Z");
        }
        let unknown = CorrelationId::parse("99999999-9999-4999-8999-999999999999").unwrap();
        let nothing = store.lookup(unknown).await.unwrap();
        assert!(nothing.events.is_empty() && !nothing.truncated);
    });
}

#[test]
fn a_lookup_says_when_it_stopped_at_its_limit() {
    let database = TestDatabase::new("lookup_limit");
    let store = runtime().block_on(database.migrated());
    let guid = "c0ffee00-1234-4abc-8def-0123456789ab";
    // Written newest first, so that the oldest ones shown prove the order, not the input's.
    let lines: Vec<String> = (0..5)
        .rev()
        .map(|second| {
            format!(
                r#"{{"ts":"2026-11-26T10:00:0{second}Z","error":{{"code":"Code{second}","message":"m","target":"{guid}"}}}}"#
            )
        })
        .collect();
    let file = TempFile::new("lookup_limit.log", lines.join("\n").as_bytes());
    ingest_file(&store, &file, 4096);
    let id = CorrelationId::parse(guid).unwrap();

    let check = |limit: usize, codes: &[&str], truncated: bool| {
        let found = runtime().block_on(store.lookup_at_most(id, limit)).unwrap();
        let shown: Vec<&str> = found.events.iter().map(|event| event.code.as_str()).collect();
        assert_eq!(shown, codes, "limit {limit}");
        assert_eq!(found.truncated, truncated, "limit {limit}");
        assert_eq!(found.limit, limit);
    };
    check(1, &["Code0"], true);
    check(3, &["Code0", "Code1", "Code2"], true);
    check(4, &["Code0", "Code1", "Code2", "Code3"], true);
    check(5, &["Code0", "Code1", "Code2", "Code3", "Code4"], false);
    check(6, &["Code0", "Code1", "Code2", "Code3", "Code4"], false);
}

#[test]
fn the_roll_up_counts_what_the_raw_table_holds() {
    let database = TestDatabase::new("rollup");
    let store = runtime().block_on(database.migrated());
    let mut content = String::new();
    for index in 0..300 {
        let status = [429, 401, 403, 500, 404][index % 5];
        let minute = index % 7;
        content.push_str(&format!(
            r#"{{"ts":"2026-11-26T10:{minute:02}:{:02}Z","service":"svc{}","status":{status}}}"#,
            index % 60,
            index % 3
        ));
        content.push('\n');
    }
    let file = TempFile::new("rollup.log", content.as_bytes());
    assert_eq!(ingest_file(&store, &file, 4096).errors_stored, 300);
    let settings = database.settings();
    runtime().block_on(async {
        let raw: Vec<(String, String, u64)> =
            rows(&settings, "SELECT service, category, count() FROM api_errors GROUP BY service, category ORDER BY service, category").await;
        let rolled: Vec<(String, String, u64)> = rows(
            &settings,
            "SELECT service, category, sum(events) FROM api_errors_per_minute GROUP BY service, category ORDER BY service, category",
        )
        .await;
        assert_eq!(raw.len(), 15);
        assert_eq!(raw, rolled);
        let minutes: u64 = scalar(&settings, "SELECT uniqExact(minute) FROM api_errors_per_minute").await;
        assert_eq!(minutes, 7);
    });
}

#[test]
fn retention_drops_only_old_partitions() {
    let database = TestDatabase::new("retention");
    let store = runtime().block_on(database.migrated());
    let now = Timestamp::now().unix_millis() / 1000;
    let day = 86_400;
    let lines: Vec<String> = [40 * day, 31 * day, 2 * day, 0]
        .iter()
        .map(|age| {
            format!(r#"{{"ts":{},"status":500,"correlation_id":"43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}"#, now - age)
        })
        .collect();
    let file = TempFile::new("retention.log", lines.join("\n").as_bytes());
    assert_eq!(ingest_file(&store, &file, 4096).errors_stored, 4);
    let settings = database.settings();
    runtime().block_on(async {
        let dropped = store.drop_partitions_older_than(30).await.unwrap();
        assert_eq!(dropped.len(), 6, "two old days in three tables: {dropped:?}");
        for table in ["api_errors", "api_errors_by_correlation", "api_errors_per_minute"] {
            let left: u64 =
                scalar(&settings, &format!("SELECT count() FROM {table} WHERE event_date < today() - 30")).await;
            assert_eq!(left, 0, "{table}");
            let kept: u64 =
                scalar(&settings, &format!("SELECT count() FROM {table} WHERE event_date >= today() - 3")).await;
            assert_eq!(kept, 2, "{table}");
        }
        assert!(store.drop_partitions_older_than(30).await.unwrap().is_empty(), "a second run drops nothing");
    });
}

/// Error rows for positions `first..first + count` of one source.
fn error_rows(source: &str, first: u64, count: u64) -> Vec<(ErrorRow, Position)> {
    let record = r#"{"error":{"code":"TooManyRequests","target":"43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}"#;
    let Classification::ApiError(error) = classify(record.as_bytes(), &Limits::default()) else { unreachable!() };
    let now = Timestamp::now();
    (first..first + count)
        .map(|offset| {
            let position = Position { source: source.to_owned(), partition: 3, offset };
            (ErrorRow::new(&error, record, &position, now, now, 100), position)
        })
        .collect()
}

#[test]
fn the_sink_stores_exactly_once_through_broken_connections() {
    let database = TestDatabase::new("sink");
    let runtime = runtime();
    runtime.block_on(async {
        database.migrated().await;
        let settings =
            SinkSettings { initial_backoff: std::time::Duration::from_millis(20), ..SinkSettings::default() };
        let cuts = [crate::proxy::Cut::BeforeForwarding, crate::proxy::Cut::AfterServerAnswered];
        // The proxy is on this machine, where inserts go uncompressed unless asked: both ways.
        let compressions = [InsertCompression::Lz4, InsertCompression::None];
        for (cut, compression) in cuts.into_iter().flat_map(|cut| compressions.map(|compression| (cut, compression))) {
            let proxy = crate::proxy::Proxy::start(&crate::clickhouse::url(), cut, 3).await;
            let store = Store::new(Settings { compression, ..database.settings_at(&proxy.url()) }).unwrap();
            let mut sink = errwatch::store::Sink::new(store, settings);
            let source = format!("topic-{cut:?}-{compression:?}");
            for (row, position) in error_rows(&source, 100, 250) {
                sink.add_error(row, &position);
            }
            let stored = sink.flush().await.unwrap();
            assert_eq!(stored.get(&(source.clone(), 3)), Some(&349), "the sink reports the positions it stored");
            assert!(
                proxy.cut_connections() >= 3,
                "{cut:?}, {compression:?}: the proxy cut {} connections",
                proxy.cut_connections()
            );
            let count: u64 =
                scalar(&database.settings(), &format!("SELECT count() FROM api_errors WHERE source = '{source}'"))
                    .await;
            assert_eq!(count, 250, "{cut:?}, {compression:?}: rows stored exactly once");
            let distinct: u64 = scalar(
                &database.settings(),
                &format!("SELECT uniqExact(source_offset) FROM api_errors WHERE source = '{source}'"),
            )
            .await;
            assert_eq!(distinct, 250);
        }
    });
}

#[test]
fn a_rejected_insert_is_reported_not_retried() {
    let database = TestDatabase::new("rejected");
    runtime().block_on(async {
        // No migration: the table does not exist, which no retry can fix.
        let store = database.store();
        let mut sink = errwatch::store::Sink::new(store, SinkSettings::default());
        for (row, position) in error_rows("t", 1, 3) {
            sink.add_error(row, &position);
        }
        let started = std::time::Instant::now();
        let error = sink.flush().await.unwrap_err();
        assert!(!error.is_transient(), "{error}");
        assert!(error.to_string().contains("rejected"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "it did not wait for retries");
    });
}

/// The migrations and the retention query on current ClickHouse (chdb runs it in process).
#[test]
fn migrations_run_on_current_clickhouse() {
    let statements: Vec<String> =
        MIGRATIONS.iter().flat_map(|(_, _, sql)| errwatch::store::migration_statements(sql)).collect();
    let retention = errwatch::store::OLD_PARTITIONS_SQL.replacen('?', "'errwatch'", 1).replacen('?', "0", 1);
    let script = r#"
import json, sys
from chdb import session
work = json.load(sys.stdin)
s = session.Session()
s.query("CREATE DATABASE IF NOT EXISTS errwatch")
s.query("USE errwatch")
for statement in work["statements"]:
    s.query(statement)
for statement in work["statements"]:
    s.query(statement)
s.query("INSERT INTO api_errors (event_date, event_time, correlation_id, category, code, service, http_status, source, source_offset) "
        "VALUES (today() - 3, now() - 3 * 86400, 'c0ffee00-1234-4abc-8def-0123456789ab', 'throttling', 'TooManyRequests', 'svc', 429, 'file:1', 1)")
print(s.query("SELECT version()", "CSV").bytes().decode().strip())
print(s.query("SELECT count() FROM api_errors_by_correlation WHERE correlation_id = 'c0ffee00-1234-4abc-8def-0123456789ab'", "CSV").bytes().decode().strip())
print(s.query("SELECT sum(events) FROM api_errors_per_minute", "CSV").bytes().decode().strip())
print(s.query(work["retention"], "CSV").bytes().decode().strip().replace("\n", ";"))
"#;
    let input = serde_json::json!({"statements": statements, "retention": retention}).to_string();
    let stdout = crate::clickhouse::run_chdb(script, &input);
    let lines: Vec<&str> = stdout.lines().collect();
    let major: u32 = lines[0].trim_matches('"').split('.').next().unwrap().parse().unwrap();
    assert!(major >= 24, "chdb runs a current ClickHouse, not {}", lines[0]);
    assert_eq!(lines[1], "1", "the lookup view fills its table");
    assert_eq!(lines[2], "1", "the roll-up view fills its table");
    assert_eq!(lines[3].matches("api_errors").count(), 3, "the retention query finds the old partitions: {}", lines[3]);
}

#[test]
fn concurrent_inserts_keep_the_roll_up_exact() {
    let database = TestDatabase::new("concurrent");
    runtime().block_on(async {
        let store = database.migrated().await;
        let mut tasks = Vec::new();
        for writer in 0..2 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..20u64 {
                    let rows: Vec<ErrorRow> =
                        error_rows(&format!("w{writer}"), round * 30, 30).into_iter().map(|(row, _)| row).collect();
                    store.insert(&rows).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let raw: u64 = scalar(&database.settings(), "SELECT count() FROM api_errors").await;
        let rolled: u64 = scalar(&database.settings(), "SELECT sum(events) FROM api_errors_per_minute").await;
        assert_eq!((raw, rolled), (1200, 1200));
    });
}

#[test]
fn a_run_that_died_between_two_inserts_is_completed_not_repeated() {
    let database = TestDatabase::new("torn");
    let store = runtime().block_on(database.migrated());
    let lines: Vec<&[u8]> = vec![
        b"The remote server returned an error: (403) Forbidden.",
        b"bad \xff bytes",
        b"HTTP/1.1 429 Too Many Requests",
        b"more \xfe bad bytes",
        b"(500) at the end",
    ];
    let file = TempFile::new("torn.log", &lines.join(&b'\n'));
    let identity = errwatch::source::file::open(&file.input()).unwrap().identity;
    // The earlier run stored the errors of lines 1 and 3, then died before the quarantine insert.
    let now = Timestamp::now();
    let stored_before: Vec<ErrorRow> = [1u64, 3]
        .iter()
        .map(|&line| {
            let Classification::ApiError(error) = classify(lines[line as usize - 1], &Limits::default()) else {
                unreachable!()
            };
            let position = Position { source: identity.clone(), partition: 0, offset: line };
            let text = std::str::from_utf8(lines[line as usize - 1]).unwrap();
            ErrorRow::new(&error, text, &position, now, now, 100)
        })
        .collect();
    runtime().block_on(store.insert(&stored_before)).unwrap();

    let summary = ingest_file(&store, &file, 4096);
    assert_eq!((summary.skipped, summary.errors_stored, summary.quarantined), (2, 1, 2));
    runtime().block_on(async {
        let errors: Vec<u64> =
            rows(&database.settings(), "SELECT source_offset FROM api_errors ORDER BY source_offset").await;
        assert_eq!(errors, [1, 3, 5]);
        let quarantined: Vec<u64> =
            rows(&database.settings(), "SELECT source_offset FROM quarantine ORDER BY source_offset").await;
        assert_eq!(quarantined, [2, 4], "the lines the dead run had not stored are stored now");
    });
}

#[test]
fn rows_read_back_as_they_were_written() {
    let database = TestDatabase::new("roundtrip");
    let now = Timestamp::now();
    let mut written: Vec<ErrorRow> = corpus_lines()
        .iter()
        .enumerate()
        .filter_map(|(line, (record, _))| match classify(record.as_bytes(), &Limits::default()) {
            Classification::ApiError(error) => {
                let position = Position { source: "roundtrip".into(), partition: 2, offset: line as u64 };
                Some(ErrorRow::new(&error, record, &position, now, now, DEFAULT_RAW_CAP))
            }
            _ => None,
        })
        .collect();
    assert!(written.iter().any(|row| row.retry_after_seconds.is_some()));
    assert!(written.iter().any(|row| row.retry_after_seconds.is_none()));
    assert!(written.iter().any(|row| !row.inner_codes.is_empty()));
    // A row longer than the pieces an insert is sent in, so that one spans two of them.
    let (record, _) = corpus_lines().into_iter().next().unwrap();
    let Classification::ApiError(error) = classify(record.as_bytes(), &Limits::default()) else { unreachable!() };
    let position = Position { source: "roundtrip".into(), partition: 2, offset: 100_000 };
    let mut long = ErrorRow::new(&error, &record, &position, now, now, DEFAULT_RAW_CAP);
    long.raw = "é".repeat(1_500_000);
    written.push(long);

    let quarantined = QuarantineRow::new(
        Unreadable::NotUtf8 { offset: 4 },
        b"bad \xff\xfe bytes\n\0",
        14,
        &Position { source: "roundtrip".into(), partition: 2, offset: 7 },
        now,
        DEFAULT_RAW_CAP,
    );
    runtime().block_on(async {
        let store = database.migrated().await;
        store.insert(&written).await.unwrap();
        store.insert(std::slice::from_ref(&quarantined)).await.unwrap();
        let read: Vec<ErrorRow> =
            rows(&database.settings(), "SELECT ?fields FROM api_errors ORDER BY source_offset").await;
        assert_eq!(read.len(), written.len());
        for (read, written) in read.iter().zip(&written) {
            assert_eq!(read, written);
        }
        let (reason, raw, size): (String, String, u64) =
            scalar(&database.settings(), "SELECT reason, hex(raw), size FROM quarantine").await;
        assert_eq!((reason.as_str(), size), (quarantined.reason.as_str(), 14));
        let expected: String = quarantined.raw.iter().map(|byte| format!("{byte:02X}")).collect();
        assert_eq!(raw, expected, "the record's bytes as they were");
    });
}
