//! `errwatch serve`: the HTTP API and page over what ClickHouse holds, without consuming.

use std::sync::Arc;

use tracing::info;

use super::{HttpSettings, Prepared, WaitForClickHouse};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{self, Store};

/// Serves until SIGTERM or SIGINT, or until the server fails. The server starts first, so
/// that `/healthz` answers while ClickHouse is waited for.
pub fn command(store: store::Settings, http: &HttpSettings, wait: WaitForClickHouse) -> anyhow::Result<()> {
    let store = Store::new(store)?;
    let runtime = super::runtime()?;
    let metrics = Arc::new(Metrics::new(http.service_cap));
    let mut server = super::start_http(&runtime, http, &store, &metrics, false)?;
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let prepared = runtime.block_on(async {
        tokio::select! {
            prepared = super::prepare(&store, None, wait, &shutdown) => prepared,
            () = server.failed() => Ok(Prepared::Stopped),
        }
    });
    if prepared.as_ref().is_ok_and(|prepared| *prepared == Prepared::Ready) {
        server.prepared();
        runtime.block_on(async {
            tokio::select! {
                () = shutdown.raised() => {}
                () = server.failed() => {}
            }
        });
    }
    drop(signals);
    server.finish(&runtime);
    prepared?;
    info!("stopped");
    Ok(())
}
