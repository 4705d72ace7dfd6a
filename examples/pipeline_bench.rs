//! Measures `errwatch run` end to end against what bounds it and against the peer a team would
//! use instead. Driven by scripts/bench-pipeline.sh; it can also be run by hand:
//!
//! ```text
//! pipeline_bench --mix FILE --errwatch target/release/errwatch [--url URL] [--backlog-mb 320]
//! ```
//!
//! For each of two streams, error records only and the realistic mix of FILE (about 15%
//! errors), it starts librdkafka's mock cluster in this process, loads a backlog of
//! `--backlog-mb` into it beforehand (spread over partitions, each under the ~5 MiB the mock
//! keeps), and then times, one after the other:
//!
//! - `consume`: an rdkafka `BaseConsumer` that reads every message and does nothing with it;
//! - `insert`: `Store::insert` of the stream's rows, built beforehand, in batches of the sink's
//!   size, into a fresh database;
//! - `errwatch`: the release binary running `errwatch run` over the backlog into a fresh
//!   database, until ClickHouse holds every error and quarantined record; its peak RSS;
//! - `peer`: ClickHouse's Kafka engine with a materialized view extracting code, target and
//!   status with string functions (the recipe a team would copy), until it holds every line.
//!
//! Rates are steady rates: records per second between the moments 10% and 90% of the stream
//! were stored, so that joining the group and the last flush weigh on no one. Records of the
//! mix that are not errors are never stored by errwatch; its rate counts them by their share.
//! After the mix, with errwatch still running, it produces the mix live at half of errwatch's
//! rate for `--freshness-seconds`, with a probe error every 50 ms, and measures for each probe
//! the time from sending it to seeing it in ClickHouse.
//!
//! Results go to standard output as `key=value` lines that the script reads.

// The results are this program's output.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use clickhouse::Client;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use errwatch::source::Position;
use errwatch::store::{ErrorRow, InsertCompression, Settings, SinkSettings, Store, DEFAULT_RAW_CAP};
use errwatch::timestamp::Timestamp;
use errwatch::{classify, Classification, Guid, Limits};

#[derive(Parser)]
#[command(about = "End-to-end pipeline benchmark for errwatch")]
struct Args {
    /// The record mix, one record per line (scripts/bench.sh writes one)
    #[arg(long)]
    mix: PathBuf,
    /// The errwatch binary to run
    #[arg(long)]
    errwatch: PathBuf,
    /// ClickHouse HTTP URL; its server needs the <kafka> settings of scripts/clickhouse.sh
    #[arg(long, default_value = "http://127.0.0.1:18123")]
    url: String,
    /// Megabytes of backlog per stream
    #[arg(long, default_value_t = 320)]
    backlog_mb: usize,
    /// Seconds of live traffic for the freshness measurement
    #[arg(long, default_value_t = 20)]
    freshness_seconds: u64,
    /// Only errwatch, without the baselines and the peer (for looking into errwatch alone)
    #[arg(long)]
    errwatch_only: bool,
    /// Copies errwatch's log to standard error as it comes
    #[arg(long)]
    show_errwatch_log: bool,
    /// The ClickHouse server's process id: with it, the CPU time ClickHouse spends on errwatch's
    /// rows and on the peer is measured too
    #[arg(long)]
    clickhouse_pid: Option<u32>,
}

/// The most bytes loaded into one partition: the mock keeps about 5 MiB of each.
const PARTITION_BYTES: usize = 4 * 1024 * 1024;

const TOPIC: &str = "client-logs";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Errors,
    Mix,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Errors => "errors",
            Stream::Mix => "mix",
        }
    }
}

