//! The measured phases: raw tantivy and the pipeline.

use super::*;

/// What the raw baseline measured.
pub(super) struct Raw {
    pub(super) docs: u64,
    pub(super) seconds: f64,
    pub(super) cpu_seconds: f64,
    /// CPU of the threads rendering, decoding and converting documents
    /// (the rest is tantivy's indexing threads, merges and the commit).
    pub(super) prepare_cpu_seconds: f64,
    pub(super) merge_wait_seconds: f64,
}

pub(super) fn run_raw(args: &LogsBenchArgs, requests: &Requests, root: &Path) -> Result<Raw> {
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
                    let mut builder = DocumentBuilder::new(split.fields());
                    // One indexing thread, the indexer's memory and its
                    // merge policy.
                    let mut writer = split
                        .index()
                        .writer_with_num_threads(1, config.writer_memory_bytes)?;
                    writer.set_merge_policy(Box::new(merge_policy()));
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
                        builder
                            .build(&record, &mut docs)
                            .context("decode a generated request")?;
                        for (_, doc) in docs.drain(..) {
                            writer.add_document(doc)?;
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
pub(super) struct PipelineRun {
    /// Records acknowledged (accepted) by ingest.
    pub(super) acknowledged: u64,
    pub(super) rejected: u64,
    /// From the first request to the last acknowledgement.
    pub(super) ack_seconds: f64,
    /// From the first request to every record being searchable.
    pub(super) searchable_seconds: f64,
    pub(super) cpu_seconds: f64,
    /// Per request, from before its decode to its acknowledgement (µs).
    pub(super) latency: Histogram<u64>,
    /// Stopping the consumer: final commits and waiting for merges.
    pub(super) stop_seconds: f64,
    pub(super) docs_by_partition: Vec<u64>,
}

pub(super) fn run_pipeline(
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
