//! What a run measured: live counters for the once-a-second progress line
//! on stderr, per-sender tallies merged into the final report on stdout.
//!
//! The final report is one `key: value` per line so scripts and tests can
//! read it:
//!
//! ```text
//! requests: 100
//! requests_acknowledged: 100
//! requests_failed: 0
//! records_acknowledged: 51200
//! records_rejected: 0
//! ...
//! latency_ms: p50=1.20 p99=3.41 p99.9=5.02 max=6.10
//! ```
//!
//! "Records" are log records, metric data points or spans. Bytes are the
//! encoded protobuf requests before compression. Latency runs from a
//! request's start to its response, for acknowledged requests only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::bench::report::{latency_histogram, millis};

/// Counters the progress line reads while senders run.
#[derive(Debug, Default)]
pub struct Live {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub failed: AtomicU64,
}

/// One sender's results.
#[derive(Debug)]
pub struct Tally {
    pub requests: u64,
    pub acknowledged: u64,
    pub records: u64,
    pub rejected: u64,
    pub bytes: u64,
    /// Failed requests by gRPC code or HTTP status.
    pub failures: BTreeMap<String, u64>,
    /// Acknowledgement latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            requests: 0,
            acknowledged: 0,
            records: 0,
            rejected: 0,
            bytes: 0,
            failures: BTreeMap::new(),
            latency: latency_histogram(),
        }
    }
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.acknowledged += other.acknowledged;
        self.records += other.records;
        self.rejected += other.rejected;
        self.bytes += other.bytes;
        for (label, count) in other.failures {
            *self.failures.entry(label).or_default() += count;
        }
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
    }

    pub fn failed(&self) -> u64 {
        self.requests - self.acknowledged
    }
}

/// Prints `elapsed, records, records/s, MB/s, errors` to stderr once per
/// second until dropped; rates are over the last second.
pub async fn progress(live: &Live, start: Instant) {
    let mut ticker = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    let (mut last_records, mut last_bytes, mut last_at) = (0, 0, start);
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let records = live.records.load(Ordering::Relaxed);
        let bytes = live.bytes.load(Ordering::Relaxed);
        let seconds = now.duration_since(last_at).as_secs_f64().max(1e-9);
        eprintln!(
            "{:>6.1}s  {records} records  {:.0} records/s  {:.1} MB/s  {} errors",
            now.duration_since(start).as_secs_f64(),
            (records - last_records) as f64 / seconds,
            (bytes - last_bytes) as f64 / seconds / 1e6,
            live.failed.load(Ordering::Relaxed),
        );
        (last_records, last_bytes, last_at) = (records, bytes, now);
    }
}

/// The final report.
pub fn render(tally: &Tally, seconds: f64, unit: &str) -> String {
    let seconds = seconds.max(1e-9);
    let failures = if tally.failures.is_empty() {
        "none".to_string()
    } else {
        tally
            .failures
            .iter()
            .map(|(label, count)| format!("{label}={count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let h = &tally.latency;
    let latency = if h.is_empty() {
        "none".to_string()
    } else {
        format!(
            "p50={:.2} p99={:.2} p99.9={:.2} max={:.2}",
            millis(h, 0.5),
            millis(h, 0.99),
            millis(h, 0.999),
            h.max() as f64 / 1000.0
        )
    };
    [
        format!("requests: {}", tally.requests),
        format!("requests_acknowledged: {}", tally.acknowledged),
        format!("requests_failed: {}", tally.failed()),
        format!("failures: {failures}"),
        format!("unit: {unit}"),
        format!("records_acknowledged: {}", tally.records),
        format!("records_rejected: {}", tally.rejected),
        format!("seconds: {seconds:.3}"),
        format!("records_per_sec: {:.0}", tally.records as f64 / seconds),
        format!("mb_per_sec: {:.2}", tally.bytes as f64 / seconds / 1e6),
        format!("latency_ms: {latency}"),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_failures_and_percentiles() {
        let mut tally = Tally::default();
        let mut other = Tally {
            requests: 3,
            acknowledged: 2,
            records: 20,
            bytes: 2_000_000,
            ..Tally::default()
        };
        other.failures.insert("HTTP 503".into(), 1);
        other.latency.record(1500).unwrap();
        other.latency.record(2500).unwrap();
        tally.merge(other);
        let text = render(&tally, 2.0, "spans");
        assert!(text.contains("requests_failed: 1"), "{text}");
        assert!(text.contains("failures: HTTP 503=1"), "{text}");
        assert!(text.contains("records_per_sec: 10\n"), "{text}");
        assert!(text.contains("mb_per_sec: 1.00"), "{text}");
        assert!(text.contains("max=2.50"), "{text}");
    }
}
