//! Measures errwatch's storage layer against a ClickHouse server, in-process, through the
//! library's own `Store`. Driven by scripts/bench-storage.sh; it can also be run by hand.
//!
//! ```text
//! storage_bench insert --url URL --database DB --errors FILE [--rows N] [--batch ROWS] [--runs N]
//! storage_bench lookup --url URL --database DB [--ids N] [--warmup N] [--variant store|prewhere]
//! ```
//!
//! `insert` classifies the lines of FILE, builds an `ErrorRow` for each failed call (up to
//! `--rows`), migrates DB, then inserts all the rows with `Store::insert`, `--batch` rows per
//! statement, one statement at a time, `--runs` times. Before each run it truncates
//! `api_errors` and the two tables its materialized views feed. Only the inserts are timed.
//! The rows of the last run are left in place.
//!
//! `lookup` picks `--ids` random correlation ids that are stored in DB, then times
//! `Store::lookup` for each, one after the other, after `--warmup` untimed lookups of other ids.
//! With `--variant prewhere` it times the same statement with PREWHERE instead of WHERE, sent
//! the same way, to show what the query's shape costs.
//!
//! Results go to standard output as `key=value` lines that the script reads.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use clickhouse::Client;

use errwatch::source::Position;
use errwatch::store::{ErrorRow, InsertCompression, Settings, Store, StoredEvent, DEFAULT_RAW_CAP};
use errwatch::timestamp::Timestamp;
use errwatch::{classify, Classification, CorrelationId, Limits};

#[derive(Parser)]
#[command(about = "Storage benchmarks for errwatch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Insert rate of `Store::insert`.
    Insert(InsertArgs),
    /// Latency of `Store::lookup`.
    Lookup(LookupArgs),
}

#[derive(Args)]
struct Server {
    /// ClickHouse HTTP URL.
    #[arg(long, default_value = "http://127.0.0.1:18123")]
    url: String,
    /// Database; `insert` creates and migrates it.
    #[arg(long)]
    database: String,
}

impl Server {
    fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::new(Settings {
            url: self.url.clone(),
            database: self.database.clone(),
            user: None,
            password: None,
            compression: InsertCompression::Auto,
        })?)
    }

    /// A plain client for the queries the store has no method for (18.16 needs no validation).
    fn client(&self) -> Client {
        Client::default().with_url(&self.url).with_database(&self.database).with_validation(false)
    }
}

