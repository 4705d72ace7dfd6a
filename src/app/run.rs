//! `errwatch run`: the pipeline from Kafka into ClickHouse, with the HTTP server beside it,
//! until SIGTERM or SIGINT.

use std::sync::Arc;

use tracing::info;

use super::HttpSettings;
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
}

/// Consumes until stopped: the pipeline flushes and commits before the HTTP server stops, so
/// `/readyz` and `/metrics` answer to the end.
pub fn command(settings: RunSettings) -> anyhow::Result<()> {
    if settings.pipeline.kafka.topics.is_empty() {
        anyhow::bail!("no topics to consume: set ERRWATCH_KAFKA_TOPICS or --kafka-topics");
    }
    let store = Store::new(settings.store)?;
    let runtime = super::runtime()?;
    let retention_days = settings.pipeline.retention.map(|retention| retention.days);
    runtime.block_on(super::prepare(&store, retention_days))?;
    let metrics = Arc::new(Metrics::new(settings.http.service_cap));
    let server = super::start_http(&runtime, &settings.http, &store, &metrics, true)?;
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals(&runtime);
    let result = pipeline::run(&runtime, store, &settings.pipeline, &metrics, &shutdown);
    drop(signals);
    server.finish(&runtime);
    result?;
    info!("stopped");
    Ok(())
}
