//! `errwatch ingest`: log files (plain or gzip) or standard input into ClickHouse.
//!
//! Reads and classifies on the calling thread and hands batches to the sink, which runs on the
//! given tokio runtime. Every stored row carries its input's identity and line number, and a
//! run skips what each table already holds for that input (its watermark), so ingesting the
//! same file twice stores nothing twice, even after a run that died between two inserts.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tracing::info;

use crate::classify::{classify, Classification};
use crate::extract::{Limits, Unreadable};
use crate::pipeline::record::{to_store, Record, ToStore};
use crate::source::file::{self, InputPath};
use crate::source::lines::{Line, LineReader};
use crate::source::Position;
use crate::store::{Sink, SinkSettings, Store, StoreError, Watermarks};
use crate::timestamp::Timestamp;

/// How progress is shown while ingesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A line redrawn in place on standard error, with rate and ETA.
    Terminal,
    /// A log line every ten seconds.
    Log,
    Quiet,
}

impl Progress {
    /// A progress bar when standard error is a terminal, log lines otherwise.
    pub fn detect() -> Progress {
        if io::stderr().is_terminal() {
            Progress::Terminal
        } else {
            Progress::Log
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub limits: Limits,
    /// Bytes of each record kept in the `raw` columns.
    pub raw_cap: usize,
    pub sink: SinkSettings,
    pub progress: Progress,
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestSummary {
    pub records: u64,
    /// Errors and unreadable records an earlier run already stored.
    pub skipped: u64,
    pub errors_stored: u64,
    pub quarantined: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {input}")]
    Read { input: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `errwatch ingest`: checks that every input can be read, prepares the schema, ingests and
/// logs what was done.
pub fn command(
    store: crate::store::Settings,
    inputs: &[String],
    options: &IngestOptions,
    retention_days: Option<u32>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let inputs: Vec<InputPath> = inputs.iter().map(|argument| InputPath::parse(argument)).collect();
    for input in &inputs {
        if let InputPath::File(path) = input {
            file::check_readable(path).with_context(|| format!("cannot open {}", path.display()))?;
        }
    }
    let store = Store::new(store)?;
    let runtime = super::runtime()?;
    runtime.block_on(super::prepare(&store, retention_days))?;
    let started = Instant::now();
    let summary = run(&runtime, &store, &inputs, options)?;
    let elapsed = started.elapsed().as_secs_f64();
    info!(
        records = summary.records,
        already_stored = summary.skipped,
        errors_stored = summary.errors_stored,
        quarantined = summary.quarantined,
        seconds = format!("{elapsed:.1}"),
        records_per_second = (summary.records as f64 / elapsed.max(1e-3)) as u64,
        "ingest finished"
    );
    Ok(())
}

/// Ingests every input in turn.
pub fn run(
    runtime: &Runtime,
    store: &Store,
    inputs: &[InputPath],
    options: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let mut sink = Sink::new(store.clone(), options.sink);
    let started = Instant::now();
    for input in inputs {
        ingest_one(runtime, store, &mut sink, input, options, &mut summary, started)?;
    }
    runtime.block_on(sink.flush())?;
    if options.progress == Progress::Terminal {
        eprint!("\r\x1b[2K");
    }
    Ok(summary)
}

fn ingest_one(
    runtime: &Runtime,
    store: &Store,
    sink: &mut Sink,
    input: &InputPath,
    options: &IngestOptions,
    summary: &mut IngestSummary,
    started: Instant,
) -> Result<(), IngestError> {
    let read_error = |source| IngestError::Read { input: input.display(), source };
    let opened = file::open(input).map_err(read_error)?;
    let stored = runtime.block_on(store.watermarks(&opened.identity, 0))?;
    if stored != Watermarks::default() {
        info!(input = %input.display(), errors_up_to = ?stored.errors, quarantine_up_to = ?stored.quarantine, "input seen before, storing only what is new");
    }
    let mut meter = Meter::new(options.progress, started, opened.compressed_size);
    let mut lines = LineReader::new(opened.reader, options.limits.max_record_bytes);
    let mut line_number = 0u64;
    let mut now = Timestamp::now();
    while let Some(line) = lines.next_line().map_err(read_error)? {
        line_number += 1;
        summary.records += 1;
        let position = Position { source: opened.identity.clone(), partition: 0, offset: line_number };
        let (classification, bytes, size) = match line {
            Line::Record(bytes) => (classify(bytes, &options.limits), bytes, bytes.len()),
            Line::TooLong { size, head } => {
                let reason = Unreadable::TooLarge { size, limit: options.limits.max_record_bytes };
                (Classification::Unreadable(reason), head, size)
            }
        };
        let record = Record { bytes, size, position: &position, source_time: None };
        match to_store(classification, &record, &stored, || now, options.raw_cap) {
            ToStore::Error(row) => {
                sink.add_error(row, &position);
                summary.errors_stored += 1;
            }
            ToStore::Quarantine(row) => {
                sink.add_quarantine(row, &position);
                summary.quarantined += 1;
            }
            ToStore::AlreadyStored => summary.skipped += 1,
            ToStore::Ordinary => sink.saw(&position),
        }
        // Time is read once per thousand records: often enough for ages and progress.
        if line_number % 1024 == 0 {
            now = Timestamp::now();
            meter.tick(summary, opened.bytes_read.load(std::sync::atomic::Ordering::Relaxed));
        }
        if sink.is_due() {
            runtime.block_on(sink.flush())?;
        }
    }
    Ok(())
}

/// Progress: rate, share of the input read, and time left.
struct Meter {
    mode: Progress,
    started: Instant,
    last_shown: Instant,
    total_bytes: Option<u64>,
}

impl Meter {
    fn new(mode: Progress, started: Instant, total_bytes: Option<u64>) -> Meter {
        Meter { mode, started, last_shown: Instant::now(), total_bytes }
    }

    fn tick(&mut self, summary: &IngestSummary, bytes_read: u64) {
        let interval = match self.mode {
            Progress::Terminal => Duration::from_millis(200),
            Progress::Log => Duration::from_secs(10),
            Progress::Quiet => return,
        };
        if self.last_shown.elapsed() < interval {
            return;
        }
        self.last_shown = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = summary.records as f64 / elapsed;
        let share =
            self.total_bytes.filter(|total| *total > 0).map(|total| (bytes_read as f64 / total as f64).min(1.0));
        let eta = share.filter(|share| *share > 0.0).map(|share| elapsed * (1.0 - share) / share);
        match self.mode {
            Progress::Terminal => {
                let percent = share.map(|share| format!("{:5.1}%  ", share * 100.0)).unwrap_or_default();
                let eta = eta.map(|seconds| format!("  ETA {}", human_duration(seconds))).unwrap_or_default();
                eprint!(
                    "\r\x1b[2K{percent}{} records  {:.0}/s  {} errors  {} quarantined{eta}",
                    summary.records, rate, summary.errors_stored, summary.quarantined
                );
                let _ = io::stderr().flush();
            }
            Progress::Log => info!(
                records = summary.records,
                rate = rate as u64,
                errors = summary.errors_stored,
                quarantined = summary.quarantined,
                percent = share.map(|share| (share * 100.0) as u64),
                "ingesting"
            ),
            Progress::Quiet => {}
        }
    }
}

/// `1h02m`, `3m05s`, `42s`.
pub fn human_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one line a user reads joins an error with its causes: each must be said once.
    #[test]
    fn each_cause_is_said_once() {
        let check = |error: anyhow::Error, expected: &str| assert_eq!(format!("{error:#}"), expected);
        let read = IngestError::Read { input: "logs".to_owned(), source: io::Error::other("Is a directory") };
        check(read.into(), "cannot read logs: Is a directory");
        let rejected = StoreError::Rejected { code: Some(60), message: "no table".to_owned() };
        let stopped = crate::pipeline::PipelineError::Store(rejected);
        check(
            stopped.into(),
            "cannot store events, stopping without committing what was not stored: \
             ClickHouse rejected the request (code 60): no table",
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0.2), "0s");
        assert_eq!(human_duration(42.0), "42s");
        assert_eq!(human_duration(185.0), "3m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
    }
}
