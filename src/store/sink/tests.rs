use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::store::fake::{Count, FakeStore, Insert, Landed, Observed, RecordingObserver};
use crate::store::FailureKind;

const ERRORS: &str = "api_errors";
const QUARANTINE: &str = "quarantine";

fn at(source: &str, partition: i32, offset: u64) -> Position {
    Position { source: source.into(), partition, offset }
}

/// Retries come quickly, so tests that retry stay fast.
fn quick() -> SinkSettings {
    SinkSettings {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        ..SinkSettings::default()
    }
}

#[test]
fn batches_are_due_by_rows_bytes_or_age() {
    let row_bytes = FakeStore::default().error_row(&at("a", 0, 1)).bytes.len();
    let hour = Duration::from_secs(3600);
    let check = |name: &str,
                 max_rows: usize,
                 max_bytes: usize,
                 max_delay: Duration,
                 errors: u64,
                 seen: u64,
                 full: bool,
                 due: bool| {
        let store = FakeStore::default();
        let settings = SinkSettings { max_rows, max_bytes, max_delay, ..quick() };
        let mut sink = Sink::new(store.clone(), settings);
        for offset in 0..errors {
            sink.add_error(store.error_row(&at("a", 0, offset)), &at("a", 0, offset));
        }
        for offset in 0..seen {
            sink.saw(&at("b", 0, offset));
        }
        assert_eq!((sink.is_full(), sink.is_due()), (full, due), "{name}");
    };
    check("empty", 2, usize::MAX, hour, 0, 0, false, false);
    check("under the rows", 2, usize::MAX, hour, 1, 0, false, false);
    check("at the rows", 2, usize::MAX, hour, 2, 0, true, true);
    check("records seen add no rows", 2, usize::MAX, hour, 1, 5, false, false);
    check("under the bytes", 100, 2 * row_bytes, hour, 1, 0, false, false);
    check("at the bytes", 100, 2 * row_bytes, hour, 2, 0, true, true);
    check("old enough", 100, usize::MAX, Duration::ZERO, 1, 0, false, true);
    check("old enough with records seen only", 100, usize::MAX, Duration::ZERO, 0, 1, false, true);
    check("empty is never old", 100, usize::MAX, Duration::ZERO, 0, 0, false, false);
}

#[test]
fn the_age_counts_from_the_first_record_of_a_batch() {
    let hour = Duration::from_secs(3600);
    let check = |name: &str, max_delay: Duration, records: u64, soonest: Duration, latest: Duration| {
        let mut sink = Sink::new(FakeStore::default(), SinkSettings { max_delay, ..quick() });
        for offset in 0..records {
            sink.saw(&at("a", 0, offset));
        }
        let wait = sink.time_until_due();
        assert!(soonest <= wait && wait <= latest, "{name}: {wait:?}");
        drop(sink.take_batch());
        assert_eq!(sink.time_until_due(), hour, "{name}: a batch taken leaves an empty one");
        assert!(!sink.is_due(), "{name}");
    };
    check("empty", Duration::ZERO, 0, hour, hour);
    check("due at once", Duration::ZERO, 1, Duration::ZERO, Duration::ZERO);
    check("due later", hour, 3, Duration::from_secs(3000), hour);
}

/// What storing the batch of [`storing`] came to.
#[derive(Debug)]
struct Stored {
    result: Result<StoredPositions, FailureKind>,
    landed: Vec<Landed>,
    insert_attempts: usize,
    count_attempts: usize,
    observed: Vec<Observed>,
    event_time: f64,
}

/// Stores two errors and a quarantined record of one partition and a record seen in another,
/// into a store whose inserts and counts do as told.
async fn storing(inserts: &[Insert], counts: &[Count]) -> Stored {
    let store = FakeStore::with_inserts(inserts).with_counts(counts);
    let observer = Arc::new(RecordingObserver::default());
    let mut sink = Sink::new(store.clone(), quick()).with_observer(observer.clone());
    let event_time = store.error_row(&at("a", 0, 1)).event_seconds.unwrap();
    for offset in [1, 2] {
        sink.add_error(store.error_row(&at("a", 0, offset)), &at("a", 0, offset));
    }
    sink.add_quarantine(store.quarantine_row(&at("a", 0, 3)), &at("a", 0, 3));
    sink.saw(&at("b", 1, 9));
    let result = sink.flush().await.map_err(|error| error.kind());
    Stored {
        result,
        landed: store.landed(),
        insert_attempts: store.insert_attempts(),
        count_attempts: store.count_attempts(),
        observed: observer.calls(),
        event_time,
    }
}

