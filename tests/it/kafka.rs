//! Kafka for the tests: librdkafka's mock cluster (the real protocol on loopback), owned by
//! the test, and errwatch running as a child process that a test can kill.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::clickhouse::TestDatabase;

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

/// errwatch running `run` as a child process, its log kept for assertions.
pub struct Errwatch {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Errwatch {
    pub fn start(cluster: &Cluster, database: &TestDatabase, topic: &str, group: &str, extra: &[&str]) -> Errwatch {
        Self::start_with_url(cluster, database, &crate::clickhouse::url(), topic, group, extra)
    }

    pub fn start_with_url(
        cluster: &Cluster,
        database: &TestDatabase,
        url: &str,
        topic: &str,
        group: &str,
        extra: &[&str],
    ) -> Errwatch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_errwatch"))
            .arg("run")
            .args(["--kafka-option", "session.timeout.ms=6000", "--kafka-option", "heartbeat.interval.ms=500"])
            .args(["--batch-delay-ms", "200"])
            .args(extra)
            .env("ERRWATCH_KAFKA_BROKERS", &cluster.bootstrap)
            .env("ERRWATCH_KAFKA_TOPICS", topic)
            .env("ERRWATCH_KAFKA_GROUP", group)
            .env("ERRWATCH_CLICKHOUSE_URL", url)
            .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
            .env("ERRWATCH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("errwatch starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let errwatch = Errwatch { child, log, reader: Some(reader) };
        // Its schema is in place once it says it is consuming.
        errwatch.wait_for_log("consuming", 1, Duration::from_secs(60));
        errwatch
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `text` `times` times.
    pub fn wait_for_log(&self, text: &str, times: usize, deadline: Duration) {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self.log_count(text) >= times {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("errwatch did not log {text:?} {times} times within {deadline:?}; its log:\n{}", self.log());
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self, deadline: Duration) -> (Option<i32>, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return (status.code(), self.log());
            }
            assert!(
                started.elapsed() < deadline,
                "errwatch did not exit within {deadline:?} of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident memory of the process, in KiB.
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    }

    /// How many log lines contain `text`.
    pub fn log_count(&self, text: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|line| line.contains(text)).count()
    }
}

impl Drop for Errwatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `condition` holds, polling; panics with `what` at the deadline.
pub fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
