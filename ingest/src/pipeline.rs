//! From a decoded request to durable records: admit it against the
//! in-flight budget, validate and split it per resource, append one batch
//! per partition, and answer only when every append is durable.
//!
//! Backpressure: request bytes between the receivers and the log are
//! bounded by `max_inflight_bytes`. A request that does not fit is refused
//! at once with a retry hint (429 / `UNAVAILABLE`), before anything of it is
//! stored, so a stalled log never makes memory grow and never loses what
//! was acknowledged. The budget is released only when the request's
//! appends are durable (or failed) — even when the client gave up waiting
//! (an exporter's timeout): its appends are in the log's hands by then, so
//! the wait for them runs on a task of its own that holds the budget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log_core::{AppendInfo, Appender, LogError, NewRecord};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::IngestError;
use crate::limits::Limits;
use crate::signal::{Export, Signal};
use crate::split;
use crate::telemetry;

/// The budget counts KiB, so that a 64 MiB request is 65,536 permits.
const BUDGET_UNIT: usize = 1024;

/// Settings of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub limits: Limits,
    /// Bound on request bytes (decoded) between receivers and the log.
    pub max_inflight_bytes: usize,
    /// The retry hint given with 429 and 503 answers.
    pub retry_after: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            limits: Limits::default(),
            max_inflight_bytes: 256 << 20,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// The outcome of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub accepted: u64,
    pub rejected: u64,
    /// Why items were rejected; empty when none were.
    pub message: String,
}

/// The shared ingest pipeline, generic over where records go.
pub struct Pipeline<A> {
    log: Arc<A>,
    config: PipelineConfig,
    budget: Arc<Semaphore>,
    budget_permits: usize,
}

impl<A: Appender> Pipeline<A> {
    pub fn new(log: Arc<A>, config: PipelineConfig) -> Pipeline<A> {
        let budget_permits = (config.max_inflight_bytes / BUDGET_UNIT).max(1);
        Pipeline {
            log,
            budget: Arc::new(Semaphore::new(budget_permits)),
            budget_permits,
            config,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    pub fn retry_after(&self) -> Duration {
        self.config.retry_after
    }

    /// Request bytes currently between the receivers and the log.
    pub fn inflight_bytes(&self) -> usize {
        inflight_bytes(&self.budget, self.budget_permits)
    }

    /// Stores `request` for `tenant`; `request_bytes` is its decoded size.
    pub async fn export<R: Export>(
        &self,
        tenant: &str,
        request: R,
        request_bytes: usize,
    ) -> Result<Accepted, IngestError> {
        let signal = R::SIGNAL;
        telemetry::received(signal, request_bytes);
        let permits = request_bytes
            .div_ceil(BUDGET_UNIT)
            .clamp(1, self.budget_permits) as u32;
        let permit = Arc::clone(&self.budget)
            .try_acquire_many_owned(permits)
            .map_err(|_| IngestError::Overloaded {
                reason: format!(
                    "ingest is at its in-flight bound of {} bytes; retry later",
                    self.config.max_inflight_bytes
                ),
                retry_after: self.config.retry_after,
            })?;
        telemetry::inflight(self.inflight_bytes());

        let topic = signal.topic();
        let partitions = self
            .log
            .partition_count(topic)
            .map_err(|e| self.unavailable(e))?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (mut received, mut accepted, mut rejected, mut truncated) = (0u64, 0u64, 0u64, 0u64);
        let mut first_error = None;
        let mut by_partition: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
        for mut resource in request.into_resources() {
            received += R::count(&resource) as u64;
            let verdict = R::validate(&mut resource, &self.config.limits);
            rejected += verdict.rejected;
            truncated += verdict.truncated_values;
            if first_error.is_none() {
                first_error = verdict.first_error;
            }
            if R::count(&resource) == 0 {
                continue;
            }
            let routed = split::route::<R>(resource, partitions, tenant, now_ms);
            accepted += routed.items as u64;
            by_partition
                .entry(routed.partition)
                .or_default()
                .push(routed.record);
        }

        let started = Instant::now();
        // Every append is issued before any is awaited, so the partitions'
        // group commits overlap.
        let appends: Vec<_> = by_partition
            .iter()
            .map(|(&partition, records)| self.log.append(topic, partition, records))
            .collect();
        // The log has its own copy now; the request's can go while we wait.
        drop(by_partition);
        let outcome = tokio::spawn(durable(
            appends,
            permit,
            Arc::clone(&self.budget),
            self.budget_permits,
            signal,
            started,
        ))
        .await
        .map_err(|e| IngestError::Internal(format!("waiting for the log failed: {e}")))?;
        for result in outcome {
            result.map_err(|e| self.append_failed(e))?;
        }
        telemetry::items(signal, received, accepted, rejected, truncated);
        let message = match first_error {
            Some(reason) => format!(
                "rejected {rejected} of {received} {}: {reason}",
                signal.items()
            ),
            None => String::new(),
        };
        Ok(Accepted {
            accepted,
            rejected,
            message,
        })
    }

    fn unavailable(&self, error: LogError) -> IngestError {
        IngestError::Unavailable {
            reason: format!("the log is unavailable: {}", error.chain()),
            retry_after: self.config.retry_after,
        }
    }

    fn append_failed(&self, error: LogError) -> IngestError {
        match &error {
            LogError::RecordTooLarge { .. } | LogError::BatchTooLarge { .. } => {
                IngestError::TooLarge(format!("a resource is too large to store: {error}"))
            }
            LogError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                IngestError::Unavailable {
                    reason: format!("the disk is full: {}", error.chain()),
                    retry_after: self.config.retry_after,
                }
            }
            LogError::Io { .. }
            | LogError::PartitionFailed { .. }
            | LogError::ShuttingDown
            | LogError::UnknownTopic(_) => self.unavailable(error),
            _ => IngestError::Internal(error.chain()),
        }
    }
}

/// Waits for a request's appends and only then gives its budget back. It
/// runs on a task of its own, so that a client that stops waiting (and so
/// drops the request's future) does not free the budget of appends the log
/// still holds.
async fn durable<F: Future<Output = log_core::Result<AppendInfo>>>(
    appends: Vec<F>,
    permit: OwnedSemaphorePermit,
    budget: Arc<Semaphore>,
    budget_permits: usize,
    signal: Signal,
    started: Instant,
) -> Vec<log_core::Result<AppendInfo>> {
    let outcome = futures::future::join_all(appends).await;
    telemetry::append(signal, started.elapsed());
    drop(permit);
    telemetry::inflight(inflight_bytes(&budget, budget_permits));
    outcome
}

fn inflight_bytes(budget: &Semaphore, budget_permits: usize) -> usize {
    (budget_permits - budget.available_permits()) * BUDGET_UNIT
}
