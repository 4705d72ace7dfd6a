//! `errwatch ingest`: log files (plain or gzip) or standard input into ClickHouse.
//!
//! Each input is read and classified on a thread of its own, which hands rows over in chunks;
//! the calling thread gathers them into batches and stores them through the sink, on the given
//! tokio runtime, when a batch is full or old enough, whether or not more input arrives. Every stored row carries its input's identity and line number, and a
//! run skips what each table already holds for that input (its watermark), so ingesting the
//! same file twice stores nothing twice, even after a run that died between two inserts.
//! An input that breaks off has the lines before the break stored, the next inputs are still
//! read, and the run fails at the end with [`IngestError::Damaged`], which says where each broke.

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tracing::info;

use crate::classify::{classify, Classification};
use crate::extract::{Limits, Unreadable};
use crate::pipeline::record::{to_store, Record, ToStore};
use crate::source::file::{self, InputPath};
use crate::source::lines::{Line, LineReader};
use crate::source::Position;
use crate::store::{Encoded, ErrorRow, QuarantineRow, Sink, SinkSettings, Store, StoreError, Watermarks};
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
    /// Inputs that broke off before their end; every line read before each break was stored,
    /// and so were the other inputs.
    #[error("{}", damaged_message(.damaged))]
    Damaged { damaged: Vec<Damage>, summary: IngestSummary },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an input broke off, and why.
#[derive(Debug)]
pub struct Damage {
    pub input: String,
    /// The last whole line read, all of them stored; 0 when the input could not be opened.
    pub line: u64,
    /// Bytes of the input as it arrives (compressed, for gzip) taken by reading when it broke;
    /// none when the input could not be opened.
    pub bytes: Option<u64>,
    pub reason: io::Error,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bytes {
            Some(bytes) => {
                write!(f, "{} past line {} (byte {bytes} of the input): {}", self.input, self.line, self.reason)
            }
            None => write!(f, "{}: {}", self.input, self.reason),
        }
    }
}

fn damaged_message(damaged: &[Damage]) -> String {
    let each: Vec<String> = damaged.iter().map(Damage::to_string).collect();
    match each.as_slice() {
        [one] => format!("cannot read {one}; everything read was stored"),
        many => {
            format!("cannot read {} inputs to their end: {}; everything read was stored", many.len(), many.join("; "))
        }
    }
}

