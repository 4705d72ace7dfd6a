//! ClickHouse: migrations, the batched sink, and the queries behind lookups and retention.
//!
//! The one module that names the `clickhouse` crate. It speaks RowBinary over HTTP without the
//! crate's schema validation, because the test server (ClickHouse 18.16) knows neither the
//! setting nor the format validation needs. Inserts to a server on another machine are
//! LZ4-compressed (see [`InsertCompression`]); queries are not (an older server was seen
//! answering compressed SELECTs with an empty 200).

mod event;
#[cfg(test)]
pub(crate) mod fake;
mod migrate;
mod observe;
mod queries;
mod rows;
mod sink;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use clickhouse::{Client, Compression};

pub use event::{JsonEvent, Lookup, StoredEvent, LOOKUP_LIMIT};
pub use migrate::{statements as migration_statements, MigrationReport, MIGRATIONS};
pub use observe::{NoObserver, SinkObserver};
pub use queries::{code_label, Bucket, Count, Dimension, Filter, Range, CODE_LABEL_SQL, TOP_VALUES};
pub use rows::{Encoded, ErrorRow, ErrorRowView, QuarantineRow, Table, DEFAULT_RAW_CAP};
pub use sink::{Batch, Sink, SinkSettings, SinkStore, StoredPositions};

use crate::guid::CorrelationId;

/// Where the ClickHouse server is and who we are to it.
#[derive(Clone)]
pub struct Settings {
    pub url: String,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub compression: InsertCompression,
}

/// Whether inserts travel LZ4-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InsertCompression {
    /// LZ4, unless the URL names this machine: over loopback, compressing costs CPU at both
    /// ends and saves nothing (about a third of the sink's time went to it).
    #[default]
    Auto,
    Lz4,
    None,
}

impl InsertCompression {
    /// Whether inserts to `url` are compressed.
    pub fn compresses(self, url: &str) -> bool {
        match self {
            InsertCompression::Auto => !is_loopback_url(url),
            InsertCompression::Lz4 => true,
            InsertCompression::None => false,
        }
    }
}

impl std::str::FromStr for InsertCompression {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(InsertCompression::Auto),
            "lz4" => Ok(InsertCompression::Lz4),
            "none" => Ok(InsertCompression::None),
            _ => Err(format!("unknown insert compression {text:?}; use auto, lz4 or none")),
        }
    }
}

/// True when the URL's host is `localhost` or a loopback address.
fn is_loopback_url(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host_and_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_and_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("compression", &self.compression)
            .finish()
    }
}

/// A failed request, told apart by what retrying can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server could not be reached or the connection broke: retrying may help, and an
    /// insert may or may not have been stored.
    #[error("cannot reach ClickHouse at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The server refused for a passing reason (too many parts, memory, timeouts, shutting down).
    #[error("ClickHouse is temporarily unable to serve the request (code {code}): {message}")]
    Transient { code: u32, message: String },
    /// The server refused the request itself (schema mismatch, syntax, access): retrying
    /// cannot help.
    #[error("ClickHouse rejected the request{}: {message}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Rejected { code: Option<u32>, message: String },
    /// The settings cannot work, before anything is asked of the server.
    #[error("{0}")]
    Settings(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. } | StoreError::Transient { .. })
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            StoreError::Unreachable { .. } => FailureKind::Unreachable,
            StoreError::Transient { .. } => FailureKind::Transient,
            StoreError::Rejected { .. } | StoreError::Settings(_) => FailureKind::Rejected,
        }
    }

    fn from_client(error: clickhouse::error::Error, url: &str) -> StoreError {
        use clickhouse::error::Error;
        match error {
            Error::Network(_) | Error::TimedOut => {
                StoreError::Unreachable { url: url.to_owned(), detail: error.to_string() }
            }
            Error::BadResponse(message) => {
                let code = exception_code(&message);
                let message = first_line(&message);
                match code {
                    Some(code) if TRANSIENT_CODES.contains(&code) => StoreError::Transient { code, message },
                    _ => StoreError::Rejected { code, message },
                }
            }
            other => StoreError::Rejected { code: None, message: other.to_string() },
        }
    }
}

/// What a [`StoreError`] means for the request, without its details: what an observer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Not reached, or the connection broke; retried.
    Unreachable,
    /// Refused for a passing reason; retried.
    Transient,
    /// Refused for good.
    Rejected,
}

