//! Sources: where records come from, each with its position, so that what is stored can say
//! exactly which input it came from and a rerun can resume after it.
//!
//! - `lines`: a byte stream split into records, one per line, with constant memory.
//! - `file`: log files (plain or gzip) and standard input, with a content-based identity.

pub mod file;
pub mod kafka;
pub mod lines;

/// Where a record came from: a Kafka topic partition and offset, or a file and line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// The topic, or `file:<identity>` for files and standard input.
    pub source: String,
    pub partition: i32,
    pub offset: u64,
}
