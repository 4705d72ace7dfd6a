//! `errwatch migrate`: create the database and tables, or bring them up to date.

use tracing::info;

use super::WaitForClickHouse;
use crate::shutdown::Shutdown;
use crate::store::{self, Store};

/// Creates or migrates the schema, then drops daily partitions older than `retention_days`;
/// waits for an unreachable server as `wait` allows.
pub fn command(store: store::Settings, retention_days: Option<u32>, wait: WaitForClickHouse) -> anyhow::Result<()> {
    let store = Store::new(store)?;
    super::runtime()?.block_on(super::prepare(&store, retention_days, wait, &Shutdown::new()))?;
    info!(url = %store.settings().url, database = %store.settings().database, "schema is up to date");
    Ok(())
}