impl FailureKind {
    pub const ALL: [FailureKind; 3] = [FailureKind::Unreachable, FailureKind::Transient, FailureKind::Rejected];
}

/// Seconds a read for people or dashboards may run.
pub const READ_SECONDS_LIMIT: u32 = 10;

/// Rows a read for people or dashboards may return.
pub const READ_ROWS_LIMIT: u32 = 100_000;

/// ClickHouse exception codes that mean "not now" rather than "never": timeouts (159, 209),
/// network (210), too many simultaneous queries (202), memory (241), read-only table while a
/// replica recovers (242), too many parts (252), too many parts or merges behind (285?),
/// shutting down (394 query cancelled, 1000 POCO exceptions such as connection reset), and
/// Keeper trouble (999, 425).
const TRANSIENT_CODES: &[u32] = &[3, 32, 159, 164, 202, 209, 210, 241, 242, 252, 285, 319, 394, 425, 999, 1000];

/// The `Code: N` of a ClickHouse error message.
fn exception_code(message: &str) -> Option<u32> {
    let after = message.split("Code: ").nth(1)?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn first_line(message: &str) -> String {
    let line = message.lines().find(|line| !line.trim().is_empty()).unwrap_or(message).trim();
    const LIMIT: usize = 500;
    match line.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", line.get(..cut).unwrap_or(line)),
        None => line.to_owned(),
    }
}

/// How far each table got for one source partition. Rows of a partition are inserted in
/// position order, each insert whole or not at all, so a table holds every row of its kind up
/// to its watermark. The two tables are written one after the other, so after a crash one may
/// be ahead of the other: rereading from the last commit and skipping, per table, what its
/// watermark covers stores every row exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    pub errors: Option<u64>,
    pub quarantine: Option<u64>,
}

impl Watermarks {
    /// Whether an error row at `offset` is stored already.
    pub fn has_error(&self, offset: u64) -> bool {
        self.errors.is_some_and(|highest| offset <= highest)
    }

    /// Whether a quarantine row at `offset` is stored already.
    pub fn has_quarantined(&self, offset: u64) -> bool {
        self.quarantine.is_some_and(|highest| offset <= highest)
    }
}

/// Consecutive positions of one source partition, `first..=last`: where a batch's rows of a
/// table sit, for asking whether an insert whose connection broke landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<'a> {
    pub source: &'a str,
    pub partition: i32,
    pub first: u64,
    pub last: u64,
}

/// Bytes of an insert compressed and sent at a time.
const INSERT_CHUNK_BYTES: usize = 1024 * 1024;

/// The daily partitions older than a number of days (bound second) in a database (bound first).
pub const OLD_PARTITIONS_SQL: &str = "SELECT DISTINCT table, partition FROM system.parts \
     WHERE database = ? AND active \
     AND table IN ('api_errors', 'api_errors_by_correlation', 'api_errors_per_minute', 'quarantine') \
     AND toDate(partition) < today() - ? ORDER BY table, partition";

/// A connection to one database on one server.
#[derive(Clone)]
pub struct Store {
    settings: Settings,
    /// For inserts: LZ4-compressed or not, as the settings say.
    inserts: Client,
    /// For queries and DDL in the database.
    queries: Client,
    /// For statements outside any database (creating it).
    server: Client,
    /// For what people and dashboards ask (lookups, summaries): read-only and bounded, so
    /// that no request can change data or run without limit.
    readers: Client,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Names the server sees: only letters, digits and underscores, so they can be written into SQL.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

impl Store {
    pub fn new(settings: Settings) -> Result<Store, StoreError> {
        if !is_plain_name(&settings.database) {
            return Err(StoreError::Settings(format!(
                "the database name {:?} must be letters, digits and underscores (ERRWATCH_CLICKHOUSE_DATABASE)",
                settings.database
            )));
        }
        if !(settings.url.starts_with("http://") || settings.url.starts_with("https://")) {
            return Err(StoreError::Settings(format!(
                "the ClickHouse URL {:?} must start with http:// or https://, as in http://127.0.0.1:8123 \
                 (ERRWATCH_CLICKHOUSE_URL)",
                settings.url
            )));
        }
        let mut server = Client::default().with_url(&settings.url).with_validation(false);
        if let Some(user) = &settings.user {
            server = server.with_user(user);
        }
        if let Some(password) = &settings.password {
            server = server.with_password(password);
        }
        let server = server.with_compression(Compression::None);
        let queries = server.clone().with_database(&settings.database);
        let compression =
            if settings.compression.compresses(&settings.url) { Compression::Lz4 } else { Compression::None };
        let inserts = queries.clone().with_compression(compression);
        // readonly=2 forbids writes but still lets a request carry the two limits below.
        let readers = queries
            .clone()
            .with_setting("readonly", "2")
            .with_setting("max_execution_time", READ_SECONDS_LIMIT.to_string())
            .with_setting("max_result_rows", READ_ROWS_LIMIT.to_string());
        Ok(Store { settings, inserts, queries, server, readers })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn error(&self, error: clickhouse::error::Error) -> StoreError {
        StoreError::from_client(error, &self.settings.url)
    }

    /// Checks that the server answers queries with rows.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let answer: u8 = self.server.query("SELECT toUInt8(1)").fetch_one().await.map_err(|e| self.error(e))?;
        if answer == 1 {
            Ok(())
        } else {
            Err(StoreError::Rejected { code: None, message: format!("SELECT 1 answered {answer}") })
        }
    }

