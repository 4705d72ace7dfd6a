//! The hand-over from the consumer thread to the sink task: items gathered into chunks, runs of
//! ordinary records folded into one position, what ClickHouse held when a partition arrived,
//! the queue's back-pressure, and the flush before partitions go or the process stops.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{mpsc as async_mpsc, oneshot};
use tracing::{error, info, warn};

use super::{merge, Item, PipelineError};
use crate::metrics::Metrics;
use crate::source::kafka::{Partition, Rebalancing};
use crate::source::Position;
use crate::store::{Store, StoreError, StoredPositions, Watermarks};

/// A watermark reading under way.
pub(super) type Reading<'a> = Pin<Box<dyn Future<Output = Result<Watermarks, StoreError>> + Send + 'a>>;

/// What each table holds of a partition. ClickHouse answers when running; a test answers
/// without one.
pub(super) trait WatermarkReader: Send + Sync {
    fn watermarks<'a>(&'a self, topic: &'a str, partition: i32) -> Reading<'a>;
}

impl WatermarkReader for Store {
    fn watermarks<'a>(&'a self, topic: &'a str, partition: i32) -> Reading<'a> {
        Box::pin(Store::watermarks(self, topic, partition))
    }
}

/// The consumer's side of the queue, shared with the rebalance callbacks.
pub(super) struct Feeder {
    pub(super) items: async_mpsc::Sender<Vec<Item>>,
    /// Items not sent yet, in order: a chunk being filled, and what did not fit in the queue
    /// (bounded by what Kafka had prefetched).
    pub(super) held: Mutex<VecDeque<Item>>,
    /// Per partition, the last record read that is not an error and has not been queued yet.
    /// Only the highest such position matters to the sink, so runs of ordinary records cost
    /// one item rather than one each; it is queued before the partition's next row.
    pub(super) unsent_seen: Mutex<HashMap<i32, Position>>,
    pub(super) acks: Mutex<mpsc::Receiver<StoredPositions>>,
    /// Where the watermarks of a partition that arrives are read: ClickHouse when running.
    pub(super) watermark_reader: Box<dyn WatermarkReader>,
    /// How long the first retry of a failed watermark reading waits; each next one, twice as
    /// long, up to [`WATERMARKS_RETRY_MAX`].
    pub(super) watermarks_retry: Duration,
    /// What ClickHouse held for each assigned partition when it arrived: rows at or below a
    /// table's watermark are stored already and are not stored again.
    pub(super) watermarks: Mutex<HashMap<Partition, Watermarks>>,
    pub(super) runtime: Handle,
    pub(super) shutdown_timeout: Duration,
    pub(super) metrics: Arc<Metrics>,
}

