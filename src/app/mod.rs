//! The application: every command of the `errwatch` binary, wired from its settings.
//!
//! `cli` reads arguments, the environment and the configuration file into the settings these
//! functions take; `main` dispatches and prints the one-line error. Each command's module has
//! its `command` function (the wiring: runtime, store, HTTP server, shutdown) beside the
//! library functions tests drive as the binary does (`ingest::run`, `classify::run`, ...).
//!
//! Every long-running command stops on one [`Shutdown`](crate::shutdown::Shutdown), in the
//! order of invariant 9: the pipeline flushes and commits, then the HTTP server stops.

pub mod classify;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod lookup;
pub mod migrate;
pub mod run;
pub mod serve;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracing::{info, warn};

use crate::http::{self, Access};
use crate::metrics::Metrics;
use crate::pace::{Backoff, Quieter};
use crate::shutdown::Shutdown;
use crate::store::{Store, StoreError};

/// What the HTTP server of `run`, `serve` and `demo` listens on and lets through.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub address: SocketAddr,
    pub access: Access,
    /// Distinct service names kept as metric labels.
    pub service_cap: usize,
}

/// The runtime every command's IO runs on: two workers are plenty, since the heavy work
/// (classifying) runs on threads of its own.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text, for people.
    Text,
    /// One JSON object a line (time, level, message and fields), for log pipelines.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format {text:?}; use text or json")),
        }
    }
}

/// Log lines on standard error, the ones `directives` lets through (`debug`,
/// `info,errwatch=trace`, ...; `info` when they cannot be read), in `format`.
pub fn init_logging(directives: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).with_target(false);
    match format {
        LogFormat::Text => lines.with_ansi(io::IsTerminal::is_terminal(&io::stderr())).init(),
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
}

/// One line for the user, with what to do next where we know it.
pub fn explain(error: &anyhow::Error) -> String {
    let message = format!("{error:#}");
    match error.chain().find_map(|cause| cause.downcast_ref::<StoreError>()) {
        Some(StoreError::Unreachable { url, .. }) => format!(
            "{message}; start a local server with ./scripts/clickhouse.sh, or set ERRWATCH_CLICKHOUSE_URL \
             (now {url}) to your server's HTTP URL"
        ),
        _ => message,
    }
}

/// A rate for the summary a command logs at its end; a run too short to time is not infinite.
fn per_second(count: u64, seconds: f64) -> u64 {
    (count as f64 / seconds.max(1e-3)) as u64
}

/// A reader that stopped early (`| head`) is not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// How long a command waits at start for a ClickHouse server it cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitForClickHouse {
    /// The first unreachable answer stops the command.
    FailFast,
    /// Gives up after this long.
    AtMost(Duration),
    Forever,
}

impl WaitForClickHouse {
    /// `--wait-for-clickhouse SECONDS`: 0 fails at once.
    pub fn from_seconds(seconds: u64) -> WaitForClickHouse {
        match seconds {
            0 => WaitForClickHouse::FailFast,
            seconds => WaitForClickHouse::AtMost(Duration::from_secs(seconds)),
        }
    }
}

/// Whether a command got what it waited for, or was stopped first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    Ready,
    Stopped,
}

/// Connects, creates or migrates the schema, and applies retention when asked, waiting as
/// `wait` allows for a server that cannot be reached yet; migrations are idempotent, so an
/// attempt cut short by the server going away is simply made again.
async fn prepare(
    store: &Store,
    retention_days: Option<u32>,
    wait: WaitForClickHouse,
    shutdown: &Shutdown,
) -> anyhow::Result<Prepared> {
    let prepared = reach(store, wait, shutdown, || async {
        store.ping().await?;
        let report = store.migrate().await?;
        if report.created_database {
            info!(database = %store.settings().database, "created the database");
        }
        for name in &report.applied {
            info!(migration = %name, "applied migration");
        }
        if let Some(days) = retention_days {
            let dropped = store.drop_partitions_older_than(days).await?;
            info!(days, partitions = dropped.len(), "applied retention");
        }
        Ok(())
    })
    .await?;
    Ok(if prepared.is_some() { Prepared::Ready } else { Prepared::Stopped })
}

