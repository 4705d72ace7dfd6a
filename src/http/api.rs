//! `/api/v1`: lookups by correlation id, and error counts and time series over a range.
//!
//! Ranges and steps are bounded before anything reaches ClickHouse: at most
//! [`MAX_RANGE_DAYS`] days, at most [`MAX_POINTS`] points, steps of whole minutes. Summaries
//! and time series read the per-minute roll-up, lookups the table ordered by correlation id.
//!
//! Every request is read by one function, `ApiRequest::read`, before ClickHouse is asked
//! anything; [`check_request`] runs that same function on a path and query alone, so that the
//! fuzz target reaches exactly what the server accepts and refuses.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::{json_response, Problem, Shared};
use crate::guid::CorrelationId;
use crate::store::{Dimension, Filter, JsonEvent, Range};
use crate::timestamp::Timestamp;

/// The longest range a summary or time series may cover.
pub const MAX_RANGE_DAYS: u32 = 400;

/// The most buckets a time series may have.
pub const MAX_POINTS: u32 = 1_500;

/// The most buckets of a time series whose step is not given.
const DEFAULT_MAX_POINTS: u32 = 360;

/// The range when none is given: the last day.
const DEFAULT_RANGE_SECONDS: u32 = 86_400;

/// Longest accepted filter value; longer ones cannot be a service, code or category.
const MAX_FILTER_LENGTH: usize = 200;

/// Where the server mounts these routes; the routes see the path below it.
pub const PREFIX: &str = "/api/v1";

/// How much of a bad value a refusal quotes, in characters: enough to recognise it, never all
/// of a huge one, so that a request cannot make the answer or the log line arbitrarily long.
const QUOTED_CHARS: usize = 80;

/// How much of axum's own description of a bad query a refusal keeps: it names the parameter.
const REJECTION_CHARS: usize = 300;

/// No refusal's message is longer than this, in characters, whatever the request: the quoted
/// part of a value is debug-escaped, ten characters at most for one.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

pub(super) fn routes() -> Router<Shared> {
    // One handler for every route: the router only decides which paths exist (and answers 404
    // and 405), and the handler reads the request the way check_request does.
    Router::new()
        .route("/correlations/{id}", get(answer))
        .route("/errors/summary", get(answer))
        .route("/errors/timeseries", get(answer))
        .route("/openapi.json", get(answer))
}

/// A request to the API, read and checked: everything a handler needs to ask ClickHouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    Correlation(CorrelationId),
    Summary { range: Range, filter: Filter },
    Timeseries { range: Range, step: u32, filter: Filter },
    OpenApi,
}

impl ApiRequest {
    /// Reads a request from its URI as the router hands it over, with [`PREFIX`] stripped.
    fn read(uri: &Uri, now: Timestamp) -> Result<ApiRequest, Problem> {
        let path = uri.path();
        // The router matched `{id}` as one non-empty segment; anything else never gets here.
        if let Some(segment) = path.strip_prefix("/correlations/").filter(|id| !id.is_empty() && !id.contains('/')) {
            return correlation_id(segment).map(ApiRequest::Correlation);
        }
        match path {
            "/errors/summary" => {
                let query = RangeQuery::read(uri)?;
                if query.step.is_some() {
                    return Err(Problem::invalid("step applies to /errors/timeseries only"));
                }
                Ok(ApiRequest::Summary { range: query.range(now)?, filter: query.filter()? })
            }
            "/errors/timeseries" => {
                let query = RangeQuery::read(uri)?;
                let range = query.range(now)?;
                let step = query.step(range)?;
                Ok(ApiRequest::Timeseries { range, step, filter: query.filter()? })
            }
            "/openapi.json" => Ok(ApiRequest::OpenApi),
            _ => Err(no_such_endpoint()),
        }
    }
}

fn no_such_endpoint() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "NotFound", "no such endpoint; the API is described at /api/v1/openapi.json")
}

/// Reads and checks a request target (`/api/v1/errors/summary?from=...`) exactly as the server
/// does, without ClickHouse: the answer the server would send for a refused request is the
/// message of `Err`. `now` stands for the clock, which defaults the range.
pub fn check_request(path_and_query: &str, now: Timestamp) -> Result<ApiRequest, String> {
    let not_found = || no_such_endpoint().message;
    let uri: Uri = path_and_query.parse().map_err(|_| "not a request target".to_owned())?;
    // What the router's nesting does: the routes see the path below the prefix.
    let path = uri.path().strip_prefix(PREFIX).filter(|path| path.starts_with('/')).ok_or_else(not_found)?;
    let inner = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let inner: Uri = inner.parse().map_err(|_| not_found())?;
    ApiRequest::read(&inner, now).map_err(|problem| problem.message)
}

