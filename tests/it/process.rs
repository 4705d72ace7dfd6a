//! errwatch as a child process that a test can kill, and a plain HTTP/1.1 client for its
//! server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clickhouse::TestDatabase;
use crate::kafka::Cluster;

/// The errwatch binary with a test's database, logging at info, its HTTP server on a free port.
fn errwatch_command(database: &TestDatabase, url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_errwatch"));
    command
        .env("ERRWATCH_CLICKHOUSE_URL", url)
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .env("ERRWATCH_HTTP_ADDR", "127.0.0.1:0")
        .env("ERRWATCH_LOG", "info");
    command
}

/// errwatch running as a child process, its log kept for assertions.
pub struct Errwatch {
    /// Behind a lock so that waiting for a log line can see the process exit first.
    child: Mutex<Child>,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Errwatch {
    pub fn start(cluster: &Cluster, database: &TestDatabase, topic: &str, group: &str, extra: &[&str]) -> Errwatch {
        Self::start_with_url(cluster, database, &crate::clickhouse::url(), topic, group, extra)
    }

    /// `errwatch run` consuming `topic` into `database` on the server at `url`.
    pub fn start_with_url(
        cluster: &Cluster,
        database: &TestDatabase,
        url: &str,
        topic: &str,
        group: &str,
        extra: &[&str],
    ) -> Errwatch {
        // Its schema is in place once it says it is consuming.
        Self::spawn(run_command(cluster, database, url, topic, group, extra), "consuming")
    }

    /// `errwatch run` like [`Errwatch::start_with_url`], once its HTTP server listens: it may
    /// still be waiting for ClickHouse.
    pub fn starting(cluster: &Cluster, database: &TestDatabase, url: &str, topic: &str, group: &str) -> Errwatch {
        Self::spawn(run_command(cluster, database, url, topic, group, &[]), "http listening")
    }

    /// `errwatch ARGUMENTS` over `database` on the server at `url`, once it logged `ready`.
    pub fn command(database: &TestDatabase, url: &str, arguments: &[&str], ready: &str) -> Errwatch {
        let mut command = errwatch_command(database, url);
        command.args(arguments);
        Self::spawn(command, ready)
    }

    /// `errwatch run` with the environment given (brokers and topics among it), once it says
    /// it is consuming.
    pub fn run_with(database: &TestDatabase, environment: &[(&str, &str)]) -> Errwatch {
        let mut command = errwatch_command(database, &crate::clickhouse::url());
        command.arg("run").envs(environment.iter().copied());
        Self::spawn(command, "consuming")
    }

    /// `errwatch serve` over `database` on the server at `url`.
    pub fn serve(database: &TestDatabase, url: &str) -> Errwatch {
        Self::serve_with(database, url, &[])
    }

    /// `errwatch serve` with more environment variables.
    pub fn serve_with(database: &TestDatabase, url: &str, environment: &[(&str, &str)]) -> Errwatch {
        let mut command = errwatch_command(database, url);
        command.arg("serve").envs(environment.iter().copied());
        Self::spawn(command, "http listening")
    }

    fn spawn(mut command: Command, ready: &str) -> Errwatch {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("errwatch starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let errwatch = Errwatch { child: Mutex::new(child), log, reader: Some(reader) };
        errwatch.wait_for_log(ready, 1, Duration::from_secs(60));
        errwatch
    }

    /// Where its HTTP server listens (a free port: each test's process has its own).
    pub fn http_address(&self) -> String {
        self.wait_for_log("http listening", 1, Duration::from_secs(60));
        let log = self.log();
        let line = log.lines().find(|line| line.contains("http listening")).unwrap();
        line.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
    }

    /// GET `path` from its HTTP server.
    pub fn get(&self, path: &str) -> Answer {
        http_request(&self.http_address(), "GET", path)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `text` `times` times; an exit before that fails at once.
    pub fn wait_for_log(&self, text: &str, times: usize, deadline: Duration) {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self.log_count(text) >= times {
                return;
            }
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                // Lines written just before the exit may still be on their way to the log.
                self.wait_for_log_reader(deadline.saturating_sub(started.elapsed()));
                if self.log_count(text) >= times {
                    return;
                }
                panic!("errwatch exited ({status}) before logging {text:?} {times} times; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("errwatch did not log {text:?} {times} times within {deadline:?}; its log:\n{}", self.log());
    }

    /// Waits, within `deadline`, for the log reader to reach the end of standard error.
    fn wait_for_log_reader(&self, deadline: Duration) {
        let started = Instant::now();
        while self.reader.as_ref().is_some_and(|reader| !reader.is_finished()) && started.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill(self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(self, deadline: Duration) -> (Option<i32>, String) {
        let id = self.child.lock().unwrap().id();
        let _ = Command::new("kill").args(["-TERM", &id.to_string()]).status();
        self.wait_for_exit(deadline)
    }

    /// The exit code once it exits by itself, and its whole log.
    pub fn wait_for_exit(mut self, deadline: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return (status.code(), self.log());
            }
            assert!(started.elapsed() < deadline, "errwatch did not exit within {deadline:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident memory of the process, in KiB.
    /// Panics when it cannot be read: a bound on memory must not pass on a figure never taken.
    pub fn resident_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.lock().unwrap().id());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no resident size (VmRSS) in {path}:\n{status}"))
    }

    /// How many log lines contain `text`.
    pub fn log_count(&self, text: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|line| line.contains(text)).count()
    }
}

impl Drop for Errwatch {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The arguments and environment of `errwatch run` consuming `topic` into `database` on the
/// server at `url`.
fn run_command(
    cluster: &Cluster,
    database: &TestDatabase,
    url: &str,
    topic: &str,
    group: &str,
    extra: &[&str],
) -> Command {
    let mut command = errwatch_command(database, url);
    command
        .arg("run")
        .args(["--kafka-option", "session.timeout.ms=6000", "--kafka-option", "heartbeat.interval.ms=500"])
        .args(["--batch-delay-ms", "200"])
        .args(extra)
        .env("ERRWATCH_KAFKA_BROKERS", &cluster.bootstrap)
        .env("ERRWATCH_KAFKA_TOPICS", topic)
        .env("ERRWATCH_KAFKA_GROUP", group);
    command
}

/// Waits until `condition` holds, polling; panics with `what` at the deadline.
pub fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Every header line, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// One request on its own connection (`Connection: close`), the answer read to the end.
pub fn http_request(address: &str, method: &str, path: &str) -> Answer {
    http_request_with(address, method, path, &[])
}

/// Like `http_request`, with more header lines.
pub fn http_request_with(address: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra}\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| line.split_once(':').filter(|(key, _)| key.eq_ignore_ascii_case(name)))
            .map(|(_, value)| value.trim().to_owned())
    };
    let body = if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let headers = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer { status, content_type: header("content-type").unwrap_or_default(), body, headers }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The value of one sample of Prometheus's text format, by its name and labels as written.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
