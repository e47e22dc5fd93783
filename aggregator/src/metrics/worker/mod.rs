//! Metric workers: one per `otlp_metrics` partition, rolling OTLP points
//! into event-time windows and handing closed windows to the store.
//!
//! # Data path
//! A record (one resource's `ExportMetricsServiceRequest`, its tenant in
//! the `weir.tenant` header) is decoded, each point finds its series
//! ([`series`]), becomes a window update ([`points`]) in the open tier-0
//! window of its event time ([`tiers`]), and after the record the
//! watermark moves to the newest event time seen; windows it passed by
//! more than the allowed lateness close, are published to the
//! [`WindowOutput`] (visible to queries at once) and roll up into the
//! coarser tiers.
//!
//! # Watermark
//! The partition's watermark is the newest point time it has applied. A
//! point whose tier-0 window has closed is late: dropped and counted. A
//! point more than [`FUTURE_TOLERANCE_MS`] past the wall clock is dropped
//! too, so one client's wrong clock cannot close everyone's windows. When
//! the worker has caught up and no record arrived for a window length
//! plus the lateness, the watermark follows the wall clock, so the last
//! windows of a quiet partition still close.
//!
//! # Exactly once
//! Every [`checkpoint_interval`](WindowConfig::checkpoint_interval) the
//! worker asks the output to persist what it published, then writes its
//! checkpoint ([`checkpoint`]): the next offset with every open window and
//! every series' counter state. On start it restores the checkpoint, asks
//! the output to forget windows persisted after it, and replays the log
//! from its offset; replay is deterministic (event time only), so the
//! windows come out the same as in an uninterrupted run.

mod checkpoint;
mod points;
mod series;
mod tiers;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_core::Record;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tracing::warn;

use self::series::{ResourceContext, SeriesTable, Slot};
use self::tiers::Tiers;
use crate::clock::now_nanos;
use crate::consumer::PartitionSink;
use crate::error::Result;
use crate::metrics::cardinality::{Cardinality, Refusal};
use crate::metrics::source::MetricMetadata;
use crate::metrics::window::{Accumulator, ClosedWindow, SeriesKind};
use crate::telemetry;

/// How far past the wall clock a point may be stamped.
pub const FUTURE_TOLERANCE_MS: i64 = 60_000;

/// How far a partition's windows have got: the next offset to consume
/// and how far tier-0 windows are closed. A worker's checkpoint records
/// the mark its windows were persisted at; marks only grow, and two
/// persists that store different windows have different marks (windows
/// closing without a new record still move `closed_through_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub next_offset: u64,
    /// End of the newest closed tier-0 window; `i64::MIN` before any.
    pub closed_through_ms: i64,
}

/// Where closed windows go: the window store, or a test's fake.
pub trait WindowOutput: Send + Sync + 'static {
    /// Forgets persisted windows of `partition` stored after `mark` (the
    /// mark of the worker's checkpoint), before the worker replays.
    fn recover_partition(&self, partition: u32, mark: Mark) -> Result<()>;
    /// Makes closed windows of `tier` visible to queries.
    fn publish(&self, partition: u32, tier: usize, windows: Vec<ClosedWindow>);
    /// Durably stores everything `partition` published, tagged with the
    /// mark its checkpoint is about to record.
    fn persist(&self, partition: u32, mark: Mark) -> Result<()>;
    /// Metric metadata seen for `tenant`.
    fn publish_metadata(&self, tenant: &str, metadata: Vec<MetricMetadata>);
}

/// How workers roll points into windows.
#[derive(Debug, Clone)]
pub struct WindowConfig {
    /// Window length per tier, finest first, each a multiple of the one
    /// before (the store's tiers).
    pub tiers_ms: Vec<i64>,
    /// How long after a window's end a point may still update it.
    pub lateness: Duration,
    /// HdrHistogram significant figures (1..=5).
    pub figures: u8,
    /// How often a worker persists its windows and checkpoints; bounds
    /// what a restart replays.
    pub checkpoint_interval: Duration,
    /// A series with no point for this long (event time) is forgotten,
    /// freeing its place under the cardinality limits.
    pub series_idle: Duration,
}

impl Default for WindowConfig {
    fn default() -> WindowConfig {
        WindowConfig {
            tiers_ms: vec![10_000, 60_000, 3_600_000],
            lateness: Duration::from_secs(5),
            figures: crate::metrics::distribution::DEFAULT_FIGURES,
            checkpoint_interval: Duration::from_secs(30),
            series_idle: Duration::from_secs(3 * 3600),
        }
    }
}

/// Why a point was not applied.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DropReason {
    Late,
    Future,
    Malformed,
    Refused(Refusal),
}

