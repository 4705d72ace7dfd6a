//! Any request target through the API's request reading, as `errwatch serve` runs it before
//! asking ClickHouse: no panic, and what is accepted keeps the promises the handlers and the
//! OpenAPI document rely on; what is refused says why, briefly.
//!
//! Run by hand: `scripts/fuzz.sh` (see there).

#![no_main]

use errwatch::http::api::{bucket_starts, check_request, ApiRequest, MAX_MESSAGE_CHARS, MAX_POINTS, MAX_RANGE_DAYS};
use errwatch::store::{Filter, Range};
use errwatch::timestamp::Timestamp;
use libfuzzer_sys::fuzz_target;

/// A fixed clock, so that a finding replays: 2026-11-27T10:00:00Z.
const NOW_MILLIS: i64 = 1_795_773_600_000;

fuzz_target!(|data: &[u8]| {
    // A request line is text; hyper refuses anything else before the router sees it.
    let Ok(target) = std::str::from_utf8(data) else { return };
    let Some(now) = Timestamp::from_unix_millis(NOW_MILLIS) else { return };
    match check_request(target, now) {
        Ok(ApiRequest::Correlation(id)) => {
            // The canonical spelling of an accepted id is accepted as the same id.
            let again = check_request(&format!("/api/v1/correlations/{id}"), now);
            assert_eq!(again, Ok(ApiRequest::Correlation(id)), "{target:?}");
        }
        Ok(ApiRequest::Summary { range, filter }) => {
            check_range(range, target);
            check_filter(&filter, target);
        }
        Ok(ApiRequest::Timeseries { range, step, filter }) => {
            check_range(range, target);
            check_filter(&filter, target);
            assert!((60..=86_400).contains(&step) && step.is_multiple_of(60), "step {step} for {target:?}");
            let times = bucket_starts(range, step);
            assert!(!times.is_empty() && times.len() <= MAX_POINTS as usize, "{} buckets for {target:?}", times.len());
            let (Some(&first), Some(&last)) = (times.first(), times.last()) else { return };
            let covered = u64::from(last) + u64::from(step) >= u64::from(range.to);
            assert!(first <= range.from && last < range.to && covered, "buckets miss part of {target:?}");
            assert!(times.iter().all(|start| start.is_multiple_of(step)), "unaligned buckets for {target:?}");
        }
        Ok(ApiRequest::OpenApi) => {}
        Err(message) => {
            assert!(!message.is_empty(), "a refusal says why: {target:?}");
            let length = message.chars().count();
            assert!(length <= MAX_MESSAGE_CHARS, "a refusal of {length} characters for {target:?}");
        }
    }
});

fn check_range(range: Range, target: &str) {
    assert!(range.from < range.to, "empty range for {target:?}");
    assert!(range.from.is_multiple_of(60) && range.to.is_multiple_of(60), "range not in whole minutes for {target:?}");
    assert!(range.to - range.from <= MAX_RANGE_DAYS * 86_400, "range too long for {target:?}");
}

fn check_filter(filter: &Filter, target: &str) {
    for value in [&filter.category, &filter.service, &filter.code].into_iter().flatten() {
        assert!((1..=200).contains(&value.len()), "filter of {} bytes for {target:?}", value.len());
    }
}
