//! `errwatch run`: Kafka → extract → classify → sink → ClickHouse, for months, without loss and
//! without duplicates.
//!
//! Two actors and two bounded queues:
//!
//! ```text
//! consumer thread ── items (bounded) ──> sink task ──> ClickHouse
//!   poll, classify,  <── stored positions ──  batch, insert, retry
//!   encode rows,
//!   store offsets
//! ```
//!
//! The sink inserts one batch at a time and fills the next meanwhile, so reading goes on
//! during an insert; rows travel encoded (RowBinary), at about the weight of their text.
//!
//! The consumer thread owns the Kafka consumer; rebalance callbacks run on it, inside `poll`.
//! When the items queue is full (ClickHouse slow or down), the thread pauses its partitions and
//! keeps polling, so it stays in the group while memory stays bounded. An offset is stored only
//! once the sink reports every record up to it stored; the sink never reports past a failed
//! batch, so a later offset can never be committed over a lost one. A partition that arrives is
//! read from its committed offset, skipping the rows ClickHouse already holds (its watermarks
//! per table), so a crash between two inserts or after an uncommitted batch stores nothing
//! twice and loses nothing.
//!
//! Shutdown has one path: the flag is raised (SIGTERM, SIGINT), the thread stops reading, hands
//! over what it holds, waits for the final flush, stores and commits the offsets, leaves the
//! group, and the sink task ends when its queue closes.

mod consumer;
mod handover;
mod lag;
pub mod record;
mod sink_task;

use std::collections::{HashMap, VecDeque};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc as async_mpsc, oneshot};

use consumer::consume;
use handover::{Feeder, CHUNK, WATERMARKS_RETRY};
use sink_task::sink_loop;

use crate::extract::Limits;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::source::kafka::{KafkaSettings, SourceError};
use crate::source::Position;
use crate::store::{Encoded, ErrorRow, QuarantineRow, Sink, SinkSettings, Store, StoreError, StoredPositions};

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub kafka: KafkaSettings,
    pub limits: Limits,
    pub raw_cap: usize,
    pub sink: SinkSettings,
    /// Records queued between the consumer and the sink, at most.
    pub queue_capacity: usize,
    /// How long the final flush may take at shutdown before giving up (offsets are then not
    /// committed, so nothing is lost: the next start reads those records again).
    pub shutdown_timeout: Duration,
    /// Old daily partitions dropped while running, not only at start: a pipeline runs for
    /// months.
    pub retention: Option<Retention>,
}

/// Drop daily partitions older than `days` days, every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub every: Duration,
}

impl PipelineSettings {
    /// Items queued for the sink, at most. The sink takes items while it inserts, so the
    /// queue only absorbs the moments it is busy otherwise.
    pub const DEFAULT_QUEUE_CAPACITY: usize = 16_384;

    /// Consuming with `kafka`, everything else at its default.
    pub fn for_kafka(kafka: KafkaSettings) -> PipelineSettings {
        PipelineSettings {
            kafka,
            limits: Limits::default(),
            raw_cap: crate::store::DEFAULT_RAW_CAP,
            sink: SinkSettings::default(),
            queue_capacity: PipelineSettings::DEFAULT_QUEUE_CAPACITY,
            shutdown_timeout: Duration::from_secs(30),
            retention: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot store events, stopping without committing what was not stored")]
    Store(#[from] StoreError),
    #[error("the final flush did not finish within {0:?}; offsets not committed are read again at the next start")]
    ShutdownTimeout(Duration),
    #[error("the sink stopped unexpectedly")]
    SinkGone,
}

/// What the consumer hands to the sink.
enum Item {
    Error(Encoded<ErrorRow>, Position),
    Quarantine(Encoded<QuarantineRow>, Position),
    /// A record that is not an error: acknowledged with the batch it falls in.
    Seen(Position),
    /// Store everything queued so far and answer with the positions stored.
    Flush(oneshot::Sender<StoredPositions>),
}

/// Runs until `shutdown` is raised or a failure retrying cannot fix.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    store: Store,
    settings: &PipelineSettings,
    metrics: &Arc<Metrics>,
    shutdown: &Shutdown,
) -> Result<(), PipelineError> {
    let (items, items_received) = async_mpsc::channel(settings.queue_capacity.div_ceil(CHUNK).max(1));
    let (acks_sender, acks) = mpsc::channel();
    let sink = Sink::new(store.clone(), settings.sink).with_observer(metrics.clone());
    let retention = settings.retention.map(|retention| (store.clone(), retention));
    let sink_task = runtime.spawn(sink_loop(sink, items_received, acks_sender, retention));
    let feeder = Arc::new(Feeder {
        items,
        held: Mutex::new(VecDeque::new()),
        unsent_seen: Mutex::new(HashMap::new()),
        acks: Mutex::new(acks),
        watermark_reader: Box::new(store),
        watermarks_retry: WATERMARKS_RETRY,
        watermarks: Mutex::new(HashMap::new()),
        runtime: runtime.handle().clone(),
        shutdown_timeout: settings.shutdown_timeout,
        metrics: metrics.clone(),
    });
    let consumed = consume(&feeder, settings, metrics, shutdown, &sink_task);
    // The queue closes when the last sender goes: the feeder, and the source's copy of it.
    drop(feeder);
    let sink_result = runtime.block_on(sink_task);
    consumed?;
    match sink_result {
        Ok(result) => result.map_err(PipelineError::Store),
        Err(_) => Err(PipelineError::SinkGone),
    }
}

/// Adds positions stored to those known, keeping the highest per partition.
fn merge(into: &mut StoredPositions, from: StoredPositions) {
    for (partition, offset) in from {
        let highest = into.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(stored: &[(&str, i32, u64)]) -> StoredPositions {
        stored.iter().map(|(topic, partition, offset)| (((*topic).to_owned(), *partition), *offset)).collect()
    }

    fn check(into: &[(&str, i32, u64)], from: &[(&str, i32, u64)], expected: &[(&str, i32, u64)]) {
        let mut merged = positions(into);
        merge(&mut merged, positions(from));
        assert_eq!(merged, positions(expected), "{into:?} with {from:?}");
    }

    #[test]
    fn merging_keeps_the_highest_offset_per_partition() {
        check(&[], &[], &[]);
        check(&[], &[("a", 0, 5)], &[("a", 0, 5)]);
        check(&[("a", 0, 5)], &[], &[("a", 0, 5)]);
        check(&[("a", 0, 5)], &[("a", 0, 9)], &[("a", 0, 9)]);
        check(&[("a", 0, 9)], &[("a", 0, 5)], &[("a", 0, 9)]);
        check(&[("a", 0, 5), ("b", 0, 1)], &[("a", 1, 2), ("b", 0, 3)], &[("a", 0, 5), ("a", 1, 2), ("b", 0, 3)]);
    }
}
