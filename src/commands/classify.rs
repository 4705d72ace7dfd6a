//! `errwatch classify`: records in (one per line), one JSON line out per record, in order.
//!
//! Streams with constant memory: a line longer than the record limit is not kept, only
//! counted to its end, and answered as unreadable.

use std::io::{self, BufRead, Write};

use crate::classify::{classify, Classification};
use crate::extract::{Limits, Unreadable};
use crate::report::Report;

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
            Line::TooLong { size } => {
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

enum Line<'a> {
    Record(&'a [u8]),
    /// A line over the limit; only its length was kept.
    TooLong {
        size: usize,
    },
}

/// Splits input into lines without ever holding more than `limit + 1` bytes of one line.
struct LineReader<R> {
    input: R,
    limit: usize,
    line: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    fn new(input: R, limit: usize) -> Self {
        LineReader { input, limit, line: Vec::new() }
    }

    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.line.clear();
        let mut size = 0usize;
        let mut saw_any = false;
        loop {
            let buffer = match self.input.fill_buf() {
                Ok(buffer) => buffer,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if buffer.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, found_newline) = match memchr::memchr(b'\n', buffer) {
                Some(position) => (buffer.get(..position).unwrap_or_default(), true),
                None => (buffer, false),
            };
            size += chunk.len();
            if self.line.len() <= self.limit {
                let room = self.limit + 1 - self.line.len();
                self.line.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            }
            let consumed = chunk.len() + usize::from(found_newline);
            self.input.consume(consumed);
            if found_newline {
                break;
            }
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
            size -= 1;
        }
        if size > self.limit {
            return Ok(Some(Line::TooLong { size }));
        }
        Ok(Some(Line::Record(&self.line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], limit: usize) -> Vec<String> {
        let mut reader = LineReader::new(io::BufReader::with_capacity(4, input), limit);
        let mut found = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            found.push(match line {
                Line::Record(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Line::TooLong { size } => format!("<too long: {size}>"),
            });
        }
        found
    }

    #[test]
    fn splits_lines_and_bounds_their_size() {
        assert_eq!(lines_of(b"a\nbb\r\n\nccc", 10), ["a", "bb", "", "ccc"]);
        assert_eq!(lines_of(b"a\n", 10), ["a"]);
        assert_eq!(lines_of(b"", 10), Vec::<String>::new());
        assert_eq!(lines_of(b"12345\n123456\nok", 5), ["12345", "<too long: 6>", "ok"]);
        assert_eq!(lines_of(b"1234\r\n", 4), ["1234"]);
    }
}
