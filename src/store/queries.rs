//! The read side behind the HTTP API: counts and time series from the per-minute roll-up.
//!
//! Every query reads `api_errors_per_minute`, never the raw table, and the caller bounds the
//! range, so the work per request is bounded by minutes × distinct keys. Readers sum `events`
//! with GROUP BY because SummingMergeTree merges rows of one key only eventually.

use serde::Deserialize;

use super::{Store, StoreError};

/// A dimension of the roll-up that answers can be broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Category,
    Code,
    HttpStatus,
    Service,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [Dimension::Category, Dimension::Code, Dimension::HttpStatus, Dimension::Service];

    /// The column, as written into SQL: only these four names ever are.
    fn column(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Code => "code",
            Dimension::HttpStatus => "http_status",
            Dimension::Service => "service",
        }
    }

    pub fn name(self) -> &'static str {
        self.column()
    }
}

/// Restricts a query to one value of some dimensions; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub category: Option<String>,
    pub service: Option<String>,
    pub code: Option<String>,
}

impl Filter {
    fn sql(&self) -> String {
        let mut sql = String::new();
        for (column, value) in [("category", &self.category), ("service", &self.service), ("code", &self.code)] {
            if value.is_some() {
                sql.push_str(&format!(" AND {column} = ?"));
            }
        }
        sql
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        [&self.category, &self.service, &self.code].into_iter().filter_map(|value| value.as_deref())
    }
}

/// Half-open range `[from, to)` of Unix seconds, whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: u32,
    pub to: u32,
}

/// The most values listed per dimension.
pub const TOP_VALUES: usize = 50;

#[derive(Debug, Clone, PartialEq, Deserialize, clickhouse::Row)]
pub struct Count {
    pub value: String,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, clickhouse::Row)]
pub struct Bucket {
    /// The bucket's start, in Unix seconds.
    pub start: u32,
    pub category: String,
    pub events: u64,
}

const RANGE_SQL: &str = "event_date >= toDate(toDateTime(?)) AND event_date <= toDate(toDateTime(?)) \
                         AND minute >= toDateTime(?) AND minute < toDateTime(?)";

impl Store {
    /// The values of one dimension with the most events in the range, most first.
    pub async fn top(&self, dimension: Dimension, range: Range, filter: &Filter) -> Result<Vec<Count>, StoreError> {
        let column = dimension.column();
        let sql = format!(
            "SELECT toString({column}) AS value, sum(events) AS events FROM api_errors_per_minute \
             WHERE {RANGE_SQL}{} GROUP BY value ORDER BY events DESC, value LIMIT {TOP_VALUES}",
            filter.sql()
        );
        let mut query = self.readers.query(&sql).bind(range.from).bind(range.to).bind(range.from).bind(range.to);
        for value in filter.values() {
            query = query.bind(value);
        }
        query.fetch_all().await.map_err(|e| self.error(e))
    }

    /// Events per category in buckets of `step` seconds (a multiple of 60).
    pub async fn buckets(&self, range: Range, step: u32, filter: &Filter) -> Result<Vec<Bucket>, StoreError> {
        let sql = format!(
            "SELECT toUInt32(intDiv(toUInt32(minute), {step}) * {step}) AS start, category, sum(events) AS events \
             FROM api_errors_per_minute WHERE {RANGE_SQL}{} GROUP BY start, category ORDER BY start, category",
            filter.sql(),
            step = step.max(60)
        );
        let mut query = self.readers.query(&sql).bind(range.from).bind(range.to).bind(range.from).bind(range.to);
        for value in filter.values() {
            query = query.bind(value);
        }
        query.fetch_all().await.map_err(|e| self.error(e))
    }
}
