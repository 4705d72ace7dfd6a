//! Throughput of `errwatch::classify` on generated client-log records.
//!
//! The records come from a small deterministic generator (xorshift64 with a fixed seed), so
//! every run measures the same bytes. About 15% of the mix are failed API calls in the shapes
//! clients actually write (raw envelopes, envelopes escaped inside JSON or logfmt, text with
//! JSON appended, PowerShell and Python messages, Graph and AAD bodies); the rest are ordinary
//! lines, about 10% of all lines being successful calls that carry a status.
//!
//! Groups, each in records per second (`Throughput::Elements`):
//! - `mix`: the realistic mix;
//! - `errors`: failed calls only;
//! - `shape`: one shape of record at a time (each error shape and each kind of ordinary line),
//!   to see which records cost the most; shorter runs, classifier only.
//!
//! `mix` and `errors` also measure `serde_json_value`, a parse of every record into a
//! `serde_json::Value` (failures ignored), as the baseline: the ratio between the two lines of
//! a group is the classifier's speed relative to merely parsing the JSON.
//!
//! Writing the mix to a file instead of benchmarking, for comparing commands on it:
//!
//! ```text
//! ERRWATCH_BENCH_WRITE_MIX=/tmp/mix.log ERRWATCH_BENCH_MIX_LINES=1000000 cargo bench --bench classify
//! ```
//!
//! writes the first `ERRWATCH_BENCH_MIX_LINES` records of the mix (default 1,000,000), one
//! per line, and exits without running any benchmark.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::print_stdout)]

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::time::Duration;

use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use errwatch::{classify, Classification, Limits};

/// Records per iteration of the `mix` group.
const MIX_RECORDS: usize = 4000;
/// Records per iteration of the `errors` group.
const ERROR_RECORDS: usize = 2000;
/// Records per iteration of each `shape` benchmark.
const SHAPE_RECORDS: usize = 300;
/// Fixed seed: the same records on every run and every machine.
const SEED: u64 = 0x2026_1126_e77a_7c4e;

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

/// xorshift64: tiny, fast and good enough to vary test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`); the small modulo bias does not matter here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut text = String::with_capacity(digits);
        while text.len() < digits {
            let word = self.next();
            for shift in (0..16).rev() {
                if text.len() == digits {
                    break;
                }
                let nibble = ((word >> (shift * 4)) & 0xf) as u32;
                text.push(char::from_digit(nibble, 16).unwrap());
            }
        }
        text
    }

    fn guid(&mut self) -> String {
        let hex = self.hex(32);
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }

    /// A Defender machine id: 40 hex digits.
    fn machine_id(&mut self) -> String {
        self.hex(40)
    }
}

/// The shapes of the generated records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    MdeRaw,
    JsonLogEscaped,
    EcsEscaped,
    TextWithJson,
    LogfmtEscaped,
    PowerShell,
    PythonHttpError,
    PythonRepr,
    Graph,
    Aad,
    PlainText,
    JsonInfo,
    SuccessCall,
}

impl Shape {
    const ALL: [Shape; 13] = [
        Shape::MdeRaw,
        Shape::JsonLogEscaped,
        Shape::EcsEscaped,
        Shape::TextWithJson,
        Shape::LogfmtEscaped,
        Shape::PowerShell,
        Shape::PythonHttpError,
        Shape::PythonRepr,
        Shape::Graph,
        Shape::Aad,
        Shape::PlainText,
        Shape::JsonInfo,
        Shape::SuccessCall,
    ];

    /// The error shapes: the first ten of `ALL`.
    const ERRORS: &'static [Shape] = Self::ALL.split_at(10).0;

    fn name(self) -> &'static str {
        match self {
            Shape::MdeRaw => "mde_raw",
            Shape::JsonLogEscaped => "json_log_escaped",
            Shape::EcsEscaped => "ecs_escaped",
            Shape::TextWithJson => "text_with_json",
            Shape::LogfmtEscaped => "logfmt_escaped",
            Shape::PowerShell => "powershell",
            Shape::PythonHttpError => "python_http_error",
            Shape::PythonRepr => "python_repr",
            Shape::Graph => "graph",
            Shape::Aad => "aad",
            Shape::PlainText => "plain_text",
            Shape::JsonInfo => "json_info",
            Shape::SuccessCall => "success_call",
        }
    }

    fn is_error(self) -> bool {
        Shape::ERRORS.contains(&self)
    }
}

