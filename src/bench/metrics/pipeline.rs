//! The pipeline phase: ingest → log → metric workers → window store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aggregator::consumer::{Consumer, ConsumerConfig, PartitionSink};
use aggregator::metrics::cardinality::Cardinality;
use aggregator::metrics::store::{StoreConfig, TierConfig, WindowStore};
use aggregator::metrics::worker::{MetricsWorker, WindowOutput};
use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use ingest::{Pipeline, PipelineConfig};
use log_core::{DEFAULT_TENANT, Log, LogConfig, OTLP_METRICS, OpenMode, Record, TopicConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::MetricsBenchArgs;
use super::requests::Requests;
use crate::bench::report::{cpu_seconds, latency_histogram, millis, thousands};
use crate::config::RawMetrics;

/// How often completion is checked.
const POLL: Duration = Duration::from_millis(20);
/// How often workers persist and checkpoint during the run.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// No progress for this long ends the run with an error.
const STALL: Duration = Duration::from_secs(60);

/// A worker that reports how far it has applied and how many series it
/// holds.
struct Counted {
    worker: MetricsWorker,
    applied: Arc<AtomicU64>,
    series: Arc<AtomicU64>,
}

impl PartitionSink for Counted {
    fn start_offset(&self) -> u64 {
        self.worker.start_offset()
    }

    fn apply(&mut self, records: Vec<Record>) -> aggregator::Result<()> {
        let next = records.last().map(|r| r.offset + 1);
        self.worker.apply(records)?;
        if let Some(next) = next {
            self.series
                .store(self.worker.series() as u64, Ordering::Relaxed);
            self.applied.store(next, Ordering::Release);
        }
        Ok(())
    }

    fn tick(&mut self, next_offset: u64, caught_up: bool) -> aggregator::Result<()> {
        self.worker.tick(next_offset, caught_up)
    }

    fn tick_interval(&self) -> Duration {
        self.worker.tick_interval()
    }

    fn close(&mut self, next_offset: u64) -> aggregator::Result<()> {
        self.worker.close(next_offset)
    }
}

pub(super) struct PipelineRun {
    pub points: u64,
    pub seconds: f64,
    pub ack_seconds: f64,
    pub cpu_seconds: f64,
    pub latency: Histogram<u64>,
    pub series: u64,
    pub rss_growth_bytes: u64,
    pub head_windows: Vec<usize>,
}

impl PipelineRun {
    pub fn points_per_sec(&self) -> f64 {
        self.points as f64 / self.seconds
    }

    pub fn print(&self, floor: f64) {
        println!(
            "pipeline: {} points/s into windows end to end ({} points in {:.2} s, {:.0}% of the decode floor); \
             acknowledged at {} points/s; {:.2} CPU cores",
            thousands(self.points_per_sec() as u64),
            thousands(self.points),
            self.seconds,
            100.0 * self.points_per_sec() / floor,
            thousands((self.points as f64 / self.ack_seconds) as u64),
            self.cpu_seconds / self.seconds,
        );
        println!(
            "pipeline: request latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            millis(&self.latency, 0.5),
            millis(&self.latency, 0.99),
            self.latency.max() as f64 / 1000.0
        );
        println!(
            "pipeline: {} active series, resident memory grew {:.1} MiB: {:.0} bytes per active series; head windows per tier {:?}",
            thousands(self.series),
            self.rss_growth_bytes as f64 / (1 << 20) as f64,
            self.rss_growth_bytes as f64 / self.series.max(1) as f64,
            self.head_windows,
        );
    }
}

/// The resident set size of this process, from `/proc/self/status`.
pub(super) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// The store configuration `weir serve` uses by default.
pub(super) fn default_store(
    cache_bytes: Option<usize>,
) -> Result<(StoreConfig, crate::config::MetricsSettings)> {
    let settings = RawMetrics::default()
        .validate()
        .context("the default [metrics] settings")?;
    let config = StoreConfig {
        tiers: settings
            .tiers
            .iter()
            .map(|(window, retention)| TierConfig {
                window_ms: window.as_millis() as i64,
                retention: *retention,
            })
            .collect(),
        cache_bytes: cache_bytes.unwrap_or(settings.cache_bytes),
    };
    Ok((config, settings))
}

pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    args: &MetricsBenchArgs,
    requests: &Arc<Requests>,
) -> Result<PipelineRun> {
    let root = args.dir.join("pipeline");
    let (log, _) = Log::open(&root.join("log"), LogConfig::default(), OpenMode::ReadWrite)?;
    log.ensure_telemetry_topics(&TopicConfig {
        partitions: args.partitions,
        ..TopicConfig::default()
    })?;
    let (store_config, mut settings) = default_store(None)?;
    // The run packs minutes of event time into each second, so workers
    // checkpoint every second rather than every 30 s: heads and blocks
    // then hold what they would hold in service (see the module doc).
    settings.window.checkpoint_interval = CHECKPOINT_INTERVAL;
    let store = WindowStore::open(&root.join("windows"), store_config)?;
    let cardinality = Arc::new(Cardinality::new(settings.cardinality));
    let applied: Vec<Arc<AtomicU64>> = (0..args.partitions).map(|_| Arc::default()).collect();
    let series: Vec<Arc<AtomicU64>> = (0..args.partitions).map(|_| Arc::default()).collect();
    std::fs::create_dir_all(root.join("checkpoints"))?;
    let rss_before = rss_bytes();
    let consumer = Consumer::start(
        Arc::clone(&log),
        OTLP_METRICS,
        ConsumerConfig::default(),
        runtime.handle().clone(),
        |partition| {
            Ok(Counted {
                worker: MetricsWorker::open(
                    partition,
                    root.join("checkpoints"),
                    settings.window.clone(),
                    Arc::clone(&store) as Arc<dyn WindowOutput>,
                    Arc::clone(&cardinality),
                )?,
                applied: Arc::clone(&applied[partition as usize]),
                series: Arc::clone(&series[partition as usize]),
            })
        },
    )?;
    let pipeline = Arc::new(Pipeline::new(Arc::clone(&log), PipelineConfig::default()));
    let next = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds();
    let start = Instant::now();
    let senders: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (pipeline, requests, next) = (
                Arc::clone(&pipeline),
                Arc::clone(requests),
                Arc::clone(&next),
            );
            runtime.spawn(async move {
                let mut latency = latency_histogram();
                let mut points = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests.count {
                        return anyhow::Ok((points, latency));
                    }
                    let sent = Instant::now();
                    let (bytes, _) = requests.render(i);
                    let len = bytes.len();
                    let request = ExportMetricsServiceRequest::decode(bytes)?;
                    let accepted = pipeline
                        .export(DEFAULT_TENANT, request, len)
                        .await
                        .with_context(|| format!("export request {i}"))?;
                    if accepted.rejected > 0 {
                        bail!(
                            "request {i}: {} points rejected: {}",
                            accepted.rejected,
                            accepted.message
                        );
                    }
                    points += accepted.accepted;
                    latency.saturating_record(sent.elapsed().as_micros() as u64);
                }
            })
        })
        .collect();
    let mut points = 0;
    let mut latency = latency_histogram();
    for sender in senders {
        let (p, l) = runtime.block_on(sender).context("sender task")??;
        points += p;
        latency.add(l).expect("same bounds");
    }
    let ack_seconds = start.elapsed().as_secs_f64();
    let watermarks: Vec<u64> = (0..args.partitions)
        .map(|p| Ok(log.partition(OTLP_METRICS, p)?.high_watermark()))
        .collect::<Result<_>>()?;
    let mut progress = (0u64, Instant::now());
    let seconds = loop {
        let done: Vec<u64> = applied.iter().map(|a| a.load(Ordering::Acquire)).collect();
        if done.iter().zip(&watermarks).all(|(d, w)| d >= w) {
            break start.elapsed().as_secs_f64();
        }
        let sum: u64 = done.iter().sum();
        if sum != progress.0 {
            progress = (sum, Instant::now());
        } else if progress.1.elapsed() > STALL {
            bail!("metric workers stalled at offsets {done:?} of {watermarks:?}");
        }
        std::thread::sleep(POLL);
    };
    let cpu_seconds = cpu_seconds() - cpu;
    let rss_growth_bytes = rss_bytes().saturating_sub(rss_before);
    let head_windows = store.stats().head_windows;
    consumer.stop()?;
    log.close()?;
    Ok(PipelineRun {
        points,
        seconds,
        ack_seconds,
        cpu_seconds,
        latency,
        series: series.iter().map(|s| s.load(Ordering::Relaxed)).sum(),
        rss_growth_bytes,
        head_windows,
    })
}