/// A backlog and what errwatch should store of it.
struct Backlog {
    records: Vec<Vec<u8>>,
    bytes: usize,
    /// Error rows plus quarantined records.
    stored_rows: u64,
    error_rows: Vec<ErrorRow>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = std::fs::File::open(&args.mix).with_context(|| format!("cannot open {}", args.mix.display()))?;
    let mix: Vec<Vec<u8>> = BufReader::new(file).split(b'\n').collect::<Result<_, _>>()?;
    let errors: Vec<Vec<u8>> = mix
        .iter()
        .filter(|line| matches!(classify(line, &Limits::default()), Classification::ApiError(_)))
        .cloned()
        .collect();
    if errors.is_empty() {
        bail!("the mix file has no error records");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    for stream in [Stream::Errors, Stream::Mix] {
        let source = if stream == Stream::Errors { &errors } else { &mix };
        let backlog = backlog(source, args.backlog_mb * 1_000_000);
        let partitions = i32::try_from(backlog.bytes.div_ceil(PARTITION_BYTES))? + 1;
        let name = stream.name();
        println!("{name}.records={}", backlog.records.len());
        println!("{name}.bytes={}", backlog.bytes);
        println!("{name}.partitions={partitions}");
        println!("{name}.stored_rows={}", backlog.stored_rows);

        let cluster = MockCluster::new(1)?;
        cluster.create_topic(TOPIC, partitions, 1)?;
        let bootstrap = cluster.bootstrap_servers();
        let started = Instant::now();
        produce_backlog(&bootstrap, &backlog.records, partitions)?;
        eprintln!("{name}: loaded {} records in {:.1} s", backlog.records.len(), started.elapsed().as_secs_f64());

        if !args.errwatch_only {
            measure_baselines(&args, &runtime, stream, &bootstrap, partitions, &backlog)?;
        }
        let errwatch_database = format!("errwatch_bench_pipeline_{name}");
        runtime.block_on(drop_database(&args.url, &errwatch_database))?;
        let clickhouse_cpu_before = args.clickhouse_pid.map(cpu_seconds);
        let mut errwatch =
            Errwatch::start(&args.errwatch, &bootstrap, &args.url, &errwatch_database, args.show_errwatch_log)?;
        errwatch.wait_for_log("partition assigned", partitions as usize, Duration::from_secs(120))?;
        let progress = runtime.block_on(watch_progress(
            &args.url,
            &errwatch_database,
            "SELECT (SELECT count() FROM api_errors) + (SELECT count() FROM quarantine)",
            backlog.stored_rows,
        ))?;
        let errwatch_rate = progress.steady_rate() * backlog.records.len() as f64 / backlog.stored_rows.max(1) as f64;
        println!("{name}.errwatch_records_per_second={errwatch_rate:.0}");
        println!("{name}.errwatch_seconds={:.2}", progress.total.as_secs_f64());
        println!("{name}.errwatch_peak_rss_kib={}", errwatch.peak_rss_kib());
        println!("{name}.errwatch_cpu_seconds={:.2}", cpu_seconds(errwatch.child.id()));
        if let (Some(pid), Some(before)) = (args.clickhouse_pid, clickhouse_cpu_before) {
            println!("{name}.errwatch_clickhouse_cpu_seconds={:.2}", cpu_seconds(pid) - before);
        }

        if stream == Stream::Mix {
            let probes = runtime.block_on(freshness(
                &bootstrap,
                &args.url,
                &errwatch_database,
                &mix,
                errwatch_rate / 2.0,
                Duration::from_secs(args.freshness_seconds),
            ))?;
            println!("mix.freshness_rate={:.0}", errwatch_rate / 2.0);
            println!("mix.freshness_probes={}", probes.len());
            println!("mix.freshness_p50_ms={}", percentile(&probes, 0.50).as_millis());
            println!("mix.freshness_p99_ms={}", percentile(&probes, 0.99).as_millis());
            println!("mix.freshness_max_ms={}", percentile(&probes, 1.0).as_millis());
        }
        errwatch.stop()?;

        if !args.errwatch_only {
            let peer_database = format!("errwatch_bench_pipeline_peer_{name}");
            let (peer_rate, peer_errors, peer_cpu) = runtime.block_on(peer(
                &args.url,
                &peer_database,
                &bootstrap,
                backlog.records.len() as u64,
                args.clickhouse_pid,
            ))?;
            if let Some(seconds) = peer_cpu {
                println!("{name}.peer_cpu_seconds={seconds:.2}");
            }
            println!("{name}.peer_records_per_second={peer_rate:.0}");
            println!("{name}.peer_error_rows={peer_errors}");
        }
        println!("{name}.errwatch_error_rows={}", backlog.error_rows.len());
        drop(cluster);
    }
    Ok(())
}

/// (a) and (b): what consuming alone and inserting alone achieve on this backlog.
fn measure_baselines(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    stream: Stream,
    bootstrap: &str,
    partitions: i32,
    backlog: &Backlog,
) -> anyhow::Result<()> {
    let name = stream.name();
    let consume_rate = raw_consume(bootstrap, partitions, backlog.records.len())?;
    println!("{name}.consume_records_per_second={consume_rate:.0}");

    let insert_database = format!("errwatch_bench_pipeline_insert_{name}");
    let insert_rate = runtime.block_on(raw_insert(
        Settings {
            url: args.url.clone(),
            database: insert_database,
            user: None,
            password: None,
            compression: InsertCompression::Auto,
        },
        &backlog.error_rows,
    ))?;
    println!("{name}.insert_rows_per_second={insert_rate:.0}");
    let error_share = backlog.error_rows.len() as f64 / backlog.records.len() as f64;
    println!("{name}.insert_records_per_second={:.0}", insert_rate / error_share.max(1e-9));

    Ok(())
}

/// Copies of `source` up to `bytes`, and what errwatch should store of them.
fn backlog(source: &[Vec<u8>], bytes: usize) -> Backlog {
    let now = Timestamp::now();
    let mut backlog = Backlog { records: Vec::new(), bytes: 0, stored_rows: 0, error_rows: Vec::new() };
    for (index, record) in source.iter().cycle().enumerate() {
        if backlog.bytes >= bytes {
            break;
        }
        backlog.bytes += record.len();
        match classify(record, &Limits::default()) {
            Classification::ApiError(error) => {
                backlog.stored_rows += 1;
                let position = Position { source: "bench".into(), partition: 0, offset: index as u64 };
                let text = std::str::from_utf8(record).unwrap_or_default();
                backlog.error_rows.push(ErrorRow::new(&error, text, &position, now, now, DEFAULT_RAW_CAP));
            }
            Classification::Unreadable(_) => backlog.stored_rows += 1,
            Classification::NotAnError { .. } => {}
        }
        backlog.records.push(record.clone());
    }
    backlog
}

fn producer(bootstrap: &str) -> anyhow::Result<BaseProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

/// Sends `payload` to `partition`, waiting while the producer's queue is full.
fn send(producer: &BaseProducer, partition: Option<i32>, payload: &[u8]) -> anyhow::Result<()> {
    let mut record = BaseRecord::<(), [u8]>::to(TOPIC).payload(payload);
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(Duration::from_millis(5));
                record = back;
            }
            Err((error, _)) => bail!("cannot produce: {error}"),
        }
    }
}

