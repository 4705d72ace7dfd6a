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
use crate::pace::Backoff;
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
            let mut backoff = Backoff::new(self.watermarks_retry, WATERMARKS_RETRY_MAX);
            // Without knowing what ClickHouse holds, rereading could store records twice: wait.
            let stored = loop {
                match self.runtime.block_on(self.watermark_reader.watermarks(topic, *partition)) {
                    Ok(stored) => break stored,
                    Err(error) => {
                        warn!(topic, partition, %error, "cannot read what ClickHouse holds for the partition, retrying");
                        std::thread::sleep(backoff.next_pause());
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

#[cfg(test)]
pub(super) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::runtime::Runtime;

    use super::*;
    use crate::extract::Unreadable;
    use crate::store::{Encoded, QuarantineRow};
    use crate::timestamp::Timestamp;

    /// Answers watermark readings in turn, then nothing stored; counts the readings.
    struct FakeReader {
        answers: Mutex<VecDeque<Result<Watermarks, StoreError>>>,
        readings: Arc<AtomicUsize>,
    }

    impl WatermarkReader for FakeReader {
        fn watermarks<'a>(&'a self, _topic: &'a str, _partition: i32) -> Reading<'a> {
            self.readings.fetch_add(1, Ordering::SeqCst);
            let answer = self.answers.lock().unwrap().pop_front().unwrap_or(Ok(Watermarks::default()));
            Box::pin(std::future::ready(answer))
        }
    }

    pub(in crate::pipeline) fn runtime() -> Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    /// The test's side of a feeder: the queue it fills, the acknowledgements it reads.
    pub(in crate::pipeline) struct Sides {
        pub(in crate::pipeline) items: async_mpsc::Receiver<Vec<Item>>,
        pub(in crate::pipeline) acks: mpsc::Sender<StoredPositions>,
        pub(in crate::pipeline) readings: Arc<AtomicUsize>,
    }

    /// A feeder whose queue holds `chunks` chunks, over watermark readings that answer `answers`.
    pub(in crate::pipeline) fn feeder(
        runtime: &Runtime,
        chunks: usize,
        answers: Vec<Result<Watermarks, StoreError>>,
    ) -> (Feeder, Sides) {
        let (items, items_received) = async_mpsc::channel(chunks);
        let (acks_sender, acks) = mpsc::channel();
        let readings = Arc::new(AtomicUsize::new(0));
        let reader = FakeReader { answers: Mutex::new(answers.into()), readings: readings.clone() };
        let feeder = Feeder {
            items,
            held: Mutex::new(VecDeque::new()),
            unsent_seen: Mutex::new(HashMap::new()),
            acks: Mutex::new(acks),
            watermark_reader: Box::new(reader),
            watermarks_retry: Duration::from_millis(1),
            watermarks: Mutex::new(HashMap::new()),
            runtime: runtime.handle().clone(),
            shutdown_timeout: Duration::from_millis(200),
            metrics: Arc::new(Metrics::new(8)),
        };
        (feeder, Sides { items: items_received, acks: acks_sender, readings })
    }

    fn at(topic: &str, partition: i32, offset: u64) -> Position {
        Position { source: topic.to_owned(), partition, offset }
    }

    fn seen(topic: &str, partition: i32, offset: u64) -> Item {
        Item::Seen(at(topic, partition, offset))
    }

    fn quarantined(topic: &str, partition: i32, offset: u64) -> Item {
        let position = at(topic, partition, offset);
        let reason = Unreadable::NotUtf8 { offset: 0 };
        let row = QuarantineRow::new(reason, b"\xff", 1, &position, Timestamp::now(), 16);
        Item::Quarantine(Encoded::new(&row), position)
    }

    /// An item as the tests compare them: `seen a/0@3`, `quarantine a/0@4`.
    pub(in crate::pipeline) fn describe(item: &Item) -> String {
        let (what, position) = match item {
            Item::Error(_, position) => ("error", position),
            Item::Quarantine(_, position) => ("quarantine", position),
            Item::Seen(position) => ("seen", position),
            Item::Flush(_) => return "flush".to_owned(),
        };
        format!("{what} {}/{}@{}", position.source, position.partition, position.offset)
    }

    /// Every chunk waiting in the queue, described.
    pub(in crate::pipeline) fn received(items: &mut async_mpsc::Receiver<Vec<Item>>) -> Vec<Vec<String>> {
        let mut chunks = Vec::new();
        while let Ok(chunk) = items.try_recv() {
            chunks.push(chunk.iter().map(describe).collect());
        }
        chunks
    }

    /// Hands over what the feeder holds, and checks what the queue received, in order.
    fn check_handed_over(what: &str, feeder: &Feeder, sides: &mut Sides, expected: &[&str]) {
        assert!(feeder.queue_seen().unwrap(), "{what}");
        assert!(feeder.drain_held(Partial::Send).unwrap(), "{what}");
        let got: Vec<String> = received(&mut sides.items).concat();
        assert_eq!(got, expected, "{what}");
    }

    #[test]
    fn ordinary_records_fold_into_one_position_per_partition_in_order() {
        let runtime = runtime();
        let check = |what: &str, read: &dyn Fn(&Feeder), expected: &[&str]| {
            let (feeder, mut sides) = feeder(&runtime, 8, Vec::new());
            read(&feeder);
            check_handed_over(what, &feeder, &mut sides, expected);
        };
        check(
            "a run of ordinary records costs one item",
            &|feeder| {
                for offset in 1..=500 {
                    assert!(feeder.read_ordinary("a", 0, offset).unwrap());
                }
            },
            &["seen a/0@500"],
        );
        check(
            "the slow path folds as the fast one",
            &|feeder| {
                for offset in 1..=5 {
                    assert!(feeder.read(seen("a", 0, offset)).unwrap());
                }
                assert!(feeder.read_ordinary("a", 0, 6).unwrap());
            },
            &["seen a/0@6"],
        );
        check(
            "two topics sharing a partition number keep their order",
            &|feeder| {
                for (topic, offset) in [("a", 1), ("a", 2), ("b", 5), ("b", 6), ("a", 3)] {
                    assert!(feeder.read_ordinary(topic, 0, offset).unwrap());
                }
            },
            &["seen a/0@2", "seen b/0@6", "seen a/0@3"],
        );
        check(
            "a row goes after what its partition saw before it, not after other partitions",
            &|feeder| {
                for offset in 1..=3 {
                    assert!(feeder.read_ordinary("a", 0, offset).unwrap());
                }
                assert!(feeder.read_ordinary("a", 1, 1).unwrap());
                assert!(feeder.read(quarantined("a", 0, 4)).unwrap());
            },
            &["seen a/0@3", "quarantine a/0@4", "seen a/1@1"],
        );
        check(
            "ordinary records after a row fold again",
            &|feeder| {
                for offset in [1, 2, 3] {
                    assert!(feeder.read_ordinary("a", 0, offset).unwrap());
                }
                assert!(feeder.read(quarantined("a", 0, 4)).unwrap());
                for offset in [5, 6] {
                    assert!(feeder.read_ordinary("a", 0, offset).unwrap());
                }
            },
            &["seen a/0@3", "quarantine a/0@4", "seen a/0@6"],
        );
        check(
            "a row with nothing seen before it goes alone",
            &|feeder| assert!(feeder.read(quarantined("a", 0, 1)).unwrap()),
            &["quarantine a/0@1"],
        );
    }

    /// `count` seen positions of distinct partitions, from `first` on.
    fn distinct(first: i32, count: usize) -> Vec<Item> {
        (first..).take(count).map(|partition| seen("a", partition, 1)).collect()
    }

    #[test]
    fn items_go_in_whole_chunks_until_a_partial_one_is_asked_for() {
        let runtime = runtime();
        let (feeder, mut sides) = feeder(&runtime, 8, Vec::new());
        for item in distinct(0, 2 * CHUNK + 5) {
            assert!(feeder.push(item).unwrap());
        }
        let sizes = |chunks: Vec<Vec<String>>| chunks.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(received(&mut sides.items)), [CHUNK, CHUNK]);
        assert!(feeder.drain_held(Partial::Keep).unwrap());
        assert_eq!(sizes(received(&mut sides.items)), Vec::<usize>::new(), "a partial chunk waits");
        assert!(feeder.drain_held(Partial::Send).unwrap());
        let last = received(&mut sides.items);
        assert_eq!(sizes(last.clone()), [5]);
        assert_eq!(last.concat().first().map(String::as_str), Some("seen a/2048@1"));
    }

    #[test]
    fn a_full_queue_holds_items_and_drains_them_in_order_once_there_is_room() {
        let runtime = runtime();
        let (feeder, mut sides) = feeder(&runtime, 1, Vec::new());
        let items = distinct(0, 2 * CHUNK + 1);
        let expected: Vec<String> = items.iter().map(describe).collect();
        let mut items = items.into_iter();
        let flowing: Vec<bool> = items.by_ref().take(2 * CHUNK).map(|item| feeder.push(item).unwrap()).collect();
        let stopped: Vec<usize> = (0..flowing.len()).filter(|at| !flowing.get(*at).copied().unwrap_or(true)).collect();
        assert_eq!(stopped, [2 * CHUNK - 1], "the first chunk fits, the second finds the queue full");
        let held: Vec<String> = feeder.held.lock().unwrap().iter().map(describe).collect();
        assert_eq!(held, expected.get(CHUNK..).unwrap_or_default().get(..CHUNK).unwrap_or_default(), "held in order");
        for item in items {
            assert!(!feeder.push(item).unwrap(), "still full");
        }
        assert!(!feeder.drain_held(Partial::Send).unwrap(), "still full");
        assert_eq!(feeder.held.lock().unwrap().len(), CHUNK + 1, "what did not fit stays held");
        let mut got = received(&mut sides.items).concat();
        assert_eq!(got.len(), CHUNK, "one chunk read makes room for one");
        assert!(!feeder.drain_held(Partial::Send).unwrap(), "the partial chunk finds the queue full again");
        got.extend(received(&mut sides.items).concat());
        assert!(feeder.drain_held(Partial::Send).unwrap());
        got.extend(received(&mut sides.items).concat());
        assert_eq!(got, expected, "in order");
        assert!(feeder.held.lock().unwrap().is_empty());
    }

    /// A sink that answers each flush with `answer`, and tells what it received.
    fn answering_sink(
        runtime: &Runtime,
        mut items: async_mpsc::Receiver<Vec<Item>>,
        answer: StoredPositions,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        runtime.spawn(async move {
            let mut got = Vec::new();
            while let Some(chunk) = items.recv().await {
                for item in chunk {
                    got.push(describe(&item));
                    if let Item::Flush(reply) = item {
                        let _ = reply.send(answer.clone());
                    }
                }
            }
            got
        })
    }

    fn positions(stored: &[(&str, i32, u64)]) -> StoredPositions {
        stored.iter().map(|(topic, partition, offset)| (((*topic).to_owned(), *partition), *offset)).collect()
    }

    #[test]
    fn flushing_hands_over_everything_and_returns_what_was_stored() {
        let runtime = runtime();
        let check = |what: &str, flush: fn(&Feeder) -> StoredPositions| {
            let (feeder, sides) = feeder(&runtime, 1, Vec::new());
            sides.acks.send(positions(&[("a", 0, 3), ("a", 1, 9)])).unwrap();
            for item in distinct(10, CHUNK + 1) {
                feeder.push(item).unwrap();
            }
            feeder.read_ordinary("a", 0, 7).unwrap();
            let sink = answering_sink(&runtime, sides.items, positions(&[("a", 0, 7), ("a", 1, 4)]));
            let stored = flush(&feeder);
            assert_eq!(stored, positions(&[("a", 0, 7), ("a", 1, 9)]), "{what}: the highest of acks and flush");
            drop(feeder);
            let got = runtime.block_on(sink).unwrap();
            let expected: Vec<String> = distinct(10, CHUNK + 1)
                .iter()
                .map(describe)
                .chain(["seen a/0@7".to_owned(), "flush".to_owned()])
                .collect();
            assert_eq!(got, expected, "{what}");
        };
        check("at shutdown", |feeder| feeder.flush_all().unwrap());
        check("before partitions go", |feeder| feeder.flush_before_revoke());
    }

    #[test]
    fn a_flush_the_sink_never_answers_times_out() {
        let runtime = runtime();
        let (feeder, sides) = feeder(&runtime, 8, Vec::new());
        feeder.read_ordinary("a", 0, 1).unwrap();
        assert!(matches!(feeder.flush_all(), Err(PipelineError::ShutdownTimeout(_))));
        feeder.read_ordinary("a", 0, 2).unwrap();
        sides.acks.send(positions(&[("a", 0, 1)])).unwrap();
        assert_eq!(feeder.flush_before_revoke(), BTreeMap::new(), "nothing to commit when the flush failed");
        drop(sides.items);
        assert!(matches!(feeder.flush_all(), Err(PipelineError::SinkGone)));
    }

    #[test]
    fn arriving_partitions_keep_their_watermarks_after_retrying_a_failed_reading() {
        let runtime = runtime();
        let unreachable =
            || StoreError::Unreachable { url: "http://clickhouse".to_owned(), detail: "refused".to_owned() };
        let answers = vec![
            Err(unreachable()),
            Err(unreachable()),
            Ok(Watermarks { errors: Some(5), quarantine: None }),
            Ok(Watermarks { errors: None, quarantine: Some(8) }),
        ];
        let (feeder, sides) = feeder(&runtime, 8, answers);
        feeder.assigned(&[("a".to_owned(), 0), ("b".to_owned(), 1)]);
        assert_eq!(sides.readings.load(Ordering::SeqCst), 4, "two failed readings, then one per partition");
        let check = |topic: &str, partition: i32, offset: u64, has_error: bool, has_quarantined: bool| {
            let stored = feeder.watermarks(&at(topic, partition, offset));
            let got = (stored.has_error(offset), stored.has_quarantined(offset));
            assert_eq!(got, (has_error, has_quarantined), "{topic}/{partition}@{offset}");
        };
        check("a", 0, 5, true, false);
        check("a", 0, 6, false, false);
        check("b", 1, 8, false, true);
        check("b", 1, 9, false, false);
        check("a", 1, 1, false, false);
        check("b", 0, 1, false, false);
        check("c", 0, 1, false, false);
    }
}