fn errors_landed() -> Landed {
    Landed { table: ERRORS, offsets: vec![("a".into(), 0, 1), ("a".into(), 0, 2)] }
}

fn quarantine_landed() -> Landed {
    Landed { table: QUARANTINE, offsets: vec![("a".into(), 0, 3)] }
}

fn inserted(table: &str, rows: usize, timed: bool) -> Observed {
    Observed::Inserted { table: table.into(), rows, timed }
}

fn failed(table: &str, failure: FailureKind) -> Observed {
    Observed::Failed { table: table.into(), failure }
}

#[tokio::test]
async fn failures_are_retried_or_returned_and_an_insert_that_landed_is_not_repeated() {
    use FailureKind::{Rejected, Transient, Unreachable};
    struct Case<'a> {
        name: &'a str,
        inserts: &'a [Insert],
        counts: &'a [Count],
        stored: bool,
        landed: Vec<Landed>,
        insert_attempts: usize,
        count_attempts: usize,
        observed: Vec<Observed>,
    }
    async fn check(case: Case<'_>) {
        let Case { name, inserts, counts, stored, landed, insert_attempts, count_attempts, mut observed } = case;
        let outcome = storing(inserts, counts).await;
        if stored {
            let positions = BTreeMap::from([(("a".to_owned(), 0), 3), (("b".to_owned(), 1), 9)]);
            assert_eq!(outcome.result, Ok(positions), "{name}");
            observed.push(Observed::Stored { event_times: vec![outcome.event_time; 2] });
        } else {
            assert_eq!(outcome.result, Err(Rejected), "{name}: nothing of the batch is acknowledged");
        }
        assert_eq!(outcome.landed, landed, "{name}: inserts held");
        assert_eq!(outcome.insert_attempts, insert_attempts, "{name}: inserts tried");
        assert_eq!(outcome.count_attempts, count_attempts, "{name}: counts asked");
        assert_eq!(outcome.observed, observed, "{name}: what the observer was told");
    }
    let both = || vec![errors_landed(), quarantine_landed()];
    check(Case {
        name: "stored at once",
        inserts: &[],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 2,
        count_attempts: 0,
        observed: vec![inserted(ERRORS, 2, true), inserted(QUARANTINE, 1, true)],
    })
    .await;
    check(Case {
        name: "transient failures retried until they pass",
        inserts: &[Insert::Transient, Insert::Transient, Insert::Stores, Insert::Transient],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 5,
        count_attempts: 0,
        observed: vec![
            failed(ERRORS, Transient),
            failed(ERRORS, Transient),
            inserted(ERRORS, 2, true),
            failed(QUARANTINE, Transient),
            inserted(QUARANTINE, 1, true),
        ],
    })
    .await;
    check(Case {
        name: "rejected at once",
        inserts: &[Insert::Rejected],
        counts: &[],
        stored: false,
        landed: vec![],
        insert_attempts: 1,
        count_attempts: 0,
        observed: vec![failed(ERRORS, Rejected)],
    })
    .await;
    check(Case {
        name: "quarantine rejected after the errors were stored",
        inserts: &[Insert::Stores, Insert::Rejected],
        counts: &[],
        stored: false,
        landed: vec![errors_landed()],
        insert_attempts: 2,
        count_attempts: 0,
        observed: vec![inserted(ERRORS, 2, true), failed(QUARANTINE, Rejected)],
    })
    .await;
    check(Case {
        name: "unreachable before sending: not there, so inserted again",
        inserts: &[Insert::Unreachable],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 3,
        count_attempts: 1,
        observed: vec![failed(ERRORS, Unreachable), inserted(ERRORS, 2, true), inserted(QUARANTINE, 1, true)],
    })
    .await;
    check(Case {
        name: "unreachable twice: asked each time",
        inserts: &[Insert::Unreachable, Insert::Unreachable],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 4,
        count_attempts: 2,
        observed: vec![
            failed(ERRORS, Unreachable),
            failed(ERRORS, Unreachable),
            inserted(ERRORS, 2, true),
            inserted(QUARANTINE, 1, true),
        ],
    })
    .await;
    check(Case {
        name: "broken after the server stored it: not inserted again",
        inserts: &[Insert::BrokenAfterStoring],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 2,
        count_attempts: 1,
        observed: vec![failed(ERRORS, Unreachable), inserted(ERRORS, 2, false), inserted(QUARANTINE, 1, true)],
    })
    .await;
    check(Case {
        name: "broken after storing the quarantine",
        inserts: &[Insert::Stores, Insert::BrokenAfterStoring],
        counts: &[],
        stored: true,
        landed: both(),
        insert_attempts: 2,
        count_attempts: 1,
        observed: vec![inserted(ERRORS, 2, true), failed(QUARANTINE, Unreachable), inserted(QUARANTINE, 1, false)],
    })
    .await;
    check(Case {
        name: "the count fails and is asked again before any insert",
        inserts: &[Insert::BrokenAfterStoring],
        counts: &[Count::Unreachable, Count::Transient],
        stored: true,
        landed: both(),
        insert_attempts: 2,
        count_attempts: 3,
        observed: vec![
            failed(ERRORS, Unreachable),
            failed(ERRORS, Unreachable),
            failed(ERRORS, Transient),
            inserted(ERRORS, 2, false),
            inserted(QUARANTINE, 1, true),
        ],
    })
    .await;
    check(Case {
        name: "the count rejected",
        inserts: &[Insert::BrokenAfterStoring],
        counts: &[Count::Rejected],
        stored: false,
        landed: vec![errors_landed()],
        insert_attempts: 1,
        count_attempts: 1,
        observed: vec![failed(ERRORS, Unreachable), failed(ERRORS, Rejected)],
    })
    .await;
}

