//! The consumer group `errwatch run` reads with: offsets stored by hand, and the rebalance
//! callback that flushes before partitions go and learns what ClickHouse holds when they come.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tracing::{info, warn};

use super::{ClientLog, KafkaSettings, Partition, SourceError};

/// What the pipeline does when partitions come and go.
pub trait Rebalancing: Send + Sync {
    /// Called before partitions arrive; they are then read from their committed offsets.
    fn assigned(&self, partitions: &[Partition]);

    /// Called before partitions are taken away: store everything consumed so far and return
    /// the highest offset stored per partition, to be committed before letting go.
    fn flush_before_revoke(&self) -> BTreeMap<Partition, u64>;

    /// Called after every change of assignment with how many partitions are held now.
    fn holding(&self, partitions: usize);
}

/// One record as read from Kafka, borrowed from the consumer until the next poll.
pub struct KafkaRecord<'a> {
    message: BorrowedMessage<'a>,
}

impl KafkaRecord<'_> {
    pub fn topic(&self) -> &str {
        self.message.topic()
    }

    pub fn partition(&self) -> i32 {
        self.message.partition()
    }

    pub fn offset(&self) -> i64 {
        self.message.offset()
    }

    pub fn payload(&self) -> &[u8] {
        self.message.payload().unwrap_or_default()
    }

    /// The record's Kafka timestamp (create or log-append time), in milliseconds.
    pub fn timestamp_millis(&self) -> Option<i64> {
        self.message.timestamp().to_millis()
    }
}

impl std::fmt::Debug for KafkaRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaRecord")
            .field("topic", &self.topic())
            .field("partition", &self.partition())
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

struct Context {
    rebalancing: Arc<dyn Rebalancing>,
    /// Per partition, messages behind its end, as of the latest statistics.
    lags: Mutex<Vec<(String, i32, i64)>>,
    log: ClientLog,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        let mut lags = Vec::new();
        for (topic, details) in &statistics.topics {
            for (partition, state) in &details.partitions {
                // Partition -1 is librdkafka's internal one; offsets below zero are unknown.
                if *partition < 0 || state.hi_offset < 0 {
                    continue;
                }
                let lag = if state.app_offset >= 0 { state.hi_offset - state.app_offset } else { state.consumer_lag };
                if lag >= 0 {
                    lags.push((topic.clone(), *partition, lag));
                }
            }
        }
        *self.lags.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = lags;
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(&error, reason);
    }
}

impl ConsumerContext for Context {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, error: RDKafkaRespErr, partitions: &mut TopicPartitionList) {
        match error {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, partitions),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, partitions),
            other => {
                warn!(error = ?other, "rebalance failed, letting the partitions go");
                if let Err(error) = consumer.unassign() {
                    warn!(%error, "cannot unassign");
                }
            }
        }
    }
}

impl Context {
    /// Lets the pipeline learn what ClickHouse holds, then reads from the committed offsets.
    fn assign(&self, consumer: &BaseConsumer<Self>, partitions: &mut TopicPartitionList) {
        let list = partition_list(partitions);
        self.rebalancing.assigned(&list);
        for (topic, partition) in &list {
            info!(topic, partition, "partition assigned");
        }
        if let Err(error) = consumer.assign(partitions) {
            warn!(%error, "cannot assign partitions");
        }
        self.rebalancing.holding(consumer.assignment().map(|list| list.count()).unwrap_or(0));
    }

    /// Flushes, stores and commits before the partitions go.
    fn revoke(&self, consumer: &BaseConsumer<Self>, partitions: &TopicPartitionList) {
        let stored = self.rebalancing.flush_before_revoke();
        store_offsets(consumer, &stored);
        if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is no error.
            if !matches!(error, KafkaError::ConsumerCommit(rdkafka::error::RDKafkaErrorCode::NoOffset)) {
                warn!(%error, "cannot commit before the partitions go");
            }
        }
        info!(partitions = partitions.count(), "partitions revoked");
        if let Err(error) = consumer.unassign() {
            warn!(%error, "cannot unassign");
        }
        self.rebalancing.holding(0);
    }
}

fn partition_list(partitions: &TopicPartitionList) -> Vec<Partition> {
    partitions.elements().iter().map(|element| (element.topic().to_owned(), element.partition())).collect()
}

