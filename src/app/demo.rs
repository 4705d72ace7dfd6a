//! `errwatch demo`: the whole pipeline on one machine without a Kafka cluster.
//!
//! ```text
//! generator thread ──> local Kafka (mock brokers, loopback) ──> pipeline (this thread) ──> ClickHouse
//!   (tour scenario,                                               │
//!    paced)                                                       └──> metrics ──> summary thread
//! ```
//!
//! Everything stops on the one shutdown flag: Ctrl-C, SIGTERM or the end of `--duration`. The
//! generator stops first, the pipeline flushes and commits, and the caller stops the HTTP
//! server after this returns.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::generate::{self, Options};
use crate::generate::{Generator, Scenario, Settings};
use crate::guid::CorrelationId;
use crate::metrics::{Metrics, Snapshot};
use crate::pipeline::{self, PipelineError, PipelineSettings};
use crate::shutdown::Shutdown;
use crate::source::kafka::{KafkaProducer, KafkaSettings, LocalCluster, SourceError};
use crate::store::Store;
use crate::timestamp::Timestamp;

/// The demo's topic in the local cluster, named after the run: the local cluster starts
/// empty each time, and a topic name ClickHouse already holds rows of would have the new
/// run's records skipped as stored.
fn topic() -> String {
    format!("demo-{}", Timestamp::now().unix_millis() / 1000)
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Records per second the generator writes.
    pub rate: f64,
    pub seed: u64,
    pub partitions: i32,
    /// Stop after this long; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// How often the terminal summary is printed.
    pub summary_every: Duration,
    /// Where the HTTP server listens, for the URLs printed.
    pub http_address: std::net::SocketAddr,
}

/// `errwatch demo`: starts the HTTP server, waits as `wait` allows for ClickHouse, prepares
/// the schema and runs the demo until Ctrl-C, SIGTERM or the end of `duration`; the server
/// stops after the pipeline committed.
pub fn command(
    store: crate::store::Settings,
    http: &super::HttpSettings,
    options: DemoOptions,
    wait: super::WaitForClickHouse,
) -> anyhow::Result<()> {
    let store = Store::new(store)?;
    let runtime = super::runtime()?;
    let metrics = Arc::new(Metrics::new(http.service_cap));
    let server = super::start_http(&runtime, http, &store, &metrics, true)?;
    let options = DemoOptions { http_address: server.address, ..options };
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let result = match runtime.block_on(super::prepare(&store, None, wait, &shutdown)) {
        Ok(super::Prepared::Ready) => {
            server.prepared();
            run(&runtime, store, &options, &metrics, &shutdown, &mut std::io::stdout()).map_err(anyhow::Error::from)
        }
        Ok(super::Prepared::Stopped) => Ok(()),
        Err(error) => Err(error),
    };
    drop(signals);
    server.finish(&runtime);
    result?;
    tracing::info!("stopped");
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot run the local Kafka cluster")]
    Kafka(#[from] SourceError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("the traffic generator stopped: {0}")]
    Generator(SourceError),
    #[error("cannot write the summary")]
    Output(#[from] std::io::Error),
}

/// Runs until `shutdown` is raised or `options.duration` has passed.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    store: Store,
    options: &DemoOptions,
    metrics: &Arc<Metrics>,
    shutdown: &Shutdown,
    out: &mut (impl Write + Send),
) -> Result<(), DemoError> {
    let topic = topic();
    let cluster = LocalCluster::start(&topic, options.partitions)?;
    let settings = PipelineSettings::for_kafka(KafkaSettings {
        brokers: cluster.bootstrap(),
        topics: vec![topic.clone()],
        group: "errwatch-demo".to_owned(),
        extra: Vec::new(),
    });
    let mut sink = KafkaProducer::connect(&settings.kafka.brokers, &topic, &[])?;
    let address = options.http_address;
    writeln!(
        out,
        "errwatch demo: {:.0} records/s of synthetic client logs, cycling through every scenario",
        options.rate
    )?;
    writeln!(out, "  page     http://{address}/")?;
    writeln!(out, "  API      http://{address}/api/v1/errors/summary")?;
    writeln!(out, "  metrics  http://{address}/metrics")?;
    writeln!(out, "Ctrl-C stops it.")?;
    out.flush()?;

    // Correlation ids of errors sent, oldest first, for people to try once they are stored.
    let recent_ids: Mutex<VecDeque<(CorrelationId, Instant)>> = Mutex::new(VecDeque::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        let generator = scope.spawn(|| {
            let mut generator = Generator::new(Settings {
                scenario: Scenario::Tour,
                seed: options.seed,
                rate: options.rate,
                start: Timestamp::now(),
            });
            let paced = Options { count: None, pace: true };
            let sent = generate::run(&mut generator, &paced, shutdown, |generated| {
                if let Some(id) = generated.label.correlation_id() {
                    let mut ids = recent_ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    ids.push_back((id, Instant::now()));
                    if ids.len() > 1000 {
                        ids.pop_front();
                    }
                }
                sink.send(generated.label.service.as_bytes(), &generated.record, generated.label.time.unix_millis())
            });
            let flushed = sink.flush(Duration::from_secs(10));
            sent.and(flushed).map(|_| ())
        });
        let summary = scope.spawn(|| -> std::io::Result<()> {
            let mut previous = (Instant::now(), Snapshot::default());
            let mut ids_shown = false;
            while !shutdown.is_raised() {
                std::thread::sleep(Duration::from_millis(100));
                if options.duration.is_some_and(|duration| started.elapsed() >= duration) {
                    shutdown.raise();
                    break;
                }
                if previous.0.elapsed() < options.summary_every {
                    continue;
                }
                let snapshot = metrics.snapshot();
                writeln!(out, "{}", summary_line(&previous.1, &snapshot, previous.0.elapsed()))?;
                if !ids_shown {
                    // Ids sent a few seconds ago are stored by now (batches wait at most a second).
                    let ids = recent_ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    let stored: Vec<CorrelationId> = ids
                        .iter()
                        .filter(|(_, sent)| sent.elapsed() > Duration::from_secs(3))
                        .map(|(id, _)| *id)
                        .take(3)
                        .collect();
                    if !stored.is_empty() {
                        for id in &stored {
                            writeln!(
                                out,
                                "  try: errwatch lookup {id}    or    http://{address}/api/v1/correlations/{id}"
                            )?;
                        }
                        ids_shown = true;
                    }
                }
                out.flush()?;
                previous = (Instant::now(), snapshot);
            }
            Ok(())
        });
        let consumed = pipeline::run(runtime, store, &settings, metrics, shutdown);
        // Whatever ended the pipeline ends the demo.
        shutdown.raise();
        let generated = generator.join().unwrap_or(Ok(()));
        let summarised = summary.join().unwrap_or(Ok(()));
        consumed?;
        generated.map_err(DemoError::Generator)?;
        summarised?;
        Ok::<(), DemoError>(())
    })?;
    drop(cluster);
    // The pipeline has stored and committed all it read: what it counted is what ClickHouse
    // holds, and the last thing a person (or a test) reads.
    let counted = metrics.snapshot();
    let errors: u64 = counted.errors_by_category.values().sum();
    writeln!(out, "stopped: {} records read, {errors} errors stored", counted.records)?;
    out.flush()?;
    Ok(())
}

