//! From a classified record to what is stored: the one decision `errwatch run` and
//! `errwatch ingest` share.
//!
//! It sits with the pipeline, beside the stage that hands its answer to the sink: it is the
//! step between `classify` and the sink that every command storing records takes, and it
//! needs both sides, the rows `store` builds and the watermarks a reader holds for the input
//! it reads. Pure: the caller reads the clock and the watermarks.

use crate::classify::Classification;
use crate::source::Position;
use crate::store::{Encoded, ErrorRow, ErrorRowView, QuarantineRow, Watermarks};
use crate::timestamp::Timestamp;

/// What a record becomes in storage.
#[derive(Debug, Clone, PartialEq)]
pub enum ToStore {
    Error(Encoded<ErrorRow>),
    Quarantine(Encoded<QuarantineRow>),
    /// An error or unreadable record whose table already held it when reading started: only
    /// acknowledged, never stored twice.
    AlreadyStored,
    /// Not an error: only acknowledged.
    Ordinary,
}

/// A record as read.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its bytes; for a record cut short, the part kept.
    pub bytes: &'a [u8],
    /// Its whole size, which a record cut short does not hold in `bytes`.
    pub size: usize,
    pub position: &'a Position,
    /// The time its source gave it (Kafka's timestamp), the event time of an error that
    /// carries none of its own; the time of ingestion without one.
    pub source_time: Option<Timestamp>,
}

