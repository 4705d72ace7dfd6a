//! The arguments of every command, as clap reads them, and what each becomes: the settings
//! the command's function in `app` takes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use super::help::*;
use crate::app::demo::DemoOptions;
use crate::app::generate::GenerateSettings;
use crate::app::ingest::{IngestOptions, Progress};
use crate::app::run::RunSettings;
use crate::app::{HttpSettings, LogFormat, WaitForClickHouse};
use crate::extract::Limits;
use crate::http::Access;
use crate::metrics::DEFAULT_SERVICE_CAP;
use crate::pipeline::{PipelineSettings, Retention};
use crate::source::kafka::KafkaSettings;
use crate::store::{self, InsertCompression, SinkSettings, DEFAULT_RAW_CAP};
use crate::timestamp::Timestamp;

#[derive(Parser, Debug)]
#[command(
    name = "errwatch",
    version,
    about = "Find, classify and store Defender for Endpoint API errors from client logs"
)]
#[command(propagate_version = true, after_help = TOP_LEVEL_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// TOML file of settings: a key `kafka_brokers` stands for ERRWATCH_KAFKA_BROKERS, and a
    /// [librdkafka] table holds librdkafka settings; flags and the environment win over it
    #[arg(long, value_name = "FILE", env = "ERRWATCH_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Which log lines to write: a level (error, warn, info, debug, trace) or filter
    /// directives such as `info,errwatch=debug`
    #[arg(long, value_name = "FILTER", env = "ERRWATCH_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log lines as text for people, or as JSON objects, one a line, for log pipelines
    #[arg(long, value_name = "FORMAT", env = "ERRWATCH_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Classify log records, one per line, and print one JSON object per record
    #[command(long_about = classify_about(), after_help = CLASSIFY_EXAMPLES)]
    Classify(ClassifyArgs),

    /// Create the ClickHouse database and tables, or bring them up to date
    #[command(after_help = "Example:\n  ERRWATCH_CLICKHOUSE_URL=http://127.0.0.1:8123 errwatch migrate")]
    Migrate(MigrateArgs),

    /// Store the API errors of log files (plain or gzip) or standard input in ClickHouse
    #[command(long_about = INGEST_ABOUT, after_help = INGEST_EXAMPLES)]
    Ingest(IngestArgs),

    /// Show every stored event of one correlation id, oldest first
    #[command(after_help = LOOKUP_EXAMPLES)]
    Lookup(LookupArgs),

    /// Consume client logs from Kafka and store their API errors in ClickHouse, until stopped
    #[command(long_about = RUN_ABOUT, after_help = RUN_EXAMPLES)]
    Run(RunArgs),

    /// Serve the HTTP API and page over what ClickHouse holds, without consuming
    #[command(long_about = SERVE_ABOUT, after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),

    /// Write realistic synthetic client logs to standard output or Kafka, for demos and load tests
    #[command(long_about = GENERATE_ABOUT, after_help = GENERATE_EXAMPLES)]
    Generate(GenerateArgs),

    /// Print a shell's completion script for errwatch: bash, zsh, fish, elvish or powershell
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),

    /// Try errwatch on one machine: generated traffic through a local Kafka into ClickHouse
    #[command(long_about = DEMO_ABOUT, after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
}

/// Where ClickHouse is: every command that stores or reads events takes these.
#[derive(clap::Args)]
pub struct ClickHouseArgs {
    /// ClickHouse HTTP URL
    #[arg(long = "clickhouse-url", env = "ERRWATCH_CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    pub url: String,

    /// Database to use; migrate, ingest, run, serve and demo create it when missing
    #[arg(long = "clickhouse-database", env = "ERRWATCH_CLICKHOUSE_DATABASE", default_value = "errwatch")]
    pub database: String,

    /// ClickHouse user
    #[arg(long = "clickhouse-user", env = "ERRWATCH_CLICKHOUSE_USER")]
    pub user: Option<String>,

