//! A stored event as it is read back: the row a lookup reads, and its JSON shape, which the
//! command line and the HTTP API both answer with.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// The most events a lookup answers with: enough for any one incident, few enough that an id
/// logged by every record of a runaway client cannot make an answer arbitrarily large.
pub const LOOKUP_LIMIT: usize = 10_000;

/// What a lookup found: its events, oldest first, and whether more were stored than it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub events: Vec<StoredEvent>,
    /// More events of the id are stored than `limit`; `events` holds the oldest `limit`.
    pub truncated: bool,
    pub limit: usize,
}

/// An event as a lookup shows it.
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
pub struct StoredEvent {
    pub correlation_id: String,
    pub event_date: u16,
    pub event_time: u32,
    pub event_millis: u16,
    pub service: String,
    pub method: String,
    pub api: String,
    pub host: String,
    pub http_status: u16,
    pub code: String,
    pub category: String,
    pub message: String,
    pub source: String,
    pub source_partition: i32,
    pub source_offset: u64,
}

impl StoredEvent {
    pub fn timestamp(&self) -> Option<Timestamp> {
        Timestamp::from_unix_millis(i64::from(self.event_time) * 1000 + i64::from(self.event_millis))
    }
}

/// One stored event as the JSON answers (`errwatch lookup --json`, the API) show it.
#[derive(Debug, Serialize)]
pub struct JsonEvent<'a> {
    timestamp: Option<String>,
    correlation_id: &'a str,
    service: &'a str,
    method: &'a str,
    api: &'a str,
    host: &'a str,
    http_status: Option<u16>,
    code: &'a str,
    category: &'a str,
    message: &'a str,
    source: &'a str,
    source_partition: i32,
    source_offset: u64,
}

impl<'a> From<&'a StoredEvent> for JsonEvent<'a> {
    fn from(event: &'a StoredEvent) -> Self {
        JsonEvent {
            timestamp: event.timestamp().map(|time| time.to_string()),
            correlation_id: &event.correlation_id,
            service: &event.service,
            method: &event.method,
            api: &event.api,
            host: &event.host,
            http_status: (event.http_status != 0).then_some(event.http_status),
            code: &event.code,
            category: &event.category,
            message: &event.message,
            source: &event.source,
            source_partition: event.source_partition,
            source_offset: event.source_offset,
        }
    }
}