async fn answer(State(shared): State<Shared>, uri: Uri) -> Result<Response, Problem> {
    match ApiRequest::read(&uri, Timestamp::now())? {
        ApiRequest::Correlation(id) => correlation(&shared, id).await,
        ApiRequest::Summary { range, filter } => summary(&shared, range, &filter).await,
        ApiRequest::Timeseries { range, step, filter } => timeseries(&shared, range, step, &filter).await,
        ApiRequest::OpenApi => Ok(openapi()),
    }
}

fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], include_str!("openapi.json"))
        .into_response()
}

/// The id of a lookup from its path segment, percent-decoded as a path parameter is.
fn correlation_id(segment: &str) -> Result<CorrelationId, Problem> {
    let Some(id) = percent_decode(segment) else {
        return Err(Problem::invalid("the correlation id is not UTF-8 once percent-decoded"));
    };
    CorrelationId::parse(&id).ok_or_else(|| {
        Problem::invalid(format!(
            "{:?} is not a correlation id: expected a GUID such as 43f4cb08-8fac-4b65-9db1-745c2ae65f3a",
            shorten(&id, QUOTED_CHARS)
        ))
    })
}

/// Decodes `%XX` escapes; an escape that is cut short or not hexadecimal stays as written, as
/// axum's path extractor leaves it. `None` when the bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let hex = |byte: u8| (byte as char).to_digit(16).and_then(|digit| u8::try_from(digit).ok());
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if let (b'%', [high, low, after @ ..]) = (byte, tail) {
            if let (Some(high), Some(low)) = (hex(*high), hex(*low)) {
                bytes.push(high << 4 | low);
                rest = after;
                continue;
            }
        }
        bytes.push(byte);
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}

#[derive(Serialize)]
struct Correlation<'a> {
    correlation_id: String,
    events: Vec<JsonEvent<'a>>,
    /// More events are stored than the answer holds: it holds the oldest `limit`.
    truncated: bool,
    limit: usize,
}

async fn correlation(shared: &Shared, id: CorrelationId) -> Result<Response, Problem> {
    let found = shared.store.lookup(id).await?;
    if found.events.is_empty() {
        return Err(Problem::new(StatusCode::NOT_FOUND, "NotFound", format!("no events for correlation id {id}")));
    }
    let body = Correlation {
        correlation_id: id.to_string(),
        events: found.events.iter().map(JsonEvent::from).collect(),
        truncated: found.truncated,
        limit: found.limit,
    };
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
    fn read(uri: &Uri) -> Result<RangeQuery, Problem> {
        Query::try_from_uri(uri)
            .map(|Query(query)| query)
            .map_err(|rejection| Problem::invalid(shorten(&rejection.body_text(), REJECTION_CHARS)))
    }

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
    /// that keeps the series to a few hundred points.
    fn step(&self, range: Range) -> Result<u32, Problem> {
        let step = match &self.step {
            Some(text) => parse_step(text)?,
            None => [60, 300, 900, 3_600, 21_600, 86_400]
                .into_iter()
                .find(|&step| bucket_count(range, step) <= DEFAULT_MAX_POINTS)
                .unwrap_or(86_400),
        };
        if bucket_count(range, step) > MAX_POINTS {
            return Err(Problem::invalid(format!(
                "a step of {step} s over this range gives more than {MAX_POINTS} points; use a larger step"
            )));
        }
        Ok(step)
    }
}

/// Where the first bucket starts: buckets are aligned to multiples of the step, as ClickHouse
/// groups them, so the first one may start before the range does.
fn first_bucket(range: Range, step: u32) -> u32 {
    range.from - range.from % step.max(1)
}

/// How many buckets [`bucket_starts`] gives, counted without listing them.
fn bucket_count(range: Range, step: u32) -> u32 {
    range.to.saturating_sub(first_bucket(range, step)).div_ceil(step.max(1))
}

/// The start of each bucket of a time series over `range`, in Unix seconds.
pub fn bucket_starts(range: Range, step: u32) -> Vec<u32> {
    (first_bucket(range, step)..range.to).step_by(step.max(1) as usize).collect()
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

async fn summary(shared: &Shared, range: Range, filter: &Filter) -> Result<Response, Problem> {
    let mut lists: Vec<Vec<Entry>> = Vec::with_capacity(Dimension::ALL.len());
    for dimension in Dimension::ALL {
        let counts = shared.store.top(dimension, range, filter).await?;
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

async fn timeseries(shared: &Shared, range: Range, step: u32, filter: &Filter) -> Result<Response, Problem> {
    let buckets = shared.store.buckets(range, step, filter).await?;
    let first = first_bucket(range, step);
    let times = bucket_starts(range, step);
    let mut categories: Vec<CategorySeries> = Vec::new();
    for bucket in buckets {
        let Some(slot) = bucket.start.checked_sub(first).map(|offset| (offset / step.max(1)) as usize) else {
            continue;
        };
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
            shorten(text, QUOTED_CHARS)
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
            shorten(text, QUOTED_CHARS)
        ))),
    }
}

