//! `weir bench logs`: the log index end to end, beside raw tantivy
//! indexing of the same documents measured in the same run.
//!
//! One run, in order:
//! 1. **Requests.** A pool of `weir loadgen --signal logs` requests (its
//!    generator, seeds and services) is encoded once. Request `i` of the
//!    run is template `i % pool` with its timestamps stamped so that the
//!    run's requests cover `--time-span` ending at the start of the run,
//!    and with every trace and span id XOR-ed with a mask of its pool
//!    cycle, so that ids stay unique per record as in real traffic (the
//!    term dictionaries of `trace_id` and `span_id` are a large part of the
//!    index). Rendering a request is a copy of its bytes; nothing else is
//!    held per request, so memory stays bounded whatever `--records`.
//! 2. **Raw tantivy.** `--partitions` threads, each rendering and
//!    converting (the indexer's `DocumentBuilder`: decode, then documents)
//!    its share of the requests into one index of its own, created as a split is (same
//!    schema, tokenizers, docstore compression) and written with the
//!    indexer's writer settings (one indexing thread, the same memory and
//!    merge policy), one commit at the end. No log, no pipeline, no
//!    intermediate commits: the best the index's design can do on this
//!    machine with the same parallelism as the indexers.
//! 3. **Pipeline.** The system under test in process: `ingest::Pipeline`
//!    over a `log_core::Log` (default settings, `fsync` durability), the
//!    `otlp_logs` consumer with one `PartitionIndexer` per partition over a
//!    `LogStore` (default settings). `--concurrency` tasks each decode a
//!    request (as a receiver does) and export it. Measured from the first
//!    request until `LogSearch::search("*")` counts every record.
//! 4. **Queries.** On the pipeline's index, as the running store left it
//!    and again reopened from disk: newest-100 term queries, histograms
//!    over everything, and a LogQL metric query.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aggregator::consumer::{Consumer, ConsumerConfig};
use aggregator::logs::document::DocumentBuilder;
use aggregator::logs::indexer::{PartitionIndexer, merge_policy};
use aggregator::logs::logql::{LogQlEngine, QueryResult};
use aggregator::logs::search::{LogSearch, SearchRequest};
use aggregator::logs::source::Direction;
use aggregator::logs::split::{Split, SplitId};
use aggregator::logs::store::{LogIndexConfig, LogStore};
use aggregator::query::QueryLimits;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use ingest::{Pipeline, PipelineConfig};
use log_core::{DEFAULT_TENANT, Log, LogConfig, OTLP_LOGS, OpenMode, Record, TopicConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;

mod phases;
mod queries;
mod requests;
mod summary;

use phases::*;
use queries::*;
use requests::*;
use summary::*;

use super::payload::Rng;
use super::report;
use super::report::{
    cpu_seconds, dir_bytes, peak_rss_mib, remove_dir, thousands, thread_cpu_seconds,
};
use crate::loadgen::logs;
use crate::loadgen::resource;
use crate::loadgen::stamp::{Clock, Template};

/// Distinct requests generated (as `weir loadgen`'s pool: varied enough
/// for the compressor, built in about a second).
pub(super) const POOL_REQUESTS: usize = 128;
/// Services of the generated resources (`weir loadgen`'s default).
pub(super) const SERVICES: usize = 20;
/// Protobuf tag and length bytes before a `LogRecord`'s `trace_id` (field
/// 9, 16 bytes) and `span_id` (field 10, 8 bytes): how the ids are found in
/// an encoded template.
pub(super) const TRACE_ID_PREFIX: [u8; 2] = [0x4a, 16];
pub(super) const SPAN_ID_PREFIX: [u8; 2] = [0x52, 8];
/// How often the pipeline phase looks whether everything is searchable.
/// Counting visible documents is cheap; the full search that confirms it
/// runs only once the count is reached.
pub(super) const POLL: Duration = Duration::from_millis(50);
/// The pipeline phase fails when no new document becomes visible for this
/// long after every request was acknowledged.
pub(super) const STALL: Duration = Duration::from_secs(120);
/// Newest-hits queries, rotated through; each occurs in generated records.
pub(super) const TERM_QUERIES: &[&str] = &[
    "service_name:checkout",
    "severity_text:ERROR",
    "cache",
    "deadline exceeded",
    "service_name:payment AND severity_text:WARN",
    "attributes.http.route:\"/api/v1/checkout\"",
];
pub(super) const LOGQL_QUERY: &str =
    r#"sum by (severity_text) (count_over_time({service_name="checkout"}[5m]))"#;

#[derive(clap::Args, Debug, Clone)]
pub struct LogsBenchArgs {
    /// Log records in all (rounded up to whole requests)
    #[arg(long, default_value_t = 10_000_000)]
    pub records: u64,
    /// Where the data goes; its `raw` and `pipeline` subdirectories are replaced, and removed afterwards
    #[arg(long, default_value = "target/weir-bench-logs")]
    pub dir: PathBuf,
    /// Newest-100 term queries per index state
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Histograms over every record (60 s buckets by severity) per index state
    #[arg(long, default_value_t = 20)]
    pub histograms: usize,
    /// LogQL metric queries per index state (0 skips them)
    #[arg(long, default_value_t = 5)]
    pub logql_queries: usize,
    /// Partitions of `otlp_logs`, and index writers of the raw baseline
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub partitions: u32,
    /// Log records per OTLP request (an SDK's batch processor sends 512)
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Requests in flight through the pipeline
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// The records' timestamps cover this span, ending when the run starts
    #[arg(long, default_value = "1h")]
    pub time_span: humantime::Duration,
    /// Seed of the generated content
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the data dirs after the run
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: LogsBenchArgs) -> Result<()> {
    let requests = Arc::new(Requests::build(&args)?);
    let total = requests.total_records();
    println!(
        "weir bench logs: {} records = {} requests x {} ({} B encoded, pool of {} templates, ids unique per record), \
         timestamps over {}, {} partitions, {} in flight, dir {}",
        thousands(total),
        thousands(requests.count),
        requests.batch,
        requests.mean_bytes(),
        requests.templates.len(),
        args.time_span,
        args.partitions,
        args.concurrency,
        args.dir.display(),
    );
    let raw_dir = args.dir.join("raw");
    let pipeline_dir = args.dir.join("pipeline");
    for dir in [&raw_dir, &pipeline_dir] {
        remove_dir(dir)?;
    }

    eprintln!("raw tantivy: indexing {} records", thousands(total));
    let raw = run_raw(&args, &requests, &raw_dir)?;
    let raw_disk = dir_bytes(&raw_dir);
    if !args.keep {
        remove_dir(&raw_dir)?;
    }

    eprintln!("pipeline: ingest -> log -> indexers");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        .build()?;
    let (pipeline, store) = run_pipeline(&runtime, &args, &requests, &pipeline_dir)?;

    let range = requests.time_range();
    eprintln!("queries: the running store");
    let live = run_queries(&args, &store, range)?;
    let live_segments = segments(&store);
    drop(store);
    let store = LogStore::open(&pipeline_dir.join("index/logs"), LogIndexConfig::default())?;
    eprintln!("queries: the store reopened");
    let reopened = run_queries(&args, &store, range)?;
    let reopened_segments = segments(&store);
    drop(store);
    drop(runtime);

    print_report(&Report {
        total,
        raw,
        raw_disk,
        pipeline,
        index_disk: dir_bytes(&pipeline_dir.join("index")),
        log_disk: dir_bytes(&pipeline_dir.join("log")),
        states: vec![
            ("running store", live_segments, live),
            ("reopened", reopened_segments, reopened),
        ],
        peak_rss_mib: peak_rss_mib(),
    });
    if !args.keep {
        remove_dir(&pipeline_dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: LogsBenchArgs,
    }

    fn args(records: u64) -> LogsBenchArgs {
        let mut args = Cli::parse_from(["bench"]).args;
        args.records = records;
        args.batch_size = 64;
        args
    }

    #[test]
    fn ids_differ_between_pool_cycles_and_timestamps_cover_the_span() {
        let requests = Requests::build(&args(64 * 300)).unwrap();
        assert_eq!(requests.count, 300);
        let ids = |i: u64| -> Vec<Vec<u8>> {
            let request = ExportLogsServiceRequest::decode(requests.render(i)).unwrap();
            request
                .resource_logs
                .into_iter()
                .flat_map(|r| r.scope_logs)
                .flat_map(|s| s.log_records)
                .flat_map(|l| [l.trace_id, l.span_id])
                .collect()
        };
        let (first, again) = (ids(3), ids(3 + POOL_REQUESTS as u64));
        assert_eq!(first.len(), 128);
        assert!(
            first
                .iter()
                .zip(&again)
                .all(|(a, b)| a != b && a.len() == b.len())
        );
        let time = |i: u64| {
            let request = ExportLogsServiceRequest::decode(requests.render(i)).unwrap();
            request.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano
        };
        let (start, end) = requests.time_range();
        let (early, late) = (time(0) as i64, time(299) as i64);
        assert!(start < early && early < late && late < end);
        assert!(
            late - early > 3_000_000_000_000,
            "spread over most of an hour"
        );
    }

    #[test]
    fn thousands_separates_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_128), "10,000,128");
    }
}
