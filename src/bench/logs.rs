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
//! 2. **Raw tantivy.** `--partitions` threads, each rendering, decoding
//!    (`decode_record`) and converting (`to_tantivy`) its share of the
//!    requests into one index of its own, created as a split is (same
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
use aggregator::logs::document::decode_record;
use aggregator::logs::indexer::PartitionIndexer;
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

use super::payload::Rng;
use super::report;
use crate::loadgen::logs;
use crate::loadgen::resource;
use crate::loadgen::stamp::{Clock, Template};

/// Distinct requests generated (as `weir loadgen`'s pool: varied enough
/// for the compressor, built in about a second).
const POOL_REQUESTS: usize = 128;
/// Services of the generated resources (`weir loadgen`'s default).
const SERVICES: usize = 20;
/// Protobuf tag and length bytes before a `LogRecord`'s `trace_id` (field
/// 9, 16 bytes) and `span_id` (field 10, 8 bytes): how the ids are found in
/// an encoded template.
const TRACE_ID_PREFIX: [u8; 2] = [0x4a, 16];
const SPAN_ID_PREFIX: [u8; 2] = [0x52, 8];
/// How often the pipeline phase looks whether everything is searchable.
/// Counting visible documents is cheap; the full search that confirms it
/// runs only once the count is reached.
const POLL: Duration = Duration::from_millis(50);
/// The pipeline phase fails when no new document becomes visible for this
/// long after every request was acknowledged.
const STALL: Duration = Duration::from_secs(120);
/// Newest-hits queries, rotated through; each occurs in generated records.
const TERM_QUERIES: &[&str] = &[
    "service_name:checkout",
    "severity_text:ERROR",
    "cache",
    "deadline exceeded",
    "service_name:payment AND severity_text:WARN",
    "attributes.http.route:\"/api/v1/checkout\"",
];
const LOGQL_QUERY: &str =
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

/// The run's requests, rendered on demand from a pool of templates.
struct Requests {
    templates: Vec<Template>,
    /// Per template, where each trace and span id value starts and its length.
    ids: Vec<Vec<(usize, usize)>>,
    /// Requests in the run.
    count: u64,
    batch: u64,
    /// Request `i` is stamped at `first_ns + span_ns * (i + 1) / count`.
    first_ns: u64,
    span_ns: u64,
}

/// A pool request's index, its template and its stamp positions.
type BuiltRequest = (usize, Template, Vec<(usize, usize)>);

