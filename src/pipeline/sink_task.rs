//! The sink task: receives items into a batch, stores one batch while the next fills, reports
//! the positions stored, and applies retention while the pipeline runs.

use std::collections::BTreeMap;
use std::sync::mpsc;

use tokio::sync::mpsc as async_mpsc;
use tracing::{info, warn};

use super::{merge, Item, Retention};
use crate::store::{Sink, SinkStore, Store, StoreError, StoredPositions};

/// A batch being stored while the next one fills.
pub(super) type Storing =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<StoredPositions, StoreError>> + Send>>;

/// Receives items into a batch and stores full or old batches, one at a time, while the next
/// batch fills: the consumer keeps reading during an insert, up to one batch ahead. Positions
/// are reported in the order their batches were stored, so none is reported before an
/// earlier batch is in ClickHouse.
pub(super) async fn sink_loop<S: SinkStore>(
    mut sink: Sink<S>,
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::source::Position;
    use crate::store::fake::{FakeStore, Insert, Landed};
    use crate::store::{FailureKind, SinkSettings};

    fn at(source: &str, offset: u64) -> Position {
        Position { source: source.into(), partition: 0, offset }
    }

    fn error(store: &FakeStore, offset: u64) -> Item {
        Item::Error(store.error_row(&at("a", offset)), at("a", offset))
    }

    fn positions(stored: &[(&str, u64)]) -> StoredPositions {
        stored.iter().map(|(source, offset)| (((*source).to_owned(), 0), *offset)).collect()
    }

    fn errors_at(offsets: &[u64]) -> Landed {
        Landed { table: "api_errors", offsets: offsets.iter().map(|offset| ("a".to_owned(), 0, *offset)).collect() }
    }

    /// The sink task on its own, over a fake store: batches of two rows, never due by age.
    struct Running {
        items: async_mpsc::Sender<Vec<Item>>,
        acks: mpsc::Receiver<StoredPositions>,
        task: JoinHandle<Result<(), StoreError>>,
    }

    fn start(store: &FakeStore) -> Running {
        let settings = SinkSettings {
            max_rows: 2,
            max_delay: Duration::from_secs(3600),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..SinkSettings::default()
        };
        let (items, received) = async_mpsc::channel(16);
        let (acks_sender, acks) = mpsc::channel();
        let task = tokio::spawn(sink_loop(Sink::new(store.clone(), settings), received, acks_sender, None));
        Running { items, acks, task }
    }

    /// Lets the sink task run until `ready` answers.
    async fn until<T>(mut ready: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Some(answer) = ready() {
                return answer;
            }
            tokio::task::yield_now().await;
        }
        panic!("the sink task never got there")
    }

    #[tokio::test]
    async fn batches_are_stored_in_order_and_acknowledged_after_their_insert() {
        let store = FakeStore::with_inserts(&[Insert::Transient]).gated();
        let Running { items, acks, task } = start(&store);
        items.send(vec![error(&store, 1), error(&store, 2)]).await.unwrap();
        until(|| (store.insert_attempts() == 1).then_some(())).await;
        items.send(vec![Item::Seen(at("a", 3)), error(&store, 4), error(&store, 5)]).await.unwrap();
        assert!(acks.try_recv().is_err(), "nothing acknowledged while the insert is on its way");
        store.open_gate(1);
        until(|| (store.insert_attempts() == 2).then_some(())).await;
        assert!(acks.try_recv().is_err(), "nothing acknowledged after a failed insert");
        assert_eq!(store.landed(), vec![]);
        store.open_gate(1);
        assert_eq!(until(|| acks.try_recv().ok()).await, positions(&[("a", 2)]));
        assert_eq!(store.landed(), vec![errors_at(&[1, 2])]);
        until(|| (store.insert_attempts() == 3).then_some(())).await;
        assert!(acks.try_recv().is_err(), "the next batch waits for its own insert");
        store.open_gate(1);
        assert_eq!(until(|| acks.try_recv().ok()).await, positions(&[("a", 5)]));
        assert_eq!(store.landed(), vec![errors_at(&[1, 2]), errors_at(&[4, 5])]);
        drop(items);
        task.await.unwrap().unwrap();
        assert_eq!(acks.try_iter().collect::<Vec<_>>(), vec![positions(&[])]);
    }

    #[tokio::test]
    async fn a_flush_is_answered_with_every_position_stored_so_far() {
        let store = FakeStore::default().gated();
        let Running { items, acks, task } = start(&store);
        items.send(vec![error(&store, 1), error(&store, 2)]).await.unwrap();
        until(|| (store.insert_attempts() == 1).then_some(())).await;
        let (reply, replied) = oneshot::channel();
        let quarantined = Item::Quarantine(store.quarantine_row(&at("a", 4)), at("a", 4));
        items.send(vec![Item::Seen(at("b", 7)), error(&store, 3), quarantined, Item::Flush(reply)]).await.unwrap();
        // Once the task holds the flush, it waits there for the batch on its way.
        until(|| (items.capacity() == items.max_capacity()).then_some(())).await;
        store.open_gate(3);
        assert_eq!(replied.await.unwrap(), positions(&[("a", 4), ("b", 7)]));
        let quarantine = Landed { table: "quarantine", offsets: vec![("a".to_owned(), 0, 4)] };
        assert_eq!(store.landed(), vec![errors_at(&[1, 2]), errors_at(&[3]), quarantine]);
        assert!(acks.try_recv().is_err(), "what the flush answered is not acknowledged twice");
        drop(items);
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn closing_the_queue_flushes_what_is_left() {
        let store = FakeStore::default();
        let Running { items, acks, task } = start(&store);
        items.send(vec![error(&store, 1), Item::Seen(at("b", 7))]).await.unwrap();
        drop(items);
        task.await.unwrap().unwrap();
        assert_eq!(acks.try_iter().collect::<Vec<_>>(), vec![positions(&[("a", 1), ("b", 7)])]);
        assert_eq!(store.landed(), vec![errors_at(&[1])]);
    }

    #[tokio::test]
    async fn a_rejected_insert_ends_the_task_and_acknowledges_nothing_of_its_batch() {
        let store = FakeStore::with_inserts(&[Insert::Stores, Insert::Rejected]);
        let Running { items, acks, task } = start(&store);
        items.send(vec![error(&store, 1), error(&store, 2)]).await.unwrap();
        items.send(vec![error(&store, 3), Item::Seen(at("b", 9)), error(&store, 4)]).await.unwrap();
        drop(items);
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), FailureKind::Rejected, "{error}");
        assert_eq!(acks.try_iter().collect::<Vec<_>>(), vec![positions(&[("a", 2)])]);
        assert_eq!(store.landed(), vec![errors_at(&[1, 2])]);
    }
}
