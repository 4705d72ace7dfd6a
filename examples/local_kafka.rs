//! A Kafka cluster in a process of its own, for scripts that need one on this machine without
//! a Kafka installation: librdkafka's mock brokers (the library's `LocalCluster`), speaking the
//! real protocol on loopback. Used by scripts/soak.sh, which kills and restarts `errwatch run`
//! while the cluster, and with it the records and committed offsets, stays up.
//!
//! ```text
//! local_kafka [--topic mde-client-logs] [--partitions 6]
//! ```
//!
//! It creates the topic, prints the bootstrap address as one line on standard output, and
//! stays up until standard input is closed or it is killed. A script keeps a pipe to its
//! standard input open, so the cluster goes away with the script even when the script itself
//! is killed and its clean-up never runs.
//!
//! The mock keeps only the last 5 MiB (of compressed record batches) of each partition: a
//! consumer that is down for longer than that takes to fill loses the oldest records.

use std::io::{self, Write};

use clap::Parser;

use errwatch::source::kafka::LocalCluster;

#[derive(Parser)]
#[command(about = "A local Kafka cluster (librdkafka's mock brokers) until standard input closes")]
struct Args {
    /// The topic to create
    #[arg(long, default_value = "mde-client-logs")]
    topic: String,
    /// Its number of partitions
    #[arg(long, default_value_t = 6)]
    partitions: i32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cluster = LocalCluster::start(&args.topic, args.partitions)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", cluster.bootstrap())?;
    out.flush()?;
    drop(out);
    // Whatever arrives on standard input is ignored; its end is the signal to stop.
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    drop(cluster);
    Ok(())
}
