//! The dashboards and rules against a real Prometheus server: it scrapes a running `errwatch run`
//! fed with live traffic and evaluates the rule file, and every PromQL expression of the
//! overview dashboard and of the rules is sent to its HTTP API. Metric names, label names and
//! values, and the labels that joins match on must be the ones errwatch really exports, which
//! promtool's own cases (written by hand, with made-up series) cannot tell.
//!
//! What "answers" means for each kind of expression:
//!
//! - A dashboard expression or a recording rule computes what it plots or records, so it must
//!   answer at least one series, and no NaN (0/0, a histogram without observations: a panel
//!   draws nothing there).
//! - An alert answers nothing while all is well, as it is here. Each alert must evaluate
//!   without error, and its relaxed form must answer series: the expression with every
//!   threshold (`X > 0.1`, `X == 0`) replaced by its operand and every `unless` suppression
//!   left out. What is left are the names, labels, functions and `on (...)` joins, so series
//!   there mean the alert fires for some values of what errwatch exports. Each `unless` is
//!   checked on its own as `A and on (...) B`: the suppression matches the series it is meant
//!   to silence.
//! - For both, every selector in the expression must answer series, which names the culprit
//!   when a whole expression answers nothing.
//!
//! Prometheus must also report every rule of the file loaded and evaluated without error.

