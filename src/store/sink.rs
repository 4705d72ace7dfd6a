//! The sink: gathers rows into batches, inserts them, and says which source positions are
//! stored so the caller can acknowledge exactly those.
//!
//! A batch is flushed when it reaches a row count, a size, or an age. A transient failure is
//! retried with exponential backoff and jitter for as long as it takes; a failure retrying
//! cannot fix (wrong schema, syntax, access) is returned at once, loudly, and nothing of the
//! batch is acknowledged. After a broken connection the sink first asks ClickHouse whether the
//! insert landed anyway, so an insert is never applied twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::rows::{ErrorRow, Position, QuarantineRow};
use super::{Store, StoreError, Table};
use crate::metrics::Metrics;
use crate::timestamp::Timestamp;

/// When a batch is flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkSettings {
    pub max_rows: usize,
    /// Memory the batch's rows take, at most (see `ErrorRow::approximate_size`).
    pub max_bytes: usize,
    pub max_delay: Duration,
    /// The first retry waits this long; each next one twice as long, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for SinkSettings {
    fn default() -> Self {
        SinkSettings {
            max_rows: 50_000,
            max_bytes: 128 * 1024 * 1024,
            max_delay: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// The highest position stored, per source partition, after a flush.
pub type StoredPositions = BTreeMap<(String, i32), u64>;

/// Rows of one table waiting in a batch, with the positions they came from.
#[derive(Debug)]
struct Pending<T> {
    rows: Vec<T>,
    /// Per source partition: the lowest and highest position and the number of rows.
    spans: BTreeMap<(String, i32), (u64, u64, u64)>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { rows: Vec::new(), spans: BTreeMap::new() }
    }
}

impl<T> Pending<T> {
    fn push(&mut self, row: T, position: &Position) {
        self.rows.push(row);
        let span = self.spans.entry((position.source.clone(), position.partition)).or_insert((
            position.offset,
            position.offset,
            0,
        ));
        span.0 = span.0.min(position.offset);
        span.1 = span.1.max(position.offset);
        span.2 += 1;
    }
}

#[derive(Debug)]
pub struct Sink {
    store: Store,
    settings: SinkSettings,
    errors: Pending<ErrorRow>,
    quarantine: Pending<QuarantineRow>,
    bytes: usize,
    opened: Option<Instant>,
    /// The highest position seen per source partition, errors or not.
    seen: StoredPositions,
    jitter: Jitter,
    metrics: Arc<Metrics>,
}

impl Sink {
    pub fn new(store: Store, settings: SinkSettings) -> Sink {
        Sink {
            store,
            settings,
            errors: Pending::default(),
            quarantine: Pending::default(),
            bytes: 0,
            opened: None,
            seen: BTreeMap::new(),
            jitter: Jitter::new(),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Reports inserts, failures and freshness to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Sink {
        self.metrics = metrics;
        self
    }

    fn open(&mut self) {
        self.opened.get_or_insert_with(Instant::now);
    }

    /// Records that a position was read; it is acknowledged with the batch it falls in.
    pub fn saw(&mut self, position: &Position) {
        self.open();
        let highest = self.seen.entry((position.source.clone(), position.partition)).or_insert(position.offset);
        *highest = (*highest).max(position.offset);
    }

    pub fn add_error(&mut self, row: ErrorRow, position: &Position) {
        self.saw(position);
        self.bytes += row.approximate_size();
        self.errors.push(row, position);
    }

    pub fn add_quarantine(&mut self, row: QuarantineRow, position: &Position) {
        self.saw(position);
        self.bytes += row.approximate_size();
        self.quarantine.push(row, position);
    }

    pub fn rows(&self) -> usize {
        self.errors.rows.len() + self.quarantine.rows.len()
    }

    /// Whether the batch is full or old enough to flush.
    pub fn is_due(&self) -> bool {
        self.rows() >= self.settings.max_rows
            || self.bytes >= self.settings.max_bytes
            || self.opened.is_some_and(|opened| opened.elapsed() >= self.settings.max_delay)
    }

    /// How long until the batch is due by age; long when it is empty.
    pub fn time_until_due(&self) -> Duration {
        match self.opened {
            Some(opened) => self.settings.max_delay.saturating_sub(opened.elapsed()),
            None => Duration::from_secs(3600),
        }
    }

    /// Whether the batch is full by rows or bytes, whatever its age.
    pub fn is_full(&self) -> bool {
        self.rows() >= self.settings.max_rows || self.bytes >= self.settings.max_bytes
    }

    /// Stores the batch and returns the positions it covers. Retries transient failures until
    /// they pass; returns the first error that retrying cannot fix, and then nothing of the
    /// batch is acknowledged.
    pub async fn flush(&mut self) -> Result<StoredPositions, StoreError> {
        self.take_batch().store().await
    }

    /// Takes the batch out with what storing it needs, leaving an empty one: the caller can
    /// store it while the next batch fills.
    pub fn take_batch(&mut self) -> Batch {
        self.bytes = 0;
        self.opened = None;
        Batch {
            store: self.store.clone(),
            settings: self.settings,
            jitter: Jitter(self.jitter.next()),
            metrics: self.metrics.clone(),
            errors: std::mem::take(&mut self.errors),
            quarantine: std::mem::take(&mut self.quarantine),
            seen: std::mem::take(&mut self.seen),
        }
    }
}

/// A batch taken out of the sink, ready to be stored.
#[derive(Debug)]
pub struct Batch {
    store: Store,
    settings: SinkSettings,
    jitter: Jitter,
    metrics: Arc<Metrics>,
    errors: Pending<ErrorRow>,
    quarantine: Pending<QuarantineRow>,
    seen: StoredPositions,
}

impl Batch {
    /// Stores the rows and returns the positions the batch covers; see [`Sink::flush`].
    pub async fn store(mut self) -> Result<StoredPositions, StoreError> {
        let event_times: Vec<f64> = self.errors.rows.iter().map(ErrorRow::event_seconds).collect();
        let mut attempts = Attempts { settings: &self.settings, jitter: &mut self.jitter, metrics: &self.metrics };
        store_pending(&self.store, &mut self.errors, &mut attempts).await?;
        store_pending(&self.store, &mut self.quarantine, &mut attempts).await?;
        if !self.seen.is_empty() {
            self.metrics.stored(Timestamp::now().unix_millis() as f64 / 1000.0, event_times);
        }
        Ok(self.seen)
    }
}

/// What retrying inserts needs besides the rows.
struct Attempts<'a> {
    settings: &'a SinkSettings,
    jitter: &'a mut Jitter,
    metrics: &'a Metrics,
}

/// Inserts the pending rows of one table until they are stored, then empties them.
async fn store_pending<T: Table>(
    store: &Store,
    pending: &mut Pending<T>,
    attempts: &mut Attempts<'_>,
) -> Result<(), StoreError> {
    if pending.rows.is_empty() {
        return Ok(());
    }
    let Attempts { settings, jitter, metrics } = attempts;
    let mut backoff = settings.initial_backoff;
    let mut attempt = 1u32;
    // Set when a connection broke mid-insert: the server may have committed it. Until a query
    // says whether it did, nothing is inserted again.
    let mut maybe_stored = false;
    loop {
        let outcome = if maybe_stored {
            match already_stored(store, T::TABLE, &pending.spans).await {
                Ok(true) => {
                    metrics.inserted(T::TABLE, pending.rows.len(), None);
                    info!(table = T::TABLE, "the interrupted insert had been stored, not repeating it");
                    break;
                }
                Ok(false) => {
                    maybe_stored = false;
                    continue;
                }
                Err(error) => Err(error),
            }
        } else {
            let started = Instant::now();
            let inserted = store.insert(&pending.rows).await;
            if inserted.is_ok() {
                metrics.inserted(T::TABLE, pending.rows.len(), Some(started.elapsed()));
            }
            inserted
        };
        let error = match outcome {
            Ok(()) => break,
            Err(error) => error,
        };
        metrics.insert_failed(T::TABLE, error.metric_kind());
        if !error.is_transient() {
            return Err(error);
        }
        maybe_stored |= matches!(error, StoreError::Unreachable { .. });
        let delay = jitter.spread(backoff);
        warn!(table = T::TABLE, attempt, rows = pending.rows.len(), %error, retry_in_ms = delay.as_millis() as u64, "insert failed, will retry");
        tokio::time::sleep(delay).await;
        backoff = (backoff * 2).min(settings.max_backoff);
        attempt += 1;
    }
    *pending = Pending::default();
    Ok(())
}

/// Whether every pending row of `table` is in ClickHouse already. Inserts are atomic, so the
/// rows at the batch's positions are either all there or none of them.
async fn already_stored(
    store: &Store,
    table: &str,
    spans: &BTreeMap<(String, i32), (u64, u64, u64)>,
) -> Result<bool, StoreError> {
    for ((source, partition), (first, last, count)) in spans {
        if store.rows_at(table, source, *partition, *first, *last).await? < *count {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Spreads retry delays so that processes restarting together do not retry in lockstep; the
/// exact spread does not matter (xorshift).
#[derive(Debug)]
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Jitter(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Between half and the whole of `delay`.
    fn spread(&mut self, delay: Duration) -> Duration {
        delay.mul_f64(0.5 + (self.next() % 1000) as f64 / 2000.0)
    }
}