/// Points dropped since the counters were last flushed to `/metrics`.
#[derive(Debug, Default)]
struct Drops {
    late: u64,
    future: u64,
    malformed: u64,
    tenant_limit: u64,
    metric_limit: u64,
}

/// Everything a partition's worker holds between records; what its
/// checkpoint saves.
#[derive(Debug)]
pub(crate) struct PartitionState {
    series: SeriesTable,
    tiers: Tiers,
    /// Newest point time applied from the current record, milliseconds.
    newest_ms: i64,
    /// The wall clock while applying, for the future check.
    now_ms: i64,
    drops: Drops,
    /// A reusable buffer for digesting attributes.
    scratch: Vec<u8>,
}

impl PartitionState {
    fn new(config: &WindowConfig) -> PartitionState {
        PartitionState {
            series: SeriesTable::default(),
            tiers: Tiers::new(
                config.tiers_ms.clone(),
                config.lateness.as_millis() as i64,
                config.figures,
            ),
            newest_ms: i64::MIN,
            now_ms: 0,
            drops: Drops::default(),
            scratch: Vec::with_capacity(512),
        }
    }

    /// The open tier-0 window for a point of `slot` at `time_ms`; `None`
    /// (and the drop counted) when the point is late or from the future.
    fn open_window(
        &mut self,
        slot: Slot,
        kind: SeriesKind,
        time_ms: i64,
    ) -> Option<&mut Accumulator> {
        if time_ms > self.now_ms + FUTURE_TOLERANCE_MS {
            self.drop_point(DropReason::Future);
            return None;
        }
        if self.tiers.is_closed(time_ms) {
            self.drop_point(DropReason::Late);
            return None;
        }
        self.newest_ms = self.newest_ms.max(time_ms);
        self.tiers.window(slot, kind, time_ms)
    }

    /// A cumulative series' first point counts whole when its start is
    /// after this (see [`points`]).
    fn first_point_horizon(&self, time_ms: i64) -> i64 {
        if self.tiers.closed_through_ms == i64::MIN {
            time_ms - self.tiers.lengths[0] - self.tiers.lateness_ms
        } else {
            self.tiers.closed_through_ms
        }
    }

    fn drop_point(&mut self, reason: DropReason) {
        let drops = &mut self.drops;
        match reason {
            DropReason::Late => drops.late += 1,
            DropReason::Future => drops.future += 1,
            DropReason::Malformed => drops.malformed += 1,
            DropReason::Refused(Refusal::TenantLimit) => drops.tenant_limit += 1,
            DropReason::Refused(Refusal::MetricLimit) => drops.metric_limit += 1,
        }
    }
}

/// The [`PartitionSink`] of one `otlp_metrics` partition.
pub struct MetricsWorker {
    partition: u32,
    config: WindowConfig,
    state: PartitionState,
    output: Arc<dyn WindowOutput>,
    cardinality: Arc<Cardinality>,
    checkpoint_path: PathBuf,
    /// The offset the last checkpoint recorded.
    checkpointed: u64,
    last_checkpoint: Instant,
    last_record: Instant,
    /// Hashes of (tenant, metric name) whose metadata was published.
    described: HashSet<u64, rustc_hash::FxBuildHasher>,
}

impl MetricsWorker {
    /// Restores partition `partition`'s checkpoint from `dir` (if any) and
    /// tells `output` to forget windows persisted after it.
    pub fn open(
        partition: u32,
        dir: PathBuf,
        config: WindowConfig,
        output: Arc<dyn WindowOutput>,
        cardinality: Arc<Cardinality>,
    ) -> Result<MetricsWorker> {
        let checkpoint_path = dir.join(format!("p{partition}.checkpoint"));
        let mut state = PartitionState::new(&config);
        let checkpointed = checkpoint::restore(&checkpoint_path, &mut state, &cardinality)?;
        let mark = Mark {
            next_offset: checkpointed,
            closed_through_ms: state.tiers.closed_through_ms,
        };
        output.recover_partition(partition, mark)?;
        Ok(MetricsWorker {
            partition,
            config,
            state,
            output,
            cardinality,
            checkpoint_path,
            checkpointed,
            last_checkpoint: Instant::now(),
            last_record: Instant::now(),
            described: HashSet::default(),
        })
    }

    /// Series this worker holds.
    pub fn series(&self) -> usize {
        self.state.series.len()
    }

    fn apply_record(&mut self, record: &Record) {
        let value = record.value.as_deref().unwrap_or_default();
        let request = match ExportMetricsServiceRequest::decode(value) {
            Ok(request) => request,
            Err(e) => {
                warn!(partition = self.partition, offset = record.offset, error = %e,
                    "an otlp_metrics record is not an ExportMetricsServiceRequest; skipped");
                metrics::counter!(telemetry::METRIC_SKIPPED_RECORDS_TOTAL).increment(1);
                return;
            }
        };
        let tenant = record.tenant();
        for resource_metrics in &request.resource_metrics {
            let attributes = resource_metrics
                .resource
                .as_ref()
                .map_or(&[][..], |r| r.attributes.as_slice());
            let mut resource = ResourceContext::new(tenant, attributes);
            for scope in &resource_metrics.scope_metrics {
                for metric in &scope.metrics {
                    self.describe(tenant, metric);
                    self.state
                        .apply_metric(&mut resource, metric, &self.cardinality);
                }
            }
        }
    }