/// Loads the records round-robin over the partitions and waits until all are acknowledged.
fn produce_backlog(bootstrap: &str, records: &[Vec<u8>], partitions: i32) -> anyhow::Result<()> {
    let producer = producer(bootstrap)?;
    for (index, record) in records.iter().enumerate() {
        send(&producer, Some((index % partitions as usize) as i32), record)?;
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(())
}

/// Messages per second of a consumer that only counts them, from assignment to the last one.
fn raw_consume(bootstrap: &str, partitions: i32, expected: usize) -> anyhow::Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "raw-consume")
        .set("enable.auto.commit", "false")
        .set("queued.max.messages.kbytes", "16384")
        .create()?;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(TOPIC, partition, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let started = Instant::now();
    let mut seen = 0usize;
    let mut bytes = 0usize;
    while seen < expected {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the raw consumer read {seen} of {expected} messages in 600 s");
        }
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            bytes += rdkafka::Message::payload(&message).map_or(0, <[u8]>::len);
            seen += 1;
        }
    }
    std::hint::black_box(bytes);
    Ok(seen as f64 / started.elapsed().as_secs_f64())
}

/// Rows per second of `Store::insert`, in batches of the sink's size, into a fresh database.
async fn raw_insert(settings: Settings, rows: &[ErrorRow]) -> anyhow::Result<f64> {
    drop_database(&settings.url, &settings.database).await?;
    let store = Store::new(settings.clone())?;
    store.migrate().await?;
    let started = Instant::now();
    for batch in rows.chunks(SinkSettings::default().max_rows) {
        store.insert(batch).await?;
    }
    let rate = rows.len() as f64 / started.elapsed().as_secs_f64();
    drop_database(&settings.url, &settings.database).await?;
    Ok(rate)
}

