//! Weir's own partition workers as Kafka consumer groups: every
//! [`MIRROR_INTERVAL`] the offset each log indexer and metric worker will
//! read next is committed to the log's offset store under
//! [`LOGS_GROUP`] and [`METRICS_GROUP`], so Kafka tools (`kcat -L`,
//! `kafka-consumer-groups`, ListGroups/OffsetFetch) show them with their
//! lag beside every other group. The workers' own checkpoints stay the
//! source of truth for where they resume; this is a view.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aggregator::consumer::{Consumer, Progress};
use log_core::Log;
use tracing::warn;

/// The consumer group the log indexers appear as.
pub const LOGS_GROUP: &str = "weir-logs-indexer";
/// The consumer group the metric workers appear as.
pub const METRICS_GROUP: &str = "weir-metrics-windows";
/// How often positions are committed.
pub const MIRROR_INTERVAL: Duration = Duration::from_secs(5);

/// One worker's position, by group, topic and partition.
pub struct Position {
    group: &'static str,
    topic: String,
    partition: u32,
    progress: Arc<Progress>,
    committed: Option<u64>,
}

/// The positions of `consumer`'s workers under `group`.
pub fn positions(group: &'static str, consumer: &Consumer) -> Vec<Position> {
    consumer
        .progress()
        .map(|(partition, progress)| Position {
            group,
            topic: consumer.topic().to_owned(),
            partition,
            progress: Arc::clone(progress),
            committed: None,
        })
        .collect()
}

/// (group, topic, partition, progress) of each position, for status pages.
pub fn progress(positions: &[Position]) -> Vec<(&'static str, String, u32, Arc<Progress>)> {
    positions
        .iter()
        .map(|p| {
            (
                p.group,
                p.topic.clone(),
                p.partition,
                Arc::clone(&p.progress),
            )
        })
        .collect()
}

/// Commits changed positions every [`MIRROR_INTERVAL`] until `stopped`.
pub async fn mirror(
    log: Arc<Log>,
    mut positions: Vec<Position>,
    stopped: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(MIRROR_INTERVAL);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return,
            _ = tick.tick() => {}
        }
        let Some(offsets) = log.consumer_offsets() else {
            return;
        };
        for position in &mut positions {
            let next = position.progress.next_offset.load(Ordering::Relaxed);
            if position.committed == Some(next) {
                continue;
            }
            match offsets
                .commit(
                    position.group,
                    &position.topic,
                    position.partition,
                    next,
                    "weir worker",
                )
                .await
            {
                Ok(()) => position.committed = Some(next),
                Err(error) => {
                    warn!(%error, group = position.group, "worker position not committed")
                }
            }
        }
    }
}