impl Requests {
    fn build(args: &LogsBenchArgs) -> Result<Requests> {
        let batch = u64::from(args.batch_size);
        let count = args.records.div_ceil(batch).max(1);
        let pool = POOL_REQUESTS.min(count as usize);
        let services = resource::services(SERVICES, &mut Rng::new(args.seed));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut built: Vec<BuiltRequest> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let services = &services;
                    scope.spawn(move || {
                        (t..pool)
                            .step_by(threads)
                            .map(|i| {
                                // The seed of request `i` of `weir loadgen`'s pool.
                                let seed =
                                    args.seed ^ (i as u64 + 1).wrapping_mul(0xd6e8_feb8_6659_fd93);
                                let template = logs::request(
                                    services,
                                    i,
                                    batch as usize,
                                    &mut Rng::new(seed),
                                )?;
                                let ids = id_sites(&template)?;
                                Ok((i, template, ids))
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut built = Vec::new();
            for worker in workers {
                built.extend(worker.join().expect("request generator panicked")?);
            }
            Ok::<_, anyhow::Error>(built)
        })?;
        built.sort_by_key(|(i, _, _)| *i);
        let span_ns = args.time_span.as_nanos() as u64;
        let (templates, ids) = built.into_iter().map(|(_, t, ids)| (t, ids)).unzip();
        Ok(Requests {
            templates,
            ids,
            count,
            batch,
            first_ns: crate::loadgen::stamp::unix_nanos().saturating_sub(span_ns),
            span_ns,
        })
    }

    fn total_records(&self) -> u64 {
        self.count * self.batch
    }

    fn mean_bytes(&self) -> usize {
        self.templates.iter().map(Template::len).sum::<usize>() / self.templates.len()
    }

    /// A range holding every record's timestamp (records are stamped up
    /// to a fraction of a second before their request).
    fn time_range(&self) -> (i64, i64) {
        let start = self.first_ns.saturating_sub(60_000_000_000) as i64;
        let end = (self.first_ns + self.span_ns + 60_000_000_000) as i64;
        (start, end)
    }

    /// Request `i` of the run, encoded.
    fn render(&self, i: u64) -> Bytes {
        let pool = self.templates.len() as u64;
        let slot = (i % pool) as usize;
        let cycle = i / pool;
        let offset = (u128::from(self.span_ns) * u128::from(i + 1) / u128::from(self.count)) as u64;
        let clock = Clock {
            now_ns: self.first_ns + offset,
            ticks: 0,
        };
        let bytes = self.templates[slot].render(clock);
        if cycle == 0 {
            return bytes;
        }
        let mut bytes = bytes
            .try_into_mut()
            .expect("a fresh rendering has no other owner");
        let mask = splitmix(cycle).to_le_bytes();
        for &(at, len) in &self.ids[slot] {
            for (byte, m) in bytes[at..at + len.min(8)].iter_mut().zip(mask) {
                *byte ^= m;
            }
        }
        bytes.freeze()
    }
}

/// Where the trace and span ids of a template's records lie in its bytes.
/// Records are encoded in order and ids are random, so each is found by a
/// forward scan for its tag, length and value.
fn id_sites(template: &Template) -> Result<Vec<(usize, usize)>> {
    let bytes = template.render(Clock {
        now_ns: 0,
        ticks: 0,
    });
    let request = ExportLogsServiceRequest::decode(bytes.clone())?;
    let mut sites = Vec::new();
    let mut cursor = 0;
    let records = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records);
    for record in records {
        for (prefix, id) in [
            (TRACE_ID_PREFIX, &record.trace_id),
            (SPAN_ID_PREFIX, &record.span_id),
        ] {
            let needle: Vec<u8> = prefix.iter().chain(id.iter()).copied().collect();
            let Some(found) = bytes[cursor..]
                .windows(needle.len())
                .position(|w| w == needle)
            else {
                bail!("request template: an id was not found at or after byte {cursor}");
            };
            cursor += found + needle.len();
            sites.push((cursor - id.len(), id.len()));
        }
    }
    Ok(sites)
}

/// splitmix64: a distinct, well-mixed id mask per pool cycle.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What the raw baseline measured.
struct Raw {
    docs: u64,
    seconds: f64,
    cpu_seconds: f64,
    /// CPU of the threads rendering, decoding and converting documents
    /// (the rest is tantivy's indexing threads, merges and the commit).
    prepare_cpu_seconds: f64,
    merge_wait_seconds: f64,
}

fn run_raw(args: &LogsBenchArgs, requests: &Requests, root: &Path) -> Result<Raw> {
    let config = LogIndexConfig::default();
    let partitions = args.partitions as u64;
    let cpu = cpu_seconds();
    let start = Instant::now();
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.partitions)
            .map(|partition| {
                let config = &config;
                scope.spawn(move || {
                    let id = SplitId {
                        partition,
                        bucket_start_secs: 0,
                    };
                    let split = Split::open(root, id, config.bucket_secs(), true)?
                        .context("a created split exists")?;
                    let fields = split.fields();
                    // One indexing thread and the indexer's memory; the
                    // default merge policy is the indexer's (LogMergePolicy,
                    // 8 segments at once).
                    let mut writer = split
                        .index()
                        .writer_with_num_threads(1, config.writer_memory_bytes)?;
                    let mut docs = Vec::new();
                    let mut added = 0u64;
                    for i in (u64::from(partition)..requests.count).step_by(partitions as usize) {
                        let record = Record {
                            offset: i,
                            timestamp: 0,
                            key: None,
                            value: Some(requests.render(i)),
                            headers: Vec::new(),
                        };
                        decode_record(&record, &mut docs).map_err(anyhow::Error::msg)?;
                        for doc in docs.drain(..) {
                            writer.add_document(doc.to_tantivy(&fields))?;
                            added += 1;
                        }
                    }
                    let prepare_cpu = thread_cpu_seconds();
                    writer.commit()?;
                    Ok::<_, anyhow::Error>((added, prepare_cpu, writer))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("raw indexing thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    let docs = results.iter().map(|r| r.0).sum();
    let prepare_cpu_seconds = results.iter().map(|r| r.1).sum();
    let waited = Instant::now();
    for (_, _, writer) in results {
        writer.wait_merging_threads()?;
    }
    Ok(Raw {
        docs,
        seconds,
        cpu_seconds,
        prepare_cpu_seconds,
        merge_wait_seconds: waited.elapsed().as_secs_f64(),
    })
}

/// What the pipeline phase measured.
struct PipelineRun {
    /// Records acknowledged (accepted) by ingest.
    acknowledged: u64,
    rejected: u64,
    /// From the first request to the last acknowledgement.
    ack_seconds: f64,
    /// From the first request to every record being searchable.
    searchable_seconds: f64,
    cpu_seconds: f64,
    /// Per request, from before its decode to its acknowledgement (µs).
    latency: Histogram<u64>,
    /// Stopping the consumer: final commits and waiting for merges.
    stop_seconds: f64,
    docs_by_partition: Vec<u64>,
}

fn run_pipeline(
    runtime: &tokio::runtime::Runtime,
    args: &LogsBenchArgs,
    requests: &Arc<Requests>,
    root: &Path,
) -> Result<(PipelineRun, Arc<LogStore>)> {
    let (log, _) = Log::open(&root.join("log"), LogConfig::default(), OpenMode::ReadWrite)?;
    log.ensure_telemetry_topics(&TopicConfig {
        partitions: args.partitions,
        ..TopicConfig::default()
    })?;
    let pipeline = Arc::new(Pipeline::new(Arc::clone(&log), PipelineConfig::default()));
    let store = LogStore::open(&root.join("index/logs"), LogIndexConfig::default())?;
    let consumer = Consumer::start(
        Arc::clone(&log),
        OTLP_LOGS,
        ConsumerConfig::default(),
        runtime.handle().clone(),
        |partition| PartitionIndexer::new(Arc::clone(&store), partition),
    )?;
    let search = LogSearch::new(Arc::clone(&store), QueryLimits::default());
    let total = requests.total_records();
    let (start_nanos, end_nanos) = requests.time_range();
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
                let mut tally = Tally::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests.count {
                        return Ok::<_, anyhow::Error>(tally);
                    }
                    let sent = Instant::now();
                    let bytes = requests.render(i);
                    let len = bytes.len();
                    let request = ExportLogsServiceRequest::decode(bytes)?;
                    let accepted = pipeline
                        .export(DEFAULT_TENANT, request, len)
                        .await
                        .with_context(|| format!("export request {i}"))?;
                    tally
                        .latency
                        .saturating_record(sent.elapsed().as_micros() as u64);
                    tally.acknowledged += accepted.accepted;
                    tally.rejected += accepted.rejected;
                    tally.last_ack = Some(start.elapsed());
                }
            })
        })
        .collect();

