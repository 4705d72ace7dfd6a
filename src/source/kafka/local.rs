//! A Kafka cluster inside this process, for `errwatch demo`.

use super::SourceError;

/// A Kafka cluster inside this process: librdkafka's mock brokers, speaking the real protocol
/// on loopback. For `errwatch demo`, where no cluster is at hand; it keeps only the last few
/// MiB of each partition, which a consumer that keeps up never notices.
pub struct LocalCluster {
    cluster: rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster").field("bootstrap", &self.bootstrap()).finish()
    }
}

impl LocalCluster {
    /// One broker and `topic` with `partitions` partitions.
    pub fn start(topic: &str, partitions: i32) -> Result<LocalCluster, SourceError> {
        let cluster = rdkafka::mocking::MockCluster::new(1).map_err(SourceError::Kafka)?;
        cluster.create_topic(topic, partitions, 1).map_err(SourceError::Kafka)?;
        Ok(LocalCluster { cluster })
    }

    /// The address clients connect to.
    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
