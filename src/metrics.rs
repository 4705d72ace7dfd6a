//! Every Prometheus metric errwatch exports, declared in one place.
//!
//! The one module that names the `prometheus` crate. Labels are bounded so that no input can
//! grow the number of series: the code is one of Defender's known codes or `other` (an error
//! without a code is named by its status, `HTTP 503`, as everywhere else), the
//! service is one of the first `service_cap` names seen or `other`, the status is a number
//! between 100 and 599 or `other`. Correlation ids, messages and URLs never become labels.
//! Counters are never removed while the process lives; only the lag of a partition that went
//! to another consumer is.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::classify::{ApiError, Classification};
use crate::codes;
use crate::store::{self, FailureKind, SinkObserver};

/// The service names kept as labels by default; later names count as `other`.
pub const DEFAULT_SERVICE_CAP: usize = 50;

/// The label for a value that is not kept as its own label.
const OTHER: &str = "other";

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    api_errors: IntCounterVec,
    api_calls: IntCounterVec,
    retry_after: Histogram,
    records: IntCounterVec,
    records_error: IntCounter,
    records_not_error: IntCounter,
    records_quarantined: IntCounter,
    sink_rows: IntCounterVec,
    sink_inserts: IntCounterVec,
    sink_insert_failures: IntCounterVec,
    sink_insert_duration: HistogramVec,
    sink_insert_rows: HistogramVec,
    end_to_end_latency: Histogram,
    newest_stored_event: Gauge,
    last_stored: Gauge,
    clickhouse_up: IntGauge,
    consumer_lag: IntGaugeVec,
    partitions_assigned: IntGauge,
    catching_up: IntGauge,
    services: ServiceLabels,
}

/// Why an insert failed, as a label.
fn failure_label(failure: FailureKind) -> &'static str {
    match failure {
        FailureKind::Unreachable => "unreachable",
        FailureKind::Transient => "transient",
        FailureKind::Rejected => "rejected",
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(DEFAULT_SERVICE_CAP)
    }
}

