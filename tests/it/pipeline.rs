//! `errwatch run` end to end: the mock Kafka cluster, errwatch as a child process, a real
//! ClickHouse. Every test waits for conditions with a deadline; none relies on timing luck.

use std::time::Duration;

use errwatch::{classify, Classification, Limits};
use serde_json::Value;

use crate::clickhouse::{runtime, scalar, TestDatabase};
use crate::kafka::Cluster;
use crate::process::{sample, wait_until, Errwatch};

const PARTITIONS: i32 = 6;
const CORPUS: &str = include_str!("../data/records.jsonl");
const DEADLINE: Duration = Duration::from_secs(90);

/// A realistic mix: corpus errors, ordinary lines, successful calls, and in the last partition
/// records that cannot be read. `first` numbers the records so that batches differ.
fn mixed_records(first: usize, count: usize) -> Vec<(i32, Vec<u8>)> {
    let errors: Vec<String> = CORPUS
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| entry["expect"]["envelope"] == true)
        .map(|entry| entry["input"].as_str().unwrap().to_owned())
        .collect();
    (first..first + count)
        .map(|index| {
            let partition = (index % PARTITIONS as usize) as i32;
            let payload = match index % 5 {
                0 | 1 => errors[index % errors.len()].clone().into_bytes(),
                2 => format!("2026-11-26 10:00:10 INFO fetched {index} alerts in 130 ms").into_bytes(),
                3 => format!(r#"{{"ts":"2026-11-26T10:00:09Z","msg":"GET /api/machines","status":200,"n":{index}}}"#)
                    .into_bytes(),
                _ if partition == PARTITIONS - 1 => match (index / 30) % 2 {
                    0 => b"bad \xff\xfe bytes (500)".to_vec(),
                    _ => format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
                },
                _ => format!(r#"{{"level":"error","status":503,"msg":"upstream {index}"}}"#).into_bytes(),
            };
            (partition, payload)
        })
        .collect()
}

/// The errors and unreadable records among `records`, as the classifier sees them.
fn expected(records: &[(i32, Vec<u8>)]) -> (u64, u64) {
    records.iter().fold((0, 0), |(errors, unreadable), (_, payload)| match classify(payload, &Limits::default()) {
        Classification::ApiError(_) => (errors + 1, unreadable),
        Classification::Unreadable(_) => (errors, unreadable + 1),
        Classification::NotAnError { .. } => (errors, unreadable),
    })
}

fn counts(database: &TestDatabase) -> (u64, u64) {
    runtime().block_on(async {
        let settings = database.settings();
        let errors: u64 = scalar(&settings, "SELECT count() FROM api_errors").await;
        let quarantined: u64 = scalar(&settings, "SELECT count() FROM quarantine").await;
        (errors, quarantined)
    })
}

/// Every (partition, offset) is stored at most once, and the roll-up agrees with the raw table.
fn check_exactly_once(database: &TestDatabase) {
    runtime().block_on(async {
        let settings = database.settings();
        let duplicates: u64 = scalar(
            &settings,
            "SELECT count() FROM (SELECT source_partition, source_offset, count() AS n FROM api_errors GROUP BY source_partition, source_offset HAVING n > 1)",
        )
        .await;
        assert_eq!(duplicates, 0, "some positions are stored twice");
        let quarantine_duplicates: u64 = scalar(
            &settings,
            "SELECT count() FROM (SELECT source_partition, source_offset, count() AS n FROM quarantine GROUP BY source_partition, source_offset HAVING n > 1)",
        )
        .await;
        assert_eq!(quarantine_duplicates, 0, "some quarantined positions are stored twice");
        // The views are filled by the same insert, right after the table: wait for them to catch up.
        let started = std::time::Instant::now();
        loop {
            let raw: u64 = scalar(&settings, "SELECT count() FROM api_errors").await;
            let rolled: u64 = scalar(&settings, "SELECT sum(events) FROM api_errors_per_minute").await;
            if raw == rolled {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "roll-up totals {rolled} never reached the raw count {raw}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

fn wait_for_counts(database: &TestDatabase, want: (u64, u64), process: Option<&Errwatch>) {
    let mut last = (0, 0);
    let started = std::time::Instant::now();
    while last != want {
        if started.elapsed() > DEADLINE {
            panic!(
                "ClickHouse holds {last:?} (errors, quarantined), expected {want:?}; errwatch log:\n{}",
                process.map(Errwatch::log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        last = counts(database);
        assert!(last.0 <= want.0 && last.1 <= want.1, "more rows than records: {last:?} > {want:?}");
    }
}

#[test]
fn every_record_is_stored_once_and_a_restart_stores_nothing_twice() {
    let topic = "client-logs";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_exact");
    let producer = cluster.producer();
    let mut records = mixed_records(0, 1200);
    // A 3 MB record in the poisoned partition: quarantined, the partition keeps flowing. (The
    // mock keeps only about 5 MiB per partition, so a 5 MB record would push older records out;
    // the classifier's own tests cover 5 MB.)
    records.push((PARTITIONS - 1, vec![b'x'; 3 * 1024 * 1024]));
    records.extend(mixed_records(1200, 60));
    cluster.produce(&producer, topic, &records);
    let want = expected(&records);
    assert!(want.0 > 500 && want.1 >= 3, "the mix has errors and poison: {want:?}");

    let errwatch =
        Errwatch::start(&cluster, &database, topic, "exact", &["--kafka-option", "fetch.message.max.bytes=8000000"]);
    wait_for_counts(&database, want, Some(&errwatch));
    check_exactly_once(&database);

    // The metrics count what was stored, and the process is ready: it holds every partition.
    let metrics = errwatch.get("/metrics").body;
    let metric = |series: &str| sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"));
    assert_eq!(metric(r#"errwatch_records_total{outcome="error"}"#), want.0 as f64);
    assert_eq!(metric(r#"errwatch_records_total{outcome="quarantined"}"#), want.1 as f64);
    assert_eq!(metric(r#"errwatch_sink_rows_total{table="api_errors"}"#), want.0 as f64);
    assert_eq!(metric(r#"errwatch_sink_rows_total{table="quarantine"}"#), want.1 as f64);
    assert_eq!(metric("errwatch_partitions_assigned"), f64::from(PARTITIONS), "{metrics}");
    assert!(metric(r#"errwatch_api_calls_total{service="unknown",status_class="2xx"}"#) > 0.0, "{metrics}");
    let ready = errwatch.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["partitions_assigned"], PARTITIONS);

    // Graceful shutdown while idle: exit 0, offsets committed to the end.
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "exit status after SIGTERM; log:\n{log}");
    let mut ends = vec![0i64; PARTITIONS as usize];
    for (partition, _) in &records {
        ends[*partition as usize] += 1;
    }
    assert_eq!(cluster.committed("exact", topic, PARTITIONS), ends, "committed offsets reach the end");

    // Restarted: it reads on from there, and the new records are stored once too.
    let more = mixed_records(5000, 120);
    let errwatch = Errwatch::start(&cluster, &database, topic, "exact", &[]);
    errwatch.wait_for_log("partition assigned", PARTITIONS as usize, DEADLINE);
    cluster.produce(&producer, topic, &more);
    let more_want = expected(&more);
    wait_for_counts(&database, (want.0 + more_want.0, want.1 + more_want.1), Some(&errwatch));
    check_exactly_once(&database);
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn crashes_lose_nothing_and_store_nothing_twice() {
    let topic = "crashy";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_crash");
    let producer = cluster.producer();
    let mut all = Vec::new();
    let mut errwatch = Errwatch::start(&cluster, &database, topic, "crash", &["--batch-rows", "50"]);
    for round in 0..3 {
        let batch = mixed_records(round * 1000, 1000);
        cluster.produce(&producer, topic, &batch);
        all.extend(batch);
        let want = expected(&all);
        // Kill it somewhere in the middle of storing this round, then start it again.
        let halfway = want.0 - expected(&all[all.len() - 1000..]).0 / 2;
        wait_until("errwatch to store part of the round", DEADLINE, || counts(&database).0 >= halfway);
        errwatch.kill();
        errwatch = Errwatch::start(&cluster, &database, topic, "crash", &["--batch-rows", "50"]);
    }
    wait_for_counts(&database, expected(&all), Some(&errwatch));
    check_exactly_once(&database);
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn a_clickhouse_outage_pauses_the_pipeline_and_loses_nothing() {
    let topic = "outage";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_outage");
    let producer = cluster.producer();
    let proxy_runtime = runtime();
    let switch = proxy_runtime.block_on(crate::proxy::Switch::start(&crate::clickhouse::url()));
    let errwatch = Errwatch::start_with_url(&cluster, &database, &switch.url(), topic, "outage", &[]);

    let first = mixed_records(0, 600);
    cluster.produce(&producer, topic, &first);
    wait_for_counts(&database, expected(&first), Some(&errwatch));

    // ClickHouse goes away, in the middle of whatever errwatch is doing, while records arrive.
    switch.set_down(true);
    let second = mixed_records(600, 3000);
    cluster.produce(&producer, topic, &second);
    errwatch.wait_for_log("insert failed, will retry", 4, DEADLINE);
    assert_eq!(counts(&database), expected(&first), "nothing new can be stored while ClickHouse is away");
    let not_ready = errwatch.get("/readyz");
    assert_eq!(not_ready.status, 503, "not ready while ClickHouse is away: {}", not_ready.body);
    assert_eq!(not_ready.json()["ready"], false);
    let metrics = errwatch.get("/metrics").body;
    assert_eq!(sample(&metrics, "errwatch_clickhouse_up"), Some(0.0), "{metrics}");
    assert!(sample(&metrics, r#"errwatch_sink_insert_failures_total{kind="unreachable",table="api_errors"}"#)
        .is_some_and(|failures| failures >= 1.0));
    let resident = errwatch.resident_kib();
    assert!(resident < 300 * 1024, "memory stays bounded during the outage: {resident} KiB");

    switch.set_down(false);
    let mut all = first;
    all.extend(second);
    wait_for_counts(&database, expected(&all), Some(&errwatch));
    check_exactly_once(&database);
    wait_until("errwatch to be ready again", DEADLINE, || errwatch.get("/readyz").status == 200);
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn broker_faults_are_survived() {
    let topic = "faulty";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_faults");
    let producer = cluster.producer();
    let errwatch = Errwatch::start(&cluster, &database, topic, "faults", &[]);
    let mut all = mixed_records(0, 300);
    cluster.produce(&producer, topic, &all);
    wait_for_counts(&database, expected(&all), Some(&errwatch));

    // Failing fetches and commits, and slow round trips.
    cluster.fetch_errors(20);
    cluster.commit_errors(3);
    cluster.round_trip(Duration::from_millis(100));
    let batch = mixed_records(300, 600);
    cluster.produce(&producer, topic, &batch);
    all.extend(batch);
    wait_for_counts(&database, expected(&all), Some(&errwatch));

    // A broker goes down and comes back.
    cluster.round_trip(Duration::ZERO);
    cluster.broker_down(2);
    std::thread::sleep(Duration::from_secs(2));
    cluster.broker_up(2);
    let batch = mixed_records(900, 600);
    cluster.produce(&producer, topic, &batch);
    all.extend(batch);
    wait_for_counts(&database, expected(&all), Some(&errwatch));
    check_exactly_once(&database);
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn two_processes_share_the_partitions_and_one_takes_over() {
    let topic = "shared";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_scale");
    let producer = cluster.producer();
    let first = Errwatch::start(&cluster, &database, topic, "scale", &[]);
    first.wait_for_log("partition assigned", PARTITIONS as usize, DEADLINE);
    let second = Errwatch::start(&cluster, &database, topic, "scale", &[]);
    // The group rebalances: the first gives partitions up, each ends with a share.
    second.wait_for_log("partition assigned", 1, DEADLINE);
    first.wait_for_log("partitions revoked", 1, DEADLINE);

    let mut all = mixed_records(0, 1200);
    cluster.produce(&producer, topic, &all);
    wait_for_counts(&database, expected(&all), Some(&second));
    let first_log = first.log();
    let after_rebalance = &first_log[first_log.rfind("partitions revoked").unwrap()..];
    assert!(
        after_rebalance.contains("partition assigned"),
        "the first keeps a share after the rebalance:\n{first_log}"
    );

    // The first dies; the second takes its partitions over.
    first.kill();
    let batch = mixed_records(1200, 1200);
    cluster.produce(&producer, topic, &batch);
    all.extend(batch);
    wait_for_counts(&database, expected(&all), Some(&second));
    check_exactly_once(&database);
    let (code, log) = second.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn an_error_no_retry_can_fix_stops_the_pipeline_without_committing() {
    let topic = "mismatch";
    let cluster = Cluster::start(topic, PARTITIONS);
    let database = TestDatabase::new("pipeline_mismatch");
    let producer = cluster.producer();
    let errwatch = Errwatch::start(&cluster, &database, topic, "mismatch", &[]);
    // Someone changes the table under errwatch's feet: its rows no longer fit.
    runtime().block_on(async {
        clickhouse::Client::default()
            .with_url(crate::clickhouse::url())
            .with_database(&database.name)
            .query("ALTER TABLE api_errors DROP COLUMN raw_truncated")
            .execute()
            .await
            .unwrap();
    });
    let records = mixed_records(0, 300);
    cluster.produce(&producer, topic, &records);
    errwatch.wait_for_log("cannot store events", 1, DEADLINE);
    let (code, log) = errwatch.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(2), "it stops with an error of its own; log:\n{log}");
    assert!(log.contains("ClickHouse rejected the request"), "{log}");
    assert_eq!(counts(&database).0, 0);
    let committed = cluster.committed("mismatch", topic, PARTITIONS);
    assert!(committed.iter().all(|&offset| offset <= 0), "nothing past the failed batch is committed: {committed:?}");
}

/// Old partitions are dropped while the pipeline runs, not only when it starts.
#[test]
fn retention_is_applied_while_running() {
    use std::sync::Arc;

    use errwatch::metrics::Metrics;
    use errwatch::pipeline::{self, PipelineSettings, Retention};
    use errwatch::source::kafka::KafkaSettings;
    use errwatch::store::{SinkSettings, DEFAULT_RAW_CAP};

    let database = TestDatabase::new("retention_running");
    let store = runtime().block_on(database.migrated());
    let cluster = Cluster::start("retention-logs", 1);
    let settings = PipelineSettings {
        kafka: KafkaSettings {
            brokers: cluster.bootstrap.clone(),
            topics: vec!["retention-logs".to_owned()],
            group: "retention".to_owned(),
            extra: Vec::new(),
        },
        limits: Limits::default(),
        raw_cap: DEFAULT_RAW_CAP,
        sink: SinkSettings { max_delay: Duration::from_millis(100), ..SinkSettings::default() },
        queue_capacity: PipelineSettings::DEFAULT_QUEUE_CAPACITY,
        shutdown_timeout: Duration::from_secs(30),
        retention: Some(Retention { days: 30, every: Duration::from_millis(200) }),
    };
    let metrics = Arc::new(Metrics::default());
    let pipeline_runtime = runtime();
    let count = |sql: &str| runtime().block_on(scalar::<u64>(&database.settings(), sql));
    let old_rows = "SELECT count() FROM api_errors WHERE event_date < today() - 30";
    let recent_rows = "SELECT count() FROM api_errors WHERE event_date >= today() - 1";
    /// Raises the flag when dropped, also when a wait below fails: the scope joins the
    /// pipeline's thread before the failure is reported, and that thread stops on the flag.
    struct Stop<'a>(&'a errwatch::shutdown::Shutdown);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.raise();
        }
    }
    // Runs the pipeline of `settings` until `wait` returns, then stops it.
    let run_until = |settings: &PipelineSettings, wait: &dyn Fn()| {
        let shutdown = errwatch::shutdown::Shutdown::new();
        std::thread::scope(|scope| {
            let store = store.clone();
            let running = scope.spawn(|| pipeline::run(&pipeline_runtime, store, settings, &metrics, &shutdown));
            let stop = Stop(&shutdown);
            wait();
            drop(stop);
            running.join().unwrap().unwrap();
        });
    };

    // Without retention, a 40-day-old record is stored like a recent one: the drop below is
    // retention's doing, not a record turned away.
    let keeping = PipelineSettings { retention: None, ..settings.clone() };
    run_until(&keeping, &|| {
        let now = errwatch::timestamp::Timestamp::now().unix_millis() / 1000;
        let records: Vec<(i32, Vec<u8>)> = [40 * 86_400, 0]
            .iter()
            .map(|age| (0, format!(r#"{{"ts":{},"status":503}}"#, now - age).into_bytes()))
            .collect();
        cluster.produce(&cluster.producer(), "retention-logs", &records);
        wait_until("both records to be stored", DEADLINE, || count(old_rows) == 1 && count(recent_rows) == 1);
    });
    assert_eq!((count(old_rows), count(recent_rows)), (1, 1), "both stay stored without retention");

    // With retention, running, the old one goes and the recent one stays.
    run_until(&settings, &|| {
        wait_until("the old record to be dropped", DEADLINE, || count(old_rows) == 0);
    });
    assert_eq!(count(recent_rows), 1, "the recent record is kept");
}

/// Brokers that cannot be reached make librdkafka report many times a second; errwatch says
/// so once a period, with the count of what it held back, through its own log and librdkafka's.
#[test]
fn an_unreachable_cluster_is_reported_once_a_period() {
    let database = TestDatabase::new("unreachable_brokers");
    let environment = [
        ("ERRWATCH_KAFKA_BROKERS", "127.0.0.1:9"),
        ("ERRWATCH_KAFKA_TOPICS", "nowhere"),
        ("ERRWATCH_HTTP_ADDR", "127.0.0.1:0"),
    ];
    let errwatch = Errwatch::run_with(&database, &environment);
    // The second report of the same failure comes a period after the first, with a count.
    let all_down = "All broker connections are down";
    errwatch.wait_for_log(all_down, 2, Duration::from_secs(40));
    let log = errwatch.log();
    assert!(
        log.lines().filter(|line| line.contains(all_down)).all(|line| line.contains("repeated=")),
        "every report goes through errwatch's pace: {log}"
    );
    assert!(!log.contains("ERROR librdkafka"), "none bypasses it: {log}");
    let reports: Vec<&str> =
        log.lines().filter(|line| line.contains(all_down) && line.contains("kafka client error")).collect();
    let held_back: u64 = reports
        .get(1)
        .and_then(|line| line.split("repeated=").nth(1))
        .and_then(|count| count.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_default();
    assert!(held_back > 0, "the second report counts the ones held back: {log}");
    assert!(log.lines().count() < 40, "a few lines, not hundreds: {log}");
}
