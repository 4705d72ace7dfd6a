//! `errwatch migrate`, `ingest` and `lookup` as a user runs them, against the test server.

use std::process::{Command, Output};

use crate::clickhouse::TestDatabase;

fn errwatch(database: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_errwatch"));
    command
        .env("ERRWATCH_CLICKHOUSE_URL", crate::clickhouse::url())
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .env_remove("ERRWATCH_LOG");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "stdout: {}\nstderr: {}", text(&output.stdout), text(&output.stderr));
}

#[test]
fn ingest_then_lookup_from_the_command_line() {
    let database = TestDatabase::new("cli");
    let guid = "5d41402a-bc4b-42a7-9f1e-2a3b4c5d6e7f";
    let log = std::env::temp_dir().join(format!("errwatch-cli-{}.log", std::process::id()));
    std::fs::write(
        &log,
        format!(
            "{{\"ts\":\"2026-11-26T10:00:03Z\",\"service\":\"sync\",\"status\":429,\"body\":{{\"error\":{{\"code\":\"429\",\"message\":\"quota\",\"target\":\"{guid}\"}}}}}}\nplain line\n"
        ),
    )
    .unwrap();

    let output = errwatch(&database).arg("ingest").arg(&log).output().unwrap();
    std::fs::remove_file(&log).unwrap();
    check_exit(&output, 0);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("ingest finished") && stderr.contains("errors_stored=1"), "{stderr}");

    let output = errwatch(&database).args(["lookup", &format!("{{{}}}", guid.to_uppercase())]).output().unwrap();
    check_exit(&output, 0);
    let table = text(&output.stdout);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(
        table.contains("2026-11-26T10:00:03.000Z  sync") && table.contains("TooManyRequests  throttling  quota"),
        "{table}"
    );

    let output = errwatch(&database).args(["lookup", guid, "--json"]).output().unwrap();
    check_exit(&output, 0);
    let events: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(events[0]["correlation_id"], guid);
    assert_eq!(events[0]["http_status"], 429);

    let output = errwatch(&database).args(["lookup", "99999999-9999-4999-8999-999999999999"]).output().unwrap();
    check_exit(&output, 1);
    assert!(text(&output.stderr).contains("no events for correlation id 99999999-9999-4999-8999-999999999999"));
}

