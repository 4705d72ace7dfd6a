//! `errwatch classify`: records in (one per line), one JSON line out per record, in order.
//!
//! Streams with constant memory: a line longer than the record limit is not kept, only
//! counted to its end, and answered as unreadable.

use std::io::{self, BufRead, Write};

use crate::classify::{classify, Classification};
use crate::extract::{Limits, Unreadable};
use crate::report::Report;
use crate::source::lines::{Line, LineReader};

/// Bytes of output gathered before one write, so that small lines do not cost a syscall each.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// Counts of what one run saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub errors: u64,
    pub unreadable: u64,
}

/// Classifies every line of `input` and writes one report line per record to `output`.
/// A trailing `\r` (CRLF files) is not part of the record.
pub fn run(input: impl BufRead, mut output: impl Write, limits: &Limits) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut lines = LineReader::new(input, limits.max_record_bytes);
    let mut out = Vec::with_capacity(OUTPUT_CHUNK * 2);
    while let Some(line) = lines.next_line()? {
        let classification = match line {
            Line::Record(bytes) => classify(bytes, limits),
            Line::TooLong { size, .. } => {
                Classification::Unreadable(Unreadable::TooLarge { size, limit: limits.max_record_bytes })
            }
        };
        summary.records += 1;
        match &classification {
            Classification::ApiError(_) => summary.errors += 1,
            Classification::Unreadable(_) => summary.unreadable += 1,
            Classification::NotAnError { .. } => {}
        }
        Report::new(&classification).write_line(&mut out);
        if out.len() >= OUTPUT_CHUNK {
            output.write_all(&out)?;
            out.clear();
        }
    }
    output.write_all(&out)?;
    output.flush()?;
    Ok(summary)
}
