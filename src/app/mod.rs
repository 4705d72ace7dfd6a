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

use anyhow::Context as _;
use tracing::info;

use crate::http::{self, Access};
use crate::metrics::Metrics;
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

/// A reader that stopped early (`| head`) is not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Connects, creates or migrates the schema, and applies retention when asked.
async fn prepare(store: &Store, retention_days: Option<u32>) -> anyhow::Result<()> {
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
