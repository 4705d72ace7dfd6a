//! Kafka for the tests: librdkafka's mock cluster (the real protocol on loopback), owned by
//! the test.

use std::sync::mpsc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Things a test asks of the cluster, which lives on a thread of its own (it is not `Send`).
enum Fault {
    BrokerDown(i32),
    BrokerUp(i32),
    FetchErrors(usize),
    CommitErrors(usize),
    RoundTrip(Duration),
}

/// A mock Kafka cluster for one test.
pub struct Cluster {
    pub bootstrap: String,
    faults: mpsc::Sender<Option<Fault>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cluster {
    /// Three brokers and one topic with `partitions` partitions.
    pub fn start(topic: &str, partitions: i32) -> Cluster {
        let (ready, bootstrap) = mpsc::channel();
        let (faults, requests) = mpsc::channel::<Option<Fault>>();
        let topic = topic.to_owned();
        let thread = std::thread::spawn(move || {
            let cluster = MockCluster::new(3).expect("mock cluster starts");
            cluster.create_topic(&topic, partitions, 1).expect("topic created");
            ready.send(cluster.bootstrap_servers()).unwrap();
            while let Ok(Some(fault)) = requests.recv() {
                use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
                match fault {
                    Fault::BrokerDown(id) => cluster.broker_down(id).unwrap(),
                    Fault::BrokerUp(id) => cluster.broker_up(id).unwrap(),
                    Fault::FetchErrors(count) => cluster.request_errors(
                        RDKafkaApiKey::Fetch,
                        &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; count],
                    ),
                    Fault::CommitErrors(count) => cluster.request_errors(
                        RDKafkaApiKey::OffsetCommit,
                        &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION; count],
                    ),
                    Fault::RoundTrip(delay) => {
                        for broker in 1..=3 {
                            cluster.broker_round_trip_time(broker, delay).unwrap();
                        }
                    }
                }
            }
        });
        let bootstrap = bootstrap.recv().expect("cluster thread ready");
        Cluster { bootstrap, faults, thread: Some(thread) }
    }

    pub fn broker_down(&self, id: i32) {
        self.faults.send(Some(Fault::BrokerDown(id))).unwrap();
    }

    pub fn broker_up(&self, id: i32) {
        self.faults.send(Some(Fault::BrokerUp(id))).unwrap();
    }

    pub fn fetch_errors(&self, count: usize) {
        self.faults.send(Some(Fault::FetchErrors(count))).unwrap();
    }

    pub fn commit_errors(&self, count: usize) {
        self.faults.send(Some(Fault::CommitErrors(count))).unwrap();
    }

    pub fn round_trip(&self, delay: Duration) {
        self.faults.send(Some(Fault::RoundTrip(delay))).unwrap();
    }

    pub fn producer(&self) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("message.max.bytes", "8000000")
            .set("linger.ms", "5")
            .create()
            .expect("producer")
    }

    /// Sends records to explicit partitions and waits until all are acknowledged.
    pub fn produce(&self, producer: &BaseProducer, topic: &str, records: &[(i32, Vec<u8>)]) {
        for (partition, payload) in records {
            let mut record = BaseRecord::<(), [u8]>::to(topic).partition(*partition).payload(payload.as_slice());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((error, returned)) => {
                        assert!(
                            matches!(
                                error,
                                rdkafka::error::KafkaError::MessageProduction(
                                    rdkafka::types::RDKafkaErrorCode::QueueFull
                                )
                            ),
                            "produce failed: {error}"
                        );
                        producer.poll(Duration::from_millis(10));
                        record = returned;
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).expect("all records acknowledged");
    }

    /// Reads `topic` from the beginning until `count` records arrived or `deadline` passed;
    /// returns each record's key and payload.
    pub fn consume(&self, topic: &str, partitions: i32, count: usize, deadline: Duration) -> Vec<(Vec<u8>, Vec<u8>)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition_offset(topic, partition, Offset::Beginning).unwrap();
        }
        consumer.assign(&list).expect("partitions assigned");
        let started = std::time::Instant::now();
        let mut records = Vec::new();
        while records.len() < count && started.elapsed() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                let message = message.expect("a record");
                records
                    .push((message.key().unwrap_or_default().to_vec(), message.payload().unwrap_or_default().to_vec()));
            }
        }
        records
    }

    /// The group's committed offset (the next record to read) per partition.
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let committed = consumer.committed_offsets(list, Duration::from_secs(10)).expect("committed offsets");
        (0..partitions)
            .map(|partition| match committed.find_partition(topic, partition).map(|element| element.offset()) {
                Some(Offset::Offset(offset)) => offset,
                _ => -1,
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.faults.send(None);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