impl Metrics {
    /// A fresh set of metrics in its own registry; `service_cap` bounds the service label.
    pub fn new(service_cap: usize) -> Metrics {
        let registry = Registry::new();
        let records = counter_vec("errwatch_records_total", "Records consumed, by outcome", &["outcome"]);
        let metrics = Metrics {
            records_error: records.with_label_values(&["error"]),
            records_not_error: records.with_label_values(&["not_error"]),
            records_quarantined: records.with_label_values(&["quarantined"]),
            api_errors: counter_vec(
                "errwatch_api_errors_total",
                "API errors found in client records",
                &["service", "code", "http_status", "category"],
            ),
            api_calls: counter_vec(
                "errwatch_api_calls_total",
                "Records that carry an HTTP status, successful calls included, by status class",
                &["service", "status_class"],
            ),
            retry_after: histogram(
                "errwatch_retry_after_seconds",
                "Retry-After values of throttled calls",
                vec![1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0],
            ),
            records,
            sink_rows: counter_vec("errwatch_sink_rows_total", "Rows stored in ClickHouse", &["table"]),
            sink_inserts: counter_vec("errwatch_sink_inserts_total", "Successful inserts into ClickHouse", &["table"]),
            sink_insert_failures: counter_vec(
                "errwatch_sink_insert_failures_total",
                "Failed insert attempts, by kind: unreachable and transient ones are retried, rejected ones stop",
                &["table", "kind"],
            ),
            sink_insert_duration: HistogramVec::new(
                HistogramOpts::new("errwatch_sink_insert_duration_seconds", "Duration of successful inserts")
                    .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["table"],
            )
            .unwrap_or_else(|_| unreachable_metric()),
            // Powers of four up to about a million: whether inserts are as large as ClickHouse
            // likes them (thousands of rows and more) shows at a glance.
            sink_insert_rows: HistogramVec::new(
                HistogramOpts::new("errwatch_sink_insert_rows", "Rows per successful insert").buckets(
                    (0..11).map(|power| 4f64.powi(power)).collect(),
                ),
                &["table"],
            )
            .unwrap_or_else(|_| unreachable_metric()),
            end_to_end_latency: histogram(
                "errwatch_end_to_end_latency_seconds",
                "From an error's event time to its row stored in ClickHouse",
                vec![0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0],
            ),
            newest_stored_event: Gauge::new(
                "errwatch_newest_stored_event_timestamp_seconds",
                "Event time of the newest error stored, in Unix seconds",
            )
            .unwrap_or_else(|_| unreachable_metric()),
            last_stored: Gauge::new(
                "errwatch_last_stored_timestamp_seconds",
                "When the sink last confirmed records as handled (errors or not), in Unix seconds",
            )
            .unwrap_or_else(|_| unreachable_metric()),
            clickhouse_up: IntGauge::new(
                "errwatch_clickhouse_up",
                "1 when the last request to ClickHouse succeeded, else 0",
            )
            .unwrap_or_else(|_| unreachable_metric()),
            consumer_lag: IntGaugeVec::new(
                Opts::new("errwatch_consumer_lag_messages", "Messages behind the end of each assigned partition"),
                &["topic", "partition"],
            )
            .unwrap_or_else(|_| unreachable_metric()),
            partitions_assigned: IntGauge::new("errwatch_partitions_assigned", "Kafka partitions this process holds")
                .unwrap_or_else(|_| unreachable_metric()),
            catching_up: IntGauge::new(
                "errwatch_catching_up",
                "1 while reading a backlog (records over 2 minutes old, and for a minute after): error rates then reflect the past",
            )
            .unwrap_or_else(|_| unreachable_metric()),
            services: ServiceLabels::new(service_cap),
            registry,
        };
        let build_info = IntGaugeVec::new(
            Opts::new("errwatch_build_info", "Always 1; the labels tell the version running"),
            &["version"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        // Series that exist from the start read as zero rather than "no data" on a healthy
        // instance, and rate() over them works from the first failure on.
        for table in ["api_errors", "quarantine"] {
            metrics.sink_rows.with_label_values(&[table]);
            metrics.sink_inserts.with_label_values(&[table]);
            for failure in FailureKind::ALL {
                metrics.sink_insert_failures.with_label_values(&[table, failure_label(failure)]);
            }
        }
        let collectors: [Box<dyn prometheus::core::Collector>; 18] = [
            // The standard process_* series (memory, CPU, open files, threads, start time),
            // read from /proc at each scrape.
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
            Box::new(build_info),
            Box::new(metrics.api_errors.clone()),
            Box::new(metrics.api_calls.clone()),
            Box::new(metrics.retry_after.clone()),
            Box::new(metrics.records.clone()),
            Box::new(metrics.sink_rows.clone()),
            Box::new(metrics.sink_inserts.clone()),
            Box::new(metrics.sink_insert_failures.clone()),
            Box::new(metrics.sink_insert_duration.clone()),
            Box::new(metrics.sink_insert_rows.clone()),
            Box::new(metrics.end_to_end_latency.clone()),
            Box::new(metrics.newest_stored_event.clone()),
            Box::new(metrics.last_stored.clone()),
            Box::new(metrics.clickhouse_up.clone()),
            Box::new(metrics.consumer_lag.clone()),
            Box::new(metrics.partitions_assigned.clone()),
            Box::new(metrics.catching_up.clone()),
        ];
        for collector in collectors {
            if let Err(error) = metrics.registry.register(collector) {
                tracing::error!(%error, "cannot register a metric");
            }
        }
        metrics
    }

    /// Counts one consumed record by what it turned out to be.
    pub fn observe(&self, classification: &Classification) {
        match classification {
            Classification::ApiError(error) => {
                self.records_error.inc();
                self.observe_error(error);
            }
            Classification::NotAnError { http_status, service, .. } => {
                self.records_not_error.inc();
                if let Some(status) = http_status {
                    let service = self.services.label(service.as_deref());
                    self.api_calls.with_label_values(&[service.as_ref(), status_class(*status)]).inc();
                }
            }
            Classification::Unreadable(_) => self.records_quarantined.inc(),
        }
    }

    fn observe_error(&self, error: &ApiError) {
        let service = self.services.label(error.context.service.as_deref());
        let status = status_label(error.http_status);
        let code = error_code_label(error);
        self.api_errors
            .with_label_values(&[service.as_ref(), code.as_ref(), status.as_ref(), error.category.as_str()])
            .inc();
        if let Some(status) = error.http_status {
            self.api_calls.with_label_values(&[service.as_ref(), status_class(status)]).inc();
        }
        if let Some(seconds) = error.retry_after_seconds {
            self.retry_after.observe(seconds);
        }
    }

    pub fn set_clickhouse_up(&self, up: bool) {
        self.clickhouse_up.set(i64::from(up));
    }

    /// The lag of every assigned partition; partitions not listed are no longer held.
    pub fn set_lags(&self, lags: &[(String, i32, i64)], catching_up: bool) {
        self.consumer_lag.reset();
        for (topic, partition, lag) in lags {
            self.consumer_lag.with_label_values(&[topic, &partition.to_string()]).set(*lag);
        }
        self.catching_up.set(i64::from(catching_up));
    }

    pub fn set_partitions_assigned(&self, partitions: usize) {
        self.partitions_assigned.set(i64::try_from(partitions).unwrap_or(i64::MAX));
    }

    pub fn partitions_assigned(&self) -> i64 {
        self.partitions_assigned.get()
    }

    /// The figures a person watching wants, read from the metrics themselves.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for family in self.registry.gather() {
            for metric in family.get_metric() {
                let label =
                    |name: &str| metric.get_label().iter().find(|pair| pair.name() == name).map(|pair| pair.value());
                let counter = metric.get_counter().get_value() as u64;
                match family.name() {
                    "errwatch_records_total" => snapshot.records += counter,
                    "errwatch_api_errors_total" => {
                        let category = label("category").unwrap_or_default().to_owned();
                        *snapshot.errors_by_category.entry(category).or_default() += counter;
                        if label("http_status") == Some("429") {
                            snapshot.throttled += counter;
                        }
                    }
                    "errwatch_api_calls_total" => snapshot.calls += counter,
                    "errwatch_consumer_lag_messages" => snapshot.lag += metric.get_gauge().get_value() as i64,
                    "errwatch_newest_stored_event_timestamp_seconds" => {
                        snapshot.newest_stored_event = Some(metric.get_gauge().get_value()).filter(|time| *time > 0.0)
                    }
                    _ => {}
                }
            }
        }
        snapshot
    }

