//! What the sink tells whoever watches it: inserts, failed attempts, batches stored. The
//! store does not know how it is watched; the metrics implement this, tests record it.

use std::fmt;
use std::time::Duration;

use super::FailureKind;

/// Told of every insert attempt's outcome and of every batch stored. Calls come once per
/// insert or batch, never per row.
pub trait SinkObserver: Send + Sync + fmt::Debug {
    /// `rows` rows were stored in `table`; `took` is how long the insert took, or `None` when
    /// its connection broke and a query then found it stored.
    fn inserted(&self, table: &str, rows: usize, took: Option<Duration>);

    /// An insert attempt into `table` failed; unreachable and transient ones are retried.
    fn insert_failed(&self, table: &str, failure: FailureKind);

    /// A batch was stored at `now` (Unix seconds); `event_times` are the event times (Unix
    /// seconds) of the error rows in it.
    fn stored(&self, now: f64, event_times: &[f64]);
}

/// Watches nothing: the sink's observer until it is given one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl SinkObserver for NoObserver {
    fn inserted(&self, _table: &str, _rows: usize, _took: Option<Duration>) {}

    fn insert_failed(&self, _table: &str, _failure: FailureKind) {}

    fn stored(&self, _now: f64, _event_times: &[f64]) {}
}