    // Wait until every record is searchable. Senders are joined as soon
    // as all have finished, so that a failed export ends the run at once.
    let mut senders = Some(senders);
    let mut tally: Option<Tally> = None;
    let mut last_visible = (0u64, Instant::now());
    let searchable_seconds = loop {
        std::thread::sleep(POLL);
        if senders
            .as_ref()
            .is_some_and(|s| s.iter().all(|s| s.is_finished()))
        {
            let mut merged = Tally::default();
            for sender in senders.take().expect("checked above") {
                merged.merge(runtime.block_on(sender).context("sender task")??);
            }
            tally = Some(merged);
        }
        let visible: u64 = store
            .all_splits()
            .iter()
            .map(|s| s.searcher().num_docs())
            .sum();
        if visible >= total {
            let hits = search
                .search(&SearchRequest {
                    tenant: DEFAULT_TENANT.to_owned(),
                    query: "*".to_owned(),
                    start_nanos,
                    end_nanos,
                    limit: 0,
                    direction: Direction::Backward,
                })?
                .num_hits;
            if hits == total {
                break start.elapsed().as_secs_f64();
            }
            if hits > total {
                bail!("{hits} records are searchable, more than the {total} sent");
            }
        }
        if visible != last_visible.0 {
            last_visible = (visible, Instant::now());
        } else if tally.is_some() && last_visible.1.elapsed() > STALL {
            bail!(
                "only {visible} of {total} records became searchable ({} s without progress)",
                STALL.as_secs()
            );
        }
    };
    let cpu_seconds = cpu_seconds() - cpu;
    let tally = match (tally, senders) {
        (Some(tally), _) => tally,
        (None, senders) => {
            let mut merged = Tally::default();
            for sender in senders.into_iter().flatten() {
                merged.merge(runtime.block_on(sender).context("sender task")??);
            }
            merged
        }
    };
    let stopping = Instant::now();
    consumer.stop()?;
    let stop_seconds = stopping.elapsed().as_secs_f64();
    log.close()?;
    let mut docs_by_partition = vec![0u64; args.partitions as usize];
    for split in store.all_splits() {
        docs_by_partition[split.id.partition as usize] += split.searcher().num_docs();
    }
    Ok((
        PipelineRun {
            acknowledged: tally.acknowledged,
            rejected: tally.rejected,
            ack_seconds: tally.last_ack.unwrap_or_default().as_secs_f64(),
            searchable_seconds,
            cpu_seconds,
            latency: tally.latency,
            stop_seconds,
            docs_by_partition,
        },
        store,
    ))
}

