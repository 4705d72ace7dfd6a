//! errwatch finds Microsoft Defender for Endpoint API errors in client logs, classifies them,
//! and stores each one with its correlation id.
//!
//! # Data flow
//!
//! ```text
//! log record ──> extract ──> classify ──> report (errwatch classify: one JSON line per record)
//!   (bytes)      (find the   (canonical
//!                envelope,   code, status,
//!                ids, time)  category, retry)
//! ```
//!
//! A record is bytes: one line of a file or of standard input. `extract` and `classify` are
//! pure functions of those bytes: no IO, no panics, bounded work, whatever the input.
//! ARCHITECTURE.md has the map and the invariants.
//!
//! Modules are declared in the order data flows through them; the value types they share
//! (GUIDs, timestamps, Defender's code table) and the one module that names `serde_json` follow.

pub mod classify;
pub mod commands;
pub mod extract;
pub mod report;

pub mod codes;
pub mod guid;
pub mod json;
pub mod timestamp;

pub use classify::{classify, ApiError, Category, Classification, Retry};
pub use extract::{Family, Limits, Unreadable};
pub use guid::{CorrelationId, Guid};