/// The row a classified record is stored as, unless the watermark of its table in `stored`
/// covers its position. `now` is called only when a row is built, so a caller reading the
/// clock once for many records reads it no sooner than needed.
pub fn to_store(
    classification: Classification,
    record: &Record<'_>,
    stored: &Watermarks,
    now: impl FnOnce() -> Timestamp,
    raw_cap: usize,
) -> ToStore {
    let offset = record.position.offset;
    match classification {
        Classification::NotAnError { .. } => ToStore::Ordinary,
        Classification::ApiError(_) if stored.has_error(offset) => ToStore::AlreadyStored,
        Classification::Unreadable(_) if stored.has_quarantined(offset) => ToStore::AlreadyStored,
        Classification::ApiError(error) => {
            let now = now();
            let text = std::str::from_utf8(record.bytes).unwrap_or_default();
            let event_time = record.source_time.unwrap_or(now);
            // Encoded from the borrowed view: an owned row per record costs a copy of each field.
            let row = ErrorRowView::new(&error, text, record.position, event_time, now, raw_cap);
            ToStore::Error(Encoded::from(row))
        }
        Classification::Unreadable(reason) => {
            let row = QuarantineRow::new(reason, record.bytes, record.size, record.position, now(), raw_cap);
            ToStore::Quarantine(Encoded::new(&row))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::extract::{Limits, Unreadable};

    const ERROR: &str = r#"{"error":{"code":"Forbidden","message":"no access"},"status":403}"#;
    const ORDINARY: &str = "GET /api/machines 200 OK";

    fn position(offset: u64) -> Position {
        Position { source: "logs".to_owned(), partition: 3, offset }
    }

    fn time(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis).unwrap_or_else(Timestamp::now)
    }

    fn watermarks(errors: Option<u64>, quarantine: Option<u64>) -> Watermarks {
        Watermarks { errors, quarantine }
    }

    /// What each record must become, built the way the stored rows are.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Error,
        Quarantine,
        AlreadyStored,
        Ordinary,
    }

    fn check(what: &str, bytes: &[u8], size: usize, offset: u64, stored: Watermarks, expected: Expect) {
        let position = position(offset);
        let now = time(1_700_000_000_000);
        let source_time = Some(time(1_600_000_000_000));
        let record = Record { bytes, size, position: &position, source_time };
        let classification = if size > bytes.len() {
            Classification::Unreadable(Unreadable::TooLarge { size, limit: bytes.len() })
        } else {
            classify(bytes, &Limits::default())
        };
        let mut clock_read = false;
        let got = to_store(
            classification.clone(),
            &record,
            &stored,
            || {
                clock_read = true;
                now
            },
            16,
        );
        let want = match (expected, classification) {
            (Expect::Error, Classification::ApiError(error)) => {
                let text = std::str::from_utf8(bytes).unwrap_or_default();
                ToStore::Error(Encoded::from(ErrorRowView::new(
                    &error,
                    text,
                    &position,
                    time(1_600_000_000_000),
                    now,
                    16,
                )))
            }
            (Expect::Quarantine, Classification::Unreadable(reason)) => {
                ToStore::Quarantine(Encoded::new(&QuarantineRow::new(reason, bytes, size, &position, now, 16)))
            }
            (Expect::AlreadyStored, _) => ToStore::AlreadyStored,
            (Expect::Ordinary, _) => ToStore::Ordinary,
            (expected, classification) => panic!("{what}: expected {expected:?} of {classification:?}"),
        };
        assert_eq!(got, want, "{what}");
        let builds_row = matches!(expected, Expect::Error | Expect::Quarantine);
        assert_eq!(clock_read, builds_row, "{what}: clock read only to build a row");
    }

    #[test]
    fn each_classification_becomes_its_row_unless_its_table_holds_it() {
        let invalid = b"{\"error\":\xff}";
        let cut = b"{\"error\":{\"code\":";
        let nothing = watermarks(None, None);
        check("an error, nothing stored", ERROR.as_bytes(), ERROR.len(), 7, nothing, Expect::Error);
        check(
            "an error below the errors' watermark",
            ERROR.as_bytes(),
            ERROR.len(),
            7,
            watermarks(Some(9), None),
            Expect::AlreadyStored,
        );
        check(
            "an error at the errors' watermark",
            ERROR.as_bytes(),
            ERROR.len(),
            7,
            watermarks(Some(7), None),
            Expect::AlreadyStored,
        );
        check(
            "an error past the errors' watermark",
            ERROR.as_bytes(),
            ERROR.len(),
            8,
            watermarks(Some(7), None),
            Expect::Error,
        );
        check(
            "an error under quarantine's watermark only",
            ERROR.as_bytes(),
            ERROR.len(),
            7,
            watermarks(Some(3), Some(9)),
            Expect::Error,
        );
        check(
            "an error, errors ahead of quarantine",
            ERROR.as_bytes(),
            ERROR.len(),
            7,
            watermarks(Some(9), Some(3)),
            Expect::AlreadyStored,
        );
        check("unreadable, nothing stored", invalid, invalid.len(), 7, nothing, Expect::Quarantine);
        check(
            "unreadable at quarantine's watermark",
            invalid,
            invalid.len(),
            7,
            watermarks(None, Some(7)),
            Expect::AlreadyStored,
        );
        check(
            "unreadable past quarantine's watermark",
            invalid,
            invalid.len(),
            8,
            watermarks(None, Some(7)),
            Expect::Quarantine,
        );
        check(
            "unreadable, errors ahead of quarantine",
            invalid,
            invalid.len(),
            7,
            watermarks(Some(9), Some(3)),
            Expect::Quarantine,
        );
        check(
            "unreadable, quarantine ahead of errors",
            invalid,
            invalid.len(),
            7,
            watermarks(Some(3), Some(9)),
            Expect::AlreadyStored,
        );
        check("a record cut short keeps its whole size", cut, 1 << 20, 7, nothing, Expect::Quarantine);
        check("a record cut short, already stored", cut, 1 << 20, 7, watermarks(None, Some(7)), Expect::AlreadyStored);
        check("an ordinary record", ORDINARY.as_bytes(), ORDINARY.len(), 7, nothing, Expect::Ordinary);
        check(
            "an ordinary record under both watermarks",
            ORDINARY.as_bytes(),
            ORDINARY.len(),
            7,
            watermarks(Some(9), Some(9)),
            Expect::Ordinary,
        );
    }

    #[test]
    fn an_error_without_a_source_time_happened_when_ingested() {
        let position = position(1);
        let now = time(1_700_000_000_000);
        let Classification::ApiError(error) = classify(ERROR.as_bytes(), &Limits::default()) else {
            panic!("the sample is an error");
        };
        let record = Record { bytes: ERROR.as_bytes(), size: ERROR.len(), position: &position, source_time: None };
        let got = to_store(Classification::ApiError(error.clone()), &record, &Watermarks::default(), || now, 64);
        let want = Encoded::from(ErrorRowView::new(&error, ERROR, &position, now, now, 64));
        assert_eq!(got, ToStore::Error(want));
    }
}
