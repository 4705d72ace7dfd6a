//! `errwatch generate`: the generator is deterministic, its scenarios have the shape they
//! promise, the classifier agrees with every label it writes, and the command writes to
//! standard output and to Kafka as a user runs it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use errwatch::generate::{Generator, Scenario, Settings};
use errwatch::timestamp::Timestamp;
use errwatch::Category;
use errwatch::{classify, Limits};
use serde_json::Value;

use crate::kafka::Cluster;

fn settings(scenario: Scenario, seed: u64, rate: f64) -> Settings {
    Settings { scenario, seed, rate, start: Timestamp::parse_field("2026-11-26T10:00:00Z").unwrap() }
}

fn output(settings: Settings, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for generated in Generator::new(settings).take(count) {
        out.extend_from_slice(&generated.record);
        out.push(b'\n');
    }
    out
}

#[test]
fn a_seed_gives_the_same_output_and_other_seeds_other_output() {
    for scenario in Scenario::ALL {
        let first = output(settings(scenario, 7, 100.0), 5_000);
        assert_eq!(first, output(settings(scenario, 7, 100.0), 5_000), "{scenario}: same seed, same bytes");
        assert_ne!(first, output(settings(scenario, 8, 100.0), 5_000), "{scenario}: another seed");
    }
}

/// What a scenario's records turned out to be, by the generator's labels, after checking that
/// the classifier agrees with every one of them.
#[derive(Debug, Default)]
struct Survey {
    records: usize,
    errors: usize,
    by_category: BTreeMap<&'static str, usize>,
    throttled_with_retry_after: usize,
}

impl Survey {
    fn of(scenario: Scenario, rate: f64, count: usize) -> Survey {
        let mut survey = Survey::default();
        let mut disagreements = Vec::new();
        for generated in Generator::new(settings(scenario, 42, rate)).take(count) {
            let classification = classify(&generated.record, &Limits::default());
            let found = generated.label.disagreements(&classification);
            if !found.is_empty() && disagreements.len() < 5 {
                disagreements.push(format!("{}\n  {}", String::from_utf8_lossy(&generated.record), found.join("\n  ")));
            }
            survey.records += 1;
            if let Some(error) = generated.label.error() {
                survey.errors += 1;
                *survey.by_category.entry(error.category.as_str()).or_default() += 1;
                if error.category == Category::Throttling && error.retry_after_seconds.is_some() {
                    survey.throttled_with_retry_after += 1;
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{scenario}: the classifier disagrees with labels:\n{}",
            disagreements.join("\n")
        );
        survey
    }

    fn error_share(&self) -> f64 {
        self.errors as f64 / self.records as f64
    }

    /// The share of errors in `category`.
    fn share_of_errors(&self, category: Category) -> f64 {
        self.by_category.get(category.as_str()).copied().unwrap_or(0) as f64 / self.errors.max(1) as f64
    }
}

/// The shape a scenario promises: errors as a share of records, and the category that
/// dominates them with its least share of errors.
#[track_caller]
fn check(scenario: Scenario, errors: std::ops::Range<f64>, dominant: Option<(Category, f64)>) -> Survey {
    // 100,000 records at 100 a second: about 17 minutes of event time.
    let survey = Survey::of(scenario, 100.0, 100_000);
    eprintln!("{scenario}: {:.1}% errors, {:?}", survey.error_share() * 100.0, survey.by_category);
    assert!(errors.contains(&survey.error_share()), "{scenario}: errors are {:.3} of records", survey.error_share());
    if let Some((category, least)) = dominant {
        let share = survey.share_of_errors(category);
        assert!(share >= least, "{scenario}: {} is {share:.3} of errors: {:?}", category.as_str(), survey.by_category);
    }
    survey
}

#[test]
fn steady_traffic_has_a_few_percent_of_errors_and_little_throttling() {
    let survey = check(Scenario::Steady, 0.03..0.08, Some((Category::NotFound, 0.15)));
    assert!(survey.share_of_errors(Category::Throttling) < 0.25, "{:?}", survey.by_category);
    for category in ["throttling", "authentication", "authorization", "not_found", "bad_request", "server"] {
        assert!(
            survey.by_category.contains_key(category),
            "steady traffic has some {category}: {:?}",
            survey.by_category
        );
    }
}

#[test]
fn a_throttle_storm_is_mostly_429s_with_retry_after() {
    let survey = check(Scenario::ThrottleStorm, 0.1..0.5, Some((Category::Throttling, 0.75)));
    let throttled = survey.by_category["throttling"];
    assert!(
        survey.throttled_with_retry_after as f64 >= 0.9 * throttled as f64,
        "{} of {throttled} 429s say when to retry",
        survey.throttled_with_retry_after
    );
}

#[test]
fn a_token_expiry_is_mostly_401s() {
    check(Scenario::TokenExpiry, 0.1..0.5, Some((Category::Authentication, 0.75)));
}

#[test]
fn a_permission_change_is_mostly_403s() {
    check(Scenario::PermissionChange, 0.1..0.5, Some((Category::Authorization, 0.7)));
}

#[test]
fn an_outage_is_mostly_5xx() {
    check(Scenario::Outage, 0.1..0.5, Some((Category::Server, 0.75)));
}

#[test]
fn the_tour_goes_through_every_incident() {
    let survey = check(Scenario::Tour, 0.05..0.4, None);
    for category in [Category::Throttling, Category::Authentication, Category::Authorization, Category::Server] {
        assert!(survey.share_of_errors(category) > 0.1, "{}: {:?}", category.as_str(), survey.by_category);
    }
}

#[test]
fn the_clock_spans_the_duration_asked_for() {
    // --rate 1000 --duration 10s: 10,000 records over 10 s of event time.
    let labels: Vec<_> = Generator::new(settings(Scenario::Steady, 1, 1000.0)).take(10_000).map(|g| g.label).collect();
    let first = labels.first().unwrap().time;
    let last = labels.last().unwrap().time;
    assert_eq!(first.to_string(), "2026-11-26T10:00:00.000Z");
    assert_eq!(last.to_string(), "2026-11-26T10:00:09.999Z");
}

fn errwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_errwatch"))
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()).collect()
}

