//! `errwatch generate`: synthetic client logs, written as fast as the output takes them or
//! paced to the generator's rate in real time.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use tracing::info;

use crate::generate::{Generated, Generator, Scenario, Settings as GeneratorSettings};
use crate::guid::Guid;
use crate::shutdown::Shutdown;
use crate::source::kafka::KafkaProducer;
use crate::timestamp::Timestamp;

/// How many records to write, and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Stop after this many records; `None` runs until stopped.
    pub count: Option<u64>,
    /// Hold each record until its time on the generator's clock has come, measured from the
    /// start of the run, so that records leave at the generator's rate.
    pub pace: bool,
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub records: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

/// Sleeping longer than this at once would make a stop request wait.
const LONGEST_SLEEP: Duration = Duration::from_millis(100);

/// What `errwatch generate` writes, how much, and where.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    pub scenario: Scenario,
    /// Records per second of event time; `None` for the default, unpaced on standard output.
    pub rate: Option<f64>,
    pub count: Option<u64>,
    /// Event time to cover: `rate × duration` records.
    pub duration: Option<Duration>,
    pub seed: Option<u64>,
    pub start: Option<Timestamp>,
    /// Kafka brokers and topic to write to instead of standard output.
    pub kafka: Option<(String, String)>,
    /// librdkafka producer settings.
    pub kafka_options: Vec<(String, String)>,
    /// Write as fast as possible, also to Kafka.
    pub no_pacing: bool,
}

/// `errwatch generate`: writes records to standard output or Kafka until the count, the
/// duration or a signal ends it, and logs what was written.
pub fn command(settings: &GenerateSettings) -> anyhow::Result<()> {
    let rate = settings.rate.unwrap_or(GeneratorSettings::DEFAULT_RATE);
    let start = settings.start.unwrap_or_else(Timestamp::now);
    let seed = settings.seed.unwrap_or_else(|| Guid::new_random().as_u128() as u64);
    let from_duration = settings.duration.map(|duration| (duration.as_secs_f64() * rate).round() as u64);
    let count = match (settings.count, from_duration) {
        (Some(count), Some(from_duration)) => Some(count.min(from_duration)),
        (count, from_duration) => count.or(from_duration),
    };
    let pace = !settings.no_pacing && (settings.kafka.is_some() || settings.rate.is_some());
    let scenario = settings.scenario;
    let mut generator = Generator::new(GeneratorSettings { scenario, seed, rate, start });
    let options = Options { count, pace };
    info!(%scenario, seed, rate, %start, count, pace, "generating");

    let runtime = super::runtime()?;
    let stop = Shutdown::new();
    let signals = stop.on_signals(&runtime);
    let summary = match &settings.kafka {
        Some((brokers, topic)) => {
            let mut producer = KafkaProducer::connect(brokers, topic, &settings.kafka_options)?;
            let summary = run(&mut generator, &options, &stop, |generated| {
                producer.send(generated.label.service.as_bytes(), &generated.record, generated.label.time.unix_millis())
            })?;
            producer.flush(Duration::from_secs(30))?;
            summary
        }
        None => {
            let mut out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
            let summary = run(&mut generator, &options, &stop, |generated| {
                out.write_all(&generated.record)?;
                out.write_all(b"\n")?;
                // Paced records are for someone watching: each goes out when it is due.
                if pace {
                    out.flush()?;
                }
                Ok::<(), io::Error>(())
            })?;
            out.flush()?;
            summary
        }
    };
    drop(signals);
    let seconds = summary.elapsed.as_secs_f64();
    info!(
        records = summary.records,
        errors = summary.errors,
        seconds = format!("{seconds:.1}"),
        records_per_second = super::per_second(summary.records, seconds),
        "generated"
    );
    Ok(())
}

/// Hands records to `emit` until `options.count` are written or `stop` is set. An error from
/// `emit` ends the run and is returned.
pub fn run<E>(
    generator: &mut Generator,
    options: &Options,
    stop: &Shutdown,
    mut emit: impl FnMut(&Generated) -> Result<(), E>,
) -> Result<Summary, E> {
    let started = Instant::now();
    let rate = generator.settings().rate;
    let mut summary = Summary::default();
    while options.count.is_none_or(|count| summary.records < count) {
        if stop.is_raised() {
            break;
        }
        if options.pace {
            let due = started + Duration::from_secs_f64(summary.records as f64 / rate);
            let now = Instant::now();
            // Waits under a millisecond are left out: at high rates records go in small bursts.
            if due > now + Duration::from_millis(1) {
                std::thread::sleep((due - now).min(LONGEST_SLEEP));
                continue;
            }
        }
        let generated = generator.next_record();
        emit(&generated)?;
        summary.records += 1;
        if generated.label.error().is_some() {
            summary.errors += 1;
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reads a duration as people write one: `90`, `90s`, `500ms`, `15m`, `2h`, `1.5h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (text.get(..split).unwrap_or_default(), text.get(split..).unwrap_or_default());
    let not_a_duration = || format!("{text:?} is not a duration; write e.g. 10s, 5m or 1h");
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    let seconds_per_unit = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        other => return Err(format!("unknown unit {other:?} in {text:?}; use ms, s, m, h or d, e.g. 10s")),
    };
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| not_a_duration())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Scenario, Settings};
    use crate::timestamp::Timestamp;

    fn generator(rate: f64) -> Generator {
        Generator::new(Settings {
            scenario: Scenario::Steady,
            seed: 1,
            rate,
            start: Timestamp::parse_field("2026-11-26T10:00:00Z").unwrap(),
        })
    }

    #[test]
    fn durations_as_people_write_them() {
        let check = |text: &str, expected: Result<Duration, ()>| {
            assert_eq!(parse_duration(text).map_err(|_| ()), expected, "{text:?}");
        };
        check("90", Ok(Duration::from_secs(90)));
        check("10s", Ok(Duration::from_secs(10)));
        check("500ms", Ok(Duration::from_millis(500)));
        check("15m", Ok(Duration::from_secs(900)));
        check("1.5h", Ok(Duration::from_secs(5400)));
        check(" 2 hours ", Ok(Duration::from_secs(7200)));
        check("1d", Ok(Duration::from_secs(86_400)));
        check("ten", Err(()));
        check("10 fortnights", Err(()));
        check("", Err(()));
        check("-5s", Err(()));
    }

    #[test]
    fn writes_the_count_asked_for_and_stops_on_request() {
        let mut written = Vec::new();
        let options = Options { count: Some(250), pace: false };
        let summary = run(&mut generator(100.0), &options, &Shutdown::new(), |generated| {
            written.push(generated.record.clone());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(summary.records, 250);
        assert_eq!(written.len(), 250);

        let stop = Shutdown::new();
        let options = Options { count: None, pace: false };
        let summary = run(&mut generator(100.0), &options, &stop, |_| {
            stop.raise();
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(summary.records, 1);

        let failed = run(&mut generator(100.0), &options, &Shutdown::new(), |_| Err("disk full"));
        assert_eq!(failed, Err("disk full"));
    }

    #[test]
    fn paced_runs_take_the_generators_time() {
        // 20 records at 100 a second: the last is due 190 ms after the first, and a record
        // may leave up to a millisecond early.
        let options = Options { count: Some(20), pace: true };
        let summary = run(&mut generator(100.0), &options, &Shutdown::new(), |_| Ok::<(), ()>(())).unwrap();
        assert!(summary.elapsed >= Duration::from_millis(189), "{:?}", summary.elapsed);
    }
}