/// `errwatch ingest`: checks that every input can be read, prepares the schema (waiting for an
/// unreachable server as `wait` allows), ingests and logs what was done.
pub fn command(
    store: crate::store::Settings,
    inputs: &[String],
    options: &IngestOptions,
    retention_days: Option<u32>,
    wait: super::WaitForClickHouse,
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
    runtime.block_on(super::prepare(&store, retention_days, wait, &crate::shutdown::Shutdown::new()))?;
    let started = Instant::now();
    let summary = run(&runtime, &store, &inputs, options)?;
    let elapsed = started.elapsed().as_secs_f64();
    info!(
        records = summary.records,
        already_stored = summary.skipped,
        errors_stored = summary.errors_stored,
        quarantined = summary.quarantined,
        seconds = format!("{elapsed:.1}"),
        records_per_second = super::per_second(summary.records, elapsed),
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
    // A damaged input does not keep the next ones from being stored: `ingest *.gz` stores what
    // each can give, and fails at the end naming every input that broke.
    let mut damaged = Vec::new();
    for input in inputs {
        if let Some(damage) = ingest_one(runtime, store, &mut sink, input, options, &mut summary, started)? {
            damaged.push(damage);
        }
    }
    runtime.block_on(sink.flush())?;
    if options.progress == Progress::Terminal {
        eprint!("\r\x1b[2K");
    }
    if damaged.is_empty() {
        Ok(summary)
    } else {
        Err(IngestError::Damaged { damaged, summary })
    }
}

/// Lines read per chunk at most: the storing side wakes once per chunk, not once per record.
const CHUNK_LINES: u64 = 1024;

/// Bytes of the records that became rows in a chunk, at most (one record may pass it): with
/// [`CHUNKS_AHEAD`], what reading may hold ahead of storing stays a few MiB whatever the rows.
const CHUNK_BYTES: usize = 1024 * 1024;

/// Chunks reading may be ahead of storing: reading and classifying go on while a batch is
/// inserted, this far.
const CHUNKS_AHEAD: usize = 4;

/// What the reading thread hands to the storing one, in input order.
enum Handover {
    Chunk(Chunk),
    /// The input ended after the chunks handed over.
    End,
    /// The input broke off after the chunks handed over, past this line.
    Failed {
        line: u64,
        error: io::Error,
    },
}

/// Lines read in a row, classified: their rows, and how far they reach.
#[derive(Default)]
struct Chunk {
    /// Each row with its line number, in line order.
    rows: Vec<(u64, Row)>,
    /// Bytes of the records the rows came from.
    row_bytes: usize,
    /// The number of the last line read.
    last_line: u64,
    records: u64,
    skipped: u64,
}

enum Row {
    Error(Encoded<ErrorRow>),
    Quarantine(Encoded<QuarantineRow>),
}

/// Reads an input on a thread of its own, which hands its rows over in chunks, and stores them
/// on this one. A chunk is handed over before any read that may wait for input, and a batch is
/// flushed once old enough even while nothing arrives, so the errors of a stream that pauses
/// (`tail -f app.log | errwatch ingest -`) are stored within the batch delay. An input that
/// breaks off (cut or corrupt gzip, a failing disk) is not an error here: its rows read before
/// the break are handed to the sink, and where and why it broke is returned.
fn ingest_one(
    runtime: &Runtime,
    store: &Store,
    sink: &mut Sink,
    input: &InputPath,
    options: &IngestOptions,
    summary: &mut IngestSummary,
    started: Instant,
) -> Result<Option<Damage>, IngestError> {
    let read_error = |source| IngestError::Read { input: input.display(), source };
    let opened = match file::open(input) {
        Ok(opened) => opened,
        // Broken within its first KiB: without the identity, nothing of it can be stored
        // without being stored again once the whole input is read.
        Err(reason) => return Ok(Some(Damage { input: input.display(), line: 0, bytes: None, reason })),
    };
    let stored = runtime.block_on(store.watermarks(&opened.identity, 0))?;
    if stored != Watermarks::default() {
        info!(input = %input.display(), errors_up_to = ?stored.errors, quarantine_up_to = ?stored.quarantine, "input seen before, storing only what is new");
    }
    let mut meter = Meter::new(options.progress, started, opened.compressed_size);
    let bytes_read = opened.bytes_read.clone();
    let mut position = Position { source: opened.identity.clone(), partition: 0, offset: 0 };
    let (chunks, received) = mpsc::sync_channel(CHUNKS_AHEAD);
    let reading = Reading { stored, limits: options.limits, raw_cap: options.raw_cap, chunks };
    // Not joined when storing fails: the thread may be waiting for input that never comes, and
    // it ends at its next hand-over, which finds no one to take it.
    let reader = std::thread::Builder::new()
        .name("ingest-reader".to_owned())
        .spawn(move || reading.read(opened))
        .map_err(read_error)?;
    loop {
        match received.recv_timeout(sink.time_until_due()) {
            Ok(Handover::Chunk(chunk)) => {
                for (line, row) in chunk.rows {
                    position.offset = line;
                    match row {
                        Row::Error(row) => {
                            sink.add_error(row, &position);
                            summary.errors_stored += 1;
                        }
                        Row::Quarantine(row) => {
                            sink.add_quarantine(row, &position);
                            summary.quarantined += 1;
                        }
                    }
                }
                position.offset = chunk.last_line;
                sink.saw(&position);
                summary.records += chunk.records;
                summary.skipped += chunk.skipped;
                meter.tick(summary, bytes_read.load(std::sync::atomic::Ordering::Relaxed));
            }
            Ok(Handover::End) => {
                let _ = reader.join();
                return Ok(None);
            }
            Ok(Handover::Failed { line, error }) => {
                let _ = reader.join();
                let bytes = Some(bytes_read.load(std::sync::atomic::Ordering::Relaxed));
                return Ok(Some(Damage { input: input.display(), line, bytes, reason: error }));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(read_error(io::Error::other("reading stopped before the end of the input")))
            }
        }
        if sink.is_due() {
            runtime.block_on(sink.flush())?;
        }
    }
}

/// The reading thread's side: reads lines, classifies them and hands their rows over.
struct Reading {
    /// What each table held of the input when reading started.
    stored: Watermarks,
    limits: Limits,
    raw_cap: usize,
    chunks: SyncSender<Handover>,
}

impl Reading {
    /// Reads to the end of the input, or to where it breaks off, or until the storing side is
    /// gone.
    fn read(self, opened: file::OpenedInput) {
        let mut lines = LineReader::new(opened.reader, self.limits.max_record_bytes);
        let mut position = Position { source: opened.identity, partition: 0, offset: 0 };
        let mut chunk = Chunk::default();
        let mut now = Timestamp::now();
        loop {
            let may_wait = !lines.has_whole_line();
            if may_wait && !self.hand_over(&mut chunk) {
                return;
            }
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    if self.hand_over(&mut chunk) {
                        let _ = self.chunks.send(Handover::End);
                    }
                    return;
                }
                Err(error) => {
                    // The lines read before the break are stored like any others.
                    if self.hand_over(&mut chunk) {
                        let _ = self.chunks.send(Handover::Failed { line: position.offset, error });
                    }
                    return;
                }
            };
            position.offset += 1;
            // Time is read once per chunk, and after a read that may have waited: often enough
            // for the time of ingestion.
            if may_wait {
                now = Timestamp::now();
            }
            let (classification, bytes, size) = match line {
                Line::Record(bytes) => (classify(bytes, &self.limits), bytes, bytes.len()),
                Line::TooLong { size, head } => {
                    let reason = Unreadable::TooLarge { size, limit: self.limits.max_record_bytes };
                    (Classification::Unreadable(reason), head, size)
                }
            };
            let record = Record { bytes, size, position: &position, source_time: None };
            let row = match to_store(classification, &record, &self.stored, || now, self.raw_cap) {
                ToStore::Error(row) => Some(Row::Error(row)),
                ToStore::Quarantine(row) => Some(Row::Quarantine(row)),
                ToStore::AlreadyStored => {
                    chunk.skipped += 1;
                    None
                }
                ToStore::Ordinary => None,
            };
            if let Some(row) = row {
                chunk.rows.push((position.offset, row));
                chunk.row_bytes += bytes.len();
            }
            chunk.records += 1;
            chunk.last_line = position.offset;
            if chunk.records >= CHUNK_LINES || chunk.row_bytes >= CHUNK_BYTES {
                if !self.hand_over(&mut chunk) {
                    return;
                }
                now = Timestamp::now();
            }
        }
    }

    /// Hands the chunk over, if it holds any record, leaving an empty one; false when the
    /// storing side is gone.
    fn hand_over(&self, chunk: &mut Chunk) -> bool {
        if chunk.records == 0 {
            return true;
        }
        self.chunks.send(Handover::Chunk(std::mem::take(chunk))).is_ok()
    }
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
        let damage = |input: &str, line, bytes, reason: &str| Damage {
            input: input.to_owned(),
            line,
            bytes,
            reason: io::Error::other(reason.to_owned()),
        };
        let damaged = |damaged| IngestError::Damaged { damaged, summary: IngestSummary::default() };
        check(
            damaged(vec![damage("a.gz", 10156, Some(52000), "incomplete deflate stream")]).into(),
            "cannot read a.gz past line 10156 (byte 52000 of the input): incomplete deflate stream; \
             everything read was stored",
        );
        check(
            damaged(vec![
                damage("a.gz", 7, Some(300), "corrupt deflate stream"),
                damage("b.gz", 0, None, "invalid gzip header"),
            ])
            .into(),
            "cannot read 2 inputs to their end: a.gz past line 7 (byte 300 of the input): corrupt deflate stream; \
             b.gz: invalid gzip header; everything read was stored",
        );
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
