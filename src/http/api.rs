//! `/api/v1`: lookups by correlation id, and error counts and time series over a range.
//!
//! Ranges and steps are bounded before anything reaches ClickHouse: at most
//! [`MAX_RANGE_DAYS`] days, at most [`MAX_POINTS`] points, steps of whole minutes. Summaries
//! and time series read the per-minute roll-up, lookups the table ordered by correlation id.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::{json_response, Problem, Shared};
use crate::commands::lookup::JsonEvent;
use crate::guid::CorrelationId;
use crate::store::{Dimension, Filter, Range};
use crate::timestamp::Timestamp;

/// The longest range a summary or time series may cover.
pub const MAX_RANGE_DAYS: u32 = 400;

/// The most buckets a time series may have.
pub const MAX_POINTS: u32 = 1_500;

/// The range when none is given: the last day.
const DEFAULT_RANGE_SECONDS: u32 = 86_400;

/// Longest accepted filter value; longer ones cannot be a service, code or category.
const MAX_FILTER_LENGTH: usize = 200;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/correlations/{id}", get(correlation))
        .route("/errors/summary", get(summary))
        .route("/errors/timeseries", get(timeseries))
        .route("/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], include_str!("openapi.json"))
        .into_response()
}

#[derive(Serialize)]
struct Correlation<'a> {
    correlation_id: String,
    events: Vec<JsonEvent<'a>>,
}

async fn correlation(
    State(shared): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(id) = id.map_err(|rejection| Problem::invalid(rejection.body_text()))?;
    let Some(id) = CorrelationId::parse(&id) else {
        return Err(Problem::invalid(format!(
            "{:?} is not a correlation id: expected a GUID such as 43f4cb08-8fac-4b65-9db1-745c2ae65f3a",
            shorten(&id)
        )));
    };
    let events = shared.store.lookup(id).await?;
    if events.is_empty() {
        return Err(Problem::new(StatusCode::NOT_FOUND, "NotFound", format!("no events for correlation id {id}")));
    }
    let body = Correlation { correlation_id: id.to_string(), events: events.iter().map(JsonEvent::from).collect() };
    Ok(json_response(StatusCode::OK, &body))
}

/// The query parameters both counting endpoints take.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    category: Option<String>,
    service: Option<String>,
    code: Option<String>,
}

impl RangeQuery {
    fn range(&self, now: Timestamp) -> Result<Range, Problem> {
        let now_seconds = unix_seconds(now);
        let to = match &self.to {
            Some(text) => parse_time("to", text)?,
            None => now_seconds,
        };
        let from = match &self.from {
            Some(text) => parse_time("from", text)?,
            None => to.saturating_sub(i64::from(DEFAULT_RANGE_SECONDS)),
        };
        // Whole minutes, as the roll-up keeps them; `to` rounds up so that its minute counts.
        let from = from.div_euclid(60) * 60;
        let to = (to + 59).div_euclid(60) * 60;
        if from >= to {
            return Err(Problem::invalid("from must be before to"));
        }
        if to - from > i64::from(MAX_RANGE_DAYS) * 86_400 {
            return Err(Problem::invalid(format!("the range may cover at most {MAX_RANGE_DAYS} days")));
        }
        let from = u32::try_from(from).map_err(|_| Problem::invalid("from is outside 1970 to 2106"))?;
        let to = u32::try_from(to).map_err(|_| Problem::invalid("to is outside 1970 to 2106"))?;
        Ok(Range { from, to })
    }

    fn filter(&self) -> Result<Filter, Problem> {
        let check = |name: &str, value: &Option<String>| match value {
            Some(text) if text.is_empty() || text.len() > MAX_FILTER_LENGTH => {
                Err(Problem::invalid(format!("{name} must be 1 to {MAX_FILTER_LENGTH} bytes")))
            }
            other => Ok(other.clone()),
        };
        Ok(Filter {
            category: check("category", &self.category)?,
            service: check("service", &self.service)?,
            code: check("code", &self.code)?,
        })
    }

