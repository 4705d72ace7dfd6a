//! The sink: gathers rows into batches, inserts them, and says which source positions are
//! stored so the caller can acknowledge exactly those.
//!
//! A batch is flushed when it reaches a row count, a size, or an age. A transient failure is
//! retried with exponential backoff and jitter for as long as it takes; a failure retrying
//! cannot fix (wrong schema, syntax, access) is returned at once, loudly, and nothing of the
//! batch is acknowledged. After a broken connection the sink first asks ClickHouse whether the
//! insert landed anyway, so an insert is never applied twice.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{info, warn};

use super::observe::{NoObserver, SinkObserver};
use super::rows::{Encoded, ErrorRow, QuarantineRow};
use super::{Span, Store, StoreError, Table};
use crate::pace::Backoff;
use crate::source::Position;
use crate::timestamp::Timestamp;

/// What storing a batch asks of ClickHouse: one insert per table, and after a broken
/// connection, how many rows sit at the batch's positions. [`Store`] is the real one; tests
/// put a store in its place that fails as ClickHouse and the network can.
pub trait SinkStore: Clone + Send + Sync + 'static {
    /// Inserts rows encoded by [`Table::encode`] in one statement, applied whole or not at all.
    fn insert_encoded<T: Table>(&self, encoded: &Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many rows of `table` sit at the positions of `span`.
    fn rows_at(&self, table: &str, span: &Span<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl SinkStore for Store {
    fn insert_encoded<T: Table>(&self, encoded: &Bytes) -> impl Future<Output = Result<(), StoreError>> + Send {
        Store::insert_encoded::<T>(self, encoded)
    }

    fn rows_at(&self, table: &str, span: &Span<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send {
        Store::rows_at(self, table, span)
    }
}

/// When a batch is flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkSettings {
    pub max_rows: usize,
    /// Bytes of encoded rows, at most.
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
            max_bytes: 64 * 1024 * 1024,
            max_delay: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// The highest position stored, per source partition, after a flush.
pub type StoredPositions = BTreeMap<(String, i32), u64>;

/// Rows of one table waiting in a batch, encoded, with the positions they came from.
#[derive(Debug)]
struct Pending<T> {
    encoded: Vec<u8>,
    rows: usize,
    /// Per source partition: the lowest and highest position and the number of rows.
    spans: BTreeMap<(String, i32), (u64, u64, u64)>,
    table: PhantomData<T>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { encoded: Vec::new(), rows: 0, spans: BTreeMap::new(), table: PhantomData }
    }
}

impl<T: Table> Pending<T> {
    fn push(&mut self, row: Encoded<T>, position: &Position) {
        if self.encoded.is_empty() {
            self.encoded = row.bytes;
        } else {
            self.encoded.extend_from_slice(&row.bytes);
        }
        self.rows += 1;
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

/// Gathers rows into batches for a store: [`Store`] unless a test gives another.
#[derive(Debug)]
pub struct Sink<S = Store> {
    store: S,
    settings: SinkSettings,
    errors: Pending<ErrorRow>,
    quarantine: Pending<QuarantineRow>,
    /// The event time of each error row, for the observer once stored.
    event_times: Vec<f64>,
    opened: Option<Instant>,
    /// The highest position seen per source partition, errors or not.
    seen: StoredPositions,
    jitter: Jitter,
    observer: Arc<dyn SinkObserver>,
}

impl<S: SinkStore> Sink<S> {
    pub fn new(store: S, settings: SinkSettings) -> Sink<S> {
        Sink {
            store,
            settings,
            errors: Pending::default(),
            quarantine: Pending::default(),
            event_times: Vec::new(),
            opened: None,
            seen: BTreeMap::new(),
            jitter: Jitter::new(),
            observer: Arc::new(NoObserver),
        }
    }

    /// Tells `observer` of inserts, failures and batches stored.
    pub fn with_observer(mut self, observer: Arc<dyn SinkObserver>) -> Sink<S> {
        self.observer = observer;
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

    pub fn add_error(&mut self, row: impl Into<Encoded<ErrorRow>>, position: &Position) {
        let row = row.into();
        self.saw(position);
        self.event_times.extend(row.event_seconds);
        self.errors.push(row, position);
    }

    pub fn add_quarantine(&mut self, row: impl Into<Encoded<QuarantineRow>>, position: &Position) {
        self.saw(position);
        self.quarantine.push(row.into(), position);
    }

    pub fn rows(&self) -> usize {
        self.errors.rows + self.quarantine.rows
    }

    /// Bytes the batch's encoded rows take.
    fn bytes(&self) -> usize {
        self.errors.encoded.len() + self.quarantine.encoded.len()
    }

    /// Whether the batch is full or old enough to flush.
    pub fn is_due(&self) -> bool {
        self.is_full() || self.opened.is_some_and(|opened| opened.elapsed() >= self.settings.max_delay)
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
        self.rows() >= self.settings.max_rows || self.bytes() >= self.settings.max_bytes
    }

    /// Stores the batch and returns the positions it covers. Retries transient failures until
    /// they pass; returns the first error that retrying cannot fix, and then nothing of the
    /// batch is acknowledged.
    pub async fn flush(&mut self) -> Result<StoredPositions, StoreError> {
        self.take_batch().store().await
    }

    /// Takes the batch out with what storing it needs, leaving an empty one: the caller can
    /// store it while the next batch fills.
    pub fn take_batch(&mut self) -> Batch<S> {
        self.opened = None;
        Batch {
            store: self.store.clone(),
            settings: self.settings,
            jitter: Jitter(self.jitter.next()),
            observer: self.observer.clone(),
            errors: std::mem::take(&mut self.errors),
            quarantine: std::mem::take(&mut self.quarantine),
            event_times: std::mem::take(&mut self.event_times),
            seen: std::mem::take(&mut self.seen),
        }
    }
}

/// A batch taken out of the sink, ready to be stored.
#[derive(Debug)]
pub struct Batch<S = Store> {
    store: S,
    settings: SinkSettings,
    jitter: Jitter,
    observer: Arc<dyn SinkObserver>,
    errors: Pending<ErrorRow>,
    quarantine: Pending<QuarantineRow>,
    event_times: Vec<f64>,
    seen: StoredPositions,
}

impl<S: SinkStore> Batch<S> {
    /// Stores the rows and returns the positions the batch covers; see [`Sink::flush`].
    pub async fn store(mut self) -> Result<StoredPositions, StoreError> {
        let mut attempts =
            Attempts { settings: &self.settings, jitter: &mut self.jitter, observer: self.observer.as_ref() };
        store_pending(&self.store, &mut self.errors, &mut attempts).await?;
        store_pending(&self.store, &mut self.quarantine, &mut attempts).await?;
        if !self.seen.is_empty() {
            self.observer.stored(Timestamp::now().unix_millis() as f64 / 1000.0, &self.event_times);
        }
        Ok(self.seen)
    }
}

/// What retrying inserts needs besides the rows.
struct Attempts<'a> {
    settings: &'a SinkSettings,
    jitter: &'a mut Jitter,
    observer: &'a dyn SinkObserver,
}

/// Inserts the pending rows of one table until they are stored, then empties them.
async fn store_pending<T: Table, S: SinkStore>(
    store: &S,
    pending: &mut Pending<T>,
    attempts: &mut Attempts<'_>,
) -> Result<(), StoreError> {
    if pending.rows == 0 {
        return Ok(());
    }
    // Shared by the attempts, not copied for each.
    let encoded = Bytes::from(std::mem::take(&mut pending.encoded));
    let Attempts { settings, jitter, observer } = attempts;
    let mut backoff = Backoff::new(settings.initial_backoff, settings.max_backoff);
    let mut attempt = 1u32;
    // Set when a connection broke mid-insert: the server may have committed it. Until a query
    // says whether it did, nothing is inserted again.
    let mut maybe_stored = false;
    loop {
        let outcome = if maybe_stored {
            match already_stored(store, T::TABLE, &pending.spans).await {
                Ok(true) => {
                    observer.inserted(T::TABLE, pending.rows, None);
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
            let inserted = store.insert_encoded::<T>(&encoded).await;
            if inserted.is_ok() {
                observer.inserted(T::TABLE, pending.rows, Some(started.elapsed()));
            }
            inserted
        };
        let error = match outcome {
            Ok(()) => break,
            Err(error) => error,
        };
        observer.insert_failed(T::TABLE, error.kind());
        if !error.is_transient() {
            return Err(error);
        }
        maybe_stored |= matches!(error, StoreError::Unreachable { .. });
        let delay = jitter.spread(backoff.next_pause());
        warn!(table = T::TABLE, attempt, rows = pending.rows, %error, retry_in_ms = delay.as_millis() as u64, "insert failed, will retry");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
    *pending = Pending::default();
    Ok(())
}

/// Whether every pending row of `table` is in ClickHouse already. Inserts are atomic, so the
/// rows at the batch's positions are either all there or none of them.
async fn already_stored<S: SinkStore>(
    store: &S,
    table: &str,
    spans: &BTreeMap<(String, i32), (u64, u64, u64)>,
) -> Result<bool, StoreError> {
    for ((source, partition), (first, last, count)) in spans {
        let span = Span { source, partition: *partition, first: *first, last: *last };
        if store.rows_at(table, &span).await? < *count {
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

#[cfg(test)]
mod tests;
