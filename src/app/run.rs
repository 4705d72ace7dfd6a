//! `errwatch run`: the pipeline from Kafka into ClickHouse, with the HTTP server beside it,
//! until SIGTERM or SIGINT.

use std::sync::Arc;

use tracing::info;

use super::{HttpSettings, Prepared, WaitForClickHouse};
use crate::metrics::Metrics;
use crate::pipeline::{self, PipelineSettings};
use crate::shutdown::Shutdown;
use crate::store::{self, Store};

/// Everything `errwatch run` is configured with.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub pipeline: PipelineSettings,
    pub store: store::Settings,
    pub http: HttpSettings,
    /// How long to wait for ClickHouse at start.
    pub wait: WaitForClickHouse,
}

/// Consumes until stopped: the pipeline flushes and commits before the HTTP server stops, so
/// `/readyz` and `/metrics` answer to the end. The server starts first, so that `/healthz`
/// answers while ClickHouse is waited for.
pub fn command(settings: RunSettings) -> anyhow::Result<()> {
    if settings.pipeline.kafka.topics.is_empty() {
        anyhow::bail!("no topics to consume: set ERRWATCH_KAFKA_TOPICS or --kafka-topics");
    }
    let store = Store::new(settings.store)?;
    let runtime = super::runtime()?;
    let metrics = Arc::new(Metrics::new(settings.http.service_cap));
    let server = super::start_http(&runtime, &settings.http, &store, &metrics, true)?;
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let retention_days = settings.pipeline.retention.map(|retention| retention.days);
    let result = match runtime.block_on(super::prepare(&store, retention_days, settings.wait, &shutdown)) {
        Ok(Prepared::Ready) => {
            server.prepared();
            pipeline::run(&runtime, store, &settings.pipeline, &metrics, &shutdown).map_err(anyhow::Error::from)
        }
        Ok(Prepared::Stopped) => Ok(()),
        Err(error) => Err(error),
    };
    drop(signals);
    server.finish(&runtime);
    result?;
    info!("stopped");
    Ok(())
}
