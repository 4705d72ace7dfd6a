//! The consumer thread: polls Kafka, classifies, hands rows to the sink, stores the offsets
//! the sink reports stored, pauses and resumes its partitions, and shuts down in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::handover::{Feeder, Partial};
use super::lag::LagReport;
use super::record::{to_store, Record, ToStore};
use super::{Item, PipelineError, PipelineSettings};
use crate::classify::{classify, Classification};
use crate::extract::Limits;
use crate::metrics::Metrics;
use crate::pace::Quieter;
use crate::shutdown::Shutdown;
use crate::source::kafka::{KafkaRecord, KafkaSource, WARNING_EVERY};
use crate::source::Position;
use crate::store::StoreError;
use crate::timestamp::Timestamp;

/// Records read between two rounds of the consumer's other duties, at most.
pub(super) const RECORDS_PER_RUN: usize = 512;

/// How often what was read is handed to the sink, at least.
pub(super) const HAND_OVER_EVERY: Duration = Duration::from_millis(100);

pub(super) fn consume(
    feeder: &Arc<Feeder>,
    settings: &PipelineSettings,
    metrics: &Metrics,
    shutdown: &Shutdown,
    sink_task: &tokio::task::JoinHandle<Result<(), StoreError>>,
) -> Result<(), PipelineError> {
    let source = KafkaSource::connect(&settings.kafka, feeder.clone())?;
    info!(topics = %settings.kafka.topics.join(","), group = %settings.kafka.group, "consuming");
    let mut paused = false;
    let mut lag_report = LagReport::new(Instant::now());
    let mut handed_over = Instant::now();
    let mut kafka_warnings = Quieter::new(WARNING_EVERY);
    while !shutdown.is_raised() {
        if let Some(catching_up) = lag_report.tick(Instant::now(), || Timestamp::now().unix_millis()) {
            metrics.set_lags(&source.lags(), catching_up);
        }
        if sink_task.is_finished() {
            // The sink only stops on an error; `run` reports it.
            return Ok(());
        }
        source.store_offsets(&feeder.take_acks());
        // What was read is handed over at least every so often, also when no chunk fills up
        // and no error comes along to carry the ordinary records before it.
        let hand_over = handed_over.elapsed() >= HAND_OVER_EVERY;
        if hand_over {
            feeder.queue_seen()?;
            handed_over = Instant::now();
        }
        let flowing = feeder.drain_held(if hand_over { Partial::Send } else { Partial::Keep })?;
        if flowing == paused {
            if flowing {
                source.resume();
                info!("ClickHouse caught up, resuming");
            } else {
                source.pause();
                warn!("the sink is behind, pausing consumption");
            }
            paused = !flowing;
        }
        // Records are read in runs: the checks above cost little once per run, but add up
        // at hundreds of thousands of records a second.
        let mut wait = Duration::from_millis(100);
        // One reading of the clock serves the rows of a run: they are read within moments,
        // and their ingest time is kept in seconds.
        let mut run_time = None;
        for _ in 0..RECORDS_PER_RUN {
            match source.poll(wait) {
                None => {
                    feeder.queue_seen()?;
                    feeder.drain_held(Partial::Send)?;
                    break;
                }
                Some(Err(error)) => {
                    // librdkafka retries by itself; an unreachable cluster says so many times a second.
                    if let Some(repeated) = kafka_warnings.due(Instant::now()) {
                        warn!(%error, repeated, "kafka error, librdkafka retries by itself; check ERRWATCH_KAFKA_BROKERS if it goes on");
                    }
                    break;
                }
                Some(Ok(record)) => {
                    lag_report.read(record.timestamp_millis());
                    let received = Received::from(&record);
                    if !feed(feeder, &received, &settings.limits, settings.raw_cap, metrics, &mut run_time)? {
                        break;
                    }
                }
            }
            wait = Duration::ZERO;
        }
    }
    info!("shutting down: flushing what was read");
    let stored = feeder.flush_all()?;
    source.store_offsets(&stored);
    source.commit()?;
    source.leave();
    info!("offsets committed, consumer closed");
    Ok(())
}

/// What `feed` reads of a record, apart from the consumer that lends it, so that a test can
/// feed records without Kafka.
#[derive(Debug, Clone, Copy)]
pub(super) struct Received<'a> {
    pub(super) topic: &'a str,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) payload: &'a [u8],
    /// The record's Kafka timestamp, in Unix milliseconds.
    pub(super) timestamp_millis: Option<i64>,
}

impl<'a> From<&'a KafkaRecord<'_>> for Received<'a> {
    fn from(record: &'a KafkaRecord<'_>) -> Received<'a> {
        Received {
            topic: record.topic(),
            partition: record.partition(),
            offset: record.offset(),
            payload: record.payload(),
            timestamp_millis: record.timestamp_millis(),
        }
    }
}

