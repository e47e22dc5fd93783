//! The boundary consumers read through.
//!
//! The aggregator's workers read partitions only through [`PartitionReader`],
//! so that their tests can stand in a scripted log and an external Kafka
//! cluster could replace the embedded one. The embedded [`Log`] implements
//! it by reading segment bytes: what a reader gets is exactly what was
//! stored, whole batches, as a Kafka `Fetch` would return them.

use std::future::Future;
use std::time::Duration;

use crate::error::{LogError, Result};
use crate::log::Log;
use crate::partition::FetchedBatches;

/// Somewhere partitions can be read from, in offset order.
pub trait PartitionReader: Send + Sync + 'static {
    /// How many partitions `topic` has.
    fn partition_count(&self, topic: &str) -> Result<u32>;

    /// The partition's log start offset and high watermark: the readable
    /// offsets are `log_start..high_watermark`.
    fn bounds(&self, topic: &str, partition: u32) -> Result<(u64, u64)>;

    /// Reads whole batches starting with the one holding `offset`, up to
    /// `max_bytes` (at least one batch). Blocking file I/O: call it from a
    /// blocking thread. Fails with [`LogError::OffsetOutOfRange`] when
    /// retention removed `offset` or it is past the high watermark.
    fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<FetchedBatches>;

    /// Resolves once the high watermark passes `offset` or `timeout`
    /// elapses, with the high watermark then.
    fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<u64>> + Send + 'static;
}

impl PartitionReader for Log {
    fn partition_count(&self, topic: &str) -> Result<u32> {
        self.topic(topic)
            .map(|t| t.partitions().len() as u32)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_owned()))
    }

    fn bounds(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        let partition = self.partition(topic, partition)?;
        Ok((partition.log_start(), partition.high_watermark()))
    }

    fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<FetchedBatches> {
        self.partition(topic, partition)?.read(offset, max_bytes)
    }

    fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let partition = self.partition(topic, partition);
        async move { Ok(partition?.wait_for(offset, timeout).await) }
    }
}