fn unix_seconds(time: Timestamp) -> i64 {
    time.unix_millis().div_euclid(1000)
}

fn time_text(seconds: u32) -> String {
    Timestamp::from_unix_millis(i64::from(seconds) * 1000).map(|time| time.to_string()).unwrap_or_default()
}

/// At most `limit` characters of `text`: enough of a bad value to recognise it in an error
/// message, never all of a huge one.
fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
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

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(1_795_773_600_000).unwrap_or_else(Timestamp::now)
    }

    #[test]
    fn requests_are_read_as_the_router_hands_them_over() {
        let id = CorrelationId::parse("43f4cb08-8fac-4b65-9db1-745c2ae65f3a");
        for spelling in [
            "43f4cb08-8fac-4b65-9db1-745c2ae65f3a",
            "%7B43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A%7D",
            "43f4cb088fac4b659db1745c2ae65f3a",
            "%2043f4cb08-8fac-4b65-9db1-745c2ae65f3a",
        ] {
            let read = check_request(&format!("/api/v1/correlations/{spelling}"), now());
            assert_eq!(read.ok(), id.map(ApiRequest::Correlation), "{spelling}");
        }
        for refused in
            ["not-a-guid", "%FF%FE", "43f4cb08-8fac-4b65-9db1-745c2ae65f3a%", "%7B43f4cb08-8fac-4b65-9db1-745c2ae65f3a"]
        {
            assert!(check_request(&format!("/api/v1/correlations/{refused}"), now()).is_err(), "{refused}");
        }
        assert_eq!(check_request("/api/v1/openapi.json?anything", now()), Ok(ApiRequest::OpenApi));
        let summary = check_request("/api/v1/errors/summary?from=1795687200&category=throttling", now());
        assert_eq!(
            summary,
            Ok(ApiRequest::Summary {
                range: Range { from: 1_795_687_200, to: 1_795_773_600 },
                filter: Filter { category: Some("throttling".into()), ..Filter::default() },
            })
        );
        for missing in
            ["/api/v1/correlations/", "/api/v1/correlations/a/b", "/api/v1/errors/summary/", "/api/v2/x", "/"]
        {
            assert_eq!(check_request(missing, now()), Err(no_such_endpoint().message), "{missing}");
        }
        assert!(check_request("/api/v1/errors/summary?step=5m", now()).is_err());
        assert!(check_request("/api/v1/errors/timeseries?from=%FF", now()).is_err());
    }

    #[test]
    fn percent_escapes_decode_as_in_a_path_parameter() {
        assert_eq!(percent_decode("%7Bab%7d"), Some("{ab}".to_owned()));
        assert_eq!(percent_decode("100%"), Some("100%".to_owned()));
        assert_eq!(percent_decode("%zz%4"), Some("%zz%4".to_owned()));
        assert_eq!(percent_decode("%C3%A9"), Some("é".to_owned()));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn a_series_never_has_more_buckets_than_promised() {
        // A range that starts between two bucket boundaries touches one bucket more than its
        // length in steps: 1500 hours from 10:01 reach into a 1501st hour.
        let from = 1_795_773_660;
        let refused = format!("/api/v1/errors/timeseries?from={from}&to={}&step=1h", from + 1_500 * 3_600);
        assert!(check_request(&refused, now()).is_err());
        let accepted = format!("/api/v1/errors/timeseries?from={from}&to={}&step=1h", from + 1_499 * 3_600);
        let Ok(ApiRequest::Timeseries { range, step, .. }) = check_request(&accepted, now()) else {
            panic!("{accepted} is accepted");
        };
        assert_eq!(bucket_starts(range, step).len(), MAX_POINTS as usize);
        // Without a step, the default keeps to its own bound the same way.
        let default = format!("/api/v1/errors/timeseries?from={from}&to={}", from + 360 * 300);
        let Ok(ApiRequest::Timeseries { range, step, .. }) = check_request(&default, now()) else {
            panic!("{default} is accepted");
        };
        assert_eq!(step, 900, "five minutes would give 361 buckets");
        assert!(bucket_starts(range, step).len() <= DEFAULT_MAX_POINTS as usize);
    }

    #[test]
    fn refusals_quote_only_part_of_a_huge_value() {
        let name = "x".repeat(20_000);
        for target in [
            format!("/api/v1/errors/summary?{name}=1"),
            format!("/api/v1/errors/summary?from={}", "%01".repeat(5_000)),
            format!("/api/v1/correlations/{}", "%01".repeat(5_000)),
            format!("/api/v1/errors/timeseries?step={name}"),
        ] {
            let message = check_request(&target, now()).err().unwrap_or_default();
            assert!((1..=MAX_MESSAGE_CHARS).contains(&message.chars().count()), "{message}");
        }
    }

    #[test]
    fn ranges_are_bounded() {
        let now = now();
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