/// Makes `attempt` until it succeeds, fails in a way no wait can fix, `wait` runs out or
/// `shutdown` is raised (then `None`). Only an unreachable or passing failure is waited out.
/// One-shot commands pass a shutdown nothing raises: a signal ends them as it ends any
/// program, not as a success.
async fn reach<T, Attempt, Answer>(
    store: &Store,
    wait: WaitForClickHouse,
    shutdown: &Shutdown,
    mut attempt: Attempt,
) -> anyhow::Result<Option<T>>
where
    Attempt: FnMut() -> Answer,
    Answer: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut retrying = Retrying::new(wait, Instant::now());
    loop {
        let error = tokio::select! {
            answer = attempt() => match answer {
                Ok(value) => {
                    if retrying.failures > 0 {
                        info!(attempts = retrying.failures + 1, url = %store.settings().url, "reached ClickHouse");
                    }
                    return Ok(Some(value));
                }
                Err(error) => error,
            },
            () = shutdown.raised() => return Ok(None),
        };
        if !error.is_transient() || wait == WaitForClickHouse::FailFast {
            return Err(error.into());
        }
        let pause = match retrying.failed(Instant::now()) {
            Next::Retry { pause, log } => {
                if log {
                    warn!(attempts = retrying.failures, %error, "waiting for ClickHouse");
                }
                pause
            }
            Next::GiveUp { waited } => {
                return Err(anyhow::Error::new(error)
                    .context(format!("gave up waiting for ClickHouse after {} s", waited.as_secs())));
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.raised() => return Ok(None),
        }
    }
}

/// The first pause between attempts; each failure doubles it, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// A server that stays away is logged this often, not at every attempt.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// The schedule of attempts while waiting: when to try again, whether to say so, and when to
/// give up.
#[derive(Debug)]
struct Retrying {
    started: Instant,
    limit: Option<Duration>,
    failures: u32,
    backoff: Backoff,
    log: Quieter,
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Retry { pause: Duration, log: bool },
    GiveUp { waited: Duration },
}

impl Retrying {
    fn new(wait: WaitForClickHouse, started: Instant) -> Retrying {
        let limit = match wait {
            WaitForClickHouse::FailFast => Some(Duration::ZERO),
            WaitForClickHouse::AtMost(limit) => Some(limit),
            WaitForClickHouse::Forever => None,
        };
        let backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
        Retrying { started, limit, failures: 0, backoff, log: Quieter::new(LOG_EVERY) }
    }

    /// An attempt failed at `now`.
    fn failed(&mut self, now: Instant) -> Next {
        self.failures = self.failures.saturating_add(1);
        let waited = now.saturating_duration_since(self.started);
        let mut pause = self.backoff.next_pause();
        if let Some(limit) = self.limit {
            let Some(left) = limit.checked_sub(waited).filter(|left| !left.is_zero()) else {
                return Next::GiveUp { waited };
            };
            pause = pause.min(left);
        }
        Next::Retry { pause, log: self.log.due(now).is_some() }
    }
}

/// Starts the HTTP server with the access asked for, or says what to change.
fn start_http(
    runtime: &tokio::runtime::Runtime,
    settings: &HttpSettings,
    store: &Store,
    metrics: &Arc<Metrics>,
    consuming: bool,
) -> anyhow::Result<http::Running> {
    http::start(runtime, settings.address, settings.access.clone(), store, metrics, consuming).with_context(|| {
        format!("cannot listen on {}; choose another address with --http-addr or ERRWATCH_HTTP_ADDR", settings.address)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures at these seconds after the start, under `wait`, answer `expected` in turn.
    fn check(wait: WaitForClickHouse, failures: &[(u64, Next)]) {
        let started = Instant::now();
        let mut retrying = Retrying::new(wait, started);
        for (number, (at, expected)) in failures.iter().enumerate() {
            let next = retrying.failed(started + Duration::from_millis(*at));
            assert_eq!(&next, expected, "failure {} at {at} ms under {wait:?}", number + 1);
        }
    }

    fn retry(pause_ms: u64, log: bool) -> Next {
        Next::Retry { pause: Duration::from_millis(pause_ms), log }
    }

    #[test]
    fn pauses_double_up_to_ten_seconds_and_the_log_speaks_every_thirty() {
        check(
            WaitForClickHouse::Forever,
            &[
                (0, retry(500, true)),
                (500, retry(1_000, false)),
                (1_500, retry(2_000, false)),
                (3_500, retry(4_000, false)),
                (7_500, retry(8_000, false)),
                (15_500, retry(10_000, false)),
                (25_500, retry(10_000, false)),
                (35_500, retry(10_000, true)),
                (45_500, retry(10_000, false)),
                (65_500, retry(10_000, true)),
            ],
        );
    }

    #[test]
    fn a_limit_shortens_the_last_pause_and_then_gives_up() {
        check(
            WaitForClickHouse::AtMost(Duration::from_secs(2)),
            &[
                (0, retry(500, true)),
                (500, retry(1_000, false)),
                (1_500, retry(500, false)),
                (2_000, Next::GiveUp { waited: Duration::from_secs(2) }),
            ],
        );
        check(WaitForClickHouse::FailFast, &[(0, Next::GiveUp { waited: Duration::ZERO })]);
    }
}
