//! The rows errwatch writes and reads, built from classifications. Pure: no IO here.

use std::borrow::Cow;
use std::cell::RefCell;
use std::marker::PhantomData;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::classify::ApiError;
use crate::extract::{api_template, host, Unreadable};
use crate::guid::{CorrelationId, Guid};
use crate::source::Position;
use crate::timestamp::Timestamp;

/// Bytes of a record kept in the `raw` columns by default.
pub const DEFAULT_RAW_CAP: usize = 16 * 1024;

/// Characters of an API message kept; messages are free text and can be long.
const MESSAGE_CAP: usize = 4096;

/// Declares a row's columns once, in the order they are written. Every place that names the
/// columns is made from the one list, so a column added or renamed cannot be missed in one of
/// them; `the_columns_are_the_migrations` holds the list to the tables in `migrations/`.
///
/// A column's owned type is what the row holds and what the `clickhouse` crate reads back; its
/// type in the view is what the pipeline borrows instead, to encode a row without copying its
/// text (see [`Borrows`]); its writer is the [`RowBinary`] method that encodes it.
macro_rules! columns {
    (
        $(#[$row_attribute:meta])* pub struct $row:ident;
        $(#[$view_attribute:meta])* pub struct $view:ident<$lifetime:lifetime>;
        $($(#[$column_attribute:meta])* $column:ident: $owned:ty, $borrowed:ty, $writer:ident;)+
    ) => {
        $(#[$row_attribute])*
        pub struct $row {
            $($(#[$column_attribute])* pub $column: $owned,)+
        }

        $(#[$view_attribute])*
        pub struct $view<$lifetime> {
            $($column: $borrowed,)+
        }

        impl $row {
            const COLUMN_NAMES: &'static [&'static str] = &[$(stringify!($column)),+];
            // Only a test reads the writers, to hold each to its column's type in the migrations.
            #[cfg(test)]
            const COLUMN_WRITERS: &'static [&'static str] = &[$(stringify!($writer)),+];

            fn view(&self) -> $view<'_> {
                $view { $($column: Borrows::borrow_from(&self.$column),)+ }
            }
        }

        impl $view<'_> {
            pub fn to_row(&self) -> $row {
                $row { $($column: Borrows::to_owned_column(&self.$column),)+ }
            }

            // The owned row is encoded through its view, so that one encoder serves both.
            fn encode(&self, out: &mut Vec<u8>) {
                let mut row = RowBinary(out);
                $(row.$writer(&self.$column);)+
            }
        }
    };

    // A row without a view, encoded as it is.
    (
        $(#[$row_attribute:meta])* pub struct $row:ident;
        $($(#[$column_attribute:meta])* $column:ident: $owned:ty, $writer:ident;)+
    ) => {
        $(#[$row_attribute])*
        pub struct $row {
            $($(#[$column_attribute])* pub $column: $owned,)+
        }

        impl $row {
            const COLUMN_NAMES: &'static [&'static str] = &[$(stringify!($column)),+];
            #[cfg(test)]
            const COLUMN_WRITERS: &'static [&'static str] = &[$(stringify!($writer)),+];

            fn encode_columns(&self, out: &mut Vec<u8>) {
                let mut row = RowBinary(out);
                $(row.$writer(&self.$column);)+
            }
        }
    };
}

columns! {
    /// One row of `api_errors`.
    #[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
    pub struct ErrorRow;

    /// A row of `api_errors` that borrows its text from the classification, the record and its
    /// position: the pipeline encodes it as it is, without copying each field into a row first.
    /// [`ErrorRow::new`] builds the owned row from it, so both say the same.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ErrorRowView<'a>;

    // column             owned          in the view      writer
    event_date:           u16,           u16,             u16;
    event_time:           u32,           u32,             u32;
    event_millis:         u16,           u16,             u16;
    ingest_time:          u32,           u32,             u32;
    correlation_id:       String,        Cow<'a, str>,    string;
    code:                 String,        &'a str,         string;
    raw_code:             String,        &'a str,         string;
    http_status:          u16,           u16,             u16;
    category:             String,        &'a str,         string;
    retryable:            u8,            u8,              u8;
    retry:                String,        &'a str,         string;
    retry_after_seconds:  Option<f64>,   Option<f64>,     nullable_f64;
    message:              String,        &'a str,         string;
    family:               String,        &'a str,         string;
    inner_codes:          Vec<String>,   &'a [String],    strings;
    service:              String,        &'a str,         string;
    method:               String,        &'a str,         string;
    host:                 String,        &'a str,         string;
    api:                  String,        Cow<'a, str>,    string;
    tenant_id:            String,        Cow<'a, str>,    string;
    source:               String,        &'a str,         string;
    source_partition:     i32,           i32,             i32;
    source_offset:        u64,           u64,             u64;
    raw:                  String,        &'a str,         string;
    raw_truncated:        u8,            u8,              u8;
}

/// How a column of a view borrows its value from the owned row, and copies it back into one.
/// Numbers are copied both ways; text is borrowed, or computed and then owned by the view.
trait Borrows<'a, Owned> {
    fn borrow_from(owned: &'a Owned) -> Self;
    fn to_owned_column(&self) -> Owned;
}

impl<T: Copy> Borrows<'_, T> for T {
    fn borrow_from(owned: &T) -> T {
        *owned
    }

    fn to_owned_column(&self) -> T {
        *self
    }
}

impl<'a> Borrows<'a, String> for &'a str {
    fn borrow_from(owned: &'a String) -> &'a str {
        owned
    }

    fn to_owned_column(&self) -> String {
        (*self).to_owned()
    }
}

impl<'a> Borrows<'a, String> for Cow<'a, str> {
    fn borrow_from(owned: &'a String) -> Cow<'a, str> {
        Cow::Borrowed(owned)
    }

    fn to_owned_column(&self) -> String {
        String::from(self.as_ref())
    }
}

impl<'a> Borrows<'a, Vec<String>> for &'a [String] {
    fn borrow_from(owned: &'a Vec<String>) -> &'a [String] {
        owned
    }

    fn to_owned_column(&self) -> Vec<String> {
        self.to_vec()
    }
}

impl ErrorRow {
    /// The row for an error; the event time is the record's own, else `fallback_time` (the
    /// Kafka timestamp, or the time of ingestion).
    pub fn new(
        error: &ApiError,
        record: &str,
        position: &Position,
        fallback_time: Timestamp,
        now: Timestamp,
        raw_cap: usize,
    ) -> ErrorRow {
        ErrorRowView::new(error, record, position, fallback_time, now, raw_cap).to_row()
    }
}

impl<'a> ErrorRowView<'a> {
    /// See [`ErrorRow::new`].
    pub fn new(
        error: &'a ApiError,
        record: &'a str,
        position: &'a Position,
        fallback_time: Timestamp,
        now: Timestamp,
        raw_cap: usize,
    ) -> ErrorRowView<'a> {
        let event_time = error.timestamp.unwrap_or(fallback_time);
        let (raw, raw_truncated) = truncate_text(record, raw_cap);
        let url = error.context.url.as_deref();
        let guid_text = |guid: Option<Guid>| {
            guid.map_or(Cow::Borrowed(""), |guid| Cow::Owned(String::from_utf8_lossy(&guid.hyphenated()).into_owned()))
        };
        ErrorRowView {
            event_date: days(event_time),
            event_time: seconds(event_time),
            event_millis: event_time.unix_millis().rem_euclid(1000) as u16,
            ingest_time: seconds(now),
            correlation_id: guid_text(error.correlation_id.map(CorrelationId::guid)),
            code: error.code.as_deref().unwrap_or_default(),
            raw_code: error.raw_code.as_deref().unwrap_or_default(),
            http_status: error.http_status.unwrap_or(0),
            category: error.category.as_str(),
            retryable: u8::from(error.retryable()),
            retry: error.retry.as_str(),
            retry_after_seconds: error.retry_after_seconds,
            message: truncate_text(error.message.as_deref().unwrap_or_default(), MESSAGE_CAP).0,
            family: error.family.as_str(),
            inner_codes: &error.inner_codes,
            service: error.context.service.as_deref().unwrap_or_default(),
            method: error.context.method.as_deref().unwrap_or_default(),
            host: url.and_then(host).unwrap_or_default(),
            api: url.and_then(api_template).map_or(Cow::Borrowed(""), Cow::Owned),
            tenant_id: guid_text(error.context.tenant_id),
            source: &position.source,
            source_partition: position.partition,
            source_offset: position.offset,
            raw,
            raw_truncated: u8::from(raw_truncated),
        }
    }

    /// The event time in Unix seconds, with its milliseconds.
    fn event_seconds(&self) -> Option<f64> {
        Some(f64::from(self.event_time) + f64::from(self.event_millis) / 1000.0)
    }
}

columns! {
    /// One row of `quarantine`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct QuarantineRow;

    // column             owned          writer
    received_date:        u16,           u16;
    received_time:        u32,           u32;
    reason:               String,        string;
    detail:               String,        string;
    source:               String,        string;
    source_partition:     i32,           i32;
    source_offset:        u64,           u64;
    size:                 u64,           u64;
    /// The record's bytes as they were, which need not be UTF-8.
    raw:                  Vec<u8>,       bytes;
    raw_truncated:        u8,            u8;
}

impl QuarantineRow {
    pub fn new(
        reason: Unreadable,
        record: &[u8],
        size: usize,
        position: &Position,
        now: Timestamp,
        raw_cap: usize,
    ) -> QuarantineRow {
        let kept = record.get(..raw_cap.min(record.len())).unwrap_or(record);
        QuarantineRow {
            received_date: days(now),
            received_time: seconds(now),
            reason: reason.reason().to_owned(),
            detail: reason.to_string(),
            source: position.source.clone(),
            source_partition: position.partition,
            source_offset: position.offset,
            size: size as u64,
            raw: kept.to_vec(),
            raw_truncated: u8::from(kept.len() < size),
        }
    }
}

/// A row type, the table it is stored in, and its encoding.
///
/// Batches hold their rows encoded: a row in RowBinary weighs about what its text does, where
/// the same row as a struct of owned strings weighs two to three times as much, and a batch
/// waiting for ClickHouse is most of what errwatch keeps in memory.
pub trait Table {
    const TABLE: &'static str;
    /// The columns [`Table::encode`] writes, in its order.
    const COLUMNS: &'static [&'static str];
    /// Appends the row in RowBinary, ClickHouse's row-wise binary format.
    fn encode(&self, out: &mut Vec<u8>);
    /// The event time in Unix seconds, for rows that have one.
    fn event_seconds(&self) -> Option<f64> {
        None
    }
}

/// A row encoded for its table, to join a batch: what the pipeline queues, at about a third of
/// the row's weight as a struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded<T> {
    pub(super) bytes: Vec<u8>,
    pub(super) event_seconds: Option<f64>,
    table: PhantomData<T>,
}

impl<T: Table> From<T> for Encoded<T> {
    fn from(row: T) -> Encoded<T> {
        Encoded::new(&row)
    }
}

impl<T: Table> Encoded<T> {
    pub fn new(row: &T) -> Encoded<T> {
        Encoded::written(|bytes| row.encode(bytes), row.event_seconds())
    }
}

thread_local! {
    /// Where a row is encoded before it is copied out at its exact size.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<T> Encoded<T> {
    fn written(encode: impl FnOnce(&mut Vec<u8>), event_seconds: Option<f64>) -> Encoded<T> {
        // Queued rows are many, so each keeps an allocation of its exact size. Encoding into a
        // buffer of a guessed size, then growing and cutting it, cost two more per row.
        let bytes = SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                scratch.clear();
                encode(&mut scratch);
                scratch.as_slice().to_vec()
            }
            // Only if encoding a row encoded another inside it, which none does; no panic then.
            Err(_) => {
                let mut bytes = Vec::new();
                encode(&mut bytes);
                bytes
            }
        });
        Encoded { bytes, event_seconds, table: PhantomData }
    }
}

impl From<ErrorRowView<'_>> for Encoded<ErrorRow> {
    fn from(view: ErrorRowView<'_>) -> Encoded<ErrorRow> {
        Encoded::written(|bytes| view.encode(bytes), view.event_seconds())
    }
}

