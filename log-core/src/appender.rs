//! The boundary producers append through.
//!
//! Ingest writes to the log only through [`Appender`], so that its tests can
//! stand in a stalled or failing log, and an external Kafka cluster could
//! replace the embedded log without ingest changing. The embedded [`Log`]
//! implements it: the records are encoded on the caller's task, appended at
//! once, and the future resolves when the durability policy holds.

use std::future::Future;

use crate::batch::NewRecord;
use crate::error::Result;
use crate::log::Log;
use crate::partition::AppendInfo;

/// The record header that carries the tenant a record belongs to, set by
/// ingest from the client's credentials and read by every later stage.
pub const TENANT_HEADER: &str = "weir.tenant";

/// The tenant of records without a [`TENANT_HEADER`], and of every request
/// when ingest has no tokens configured.
pub const DEFAULT_TENANT: &str = "default";

/// Somewhere records can be appended durably.
pub trait Appender: Send + Sync + 'static {
    /// How many partitions `topic` has.
    fn partition_count(&self, topic: &str) -> Result<u32>;

    /// Appends `records` to one partition as one batch. The append happens
    /// when this is called; the future resolves once it is acknowledged
    /// (durable under the log's policy), with the offsets it was given.
    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
    ) -> impl Future<Output = Result<AppendInfo>> + Send + 'static;
}

impl Appender for Log {
    fn partition_count(&self, topic: &str) -> Result<u32> {
        self.topic(topic)
            .map(|t| t.partitions().len() as u32)
            .ok_or_else(|| crate::error::LogError::UnknownTopic(topic.to_owned()))
    }

    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
    ) -> impl Future<Output = Result<AppendInfo>> + Send + 'static {
        let pending = self
            .partition(topic, partition)
            .and_then(|p| p.append(records));
        async move { pending?.durable().await }
    }
}