    /// ClickHouse password (prefer the environment variable: arguments are visible to other users)
    #[arg(long = "clickhouse-password", env = "ERRWATCH_CLICKHOUSE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// LZ4-compress inserts: auto (yes, unless the server is on this machine), lz4 or none
    #[arg(
        long = "clickhouse-compression",
        value_name = "MODE",
        env = "ERRWATCH_CLICKHOUSE_COMPRESSION",
        default_value = "auto"
    )]
    pub compression: InsertCompression,
}

impl std::fmt::Debug for ClickHouseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseArgs")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for HttpArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpArgs").field("http_addr", &self.http_addr).finish_non_exhaustive()
    }
}

impl ClickHouseArgs {
    pub fn settings(self) -> store::Settings {
        store::Settings {
            url: self.url,
            database: self.database,
            user: self.user,
            password: self.password,
            compression: self.compression,
        }
    }
}

/// How long `migrate`, `ingest` and `lookup` wait for ClickHouse: not at all unless asked.
#[derive(clap::Args, Debug)]
pub struct OneShotWaitArgs {
    /// Seconds to wait at start for a ClickHouse server that cannot be reached yet (one
    /// starting beside errwatch); 0 fails at once
    #[arg(
        long = "wait-for-clickhouse",
        value_name = "SECONDS",
        env = "ERRWATCH_WAIT_FOR_CLICKHOUSE",
        default_value_t = 0
    )]
    pub seconds: u64,
}

impl OneShotWaitArgs {
    pub fn wait(&self) -> WaitForClickHouse {
        WaitForClickHouse::from_seconds(self.seconds)
    }
}

/// How long `run`, `serve` and `demo` wait for ClickHouse: for as long as it takes unless
/// limited, since services started together come up in any order.
#[derive(clap::Args, Debug)]
pub struct LongRunningWaitArgs {
    /// Seconds to wait at start for a ClickHouse server that cannot be reached yet, /healthz
    /// answering meanwhile; 0 fails at once [default: forever]
    #[arg(long = "wait-for-clickhouse", value_name = "SECONDS", env = "ERRWATCH_WAIT_FOR_CLICKHOUSE")]
    pub seconds: Option<u64>,
}

impl LongRunningWaitArgs {
    pub fn wait(&self) -> WaitForClickHouse {
        self.seconds.map_or(WaitForClickHouse::Forever, WaitForClickHouse::from_seconds)
    }
}

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: OneShotWaitArgs,

    /// Also drop daily partitions older than this many days
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
}

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Log files to read, plain or gzip; `-` for standard input
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: OneShotWaitArgs,

    /// Records longer than this many bytes are quarantined
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,

    /// Bytes of each record kept in the raw columns
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RAW_CAP)]
    pub raw_cap: usize,

    /// Rows per insert, at most
    #[arg(long, value_name = "ROWS", default_value_t = SinkSettings::default().max_rows)]
    pub batch_rows: usize,

    /// Milliseconds a batch may wait before it is sent, also while the input pauses
    #[arg(long, value_name = "MS", env = "ERRWATCH_BATCH_DELAY_MS", default_value_t = 1000)]
    pub batch_delay_ms: u64,

    /// Drop daily partitions older than this many days before ingesting
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    pub retention_days: Option<u32>,

    /// No progress output
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kafka bootstrap servers, comma-separated
    #[arg(long, value_name = "SERVERS", env = "ERRWATCH_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,

    /// Topics to consume, comma-separated; a name starting with ^ is a regular expression
    /// (needed: from the flag, the environment or the configuration file)
    #[arg(long, value_name = "TOPICS", env = "ERRWATCH_KAFKA_TOPICS", value_delimiter = ',')]
    pub kafka_topics: Vec<String>,

    /// Consumer group; processes in one group share the partitions
    #[arg(long, value_name = "GROUP", env = "ERRWATCH_KAFKA_GROUP", default_value = "errwatch")]
    pub kafka_group: String,

    /// Any librdkafka setting, as KEY=VALUE (repeatable): security.protocol, sasl.*, ssl.*, ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub kafka_options: Vec<(String, String)>,

    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: LongRunningWaitArgs,

    /// Records longer than this many bytes are quarantined
    #[arg(long, value_name = "BYTES", env = "ERRWATCH_MAX_RECORD_BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,

    /// Bytes of each record kept in the raw columns
    #[arg(long, value_name = "BYTES", env = "ERRWATCH_RAW_CAP", default_value_t = DEFAULT_RAW_CAP)]
    pub raw_cap: usize,

    /// Rows per insert, at most (a batch is also sent after --batch-delay-ms)
    #[arg(long, value_name = "ROWS", env = "ERRWATCH_BATCH_ROWS", default_value_t = SinkSettings::default().max_rows)]
    pub batch_rows: usize,

    /// Milliseconds a batch may wait before it is sent
    #[arg(long, value_name = "MS", env = "ERRWATCH_BATCH_DELAY_MS", default_value_t = 1000)]
    pub batch_delay_ms: u64,

    /// Drop daily partitions older than this many days, at start and every hour
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    pub retention_days: Option<u32>,

    /// Seconds the final flush may take at shutdown
    #[arg(long, value_name = "SECONDS", env = "ERRWATCH_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    #[command(flatten)]
    pub http: HttpArgs,

    /// Print the effective configuration (secrets redacted) and exit
    #[arg(long)]
    pub print_config: bool,
}