impl Table for ErrorRow {
    const TABLE: &'static str = "api_errors";
    const COLUMNS: &'static [&'static str] = ErrorRow::COLUMN_NAMES;

    fn encode(&self, out: &mut Vec<u8>) {
        self.view().encode(out);
    }

    fn event_seconds(&self) -> Option<f64> {
        self.view().event_seconds()
    }
}

impl Table for QuarantineRow {
    const TABLE: &'static str = "quarantine";
    const COLUMNS: &'static [&'static str] = QuarantineRow::COLUMN_NAMES;

    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_columns(out);
    }
}

/// Writes RowBinary values: little-endian numbers, strings and arrays behind a LEB128 length,
/// a Nullable behind one byte that is 1 for NULL.
///
/// Every writer takes its value by reference, as a row holds it, so that `columns!` writes any
/// column with the same call.
struct RowBinary<'a>(&'a mut Vec<u8>);

impl RowBinary<'_> {
    fn u8(&mut self, value: &u8) {
        self.0.push(*value);
    }

    fn u16(&mut self, value: &u16) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn u32(&mut self, value: &u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn i32(&mut self, value: &i32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn u64(&mut self, value: &u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn nullable_f64(&mut self, value: &Option<f64>) {
        match value {
            None => self.0.push(1),
            Some(value) => {
                self.0.push(0);
                self.0.extend_from_slice(&value.to_le_bytes());
            }
        }
    }

    fn length(&mut self, length: usize) {
        let mut rest = length as u64;
        while rest >= 0x80 {
            self.0.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        self.0.push(rest as u8);
    }

    /// A `String` column holds bytes, which need not be UTF-8.
    fn bytes(&mut self, bytes: &[u8]) {
        self.length(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn strings(&mut self, texts: &[String]) {
        self.length(texts.len());
        for text in texts {
            self.string(text);
        }
    }
}

/// `DateTime` is seconds since the epoch as a `UInt32`: earlier or later times are clamped.
fn seconds(time: Timestamp) -> u32 {
    time.unix_millis().div_euclid(1000).clamp(0, i64::from(u32::MAX)) as u32
}

/// `Date` is days since the epoch as a `UInt16`.
fn days(time: Timestamp) -> u16 {
    time.unix_millis().div_euclid(86_400_000).clamp(0, i64::from(u16::MAX)) as u16
}

/// At most `cap` bytes of `text`, cut at a character boundary, and whether it was cut.
fn truncate_text(text: &str, cap: usize) -> (&str, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let mut cut = cap;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (text.get(..cut).unwrap_or_default(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classification;
    use crate::store::MIGRATIONS;
    use crate::{classify, Limits};

    fn position() -> Position {
        Position { source: "file:abc".into(), partition: 0, offset: 7 }
    }

    #[test]
    fn an_error_becomes_a_row() {
        let record = r#"{"ts":"2026-11-26T10:00:01.250Z","service":"sync","url":"https://h/api/machines/123/isolate","error":{"code":"429","target":"43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A"}}"#;
        let Classification::ApiError(error) = classify(record.as_bytes(), &Limits::default()) else {
            panic!("an error")
        };
        let now = Timestamp::from_unix_millis(1_800_000_000_000).unwrap();
        let row = ErrorRow::new(&error, record, &position(), now, now, 40);
        assert_eq!(row.event_time, 1_795_687_201);
        assert_eq!(row.event_millis, 250);
        assert_eq!(row.event_date, 20_783);
        assert_eq!(row.correlation_id, "43f4cb08-8fac-4b65-9db1-745c2ae65f3a");
        assert_eq!((row.code.as_str(), row.raw_code.as_str(), row.http_status), ("TooManyRequests", "429", 429));
        assert_eq!((row.category.as_str(), row.retryable, row.retry.as_str()), ("throttling", 1, "after_delay"));
        assert_eq!(
            (row.service.as_str(), row.host.as_str(), row.api.as_str()),
            ("sync", "h", "/api/machines/{id}/isolate")
        );
        assert_eq!((row.raw.len(), row.raw_truncated), (40, 1));
        assert_eq!((row.source.as_str(), row.source_offset), ("file:abc", 7));
    }

    /// The pipeline encodes the borrowed view, everything else the owned row: both must write
    /// the same bytes, and the owned row must read back as the same view.
    #[test]
    fn the_view_and_the_row_agree() {
        let records = [
            r#"{"ts":"2026-11-26T10:00:01.250Z","service":"sync","method":"post","url":"https://h/api/machines/123/isolate","error":{"code":"429","message":"slow down","target":"43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A"}}"#,
            r#"{"error":{"code":"Forbidden","innerError":{"code":"throttledRequest","request-id":"e3b0c442-98fc-4c14-9afb-f4c8996fb924"}},"tid":"0f3a9410-14e6-8673-9240-5ce0b2deb7bf"}"#,
            "GET https://h/api/alerts -> 401 Unauthorized",
        ];
        let now = Timestamp::from_unix_millis(1_800_000_000_000).unwrap();
        for record in records {
            let Classification::ApiError(error) = classify(record.as_bytes(), &Limits::default()) else {
                panic!("an error: {record}")
            };
            let position = position();
            let view = ErrorRowView::new(&error, record, &position, now, now, 64);
            let row = view.to_row();
            assert_eq!(row.view(), view, "{record}");
            assert_eq!(Encoded::from(view.clone()), Encoded::new(&row), "{record}");
            assert_eq!(row, ErrorRow::new(&error, record, &position, now, now, 64));
        }
    }

    #[test]
    fn records_without_a_time_take_the_fallback() {
        let Classification::ApiError(error) = classify(b"(503) upstream", &Limits::default()) else {
            panic!("an error")
        };
        let fallback = Timestamp::from_unix_millis(86_400_000 * 3 + 5).unwrap();
        let row = ErrorRow::new(&error, "(503) upstream", &position(), fallback, fallback, 100);
        assert_eq!((row.event_date, row.event_time, row.event_millis), (3, 86_400 * 3, 5));
        assert_eq!(row.raw_truncated, 0);
    }

    #[test]
    fn quarantine_keeps_bytes_up_to_the_cap() {
        let now = Timestamp::from_unix_millis(0).unwrap();
        let row = QuarantineRow::new(Unreadable::NotUtf8 { offset: 1 }, b"a\xffbc", 4, &position(), now, 2);
        assert_eq!((row.raw.as_slice(), row.raw_truncated, row.size), (&b"a\xff"[..], 1, 4));
        assert_eq!(row.reason, "not_utf8");
    }

    /// Every column a row writes must exist in its table as the migrations create it, with a type
    /// its writer encodes: ClickHouse reads RowBinary by the types it knows, so a column written
    /// with another type's layout would misread the rest of the batch.
    #[test]
    fn the_columns_are_the_migrations() {
        fn check(table: &str, columns: &[&str], writers: &[&str]) {
            let created = created_columns(table);
            let names: Vec<&str> = created.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, columns, "the columns of {table}");
            for ((column, clickhouse_type), writer) in created.iter().zip(writers) {
                assert!(
                    written_by(writer).contains(&clickhouse_type.as_str()),
                    "{table}.{column} is {clickhouse_type}, written by RowBinary::{writer}"
                );
            }
        }
        check(ErrorRow::TABLE, ErrorRow::COLUMNS, ErrorRow::COLUMN_WRITERS);
        check(QuarantineRow::TABLE, QuarantineRow::COLUMNS, QuarantineRow::COLUMN_WRITERS);
    }

    /// The ClickHouse types whose RowBinary layout a writer produces.
    fn written_by(writer: &str) -> &'static [&'static str] {
        match writer {
            "u8" => &["UInt8"],
            "u16" => &["UInt16", "Date"],
            "u32" => &["UInt32", "DateTime"],
            "i32" => &["Int32"],
            "u64" => &["UInt64"],
            "nullable_f64" => &["Nullable(Float64)"],
            "string" | "bytes" => &["String"],
            "strings" => &["Array(String)"],
            _ => &[],
        }
    }

    /// A table's columns and their types, as the migrations create it, in order.
    fn created_columns(table: &str) -> Vec<(String, String)> {
        let mut created = None;
        for (_, migration, sql) in MIGRATIONS {
            let sql: String = sql.lines().map(|line| line.split("--").next().unwrap()).collect::<Vec<_>>().join("\n");
            for statement in sql.split(';') {
                match statement.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["CREATE", "TABLE", "IF", "NOT", "EXISTS", name, ..] if *name == table => {
                        assert!(created.is_none(), "{migration} creates {table} again");
                        created = Some(column_list(statement));
                    }
                    // Changes to a table after it is created would have to be followed here.
                    ["ALTER", "TABLE", name, ..] if *name == table => panic!("{migration} alters {table}"),
                    _ => {}
                }
            }
        }
        created.unwrap_or_else(|| panic!("no migration creates {table}"))
    }

    /// The `name Type` pairs between the first parenthesis of a `CREATE TABLE` and its match.
    fn column_list(statement: &str) -> Vec<(String, String)> {
        let (_, rest) = statement.split_once('(').unwrap();
        let mut depth = 0;
        let mut columns = vec![String::new()];
        for character in rest.chars() {
            match character {
                '(' => depth += 1,
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    columns.push(String::new());
                    continue;
                }
                _ => {}
            }
            columns.last_mut().unwrap().push(character);
        }
        columns
            .iter()
            .map(|column| {
                let (name, clickhouse_type) = column.trim().split_once(char::is_whitespace).unwrap();
                (name.to_owned(), clickhouse_type.trim().to_owned())
            })
            .collect()
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_text("héllo", 2), ("h", true));
        assert_eq!(truncate_text("hé", 3), ("hé", false));
    }
}
