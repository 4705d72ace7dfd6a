//! errwatch's integration tests: one binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod check;
mod classify_cli;
mod classify_rules;
mod clickhouse;
mod contract;
mod corpus;
mod dashboards;
mod demo;
mod generate;
mod http;
mod kafka;
mod page;
mod pipeline;
mod process;
mod prometheus;
mod properties;
mod readme;
mod run_cli;
mod proxy;
mod startup;
mod store;
mod store_cli;