    /// Every metric in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The sink's inserts, failures and freshness, as counters, histograms and gauges.
impl SinkObserver for Metrics {
    fn inserted(&self, table: &str, rows: usize, took: Option<Duration>) {
        self.sink_inserts.with_label_values(&[table]).inc();
        self.sink_rows.with_label_values(&[table]).inc_by(rows as u64);
        self.sink_insert_rows.with_label_values(&[table]).observe(rows as f64);
        if let Some(took) = took {
            self.sink_insert_duration.with_label_values(&[table]).observe(took.as_secs_f64());
        }
        self.clickhouse_up.set(1);
    }

    fn insert_failed(&self, table: &str, failure: FailureKind) {
        self.sink_insert_failures.with_label_values(&[table, failure_label(failure)]).inc();
        if failure != FailureKind::Rejected {
            self.clickhouse_up.set(0);
        }
    }

    fn stored(&self, now: f64, event_times: &[f64]) {
        let mut newest = self.newest_stored_event.get();
        for event_time in event_times {
            self.end_to_end_latency.observe((now - event_time).max(0.0));
            newest = newest.max(*event_time);
        }
        self.newest_stored_event.set(newest);
        self.last_stored.set(now);
    }
}

/// Totals since the start, for the terminal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Records consumed, whatever they were.
    pub records: u64,
    pub errors_by_category: std::collections::BTreeMap<String, u64>,
    /// Records that carry an HTTP status, and those answered 429.
    pub calls: u64,
    pub throttled: u64,
    /// Messages behind the end of the assigned partitions.
    pub lag: i64,
    /// Event time of the newest error stored, in Unix seconds.
    pub newest_stored_event: Option<f64>,
}

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable_metric())
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).unwrap_or_else(|_| unreachable_metric())
}

/// Metric definitions are constants: the crate only refuses malformed names, labels and
/// buckets, which the unit tests below would catch.
#[allow(clippy::panic)]
fn unreachable_metric() -> ! {
    panic!("a metric definition is malformed")
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => OTHER,
    }
}

/// A known code as itself, any other code as `other`, and an error without a code named by its
/// status as everywhere else (`HTTP 503`), for statuses the status label keeps: at most 500
/// more values.
fn error_code_label(error: &ApiError) -> Cow<'_, str> {
    match (error.code.as_deref().filter(|code| !code.is_empty()), error.http_status) {
        (Some(code), _) if codes::is_known(code) => Cow::Borrowed(code),
        (Some(_), _) => Cow::Borrowed(OTHER),
        (None, Some(status @ 100..=599)) => store::code_label("", status),
        (None, Some(_)) => Cow::Borrowed(OTHER),
        (None, None) => store::code_label("", 0),
    }
}