/// A Defender error: code, status, reason phrase and a message the API could have sent.
struct MdeError {
    code: &'static str,
    status: u16,
    reason: &'static str,
    message: &'static str,
}

const MDE_ERRORS: [MdeError; 9] = [
    MdeError {
        code: "TooManyRequests",
        status: 429,
        reason: "Too Many Requests",
        message: "Rate limit is exceeded. Try again in 12 seconds.",
    },
    MdeError {
        code: "BadRequest",
        status: 400,
        reason: "Bad Request",
        message: "Invalid value for parameter Comment: the value must not be empty.",
    },
    MdeError {
        code: "InvalidRequestBody",
        status: 400,
        reason: "Bad Request",
        message: "Request body is incorrect: field IsolationType has an unknown value.",
    },
    MdeError {
        code: "ActiveRequestAlreadyExists",
        status: 400,
        reason: "Bad Request",
        message: "Action is already in progress for this machine.",
    },
    MdeError {
        code: "Unauthorized",
        status: 401,
        reason: "Unauthorized",
        message: "Authorization header is missing or the token has expired.",
    },
    MdeError {
        code: "Forbidden",
        status: 403,
        reason: "Forbidden",
        message: "The application does not have the Machine.Isolate permission.",
    },
    MdeError { code: "NotFound", status: 404, reason: "Not Found", message: "Machine was not found in the tenant." },
    MdeError {
        code: "InternalServerError",
        status: 500,
        reason: "Internal Server Error",
        message: "An unexpected error occurred while processing the request.",
    },
    MdeError {
        code: "ServiceUnavailable",
        status: 503,
        reason: "Service Unavailable",
        message: "The service is temporarily unavailable. Please retry later.",
    },
];

const MACHINE_ACTIONS: [(&str, &str); 6] = [
    ("POST", "isolate"),
    ("POST", "unisolate"),
    ("POST", "runAntiVirusScan"),
    ("POST", "collectInvestigationPackage"),
    ("GET", "logonusers"),
    ("GET", "vulnerabilities"),
];

const SERVICES: [&str; 4] = ["mde-sync", "alert-forwarder", "isolation-bot", "inventory"];

const API: &str = "https://api.security.microsoft.com";

/// Builds records; the clock advances a little with every record.
struct Generator {
    rng: Rng,
    /// Milliseconds since 2026-11-26T10:00:00Z.
    clock_ms: u64,
}

impl Generator {
    fn new() -> Self {
        Generator { rng: Rng::new(SEED), clock_ms: 0 }
    }

    fn tick(&mut self) {
        self.clock_ms += 1 + self.rng.below(250);
    }

