//! Log files and standard input as sources, plain or gzip.
//!
//! A file's identity is a hash of its first KiB of content (after decompression), not its
//! path: the same log copied elsewhere, or rotated and compressed, is recognised as the same
//! input, and a log that grew keeps its identity, so ingesting it again resumes after the last
//! line already stored. (A log shorter than a KiB that grows gets a new identity; its lines are
//! then stored again. Logs start with timestamps, so two different logs rarely share a KiB.)

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

/// Bytes read to compute an input's identity.
const IDENTITY_PREFIX: usize = 1024;

/// Read buffer for files.
const READ_BUFFER: usize = 256 * 1024;

/// One input to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    /// `-` is standard input, anything else a path.
    pub fn parse(argument: &str) -> InputPath {
        if argument == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(PathBuf::from(argument))
        }
    }

    pub fn display(&self) -> String {
        match self {
            InputPath::Stdin => "standard input".to_owned(),
            InputPath::File(path) => path.display().to_string(),
        }
    }
}

/// An input's content, buffered: a reader can see what the buffer holds without a read that
/// may wait.
pub type InputReader = BufReader<Box<dyn Read + Send>>;

/// An opened input: its records as a buffered stream, its identity, and its size on disk when
/// known (for progress).
pub struct OpenedInput {
    pub reader: InputReader,
    /// `file:<16 hex digits>`, the `source` of everything stored from this input.
    pub identity: String,
    pub compressed_size: Option<u64>,
    /// Bytes of the input as it arrives (compressed, for gzip) taken by reading so far: the
    /// share read, for progress, and where a damaged input stopped being readable.
    pub bytes_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for OpenedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedInput").field("identity", &self.identity).finish_non_exhaustive()
    }
}

/// Opens an input, undoing gzip when the content starts with its magic bytes.
pub fn open(input: &InputPath) -> io::Result<OpenedInput> {
    let bytes_read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (raw, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        InputPath::Stdin => (Box::new(io::stdin()), None),
        InputPath::File(path) => {
            let file = File::open(path)?;
            let size = file.metadata().ok().map(|metadata| metadata.len());
            (Box::new(file), size)
        }
    };
    // Counted above the buffer, as the decoder takes bytes: what the buffer read ahead of it
    // says nothing of where a damaged stream broke.
    let mut counted = Counting { inner: BufReader::with_capacity(READ_BUFFER, raw), count: bytes_read.clone() };
    let is_gzip = counted.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut content: Box<dyn Read + Send> =
        if is_gzip { Box::new(MultiGzDecoder::new(counted)) } else { Box::new(counted) };
    let mut prefix = Vec::with_capacity(IDENTITY_PREFIX);
    content.by_ref().take(IDENTITY_PREFIX as u64).read_to_end(&mut prefix)?;
    let identity = format!("file:{:016x}", fnv1a(&prefix));
    let content: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(content));
    let reader = BufReader::with_capacity(READ_BUFFER, content);
    Ok(OpenedInput { reader, identity, compressed_size: size, bytes_read })
}

/// Whether `path` names a file that can be read, for a clear message before any work: a
/// directory opens like a file, and fails only at the first read.
pub fn check_readable(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a directory, not a file; name the files in it"));
    }
    Ok(())
}

struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count.fetch_add(read as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(read)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.count.fetch_add(amount as u64, std::sync::atomic::Ordering::Relaxed);
        self.inner.consume(amount);
    }
}

/// FNV-1a, 64 bits: stable across Rust versions and machines, unlike the standard hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn identity_follows_content_not_path_nor_compression() {
        let directory = std::env::temp_dir().join(format!("errwatch-file-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let plain = directory.join("a.log");
        let copy = directory.join("b.log");
        let grown = directory.join("c.log");
        let compressed = directory.join("a.log.gz");
        std::fs::write(&plain, b"one\ntwo\n").unwrap();
        std::fs::write(&copy, b"one\ntwo\n").unwrap();
        std::fs::write(&grown, b"one\ntwo\nthree\n").unwrap();
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&compressed).unwrap(), flate2::Compression::fast());
        encoder.write_all(b"one\ntwo\n").unwrap();
        encoder.finish().unwrap();

        let identity = |path: &PathBuf| open(&InputPath::File(path.clone())).unwrap().identity;
        assert_eq!(identity(&plain), identity(&copy));
        assert_eq!(identity(&plain), identity(&compressed));
        assert_ne!(identity(&plain), identity(&grown), "short files are identified by all their content");
        let long = "x".repeat(2000);
        std::fs::write(&plain, format!("{long}\n")).unwrap();
        std::fs::write(&grown, format!("{long}\nmore\n")).unwrap();
        assert_eq!(identity(&plain), identity(&grown), "a log that grew is the same log");

        let mut content = String::new();
        open(&InputPath::File(compressed)).unwrap().reader.read_to_string(&mut content).unwrap();
        assert_eq!(content, "one\ntwo\n");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    /// Where a corrupt gzip stops being readable is told by the bytes its decoder took, not by
    /// how far the read buffer reached ahead of it.
    #[test]
    fn bytes_read_stop_where_a_gzip_is_corrupt() {
        let path = std::env::temp_dir().join(format!("errwatch-file-corrupt-{}.gz", std::process::id()));
        // Two members, as `cat a.gz b.gz` makes; the second one's header is damaged.
        let member = |lines: std::ops::Range<u64>| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let mut seed: u64 = 11;
            for line in lines {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                writeln!(encoder, "2026-11-26T10:00:00Z worker {line} did {seed:016x}").unwrap();
            }
            encoder.finish().unwrap()
        };
        let mut compressed = member(0..30_000);
        let corrupt = compressed.len();
        assert!(corrupt > READ_BUFFER, "{corrupt} bytes");
        compressed.extend(member(30_000..60_000));
        compressed.splice(corrupt..corrupt + 2, [0, 0]);
        std::fs::write(&path, &compressed).unwrap();

        let opened = open(&InputPath::File(path.clone())).unwrap();
        let mut reader = opened.reader;
        let mut content = Vec::new();
        let error = reader.read_to_end(&mut content).unwrap_err();
        let reached = opened.bytes_read.load(std::sync::atomic::Ordering::Relaxed) as usize;
        std::fs::remove_file(&path).unwrap();
        assert!((corrupt..corrupt + 16).contains(&reached), "{error} at byte {reached}, corrupt at {corrupt}");
        assert_eq!(content.iter().filter(|&&byte| byte == b'\n').count(), 30_000, "the first member is read whole");
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
