//! The read side behind the HTTP API: counts and time series from the per-minute roll-up.
//!
//! Every query reads `api_errors_per_minute`, never the raw table, and the caller bounds the
//! range, so the work per request is bounded by minutes × distinct keys. Readers sum `events`
//! with GROUP BY because SummingMergeTree merges rows of one key only eventually.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Store, StoreError};

/// What an error without a code and without a status is shown as.
const NO_CODE: &str = "no code";

/// How a code is shown and grouped: the code itself, or for an error that has none (a 503
/// without a body), its status, `HTTP 503`, so that no list, table or label is blank. Rows keep
/// the code empty, as it was logged; the naming is at read time. [`CODE_LABEL_SQL`] says the
/// same in ClickHouse's SQL.
pub fn code_label(code: &str, http_status: u16) -> Cow<'_, str> {
    match (code, http_status) {
        ("", 0) => Cow::Borrowed(NO_CODE),
        ("", status) => Cow::Owned(format!("HTTP {status}")),
        (code, _) => Cow::Borrowed(code),
    }
}

/// [`code_label`] over the `code` and `http_status` columns, in the SQL ClickHouse 18.16 and
/// current releases share; the dashboards' queries spell it the same way.
pub const CODE_LABEL_SQL: &str =
    "if(code != '', code, if(http_status = 0, 'no code', concat('HTTP ', toString(http_status))))";

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

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Code => "code",
            Dimension::HttpStatus => "http_status",
            Dimension::Service => "service",
        }
    }

    /// The value as written into SQL: only these four expressions ever are.
    fn value_sql(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Code => CODE_LABEL_SQL,
            Dimension::HttpStatus => "toString(http_status)",
            Dimension::Service => "service",
        }
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
    /// A code is matched as it is shown, so that `HTTP 503` from a summary finds those errors.
    fn sql(&self) -> String {
        let mut sql = String::new();
        for (expression, value) in
            [("category", &self.category), ("service", &self.service), (CODE_LABEL_SQL, &self.code)]
        {
            if value.is_some() {
                sql.push_str(&format!(" AND {expression} = ?"));
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
        let value = dimension.value_sql();
        let sql = format!(
            "SELECT {value} AS value, sum(events) AS events FROM api_errors_per_minute \
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_never_shown_blank() {
        let check = |code: &str, status: u16, expected: &str| {
            assert_eq!(code_label(code, status), expected, "{code:?} {status}")
        };
        check("TooManyRequests", 429, "TooManyRequests");
        check("SomethingNew", 0, "SomethingNew");
        check("", 503, "HTTP 503");
        check("", 0, "no code");
    }

    /// Whether `sql` names the column `code` outside [`CODE_LABEL_SQL`].
    fn reads_bare_code(sql: &str) -> bool {
        let rest = sql.replace(CODE_LABEL_SQL, "");
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        rest.split(|c: char| !is_name(c)).any(|word| word == "code")
    }

    #[test]
    fn the_dashboards_show_codes_as_the_api_does() {
        let check = |sql: &str, bare: bool| assert_eq!(reads_bare_code(sql), bare, "{sql}");
        check("SELECT code, category FROM t", true);
        check("SELECT error_code, codes FROM t", false);
        check(&format!("SELECT {CODE_LABEL_SQL} AS error_code FROM t GROUP BY error_code"), false);
        // The expression holds no character that JSON escapes, so it stands in the file as is.
        let dashboard = include_str!("../../dashboards/grafana/incidents.json");
        let queries: Vec<&str> = dashboard.lines().filter(|line| line.contains(r#""rawSql":"#)).collect();
        assert!(queries.iter().any(|sql| sql.contains(CODE_LABEL_SQL)), "the incidents dashboard shows codes");
        for sql in queries {
            check(sql, false);
        }
    }
}
