//! The sink task: receives items into a batch, stores one batch while the next fills, reports
//! the positions stored, and applies retention while the pipeline runs.

use std::collections::BTreeMap;
use std::sync::mpsc;

use tokio::sync::mpsc as async_mpsc;
use tracing::{info, warn};

use super::{merge, Item, Retention};
use crate::store::{Sink, Store, StoreError, StoredPositions};

/// A batch being stored while the next one fills.
pub(super) type Storing =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<StoredPositions, StoreError>> + Send>>;

/// Receives items into a batch and stores full or old batches, one at a time, while the next
/// batch fills: the consumer keeps reading during an insert, up to one batch ahead. Positions
/// are reported in the order their batches were stored, so none is reported before an
/// earlier batch is in ClickHouse.
pub(super) async fn sink_loop(
    mut sink: Sink,
    mut items: async_mpsc::Receiver<Vec<Item>>,
    acks: mpsc::Sender<StoredPositions>,
    retention: Option<(Store, Retention)>,
) -> Result<(), StoreError> {
    let mut storing: Option<Storing> = None;
    // Retention was applied at start; the next time is one period later.
    let mut next_retention = retention.as_ref().map(|(_, retention)| tokio::time::Instant::now() + retention.every);
    loop {
        let wait = sink.time_until_due();
        // With a batch in ClickHouse and the next one full, the queue fills up and the
        // consumer pauses: memory stays at two batches and the queue.
        let room = storing.is_none() || !sink.is_full();
        tokio::select! {
            chunk = items.recv(), if room => {
                let Some(chunk) = chunk else {
                    let mut stored = finish(storing.take()).await?;
                    merge(&mut stored, sink.flush().await?);
                    let _ = acks.send(stored);
                    return Ok(());
                };
                for item in chunk {
                    match item {
                        Item::Error(row, position) => sink.add_error(row, &position),
                        Item::Quarantine(row, position) => sink.add_quarantine(row, &position),
                        Item::Seen(position) => sink.saw(&position),
                        Item::Flush(reply) => {
                            let mut stored = finish(storing.take()).await?;
                            merge(&mut stored, sink.flush().await?);
                            let _ = reply.send(stored);
                        }
                    }
                }
            },
            // Polled in place: dropping the future would abandon the insert half way.
            stored = async {
                match storing.as_mut() {
                    Some(storing) => storing.await,
                    None => std::future::pending().await,
                }
            }, if storing.is_some() => {
                storing = None;
                let stored = stored?;
                if !stored.is_empty() {
                    let _ = acks.send(stored);
                }
            },
            () = tokio::time::sleep(wait), if storing.is_none() => {}
            () = sleep_until(next_retention), if next_retention.is_some() => {
                if let Some((store, retention)) = &retention {
                    apply_retention(store, retention.days).await;
                    next_retention = Some(tokio::time::Instant::now() + retention.every);
                }
            }
        }
        if storing.is_none() && sink.is_due() {
            storing = Some(Box::pin(sink.take_batch().store()));
        }
    }
}

/// Sleeps until `when`, or for ever without one.
pub(super) async fn sleep_until(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Drops old partitions; a failure is logged and tried again at the next period, since old
/// data staying a little longer harms nothing.
pub(super) async fn apply_retention(store: &Store, days: u32) {
    match store.drop_partitions_older_than(days).await {
        Ok(dropped) if dropped.is_empty() => {}
        Ok(dropped) => info!(days, partitions = dropped.len(), "applied retention"),
        Err(error) => warn!(days, %error, "cannot apply retention, will try again"),
    }
}

/// Waits for the batch being stored, if any.
pub(super) async fn finish(storing: Option<Storing>) -> Result<StoredPositions, StoreError> {
    match storing {
        Some(storing) => storing.await,
        None => Ok(BTreeMap::new()),
    }
}