    /// Runs one statement in the database.
    async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.queries.query(sql).execute().await.map_err(|e| self.error(e))
    }

    /// Inserts rows in one statement, which ClickHouse applies whole or not at all.
    pub async fn insert<T: Table>(&self, rows: &[T]) -> Result<(), StoreError> {
        let mut encoded = Vec::new();
        for row in rows {
            row.encode(&mut encoded);
        }
        self.insert_encoded::<T>(&Bytes::from(encoded)).await
    }

    /// Inserts rows encoded by [`Table::encode`] in one statement, which ClickHouse applies
    /// whole or not at all.
    pub async fn insert_encoded<T: Table>(&self, encoded: &Bytes) -> Result<(), StoreError> {
        if encoded.is_empty() {
            return Ok(());
        }
        let sql = format!("INSERT INTO {} ({}) FORMAT RowBinary", T::TABLE, T::COLUMNS.join(", "));
        let mut insert = self
            .inserts
            .insert_formatted_with(sql)
            .with_timeouts(Some(Duration::from_secs(30)), Some(Duration::from_secs(60)));
        // Sent in pieces: each is compressed as one block, and the server reads blocks of
        // bounded size.
        let mut start = 0;
        while start < encoded.len() {
            let end = (start + INSERT_CHUNK_BYTES).min(encoded.len());
            insert.send(encoded.slice(start..end)).await.map_err(|e| self.error(e))?;
            start = end;
        }
        insert.end().await.map_err(|e| self.error(e))
    }

    /// The highest position each table holds for a source partition.
    pub async fn watermarks(&self, source: &str, partition: i32) -> Result<Watermarks, StoreError> {
        let mut highest = [None, None];
        for (slot, table) in highest.iter_mut().zip([ErrorRow::TABLE, QuarantineRow::TABLE]) {
            let (rows, offset): (u64, u64) = self
                .queries
                .query(&format!(
                    "SELECT count(), max(source_offset) FROM {table} WHERE source = ? AND source_partition = ?"
                ))
                .bind(source)
                .bind(partition)
                .fetch_one()
                .await
                .map_err(|e| self.error(e))?;
            *slot = (rows > 0).then_some(offset);
        }
        let [errors, quarantine] = highest;
        Ok(Watermarks { errors, quarantine })
    }

    /// How many rows of `table` sit at the positions of `span`.
    pub async fn rows_at(&self, table: &str, span: &Span<'_>) -> Result<u64, StoreError> {
        self.queries
            .query(&format!(
                "SELECT count() FROM {table} WHERE source = ? AND source_partition = ? AND source_offset >= ? AND source_offset <= ?"
            ))
            .bind(span.source)
            .bind(span.partition)
            .bind(span.first)
            .bind(span.last)
            .fetch_one()
            .await
            .map_err(|e| self.error(e))
    }

    /// The stored events of one correlation id, oldest first, at most [`LOOKUP_LIMIT`].
    pub async fn lookup(&self, id: CorrelationId) -> Result<Lookup, StoreError> {
        self.lookup_at_most(id, LOOKUP_LIMIT).await
    }

