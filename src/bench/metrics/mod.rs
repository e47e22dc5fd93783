//! `weir bench metrics`: OTLP metric points into windows end to end,
//! PromQL over a day of windows, and VictoriaMetrics ingesting the same
//! series by remote write, all in one run.
//!
//! 1. **Requests** ([`requests`]): `weir loadgen --signal metrics`
//!    requests (its generator: 20 services, counters, up-down counters,
//!    gauges, explicit-bucket histograms), one pool template per batch of
//!    series. Request `i` is template `i % pool` stamped `10 s` of event
//!    time after the pool's previous cycle, so each cycle reports every
//!    series once per window and windows keep closing; the run's event
//!    times end a minute before it starts.
//! 2. **Decode floor**: decoding the same requests (prost), one thread
//!    per core: what any receiver pays before doing anything.
//! 3. **Pipeline** ([`pipeline`]): as `weir serve` wires it: an
//!    `ingest::Pipeline` over a `log_core::Log` (default settings: fsync
//!    durability) and one `MetricsWorker` per `otlp_metrics` partition into
//!    a `WindowStore`. `--concurrency` tasks render, decode and export
//!    requests. Done when every partition's worker has applied the
//!    partition's last record (its next offset reaches the high
//!    watermark); points/s is data points acknowledged over that time.
//!    The run packs minutes of event time into a second, so workers
//!    checkpoint every second (30 s in service): heads stay as small as
//!    in service and chunks and blocks are written as they would be.
//!    Memory per active series is the growth of the resident set over the
//!    phase divided by the workers' series (an upper bound: the log's
//!    buffers count too).
//! 4. **Queries** ([`queries`]): a store holding `--hours` of windows of
//!    `--query-series` counters, written through the store's own
//!    publish/persist path (blocks cut as workers would cut them), then
//!    `sum by (service_name) (rate(X[5m]))` as instant queries at random
//!    times and as range queries over the whole span, cold (a freshly
//!    opened store) and warm.
//! 5. **VictoriaMetrics** ([`victoria`]): when its binary is found, the
//!    same requests converted to remote write (histograms as `_bucket`,
//!    `_sum`, `_count`) and sent with the same concurrency.

mod pipeline;
mod queries;
mod requests;
mod victoria;

use std::path::PathBuf;

use anyhow::Result;

use super::report::{remove_dir, thousands};

#[derive(Debug, clap::Args)]
pub struct MetricsBenchArgs {
    /// OTLP data points through the pipeline (rounded up to whole requests)
    #[arg(long, default_value_t = 5_000_000)]
    pub points: u64,
    /// Distinct series of the generated requests
    #[arg(long, default_value_t = 10_000)]
    pub series: usize,
    /// Data points per OTLP request
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Partitions of `otlp_metrics`
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub partitions: u32,
    /// Requests in flight
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Hours of windows in the query phase's store (0 skips the phase)
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
    /// Counter series in the query phase's store
    #[arg(long, default_value_t = 10_000)]
    pub query_series: usize,
    /// Timed queries of each form, after a first one that fills the block cache
    #[arg(long, default_value_t = 20)]
    pub queries: usize,
    /// The VictoriaMetrics binary (default: victoria-metrics on the usual path, if installed)
    #[arg(long)]
    pub victoria: Option<PathBuf>,
    /// Data points sent to VictoriaMetrics (default: as many as the pipeline)
    #[arg(long)]
    pub victoria_points: Option<u64>,
    /// Skip VictoriaMetrics even when it is installed
    #[arg(long)]
    pub no_victoria: bool,
    /// Where the data goes (replaced, and removed afterwards)
    #[arg(long, default_value = "target/weir-bench-metrics")]
    pub dir: PathBuf,
    /// Seed of the generated content
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: MetricsBenchArgs) -> Result<()> {
    remove_dir(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let requests = std::sync::Arc::new(requests::Requests::build(&args)?);
    println!(
        "weir bench metrics: {} points = {} requests x {} ({} series, pool of {}, {} B encoded), {} partitions, {} in flight",
        thousands(requests.total_points()),
        thousands(requests.count),
        args.batch_size,
        thousands(args.series as u64),
        requests.templates.len(),
        requests.mean_bytes(),
        args.partitions,
        args.concurrency,
    );

    let floor = requests::decode_floor(&requests)?;
    println!(
        "decode floor: {} points/s ({} threads, {:.2} s)",
        thousands(floor.points_per_sec() as u64),
        floor.threads,
        floor.seconds
    );

    let run = pipeline::run(&runtime, &args, &requests)?;
    run.print(floor.points_per_sec());

    let victoria = if args.no_victoria {
        None
    } else {
        victoria::binary(args.victoria.as_deref())
    };
    match victoria {
        Some(binary) => {
            let vm = victoria::run(&runtime, &args, &requests, &binary)?;
            vm.print();
            println!(
                "weir / victoria-metrics: {:.2}x data points/s (weir acknowledges after fsync; \
                 victoria-metrics after buffering in memory)",
                run.points_per_sec() / vm.points_per_sec()
            );
        }
        None => println!("victoria-metrics: not run (not installed, or --no-victoria)"),
    }

    if args.hours > 0 {
        queries::run(&args)?;
    }
    remove_dir(&args.dir)?;
    Ok(())
}