    fn describe(&mut self, tenant: &str, metric: &opentelemetry_proto::tonic::metrics::v1::Metric) {
        let Some(kind) = points::prometheus_type(metric) else {
            return;
        };
        let key = xxhash_rust::xxh3::xxh3_64_with_seed(
            metric.name.as_bytes(),
            xxhash_rust::xxh3::xxh3_64(tenant.as_bytes()),
        );
        if !self.described.insert(key) {
            return;
        }
        let name = crate::labels::metric_name(&metric.name);
        let metadata = MetricMetadata {
            name,
            kind,
            help: metric.description.clone(),
            unit: metric.unit.clone(),
        };
        self.output.publish_metadata(tenant, vec![metadata]);
    }

    /// Moves the watermark and publishes what closed.
    fn advance(&mut self, watermark_ms: i64) {
        let closed = self
            .state
            .tiers
            .advance(watermark_ms, &mut self.state.series);
        for (tier, windows) in closed.into_iter().enumerate() {
            if !windows.is_empty() {
                metrics::counter!(telemetry::METRIC_WINDOWS_CLOSED_TOTAL, "tier" => tier.to_string())
                    .increment(windows.len() as u64);
                self.output.publish(self.partition, tier, windows);
            }
        }
    }

    fn checkpoint(&mut self, next_offset: u64) -> Result<()> {
        self.evict_idle();
        let mark = Mark {
            next_offset,
            closed_through_ms: self.state.tiers.closed_through_ms,
        };
        self.output.persist(self.partition, mark)?;
        checkpoint::write(&self.checkpoint_path, next_offset, &self.state)?;
        self.checkpointed = next_offset;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    fn evict_idle(&mut self) {
        let idle_ms = self.config.series_idle.as_millis() as i64;
        let before = self.state.tiers.watermark_ms.saturating_sub(idle_ms);
        let tiers = &self.state.tiers;
        let candidates: Vec<Slot> = self
            .state
            .series
            .iter()
            .filter(|(slot, s)| s.last_seen_ms < before && !tiers.holds(*slot))
            .map(|(slot, _)| slot)
            .collect();
        if candidates.is_empty() {
            return;
        }
        for key in self.state.series.evict_slots(&candidates) {
            self.cardinality.release(&key.tenant, key.name());
        }
    }

    fn flush_drops(&mut self) {
        let drops = std::mem::take(&mut self.state.drops);
        for (reason, n) in [
            ("late", drops.late),
            ("future", drops.future),
            ("malformed", drops.malformed),
            (Refusal::TenantLimit.reason(), drops.tenant_limit),
            (Refusal::MetricLimit.reason(), drops.metric_limit),
        ] {
            if n > 0 {
                metrics::counter!(telemetry::METRIC_DROPPED_POINTS_TOTAL, "reason" => reason)
                    .increment(n);
            }
        }
        metrics::gauge!(telemetry::METRIC_ACTIVE_SERIES, "partition" => self.partition.to_string())
            .set(self.state.series.len() as f64);
    }
}

fn wall_ms() -> i64 {
    now_nanos() / 1_000_000
}

impl PartitionSink for MetricsWorker {
    fn start_offset(&self) -> u64 {
        self.checkpointed
    }

    fn apply(&mut self, records: Vec<Record>) -> Result<()> {
        self.state.now_ms = wall_ms();
        for record in &records {
            self.state.newest_ms = i64::MIN;
            self.apply_record(record);
            let newest = self.state.newest_ms;
            self.advance(newest);
        }
        if !records.is_empty() {
            self.last_record = Instant::now();
        }
        Ok(())
    }

    fn tick(&mut self, next_offset: u64, caught_up: bool) -> Result<()> {
        let quiet = Duration::from_millis(self.config.tiers_ms[0] as u64) + self.config.lateness;
        if caught_up && self.last_record.elapsed() >= quiet {
            self.advance(wall_ms());
        }
        self.flush_drops();
        if next_offset != self.checkpointed
            && self.last_checkpoint.elapsed() >= self.config.checkpoint_interval
        {
            self.checkpoint(next_offset)?;
        }
        Ok(())
    }

    fn tick_interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn close(&mut self, next_offset: u64) -> Result<()> {
        self.flush_drops();
        self.checkpoint(next_offset)
    }
}
