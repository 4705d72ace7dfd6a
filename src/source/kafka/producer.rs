//! A producer writing records to one topic: `errwatch generate` and the demo's traffic.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tracing::warn;

use super::{ClientLog, SourceError};

/// Counts what the brokers refused, from librdkafka's delivery reports.
#[derive(Default)]
struct Deliveries {
    failed: std::sync::atomic::AtomicU64,
    first_error: Mutex<Option<String>>,
    log: ClientLog,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(&error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut first = self.first_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// A producer writing records to one topic, for `errwatch generate`.
pub struct KafkaProducer {
    producer: BaseProducer<Deliveries>,
    topic: String,
    sent: u64,
}

impl std::fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProducer").field("topic", &self.topic).field("sent", &self.sent).finish_non_exhaustive()
    }
}

impl KafkaProducer {
    /// Connects and checks that the brokers answer and know the topic.
    pub fn connect(brokers: &str, topic: &str, extra: &[(String, String)]) -> Result<KafkaProducer, SourceError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers).set("linger.ms", "20").set("compression.type", "lz4");
        for (key, value) in extra {
            config.set(key, value);
        }
        let producer: BaseProducer<Deliveries> =
            config.create_with_context(Deliveries::default()).map_err(SourceError::Settings)?;
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|error| SourceError::Unreachable { brokers: brokers.to_owned(), error })?;
        if let Some(error) =
            metadata.topics().iter().find(|found| found.name() == topic).and_then(|found| found.error())
        {
            if error == RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART {
                return Err(SourceError::NoTopic { topic: topic.to_owned() });
            }
            warn!(topic, error = ?error, "the topic is not ready yet");
        }
        Ok(KafkaProducer { producer, topic: topic.to_owned(), sent: 0 })
    }

    /// Queues one record; `key` picks its partition, `timestamp_millis` is its Kafka timestamp.
    /// Waits while librdkafka's queue is full.
    pub fn send(&mut self, key: &[u8], payload: &[u8], timestamp_millis: i64) -> Result<(), SourceError> {
        let mut record =
            BaseRecord::<[u8], [u8]>::to(&self.topic).key(key).payload(payload).timestamp(timestamp_millis);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(rdkafka::error::RDKafkaErrorCode::QueueFull), returned)) => {
                    // Delivery reports are served by polling; they free the queue.
                    self.producer.poll(Duration::from_millis(50));
                    record = returned;
                }
                Err((error, _)) => return Err(SourceError::Kafka(error)),
            }
        }
        self.sent += 1;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Waits until every queued record is acknowledged; an error says how many were lost and why.
    pub fn flush(&mut self, timeout: Duration) -> Result<(), SourceError> {
        let flushed = self.producer.flush(timeout);
        let failed = self.producer.context().failed.load(std::sync::atomic::Ordering::Relaxed);
        if failed > 0 {
            let first = self.producer.context().first_error.lock().map(|error| error.clone()).unwrap_or_default();
            return Err(SourceError::Undelivered { failed, sent: self.sent, error: first.unwrap_or_default() });
        }
        flushed.map_err(SourceError::Kafka)
    }
}