#[derive(Debug, Clone, Copy)]
enum Add {
    Error,
    Quarantine,
    Seen,
}

#[tokio::test]
async fn the_positions_reported_are_the_highest_seen_per_partition() {
    use Add::{Error, Quarantine, Seen};
    async fn check(name: &str, adds: &[(Add, &str, i32, u64)], expected: &[(&str, i32, u64)]) {
        let store = FakeStore::default();
        let mut sink = Sink::new(store.clone(), quick());
        for (add, source, partition, offset) in adds {
            let position = at(source, *partition, *offset);
            match add {
                Error => sink.add_error(store.error_row(&position), &position),
                Quarantine => sink.add_quarantine(store.quarantine_row(&position), &position),
                Seen => sink.saw(&position),
            }
        }
        let expected: StoredPositions =
            expected.iter().map(|(source, partition, offset)| (((*source).to_owned(), *partition), *offset)).collect();
        assert_eq!(sink.flush().await.unwrap(), expected, "{name}");
        assert_eq!(sink.flush().await.unwrap(), StoredPositions::new(), "{name}: a flush starts afresh");
    }
    check("nothing", &[], &[]).await;
    check("records seen without any row", &[(Seen, "a", 0, 4), (Seen, "a", 0, 2)], &[("a", 0, 4)]).await;
    check("an error below a record seen", &[(Seen, "a", 0, 5), (Error, "a", 0, 3)], &[("a", 0, 5)]).await;
    check("an error above a record seen", &[(Seen, "a", 0, 2), (Error, "a", 0, 3)], &[("a", 0, 3)]).await;
    check(
        "quarantine highest",
        &[(Error, "a", 0, 3), (Quarantine, "a", 0, 7), (Seen, "a", 0, 6), (Error, "a", 0, 4)],
        &[("a", 0, 7)],
    )
    .await;
    check(
        "partitions and sources apart",
        &[(Error, "a", 0, 3), (Seen, "a", 1, 1), (Quarantine, "b", 0, 2), (Seen, "a", 0, 1), (Error, "b", 1, 8)],
        &[("a", 0, 3), ("a", 1, 1), ("b", 0, 2), ("b", 1, 8)],
    )
    .await;
}

#[tokio::test]
async fn an_empty_batch_inserts_nothing_and_tells_nothing() {
    let store = FakeStore::default();
    let observer = Arc::new(RecordingObserver::default());
    let mut sink = Sink::new(store.clone(), quick()).with_observer(observer.clone());
    assert_eq!(sink.flush().await.unwrap(), StoredPositions::new());
    assert_eq!((store.insert_attempts(), observer.calls()), (0, vec![]));
}

#[tokio::test]
async fn records_seen_alone_are_reported_stored_without_an_insert() {
    let store = FakeStore::default();
    let observer = Arc::new(RecordingObserver::default());
    let mut sink = Sink::new(store.clone(), quick()).with_observer(observer.clone());
    sink.saw(&at("a", 0, 1));
    assert_eq!(sink.flush().await.unwrap(), BTreeMap::from([(("a".to_owned(), 0), 1)]));
    assert_eq!(store.insert_attempts(), 0);
    assert_eq!(observer.calls(), vec![Observed::Stored { event_times: vec![] }]);
}