use std::fmt::{self, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use errwatch::timestamp::Timestamp;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::clickhouse::{runtime, TestDatabase};
use crate::kafka::Cluster;
use crate::process::{http_request, sample, wait_until, Answer, Errwatch};

const TOPIC: &str = "mde-client-logs";
const PARTITIONS: i32 = 2;

/// The services the traffic comes from; the dashboard is also checked with the first one
/// selected as its service.
const SERVICES: &[&str] = &["alpha", "beta"];

/// The scrape job's name. Not the shipped configuration's `errwatch`: the rules and the
/// dashboard must work under whatever name an existing Prometheus gives the job.
const JOB: &str = "defender-client-errors";

/// Grafana's interval variables as it would interpolate them: `$__rate_interval` is at least
/// four scrape intervals, and a minute holds dozens of samples at the 1 s scrape interval here.
const INTERVALS: &[(&str, &str)] = &[("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1m")];

/// The dashboard's variables as Grafana interpolates them, the first time all at All (their
/// allValue), the second time each with one value selected: this job, the errwatch of the test
/// (its scrape address, given at run time) and the first service. A variable put in the wrong
/// matcher answers nothing at the second.
fn selections(instance: &str) -> [[(&'static str, String); 3]; 2] {
    let all = || ".*".to_owned();
    [
        [("$job", all()), ("$instance", all()), ("$service", all())],
        [("$job", JOB.to_owned()), ("$instance", instance.to_owned()), ("$service", SERVICES[0].to_owned())],
    ]
}

/// Waits for processes to start and for data to arrive; the whole test normally takes about 10 s.
const DEADLINE: Duration = Duration::from_secs(30);

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_dashboard_and_rule_expression_answers_on_a_real_prometheus() {
    let binary = prometheus_binary();
    let cluster = Cluster::start(TOPIC, PARTITIONS);
    let database = TestDatabase::new("prometheus");
    // ClickHouse behind a switch, for the short outage that makes the insert failure series exist.
    let proxy_runtime = runtime();
    let switch = proxy_runtime.block_on(crate::proxy::Switch::start(&crate::clickhouse::url()));
    let errwatch = Errwatch::start_with_url(&cluster, &database, &switch.url(), TOPIC, "prometheus", &[]);
    // Fresh records until the end of the test.
    let _traffic = Traffic::start(cluster.producer());
    let prometheus = Prometheus::start(&binary, &errwatch.http_address());

    // Every table is written to, then ClickHouse goes away until an insert has failed.
    let metrics = || errwatch.get("/metrics").body;
    wait_until("errwatch to insert into both tables", DEADLINE, || {
        let metrics = metrics();
        ["api_errors", "quarantine"].iter().all(|table| {
            sample(&metrics, &format!("errwatch_sink_inserts_total{{table=\"{table}\"}}")).is_some_and(|n| n > 0.0)
        })
    });
    switch.set_down(true);
    wait_until("an insert to fail while ClickHouse is away", DEADLINE, || {
        metrics().contains("errwatch_sink_insert_failures_total{")
    });
    switch.set_down(false);
    wait_until("errwatch to reach ClickHouse again", DEADLINE, || {
        sample(&metrics(), "errwatch_clickhouse_up") == Some(1.0)
    });

    prometheus.wait_for_series("the errwatch target to be up", &format!("up{{job={JOB:?}}} == 1"));
    // rate() needs two samples in its window.
    prometheus.wait_for_series("two scrapes of errwatch", &format!("count_over_time(up{{job={JOB:?}}}[1m]) >= 2"));

    // The rules' expressions as Prometheus read them from the file, which spares this test a
    // YAML reader; their names are compared with the file's below.
    let rules = prometheus.rules();
    let mut checks = Checks::default();
    let dashboard = overview();
    for (name, expr) in dashboard_expressions(&dashboard, &errwatch.http_address()) {
        checks.expression(&name, &expr, Want::Series);
    }
    for rule in &rules {
        match rule.kind.as_str() {
            "recording" => {
                checks.expression(&format!("recording rule {}", rule.name), &rule.query, Want::Series);
                checks.add(&format!("the series recorded by {}", rule.name), &rule.name, Want::Series);
            }
            _ => checks.expression(&format!("alert {}", rule.name), &rule.query, Want::Evaluates),
        }
    }
    checks.wait_for_answers(&prometheus);

    // Prometheus loaded the repository's rule file, every rule of it, and evaluates them all.
    let names: Vec<&str> = rules.iter().map(|rule| rule.name.as_str()).collect();
    assert_eq!(names, rule_names_in_file(), "the rules Prometheus loaded");
    let unhealthy: Vec<String> = prometheus
        .rules()
        .iter()
        .filter(|rule| rule.health != "ok")
        .map(|rule| format!("{}: {} {}", rule.name, rule.health, rule.error))
        .collect();
    assert!(unhealthy.is_empty(), "rules Prometheus could not evaluate:\n{}", unhealthy.join("\n"));

    // Each variable of the dashboard lists what the test selects, at All and narrowed by the
    // variables before it.
    for selection in selections(&errwatch.http_address()) {
        for (label, series) in variable_queries(&dashboard, &selection) {
            let expected = match label.as_str() {
                "job" => JOB,
                "instance" => &errwatch.http_address(),
                "service" => SERVICES[0],
                other => panic!("a variable this test does not know: {other}"),
            };
            let answer = prometheus.get(&format!("/api/v1/label/{label}/values?{}", query_string("match[]", &series)));
            let values = answer.json()["data"].clone();
            let listed = values.as_array().is_some_and(|values| values.iter().any(|value| value == expected));
            assert!(listed, "variable {label}: label_values({series}, {label}) answered {values}, without {expected}");
        }
    }
}

fn overview() -> Value {
    let path = project().join("dashboards/grafana/overview.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The `label_values(series, label)` queries of the dashboard's Prometheus variables, as
/// (label, series) with the selection interpolated.
fn variable_queries(dashboard: &Value, selection: &[(&str, String)]) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if variable["type"] != "query" {
            continue;
        }
        let definition = variable["definition"].as_str().unwrap();
        let inside = definition.strip_prefix("label_values(").and_then(|rest| rest.strip_suffix(')'));
        let (series, label) = inside.and_then(|inside| inside.rsplit_once(',')).unwrap_or_else(|| {
            panic!("variable {}: {definition} is not label_values(series, label)", variable["name"])
        });
        assert_eq!(variable["name"], label.trim(), "a variable lists the values of its own label");
        queries.push((label.trim().to_owned(), interpolate(series, selection)));
    }
    assert!(queries.len() >= 3, "{queries:?}");
    queries
}

/// Every `expr` of every panel of the overview dashboard, once for each selection of its
/// variables, with Grafana's variables replaced.
fn dashboard_expressions(dashboard: &Value, instance: &str) -> Vec<(String, String)> {
    let selections = selections(instance);
    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        panels.push(panel);
        panels.extend(panel["panels"].as_array().into_iter().flatten());
    }
    let mut expressions = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = target["expr"].as_str() else { continue };
            for selection in &selections {
                let chosen: Vec<String> =
                    selection.iter().map(|(variable, value)| format!("{variable}={value}")).collect();
                let name = format!("panel {} ({}, {})", panel["title"], target["refId"], chosen.join(" "));
                expressions.push((name, interpolate(expr, selection)));
            }
        }
    }
    // The dashboards test counts 20 plotted expressions at least; none may slip past this one.
    assert!(expressions.len() >= 20 * selections.len(), "{expressions:?}");
    expressions
}

fn interpolate(expr: &str, selection: &[(&str, String)]) -> String {
    let mut expr = expr.to_owned();
    let intervals = INTERVALS.iter().map(|&(variable, value)| (variable, value.to_owned()));
    // Longest name first, so that no variable's name is replaced inside a longer one's.
    let mut variables: Vec<(&str, String)> = intervals.chain(selection.iter().cloned()).collect();
    variables.sort_by_key(|(variable, _)| std::cmp::Reverse(variable.len()));
    for (variable, value) in variables {
        let braced = format!("${{{}}}", &variable[1..]);
        expr = expr.replace(&braced, &value).replace(variable, &value);
    }
    assert!(!expr.contains('$'), "a Grafana variable this test does not replace: {expr}");
    expr
}

