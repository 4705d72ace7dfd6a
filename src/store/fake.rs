//! A store for tests that fails in every way ClickHouse and the network can, and an observer
//! that records what it is told.
//!
//! The fake builds the rows the tests add, so it can read an insert's bytes back as the
//! positions of its rows and answer `rows_at` as ClickHouse would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::{Encoded, ErrorRow, FailureKind, QuarantineRow, SinkObserver, SinkStore, Span, StoreError, Table};
use crate::classify::Classification;
use crate::source::Position;
use crate::timestamp::Timestamp;
use crate::{Limits, Unreadable};

/// What one insert does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Stored and answered.
    Stores,
    /// The server was not reached: nothing stored.
    Unreachable,
    /// The server stored the rows, then the connection broke before its answer.
    BrokenAfterStoring,
    /// Refused for a passing reason: nothing stored.
    Transient,
    /// Refused for good: nothing stored.
    Rejected,
}

/// What one `rows_at` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Answers,
    Unreachable,
    Transient,
    Rejected,
}

/// An insert the fake holds: its table and the positions of its rows, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Landed {
    pub table: &'static str,
    pub offsets: Vec<(String, i32, u64)>,
}

#[derive(Debug, Default)]
struct State {
    /// What the next inserts do; once empty, they store.
    inserts: VecDeque<Insert>,
    /// What the next counts do; once empty, they answer.
    counts: VecDeque<Count>,
    /// Every row built, encoded, with its position: how an insert is read back.
    rows: Vec<(Vec<u8>, Position)>,
    landed: Vec<Landed>,
    insert_attempts: usize,
    count_attempts: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FakeStore {
    state: Arc<Mutex<State>>,
    /// When set, each insert waits for a permit before it does anything.
    gate: Option<Arc<Semaphore>>,
}

impl FakeStore {
    /// A store whose next inserts do as `inserts` say, then store.
    pub(crate) fn with_inserts(inserts: &[Insert]) -> FakeStore {
        let store = FakeStore::default();
        store.state().inserts = inserts.iter().copied().collect();
        store
    }

    /// The next counts do as `counts` say, then answer.
    pub(crate) fn with_counts(self, counts: &[Count]) -> FakeStore {
        self.state().counts = counts.iter().copied().collect();
        self
    }

    /// Inserts wait until [`FakeStore::open_gate`] lets them through, one per permit.
    pub(crate) fn gated(mut self) -> FakeStore {
        self.gate = Some(Arc::new(Semaphore::new(0)));
        self
    }