#[derive(clap::Args)]
pub struct HttpArgs {
    /// Address of the HTTP server (API, page, /metrics, /healthz, /readyz); port 0 picks a
    /// free port and logs it
    #[arg(long, value_name = "ADDRESS", env = "ERRWATCH_HTTP_ADDR", default_value = crate::http::DEFAULT_ADDRESS)]
    pub http_addr: std::net::SocketAddr,

    /// Distinct service names kept as metric labels; later ones count as "other"
    #[arg(long, value_name = "NAMES", env = "ERRWATCH_METRICS_SERVICE_CAP", default_value_t = DEFAULT_SERVICE_CAP)]
    pub metrics_service_cap: usize,

    /// Bearer token that /api/* and the page require (at least 16 characters); better given in
    /// the environment than on the command line, where other users can read it
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ERRWATCH_API_TOKEN",
        hide_env_values = true,
        conflicts_with = "api_token_file"
    )]
    pub api_token: Option<String>,

    /// File holding the bearer token (surrounding whitespace ignored)
    #[arg(long, value_name = "FILE", env = "ERRWATCH_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,

    /// Require the token for /metrics, /healthz and /readyz too
    #[arg(long, env = "ERRWATCH_TOKEN_FOR_OPERATIONS")]
    pub token_for_operations: bool,

    /// Serve the API to the network without a token (only behind something that authenticates)
    #[arg(long, env = "ERRWATCH_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

impl HttpArgs {
    /// The access rules asked for, checked against the address.
    fn access(&self) -> anyhow::Result<Access> {
        let token = match (&self.api_token, &self.api_token_file) {
            (Some(token), _) => Some(token.trim().to_owned()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the API token file {}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let access = Access { token, token_for_operations: self.token_for_operations };
        access.check(self.http_addr, self.insecure_no_auth)?;
        Ok(access)
    }
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: LongRunningWaitArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    /// Records per second of generated traffic
    #[arg(long, value_name = "RECORDS", default_value_t = 200.0)]
    pub rate: f64,

    /// Seed of the generator; the same seed sends the same records
    #[arg(long)]
    pub seed: Option<u64>,

    /// Partitions of the local topic
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..=64))]
    pub partitions: i32,

    /// Stop after this long (90s, 15m, 2h); runs until Ctrl-C otherwise
    #[arg(long, value_name = "DURATION", value_parser = crate::app::generate::parse_duration)]
    pub duration: Option<Duration>,

    /// Seconds between summary lines
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub summary_every: u64,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: LongRunningWaitArgs,

    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(clap::Args, Debug)]