/// The names of the rules in dashboards/prometheus/alerts.yml, in order.
fn rule_names_in_file() -> Vec<String> {
    let rules = std::fs::read_to_string(project().join("dashboards/prometheus/alerts.yml")).unwrap();
    rules
        .lines()
        .filter_map(|line| {
            let line = line.trim_start().strip_prefix("- ")?;
            line.strip_prefix("record:").or_else(|| line.strip_prefix("alert:")).map(|name| name.trim().to_owned())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Traffic

/// Sends rounds of fresh records (current Kafka timestamps and event times, so errwatch is not
/// catching up and the live rates count) until dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(producer: BaseProducer) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut round = 0;
            while !stopped.load(Ordering::Relaxed) {
                for payload in records(round) {
                    producer
                        .send(BaseRecord::<(), [u8]>::to(TOPIC).payload(payload.as_slice()))
                        .map_err(|(error, _)| error)
                        .unwrap();
                }
                producer.poll(Duration::ZERO);
                round += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = producer.flush(Duration::from_secs(5));
        });
        Traffic { stop, thread: Some(thread) }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One round of client logs: from every service a throttled call with Retry-After, a 401, a
/// 403, a 503 and successful calls, in the shapes clients log them (JSON with the body escaped
/// in a string, logfmt, Serilog); then a text line from a client that names no service, an
/// ordinary line, and a record that is not UTF-8.
fn records(round: u64) -> Vec<Vec<u8>> {
    let now = Timestamp::now().rfc3339_millis();
    let now = String::from_utf8_lossy(&now);
    let host = "https://api.securitycenter.microsoft.com";
    let id = |n: u64| format!("7d3f4e8a-b6c2-4f1e-9d3c-{:012x}", round * 16 + n);
    let mut records = Vec::new();
    for (index, service) in (0..).zip(SERVICES) {
        let n = index * 8;
        records.extend([
            format!(
                r#"{{"ts":"{now}","level":"warning","service":"{service}","method":"GET","url":"{host}/api/alerts","status":429,"headers":{{"Retry-After":"{}"}},"body":"{{\"error\":{{\"code\":\"TooManyRequests\",\"message\":\"API calls quota exceeded! maximum allowed 100 per 00:01:00\",\"target\":\"{}\"}}}}"}}"#,
                5 + round % 30,
                id(n)
            ),
            format!(
                r#"ts={now} level=error service={service} method=GET url={host}/api/machines status=401 body="{{\"error\":{{\"code\":\"Unauthorized\",\"message\":\"Unauthorized request - reason of failure: Account mode is inactive\",\"target\":\"{}\"}}}}""#,
                id(n + 1)
            ),
            format!(
                r#"{{"@t":"{now}","@l":"Error","@mt":"MDE call failed with {{Status}}","service":"{service}","Status":403,"Response":{{"error":{{"code":"Forbidden","message":"Missing application roles. API required roles: Machine.Isolate","target":"{}"}}}}}}"#,
                id(n + 2)
            ),
            format!(
                r#"{{"ts":"{now}","level":"error","service":"{service}","method":"GET","url":"{host}/api/alerts","status":503,"error":{{"code":"ServiceUnavailable","message":"Service temporarily unavailable","target":"{}"}}}}"#,
                id(n + 3)
            ),
            format!(r#"{{"ts":"{now}","level":"info","service":"{service}","method":"GET","url":"{host}/api/machines","status":200,"msg":"fetched 50 machines"}}"#),
            format!(r#"{{"ts":"{now}","level":"info","service":"{service}","method":"GET","url":"{host}/api/alerts","status":200,"msg":"fetched 12 alerts"}}"#),
        ]);
    }
    records.extend([
        format!(
            r#"{now} ERROR mde_client GET {host}/api/alerts -> 500 Internal Server Error {{"error":{{"code":"InternalServerError","message":"An error occurred","target":"{}"}}}}"#,
            id(15)
        ),
        format!("{now} INFO mde_client fetched 12 alerts in 130 ms"),
    ]);
    let mut records: Vec<Vec<u8>> = records.into_iter().map(String::into_bytes).collect();
    records.push(b"bad \xff\xfe bytes (500)".to_vec());
    records
}

// ---------------------------------------------------------------------------------------------
// Prometheus

/// A Prometheus server of the test's own, scraping errwatch every second and evaluating the
/// repository's rule file every second; killed and its data removed when dropped.
struct Prometheus {
    child: Child,
    address: String,
    dir: PathBuf,
}

impl Prometheus {
    fn start(binary: &Path, target: &str) -> Prometheus {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus-test").join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rules = project().join("dashboards/prometheus/alerts.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {:?}\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{target:?}]\n",
            rules.display().to_string()
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // The port is free when asked for, but another process may take it before Prometheus
        // binds it: then Prometheus exits, and another port is tried.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let address = format!("127.0.0.1:{port}");
            let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
            let mut child = Command::new(binary)
                .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={address}"))
                .arg("--web.enable-lifecycle")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
            match wait_until_ready(&mut child, &address, &dir) {
                Ok(()) => return Prometheus { child, address, dir },
                Err(None) => continue,
                Err(Some(problem)) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{problem}; Prometheus's log:\n{}", read_log(&dir));
                }
            }
        }
        panic!("Prometheus found no free port to listen on; its log:\n{}", read_log(&dir));
    }

    fn get(&self, path: &str) -> Answer {
        http_request(&self.address, "GET", path)
    }

    /// The series an instant query answers (labels and value as Prometheus writes them), or
    /// Prometheus's error.
    fn query(&self, expr: &str) -> Result<Vec<(String, String)>, String> {
        let answer = self.get(&format!("/api/v1/query?{}", query_string("query", expr)));
        let body: Value =
            serde_json::from_str(&answer.body).map_err(|_| format!("HTTP {}: {}", answer.status, answer.body))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        let data = &body["data"];
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|series| (series["metric"].to_string(), series["value"][1].as_str().unwrap().to_owned()))
                .collect()),
            Some("scalar") => Ok(vec![("{}".to_owned(), data["result"][1].as_str().unwrap().to_owned())]),
            _ => Err(format!("not an instant vector: {data}")),
        }
    }

    fn wait_for_series(&self, what: &str, expr: &str) {
        let started = Instant::now();
        loop {
            let answer = self.query(expr);
            if answer.as_ref().is_ok_and(|series| !series.is_empty()) {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "timed out after {DEADLINE:?} waiting for {what}: {expr} answered {answer:?}\nPrometheus's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The rules Prometheus loaded, in the file's order.
    fn rules(&self) -> Vec<Rule> {
        let answer = self.get("/api/v1/rules").json();
        let groups = answer["data"]["groups"].as_array().unwrap_or_else(|| panic!("no rule groups: {answer}"));
        let text = |rule: &Value, key: &str| rule[key].as_str().unwrap_or_default().to_owned();
        groups
            .iter()
            .flat_map(|group| group["rules"].as_array().unwrap())
            .map(|rule| Rule {
                name: text(rule, "name"),
                kind: text(rule, "type"),
                query: text(rule, "query"),
                health: text(rule, "health"),
                error: text(rule, "lastError"),
            })
            .collect()
    }

    fn log(&self) -> String {
        read_log(&self.dir)
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
}

/// Polls `/-/ready`. Err(None) when Prometheus exited because the port was taken meanwhile.
fn wait_until_ready(child: &mut Child, address: &str, dir: &Path) -> Result<(), Option<String>> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if let Some(status) = child.try_wait().unwrap() {
            if read_log(dir).contains("address already in use") {
                return Err(None);
            }
            return Err(Some(format!("Prometheus exited ({status}) before it was ready")));
        }
        if std::net::TcpStream::connect(address).is_ok() && http_request(address, "GET", "/-/ready").status == 200 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Some(format!("Prometheus was not ready within {DEADLINE:?}")))
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept after a failure, for a look at its log and data.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A rule as Prometheus's rules API describes it; `query` is the expression as it parsed it.
#[derive(Debug)]
struct Rule {
    name: String,
    kind: String,
    query: String,
    health: String,
    error: String,
}

/// The `prometheus` binary on PATH. CI installs it with scripts/check-prometheus.sh (through
/// scripts/test.sh); a missing server fails the test rather than skipping what it checks.
fn prometheus_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).map(|dir| dir.join("prometheus")).find(|binary| binary.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "the Prometheus server (`prometheus`) is not installed; run ./scripts/check-prometheus.sh, which \
             installs Debian's prometheus package (scripts/test.sh and CI run it)"
        )
    })
}

