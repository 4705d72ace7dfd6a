//! Lag per partition, and whether a backlog is being read, for the metrics and readiness.

use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use crate::source::kafka::KafkaSource;
use crate::timestamp::Timestamp;

/// Records older than this (by their Kafka timestamp) when read mean a backlog is being read.
pub(super) const CATCHING_UP_AGE: Duration = Duration::from_secs(120);

/// How long the catching-up state outlasts the last old record read: a backlog read in bursts
/// (paused while the sink catches up) must not flicker between scrapes.
pub(super) const CATCHING_UP_HOLD: Duration = Duration::from_secs(60);

/// Lag per partition and whether a backlog is being read, reported about once a second.
pub(super) struct LagReport {
    last: Instant,
    /// The oldest record read since the last report, in Unix milliseconds.
    oldest_read: Option<i64>,
    /// When an old record was last read.
    last_old_read: Option<Instant>,
}

impl LagReport {
    pub(super) fn new() -> LagReport {
        LagReport { last: Instant::now(), oldest_read: None, last_old_read: None }
    }

    pub(super) fn read(&mut self, kafka_timestamp: Option<i64>) {
        if let Some(millis) = kafka_timestamp {
            self.oldest_read = Some(self.oldest_read.map_or(millis, |oldest| oldest.min(millis)));
        }
    }

    pub(super) fn tick(&mut self, source: &KafkaSource, metrics: &Metrics) {
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
