//! Query latencies on the pipeline's index.

use super::*;

/// One sender's acknowledgements.
pub(super) struct Tally {
    pub(super) acknowledged: u64,
    pub(super) rejected: u64,
    pub(super) last_ack: Option<Duration>,
    pub(super) latency: Histogram<u64>,
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
    pub(super) fn merge(&mut self, other: Tally) {
        self.acknowledged += other.acknowledged;
        self.rejected += other.rejected;
        self.last_ack = self.last_ack.max(other.last_ack);
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
    }
}

/// Latencies of one kind of query, in microseconds.
pub(super) struct Timed {
    pub(super) name: String,
    pub(super) latency: Histogram<u64>,
    /// Hits (term queries), total (histograms) or series (LogQL) of the last run.
    pub(super) result: u64,
    /// Why the query failed (reported, not fatal: the other figures stand).
    pub(super) error: Option<String>,
}

pub(super) fn run_queries(
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
pub(super) fn segments(store: &LogStore) -> (usize, usize) {
    let splits = store.all_splits();
    let segments = splits
        .iter()
        .map(|s| s.searcher().segment_readers().len())
        .sum();
    (splits.len(), segments)
}