impl Feeder {
    /// Adds an item behind the held ones and sends whole chunks; false when the queue is
    /// full and items stay held.
    pub(super) fn push(&self, item: Item) -> Result<bool, PipelineError> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.push_back(item);
        if held.len() < CHUNK {
            return Ok(true);
        }
        self.send(&mut held, Partial::Keep)
    }

    /// Sends held items in chunks of [`CHUNK`]: the sink wakes once per chunk rather than once
    /// per record, which at hundreds of thousands of records a second is most of the cost.
    /// A partial chunk goes too when asked, so that nothing waits long. False when the queue
    /// is full and items stay held.
    pub(super) fn send(&self, held: &mut VecDeque<Item>, partial: Partial) -> Result<bool, PipelineError> {
        while held.len() >= CHUNK || (partial == Partial::Send && !held.is_empty()) {
            let chunk: Vec<Item> = held.drain(..held.len().min(CHUNK)).collect();
            let chunk = match self.items.try_send(chunk) {
                Ok(()) => continue,
                Err(async_mpsc::error::TrySendError::Closed(_)) => return Err(PipelineError::SinkGone),
                Err(async_mpsc::error::TrySendError::Full(chunk)) => chunk,
            };
            // A sink in the middle of an insert makes room within moments: waiting a little
            // keeps the partitions flowing, where pausing them would stop fetching and refill
            // librdkafka's prefetch from scratch each time, at every batch when ClickHouse is
            // the slower side. Polling resumes within the wait, so the group never misses us.
            match self.runtime.block_on(self.items.send_timeout(chunk, QUEUE_FULL_WAIT)) {
                Ok(()) => {}
                Err(async_mpsc::error::SendTimeoutError::Closed(_)) => return Err(PipelineError::SinkGone),
                Err(async_mpsc::error::SendTimeoutError::Timeout(chunk)) => {
                    for item in chunk.into_iter().rev() {
                        held.push_front(item);
                    }
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Remembers an ordinary record, as [`Feeder::read`] does with [`Item::Seen`], without
    /// building a position for each: most records are ordinary, and most follow one of
    /// the same topic and partition.
    pub(super) fn read_ordinary(&self, topic: &str, partition: i32, offset: u64) -> Result<bool, PipelineError> {
        {
            let mut unsent = self.unsent_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(earlier) = unsent.get_mut(&partition) {
                if earlier.source == topic {
                    earlier.offset = offset;
                    return Ok(true);
                }
            }
        }
        self.read(Item::Seen(Position { source: topic.to_owned(), partition, offset }))
    }

    /// Queues a record: an ordinary one is only remembered; a row goes after what its
    /// partition saw before it. False when the queue is full and the item was held.
    pub(super) fn read(&self, item: Item) -> Result<bool, PipelineError> {
        let mut unsent = self.unsent_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match item {
            Item::Seen(position) => {
                // Topics share partition numbers rarely (a regex subscription); keep order then.
                match unsent.get(&position.partition) {
                    Some(earlier) if earlier.source != position.source => {
                        let earlier = unsent.insert(position.partition, position);
                        drop(unsent);
                        earlier.map_or(Ok(true), |earlier| self.push(Item::Seen(earlier)))
                    }
                    _ => {
                        unsent.insert(position.partition, position);
                        Ok(true)
                    }
                }
            }
            Item::Error(_, ref position) | Item::Quarantine(_, ref position) => {
                let earlier = unsent.remove(&position.partition);
                drop(unsent);
                if let Some(earlier) = earlier {
                    self.push(Item::Seen(earlier))?;
                }
                self.push(item)
            }
            Item::Flush(_) => {
                drop(unsent);
                self.push(item)
            }
        }
    }

    /// Queues every remembered ordinary record, so that the sink can acknowledge them.
    pub(super) fn queue_seen(&self) -> Result<bool, PipelineError> {
        let unsent: Vec<Position> =
            self.unsent_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain().map(|(_, p)| p).collect();
        let mut flowing = true;
        for position in unsent {
            flowing &= self.push(Item::Seen(position))?;
        }
        Ok(flowing)
    }

    /// Sends what is held, a partial chunk too when `partial` says so; false while the queue
    /// is full.
    pub(super) fn drain_held(&self, partial: Partial) -> Result<bool, PipelineError> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.is_empty() || (partial == Partial::Keep && held.len() < CHUNK) {
            return Ok(true);
        }
        // While the queue is full, trying costs nothing; waiting is for `push`.
        if self.items.capacity() == 0 {
            return Ok(false);
        }
        self.send(&mut held, partial)
    }

    /// Hands over everything held, waits until the sink stored it all, and returns every
    /// position stored since the consumer last looked.
    pub(super) fn flush_all(&self) -> Result<StoredPositions, PipelineError> {
        self.queue_seen()?;
        let held: Vec<Item> = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain(..).collect();
        let (reply, answer) = oneshot::channel();
        // The whole hand-over is bounded in time: with ClickHouse down, the queue does not drain.
        let flushed = self
            .runtime
            .block_on(async {
                tokio::time::timeout(self.shutdown_timeout, async {
                    let mut held = held.into_iter().peekable();
                    while held.peek().is_some() {
                        let chunk: Vec<Item> = held.by_ref().take(CHUNK).collect();
                        self.items.send(chunk).await.map_err(|_| PipelineError::SinkGone)?;
                    }
                    self.items.send(vec![Item::Flush(reply)]).await.map_err(|_| PipelineError::SinkGone)?;
                    answer.await.map_err(|_| PipelineError::SinkGone)
                })
                .await
            })
            .map_err(|_| PipelineError::ShutdownTimeout(self.shutdown_timeout))??;
        let mut stored = self.take_acks();
        merge(&mut stored, flushed);
        Ok(stored)
    }

    /// What ClickHouse held for the partition of `position` when it arrived; nothing for a
    /// partition not assigned.
    pub(super) fn watermarks(&self, position: &Position) -> Watermarks {
        let watermarks = self.watermarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        watermarks.get(&(position.source.clone(), position.partition)).copied().unwrap_or_default()
    }

    /// Positions the sink reported stored since the last call.
    pub(super) fn take_acks(&self) -> StoredPositions {
        let acks = self.acks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stored = BTreeMap::new();
        while let Ok(batch) = acks.try_recv() {
            merge(&mut stored, batch);
        }
        stored
    }
}

impl Rebalancing for Feeder {
    fn assigned(&self, partitions: &[Partition]) {
        for (topic, partition) in partitions {
            let mut delay = self.watermarks_retry;
            // Without knowing what ClickHouse holds, rereading could store records twice: wait.
            let stored = loop {
                match self.runtime.block_on(self.watermark_reader.watermarks(topic, *partition)) {
                    Ok(stored) => break stored,
                    Err(error) => {
                        warn!(topic, partition, %error, "cannot read what ClickHouse holds for the partition, retrying");
                        std::thread::sleep(delay);
                        delay = (delay * 2).min(WATERMARKS_RETRY_MAX);
                    }
                }
            };
            info!(topic, partition, errors_up_to = ?stored.errors, quarantine_up_to = ?stored.quarantine, "stored so far");
            self.watermarks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert((topic.clone(), *partition), stored);
        }
    }

    fn holding(&self, partitions: usize) {
        self.metrics.set_partitions_assigned(partitions);
    }

    fn flush_before_revoke(&self) -> BTreeMap<Partition, u64> {
        match self.flush_all() {
            Ok(stored) => stored,
            Err(error) => {
                error!(%error, "cannot flush before the partitions go; their records will be read again");
                BTreeMap::new()
            }
        }
    }
}

/// Items per message to the sink.
pub(super) const CHUNK: usize = 1024;

/// Whether a chunk that is not full is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Partial {
    Keep,
    Send,
}

/// How long the first retry of a failed watermark reading waits, when running.
pub(super) const WATERMARKS_RETRY: Duration = Duration::from_millis(200);

/// How long a retry of a failed watermark reading waits, at most.
pub(super) const WATERMARKS_RETRY_MAX: Duration = Duration::from_secs(10);

/// How long the consumer waits for room in a full queue before it pauses its partitions.
pub(super) const QUEUE_FULL_WAIT: Duration = Duration::from_millis(250);
