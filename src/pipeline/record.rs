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

    const ERROR: &[u8] = br#"{"error":{"code":"Forbidden","message":"no access"},"status":403}"#;
    const INVALID: &[u8] = b"{\"error\":\xff}";
    const CUT: &[u8] = b"{\"error\":{\"code\":";
    const ORDINARY: &[u8] = b"GET /api/machines 200 OK";
    const RAW_CAP: usize = 16;

    fn time(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis).unwrap_or_else(Timestamp::now)
    }

    /// What a record must become.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Error,
        Quarantine,
        AlreadyStored,
        Ordinary,
    }

    /// `errors` and `quarantine` are the tables' watermarks; a record at offset 7 of `bytes`,
    /// which is cut short when `size` is larger.
    fn check(what: &str, bytes: &[u8], size: usize, errors: Option<u64>, quarantine: Option<u64>, expected: Expect) {
        let position = Position { source: "logs".to_owned(), partition: 3, offset: 7 };
        let stored = Watermarks { errors, quarantine };
        let (now, source_time) = (time(1_700_000_000_000), time(1_600_000_000_000));
        let record = Record { bytes, size, position: &position, source_time: Some(source_time) };
        let classification = if size > bytes.len() {
            Classification::Unreadable(Unreadable::TooLarge { size, limit: bytes.len() })
        } else {
            classify(bytes, &Limits::default())
        };
        let mut clock_read = false;
        let clock = || {
            clock_read = true;
            now
        };
        let got = to_store(classification.clone(), &record, &stored, clock, RAW_CAP);
        let want = match (expected, classification) {
            (Expect::Error, Classification::ApiError(error)) => {
                let text = std::str::from_utf8(bytes).unwrap_or_default();
                ToStore::Error(Encoded::from(ErrorRowView::new(&error, text, &position, source_time, now, RAW_CAP)))
            }
            (Expect::Quarantine, Classification::Unreadable(reason)) => {
                ToStore::Quarantine(Encoded::new(&QuarantineRow::new(reason, bytes, size, &position, now, RAW_CAP)))
            }
            (Expect::AlreadyStored, _) => ToStore::AlreadyStored,
            (Expect::Ordinary, _) => ToStore::Ordinary,
            (expected, classification) => panic!("{what}: expected {expected:?} of {classification:?}"),
        };
        assert_eq!(got, want, "{what}");
        let builds_row = matches!(expected, Expect::Error | Expect::Quarantine);
        assert_eq!(clock_read, builds_row, "{what}: the clock is read only to build a row");
    }

    #[test]
    fn each_classification_becomes_its_row_unless_its_table_holds_it() {
        use Expect::*;
        let (error, invalid, ordinary) = (ERROR.len(), INVALID.len(), ORDINARY.len());
        check("error, nothing stored", ERROR, error, None, None, Error);
        check("error below the errors' watermark", ERROR, error, Some(9), None, AlreadyStored);
        check("error at the errors' watermark", ERROR, error, Some(7), None, AlreadyStored);
        check("error past the errors' watermark", ERROR, error, Some(6), None, Error);
        check("error, quarantine ahead of errors", ERROR, error, Some(3), Some(9), Error);
        check("error, errors ahead of quarantine", ERROR, error, Some(9), Some(3), AlreadyStored);
        check("unreadable, nothing stored", INVALID, invalid, None, None, Quarantine);
        check("unreadable at quarantine's watermark", INVALID, invalid, None, Some(7), AlreadyStored);
        check("unreadable past quarantine's watermark", INVALID, invalid, None, Some(6), Quarantine);
        check("unreadable, errors ahead of quarantine", INVALID, invalid, Some(9), Some(3), Quarantine);
        check("unreadable, quarantine ahead of errors", INVALID, invalid, Some(3), Some(9), AlreadyStored);
        check("cut short, its whole size kept", CUT, 1 << 20, None, None, Quarantine);
        check("cut short, stored already", CUT, 1 << 20, None, Some(7), AlreadyStored);
        check("ordinary", ORDINARY, ordinary, None, None, Ordinary);
        check("ordinary under both watermarks", ORDINARY, ordinary, Some(9), Some(9), Ordinary);
    }

    #[test]
    fn an_error_without_a_source_time_happened_when_ingested() {
        let position = Position { source: "app.log".to_owned(), partition: 0, offset: 1 };
        let now = time(1_700_000_000_000);
        let Classification::ApiError(error) = classify(ERROR, &Limits::default()) else {
            panic!("the sample is an error");
        };
        let record = Record { bytes: ERROR, size: ERROR.len(), position: &position, source_time: None };
        let got = to_store(Classification::ApiError(error.clone()), &record, &Watermarks::default(), || now, 64);
        let text = std::str::from_utf8(ERROR).unwrap_or_default();
        assert_eq!(got, ToStore::Error(Encoded::from(ErrorRowView::new(&error, text, &position, now, now, 64))));
    }
}
