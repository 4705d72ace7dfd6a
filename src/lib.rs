//! errwatch finds Microsoft Defender for Endpoint API errors in client logs, classifies them,
//! and stores each one with its correlation id.
//!
//! # Data flow
//!
//! ```text
//! Kafka, files,  ──> source ──> extract ──> classify ──> store (sink) ──> ClickHouse ──> http, lookup
//! stdin              (bytes +   (find the   (canonical   (batched RowBinary
//!                    position)  envelope,   code, status, insert, then the
//!                               ids, time)  category)     positions stored)
//!                                              ├──> metrics (Prometheus, on /metrics)
//!                                              └──> report (errwatch classify: one JSON line per record)
//! ```
//!
//! A record is bytes with a position (an input's identity and line number). `extract` and
//! `classify` are pure functions of those bytes: no IO, no panics, bounded work, whatever the
//! input.
//! ARCHITECTURE.md has the map and the invariants.
//!
//! Modules are declared in the order data flows through them. The application follows: one
//! `shutdown` for every command, `app` (each command's wiring from typed settings) and `cli`
//! (the arguments and configuration file those settings are read from), then the generator of
//! synthetic logs, and last the value types the others share (GUIDs, timestamps, Defender's
//! code table), the one module that names `serde_json` and the word-wise byte search.

pub mod source;
pub mod extract;
pub mod classify;
pub mod pipeline;
pub mod store;
pub mod report;
pub mod metrics;
pub mod http;

pub mod shutdown;
pub mod app;
pub mod cli;
pub mod generate;

pub mod codes;
pub mod guid;
pub mod json;
pub mod pace;
pub mod timestamp;
pub mod byte_search;

pub use classify::{classify, ApiError, Category, Classification, Retry};
pub use extract::{Family, Limits, Unreadable};
pub use guid::{CorrelationId, Guid};