/// One sender's acknowledgements.
struct Tally {
    acknowledged: u64,
    rejected: u64,
    last_ack: Option<Duration>,
    latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            acknowledged: 0,
            rejected: 0,
            last_ack: None,
            latency: report::latency_histogram(),
        }
    }
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.acknowledged += other.acknowledged;
        self.rejected += other.rejected;
        self.last_ack = self.last_ack.max(other.last_ack);
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
    }
}

/// Latencies of one kind of query, in microseconds.
struct Timed {
    name: String,
    latency: Histogram<u64>,
    /// Hits (term queries), total (histograms) or series (LogQL) of the last run.
    result: u64,
    /// Why the query failed (reported, not fatal: the other figures stand).
    error: Option<String>,
}

fn run_queries(
    args: &LogsBenchArgs,
    store: &Arc<LogStore>,
    (start_nanos, end_nanos): (i64, i64),
) -> Result<Vec<Timed>> {
    let search = Arc::new(LogSearch::new(Arc::clone(store), QueryLimits::default()));
    let mut terms: Vec<Timed> = TERM_QUERIES
        .iter()
        .map(|q| Timed {
            name: (*q).to_owned(),
            latency: report::latency_histogram(),
            result: 0,
            error: None,
        })
        .collect();
    for i in 0..args.queries {
        let timed = &mut terms[i % TERM_QUERIES.len()];
        let started = Instant::now();
        let response = search.search(&SearchRequest {
            tenant: DEFAULT_TENANT.to_owned(),
            query: timed.name.clone(),
            start_nanos,
            end_nanos,
            limit: 100,
            direction: Direction::Backward,
        })?;
        timed
            .latency
            .saturating_record(started.elapsed().as_micros() as u64);
        timed.result = response.num_hits;
        if response.hits.len() < 100.min(response.num_hits as usize) {
            bail!(
                "query {:?} returned {} hits",
                timed.name,
                response.hits.len()
            );
        }
    }
    let mut all = Timed {
        name: format!("newest 100, {} term queries", args.queries),
        latency: report::latency_histogram(),
        result: 0,
        error: None,
    };
    for timed in &terms {
        all.latency.add(&timed.latency)?;
    }
    let mut out = vec![all];
    out.extend(terms);

    let mut histogram = Timed {
        name: "histogram *, 60 s buckets by severity".to_owned(),
        latency: report::latency_histogram(),
        result: 0,
        error: None,
    };
    for _ in 0..args.histograms {
        let started = Instant::now();
        let response = search.histogram(
            DEFAULT_TENANT,
            "*",
            start_nanos,
            end_nanos,
            60_000_000_000,
            true,
        )?;
        histogram
            .latency
            .saturating_record(started.elapsed().as_micros() as u64);
        histogram.result = response.total;
    }
    out.push(histogram);

    if args.logql_queries > 0 {
        let engine = LogQlEngine::new(Arc::clone(&search), QueryLimits::default());
        let mut logql = Timed {
            name: format!("logql instant {LOGQL_QUERY}"),
            latency: report::latency_histogram(),
            result: 0,
            error: None,
        };
        for _ in 0..args.logql_queries {
            let started = Instant::now();
            let at = end_nanos - 60_000_000_000;
            let output = match engine.instant(DEFAULT_TENANT, LOGQL_QUERY, at) {
                Ok(output) => output,
                Err(e) => {
                    logql.error = Some(format!(
                        "failed after {:.0} ms: {e}",
                        started.elapsed().as_secs_f64() * 1000.0
                    ));
                    break;
                }
            };
            logql
                .latency
                .saturating_record(started.elapsed().as_micros() as u64);
            logql.result = match output.result {
                QueryResult::Vector(samples) => samples.iter().map(|s| s.value as u64).sum(),
                _ => 0,
            };
        }
        out.push(logql);
    }
    Ok(out)
}

