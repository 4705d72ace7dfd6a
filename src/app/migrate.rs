//! `errwatch migrate`: create the database and tables, or bring them up to date.

use tracing::info;

use crate::store::{self, Store};

/// Creates or migrates the schema, then drops daily partitions older than `retention_days`.
pub fn command(store: store::Settings, retention_days: Option<u32>) -> anyhow::Result<()> {
    let store = Store::new(store)?;
    super::runtime()?.block_on(super::prepare(&store, retention_days))?;
    info!(url = %store.settings().url, database = %store.settings().database, "schema is up to date");
    Ok(())
}