/// `key=value` with both percent-encoded, for a URL's query.
fn query_string(key: &str, value: &str) -> String {
    format!("{}={}", percent_encode(key), percent_encode(value))
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            write!(encoded, "%{byte:02X}").unwrap();
        }
    }
    encoded
}

// ---------------------------------------------------------------------------------------------
// Checks

/// What a query must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// At least one series, none of them NaN.
    Series,
    /// An answer without error, series or not.
    Evaluates,
}

#[derive(Debug)]
struct Check {
    name: String,
    query: String,
    want: Want,
}

impl Check {
    fn failure(&self, prometheus: &Prometheus) -> Option<String> {
        let problem = match (prometheus.query(&self.query), self.want) {
            (Err(error), _) => error,
            (Ok(_), Want::Evaluates) => return None,
            (Ok(series), Want::Series) if series.is_empty() => "no series".to_owned(),
            (Ok(series), Want::Series) => {
                let not_a_number: Vec<&String> =
                    series.iter().filter(|(_, value)| value == "NaN").map(|(labels, _)| labels).collect();
                if not_a_number.is_empty() {
                    return None;
                }
                format!("NaN for {not_a_number:?}")
            }
        };
        Some(format!("{}\n    {}\n    {problem}", self.name, self.query))
    }
}

/// The queries to run, each once (a selector shared by many expressions is asked once).
#[derive(Debug, Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, name: &str, query: &str, want: Want) {
        match self.0.iter_mut().find(|check| check.query == query) {
            Some(check) if want == Want::Series => check.want = Want::Series,
            Some(_) => {}
            None => self.0.push(Check { name: name.to_owned(), query: query.to_owned(), want }),
        }
    }

    /// `expr` as a whole, its relaxed form when the whole may answer nothing, its `unless`
    /// matchings and its selectors.
    fn expression(&mut self, name: &str, expr: &str, want: Want) {
        let parsed = Expr::parse(expr);
        self.add(name, expr, want);
        if want == Want::Evaluates {
            self.add(
                &format!("{name}, thresholds and suppressions left out"),
                &parsed.relaxed().to_string(),
                Want::Series,
            );
        }
        for matching in parsed.unless_matchings() {
            self.add(&format!("{name}, what its unless matches"), &matching.to_string(), Want::Series);
        }
        for selector in parsed.selectors() {
            self.add(&format!("{name}, selector {selector}"), &selector, Want::Series);
        }
    }

    /// Polls until every check passes at once; the recording rules need evaluating and the
    /// rates a second sample, so the first rounds may fail.
    fn wait_for_answers(&self, prometheus: &Prometheus) {
        let started = Instant::now();
        loop {
            let failures: Vec<String> = self.0.iter().filter_map(|check| check.failure(prometheus)).collect();
            if failures.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{} of {} queries did not answer as they must within {DEADLINE:?}:\n\n{}",
                failures.len(),
                self.0.len(),
                failures.join("\n\n")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PromQL, parsed as far as the checks need: selectors, calls and aggregations, parentheses,
// binary operators with their precedence and matching modifiers. Anything else (offsets,
// subqueries, unary minus) is refused with a message rather than misread.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A metric name, function, keyword, label name, `Inf` or `NaN`.
    Word(String),
    Number(String),
    /// A string literal, quotes included.
    Text(String),
    /// `{...}` as written.
    Matchers(String),
    /// `[...]` as written.
    Range(String),
    Operator(String),
    Open,
    Close,
    Comma,
}

fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        let start = at;
        let token = match c {
            c if c.is_whitespace() => {
                at += 1;
                continue;
            }
            '#' => {
                at = chars[at..].iter().position(|&c| c == '\n').map_or(chars.len(), |end| at + end);
                continue;
            }
            '(' => {
                at += 1;
                Token::Open
            }
            ')' => {
                at += 1;
                Token::Close
            }
            ',' => {
                at += 1;
                Token::Comma
            }
            '{' => {
                at = end_of_group(&chars, at, '}');
                Token::Matchers(text(start, at))
            }
            '[' => {
                at = end_of_group(&chars, at, ']');
                Token::Range(text(start, at))
            }
            '"' | '\'' | '`' => {
                at = end_of_string(&chars, at);
                Token::Text(text(start, at))
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(at + 1).is_some_and(char::is_ascii_digit)) => {
                while chars.get(at).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    at += 1;
                }
                if chars.get(at).is_some_and(|c| *c == 'e' || *c == 'E') {
                    at += 1;
                    if chars.get(at).is_some_and(|c| *c == '+' || *c == '-') {
                        at += 1;
                    }
                    while chars.get(at).is_some_and(char::is_ascii_digit) {
                        at += 1;
                    }
                }
                Token::Number(text(start, at))
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                while chars.get(at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':') {
                    at += 1;
                }
                Token::Word(text(start, at))
            }
            _ => {
                let two = text(at, (at + 2).min(chars.len()));
                let operator = ["==", "!=", ">=", "<="]
                    .into_iter()
                    .find(|operator| two == *operator)
                    .or_else(|| [">", "<", "+", "-", "*", "/", "%", "^"].into_iter().find(|op| op.starts_with(c)))
                    .unwrap_or_else(|| panic!("unexpected {c:?} at {at} in {expr}"));
                at += operator.len();
                Token::Operator(operator.to_owned())
            }
        };
        tokens.push(token);
    }
    tokens
}