/// Splits and the segments their searchers see.
fn segments(store: &LogStore) -> (usize, usize) {
    let splits = store.all_splits();
    let segments = splits
        .iter()
        .map(|s| s.searcher().segment_readers().len())
        .sum();
    (splits.len(), segments)
}

struct Report {
    total: u64,
    raw: Raw,
    raw_disk: u64,
    pipeline: PipelineRun,
    index_disk: u64,
    log_disk: u64,
    /// Per index state: its name, (splits, segments) and query timings.
    states: Vec<(&'static str, (usize, usize), Vec<Timed>)>,
    peak_rss_mib: u64,
}

fn print_report(r: &Report) {
    let raw = &r.raw;
    let p = &r.pipeline;
    let raw_rate = raw.docs as f64 / raw.seconds;
    let e2e_rate = r.total as f64 / p.searchable_seconds;
    let ack_rate = p.acknowledged as f64 / p.ack_seconds;
    let per_million = |cpu: f64, docs: u64| cpu / (docs as f64 / 1e6);
    println!();
    println!(
        "{:<44} {:>12} {:>9} {:>10} {:>14} {:>8}",
        "phase", "records/s", "seconds", "CPU cores", "CPU s/M recs", "vs raw"
    );
    let row = |name: &str, rate: f64, seconds: f64, cpu: Option<f64>, docs: u64| {
        let (cores, per_m) = match cpu {
            Some(cpu) => (
                format!("{:.2}", cpu / seconds),
                format!("{:.1}", per_million(cpu, docs)),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<44} {:>12} {:>9.1} {:>10} {:>14} {:>7.0}%",
            name,
            thousands(rate as u64),
            seconds,
            cores,
            per_m,
            100.0 * rate / raw_rate
        );
    };
    row(
        &format!(
            "raw tantivy ({} writers x 1 thread)",
            r.pipeline.docs_by_partition.len()
        ),
        raw_rate,
        raw.seconds,
        Some(raw.cpu_seconds),
        raw.docs,
    );
    row(
        "pipeline: ingest acknowledged",
        ack_rate,
        p.ack_seconds,
        None,
        p.acknowledged,
    );
    row(
        "pipeline: OTLP in -> searchable",
        e2e_rate,
        p.searchable_seconds,
        Some(p.cpu_seconds),
        r.total,
    );
    println!();
    println!(
        "raw: render+decode+to_tantivy {:.1} CPU s/M recs, tantivy indexing+commit {:.1} CPU s/M recs; \
         merges finished {:.1} s after the commit; {} MiB on disk",
        per_million(raw.prepare_cpu_seconds, raw.docs),
        per_million(raw.cpu_seconds - raw.prepare_cpu_seconds, raw.docs),
        raw.merge_wait_seconds,
        r.raw_disk >> 20,
    );
    println!(
        "pipeline: {} acknowledged, {} rejected; searchable {:.1} s after the last acknowledgement; \
         consumer stop (final commits, merges) {:.1} s",
        thousands(p.acknowledged),
        thousands(p.rejected),
        p.searchable_seconds - p.ack_seconds,
        p.stop_seconds,
    );
    println!(
        "pipeline: ack latency per request p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        report::millis(&p.latency, 0.5),
        report::millis(&p.latency, 0.99),
        report::millis(&p.latency, 0.999),
        p.latency.max() as f64 / 1000.0,
    );
    println!(
        "pipeline: documents by partition {:?}; index {} MiB, log {} MiB on disk; peak RSS {} MiB",
        p.docs_by_partition,
        r.index_disk >> 20,
        r.log_disk >> 20,
        r.peak_rss_mib,
    );
    for (state, (splits, segments), timings) in &r.states {
        println!();
        println!("queries, {state} ({splits} splits, {segments} segments):");
        println!(
            "  {:<58} {:>5} {:>8} {:>8} {:>8} {:>8} {:>11}",
            "query", "runs", "p50 ms", "p90 ms", "p99 ms", "max ms", "hits"
        );
        for t in timings {
            if let Some(error) = &t.error {
                println!("  {}: {error}", t.name);
            }
            if t.latency.is_empty() {
                continue;
            }
            println!(
                "  {:<58} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>11}",
                truncate(&t.name, 58),
                t.latency.len(),
                report::millis(&t.latency, 0.5),
                report::millis(&t.latency, 0.9),
                report::millis(&t.latency, 0.99),
                t.latency.max() as f64 / 1000.0,
                if t.result == 0 {
                    "-".to_owned()
                } else {
                    thousands(t.result)
                },
            );
        }
    }
    println!();
    println!(
        "targets (stated for 10,000,000 records; this run: {}):",
        thousands(r.total)
    );
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    let ratio = e2e_rate / raw_rate;
    println!(
        "  pipeline / raw tantivy = {:.0}%  (>= 60%: {})",
        100.0 * ratio,
        verdict(ratio >= 0.6)
    );
    println!(
        "  end to end {} records/s  (>= 50,000: {})",
        thousands(e2e_rate as u64),
        verdict(e2e_rate >= 50_000.0)
    );
    if let Some((_, _, timings)) = r.states.first() {
        let terms = &timings[0].latency;
        let (p50, p99) = (report::millis(terms, 0.5), report::millis(terms, 0.99));
        println!(
            "  newest-100 term queries p50 {p50:.2} ms (<= 20: {}), p99 {p99:.2} ms (<= 100: {})",
            verdict(p50 <= 20.0),
            verdict(p99 <= 100.0)
        );
        if let Some(h) = timings.iter().find(|t| t.name.starts_with("histogram")) {
            let p99 = report::millis(&h.latency, 0.99);
            println!(
                "  histogram over every record p50 {:.2} ms, p99 {p99:.2} ms (<= 300: {})",
                report::millis(&h.latency, 0.5),
                verdict(p99 <= 300.0)
            );
        }
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width - 3).collect();
    out.push_str("...");
    out
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// CPU time (user + system) of the whole process, in seconds.
fn cpu_seconds() -> f64 {
    let usage = rusage();
    timeval_seconds(usage.ru_utime) + timeval_seconds(usage.ru_stime)
}

/// Peak resident memory of the process.
fn peak_rss_mib() -> u64 {
    // Linux reports `ru_maxrss` in KiB.
    rusage().ru_maxrss as u64 / 1024
}

fn rusage() -> libc::rusage {
    // SAFETY: `rusage` is plain old data, and getrusage fills the struct
    // it is given (it cannot fail for RUSAGE_SELF).
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

fn timeval_seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: `timespec` is plain old data, and clock_gettime fills it.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
        t
    };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
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