#[derive(Args)]
struct InsertArgs {
    #[command(flatten)]
    server: Server,
    /// Log file whose failed calls become the rows.
    #[arg(long)]
    errors: std::path::PathBuf,
    /// Rows to build (fewer if the file has fewer failed calls).
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Rows per insert statement.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

#[derive(Args)]
struct LookupArgs {
    #[command(flatten)]
    server: Server,
    /// Correlation ids to time.
    #[arg(long, default_value_t = 1000)]
    ids: usize,
    /// Untimed lookups first, of ids not among the timed ones.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// `store`: `Store::lookup`. `prewhere`: the same query and row type through the same HTTP
    /// client, with the id condition written as PREWHERE (a diagnostic, not errwatch's code).
    #[arg(long, default_value = "store")]
    variant: Variant,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Variant {
    Store,
    Prewhere,
}

/// `Store::lookup`'s statement with PREWHERE in place of WHERE.
const PREWHERE_LOOKUP: &str = "SELECT ?fields FROM api_errors_by_correlation PREWHERE correlation_id = ? \
     ORDER BY event_time, event_millis, source, source_partition, source_offset LIMIT 10000";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("storage_bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Insert(args) => runtime.block_on(insert(args)),
        Command::Lookup(args) => runtime.block_on(lookup(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("storage_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// One `key=value` line on standard output.
fn report(key: &str, value: impl std::fmt::Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{key}={value}")?;
    out.flush()
}

/// The failed calls among the lines of `path`, as rows, as `errwatch ingest` would build them:
/// the position is the line number, and records without a time of their own take `now`.
fn build_rows(path: &std::path::Path, wanted: usize) -> anyhow::Result<(Vec<ErrorRow>, u64)> {
    let input = BufReader::with_capacity(256 * 1024, File::open(path).with_context(|| path.display().to_string())?);
    let limits = Limits::default();
    let now = Timestamp::now();
    let mut rows = Vec::with_capacity(wanted);
    let mut lines = 0u64;
    for (index, line) in input.split(b'\n').enumerate() {
        if rows.len() >= wanted {
            break;
        }
        let line = line?;
        lines += 1;
        if let Classification::ApiError(error) = classify(&line, &limits) {
            let record = std::str::from_utf8(&line).unwrap_or_default();
            let position = Position { source: "file:storagebench".to_owned(), partition: 0, offset: index as u64 + 1 };
            rows.push(ErrorRow::new(&error, record, &position, now, now, DEFAULT_RAW_CAP));
        }
    }
    Ok((rows, lines))
}

async fn insert(args: InsertArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.runs == 0 {
        bail!("--batch and --runs must be at least 1");
    }
    let built = Instant::now();
    let (rows, lines) = build_rows(&args.errors, args.rows)?;
    if rows.is_empty() {
        bail!("no failed calls in {}", args.errors.display());
    }
    let with_id = rows.iter().filter(|row| !row.correlation_id.is_empty()).count();
    let raw_bytes: usize = rows.iter().map(|row| row.raw.len()).sum();
    report("lines_read", lines)?;
    report("rows", rows.len())?;
    report("rows_with_correlation_id", with_id)?;
    report("raw_bytes", raw_bytes)?;
    report("build_seconds", format!("{:.3}", built.elapsed().as_secs_f64()))?;

    let store = args.server.store()?;
    store.migrate().await?;
    let client = args.server.client();
    let mut best = f64::INFINITY;
    for run in 1..=args.runs {
        for table in ["api_errors", "api_errors_by_correlation", "api_errors_per_minute"] {
            client.query(&format!("TRUNCATE TABLE {table}")).execute().await?;
        }
        let started = Instant::now();
        for batch in rows.chunks(args.batch) {
            store.insert(batch).await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        best = best.min(seconds);
        report(&format!("run_{run}"), format!("{seconds:.3}s {:.0} rows/s", rows.len() as f64 / seconds))?;
    }
    let stored: u64 = client.query("SELECT count() FROM api_errors").fetch_one().await?;
    if stored != rows.len() as u64 {
        bail!("{stored} rows stored after the last run, expected {}", rows.len());
    }
    report("best_seconds", format!("{best:.3}"))?;
    report("best_rows_per_second", format!("{:.0}", rows.len() as f64 / best))?;
    Ok(())
}

async fn lookup(args: LookupArgs) -> anyhow::Result<()> {
    let store = args.server.store()?;
    store.ping().await?;
    let client = args.server.client();
    let stored: u64 = client.query("SELECT count() FROM api_errors_by_correlation").fetch_one().await?;
    report("stored_events", stored)?;
    let wanted = args.ids + args.warmup;
    // About four times the ids needed, spread over the whole table, then shuffled.
    let modulus = (stored / (wanted as u64 * 4)).max(1);
    let ids: Vec<String> = client
        .query(&format!(
            "SELECT correlation_id FROM (SELECT DISTINCT correlation_id FROM api_errors_by_correlation \
             WHERE rand() % {modulus} = 0) ORDER BY rand() LIMIT {wanted}"
        ))
        .fetch_all()
        .await?;
    if ids.len() < wanted {
        bail!("found only {} ids, wanted {wanted}", ids.len());
    }
    let ids: Vec<CorrelationId> = ids
        .iter()
        .map(|text| CorrelationId::parse(text).with_context(|| format!("stored id {text:?} does not parse")))
        .collect::<anyhow::Result<_>>()?;
    let (warmup, timed) = ids.split_at(args.warmup);
    let find = |id: CorrelationId| {
        let store = store.clone();
        let client = client.clone();
        async move {
            match args.variant {
                Variant::Store => Ok(store.lookup(id).await?.events),
                Variant::Prewhere => client
                    .query(PREWHERE_LOOKUP)
                    .bind(id.to_string().as_str())
                    .fetch_all::<StoredEvent>()
                    .await
                    .map_err(anyhow::Error::from),
            }
        }
    };
    for id in warmup {
        find(*id).await?;
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(timed.len());
    let mut events = 0usize;
    let mut max_events = 0usize;
    for id in timed {
        let started = Instant::now();
        let found = find(*id).await?;
        latencies.push(started.elapsed());
        if found.is_empty() {
            bail!("no events for stored id {id}");
        }
        events += found.len();
        max_events = max_events.max(found.len());
    }
    latencies.sort();
    let millis = |duration: Duration| format!("{:.2}", duration.as_secs_f64() * 1000.0);
    let quantile = |q: f64| {
        // Nearest rank.
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies.get(rank - 1).copied().unwrap_or_default()
    };
    let total: Duration = latencies.iter().sum();
    report("lookups", latencies.len())?;
    report("events_returned", events)?;
    report("max_events_per_id", max_events)?;
    report("min_ms", millis(latencies.first().copied().unwrap_or_default()))?;
    report("p50_ms", millis(quantile(0.50)))?;
    report("p90_ms", millis(quantile(0.90)))?;
    report("p99_ms", millis(quantile(0.99)))?;
    report("max_ms", millis(latencies.last().copied().unwrap_or_default()))?;
    report("mean_ms", millis(total / latencies.len().max(1) as u32))?;
    Ok(())
}