/// One line of figures: rates over the last interval, shares and state now.
pub fn summary_line(before: &Snapshot, now: &Snapshot, interval: Duration) -> String {
    let seconds = interval.as_secs_f64().max(1e-3);
    let records_per_second = now.records.saturating_sub(before.records) as f64 / seconds;
    let calls = now.calls.saturating_sub(before.calls);
    let throttled = now.throttled.saturating_sub(before.throttled);
    let share = if calls == 0 { 0.0 } else { 100.0 * throttled as f64 / calls as f64 };
    let categories: Vec<String> = now
        .errors_by_category
        .iter()
        .map(|(category, count)| {
            let new = count.saturating_sub(before.errors_by_category.get(category).copied().unwrap_or(0));
            format!("{category} {new}")
        })
        .collect();
    let freshness = match now.newest_stored_event {
        Some(newest) => format!("{:.1} s", (Timestamp::now().unix_millis() as f64 / 1000.0 - newest).max(0.0)),
        None => "-".to_owned(),
    };
    format!(
        "{:>6.0} records/s | errors: {} | 429 share {share:.1}% | lag {} | newest error stored {freshness} ago",
        records_per_second,
        if categories.is_empty() { "none yet".to_owned() } else { categories.join(", ") },
        now.lag
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_shows_what_changed() {
        let before = Snapshot { records: 100, calls: 10, throttled: 1, ..Snapshot::default() };
        let mut now = Snapshot { records: 1100, calls: 110, throttled: 26, lag: 7, ..Snapshot::default() };
        now.errors_by_category.insert("throttling".into(), 25);
        let line = summary_line(&before, &now, Duration::from_secs(2));
        assert!(line.contains("500 records/s"), "{line}");
        assert!(line.contains("throttling 25"), "{line}");
        assert!(line.contains("429 share 25.0%"), "{line}");
        assert!(line.contains("lag 7"), "{line}");
        assert!(line.contains("stored - ago"), "{line}");
    }
}