    /// The step in seconds: as asked (whole minutes), else the smallest of the usual steps
    /// that keeps the series under a few hundred points.
    fn step(&self, range: Range) -> Result<u32, Problem> {
        let span = range.to - range.from;
        let step = match &self.step {
            Some(text) => parse_step(text)?,
            None => [60, 300, 900, 3_600, 21_600, 86_400].into_iter().find(|step| span / step <= 360).unwrap_or(86_400),
        };
        if span.div_ceil(step) > MAX_POINTS {
            return Err(Problem::invalid(format!(
                "a step of {step} s over this range gives more than {MAX_POINTS} points; use a larger step"
            )));
        }
        Ok(step)
    }
}

fn query_or_problem(query: Result<Query<RangeQuery>, QueryRejection>) -> Result<RangeQuery, Problem> {
    query.map(|Query(query)| query).map_err(|rejection| Problem::invalid(rejection.body_text()))
}

#[derive(Serialize)]
struct Summary {
    from: String,
    to: String,
    total: u64,
    by_category: Vec<Entry>,
    by_code: Vec<Entry>,
    by_http_status: Vec<Entry>,
    by_service: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    value: String,
    events: u64,
}

async fn summary(
    State(shared): State<Shared>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = query_or_problem(query)?;
    if query.step.is_some() {
        return Err(Problem::invalid("step applies to /errors/timeseries only"));
    }
    let range = query.range(Timestamp::now())?;
    let filter = query.filter()?;
    let mut lists: Vec<Vec<Entry>> = Vec::with_capacity(Dimension::ALL.len());
    for dimension in Dimension::ALL {
        let counts = shared.store.top(dimension, range, &filter).await?;
        lists.push(counts.into_iter().map(|count| Entry { value: count.value, events: count.events }).collect());
    }
    let mut lists = lists.into_iter();
    let by_category = lists.next().unwrap_or_default();
    let body = Summary {
        from: time_text(range.from),
        to: time_text(range.to),
        // Categories are few (eight), so their list is never cut and sums to the total.
        total: by_category.iter().map(|entry| entry.events).sum(),
        by_category,
        by_code: lists.next().unwrap_or_default(),
        by_http_status: lists.next().unwrap_or_default(),
        by_service: lists.next().unwrap_or_default(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(Serialize)]
struct Series {
    from: String,
    to: String,
    step_seconds: u32,
    /// The start of each bucket, in Unix seconds.
    times: Vec<u32>,
    categories: Vec<CategorySeries>,
}

#[derive(Serialize)]
struct CategorySeries {
    category: String,
    /// Events per bucket, aligned with `times`.
    events: Vec<u64>,
}

async fn timeseries(
    State(shared): State<Shared>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = query_or_problem(query)?;
    let range = query.range(Timestamp::now())?;
    let step = query.step(range)?;
    let filter = query.filter()?;
    let buckets = shared.store.buckets(range, step, &filter).await?;
    let first = range.from - range.from % step;
    let times: Vec<u32> = (first..range.to).step_by(step as usize).collect();
    let mut categories: Vec<CategorySeries> = Vec::new();
    for bucket in buckets {
        let Some(slot) = bucket.start.checked_sub(first).map(|offset| (offset / step) as usize) else { continue };
        let index = match categories.iter().position(|series| series.category == bucket.category) {
            Some(index) => index,
            None => {
                categories.push(CategorySeries { category: bucket.category, events: vec![0; times.len()] });
                categories.len() - 1
            }
        };
        if let Some(events) = categories.get_mut(index).and_then(|series| series.events.get_mut(slot)) {
            *events += bucket.events;
        }
    }
    categories.sort_by(|a, b| a.category.cmp(&b.category));
    let body = Series { from: time_text(range.from), to: time_text(range.to), step_seconds: step, times, categories };
    Ok(json_response(StatusCode::OK, &body))
}

/// RFC 3339 or Unix seconds.
fn parse_time(name: &str, text: &str) -> Result<i64, Problem> {
    let parsed = if text.bytes().all(|byte| byte.is_ascii_digit()) && !text.is_empty() && text.len() <= 11 {
        text.parse::<i64>().ok()
    } else {
        Timestamp::parse_field(text).filter(|_| text.len() <= 40).map(unix_seconds)
    };
    parsed.ok_or_else(|| {
        Problem::invalid(format!(
            "{name} {:?} is not a time: use RFC 3339 (2026-11-27T10:00:00Z) or Unix seconds",
            shorten(text)
        ))
    })
}

/// Seconds, or a number with s, m, h or d; whole minutes from one minute to one day.
fn parse_step(text: &str) -> Result<u32, Problem> {
    let (digits, unit) = match text.char_indices().last() {
        Some((at, 's')) => (text.get(..at), 1),
        Some((at, 'm')) => (text.get(..at), 60),
        Some((at, 'h')) => (text.get(..at), 3_600),
        Some((at, 'd')) => (text.get(..at), 86_400),
        _ => (Some(text), 1),
    };
    let seconds = digits
        .filter(|digits| !digits.is_empty() && digits.len() <= 6 && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok())
        .map(|number| number.saturating_mul(unit));
    match seconds {
        Some(seconds) if (60..=86_400).contains(&seconds) && seconds % 60 == 0 => Ok(seconds),
        _ => Err(Problem::invalid(format!(
            "step {:?} must be whole minutes between 60 s and 1 d, such as 300, 5m or 1h",
            shorten(text)
        ))),
    }
}

fn unix_seconds(time: Timestamp) -> i64 {
    time.unix_millis().div_euclid(1000)
}

fn time_text(seconds: u32) -> String {
    Timestamp::from_unix_millis(i64::from(seconds) * 1000).map(|time| time.to_string()).unwrap_or_default()
}

/// Enough of a bad value to recognise it in an error message, never all of a huge one.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        let check = |text: &str, expected: Option<u32>| assert_eq!(parse_step(text).ok(), expected, "{text}");
        check("60", Some(60));
        check("5m", Some(300));
        check("1h", Some(3_600));
        check("1d", Some(86_400));
        check("90", None);
        check("30s", None);
        check("2d", None);
        check("", None);
        check("m", None);
        check("-5m", None);
        check("99999999999m", None);
    }

    #[test]
    fn times() {
        let check = |text: &str, expected: Option<i64>| assert_eq!(parse_time("from", text).ok(), expected, "{text}");
        check("1700000000", Some(1_700_000_000));
        check("2026-11-27T10:00:00Z", Some(1_795_773_600));
        check("2026-11-27T11:00:00+01:00", Some(1_795_773_600));
        check("yesterday", None);
        check("", None);
        check("99999999999999999999", None);
    }

    #[test]
    fn ranges_are_bounded() {
        let now = Timestamp::from_unix_millis(1_795_773_600_000).unwrap_or_else(Timestamp::now);
        let query = |from: Option<&str>, to: Option<&str>| RangeQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            ..RangeQuery::default()
        };
        let range = query(None, None).range(now).ok();
        assert_eq!(range, Some(Range { from: 1_795_773_600 - 86_400, to: 1_795_773_600 }));
        assert!(query(Some("1795773600"), Some("1795773600")).range(now).is_err());
        assert!(query(Some("0"), Some("1795773600")).range(now).is_err());
        let whole_year = query(Some("2025-11-27T00:00:00Z"), Some("2026-11-27T00:00:00Z")).range(now);
        assert!(whole_year.is_ok());
        let range = whole_year.unwrap_or(Range { from: 0, to: 0 });
        assert!(query(None, None).step(range).is_ok());
        let fine = RangeQuery { step: Some("1m".into()), ..RangeQuery::default() };
        assert!(fine.step(range).is_err());
    }
}
