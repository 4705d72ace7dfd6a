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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use tracing::warn;

use crate::pace::Quieter;

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
/// itself, and an unreachable cluster reports itself many times a second, so each facility's
/// warnings go out at most once a period, with the count held back), the rest for debugging.
#[derive(Debug, Default)]
struct ClientLog {
    /// Per facility (a small fixed set of librdkafka's names), its warnings' pace.
    paces: Mutex<HashMap<String, Quieter>>,
}

impl ClientLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                if let Some(repeated) = self.admit(facility, Instant::now()) {
                    warn!(facility, message, repeated, "kafka client error");
                }
            }
            _ => tracing::debug!(facility, message, "kafka client"),
        }
    }

    /// An error librdkafka reports for the whole client (all brokers down, a transport
    /// failure), paced by its code like log lines by their facility.
    fn error(&self, error: &KafkaError, reason: &str) {
        let kind = error.rdkafka_error_code().map_or_else(|| "other".to_owned(), |code| format!("{code:?}"));
        if let Some(repeated) = self.admit(&kind, Instant::now()) {
            warn!(%error, reason, repeated, "kafka client error");
        }
    }

    /// Whether a warning of `facility` at `now` goes out, with how many of its kind were held
    /// back since the last that did.
    fn admit(&self, facility: &str, now: Instant) -> Option<u64> {
        let mut paces = self.paces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match paces.get_mut(facility) {
            Some(pace) => pace.due(now),
            None => paces.entry(facility.to_owned()).or_insert_with(|| Quieter::new(WARNING_EVERY)).due(now),
        }
    }
}

/// How often a kind of Kafka warning goes out, at most, while it repeats.
pub const WARNING_EVERY: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_log_paces_each_facility_apart() {
        let log = ClientLog::default();
        let start = Instant::now();
        let check = |facility: &str, millis: u64, expected: Option<u64>| {
            assert_eq!(log.admit(facility, start + Duration::from_millis(millis)), expected, "{facility} at {millis}");
        };
        check("FAIL", 0, Some(0));
        for millis in 1..=480 {
            check("FAIL", millis, None);
        }
        check("ERROR", 500, Some(0));
        check("FAIL", 10_000, Some(480));
        check("ERROR", 10_500, Some(0));
    }
}