/// Where the string literal opening at `at` ends (one past its closing quote).
fn end_of_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let mut i = at + 1;
    while let Some(&c) = chars.get(i) {
        if c == '\\' && quote != '`' {
            i += 2;
        } else if c == quote {
            return i + 1;
        } else {
            i += 1;
        }
    }
    panic!("a string that is not closed: {}", chars.iter().collect::<String>());
}

/// Where the group opening at `at` ends (one past `close`), strings inside skipped.
fn end_of_group(chars: &[char], at: usize, close: char) -> usize {
    let mut i = at + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '"' | '\'' | '`' => i = end_of_string(chars, i),
            c if c == close => return i + 1,
            _ => i += 1,
        }
    }
    panic!("{close:?} missing: {}", chars.iter().collect::<String>());
}

const AGGREGATIONS: &[&str] =
    &["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];

const COMPARISONS: &[&str] = &["==", "!=", ">=", "<=", ">", "<"];

/// How tightly a binary operator binds, as in PromQL; None for a token that is not one.
fn precedence(token: &Token) -> Option<u8> {
    match token {
        Token::Word(word) => match word.as_str() {
            "or" => Some(1),
            "and" | "unless" => Some(2),
            "atan2" => Some(5),
            _ => None,
        },
        Token::Operator(operator) => match operator.as_str() {
            op if COMPARISONS.contains(&op) => Some(3),
            "+" | "-" => Some(4),
            "*" | "/" | "%" => Some(5),
            "^" => Some(6),
            _ => None,
        },
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    /// A number or a string, as written.
    Literal(String),
    /// A metric name with its matchers and range, as written.
    Selector {
        name: String,
        matchers: String,
        range: String,
    },
    /// A function call, or an aggregation with its `by (...)` or `without (...)`.
    Call {
        name: String,
        grouping: String,
        args: Vec<Expr>,
    },
    Paren(Box<Expr>),
    /// `modifiers` are `bool`, `on (...)`, `ignoring (...)`, `group_left (...)` as written.
    Binary {
        op: String,
        modifiers: String,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl Expr {
    fn parse(source: &str) -> Expr {
        let mut parser = Parser { source, tokens: tokens(source), at: 0 };
        let expr = parser.expr(0);
        assert!(
            parser.at == parser.tokens.len(),
            "cannot read {:?} in {source} (the test's PromQL reader knows only what the dashboards use)",
            &parser.tokens[parser.at..]
        );
        expr
    }

    /// The expression with every comparison to a number replaced by what it compares, and
    /// every `A unless B` by A: only names, labels, functions and joins left to answer series.
    fn relaxed(&self) -> Expr {
        match self {
            Expr::Binary { op, lhs, .. } if op == "unless" => lhs.relaxed(),
            Expr::Binary { op, modifiers, lhs, rhs }
                if COMPARISONS.contains(&op.as_str()) && !modifiers.starts_with("bool") =>
            {
                match (&**lhs, &**rhs) {
                    (operand, Expr::Literal(_)) | (Expr::Literal(_), operand) => operand.relaxed(),
                    _ => self.relaxed_parts(),
                }
            }
            _ => self.relaxed_parts(),
        }
    }

    fn relaxed_parts(&self) -> Expr {
        match self {
            Expr::Binary { op, modifiers, lhs, rhs } => Expr::Binary {
                op: op.clone(),
                modifiers: modifiers.clone(),
                lhs: Box::new(lhs.relaxed()),
                rhs: Box::new(rhs.relaxed()),
            },
            Expr::Call { name, grouping, args } => Expr::Call {
                name: name.clone(),
                grouping: grouping.clone(),
                args: args.iter().map(Expr::relaxed).collect(),
            },
            Expr::Paren(inner) => Expr::Paren(Box::new(inner.relaxed())),
            leaf => leaf.clone(),
        }
    }

    /// For every `A unless on (...) B`: `A and on (...) B`, both relaxed.
    fn unless_matchings(&self) -> Vec<Expr> {
        let mut matchings = Vec::new();
        self.visit(&mut |expr| {
            if let Expr::Binary { op, modifiers, lhs, rhs } = expr {
                if op == "unless" {
                    matchings.push(Expr::Binary {
                        op: "and".to_owned(),
                        modifiers: modifiers.clone(),
                        lhs: Box::new(lhs.relaxed()),
                        rhs: Box::new(rhs.relaxed()),
                    });
                }
            }
        });
        matchings
    }

    /// Every selector, as an instant query (without its range).
    fn selectors(&self) -> Vec<String> {
        let mut selectors = Vec::new();
        self.visit(&mut |expr| {
            if let Expr::Selector { name, matchers, .. } = expr {
                selectors.push(format!("{name}{matchers}"));
            }
        });
        selectors
    }

    fn visit(&self, visitor: &mut impl FnMut(&Expr)) {
        visitor(self);
        match self {
            Expr::Binary { lhs, rhs, .. } => {
                lhs.visit(visitor);
                rhs.visit(visitor);
            }
            Expr::Call { args, .. } => args.iter().for_each(|arg| arg.visit(visitor)),
            Expr::Paren(inner) => inner.visit(visitor),
            Expr::Literal(_) | Expr::Selector { .. } => {}
        }
    }
}

/// PromQL again; an operand that is itself a binary operation is parenthesised, so that what
/// the checks left out cannot change what binds to what.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(text) => write!(f, "{text}"),
            Expr::Selector { name, matchers, range } => write!(f, "{name}{matchers}{range}"),
            Expr::Call { name, grouping, args } => {
                write!(f, "{name}")?;
                if !grouping.is_empty() {
                    write!(f, " {grouping} ")?;
                }
                let args: Vec<String> = args.iter().map(Expr::to_string).collect();
                write!(f, "({})", args.join(", "))
            }
            Expr::Paren(inner) => write!(f, "({inner})"),
            Expr::Binary { op, modifiers, lhs, rhs } => {
                let operand = |expr: &Expr| match expr {
                    Expr::Binary { .. } => format!("({expr})"),
                    _ => expr.to_string(),
                };
                let modifiers = if modifiers.is_empty() { String::new() } else { format!(" {modifiers}") };
                write!(f, "{} {op}{modifiers} {}", operand(lhs), operand(rhs))
            }
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Token {
        let token = self.tokens.get(self.at).cloned().unwrap_or_else(|| panic!("{} ends too early", self.source));
        self.at += 1;
        token
    }

    fn expect(&mut self, expected: &Token) {
        let token = self.next();
        assert_eq!(&token, expected, "in {}", self.source);
    }

    fn expr(&mut self, minimum: u8) -> Expr {
        let mut lhs = self.operand();
        while let Some(binding) = self.peek().and_then(precedence).filter(|&binding| binding >= minimum) {
            let op = match self.next() {
                Token::Word(word) | Token::Operator(word) => word,
                _ => unreachable!(),
            };
            let mut modifiers = Vec::new();
            while let Some(Token::Word(word)) = self.peek().cloned() {
                if !["bool", "on", "ignoring", "group_left", "group_right"].contains(&word.as_str()) {
                    break;
                }
                self.at += 1;
                let labels =
                    if word != "bool" && self.peek() == Some(&Token::Open) { self.labels() } else { String::new() };
                modifiers.push(if labels.is_empty() { word } else { format!("{word} {labels}") });
            }
            // Binary operators group to the left, except ^.
            let rhs = self.expr(if op == "^" { binding } else { binding + 1 });
            lhs = Expr::Binary { op, modifiers: modifiers.join(" "), lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        lhs
    }

    fn operand(&mut self) -> Expr {
        match self.next() {
            Token::Open => {
                let inner = self.expr(0);
                self.expect(&Token::Close);
                Expr::Paren(Box::new(inner))
            }
            Token::Number(text) | Token::Text(text) => Expr::Literal(text),
            Token::Matchers(matchers) => Expr::Selector { name: String::new(), matchers, range: self.range() },
            Token::Word(name) if AGGREGATIONS.contains(&name.as_str()) => {
                let before = self.grouping();
                let args = self.arguments();
                let grouping = if before.is_empty() { self.grouping() } else { before };
                Expr::Call { name, grouping, args }
            }
            Token::Word(name) if self.peek() == Some(&Token::Open) => {
                Expr::Call { name, grouping: String::new(), args: self.arguments() }
            }
            Token::Word(word) if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan") => {
                Expr::Literal(word)
            }
            Token::Word(name) => {
                let matchers = match self.peek() {
                    Some(Token::Matchers(matchers)) => {
                        let matchers = matchers.clone();
                        self.at += 1;
                        matchers
                    }
                    _ => String::new(),
                };
                Expr::Selector { name, matchers, range: self.range() }
            }
            token => panic!("unexpected {token:?} in {}", self.source),
        }
    }

    fn range(&mut self) -> String {
        match self.peek() {
            Some(Token::Range(range)) => {
                let range = range.clone();
                self.at += 1;
                range
            }
            _ => String::new(),
        }
    }

    /// `by (...)` or `without (...)` when next, else nothing.
    fn grouping(&mut self) -> String {
        match self.peek() {
            Some(Token::Word(word)) if word == "by" || word == "without" => {
                let word = word.clone();
                self.at += 1;
                format!("{word} {}", self.labels())
            }
            _ => String::new(),
        }
    }

    /// `(label, ...)`, written back in one spelling.
    fn labels(&mut self) -> String {
        self.expect(&Token::Open);
        let mut labels = Vec::new();
        loop {
            match self.next() {
                Token::Close => break,
                Token::Comma => {}
                Token::Word(label) => labels.push(label),
                token => panic!("unexpected {token:?} among labels in {}", self.source),
            }
        }
        format!("({})", labels.join(", "))
    }

    fn arguments(&mut self) -> Vec<Expr> {
        self.expect(&Token::Open);
        let mut args = Vec::new();
        if self.peek() == Some(&Token::Close) {
            self.at += 1;
            return args;
        }
        loop {
            args.push(self.expr(0));
            match self.next() {
                Token::Comma => {}
                Token::Close => return args,
                token => panic!("unexpected {token:?} in the arguments in {}", self.source),
            }
        }
    }
}

/// The reader and the relaxation on the shapes the rules use: what is left must still join on
/// the same labels, and nothing that could hide a wrong name may be left out.
#[test]
fn promql_thresholds_and_suppressions_are_left_out_and_joins_kept() {
    // (expression, relaxed, unless matchings, selectors)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (r#"up{job="errwatch"} == 0"#, r#"up{job="errwatch"}"#, &[], &[r#"up{job="errwatch"}"#]),
        (
            r#"(a{s="429"} / on (job, service) b) > 0.1 and on (job, service) a{s="429"} > 0.05 and on (job, service) b > 0.2"#,
            r#"((a{s="429"} / on (job, service) b) and on (job, service) a{s="429"}) and on (job, service) b"#,
            &[],
            &[r#"a{s="429"}"#, "b", r#"a{s="429"}"#, "b"],
        ),
        (
            "sum by (job, le) (rate(x_bucket{job=\"e\"}[5m]) unless on (job, instance) (c:max15m > 0))",
            "sum by (job, le) (rate(x_bucket{job=\"e\"}[5m]))",
            &["rate(x_bucket{job=\"e\"}[5m]) and on (job, instance) (c:max15m)"],
            &["x_bucket{job=\"e\"}", "c:max15m"],
        ),
        (
            "(sum by (job, instance) (lag) > 0 and on (job, instance) (time() - stored) > 300) unless on (job, instance) (up == 0)",
            "(sum by (job, instance) (lag) and on (job, instance) (time() - stored))",
            &["(sum by (job, instance) (lag) and on (job, instance) (time() - stored)) and on (job, instance) (up)"],
            &["lag", "stored", "up"],
        ),
        (
            "max by (job, instance) (u) == 0 or (sum by (job, instance) (increase(f[5m])) > 0 unless on (job, instance) sum by (job, instance) (increase(i[5m])) > 0)",
            "max by (job, instance) (u) or (sum by (job, instance) (increase(f[5m])))",
            &["sum by (job, instance) (increase(f[5m])) and on (job, instance) sum by (job, instance) (increase(i[5m]))"],
            &["u", "f", "i"],
        ),
        (
            "histogram_quantile(0.99, sum(rate(b_bucket[1m])) by (le)) > 300 and on (job) b_bucket{le=\"+Inf\"} > bool 0.05",
            "histogram_quantile(0.99, sum by (le) (rate(b_bucket[1m]))) and on (job) (b_bucket{le=\"+Inf\"} > bool 0.05)",
            &[],
            &["b_bucket", "b_bucket{le=\"+Inf\"}"],
        ),
        ("time() - max(t > 0)", "time() - max(t)", &[], &["t"]),
        ("sum(x) by (job) == 0 or absent(x)", "sum by (job) (x) or absent(x)", &[], &["x", "x"]),
    ];
    for (expr, relaxed, matchings, selectors) in cases {
        let parsed = Expr::parse(expr);
        assert_eq!(parsed.relaxed().to_string(), *relaxed, "relaxed {expr}");
        let found: Vec<String> = parsed.unless_matchings().iter().map(Expr::to_string).collect();
        assert_eq!(found, *matchings, "unless matchings of {expr}");
        assert_eq!(parsed.selectors(), *selectors, "selectors of {expr}");
    }
}

#[test]
fn query_strings_are_percent_encoded() {
    for (value, encoded) in [
        ("up", "up"),
        (
            r#"sum by (job) (x{a=~".*"}[1m]) > 0.5"#,
            "sum%20by%20%28job%29%20%28x%7Ba%3D~%22.%2A%22%7D%5B1m%5D%29%20%3E%200.5",
        ),
        ("a+b&c=d/é", "a%2Bb%26c%3Dd%2F%C3%A9"),
    ] {
        assert_eq!(percent_encode(value), encoded);
    }
}