#[test]
fn the_command_writes_lines_that_classify_accepts() {
    let args = ["generate", "--scenario", "tour", "--count", "2000", "--seed", "7"];
    let generated = errwatch().args(args).args(["--start", "2026-11-26T10:00:00Z"]).output().unwrap();
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    assert_eq!(lines(&generated.stdout).len(), 2000);
    let again = errwatch().args(args).args(["--start", "2026-11-26T10:00:00Z"]).output().unwrap();
    assert_eq!(generated.stdout, again.stdout, "the same seed and start give the same bytes");

    let mut classify =
        errwatch().arg("classify").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = classify.stdin.take().unwrap();
    let input = generated.stdout.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let classified = classify.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(classified.status.success(), "{}", String::from_utf8_lossy(&classified.stderr));
    let reports: Vec<Value> =
        lines(&classified.stdout).iter().map(|line| serde_json::from_slice(line).unwrap()).collect();
    assert_eq!(reports.len(), 2000, "one answer per generated line");
    assert!(reports.iter().all(|report| report.get("error").is_none()), "every generated line is readable");
    let errors = reports.iter().filter(|report| report["envelope"] == true).count();
    assert!((40..400).contains(&errors), "{errors} errors in 2,000 steady records");
}

#[test]
fn the_duration_and_rate_decide_the_count() {
    let output = errwatch()
        .args(["generate", "--rate", "1000", "--duration", "2s", "--no-pacing", "--seed", "3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(lines(&output.stdout).len(), 2000);
}

#[test]
fn mistakes_on_the_command_line_are_one_clear_line() {
    let cases: [(&[&str], &str); 4] = [
        (&["--scenario", "storm"], "expected one of steady, throttle-storm"),
        (&["--rate", "0"], "--rate must be a positive number"),
        (&["--start", "yesterday"], "is not a time"),
        (&["--duration", "ten"], "is not a duration"),
    ];
    for (args, expected) in cases {
        let output = errwatch().arg("generate").args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn help_names_every_scenario_and_shows_examples() {
    let output = errwatch().args(["generate", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for scenario in Scenario::ALL {
        assert!(help.contains(scenario.name()), "--help does not mention {scenario}");
    }
    for flag in ["--rate", "--duration", "--seed", "--count", "--brokers", "--topic", "Examples:"] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn the_command_writes_to_kafka() {
    let cluster = Cluster::start("t", 3);
    let output = errwatch()
        .args(["generate", "--brokers", &cluster.bootstrap, "--topic", "t", "--count", "500", "--seed", "1"])
        .env("ERRWATCH_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let records = cluster.consume("t", 3, 500, Duration::from_secs(60));
    assert_eq!(records.len(), 500, "every generated record arrives");
    let expected: Vec<Vec<u8>> = Generator::new(settings(Scenario::Steady, 1, 100.0))
        .take(500)
        .map(|g| g.label.service.as_bytes().to_vec())
        .collect();
    for (key, payload) in &records {
        assert!(expected.contains(key), "keyed by service: {}", String::from_utf8_lossy(key));
        assert!(!matches!(classify(payload, &Limits::default()), errwatch::Classification::Unreadable(_)));
    }
    // Nothing more was written than asked: the partitions' ends add up to the count, which
    // the command's exit settled, so nothing is left to wait for.
    assert_eq!(written(&cluster.bootstrap, "t", 3), 500);
}

/// How many records the partitions of `topic` hold, from their watermarks.
fn written(bootstrap: &str, topic: &str, partitions: i32) -> i64 {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    (0..partitions)
        .map(|partition| {
            let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(30)).unwrap();
            high - low
        })
        .sum()
}