#[test]
fn a_lookup_id_is_a_guid_or_a_clear_error() {
    let database = TestDatabase::new("cli_bad_id");
    for id in ["' OR 1=1 --", "not-a-guid", "43f4cb08-8fac-4b65-9db1-745c2ae65f3a' OR '1'='1"] {
        let output = errwatch(&database).args(["lookup", id]).output().unwrap();
        check_exit(&output, 2);
        let stderr = text(&output.stderr);
        assert!(stderr.contains("is not a correlation id: expected a GUID"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn an_unreachable_server_says_what_to_do() {
    let database = TestDatabase::new("cli_unreachable");
    let output =
        errwatch(&database).env("ERRWATCH_CLICKHOUSE_URL", "http://127.0.0.1:9").arg("migrate").output().unwrap();
    check_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot reach ClickHouse at http://127.0.0.1:9"), "{stderr}");
    assert!(stderr.contains("./scripts/clickhouse.sh") && stderr.contains("ERRWATCH_CLICKHOUSE_URL"), "{stderr}");
}

#[test]
fn migrate_creates_the_database_once() {
    let database = TestDatabase::new("cli_migrate");
    let first = errwatch(&database).arg("migrate").output().unwrap();
    check_exit(&first, 0);
    assert!(text(&first.stderr).contains("created the database"), "{}", text(&first.stderr));
    let second = errwatch(&database).arg("migrate").output().unwrap();
    check_exit(&second, 0);
    let stderr = text(&second.stderr);
    assert!(!stderr.contains("applied migration") && stderr.contains("schema is up to date"), "{stderr}");
}

#[test]
fn a_stream_of_huge_records_is_quarantined_in_bounded_memory() {
    use std::io::Write;
    let database = TestDatabase::new("huge_records");
    let mut child = errwatch(&database)
        .args(["ingest", "-", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    const RECORDS: usize = 40;
    const SIZE: usize = 5 * 1024 * 1024;
    let padding = "a".repeat(SIZE);
    for index in 0..RECORDS {
        let record = if index % 2 == 0 {
            format!(r#"{{"error":{{"code":"TooManyRequests","message":"{padding}"}}}}"#).into_bytes()
        } else {
            let mut bytes = b"\xff\xfe not text ".to_vec();
            bytes.extend_from_slice(padding.as_bytes());
            bytes
        };
        stdin.write_all(&record).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    stdin.flush().unwrap();
    // 200 MB went in through a 64 KiB pipe, so errwatch has read nearly all of it; with the
    // input still open, the process is alive to say how much memory it ever held.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap();
    assert!(peak_kib < 100 * 1024, "peak RSS {peak_kib} KiB while reading {} MB", RECORDS * SIZE / 1_000_000);
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    check_exit(&output, 0);
    let settings = database.settings();
    let quarantined: u64 =
        crate::clickhouse::runtime().block_on(crate::clickhouse::scalar(&settings, "SELECT count() FROM quarantine"));
    assert_eq!(quarantined, RECORDS as u64);
    let stored: u64 = crate::clickhouse::runtime()
        .block_on(crate::clickhouse::scalar(&settings, "SELECT max(length(raw)) FROM quarantine"));
    assert!(stored <= 16 * 1024, "the raw record is kept up to its cap: {stored} bytes");
}

/// A child process killed if the test ends before it exits.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tail -f app.log | errwatch ingest -`: the errors of a stream that pauses are stored within
/// the batch delay while its input stays open, and closing the input ends the run with totals.
#[test]
fn a_paused_stream_is_stored_while_its_input_stays_open() {
    use std::io::{Read, Write};
    use std::time::Duration;
    let database = TestDatabase::new("paused_stream");
    let runtime = crate::clickhouse::runtime();
    runtime.block_on(database.migrated());
    let settings = database.settings();
    let count = |table: &str| {
        runtime.block_on(crate::clickhouse::scalar::<u64>(&settings, &format!("SELECT count() FROM {table}")))
    };
    let mut child = Running(
        errwatch(&database)
            .args(["ingest", "-", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let throttled = r#"{"error":{"code":"TooManyRequests","message":"slow down"},"status":429}"#;
    let denied = r#"{"error":{"code":"Forbidden","message":"no access"},"status":403}"#;
    // An input is known by its first KiB, so a stream is stored once it has written that much.
    let starting: String =
        (0..40).map(|line| format!("2026-11-26T10:00:00Z INFO worker {line:02} is starting up\n")).collect();
    assert!(starting.len() > 1024);
    stdin.write_all(format!("{starting}{throttled}\nwaiting for more\n").as_bytes()).unwrap();
    stdin.flush().unwrap();

    crate::process::wait_until("the error to be stored with the input open", Duration::from_secs(30), || {
        count("api_errors") == 1
    });
    assert!(child.0.try_wait().unwrap().is_none(), "errwatch is still reading");

    stdin.write_all(format!("{denied}\n").as_bytes()).unwrap();
    stdin.write_all(b"\xff not text\n").unwrap();
    drop(stdin);
    let status = child.0.wait().unwrap();
    let mut stderr = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("records=44 already_stored=0 errors_stored=2 quarantined=1"),
        "the totals count every record: {stderr}"
    );
    assert_eq!((count("api_errors"), count("quarantine")), (2, 1));
}

/// A directory named as an input is refused before anything is asked of ClickHouse, and the
/// line says why once.
#[test]
fn a_directory_is_refused_before_the_database_is_made() {
    let database = TestDatabase::new("cli_directory");
    let directory = std::env::temp_dir().join(format!("errwatch-cli-directory-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let output = errwatch(&database).arg("ingest").arg(&directory).output().unwrap();
    std::fs::remove_dir(&directory).unwrap();
    check_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!("errwatch: cannot open {}: a directory, not a file; name the files in it", directory.display())
    );
    let system = errwatch::store::Settings { database: "system".to_owned(), ..database.settings() };
    let exists = format!("SELECT count() FROM system.databases WHERE name = '{}'", database.name);
    let runtime = crate::clickhouse::runtime();
    assert_eq!(runtime.block_on(crate::clickhouse::scalar::<u64>(&system, &exists)), 0, "no database was made");
}

/// A gzip cut short (a copy that stopped half-way) stores every line before the cut, says
/// where and why it broke, fails, and does not keep the next input from being stored; the
/// whole file, ingested later, stores only the rest.
#[test]
fn a_cut_gzip_stores_what_precedes_the_cut_and_the_whole_file_the_rest() {
    use std::io::{Read, Write};
    let database = TestDatabase::new("cut_gzip");
    let directory = std::env::temp_dir().join(format!("errwatch-cli-cut-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let limits = errwatch::extract::Limits::default();
    let errors_in = |content: &[u8]| {
        content
            .split(|&byte| byte == b'\n')
            .filter(|line| {
                matches!(errwatch::classify::classify(line, &limits), errwatch::classify::Classification::ApiError(_))
            })
            .count() as u64
    };

    // Lines that differ from each other, so that the compressed file is long enough to cut
    // well past its first KiB.
    let mut content = String::new();
    let mut seed: u64 = 7;
    for line in 0..30_000u64 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        match line % 7 {
            3 => content.push_str(&format!(
                r#"{{"error":{{"code":"TooManyRequests","message":"slow down {seed:x}"}},"status":429}}"#
            )),
            5 => content
                .push_str(&format!(r#"{{"error":{{"code":"Forbidden","message":"no access {line}"}},"status":403}}"#)),
            _ => content.push_str(&format!("2026-11-26T10:00:00Z INFO worker {line} did {seed:016x}")),
        }
        content.push('\n');
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(content.as_bytes()).unwrap();
    let whole = encoder.finish().unwrap();
    let cut = whole.get(..whole.len() * 6 / 10).unwrap();
    let cut_path = directory.join("client.log.gz");
    std::fs::write(&cut_path, cut).unwrap();
    let next_path = directory.join("next.log");
    let next = "starting\n{\"error\":{\"code\":\"Unauthorized\",\"message\":\"expired\"},\"status\":401}\n";
    std::fs::write(&next_path, next).unwrap();

    // What a reader gets from the cut file: everything up to the cut, then an error.
    let mut readable = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(cut);
    let mut buffer = vec![0; 64 * 1024];
    let reason = loop {
        match decoder.read(&mut buffer) {
            Ok(0) => panic!("the cut file reads to its end"),
            Ok(read) => readable.extend_from_slice(buffer.get(..read).unwrap()),
            Err(error) => break error.to_string(),
        }
    };
    let whole_lines = readable.iter().rposition(|&byte| byte == b'\n').unwrap();
    let before_cut = errors_in(readable.get(..whole_lines).unwrap());
    let complete_lines = readable.iter().filter(|&&byte| byte == b'\n').count();
    assert!(before_cut > 1000 && complete_lines < 30_000, "{before_cut} errors in {complete_lines} lines");

    let settings = database.settings();
    let runtime = crate::clickhouse::runtime();
    let count = |sql: &str| runtime.block_on(crate::clickhouse::scalar::<u64>(&settings, sql));

    let output = errwatch(&database).arg("ingest").arg(&cut_path).arg(&next_path).output().unwrap();
    check_exit(&output, 2);
    let stderr = text(&output.stderr);
    let naming: Vec<&str> = stderr.lines().filter(|line| line.contains(&*cut_path.to_string_lossy())).collect();
    assert_eq!(
        naming,
        [format!(
            "errwatch: cannot read {} past line {complete_lines} (byte {} of the input): \
             {reason}; everything read was stored",
            cut_path.display(),
            cut.len(),
        )],
        "{stderr}"
    );
    assert_eq!(count("SELECT count() FROM api_errors"), before_cut + 1, "{stderr}");

    std::fs::write(&cut_path, &whole).unwrap();
    let output = errwatch(&database).arg("ingest").arg(&cut_path).output().unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
    check_exit(&output, 0);
    assert_eq!(count("SELECT count() FROM api_errors"), errors_in(content.as_bytes()) + 1);
    assert_eq!(
        count("SELECT uniqExact(source, source_offset) FROM api_errors"),
        count("SELECT count() FROM api_errors"),
        "nothing stored twice"
    );
    assert_eq!(count("SELECT count() FROM quarantine"), 0);
}
