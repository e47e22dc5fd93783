//! Partition consumers against a real log: order, tailing, resuming from
//! the sink's checkpoint.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aggregator::consumer::{Consumer, ConsumerConfig, PartitionSink};
use bytes::Bytes;
use log_core::{Log, LogConfig, NewRecord, OpenMode, Record, TopicConfig};

/// Remembers what it saw and "commits" the next offset on close.
struct Collect {
    start: u64,
    seen: Arc<Mutex<Vec<(u32, u64)>>>,
    committed: Arc<Mutex<Vec<(u32, u64)>>>,
    partition: u32,
}

impl PartitionSink for Collect {
    fn start_offset(&self) -> u64 {
        self.start
    }

    fn apply(&mut self, records: Vec<Record>) -> aggregator::Result<()> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(records.iter().map(|r| (self.partition, r.offset)));
        Ok(())
    }

    fn tick(&mut self, _next_offset: u64, _caught_up: bool) -> aggregator::Result<()> {
        Ok(())
    }

    fn tick_interval(&self) -> Duration {
        Duration::from_millis(50)
    }

    fn close(&mut self, next_offset: u64) -> aggregator::Result<()> {
        self.committed
            .lock()
            .unwrap()
            .push((self.partition, next_offset));
        Ok(())
    }
}

fn record(i: u64) -> NewRecord {
    NewRecord {
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(i.to_string())),
        headers: Vec::new(),
    }
}

async fn append(log: &Log, partition: u32, range: std::ops::Range<u64>) {
    for i in range {
        let records = [record(i)];
        log.partition("t", partition)
            .unwrap()
            .append(&records)
            .unwrap()
            .durable()
            .await
            .unwrap();
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_in_order_tails_and_resumes_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenMode::ReadWrite).unwrap();
    let topic = TopicConfig {
        partitions: 2,
        ..TopicConfig::default()
    };
    log.create_topic("t", topic).unwrap();
    append(&log, 0, 0..30).await;
    append(&log, 1, 0..5).await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let committed = Arc::new(Mutex::new(Vec::new()));
    let sinks = |starts: [u64; 2]| {
        let seen = Arc::clone(&seen);
        let committed = Arc::clone(&committed);
        move |partition: u32| {
            Ok(Collect {
                start: starts[partition as usize],
                seen: Arc::clone(&seen),
                committed: Arc::clone(&committed),
                partition,
            })
        }
    };
    let handle = tokio::runtime::Handle::current();
    let consumer = Consumer::start(
        Arc::clone(&log),
        "t",
        ConsumerConfig::default(),
        handle.clone(),
        sinks([0, 0]),
    )
    .unwrap();
    wait_until("the backlog", || seen.lock().unwrap().len() == 35).await;
    // Tailing: records appended after the worker caught up arrive too.
    append(&log, 1, 5..8).await;
    wait_until("the tail", || seen.lock().unwrap().len() == 38).await;
    let progress: Vec<u64> = consumer.progress().map(|(_, p)| p.lag()).collect();
    assert_eq!(progress, vec![0, 0]);
    tokio::task::spawn_blocking(move || consumer.stop())
        .await
        .unwrap()
        .unwrap();

    let by_partition = |p: u32| -> Vec<u64> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect()
    };
    assert_eq!(by_partition(0), (0..30).collect::<Vec<_>>());
    assert_eq!(by_partition(1), (0..8).collect::<Vec<_>>());
    let mut closed = committed.lock().unwrap().clone();
    closed.sort();
    assert_eq!(closed, vec![(0, 30), (1, 8)]);

    // A restart from the checkpoint sees only what came after it.
    seen.lock().unwrap().clear();
    append(&log, 0, 30..32).await;
    let consumer = Consumer::start(
        Arc::clone(&log),
        "t",
        ConsumerConfig::default(),
        handle,
        sinks([30, 8]),
    )
    .unwrap();
    wait_until("the records after the checkpoint", || {
        seen.lock().unwrap().len() == 2
    })
    .await;
    tokio::task::spawn_blocking(move || consumer.stop())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_partition(0), vec![30, 31]);
    assert!(by_partition(1).is_empty());
}