/// Classifies a record and hands it to the feeder; false when the queue is full. `run_time`
/// is the time rows of this run are ingested at, read from the clock for the first of them.
pub(super) fn feed(
    feeder: &Feeder,
    record: &Received<'_>,
    limits: &Limits,
    raw_cap: usize,
    metrics: &Metrics,
    run_time: &mut Option<Timestamp>,
) -> Result<bool, PipelineError> {
    let offset = u64::try_from(record.offset).unwrap_or_default();
    let classification = classify(record.payload, limits);
    metrics.observe(&classification);
    if let Classification::NotAnError { .. } = classification {
        // Most records: neither a position built nor a watermark looked up.
        return feeder.read_ordinary(record.topic, record.partition, offset);
    }
    let position = Position { source: record.topic.to_owned(), partition: record.partition, offset };
    let stored = feeder.watermarks(&position);
    let source_time = record.timestamp_millis.and_then(Timestamp::from_unix_millis);
    let read = Record { bytes: record.payload, size: record.payload.len(), position: &position, source_time };
    let now = || *run_time.get_or_insert_with(Timestamp::now);
    let item = match to_store(classification, &read, &stored, now, raw_cap) {
        ToStore::Error(row) => Item::Error(row, position),
        ToStore::Quarantine(row) => Item::Quarantine(row, position),
        // A row ClickHouse held when the partition arrived is only acknowledged.
        ToStore::AlreadyStored | ToStore::Ordinary => Item::Seen(position),
    };
    feeder.read(item)
}

#[cfg(test)]
mod tests {
    use super::super::handover::tests::{describe, feeder, received, runtime};
    use super::*;
    use crate::classify::ApiError;
    use crate::source::kafka::Rebalancing;
    use crate::store::{Encoded, ErrorRowView, Watermarks};

    const ERROR: &[u8] = br#"{"error":{"code":"Forbidden","message":"no access"},"status":403}"#;
    const INVALID: &[u8] = b"{\"error\":\xff}";
    const ORDINARY: &[u8] = b"GET /api/machines 200 OK";
    const KAFKA_MILLIS: i64 = 1_600_000_000_000;
    const RAW_CAP: usize = 64;

    /// Feeds `payload` at offset 5 of a/0, whose tables held `stored` when it arrived: the
    /// items handed over, and whether the run's time was read.
    fn check(what: &str, stored: Watermarks, payload: &[u8], expected: &[&str], clock_read: bool) {
        let runtime = runtime();
        let (feeder, mut sides) = feeder(&runtime, 8, vec![Ok(stored)]);
        feeder.assigned(&[("a".to_owned(), 0)]);
        let record = Received { topic: "a", partition: 0, offset: 5, payload, timestamp_millis: Some(KAFKA_MILLIS) };
        let mut run_time = None;
        let metrics = Metrics::new(8);
        assert!(feed(&feeder, &record, &Limits::default(), RAW_CAP, &metrics, &mut run_time).unwrap(), "{what}");
        assert_eq!(run_time.is_some(), clock_read, "{what}: run time read");
        assert!(feeder.queue_seen().unwrap());
        assert!(feeder.drain_held(Partial::Send).unwrap());
        let chunks: Vec<Vec<Item>> = std::iter::from_fn(|| sides.items.try_recv().ok()).collect();
        let items: Vec<Item> = chunks.into_iter().flatten().collect();
        let got: Vec<String> = items.iter().map(describe).collect();
        assert_eq!(got, expected, "{what}");
        assert!(received(&mut sides.items).is_empty());
        // An error row is the one the record-to-row function builds, at the Kafka timestamp.
        if let (Some(Item::Error(row, position)), Classification::ApiError(error), Some(now)) =
            (items.first(), classify(payload, &Limits::default()), run_time)
        {
            let error: Box<ApiError> = error;
            let kafka_time = Timestamp::from_unix_millis(KAFKA_MILLIS).unwrap();
            let text = std::str::from_utf8(payload).unwrap();
            let view = ErrorRowView::new(&error, text, position, kafka_time, now, RAW_CAP);
            assert_eq!(*row, Encoded::from(view), "{what}");
        }
    }

    #[test]
    fn feeding_stores_what_the_tables_do_not_hold_yet() {
        let nothing = Watermarks::default();
        let errors_at = |offset| Watermarks { errors: Some(offset), quarantine: None };
        let quarantine_at = |offset| Watermarks { errors: None, quarantine: Some(offset) };
        check("an ordinary record", nothing, ORDINARY, &["seen a/0@5"], false);
        check("an ordinary record under both watermarks", errors_at(9), ORDINARY, &["seen a/0@5"], false);
        check("an error", nothing, ERROR, &["error a/0@5"], true);
        check("an error past the errors' watermark", errors_at(4), ERROR, &["error a/0@5"], true);
        check("an error the errors table held", errors_at(5), ERROR, &["seen a/0@5"], false);
        check("an error under quarantine's watermark only", quarantine_at(9), ERROR, &["error a/0@5"], true);
        check("unreadable", nothing, INVALID, &["quarantine a/0@5"], true);
        check("unreadable the quarantine table held", quarantine_at(5), INVALID, &["seen a/0@5"], false);
        check("unreadable under the errors' watermark only", errors_at(9), INVALID, &["quarantine a/0@5"], true);
    }
}