fn status_label(status: Option<u16>) -> Cow<'static, str> {
    match status {
        Some(status @ 100..=599) => Cow::Owned(status.to_string()),
        Some(_) => Cow::Borrowed(OTHER),
        None => Cow::Borrowed("none"),
    }
}

/// The first `cap` service names seen keep their own label.
#[derive(Debug)]
struct ServiceLabels {
    cap: usize,
    seen: Mutex<HashSet<String>>,
}

impl ServiceLabels {
    fn new(cap: usize) -> ServiceLabels {
        ServiceLabels { cap, seen: Mutex::new(HashSet::new()) }
    }

    fn label<'a>(&self, service: Option<&'a str>) -> Cow<'a, str> {
        let Some(service) = service.filter(|name| !name.is_empty()) else {
            return Cow::Borrowed("unknown");
        };
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.contains(service) {
            return Cow::Borrowed(service);
        }
        // Names longer than a label should be are not worth a series of their own.
        if seen.len() < self.cap && service.len() <= 64 {
            seen.insert(service.to_owned());
            return Cow::Borrowed(service);
        }
        Cow::Borrowed(OTHER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Limits;

    fn classify(record: &str) -> Classification {
        crate::classify::classify(record.as_bytes(), &Limits::default())
    }

    /// The value of one sample line of the text format, by its name and labels as written.
    fn sample(metrics: &Metrics, series: &str) -> Option<f64> {
        metrics.render().lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn the_standard_process_series_are_exported() {
        let rendered = Metrics::new(4).render();
        let value = |series: &str| {
            rendered
                .lines()
                .find(|line| line.split(' ').next() == Some(series))
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|value| value.parse::<f64>().ok())
        };
        for series in
            ["process_resident_memory_bytes", "process_open_fds", "process_threads", "process_start_time_seconds"]
        {
            assert!(value(series).is_some_and(|value| value > 0.0), "{series} missing or zero in:\n{rendered}");
        }
        // A process this young may not have used a whole tick of CPU yet.
        assert!(value("process_cpu_seconds_total").is_some(), "{rendered}");
    }

    #[test]
    fn errors_and_calls_are_counted_with_bounded_labels() {
        let metrics = Metrics::new(2);
        let throttled = r#"{"service":"alpha","status":429,"retry_after":12,"error":{"code":"TooManyRequests","message":"m","target":"43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}"#;
        metrics.observe(&classify(throttled));
        metrics.observe(&classify(throttled));
        metrics.observe(&classify(r#"{"service":"beta","status":200,"msg":"GET /api/machines ok"}"#));
        metrics.observe(&classify(
            r#"{"service":"gamma","error":{"code":"SomethingNobodyKnows","message":"m"},"status":400}"#,
        ));
        metrics.observe(&crate::classify::classify(b"{\"error\xff\": 1}", &Limits::default()));
        assert_eq!(
            sample(
                &metrics,
                r#"errwatch_api_errors_total{category="throttling",code="TooManyRequests",http_status="429",service="alpha"}"#
            ),
            Some(2.0)
        );
        assert_eq!(sample(&metrics, r#"errwatch_api_calls_total{service="alpha",status_class="4xx"}"#), Some(2.0));
        assert_eq!(sample(&metrics, r#"errwatch_api_calls_total{service="beta",status_class="2xx"}"#), Some(1.0));
        // The third service is past the cap, and its code is not Defender's.
        assert_eq!(
            sample(
                &metrics,
                r#"errwatch_api_errors_total{category="bad_request",code="other",http_status="400",service="other"}"#
            ),
            Some(1.0)
        );
        assert_eq!(sample(&metrics, r#"errwatch_records_total{outcome="error"}"#), Some(3.0));
        assert_eq!(sample(&metrics, r#"errwatch_records_total{outcome="not_error"}"#), Some(1.0));
        assert_eq!(sample(&metrics, r#"errwatch_records_total{outcome="quarantined"}"#), Some(1.0));
        assert_eq!(sample(&metrics, "errwatch_retry_after_seconds_sum"), Some(24.0));
    }

    #[test]
    fn an_error_without_a_code_is_labelled_by_its_status() {
        let metrics = Metrics::new(DEFAULT_SERVICE_CAP);
        metrics.observe(&classify(r#"{"service":"alpha","status":503,"msg":"POST /api/machines/x/isolate failed"}"#));
        assert_eq!(
            sample(
                &metrics,
                r#"errwatch_api_errors_total{category="server",code="HTTP 503",http_status="503",service="alpha"}"#
            ),
            Some(1.0),
            "{}",
            metrics.render()
        );
    }

    #[test]
    fn unknown_codes_and_services_do_not_grow_the_series() {
        let metrics = Metrics::new(DEFAULT_SERVICE_CAP);
        for n in 0..100_000 {
            let record = format!(r#"{{"service":"svc{n}","status":503,"error":{{"code":"Code{n}","message":"m"}}}}"#);
            metrics.observe(&classify(&record));
        }
        let series = metrics.render().lines().filter(|line| line.starts_with("errwatch_api_errors_total{")).count();
        assert_eq!(series, DEFAULT_SERVICE_CAP + 1);
    }

    #[test]
    fn lag_of_a_partition_given_away_disappears() {
        let metrics = Metrics::default();
        metrics.set_lags(&[("logs".into(), 0, 5), ("logs".into(), 1, 7)], true);
        assert_eq!(sample(&metrics, r#"errwatch_consumer_lag_messages{partition="1",topic="logs"}"#), Some(7.0));
        assert_eq!(sample(&metrics, "errwatch_catching_up"), Some(1.0));
        metrics.set_lags(&[("logs".into(), 0, 0)], false);
        assert_eq!(sample(&metrics, r#"errwatch_consumer_lag_messages{partition="1",topic="logs"}"#), None);
        assert_eq!(sample(&metrics, "errwatch_catching_up"), Some(0.0));
    }

    #[test]
    fn the_sink_is_observed_under_its_labels() {
        let metrics = Metrics::default();
        let check = |series: &str, value: f64| assert_eq!(sample(&metrics, series), Some(value), "{series}");
        for table in ["api_errors", "quarantine"] {
            for kind in ["unreachable", "transient", "rejected"] {
                check(&format!(r#"errwatch_sink_insert_failures_total{{kind="{kind}",table="{table}"}}"#), 0.0);
            }
        }
        metrics.insert_failed("api_errors", FailureKind::Unreachable);
        check("errwatch_clickhouse_up", 0.0);
        metrics.insert_failed("quarantine", FailureKind::Transient);
        metrics.inserted("quarantine", 3, None);
        check("errwatch_clickhouse_up", 1.0);
        metrics.insert_failed("quarantine", FailureKind::Rejected);
        check("errwatch_clickhouse_up", 1.0);
        check(r#"errwatch_sink_insert_failures_total{kind="unreachable",table="api_errors"}"#, 1.0);
        check(r#"errwatch_sink_insert_failures_total{kind="transient",table="quarantine"}"#, 1.0);
        check(r#"errwatch_sink_insert_failures_total{kind="rejected",table="quarantine"}"#, 1.0);
        check(r#"errwatch_sink_rows_total{table="quarantine"}"#, 3.0);
        check(r#"errwatch_sink_inserts_total{table="quarantine"}"#, 1.0);
        // Found stored after a broken connection: no duration to observe.
        assert_eq!(sample(&metrics, r#"errwatch_sink_insert_duration_seconds_count{table="quarantine"}"#), None);
    }

    #[test]
    fn every_metric_is_exported_with_its_help() {
        let metrics = Metrics::default();
        metrics.inserted("api_errors", 10, Some(Duration::from_millis(20)));
        metrics.stored(1_000.0, &[990.0]);
        let text = metrics.render();
        for name in [
            "errwatch_build_info",
            "errwatch_sink_rows_total",
            "errwatch_sink_inserts_total",
            "errwatch_sink_insert_duration_seconds",
            "errwatch_sink_insert_rows",
            "errwatch_end_to_end_latency_seconds",
            "errwatch_newest_stored_event_timestamp_seconds",
            "errwatch_last_stored_timestamp_seconds",
            "errwatch_clickhouse_up",
            "errwatch_partitions_assigned",
            "errwatch_catching_up",
            "errwatch_records_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} missing from\n{text}");
        }
        assert_eq!(sample(&metrics, "errwatch_newest_stored_event_timestamp_seconds"), Some(990.0));
        assert_eq!(sample(&metrics, r#"errwatch_sink_insert_rows_bucket{table="api_errors",le="4"}"#), Some(0.0));
        assert_eq!(sample(&metrics, r#"errwatch_sink_insert_rows_bucket{table="api_errors",le="16"}"#), Some(1.0));
    }
}
