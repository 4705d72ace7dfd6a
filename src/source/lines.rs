//! Records from a byte stream, one per line, with constant memory.
//!
//! A line longer than the record limit is not kept, only counted to its end, and handed on as
//! [`Line::TooLong`], so that one giant line costs no more memory than a normal one.

use std::io::{self, BufRead, BufReader, Read};

/// One line of input.
#[derive(Debug)]
pub enum Line<'a> {
    Record(&'a [u8]),
    /// A line over the limit: its length, and its first `limit + 1` bytes.
    TooLong {
        size: usize,
        head: &'a [u8],
    },
}

/// Splits input into lines without ever holding more than `limit + 1` bytes of one line.
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    limit: usize,
    line: Vec<u8>,
    /// Bytes of the input's buffer handed out as the last line, consumed on the next call.
    lent: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R, limit: usize) -> Self {
        LineReader { input, limit, line: Vec::new(), lent: 0 }
    }

    /// The next line without its `\n` (and without the `\r` of CRLF files); `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.input.consume(std::mem::take(&mut self.lent));
        // Most lines sit whole in the input's buffer: lend them from there rather than copy.
        let whole_line = match self.input.fill_buf() {
            Ok(buffer) => memchr::memchr(b'\n', buffer).filter(|&position| position <= self.limit),
            Err(error) if error.kind() != io::ErrorKind::Interrupted => return Err(error),
            Err(_) => None,
        };
        if let Some(position) = whole_line {
            self.lent = position + 1;
            // The buffer still holds the line: this second call reads nothing.
            let line = self.input.fill_buf()?.get(..position).unwrap_or_default();
            return Ok(Some(Line::Record(line.strip_suffix(b"\r").unwrap_or(line))));
        }
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
            return Ok(Some(Line::TooLong { size, head: &self.line }));
        }
        Ok(Some(Line::Record(&self.line)))
    }
}

impl<R: Read> LineReader<BufReader<R>> {
    /// Whether the next line ends in what was read already, so that reading it cannot wait
    /// for input: a reader of a stream hands on what it holds before a read that may wait.
    pub fn has_whole_line(&mut self) -> bool {
        self.input.consume(std::mem::take(&mut self.lent));
        memchr::memchr(b'\n', self.input.buffer()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines read through a small buffer (most lines cross its end) and through a large
    /// one (most lines are lent from it); both must agree.
    fn lines_of(input: &[u8], limit: usize) -> Vec<String> {
        let read = |capacity: usize| {
            let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), limit);
            let mut found = Vec::new();
            while let Some(line) = reader.next_line().unwrap() {
                found.push(match line {
                    Line::Record(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    Line::TooLong { size, head } => format!("<too long: {size}, kept {}>", head.len()),
                });
            }
            found
        };
        let small = read(4);
        assert_eq!(small, read(64), "small and large buffers disagree on {input:?}");
        small
    }

    #[test]
    fn splits_lines_and_bounds_their_size() {
        assert_eq!(lines_of(b"a\nbb\r\n\nccc", 10), ["a", "bb", "", "ccc"]);
        assert_eq!(lines_of(b"a\n", 10), ["a"]);
        assert_eq!(lines_of(b"", 10), Vec::<String>::new());
        assert_eq!(lines_of(b"12345\n123456\nok", 5), ["12345", "<too long: 6, kept 6>", "ok"]);
        assert_eq!(lines_of(b"1234\r\n", 4), ["1234"]);
    }

    #[test]
    fn tells_whether_the_next_line_is_read_already() {
        let check = |input: &[u8], capacity: usize, expected: &[bool]| {
            let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), 100);
            let mut found = vec![reader.has_whole_line()];
            while reader.next_line().unwrap().is_some() {
                found.push(reader.has_whole_line());
            }
            assert_eq!(found, expected, "{input:?} through {capacity} bytes");
        };
        // Nothing is read before the first line.
        check(b"a\nb\n", 64, &[false, true, false]);
        check(b"a\nb\nc", 64, &[false, true, false, false]);
        check(b"aa\nbbbbbb\nc\n", 8, &[false, false, true, false]);
        check(b"", 64, &[false]);
    }
}
