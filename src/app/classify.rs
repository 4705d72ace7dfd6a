//! `errwatch classify`: records in (one per line), one JSON line out per record, in order.
//!
//! Streams with constant memory: a line longer than the record limit is not kept, only
//! counted to its end, and answered as unreadable; a few chunks of lines are in flight at once,
//! classified on every core and written back in input order.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::classify::{classify, Classification};
use crate::extract::{Limits, Unreadable};
use crate::report::Report;
use crate::source::lines::{Line, LineReader};

/// Counts of what one run saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub errors: u64,
    pub unreadable: u64,
}

/// `errwatch classify`: classifies `input`, or standard input, to standard output.
pub fn command(input: Option<&Path>, limits: &Limits) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let stdout = io::stdout().lock();
    match input {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            run(BufReader::with_capacity(256 * 1024, file), stdout, limits)
                .with_context(|| format!("while classifying {}", path.display()))?;
        }
        None => {
            run(BufReader::with_capacity(256 * 1024, io::stdin()), stdout, limits)
                .context("while classifying standard input")?;
        }
    }
    Ok(())
}

/// Classifies every line of `input` and writes one report line per record to `output`, in
/// order. Lines are classified in chunks on every core; a trailing `\r` (CRLF files) is not
/// part of the record.
pub fn run(input: impl BufRead + Send, mut output: impl Write, limits: &Limits) -> io::Result<Summary> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKERS);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Bounded queues: at most a few chunks are in flight, whatever the input's size.
        let (chunks_sender, chunks) = mpsc::sync_channel::<(u64, Chunk)>(workers * 2);
        let chunks = Arc::new(Mutex::new(chunks));
        let (reports_sender, reports) = mpsc::sync_channel::<(u64, Chunk)>(workers * 2);
        // Written chunks go back to the reader to be filled again: their buffers have grown to
        // size, so no chunk after the first few allocates or faults in fresh pages.
        let (spare_sender, spare_chunks) = mpsc::sync_channel::<Chunk>(workers * 4 + 2);
        for _ in 0..workers {
            let chunks = chunks.clone();
            let reports_sender = reports_sender.clone();
            scope.spawn(move || loop {
                let next = chunks.lock().map(|receiver| receiver.recv());
                let Ok(Ok((sequence, mut chunk))) = next else { return };
                chunk.classify(limits);
                if reports_sender.send((sequence, chunk)).is_err() {
                    return;
                }
            });
        }
        drop(reports_sender);
        let stop = &stop;
        let reader = scope.spawn(move || {
            let read = read_chunks(input, limits.max_record_bytes, &chunks_sender, &spare_chunks, stop);
            drop(chunks_sender);
            read
        });
        // Reports come back in any order; they are written in input order.
        let mut summary = Summary::default();
        let mut waiting: BTreeMap<u64, Chunk> = BTreeMap::new();
        let mut next = 0u64;
        let mut failed = None;
        for (sequence, chunk) in reports {
            waiting.insert(sequence, chunk);
            while let Some(mut chunk) = waiting.remove(&next) {
                if failed.is_none() {
                    if let Err(error) = output.write_all(&chunk.out) {
                        // Stop reading; the workers end when their queue closes.
                        failed = Some(error);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                summary.add(chunk.summary);
                next += 1;
                chunk.clear();
                let _ = spare_sender.try_send(chunk);
            }
        }
        drop(spare_sender);
        let read = reader.join().unwrap_or_else(|_| Err(io::Error::other("the input thread failed")));
        if let Some(error) = failed {
            return Err(error);
        }
        read?;
        output.flush()?;
        Ok(summary)
    })
}

/// Workers classifying chunks, at most.
const MAX_WORKERS: usize = 8;

/// Records per chunk handed to a worker.
const CHUNK_RECORDS: usize = 4096;

/// Bytes per chunk, about.
const CHUNK_BYTES: usize = 1024 * 1024;

fn read_chunks(
    input: impl BufRead,
    limit: usize,
    chunks: &mpsc::SyncSender<(u64, Chunk)>,
    spare_chunks: &mpsc::Receiver<Chunk>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut lines = LineReader::new(input, limit);
    let mut chunk = Chunk::default();
    let mut sequence = 0u64;
    while let Some(line) = lines.next_line()? {
        match line {
            Line::Record(bytes) => {
                let start = chunk.data.len();
                chunk.data.extend_from_slice(bytes);
                chunk.entries.push(Entry::Record(start..chunk.data.len()));
            }
            Line::TooLong { size, .. } => chunk.entries.push(Entry::TooLong { size }),
        }
        if chunk.entries.len() >= CHUNK_RECORDS || chunk.data.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut chunk, spare_chunks.try_recv().unwrap_or_default());
            if stop.load(Ordering::Relaxed) || chunks.send((sequence, full)).is_err() {
                return Ok(());
            }
            sequence += 1;
        }
    }
    if !chunk.entries.is_empty() {
        let _ = chunks.send((sequence, chunk));
    }
    Ok(())
}

/// Consecutive records, copied out of the input, and once classified their report lines.
#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    entries: Vec<Entry>,
    out: Vec<u8>,
    summary: Summary,
}

enum Entry {
    Record(std::ops::Range<usize>),
    TooLong { size: usize },
}

impl Chunk {
    fn classify(&mut self, limits: &Limits) {
        for entry in &self.entries {
            let classification = match entry {
                Entry::Record(range) => classify(self.data.get(range.clone()).unwrap_or_default(), limits),
                Entry::TooLong { size } => {
                    Classification::Unreadable(Unreadable::TooLarge { size: *size, limit: limits.max_record_bytes })
                }
            };
            self.summary.records += 1;
            match &classification {
                Classification::ApiError(_) => self.summary.errors += 1,
                Classification::Unreadable(_) => self.summary.unreadable += 1,
                Classification::NotAnError { .. } => {}
            }
            Report::new(&classification).write_line(&mut self.out);
        }
    }

    /// Empties the chunk and keeps its buffers.
    fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
        self.out.clear();
        self.summary = Summary::default();
    }
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.records += other.records;
        self.errors += other.errors;
        self.unreadable += other.unreadable;
    }
}
