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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{mpsc as async_mpsc, oneshot};
use tracing::{error, info, warn};

use crate::classify::{classify, Classification};
use crate::extract::Limits;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::source::kafka::{KafkaRecord, KafkaSettings, KafkaSource, Partition, Rebalancing, SourceError};
use crate::source::Position;
use crate::store::{
    Encoded, ErrorRow, ErrorRowView, QuarantineRow, Sink, SinkSettings, Store, StoreError, StoredPositions, Watermarks,
};
use crate::timestamp::Timestamp;

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
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot store events, stopping without committing what was not stored: {0}")]
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

/// The consumer's side of the queue, shared with the rebalance callbacks.
struct Feeder {
    items: async_mpsc::Sender<Vec<Item>>,
    /// Items not sent yet, in order: a chunk being filled, and what did not fit in the queue
    /// (bounded by what Kafka had prefetched).
    held: Mutex<VecDeque<Item>>,
    /// Per partition, the last record read that is not an error and has not been queued yet.
    /// Only the highest such position matters to the sink, so runs of ordinary records cost
    /// one item rather than one each; it is queued before the partition's next row.
    unsent_seen: Mutex<HashMap<i32, Position>>,
    acks: Mutex<mpsc::Receiver<StoredPositions>>,
    store: Store,
    /// What ClickHouse held for each assigned partition when it arrived: rows at or below a
    /// table's watermark are stored already and are not stored again.
    watermarks: Mutex<HashMap<Partition, Watermarks>>,
    runtime: Handle,
    shutdown_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Feeder {
    /// Adds an item behind the held ones and sends whole chunks; false when the queue is
    /// full and items stay held.
    fn push(&self, item: Item) -> Result<bool, PipelineError> {
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
    fn send(&self, held: &mut VecDeque<Item>, partial: Partial) -> Result<bool, PipelineError> {
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
    fn read_ordinary(&self, topic: &str, partition: i32, offset: u64) -> Result<bool, PipelineError> {
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
    fn read(&self, item: Item) -> Result<bool, PipelineError> {
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
    fn queue_seen(&self) -> Result<bool, PipelineError> {
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
    fn drain_held(&self, partial: Partial) -> Result<bool, PipelineError> {
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
    fn flush_all(&self) -> Result<StoredPositions, PipelineError> {
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

    /// Whether ClickHouse held the row at `position` when its partition arrived.
    fn stored(&self, position: &Position, has: fn(&Watermarks, u64) -> bool) -> bool {
        let watermarks = self.watermarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        watermarks
            .get(&(position.source.clone(), position.partition))
            .is_some_and(|stored| has(stored, position.offset))
    }

    /// Positions the sink reported stored since the last call.
    fn take_acks(&self) -> StoredPositions {
        let acks = self.acks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stored = BTreeMap::new();
        while let Ok(batch) = acks.try_recv() {
            merge(&mut stored, batch);
        }
        stored
    }
}

fn merge(into: &mut StoredPositions, from: StoredPositions) {
    for (partition, offset) in from {
        let highest = into.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }
}

impl Rebalancing for Feeder {
    fn assigned(&self, partitions: &[Partition]) {
        for (topic, partition) in partitions {
            let mut delay = Duration::from_millis(200);
            // Without knowing what ClickHouse holds, rereading could store records twice: wait.
            let stored = loop {
                match self.runtime.block_on(self.store.watermarks(topic, *partition)) {
                    Ok(stored) => break stored,
                    Err(error) => {
                        warn!(topic, partition, %error, "cannot read what ClickHouse holds for the partition, retrying");
                        std::thread::sleep(delay);
                        delay = (delay * 2).min(Duration::from_secs(10));
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
const CHUNK: usize = 1024;

/// Records read between two rounds of the consumer's other duties, at most.
const RECORDS_PER_RUN: usize = 512;

/// Whether a chunk that is not full is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    Keep,
    Send,
}

/// How often what was read is handed to the sink, at least.
const HAND_OVER_EVERY: Duration = Duration::from_millis(100);

/// How long the consumer waits for room in a full queue before it pauses its partitions.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(250);

/// Records older than this (by their Kafka timestamp) when read mean a backlog is being read.
const CATCHING_UP_AGE: Duration = Duration::from_secs(120);

/// How long the catching-up state outlasts the last old record read: a backlog read in bursts
/// (paused while the sink catches up) must not flicker between scrapes.
const CATCHING_UP_HOLD: Duration = Duration::from_secs(60);

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
    let sink = Sink::new(store.clone(), settings.sink).with_metrics(metrics.clone());
    let retention = settings.retention.map(|retention| (store.clone(), retention));
    let sink_task = runtime.spawn(sink_loop(sink, items_received, acks_sender, retention));
    let feeder = Arc::new(Feeder {
        items,
        held: Mutex::new(VecDeque::new()),
        unsent_seen: Mutex::new(HashMap::new()),
        acks: Mutex::new(acks),
        store,
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

fn consume(
    feeder: &Arc<Feeder>,
    settings: &PipelineSettings,
    metrics: &Metrics,
    shutdown: &Shutdown,
    sink_task: &tokio::task::JoinHandle<Result<(), StoreError>>,
) -> Result<(), PipelineError> {
    let source = KafkaSource::connect(&settings.kafka, feeder.clone())?;
    info!(topics = %settings.kafka.topics.join(","), group = %settings.kafka.group, "consuming");
    let mut paused = false;
    let mut lag_report = LagReport::new();
    let mut handed_over = Instant::now();
    let mut kafka_warnings = Quieter::new();
    while !shutdown.is_raised() {
        lag_report.tick(&source, metrics);
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
                    kafka_warnings.warn(&error);
                    break;
                }
                Some(Ok(record)) => {
                    lag_report.read(record.timestamp_millis());
                    if !feed(feeder, &record, settings, metrics, &mut run_time)? {
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

/// Kafka errors as log lines, at most one every few seconds: librdkafka retries by itself,
/// and an unreachable cluster reports itself many times a second.
struct Quieter {
    last: Option<Instant>,
    suppressed: u64,
}

impl Quieter {
    const EVERY: Duration = Duration::from_secs(10);

    fn new() -> Quieter {
        Quieter { last: None, suppressed: 0 }
    }

    fn warn(&mut self, error: &SourceError) {
        if self.last.is_some_and(|last| last.elapsed() < Self::EVERY) {
            self.suppressed += 1;
            return;
        }
        warn!(%error, repeated = self.suppressed, "kafka error, librdkafka retries by itself; check ERRWATCH_KAFKA_BROKERS if it goes on");
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// Lag per partition and whether a backlog is being read, reported about once a second.
struct LagReport {
    last: Instant,
    /// The oldest record read since the last report, in Unix milliseconds.
    oldest_read: Option<i64>,
    /// When an old record was last read.
    last_old_read: Option<Instant>,
}

impl LagReport {
    fn new() -> LagReport {
        LagReport { last: Instant::now(), oldest_read: None, last_old_read: None }
    }

    fn read(&mut self, kafka_timestamp: Option<i64>) {
        if let Some(millis) = kafka_timestamp {
            self.oldest_read = Some(self.oldest_read.map_or(millis, |oldest| oldest.min(millis)));
        }
    }

    fn tick(&mut self, source: &KafkaSource, metrics: &Metrics) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let now = Timestamp::now().unix_millis();
        let read_old = self.oldest_read.take().is_some_and(|oldest| {
            u128::try_from(now.saturating_sub(oldest)).unwrap_or_default() > CATCHING_UP_AGE.as_millis()
        });
        if read_old {
            self.last_old_read = Some(Instant::now());
        }
        let catching_up = self.last_old_read.is_some_and(|when| when.elapsed() < CATCHING_UP_HOLD);
        metrics.set_lags(&source.lags(), catching_up);
    }
}

/// Classifies a record and hands it to the feeder; false when the queue is full. `run_time`
/// is the time rows of this run are ingested at, read from the clock for the first of them.
fn feed(
    feeder: &Feeder,
    record: &KafkaRecord<'_>,
    settings: &PipelineSettings,
    metrics: &Metrics,
    run_time: &mut Option<Timestamp>,
) -> Result<bool, PipelineError> {
    let offset = u64::try_from(record.offset()).unwrap_or_default();
    let payload = record.payload();
    let classification = classify(payload, &settings.limits);
    metrics.observe(&classification);
    let has: fn(&Watermarks, u64) -> bool = match classification {
        Classification::NotAnError { .. } => return feeder.read_ordinary(record.topic(), record.partition(), offset),
        Classification::ApiError(_) => Watermarks::has_error,
        Classification::Unreadable(_) => Watermarks::has_quarantined,
    };
    let position = Position { source: record.topic().to_owned(), partition: record.partition(), offset };
    // A row ClickHouse held when the partition arrived is only acknowledged, not built again.
    if feeder.stored(&position, has) {
        return feeder.read(Item::Seen(position));
    }
    let now = *run_time.get_or_insert_with(Timestamp::now);
    let item = match classification {
        Classification::ApiError(error) => {
            let kafka_time = record.timestamp_millis().and_then(Timestamp::from_unix_millis).unwrap_or(now);
            let text = std::str::from_utf8(payload).unwrap_or_default();
            let row = ErrorRowView::new(&error, text, &position, kafka_time, now, settings.raw_cap);
            let encoded = Encoded::from(row);
            Item::Error(encoded, position)
        }
        Classification::Unreadable(reason) => {
            let row = QuarantineRow::new(reason, payload, payload.len(), &position, now, settings.raw_cap);
            Item::Quarantine(Encoded::new(&row), position)
        }
        Classification::NotAnError { .. } => Item::Seen(position),
    };
    feeder.read(item)
}

/// A batch being stored while the next one fills.
type Storing = std::pin::Pin<Box<dyn std::future::Future<Output = Result<StoredPositions, StoreError>> + Send>>;

/// Receives items into a batch and stores full or old batches, one at a time, while the next
/// batch fills: the consumer keeps reading during an insert, up to one batch ahead. Positions
/// are reported in the order their batches were stored, so none is reported before an
/// earlier batch is in ClickHouse.
async fn sink_loop(
    mut sink: Sink,
    mut items: async_mpsc::Receiver<Vec<Item>>,
    acks: mpsc::Sender<StoredPositions>,
    retention: Option<(Store, Retention)>,
) -> Result<(), StoreError> {
    let mut storing: Option<Storing> = None;
    // Retention was applied at start; the next time is one period later.
    let mut next_retention = retention.as_ref().map(|(_, retention)| tokio::time::Instant::now() + retention.every);
    loop {
        let wait = sink.time_until_due();
        // With a batch in ClickHouse and the next one full, the queue fills up and the
        // consumer pauses: memory stays at two batches and the queue.
        let room = storing.is_none() || !sink.is_full();
        tokio::select! {
            chunk = items.recv(), if room => {
                let Some(chunk) = chunk else {
                    let mut stored = finish(storing.take()).await?;
                    merge(&mut stored, sink.flush().await?);
                    let _ = acks.send(stored);
                    return Ok(());
                };
                for item in chunk {
                    match item {
                        Item::Error(row, position) => sink.add_error(row, &position),
                        Item::Quarantine(row, position) => sink.add_quarantine(row, &position),
                        Item::Seen(position) => sink.saw(&position),
                        Item::Flush(reply) => {
                            let mut stored = finish(storing.take()).await?;
                            merge(&mut stored, sink.flush().await?);
                            let _ = reply.send(stored);
                        }
                    }
                }
            },
            // Polled in place: dropping the future would abandon the insert half way.
            stored = async {
                match storing.as_mut() {
                    Some(storing) => storing.await,
                    None => std::future::pending().await,
                }
            }, if storing.is_some() => {
                storing = None;
                let stored = stored?;
                if !stored.is_empty() {
                    let _ = acks.send(stored);
                }
            },
            () = tokio::time::sleep(wait), if storing.is_none() => {}
            () = sleep_until(next_retention), if next_retention.is_some() => {
                if let Some((store, retention)) = &retention {
                    apply_retention(store, retention.days).await;
                    next_retention = Some(tokio::time::Instant::now() + retention.every);
                }
            }
        }
        if storing.is_none() && sink.is_due() {
            storing = Some(Box::pin(sink.take_batch().store()));
        }
    }
}

/// Sleeps until `when`, or for ever without one.
async fn sleep_until(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Drops old partitions; a failure is logged and tried again at the next period, since old
/// data staying a little longer harms nothing.
async fn apply_retention(store: &Store, days: u32) {
    match store.drop_partitions_older_than(days).await {
        Ok(dropped) if dropped.is_empty() => {}
        Ok(dropped) => info!(days, partitions = dropped.len(), "applied retention"),
        Err(error) => warn!(days, %error, "cannot apply retention, will try again"),
    }
}

/// Waits for the batch being stored, if any.
async fn finish(storing: Option<Storing>) -> Result<StoredPositions, StoreError> {
    match storing {
        Some(storing) => storing.await,
        None => Ok(BTreeMap::new()),
    }
}