pub struct LookupArgs {
    /// The correlation id, in any spelling (upper case, braces)
    #[arg(value_name = "ID")]
    pub id: String,

    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    #[command(flatten)]
    pub wait: OneShotWaitArgs,

    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// Read records from this file instead of standard input
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Records longer than this many bytes are answered as unreadable
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,

    /// Records nested deeper than this many levels are answered as unreadable (at most 1024)
    #[arg(long, value_name = "LEVELS", default_value_t = Limits::DEFAULT_MAX_DEPTH, value_parser = parse_max_depth)]
    pub max_depth: usize,
}

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// What goes wrong: steady, throttle-storm, token-expiry, permission-change, outage or tour
    #[arg(long, short, value_name = "NAME", default_value = "steady")]
    pub scenario: crate::generate::Scenario,

    /// Records per second of event time [default: 100]; also paces standard output in real time
    #[arg(long, value_name = "RECORDS")]
    pub rate: Option<f64>,

    /// Stop after this many records
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this much event time (rate × duration records): 90s, 15m, 2h
    #[arg(long, value_name = "DURATION", value_parser = crate::app::generate::parse_duration)]
    pub duration: Option<Duration>,

    /// Seed of the generator; random when not given (and logged, to repeat a run)
    #[arg(long)]
    pub seed: Option<u64>,

    /// Event time of the first record, RFC 3339 (default: now)
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,

    /// Kafka bootstrap servers: write to Kafka instead of standard output
    #[arg(long, value_name = "SERVERS", requires = "topic")]
    pub brokers: Option<String>,

    /// Kafka topic to write to
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,

    /// Any librdkafka producer setting, as KEY=VALUE (repeatable): security.protocol, sasl.*, ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub kafka_options: Vec<(String, String)>,

    /// Write as fast as possible, also to Kafka (event times still advance by 1/rate)
    #[arg(long)]
    pub no_pacing: bool,
}