fn client(url: &str) -> Client {
    Client::default().with_url(url).with_validation(false)
}

async fn drop_database(url: &str, database: &str) -> anyhow::Result<()> {
    client(url).query(&format!("DROP DATABASE IF EXISTS {database}")).execute().await?;
    Ok(())
}

/// How a count grew over time, sampled every 100 ms.
struct Progress {
    samples: Vec<(Duration, u64)>,
    target: u64,
    total: Duration,
}

impl Progress {
    /// Per second, between the samples where 10% and 90% of the target were reached.
    fn steady_rate(&self) -> f64 {
        let reached =
            |share: f64| self.samples.iter().find(|(_, count)| *count as f64 >= share * self.target as f64).copied();
        match (reached(0.1), reached(0.9)) {
            (Some((from, low)), Some((to, high))) if to > from => (high - low) as f64 / (to - from).as_secs_f64(),
            _ => self.target as f64 / self.total.as_secs_f64().max(1e-3),
        }
    }
}

/// Polls `sql` (one count) in `database` until it reaches `target`.
async fn watch_progress(url: &str, database: &str, sql: &str, target: u64) -> anyhow::Result<Progress> {
    let client = client(url).with_database(database);
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        // Tables appear when the process under test has migrated; until then nothing is stored.
        let count: u64 = client.query(sql).fetch_one().await.unwrap_or(0);
        samples.push((started.elapsed(), count));
        if count >= target {
            return Ok(Progress { samples, target, total: started.elapsed() });
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("stored {count} of {target} rows in 900 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// ClickHouse's Kafka engine and a materialized view over the backlog: steady rows per second,
/// how many rows it took for errors, and the CPU time the server spent from creating the
/// tables to storing the last row (given its process id).
async fn peer(
    url: &str,
    database: &str,
    bootstrap: &str,
    records: u64,
    clickhouse_pid: Option<u32>,
) -> anyhow::Result<(f64, u64, Option<f64>)> {
    drop_database(url, database).await?;
    let server = client(url);
    server.query(&format!("CREATE DATABASE {database}")).execute().await?;
    let client = client(url).with_database(database);
    let statements = [
        "CREATE TABLE dst (ts DateTime, is_err UInt8, code String, target String, status UInt16, line String) \
         ENGINE = MergeTree ORDER BY ts"
            .to_owned(),
        format!(
            "CREATE TABLE kq (line String) ENGINE = Kafka SETTINGS kafka_broker_list = '{bootstrap}', \
             kafka_topic_list = '{TOPIC}', kafka_group_name = 'peer', kafka_format = 'TSV', \
             kafka_row_delimiter = '\\n', kafka_num_consumers = 1"
        ),
        r#"CREATE MATERIALIZED VIEW mv TO dst AS SELECT now() AS ts,
             toUInt8(match(line, '["\']error["\']\\s*:')) AS is_err,
             if(visitParamHas(line, 'code'), visitParamExtractString(line, 'code'),
                extract(line, '\'code\':\\s*\'([^\']+)\'')) AS code,
             extract(line, '["\']target["\']\\s*:\\s*["\']([0-9a-fA-F-]{36})') AS target,
             toUInt16(visitParamExtractUInt(line, 'status')) AS status, line
           FROM kq"#
            .to_owned(),
    ];
    let cpu_before = clickhouse_pid.map(cpu_seconds);
    for statement in &statements {
        client.query(statement).execute().await.with_context(|| format!("peer setup: {statement}"))?;
    }
    let progress = watch_progress(url, database, "SELECT count() FROM dst", records).await;
    let cpu = clickhouse_pid.zip(cpu_before).map(|(pid, before)| cpu_seconds(pid) - before);
    // Stop the engine before the cluster goes away, whatever happened.
    for statement in ["DROP TABLE IF EXISTS mv", "DROP TABLE IF EXISTS kq"] {
        client.query(statement).execute().await?;
    }
    let progress = progress?;
    let errors: u64 = client.query("SELECT countIf(is_err = 1 AND code != '') FROM dst").fetch_one().await?;
    drop_database(url, database).await?;
    Ok((progress.steady_rate(), errors, cpu))
}

/// Produces the mix live at `rate` records/s for `duration`, with a probe error every 50 ms,
/// and returns, per probe, the time from sending it to seeing it in ClickHouse.
async fn freshness(
    bootstrap: &str,
    url: &str,
    database: &str,
    mix: &[Vec<u8>],
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
    let producing = {
        let bootstrap = bootstrap.to_owned();
        let mix = mix.to_vec();
        let sent = sent.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let producer = producer(&bootstrap)?;
            let started = Instant::now();
            let mut produced = 0f64;
            let mut next_probe = Duration::ZERO;
            let mut records = mix.iter().cycle();
            while started.elapsed() < duration {
                let due = started.elapsed().as_secs_f64() * rate;
                while produced < due {
                    if let Some(record) = records.next() {
                        send(&producer, None, record)?;
                    }
                    produced += 1.0;
                }
                if started.elapsed() >= next_probe {
                    let id = Guid::new_random().to_string();
                    let probe = format!(
                        r#"{{"service":"freshness-probe","error":{{"code":"TooManyRequests","message":"probe","target":"{id}"}}}}"#
                    );
                    send(&producer, None, probe.as_bytes())?;
                    sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(id, Instant::now());
                    next_probe += Duration::from_millis(50);
                }
                producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_millis(2));
            }
            producer.flush(Duration::from_secs(30))?;
            Ok(())
        })
    };
    let client = client(url).with_database(database);
    let deadline = Instant::now() + duration + Duration::from_secs(60);
    loop {
        let ids: Vec<String> = client
            .query(
                "SELECT correlation_id FROM api_errors WHERE category = 'throttling' AND service = 'freshness-probe'",
            )
            .fetch_all()
            .await?;
        let now = Instant::now();
        {
            let sent = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let mut seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            for id in ids {
                if let Some(at) = sent.get(&id) {
                    seen.entry(id).or_insert_with(|| now.duration_since(*at));
                }
            }
            if producing.is_finished() && seen.len() == sent.len() {
                break;
            }
        }
        if now > deadline {
            bail!("probes were not all seen within the deadline");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    producing.join().map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    let mut latencies: Vec<Duration> =
        seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.values().copied().collect();
    latencies.sort();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted.get(index).copied().unwrap_or_default()
}

/// User and system CPU time process `pid` has used so far, all its threads, from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name, in parentheses: utime and stime are the 12th and 13th fields,
    // in clock ticks (100 a second on Linux).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name.split_whitespace().skip(11).take(2).filter_map(|field| field.parse::<u64>().ok()).sum();
    ticks as f64 / 100.0
}

/// `errwatch run` as a child process, its log kept to know when it holds the partitions.
struct Errwatch {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Errwatch {
    fn start(binary: &PathBuf, bootstrap: &str, url: &str, database: &str, show_log: bool) -> anyhow::Result<Errwatch> {
        let mut child = Command::new(binary)
            .arg("run")
            .env("ERRWATCH_KAFKA_BROKERS", bootstrap)
            .env("ERRWATCH_KAFKA_TOPICS", TOPIC)
            .env("ERRWATCH_KAFKA_GROUP", "errwatch-bench")
            .env("ERRWATCH_CLICKHOUSE_URL", url)
            .env("ERRWATCH_CLICKHOUSE_DATABASE", database)
            .env("ERRWATCH_HTTP_ADDR", "127.0.0.1:0")
            .env("ERRWATCH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if show_log {
                    eprintln!("errwatch: {line}");
                }
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        });
        Ok(Errwatch { child, log })
    }

    fn wait_for_log(&mut self, text: &str, times: usize, deadline: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let count = self.log.lock().map(|lines| lines.iter().filter(|l| l.contains(text)).count()).unwrap_or(0);
            if count >= times {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("errwatch exited ({status}):\n{}", self.log.lock().map(|l| l.join("\n")).unwrap_or_default());
            }
            if started.elapsed() > deadline {
                bail!("errwatch did not log {text:?} {times} times within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("errwatch exited with {status}");
        }
        Ok(())
    }
}