    pub(crate) fn open_gate(&self, inserts: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(inserts);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An error row at `position`, remembered so that inserts holding it can be read back.
    pub(crate) fn error_row(&self, position: &Position) -> Encoded<ErrorRow> {
        let record =
            r#"{"ts":"2026-11-26T10:00:01.250Z","status":429,"error":{"code":"TooManyRequests","message":"m"}}"#;
        let Classification::ApiError(error) = crate::classify(record.as_bytes(), &Limits::default()) else {
            panic!("the record is an error")
        };
        let now = Timestamp::from_unix_millis(1_800_000_000_000).unwrap();
        let row = ErrorRow::new(&error, record, position, now, now, 1024);
        self.remember(Encoded::new(&row), position)
    }

    /// A quarantined row at `position`, remembered like [`FakeStore::error_row`].
    pub(crate) fn quarantine_row(&self, position: &Position) -> Encoded<QuarantineRow> {
        let now = Timestamp::from_unix_millis(1_800_000_000_000).unwrap();
        let row = QuarantineRow::new(Unreadable::NotUtf8 { offset: 1 }, b"a\xff", 2, position, now, 64);
        self.remember(Encoded::new(&row), position)
    }

    fn remember<T>(&self, row: Encoded<T>, position: &Position) -> Encoded<T> {
        self.state().rows.push((row.bytes.clone(), position.clone()));
        row
    }

    /// The inserts the fake holds, in the order they landed.
    pub(crate) fn landed(&self) -> Vec<Landed> {
        self.state().landed.clone()
    }

    /// Inserts begun, whether or not the gate has let them through.
    pub(crate) fn insert_attempts(&self) -> usize {
        self.state().insert_attempts
    }

    pub(crate) fn count_attempts(&self) -> usize {
        self.state().count_attempts
    }

    /// The positions of the rows in `encoded`, as the rows built by this fake.
    fn read_back(&self, encoded: &[u8]) -> Vec<(String, i32, u64)> {
        let state = self.state();
        let mut rest = encoded;
        let mut offsets = Vec::new();
        while !rest.is_empty() {
            let (bytes, position) = state
                .rows
                .iter()
                .find(|(bytes, _)| rest.starts_with(bytes))
                .expect("an insert holds only rows the fake built");
            offsets.push((position.source.clone(), position.partition, position.offset));
            rest = &rest[bytes.len()..];
        }
        offsets
    }
}

fn unreachable() -> StoreError {
    StoreError::Unreachable { url: "http://fake".into(), detail: "connection reset".into() }
}

fn transient() -> StoreError {
    StoreError::Transient { code: 252, message: "too many parts".into() }
}

fn rejected() -> StoreError {
    StoreError::Rejected { code: Some(60), message: "no such table".into() }
}

impl SinkStore for FakeStore {
    async fn insert_encoded<T: Table>(&self, encoded: &Bytes) -> Result<(), StoreError> {
        self.state().insert_attempts += 1;
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
        let offsets = self.read_back(encoded);
        let mut state = self.state();
        let outcome = state.inserts.pop_front().unwrap_or(Insert::Stores);
        if matches!(outcome, Insert::Stores | Insert::BrokenAfterStoring) {
            state.landed.push(Landed { table: T::TABLE, offsets });
        }
        match outcome {
            Insert::Stores => Ok(()),
            Insert::Unreachable | Insert::BrokenAfterStoring => Err(unreachable()),
            Insert::Transient => Err(transient()),
            Insert::Rejected => Err(rejected()),
        }
    }

    async fn rows_at(&self, table: &str, span: &Span<'_>) -> Result<u64, StoreError> {
        let mut state = self.state();
        state.count_attempts += 1;
        match state.counts.pop_front().unwrap_or(Count::Answers) {
            Count::Answers => {}
            Count::Unreachable => return Err(unreachable()),
            Count::Transient => return Err(transient()),
            Count::Rejected => return Err(rejected()),
        }
        let rows = state
            .landed
            .iter()
            .filter(|landed| landed.table == table)
            .flat_map(|landed| &landed.offsets)
            .filter(|(source, partition, offset)| {
                source == span.source && *partition == span.partition && (span.first..=span.last).contains(offset)
            })
            .count();
        Ok(rows as u64)
    }
}

/// One call an observer was told of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observed {
    /// `timed` is whether the insert's duration was known.
    Inserted {
        table: String,
        rows: usize,
        timed: bool,
    },
    Failed {
        table: String,
        failure: FailureKind,
    },
    Stored {
        event_times: Vec<f64>,
    },
}

/// Records every call, in order.
#[derive(Debug, Default)]
pub(crate) struct RecordingObserver {
    calls: Mutex<Vec<Observed>>,
}

impl RecordingObserver {
    pub(crate) fn calls(&self) -> Vec<Observed> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: Observed) {
        self.calls.lock().unwrap().push(call);
    }
}

impl SinkObserver for RecordingObserver {
    fn inserted(&self, table: &str, rows: usize, took: Option<Duration>) {
        self.record(Observed::Inserted { table: table.into(), rows, timed: took.is_some() });
    }

    fn insert_failed(&self, table: &str, failure: FailureKind) {
        self.record(Observed::Failed { table: table.into(), failure });
    }

    fn stored(&self, _now: f64, event_times: &[f64]) {
        self.record(Observed::Stored { event_times: event_times.to_vec() });
    }
}
