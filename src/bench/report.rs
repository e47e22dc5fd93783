//! Printing benchmark results: throughput and latency percentiles.

use hdrhistogram::Histogram;

/// One measured phase.
pub struct Phase {
    pub name: String,
    pub bytes: u64,
    pub records: u64,
    pub seconds: f64,
    /// Acknowledgement latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Phase {
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }

    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn millis(h: &Histogram<u64>, quantile: f64) -> f64 {
    h.value_at_quantile(quantile) as f64 / 1000.0
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    values[values.len() / 2]
}
