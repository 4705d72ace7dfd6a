//! The `errwatch` command line.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::sync::Arc;

use errwatch::app::ingest::{IngestOptions, Progress};
use errwatch::http::Access;
use errwatch::metrics::{Metrics, DEFAULT_SERVICE_CAP};
use errwatch::pipeline::{PipelineSettings, Retention};
use errwatch::source::file::InputPath;
use errwatch::source::kafka::KafkaSettings;
use errwatch::store::{InsertCompression, SinkSettings, Store, StoreError, DEFAULT_RAW_CAP};
use errwatch::{CorrelationId, Limits};
use tracing::info;

#[derive(Parser)]
#[command(
    name = "errwatch",
    version,
    about = "Find, classify and store Defender for Endpoint API errors from client logs"
)]
#[command(propagate_version = true, after_help = CONFIG_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify log records, one per line, and print one JSON object per record
    #[command(long_about = CLASSIFY_ABOUT, after_help = CLASSIFY_EXAMPLES)]
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

    /// Try errwatch on one machine: generated traffic through a local Kafka into ClickHouse
    #[command(long_about = DEMO_ABOUT, after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
}

const DEMO_ABOUT: &str = "\
Try errwatch on one machine, without a Kafka cluster: a Kafka cluster inside the process
(librdkafka's mock brokers, the real protocol on loopback), the traffic generator cycling
through every scenario (steady traffic, a throttle storm, token expiry, a permission change,
an outage), the real consumer pipeline into ClickHouse, the HTTP API, the page and /metrics.
It prints the URLs and a few correlation ids to try, then a summary line every few seconds.
Ctrl-C stops it cleanly.

Events go to the ClickHouse at ERRWATCH_CLICKHOUSE_URL, database ERRWATCH_CLICKHOUSE_DATABASE
(errwatch by default), so `errwatch lookup` finds them afterwards. ./scripts/demo.sh starts a
local ClickHouse first when none is configured.";

const DEMO_EXAMPLES: &str = "\
Examples:
  ./scripts/demo.sh
  errwatch demo --rate 500 --duration 5m
  ERRWATCH_HTTP_ADDR=127.0.0.1:8080 errwatch demo";

const SERVE_ABOUT: &str = "\
Serve the HTTP API and the on-call page over what ClickHouse holds, without consuming Kafka:
for a query node apart from the consumers. `errwatch run` serves the same endpoints itself.

Endpoints: / (the page), /healthz, /readyz, /metrics, /api/v1/correlations/{id},
/api/v1/errors/summary, /api/v1/errors/timeseries and /api/v1/openapi.json.";

const SERVE_EXAMPLES: &str = "\
Examples:
  errwatch serve
  ERRWATCH_HTTP_ADDR=127.0.0.1:0 errwatch serve      # a free port, logged at start
  curl -s localhost:9188/api/v1/correlations/43f4cb08-8fac-4b65-9db1-745c2ae65f3a";

const RUN_ABOUT: &str = "\
Consume client logs from Kafka and store their API errors in ClickHouse, until SIGTERM or SIGINT.

Every error event reaches ClickHouse exactly once, through crashes, restarts and rebalances:
offsets are committed only after the events are stored, and a partition that is assigned is
read from its committed offset without storing again what ClickHouse already holds. Unreadable
records go to the quarantine table. When ClickHouse is slow or down, consumption pauses and resumes by itself.
On SIGTERM or SIGINT errwatch stops reading, stores what it read, commits and exits 0.";

const RUN_EXAMPLES: &str = "\
Settings may also come from a TOML file: --config FILE or ERRWATCH_CONFIG (see errwatch --help).

Examples:
  ERRWATCH_KAFKA_BROKERS=kafka:9092 ERRWATCH_KAFKA_TOPICS=mde-client-logs errwatch run
  errwatch run --config /etc/errwatch/errwatch.toml
  errwatch run --kafka-topics '^mde-.*' --kafka-option security.protocol=SASL_SSL \\
      --kafka-option sasl.mechanism=PLAIN --kafka-option sasl.username=errwatch";

const CONFIG_HELP: &str = "\
Settings come from flags, then ERRWATCH_* environment variables, then an optional TOML file
given with --config FILE (or ERRWATCH_CONFIG): a key `kafka_brokers = \"kafka:9092\"` stands for
ERRWATCH_KAFKA_BROKERS, and a [librdkafka] table holds librdkafka settings.";

const INGEST_ABOUT: &str = "\
Store the API errors of log files (plain or gzip) or standard input in ClickHouse.

Every error is stored with its correlation id and its position (the input's identity, from
its first KiB, and the line number); unreadable records go to the quarantine table. Ingesting
the same file again stores nothing twice: each input resumes after the last line stored.
The database and tables are created or migrated first.";

const INGEST_EXAMPLES: &str = "\
Examples:
  errwatch ingest /var/log/mde-sync/*.log
  errwatch ingest client.log.gz --retention-days 30
  journalctl -u mde-sync -o cat | errwatch ingest -";

const LOOKUP_EXAMPLES: &str = "\
Examples:
  errwatch lookup 43f4cb08-8fac-4b65-9db1-745c2ae65f3a
  errwatch lookup '{43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A}' --json | jq .

Exit status: 0 when events were found, 1 when none were, 2 on an error.";

/// Where ClickHouse is: every command that stores or reads events takes these.
#[derive(clap::Args, Debug)]
struct ClickHouseArgs {
    /// ClickHouse HTTP URL
    #[arg(long = "clickhouse-url", env = "ERRWATCH_CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    url: String,

    /// Database to use; created by migrate when missing
    #[arg(long = "clickhouse-database", env = "ERRWATCH_CLICKHOUSE_DATABASE", default_value = "errwatch")]
    database: String,

    /// ClickHouse user
    #[arg(long = "clickhouse-user", env = "ERRWATCH_CLICKHOUSE_USER")]
    user: Option<String>,

    /// ClickHouse password (prefer the environment variable: arguments are visible to other users)
    #[arg(long = "clickhouse-password", env = "ERRWATCH_CLICKHOUSE_PASSWORD", hide_env_values = true)]
    password: Option<String>,

    /// LZ4-compress inserts: auto (yes, unless the server is on this machine), lz4 or none
    #[arg(
        long = "clickhouse-compression",
        value_name = "MODE",
        env = "ERRWATCH_CLICKHOUSE_COMPRESSION",
        default_value = "auto"
    )]
    compression: InsertCompression,
}

impl ClickHouseArgs {
    fn store(&self) -> anyhow::Result<Store> {
        let settings = errwatch::store::Settings {
            url: self.url.clone(),
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            compression: self.compression,
        };
        Ok(Store::new(settings)?)
    }
}

#[derive(clap::Args)]
struct MigrateArgs {
    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    /// Also drop daily partitions older than this many days
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    retention_days: Option<u32>,
}

#[derive(clap::Args)]
struct IngestArgs {
    /// Log files to read, plain or gzip; `-` for standard input
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<String>,

    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    /// Records longer than this many bytes are quarantined
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,

    /// Bytes of each record kept in the raw columns
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RAW_CAP)]
    raw_cap: usize,

    /// Rows per insert, at most
    #[arg(long, value_name = "ROWS", default_value_t = SinkSettings::default().max_rows)]
    batch_rows: usize,

    /// Drop daily partitions older than this many days before ingesting
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    retention_days: Option<u32>,

    /// No progress output
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Kafka bootstrap servers, comma-separated
    #[arg(long, env = "ERRWATCH_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    kafka_brokers: String,

    /// Topics to consume, comma-separated; a name starting with ^ is a regular expression
    #[arg(long, env = "ERRWATCH_KAFKA_TOPICS", value_delimiter = ',', required = true)]
    kafka_topics: Vec<String>,

    /// Consumer group; processes in one group share the partitions
    #[arg(long, env = "ERRWATCH_KAFKA_GROUP", default_value = "errwatch")]
    kafka_group: String,

    /// Any librdkafka setting, as KEY=VALUE (repeatable): security.protocol, sasl.*, ssl.*, ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    kafka_options: Vec<(String, String)>,

    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    /// Records longer than this many bytes are quarantined
    #[arg(long, value_name = "BYTES", env = "ERRWATCH_MAX_RECORD_BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,

    /// Bytes of each record kept in the raw columns
    #[arg(long, value_name = "BYTES", env = "ERRWATCH_RAW_CAP", default_value_t = DEFAULT_RAW_CAP)]
    raw_cap: usize,

    /// Rows per insert, at most (a batch is also sent after --batch-delay-ms)
    #[arg(long, value_name = "ROWS", env = "ERRWATCH_BATCH_ROWS", default_value_t = SinkSettings::default().max_rows)]
    batch_rows: usize,

    /// Milliseconds a batch may wait before it is sent
    #[arg(long, value_name = "MS", env = "ERRWATCH_BATCH_DELAY_MS", default_value_t = 1000)]
    batch_delay_ms: u64,

    /// Drop daily partitions older than this many days, at start and every hour
    #[arg(long, value_name = "DAYS", env = "ERRWATCH_RETENTION_DAYS")]
    retention_days: Option<u32>,

    /// Seconds the final flush may take at shutdown
    #[arg(long, value_name = "SECONDS", env = "ERRWATCH_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    shutdown_timeout: u64,

    #[command(flatten)]
    http: HttpArgs,

    /// Print the effective configuration (secrets redacted) and exit
    #[arg(long)]
    print_config: bool,
}

#[derive(clap::Args)]
struct HttpArgs {
    /// Address of the HTTP server (API, page, /metrics, /healthz, /readyz); port 0 picks a
    /// free port and logs it
    #[arg(long, value_name = "ADDRESS", env = "ERRWATCH_HTTP_ADDR", default_value = errwatch::http::DEFAULT_ADDRESS)]
    http_addr: std::net::SocketAddr,

    /// Distinct service names kept as metric labels; later ones count as "other"
    #[arg(long, value_name = "NAMES", env = "ERRWATCH_METRICS_SERVICE_CAP", default_value_t = DEFAULT_SERVICE_CAP)]
    metrics_service_cap: usize,

    /// Bearer token that /api/* and the page require (at least 16 characters); better given in
    /// the environment than on the command line, where other users can read it
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ERRWATCH_API_TOKEN",
        hide_env_values = true,
        conflicts_with = "api_token_file"
    )]
    api_token: Option<String>,

    /// File holding the bearer token (surrounding whitespace ignored)
    #[arg(long, value_name = "FILE", env = "ERRWATCH_API_TOKEN_FILE")]
    api_token_file: Option<PathBuf>,

    /// Require the token for /metrics, /healthz and /readyz too
    #[arg(long, env = "ERRWATCH_TOKEN_FOR_OPERATIONS")]
    token_for_operations: bool,

    /// Serve the API to the network without a token (only behind something that authenticates)
    #[arg(long, env = "ERRWATCH_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
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

#[derive(clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    #[command(flatten)]
    http: HttpArgs,

    /// Records per second of generated traffic
    #[arg(long, value_name = "RECORDS", default_value_t = 200.0)]
    rate: f64,

    /// Seed of the generator; the same seed sends the same records
    #[arg(long)]
    seed: Option<u64>,

    /// Partitions of the local topic
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..=64))]
    partitions: i32,

    /// Stop after this long (90s, 15m, 2h); runs until Ctrl-C otherwise
    #[arg(long, value_name = "DURATION", value_parser = errwatch::app::generate::parse_duration)]
    duration: Option<std::time::Duration>,

    /// Seconds between summary lines
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    summary_every: u64,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    #[command(flatten)]
    http: HttpArgs,
}

/// A depth limit the document parser can honour: deeper documents are never parsed.
fn parse_max_depth(text: &str) -> Result<usize, String> {
    let levels: usize = text.parse().map_err(|_| format!("not a number of levels: {text:?}"))?;
    if levels > errwatch::json::MAX_NESTING {
        return Err(format!("at most {} levels", errwatch::json::MAX_NESTING));
    }
    Ok(levels)
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[derive(clap::Args)]
struct LookupArgs {
    /// The correlation id, in any spelling (upper case, braces)
    #[arg(value_name = "ID")]
    id: String,

    #[command(flatten)]
    clickhouse: ClickHouseArgs,

    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

const CLASSIFY_ABOUT: &str = "\
Classify log records, one per line, and print one JSON object per record, in input order.

Each output line has these fields (null when the record does not say):
  envelope             true when the record is a failed API call
  family               body shape: mde, graph, rest, odata_v3, aad, or status_only (no body)
  code                 canonical code (Defender's table spelling; aliases mapped), else as written
  raw_code             the code as the record wrote it
  http_status          the call's HTTP status; also kept for successful calls (below 400)
  category             throttling, authentication, authorization, not_found, timeout, server,
                       bad_request, or unknown
  retryable            whether retrying the same call can succeed
  retry                after_delay (honour Retry-After), refresh_token, backoff, or none
  retry_after_seconds  the Retry-After delay, in seconds
  correlation_id       the id to give Microsoft support, as a lowercase GUID
  message              the API's message
  inner_codes          codes nested below the winning code, in document order
  timestamp            the record's own time, RFC 3339 in UTC with milliseconds
  service, method, url, host, api, tenant_id
                       who called what (api is the path with ids replaced by {id})
  error                present only for a record that cannot be read: why

A record that is not valid UTF-8, longer than --max-record-bytes or nested deeper than
--max-depth is still answered, with \"envelope\":false and an \"error\" field.";

const CLASSIFY_EXAMPLES: &str = "\
Examples:
  errwatch classify --input client.log
  kubectl logs deploy/mde-sync | errwatch classify | jq 'select(.envelope) | .code'";

#[derive(clap::Args)]
struct ClassifyArgs {
    /// Read records from this file instead of standard input
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,

    /// Records longer than this many bytes are answered as unreadable
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,

    /// Records nested deeper than this many levels are answered as unreadable (at most 1024)
    #[arg(long, value_name = "LEVELS", default_value_t = Limits::DEFAULT_MAX_DEPTH, value_parser = parse_max_depth)]
    max_depth: usize,
}

/// How often `run` drops old partitions: daily partitions age by the day, so an hour late at
/// most is soon enough.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

fn main() -> ExitCode {
    let arguments = match with_config_file(std::env::args_os().collect()) {
        Ok(arguments) => arguments,
        Err(error) => {
            eprintln!("errwatch: {error:#}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(arguments);
    init_logging();
    let result = match cli.command {
        Command::Classify(args) => classify(args).map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => migrate(args).map(|()| ExitCode::SUCCESS),
        Command::Ingest(args) => ingest(args).map(|()| ExitCode::SUCCESS),
        Command::Lookup(args) => lookup(args),
        Command::Run(args) => run(args).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => serve(args).map(|()| ExitCode::SUCCESS),
        Command::Generate(args) => generate(args).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => demo(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("errwatch: {}", explain(&error));
            ExitCode::from(2)
        }
    }
}

/// Applies the TOML file named by `--config FILE` or `ERRWATCH_CONFIG`: each top-level key
/// `name` sets `ERRWATCH_NAME` unless the environment already does (so flags, then the
/// environment, then the file decide), and a `[librdkafka]` table adds `--kafka-option`s
/// ahead of those on the command line.
fn with_config_file(mut arguments: Vec<std::ffi::OsString>) -> anyhow::Result<Vec<std::ffi::OsString>> {
    let mut path = std::env::var_os("ERRWATCH_CONFIG").map(PathBuf::from);
    let mut index = 0;
    while index < arguments.len() {
        let argument = arguments.get(index).and_then(|a| a.to_str()).unwrap_or_default().to_owned();
        if argument == "--config" {
            let value = arguments.get(index + 1).cloned().context("--config needs a file")?;
            path = Some(PathBuf::from(value));
            arguments.drain(index..index + 2);
        } else if let Some(value) = argument.strip_prefix("--config=") {
            path = Some(PathBuf::from(value));
            arguments.remove(index);
        } else {
            index += 1;
        }
    }
    let Some(path) = path else { return Ok(arguments) };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    // A misspelt key would otherwise be ignored without a word, and its setting silently
    // left at the default.
    let known = settings_from_environment();
    for key in table.keys().filter(|key| *key != "librdkafka") {
        if !known.contains(&variable_for(key)) {
            let names: Vec<String> = known
                .iter()
                .filter_map(|variable| variable.strip_prefix("ERRWATCH_"))
                .map(str::to_ascii_lowercase)
                .collect();
            bail!(
                "{}: unknown setting `{key}`; settings are {} and a [librdkafka] table",
                path.display(),
                names.join(", ")
            );
        }
    }
    let mut kafka_options = Vec::new();
    for (key, value) in table {
        if key == "librdkafka" {
            let options = value.as_table().context("[librdkafka] must be a table of librdkafka settings")?;
            for (name, setting) in options {
                let setting = match setting {
                    toml::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                kafka_options.push(format!("--kafka-option={name}={setting}").into());
            }
            continue;
        }
        let variable = variable_for(&key);
        if std::env::var_os(&variable).is_some() {
            continue;
        }
        let value = match value {
            toml::Value::String(text) => text,
            toml::Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            toml::Value::Table(_) => bail!("{}: `{key}` must be a value, not a table", path.display()),
            other => other.to_string(),
        };
        std::env::set_var(variable, value);
    }
    // librdkafka settings go right after the subcommand, so that flags given later win.
    if !kafka_options.is_empty() && arguments.get(1).is_some_and(|command| command == "run") {
        let tail = arguments.split_off(2);
        arguments.extend(kafka_options);
        arguments.extend(tail);
    }
    Ok(arguments)
}

/// The environment variable a configuration file key stands for.
fn variable_for(key: &str) -> String {
    format!("ERRWATCH_{}", key.to_ascii_uppercase().replace(['-', '.'], "_"))
}

/// Every `ERRWATCH_*` variable some command reads a setting from, sorted: the flags' and the
/// log level's.
fn settings_from_environment() -> Vec<String> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut variables: Vec<String> = command
        .get_subcommands()
        .flat_map(|subcommand| subcommand.get_arguments())
        .filter_map(|argument| argument.get_env())
        .filter_map(|variable| variable.to_str())
        .chain(["ERRWATCH_LOG"])
        .filter(|variable| variable.starts_with("ERRWATCH_") && *variable != "ERRWATCH_CONFIG")
        .map(str::to_owned)
        .collect();
    variables.sort();
    variables.dedup();
    variables
}

/// Log lines on standard error; `ERRWATCH_LOG` (e.g. `debug`, `errwatch=trace`) sets the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ERRWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_target(false)
        .init();
}

/// One line for the user, with what to do next where we know it.
fn explain(error: &anyhow::Error) -> String {
    let message = format!("{error:#}");
    match error.chain().find_map(|cause| cause.downcast_ref::<StoreError>()) {
        Some(StoreError::Unreachable { url, .. }) => format!(
            "{message}; start a local server with ./scripts/clickhouse.sh, or set ERRWATCH_CLICKHOUSE_URL \
             (now {url}) to your server's HTTP URL"
        ),
        _ => message,
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
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

fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let store = args.clickhouse.store()?;
    runtime()?.block_on(prepare(&store, args.retention_days))?;
    info!(url = %store.settings().url, database = %store.settings().database, "schema is up to date");
    Ok(())
}

fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let inputs: Vec<InputPath> = args.inputs.iter().map(|argument| InputPath::parse(argument)).collect();
    for input in &inputs {
        if let InputPath::File(path) = input {
            errwatch::source::file::check_readable(path).with_context(|| format!("cannot open {}", path.display()))?;
        }
    }
    let store = args.clickhouse.store()?;
    let runtime = runtime()?;
    runtime.block_on(prepare(&store, args.retention_days))?;
    let options = IngestOptions {
        limits: Limits { max_record_bytes: args.max_record_bytes, ..Limits::default() },
        raw_cap: args.raw_cap,
        sink: SinkSettings { max_rows: args.batch_rows.max(1), ..SinkSettings::default() },
        progress: if args.quiet { Progress::Quiet } else { Progress::detect() },
    };
    let started = std::time::Instant::now();
    let summary = errwatch::app::ingest::run(&runtime, &store, &inputs, &options)?;
    let elapsed = started.elapsed().as_secs_f64();
    info!(
        records = summary.records,
        already_stored = summary.skipped,
        errors_stored = summary.errors_stored,
        quarantined = summary.quarantined,
        seconds = format!("{elapsed:.1}"),
        records_per_second = (summary.records as f64 / elapsed.max(1e-3)) as u64,
        "ingest finished"
    );
    Ok(())
}

fn lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let Some(id) = CorrelationId::parse(&args.id) else {
        bail!("{:?} is not a correlation id: expected a GUID such as 43f4cb08-8fac-4b65-9db1-745c2ae65f3a", args.id);
    };
    let store = args.clickhouse.store()?;
    let events = runtime()?.block_on(async {
        store.ping().await?;
        store.lookup(id).await
    })?;
    if events.is_empty() {
        eprintln!("errwatch: no events for correlation id {id} in database {}", store.settings().database);
        return Ok(ExitCode::FAILURE);
    }
    let output =
        if args.json { errwatch::app::lookup::json_array(&events) } else { errwatch::app::lookup::table(&events) };
    io::Write::write_all(&mut io::stdout().lock(), output.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn classify(args: ClassifyArgs) -> anyhow::Result<()> {
    let limits = Limits { max_record_bytes: args.max_record_bytes, max_depth: args.max_depth };
    let stdout = io::stdout().lock();
    match args.input {
        Some(path) => {
            let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            errwatch::app::classify::run(BufReader::with_capacity(256 * 1024, file), stdout, &limits)
                .with_context(|| format!("while classifying {}", path.display()))?;
        }
        None => {
            errwatch::app::classify::run(BufReader::with_capacity(256 * 1024, io::stdin()), stdout, &limits)
                .context("while classifying standard input")?;
        }
    }
    Ok(())
}

/// A reader that stopped early (`| head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let settings = PipelineSettings {
        kafka: KafkaSettings {
            brokers: args.kafka_brokers.clone(),
            topics: args
                .kafka_topics
                .iter()
                .map(|topic| topic.trim().to_owned())
                .filter(|topic| !topic.is_empty())
                .collect(),
            group: args.kafka_group.clone(),
            extra: args.kafka_options.clone(),
        },
        limits: Limits { max_record_bytes: args.max_record_bytes, ..Limits::default() },
        raw_cap: args.raw_cap,
        sink: SinkSettings {
            max_rows: args.batch_rows.max(1),
            max_delay: std::time::Duration::from_millis(args.batch_delay_ms),
            ..SinkSettings::default()
        },
        queue_capacity: PipelineSettings::DEFAULT_QUEUE_CAPACITY,
        shutdown_timeout: std::time::Duration::from_secs(args.shutdown_timeout),
        retention: args.retention_days.map(|days| Retention { days, every: RETENTION_EVERY }),
    };
    let store = args.clickhouse.store()?;
    if args.print_config {
        let mut out = io::stdout().lock();
        writeln!(out, "kafka = {:?}", settings.kafka)?;
        writeln!(out, "clickhouse = {:?}", store.settings())?;
        writeln!(out, "limits = {:?}", settings.limits)?;
        writeln!(out, "raw_cap = {}", settings.raw_cap)?;
        writeln!(out, "sink = {:?}", settings.sink)?;
        writeln!(out, "retention_days = {:?}", args.retention_days)?;
        writeln!(out, "shutdown_timeout = {:?}", settings.shutdown_timeout)?;
        writeln!(out, "http_addr = {}", args.http.http_addr)?;
        writeln!(out, "http_access = {:?}", args.http.access()?)?;
        writeln!(out, "metrics_service_cap = {}", args.http.metrics_service_cap)?;
        return Ok(());
    }
    if settings.kafka.topics.is_empty() {
        bail!("no topics to consume: set ERRWATCH_KAFKA_TOPICS or --kafka-topics");
    }
    let runtime = runtime()?;
    runtime.block_on(prepare(&store, args.retention_days))?;
    let metrics = Arc::new(Metrics::new(args.http.metrics_service_cap));
    let http = start_http(&runtime, &args.http, &store, &metrics, true)?;
    let shutdown = errwatch::shutdown::Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let result = errwatch::pipeline::run(&runtime, store, &settings, &metrics, &shutdown);
    drop(signals);
    http.finish(&runtime);
    result?;
    info!("stopped");
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = args.clickhouse.store()?;
    let runtime = runtime()?;
    runtime.block_on(prepare(&store, None))?;
    let metrics = Arc::new(Metrics::new(args.http.metrics_service_cap));
    let mut http = start_http(&runtime, &args.http, &store, &metrics, false)?;
    runtime.block_on(async {
        tokio::select! {
            () = wait_for_signal() => {}
            () = http.failed() => {}
        }
    });
    http.finish(&runtime);
    info!("stopped");
    Ok(())
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    use errwatch::app::demo::{self, DemoOptions};
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of records per second, not {}", args.rate);
    }
    let store = args.clickhouse.store()?;
    let runtime = runtime()?;
    runtime.block_on(prepare(&store, None))?;
    let metrics = Arc::new(Metrics::new(args.http.metrics_service_cap));
    let http = start_http(&runtime, &args.http, &store, &metrics, true)?;
    let options = DemoOptions {
        rate: args.rate,
        seed: args.seed.unwrap_or_else(|| errwatch::Guid::new_random().as_u128() as u64),
        partitions: args.partitions,
        duration: args.duration,
        summary_every: std::time::Duration::from_secs(args.summary_every.max(1)),
        pipeline: PipelineSettings {
            kafka: KafkaSettings {
                brokers: String::new(),
                topics: Vec::new(),
                group: "errwatch-demo".to_owned(),
                extra: Vec::new(),
            },
            limits: Limits::default(),
            raw_cap: DEFAULT_RAW_CAP,
            sink: SinkSettings::default(),
            queue_capacity: PipelineSettings::DEFAULT_QUEUE_CAPACITY,
            shutdown_timeout: std::time::Duration::from_secs(30),
            retention: None,
        },
        http_address: http.address,
    };
    let shutdown = errwatch::shutdown::Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let result = demo::run(&runtime, store, &options, &metrics, &shutdown, &mut io::stdout());
    drop(signals);
    http.finish(&runtime);
    result?;
    info!("stopped");
    Ok(())
}

/// Starts the HTTP server with the access asked for, or says what to change.
fn start_http(
    runtime: &tokio::runtime::Runtime,
    args: &HttpArgs,
    store: &Store,
    metrics: &Arc<Metrics>,
    consuming: bool,
) -> anyhow::Result<errwatch::http::Running> {
    let access = args.access()?;
    errwatch::http::start(runtime, args.http_addr, access, store, metrics, consuming).with_context(|| {
        format!("cannot listen on {}; choose another address with --http-addr or ERRWATCH_HTTP_ADDR", args.http_addr)
    })
}

/// Returns on SIGTERM or SIGINT.
async fn wait_for_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; SIGINT still stops errwatch");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, shutting down"),
    }
}

const GENERATE_ABOUT: &str = "\
Write realistic synthetic client logs of services calling the Defender for Endpoint API and its
Graph, Azure AD Graph, Resource Manager and token-endpoint siblings: mostly successful calls and
ordinary log lines, errors in realistic proportions, in every record shape errwatch reads (JSON
logs of several conventions, text lines, logfmt, PowerShell and Python exception text, bodies
escaped inside JSON strings). For demos, load tests, and trying dashboards and alerts.

Scenarios (--scenario):
  steady             ordinary traffic: about 5% of records are errors, mostly 404 and 400
  throttle-storm     two clients exceed the documented quotas (100 calls a minute and 1,500 an hour
                     per API, 45 a minute for advanced hunting): a surge of 429s with Retry-After
  token-expiry       a client secret expired: token requests fail and API calls get 401
  permission-change  application roles were removed: 403s for the services that lost them
  outage             the Defender API answers 500, 502, 503 and 504 to most calls
  tour               all of them in turn, with steady traffic between: 30 s of steady and 60 s of
                     each incident, in event time, over and over

Records go to standard output, one per line, or with --brokers and --topic to Kafka, keyed by
service, with the event time as the Kafka timestamp. Event times start now (or at --start) and
advance by 1/rate per record: --rate 1000 --duration 10s writes 10,000 records spanning 10 s.
Kafka output is paced at --rate in real time; standard output is written as fast as it is read,
unless --rate is given. The same --seed and --start give the same output, byte for byte.";

const GENERATE_EXAMPLES: &str = "\
Examples:
  errwatch generate --scenario throttle-storm --count 10000 | errwatch classify | jq -r .category | sort | uniq -c
  errwatch generate --scenario tour --rate 200 --brokers 127.0.0.1:9092 --topic mde-client-logs
  errwatch generate --seed 7 --start 2026-11-26T10:00:00Z --rate 1000 --duration 10s > client.log";

#[derive(clap::Args)]
struct GenerateArgs {
    /// What goes wrong: steady, throttle-storm, token-expiry, permission-change, outage or tour
    #[arg(long, short, value_name = "NAME", default_value = "steady")]
    scenario: errwatch::generate::Scenario,

    /// Records per second of event time [default: 100]; also paces standard output in real time
    #[arg(long, value_name = "RECORDS")]
    rate: Option<f64>,

    /// Stop after this many records
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,

    /// Stop after this much event time (rate × duration records): 90s, 15m, 2h
    #[arg(long, value_name = "DURATION", value_parser = errwatch::app::generate::parse_duration)]
    duration: Option<std::time::Duration>,

    /// Seed of the generator; random when not given (and logged, to repeat a run)
    #[arg(long)]
    seed: Option<u64>,

    /// Event time of the first record, RFC 3339 (default: now)
    #[arg(long, value_name = "TIME")]
    start: Option<String>,

    /// Kafka bootstrap servers: write to Kafka instead of standard output
    #[arg(long, value_name = "SERVERS", requires = "topic")]
    brokers: Option<String>,

    /// Kafka topic to write to
    #[arg(long, requires = "brokers")]
    topic: Option<String>,

    /// Any librdkafka producer setting, as KEY=VALUE (repeatable): security.protocol, sasl.*, ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    kafka_options: Vec<(String, String)>,

    /// Write as fast as possible, also to Kafka (event times still advance by 1/rate)
    #[arg(long)]
    no_pacing: bool,
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    use errwatch::app::generate::{run, Options};
    use errwatch::generate::{Generator, Settings};
    use errwatch::timestamp::Timestamp;

    let rate = args.rate.unwrap_or(Settings::DEFAULT_RATE);
    if !(rate.is_finite() && rate > 0.0) {
        bail!("--rate must be a positive number of records per second, not {rate}");
    }
    let start = match &args.start {
        Some(text) => Timestamp::parse_field(text)
            .with_context(|| format!("--start {text:?} is not a time; write it like 2026-11-26T10:00:00Z"))?,
        None => Timestamp::now(),
    };
    let seed = args.seed.unwrap_or_else(|| errwatch::Guid::new_random().as_u128() as u64);
    let from_duration = args.duration.map(|duration| (duration.as_secs_f64() * rate).round() as u64);
    let count = match (args.count, from_duration) {
        (Some(count), Some(from_duration)) => Some(count.min(from_duration)),
        (count, from_duration) => count.or(from_duration),
    };
    let kafka = args.brokers.as_deref().zip(args.topic.as_deref());
    let pace = !args.no_pacing && (kafka.is_some() || args.rate.is_some());
    let mut generator = Generator::new(Settings { scenario: args.scenario, seed, rate, start });
    let options = Options { count, pace };
    info!(scenario = %args.scenario, seed, rate, %start, count, pace, "generating");

    let runtime = runtime()?;
    let stop = errwatch::shutdown::Shutdown::new();
    let signals = stop.on_signals(&runtime);
    let summary = match kafka {
        Some((brokers, topic)) => {
            let mut sink = errwatch::source::kafka::KafkaProducer::connect(brokers, topic, &args.kafka_options)?;
            let summary = run(&mut generator, &options, &stop, |generated| {
                sink.send(generated.label.service.as_bytes(), &generated.record, generated.label.time.unix_millis())
            })?;
            sink.flush(std::time::Duration::from_secs(30))?;
            summary
        }
        None => {
            let mut out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
            let summary = run(&mut generator, &options, &stop, |generated| {
                out.write_all(&generated.record)?;
                out.write_all(b"\n")?;
                // Paced records are for someone watching: each goes out when it is due.
                if pace {
                    out.flush()?;
                }
                Ok::<(), io::Error>(())
            })?;
            out.flush()?;
            summary
        }
    };
    drop(signals);
    let seconds = summary.elapsed.as_secs_f64();
    info!(
        records = summary.records,
        errors = summary.errors,
        seconds = format!("{seconds:.1}"),
        records_per_second = (summary.records as f64 / seconds.max(1e-3)) as u64,
        "generated"
    );
    Ok(())
}