    /// The oldest `limit` stored events of one correlation id, and whether there are more.
    pub async fn lookup_at_most(&self, id: CorrelationId, limit: usize) -> Result<Lookup, StoreError> {
        // One row past the limit tells whether the answer stops short, without counting them all.
        let mut events: Vec<StoredEvent> = self
            .readers
            .query(&format!(
                // PREWHERE by hand: ClickHouse does not move a condition on the first key column
                // there by itself, and without it every part reads a whole block of every column.
                "SELECT ?fields FROM api_errors_by_correlation PREWHERE correlation_id = ? \
                 ORDER BY event_time, event_millis, source, source_partition, source_offset LIMIT {}",
                limit.saturating_add(1)
            ))
            .bind(id.to_string().as_str())
            .fetch_all()
            .await
            .map_err(|e| self.error(e))?;
        let truncated = events.len() > limit;
        events.truncate(limit);
        Ok(Lookup { events, truncated, limit })
    }

    /// Drops every daily partition older than `days` days from every table that has them.
    /// Returns the partitions dropped, as `table:partition`.
    pub async fn drop_partitions_older_than(&self, days: u32) -> Result<Vec<String>, StoreError> {
        let old: Vec<(String, String)> = self
            .queries
            .query(OLD_PARTITIONS_SQL)
            .bind(self.settings.database.as_str())
            .bind(days)
            .fetch_all()
            .await
            .map_err(|e| self.error(e))?;
        let mut dropped = Vec::with_capacity(old.len());
        for (table, partition) in old {
            // Partition values come from system.parts and are dates; binding keeps them quoted.
            let statement =
                self.queries.query(&format!("ALTER TABLE {table} DROP PARTITION ?")).bind(partition.as_str());
            statement.execute().await.map_err(|e| self.error(e))?;
            dropped.push(format!("{table}:{partition}"));
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart_by_their_code() {
        let error = |body: &str| StoreError::from_client(clickhouse::error::Error::BadResponse(body.to_owned()), "u");
        assert!(error("Code: 252, e.displayText() = DB::Exception: Too many parts (300)").is_transient());
        assert!(error("Code: 241. DB::Exception: Memory limit (total) exceeded").is_transient());
        assert!(!error("Code: 62, e.displayText() = DB::Exception: Syntax error").is_transient());
        assert!(!error("Code: 16. DB::Exception: No such column foo in table").is_transient());
        assert!(!error("bad response without a code").is_transient());
        let rejected = error("Code: 60. DB::Exception: Table errwatch.nope doesn't exist.\nstack trace");
        assert_eq!(
            rejected.to_string(),
            "ClickHouse rejected the request (code 60): Code: 60. DB::Exception: Table errwatch.nope doesn't exist."
        );
    }

    #[test]
    fn plain_names_only() {
        assert!(is_plain_name("errwatch"));
        assert!(is_plain_name("errwatch_test_17"));
        assert!(!is_plain_name("errwatch; DROP TABLE x"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name("1abc"));
    }

    #[test]
    fn passwords_are_not_printed() {
        let settings = Settings {
            url: "http://h".into(),
            database: "d".into(),
            user: Some("u".into()),
            password: Some("hunter2".into()),
            compression: InsertCompression::Auto,
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn inserts_to_this_machine_are_not_compressed_unless_asked() {
        fn check(url: &str, compression: InsertCompression, compressed: bool) {
            assert_eq!(compression.compresses(url), compressed, "{url} with {compression:?}");
        }
        let auto = InsertCompression::Auto;
        check("http://127.0.0.1:8123", auto, false);
        check("http://127.3.4.5:8123/", auto, false);
        check("http://localhost:8123", auto, false);
        check("https://LOCALHOST", auto, false);
        check("http://[::1]:8123", auto, false);
        check("http://user:secret@127.0.0.1:8123", auto, false);
        check("http://clickhouse.internal:8123", auto, true);
        check("http://10.0.0.7:8123", auto, true);
        check("http://[2001:db8::1]:8123", auto, true);
        check("http://localhost.example.com:8123", auto, true);
        check("http://127.0.0.1.example.com", auto, true);
        check("http://127.0.0.1:8123", InsertCompression::Lz4, true);
        check("http://clickhouse.internal:8123", InsertCompression::None, false);
    }

    #[test]
    fn compression_is_named_in_words() {
        assert_eq!("auto".parse(), Ok(InsertCompression::Auto));
        assert_eq!("LZ4".parse(), Ok(InsertCompression::Lz4));
        assert_eq!("none".parse(), Ok(InsertCompression::None));
        let error = "zstd".parse::<InsertCompression>().unwrap_err();
        assert!(error.contains("auto, lz4 or none"), "{error}");
    }
}
