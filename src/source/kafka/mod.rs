//! Kafka, the only module that names `rdkafka`.
//!
//! - `consumer`: the consumer group `errwatch run` reads with. Offsets are never stored
//!   automatically (`enable.auto.offset.store=false`): the pipeline stores an offset only after
//!   the sink reports every record up to it stored, and librdkafka commits what was stored
//!   every few seconds, on revoke and on close. Rebalances call back into the pipeline through
//!   [`Rebalancing`]: before partitions go, it flushes what it holds; when partitions arrive,
//!   it learns how far ClickHouse got for them, and consumption starts at the committed offset.
//! - `producer`: the other direction, for `errwatch generate` and the demo's traffic.
//! - `local`: a cluster inside the process (librdkafka's mock brokers) for `errwatch demo`.

mod consumer;
mod local;
mod producer;

pub use consumer::{KafkaRecord, KafkaSource, Rebalancing};
pub use local::LocalCluster;
pub use producer::KafkaProducer;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use tracing::warn;

/// How to reach the brokers and which records to read.
#[derive(Clone)]
pub struct KafkaSettings {
    pub brokers: String,
    /// Topic names; a name starting with `^` is a regular expression.
    pub topics: Vec<String>,
    pub group: String,
    /// Any further librdkafka setting (`security.protocol`, `sasl.*`, `ssl.*`, ...), passed through.
    pub extra: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra: Vec<(String, String)> = self
            .extra
            .iter()
            .map(|(key, value)| (key.clone(), if is_secret(key) { "<redacted>".to_owned() } else { value.clone() }))
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("topics", &self.topics)
            .field("group", &self.group)
            .field("extra", &extra)
            .finish()
    }
}

/// Settings whose values must never be printed.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key.ends_with(".key.pem") || key.contains("token")
}

/// A topic partition.
pub type Partition = (String, i32);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid Kafka settings: {0}")]
    Settings(KafkaError),
    #[error("cannot subscribe to {topics}: {error}")]
    Subscribe { topics: String, error: KafkaError },
    // Not the error's source: its text is in this one's, which is logged on its own.
    #[error("Kafka error: {0}")]
    Kafka(KafkaError),
    #[error("cannot reach Kafka at {brokers} ({error}); check the address and that the brokers are running")]
    Unreachable { brokers: String, error: KafkaError },
    #[error("topic {topic} does not exist; create it, or let the brokers create topics")]
    NoTopic { topic: String },
    #[error("{failed} of {sent} records were not delivered: {error}")]
    Undelivered { failed: u64, sent: u64, error: String },
}

/// librdkafka's own log lines, at errwatch's levels: its errors as warnings (it retries by
/// itself), the rest for debugging.
fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            warn!(facility, message, "kafka client error")
        }
        _ => tracing::debug!(facility, message, "kafka client"),
    }
}