/// A depth limit the document parser can honour: deeper documents are never parsed.
fn parse_max_depth(text: &str) -> Result<usize, String> {
    let levels: usize = text.parse().map_err(|_| format!("not a number of levels: {text:?}"))?;
    if levels > crate::json::MAX_NESTING {
        return Err(format!("at most {} levels", crate::json::MAX_NESTING));
    }
    Ok(levels)
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// A rate of records per second, as `--rate` takes it.
fn positive_rate(rate: f64) -> anyhow::Result<f64> {
    if !(rate.is_finite() && rate > 0.0) {
        anyhow::bail!("--rate must be a positive number of records per second, not {rate}");
    }
    Ok(rate)
}

impl HttpArgs {
    pub fn settings(&self) -> anyhow::Result<HttpSettings> {
        Ok(HttpSettings { address: self.http_addr, access: self.access()?, service_cap: self.metrics_service_cap })
    }
}

/// How often `run` drops old partitions: daily partitions age by the day, so an hour late at
/// most is soon enough.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

impl RunArgs {
    /// The settings of `errwatch run`, with the configuration file's librdkafka settings
    /// ahead of those on the command line, so that a flag wins.
    pub fn settings(self, file_kafka_options: Vec<(String, String)>) -> anyhow::Result<RunSettings> {
        let kafka = KafkaSettings {
            brokers: self.kafka_brokers,
            topics: self
                .kafka_topics
                .iter()
                .map(|topic| topic.trim().to_owned())
                .filter(|topic| !topic.is_empty())
                .collect(),
            group: self.kafka_group,
            extra: file_kafka_options.into_iter().chain(self.kafka_options).collect(),
        };
        let pipeline = PipelineSettings {
            limits: record_limits(self.max_record_bytes),
            raw_cap: self.raw_cap,
            sink: batching(self.batch_rows, self.batch_delay_ms),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            retention: self.retention_days.map(|days| Retention { days, every: RETENTION_EVERY }),
            ..PipelineSettings::for_kafka(kafka)
        };
        Ok(RunSettings {
            pipeline,
            store: self.clickhouse.settings(),
            http: self.http.settings()?,
            wait: self.wait.wait(),
        })
    }
}

/// The record size limit `--max-record-bytes` asks for, the other limits at their defaults.
fn record_limits(max_record_bytes: usize) -> Limits {
    Limits { max_record_bytes, ..Limits::default() }
}

/// Batches of `--batch-rows` rows at most (one at the least), sent after `--batch-delay-ms`.
fn batching(batch_rows: usize, batch_delay_ms: u64) -> SinkSettings {
    SinkSettings {
        max_rows: batch_rows.max(1),
        max_delay: Duration::from_millis(batch_delay_ms),
        ..SinkSettings::default()
    }
}

impl IngestArgs {
    pub fn options(&self) -> IngestOptions {
        IngestOptions {
            limits: record_limits(self.max_record_bytes),
            raw_cap: self.raw_cap,
            sink: batching(self.batch_rows, self.batch_delay_ms),
            progress: if self.quiet { Progress::Quiet } else { Progress::detect() },
        }
    }
}

impl ClassifyArgs {
    pub fn limits(&self) -> Limits {
        Limits { max_record_bytes: self.max_record_bytes, max_depth: self.max_depth }
    }
}

impl DemoArgs {
    pub fn options(&self) -> anyhow::Result<DemoOptions> {
        Ok(DemoOptions {
            rate: positive_rate(self.rate)?,
            seed: self.seed.unwrap_or_else(|| crate::Guid::new_random().as_u128() as u64),
            partitions: self.partitions,
            duration: self.duration,
            summary_every: Duration::from_secs(self.summary_every.max(1)),
            // The server's own address, once it listens.
            http_address: self.http.http_addr,
        })
    }
}

impl GenerateArgs {
    pub fn settings(self) -> anyhow::Result<GenerateSettings> {
        let start = match &self.start {
            Some(text) => Some(
                Timestamp::parse_field(text)
                    .with_context(|| format!("--start {text:?} is not a time; write it like 2026-11-26T10:00:00Z"))?,
            ),
            None => None,
        };
        Ok(GenerateSettings {
            scenario: self.scenario,
            rate: self.rate.map(positive_rate).transpose()?,
            count: self.count,
            duration: self.duration,
            seed: self.seed,
            start,
            kafka: self.brokers.zip(self.topic),
            kafka_options: self.kafka_options,
            no_pacing: self.no_pacing,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// What `arguments` ask of the wait for ClickHouse.
    fn check(arguments: &[&str], expected: WaitForClickHouse) {
        let wait = match Cli::try_parse_from(arguments).unwrap().command {
            Command::Migrate(args) => args.wait.wait(),
            Command::Ingest(args) => args.wait.wait(),
            Command::Lookup(args) => args.wait.wait(),
            Command::Run(args) => args.wait.wait(),
            Command::Serve(args) => args.wait.wait(),
            Command::Demo(args) => args.wait.wait(),
            other => panic!("{other:?} does not reach ClickHouse"),
        };
        assert_eq!(wait, expected, "{arguments:?}");
    }

    #[test]
    fn one_shot_commands_fail_fast_and_services_wait_unless_told_otherwise() {
        let id = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        let seconds = |seconds| WaitForClickHouse::AtMost(Duration::from_secs(seconds));
        check(&["errwatch", "migrate"], WaitForClickHouse::FailFast);
        check(&["errwatch", "ingest", "a.log"], WaitForClickHouse::FailFast);
        check(&["errwatch", "lookup", id], WaitForClickHouse::FailFast);
        check(&["errwatch", "migrate", "--wait-for-clickhouse", "30"], seconds(30));
        check(&["errwatch", "lookup", id, "--wait-for-clickhouse", "5"], seconds(5));
        check(&["errwatch", "run"], WaitForClickHouse::Forever);
        check(&["errwatch", "serve"], WaitForClickHouse::Forever);
        check(&["errwatch", "demo"], WaitForClickHouse::Forever);
        check(&["errwatch", "serve", "--wait-for-clickhouse", "60"], seconds(60));
        check(&["errwatch", "run", "--wait-for-clickhouse", "0"], WaitForClickHouse::FailFast);
    }
}
