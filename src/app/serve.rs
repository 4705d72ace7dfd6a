//! `errwatch serve`: the HTTP API and page over what ClickHouse holds, without consuming.

use std::sync::Arc;

use tracing::info;

use super::HttpSettings;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{self, Store};

/// Serves until SIGTERM or SIGINT, or until the server fails.
pub fn command(store: store::Settings, http: &HttpSettings) -> anyhow::Result<()> {
    let store = Store::new(store)?;
    let runtime = super::runtime()?;
    runtime.block_on(super::prepare(&store, None))?;
    let metrics = Arc::new(Metrics::new(http.service_cap));
    let mut server = super::start_http(&runtime, http, &store, &metrics, false)?;
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    runtime.block_on(async {
        tokio::select! {
            () = shutdown.raised() => {}
            () = server.failed() => {}
        }
    });
    drop(signals);
    server.finish(&runtime);
    info!("stopped");
    Ok(())
}
