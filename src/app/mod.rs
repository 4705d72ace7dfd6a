//! The commands of the `errwatch` binary, each a function over its inputs and outputs so that
//! tests drive them as the binary does.

pub mod classify;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod lookup;