fn store_offsets(consumer: &BaseConsumer<Context>, stored: &BTreeMap<Partition, u64>) {
    for ((topic, partition), offset) in stored {
        let Ok(offset) = i64::try_from(*offset) else { continue };
        // Stores offset + 1: the next record to read.
        if let Err(error) = consumer.store_offset(topic, *partition, offset) {
            warn!(topic, partition, offset, %error, "cannot store the offset");
        }
    }
}

/// A consumer in a group.
pub struct KafkaSource {
    consumer: BaseConsumer<Context>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

impl KafkaSource {
    pub fn connect(settings: &KafkaSettings, rebalancing: Arc<dyn Rebalancing>) -> Result<KafkaSource, SourceError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("auto.commit.interval.ms", "1000")
            // Prefetch is bounded: memory stays flat when the sink falls behind.
            .set("queued.max.messages.kbytes", "16384")
            // Once a partition's prefetch went over that bound, librdkafka waits this long
            // before fetching it again: with the default second, a consumer slower than the
            // fetcher (one that classifies) found the queue empty half of the time.
            .set("fetch.queue.backoff.ms", "20")
            // Brokers answer a fetch as soon as records are there; one that holds an empty
            // fetch for the whole wait (librdkafka's mock cluster does) would add up to this
            // much to the latency of the records that arrive meanwhile. librdkafka's default
            // is 500 ms; when idle, the shorter wait costs a few small requests a second.
            .set("fetch.wait.max.ms", "100")
            .set("enable.partition.eof", "false")
            // Statistics carry each partition's end offset: the lag metric comes from them.
            .set("statistics.interval.ms", "1000");
        for (key, value) in &settings.extra {
            config.set(key, value);
        }
        let consumer: BaseConsumer<Context> = config
            .create_with_context(Context { rebalancing, lags: Mutex::new(Vec::new()), log: ClientLog::default() })
            .map_err(SourceError::Settings)?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|error| SourceError::Subscribe { topics: settings.topics.join(","), error })?;
        Ok(KafkaSource { consumer })
    }

    /// The next record, or `None` when none arrived within `timeout`. Rebalances run inside.
    pub fn poll(&self, timeout: Duration) -> Option<Result<KafkaRecord<'_>, SourceError>> {
        let message = self.consumer.poll(timeout)?;
        Some(message.map(|message| KafkaRecord { message }).map_err(SourceError::Kafka))
    }

    /// Marks everything up to these offsets as done; committed with the next commit.
    pub fn store_offsets(&self, stored: &BTreeMap<Partition, u64>) {
        store_offsets(&self.consumer, stored);
    }

    /// Stops fetching from every assigned partition (back-pressure), keeping the group.
    pub fn pause(&self) {
        if let Ok(assignment) = self.consumer.assignment() {
            if let Err(error) = self.consumer.pause(&assignment) {
                warn!(%error, "cannot pause");
            }
        }
    }

    pub fn resume(&self) {
        if let Ok(assignment) = self.consumer.assignment() {
            if let Err(error) = self.consumer.resume(&assignment) {
                warn!(%error, "cannot resume");
            }
        }
    }

    /// The partitions this consumer holds now.
    pub fn assignment(&self) -> Vec<Partition> {
        self.consumer.assignment().map(|list| partition_list(&list)).unwrap_or_default()
    }

    /// Messages between the next one to read and the end of each assigned partition, from
    /// librdkafka's latest statistics (about once a second); partitions not read from yet
    /// are left out.
    pub fn lags(&self) -> Vec<(String, i32, i64)> {
        let assigned = self.assignment();
        let lags = self.consumer.context().lags.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lags.iter().filter(|(topic, partition, _)| assigned.contains(&(topic.clone(), *partition))).cloned().collect()
    }

    /// Commits the stored offsets and waits for the answer.
    pub fn commit(&self) -> Result<(), SourceError> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Err(KafkaError::ConsumerCommit(rdkafka::error::RDKafkaErrorCode::NoOffset)) | Ok(()) => Ok(()),
            Err(error) => Err(SourceError::Kafka(error)),
        }
    }

    /// Leaves the group: partitions are revoked (and flushed) first.
    pub fn leave(&self) {
        self.consumer.unsubscribe();
        // Serve the revoke callback that unsubscribing triggers.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.consumer.assignment().map(|list| list.count() == 0).unwrap_or(true)
            && std::time::Instant::now() < deadline
        {
            let _ = self.consumer.poll(Duration::from_millis(100));
        }
    }
}