    /// Hour, minute, second and millisecond of the current time (wraps after a day).
    fn hms(&self) -> (u64, u64, u64, u64) {
        let ms = self.clock_ms % 86_400_000;
        (10 + ms / 3_600_000 % 14, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    }

    /// `2026-11-26T10:00:01Z`
    fn rfc3339(&self) -> String {
        let (h, m, s, _) = self.hms();
        format!("2026-11-26T{h:02}:{m:02}:{s:02}Z")
    }

    /// `2026-11-26T10:00:01.123Z`
    fn rfc3339_ms(&self) -> String {
        let (h, m, s, ms) = self.hms();
        format!("2026-11-26T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }

    /// `2026-11-26 10:00:01`
    fn plain_time(&self) -> String {
        let (h, m, s, _) = self.hms();
        format!("2026-11-26 {h:02}:{m:02}:{s:02}")
    }

    fn machine_url(&mut self) -> (&'static str, String) {
        let (method, action) = *self.rng.pick(&MACHINE_ACTIONS);
        let id = self.rng.machine_id();
        (method, format!("{API}/api/machines/{id}/{action}"))
    }

    fn mde_envelope(&mut self, error: &MdeError) -> String {
        let target = self.rng.guid();
        format!(r#"{{"error":{{"code":"{}","message":"{}","target":"{target}"}}}}"#, error.code, error.message)
    }

    /// The next record of the realistic mix.
    fn mix_record(&mut self) -> (Shape, String) {
        let roll = self.rng.below(100);
        let shape = if roll < 15 {
            *self.rng.pick(Shape::ERRORS)
        } else if roll < 25 {
            Shape::SuccessCall
        } else if roll < 80 {
            Shape::PlainText
        } else {
            Shape::JsonInfo
        };
        (shape, self.record(shape))
    }

    /// The next error record, of any error shape.
    fn error_record(&mut self) -> (Shape, String) {
        let shape = *self.rng.pick(Shape::ERRORS);
        (shape, self.record(shape))
    }

    fn record(&mut self, shape: Shape) -> String {
        self.tick();
        let record = match shape {
            Shape::MdeRaw => {
                let error = self.rng.pick(&MDE_ERRORS);
                self.mde_envelope(error)
            }
            Shape::JsonLogEscaped => self.json_log_escaped(),
            Shape::EcsEscaped => self.ecs_escaped(),
            Shape::TextWithJson => self.text_with_json(),
            Shape::LogfmtEscaped => self.logfmt_escaped(),
            Shape::PowerShell => self.powershell(),
            Shape::PythonHttpError => self.python_http_error(),
            Shape::PythonRepr => self.python_repr(),
            Shape::Graph => self.graph(),
            Shape::Aad => self.aad(),
            Shape::PlainText => self.plain_text(),
            Shape::JsonInfo => self.json_info(),
            Shape::SuccessCall => self.success_call(),
        };
        debug_assert!(!record.contains('\n'), "a record is one line");
        record
    }

    fn json_log_escaped(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let (method, url) = self.machine_url();
        let body = serde_json::to_string(&self.mde_envelope(error)).unwrap();
        format!(
            r#"{{"ts":"{}","level":"error","msg":"MDE call failed","method":"{method}","url":"{url}","status":{},"body":{body}}}"#,
            self.rfc3339(),
            error.status
        )
    }

    fn ecs_escaped(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let (method, url) = self.machine_url();
        let service = self.rng.pick(&SERVICES);
        let body = serde_json::to_string(&self.mde_envelope(error)).unwrap();
        format!(
            concat!(
                r#"{{"@timestamp":"{}","log.level":"error","message":"Defender API request failed","#,
                r#""service.name":"{}","http.request.method":"{}","url.full":"{}","#,
                r#""http.response.status_code":{},"http.response.body.content":{}}}"#
            ),
            self.rfc3339_ms(),
            service,
            method,
            url,
            error.status,
            body
        )
    }

    fn text_with_json(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let (method, url) = self.machine_url();
        let envelope = self.mde_envelope(error);
        format!("{} ERROR mde_client {method} {url} -> {} {} {envelope}", self.rfc3339_ms(), error.status, error.reason)
    }

    fn logfmt_escaped(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let (method, url) = self.machine_url();
        let body = serde_json::to_string(&self.mde_envelope(error)).unwrap();
        let retry_after =
            if error.status == 429 { format!(" retry_after={}", 1 + self.rng.below(60)) } else { String::new() };
        format!(
            r#"ts={} level=error msg="MDE call failed" method={method} url={url} status={}{retry_after} body={body}"#,
            self.rfc3339(),
            error.status
        )
    }

    fn powershell(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let cmdlet = self.rng.pick(&["Invoke-RestMethod", "Invoke-WebRequest"]);
        format!(
            "{} ERROR {cmdlet} : The remote server returned an error: ({}) {}.",
            self.plain_time(),
            error.status,
            error.reason
        )
    }

    fn python_http_error(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let (_, url) = self.machine_url();
        let kind = if error.status >= 500 { "Server Error" } else { "Client Error" };
        let (_, _, _, ms) = self.hms();
        format!(
            "{},{ms:03} ERROR mde_sync.client: requests.exceptions.HTTPError: {} {kind}: {} for url: {url}",
            self.plain_time(),
            error.status,
            error.reason
        )
    }

    fn python_repr(&mut self) -> String {
        let error = self.rng.pick(&MDE_ERRORS);
        let target = self.rng.guid();
        format!(
            "{} ERROR MDE error: {{'error': {{'code': '{}', 'message': '{}', 'target': '{target}'}}}}",
            self.plain_time(),
            error.code,
            error.message
        )
    }

    fn graph(&mut self) -> String {
        const GRAPH_ERRORS: [(&str, &str); 5] = [
            (
                "TooManyRequests",
                "Too many requests have been sent. Retry after the interval given in the Retry-After header.",
            ),
            ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
            ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
            (
                "Request_ResourceNotFound",
                "Resource does not exist or one of its queried reference-property objects are not present.",
            ),
            ("serviceNotAvailable", "The service is temporarily unavailable."),
        ];
        let (code, message) = *self.rng.pick(&GRAPH_ERRORS);
        let request_id = self.rng.guid();
        let client_request_id = self.rng.guid();
        let date = self.rfc3339();
        if code == "TooManyRequests" {
            format!(
                r#"{{"error":{{"code":"{code}","innerError":{{"code":"429","date":"{date}","request-id":"{request_id}","status":"429"}},"message":"{message}"}}}}"#
            )
        } else {
            format!(
                r#"{{"error":{{"code":"{code}","message":"{message}","innerError":{{"date":"{date}","request-id":"{request_id}","client-request-id":"{client_request_id}"}}}}}}"#
            )
        }
    }

    fn aad(&mut self) -> String {
        const AAD_ERRORS: [(&str, u32, &str); 4] = [
            ("invalid_client", 7_000_215, "Invalid client secret provided. Send the secret value, not the secret id."),
            ("invalid_client", 7_000_222, "The provided client secret keys for the application are expired."),
            ("unauthorized_client", 700_016, "Application was not found in the directory of the tenant."),
            ("invalid_grant", 700_082, "The refresh token has expired due to inactivity."),
        ];
        let (error, number, text) = *self.rng.pick(&AAD_ERRORS);
        let trace_id = self.rng.guid();
        let correlation_id = self.rng.guid();
        let stamp = self.plain_time();
        format!(
            concat!(
                r#"{{"error":"{}","error_description":"AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}Z","#,
                r#""error_codes":[{}],"timestamp":"{}Z","trace_id":"{}","correlation_id":"{}","#,
                r#""error_uri":"https://login.microsoftonline.com/error?code={}"}}"#
            ),
            error, number, text, trace_id, correlation_id, stamp, number, stamp, trace_id, correlation_id, number
        )
    }

    fn plain_text(&mut self) -> String {
        let time = self.plain_time();
        match self.rng.below(8) {
            0 => format!("{time} INFO fetched {} alerts in {} ms", self.rng.below(100), 20 + self.rng.below(900)),
            1 => format!("{time} DEBUG token cache hit for tenant {}", self.rng.guid()),
            2 => format!("{time} INFO machine {} isolation state polled: Pending", self.rng.machine_id()),
            3 => format!("{time} DEBUG next page link received, {} items so far", self.rng.below(5000)),
            4 => format!("{time} INFO wrote {} rows to the alert store", self.rng.below(500)),
            5 => format!("{time} DEBUG scheduling next poll in {} s", 5 + self.rng.below(55)),
            6 => format!(
                "{time} INFO sync cycle {} finished: {} alerts, {} machines",
                self.rng.below(10_000),
                self.rng.below(300),
                self.rng.below(2000)
            ),
            _ => format!("{time} DEBUG acquired lease {} for {} s", self.rng.guid(), 30 + self.rng.below(30)),
        }
    }

    fn json_info(&mut self) -> String {
        let ts = self.rfc3339();
        match self.rng.below(3) {
            0 => format!(r#"{{"ts":"{ts}","level":"info","msg":"sync finished","items":{}}}"#, self.rng.below(200)),
            1 => format!(
                r#"{{"ts":"{ts}","level":"debug","msg":"page fetched","page":{},"count":100,"elapsed_ms":{}}}"#,
                self.rng.below(50),
                10 + self.rng.below(400)
            ),
            _ => format!(
                r#"{{"ts":"{ts}","level":"info","msg":"alert forwarded","alert_id":"da{}","service":"{}"}}"#,
                self.rng.hex(16),
                self.rng.pick(&SERVICES)
            ),
        }
    }

    fn success_call(&mut self) -> String {
        const CALLS: [(&str, &str, u16); 5] = [
            ("GET", "/api/machines", 200),
            ("GET", "/api/alerts", 200),
            ("POST", "/api/machines/isolate", 201),
            ("GET", "/api/machineactions", 200),
            ("PATCH", "/api/alerts/update", 204),
        ];
        let (method, path, status) = *self.rng.pick(&CALLS);
        let ts = self.rfc3339();
        if self.rng.below(4) == 0 {
            format!(
                r#"{{"ts":"{ts}","level":"info","msg":"{method} {path}","status":{status},"elapsed_ms":{}}}"#,
                30 + self.rng.below(600)
            )
        } else {
            format!(r#"{{"ts":"{ts}","level":"info","msg":"{method} {path}","status":{status}}}"#)
        }
    }
}

fn mix_records(n: usize) -> Vec<(Shape, String)> {
    let mut generator = Generator::new();
    (0..n).map(|_| generator.mix_record()).collect()
}

fn error_records(n: usize) -> Vec<(Shape, String)> {
    let mut generator = Generator::new();
    (0..n).map(|_| generator.error_record()).collect()
}

fn shape_records(shape: Shape, n: usize) -> Vec<String> {
    let mut generator = Generator::new();
    (0..n).map(|_| generator.record(shape)).collect()
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

fn classify_all(records: &[String], limits: &Limits) -> usize {
    records
        .iter()
        .filter(|record| matches!(classify(black_box(record.as_bytes()), limits), Classification::ApiError(_)))
        .count()
}

fn parse_all(records: &[String]) -> usize {
    records
        .iter()
        .filter(|record| serde_json::from_slice::<serde_json::Value>(black_box(record.as_bytes())).is_ok())
        .count()
}

fn classifier_and_baseline(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, records: &[String]) {
    let limits = Limits::default();
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("errwatch_classify", |b| b.iter(|| classify_all(records, &limits)));
    group.bench_function("serde_json_value", |b| b.iter(|| parse_all(records)));
}

fn bench_mix(c: &mut Criterion) {
    let records: Vec<String> = mix_records(MIX_RECORDS).into_iter().map(|(_, record)| record).collect();
    let mut group = c.benchmark_group("mix");
    classifier_and_baseline(&mut group, &records);
    group.finish();
}

fn bench_errors(c: &mut Criterion) {
    let records: Vec<String> = error_records(ERROR_RECORDS).into_iter().map(|(_, record)| record).collect();
    let mut group = c.benchmark_group("errors");
    classifier_and_baseline(&mut group, &records);
    group.finish();
}

fn bench_shapes(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("shape");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sample_size(20);
    for shape in Shape::ALL {
        let records = shape_records(shape, SHAPE_RECORDS);
        group.throughput(Throughput::Elements(records.len() as u64));
        group.bench_function(shape.name(), |b| b.iter(|| classify_all(&records, &limits)));
    }
    group.finish();
}

criterion_group!(benches, bench_mix, bench_errors, bench_shapes);

// ---------------------------------------------------------------------------------------------
// Writing the mix to a file
// ---------------------------------------------------------------------------------------------

const DEFAULT_MIX_LINES: usize = 1_000_000;

fn write_mix(path: &std::ffi::OsStr) -> std::io::Result<()> {
    let lines = match std::env::var("ERRWATCH_BENCH_MIX_LINES") {
        Ok(text) => text.trim().replace(['_', ','], "").parse::<usize>().map_err(|error| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("ERRWATCH_BENCH_MIX_LINES={text}: {error}"))
        })?,
        Err(_) => DEFAULT_MIX_LINES,
    };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut generator = Generator::new();
    let mut counts = [0usize; 3];
    for _ in 0..lines {
        let (shape, record) = generator.mix_record();
        let slot = if shape.is_error() {
            0
        } else if shape == Shape::SuccessCall {
            1
        } else {
            2
        };
        counts[slot] += 1;
        out.write_all(record.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "wrote {lines} records to {}: {} errors, {} successful calls with a status, {} other lines",
        std::path::Path::new(path).display(),
        counts[0],
        counts[1],
        counts[2]
    );
    Ok(())
}

fn main() {
    if let Some(path) = std::env::var_os("ERRWATCH_BENCH_WRITE_MIX") {
        if let Err(error) = write_mix(&path) {
            eprintln!("cannot write the mix: {error}");
            std::process::exit(1);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
