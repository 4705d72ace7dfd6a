//! Sources: where records come from, each with its position, so that what is stored can say
//! exactly which input it came from and a rerun can resume after it.
//!
//! - `lines`: a byte stream split into records, one per line, with constant memory.
//! - `file`: log files (plain or gzip) and standard input, with a content-based identity.

pub mod file;
pub mod kafka;
pub mod lines;
