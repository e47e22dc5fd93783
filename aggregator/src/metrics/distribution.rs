//! A mergeable distribution of observed values: an HdrHistogram over
//! fixed-point values.
//!
//! HdrHistogram counts `u64`s; OTLP histograms observe `f64`s (seconds,
//! bytes, ...). A value `v` is recorded as `round(v * SCALE)`, so the
//! smallest distinguishable value is `1 / SCALE` and the largest is about
//! 1.8e13 (`u64::MAX / SCALE`); above `1 / SCALE`, a quantile is within
//! the relative error of the configured significant figures
//! (`10^-figures`: 0.1% at 3). Negative values cannot be recorded (OTLP
//! histograms that carry a sum observe non-negative values); they count
//! as zero. Every distribution uses the same scale, so any two merge.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// Fixed-point scale: micro-units. A latency in seconds keeps microsecond
/// resolution; one in milliseconds keeps nanoseconds.
pub const SCALE: f64 = 1e6;

/// The default significant figures: 0.1% relative error.
pub const DEFAULT_FIGURES: u8 = 3;

#[derive(Debug, Clone)]
pub struct Distribution {
    histogram: Histogram<u64>,
}

impl Distribution {
    /// An empty distribution with `figures` significant figures (1..=5).
    pub fn new(figures: u8) -> Distribution {
        let figures = figures.clamp(1, 5);
        let mut histogram =
            Histogram::new(figures).expect("1..=5 significant figures is a valid histogram");
        histogram.auto(true);
        Distribution { histogram }
    }

    pub fn from_histogram(histogram: Histogram<u64>) -> Distribution {
        Distribution { histogram }
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// Records `count` observations of `value`. NaN is ignored.
    pub fn record(&mut self, value: f64, count: u64) {
        if value.is_nan() || count == 0 {
            return;
        }
        let fixed = (value.max(0.0) * SCALE).round();
        let fixed = if fixed >= u64::MAX as f64 {
            u64::MAX
        } else {
            fixed as u64
        };
        // Auto-resizing cannot fail for a value a u64 holds, except at the
        // very top of the range, which saturates instead.
        if self.histogram.record_n(fixed, count).is_err() {
            self.histogram.saturating_record_n(fixed, count);
        }
    }

    /// Adds every observation of `other`.
    pub fn merge(&mut self, other: &Distribution) {
        // Both auto-resize, so adding cannot run out of range.
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The distribution in HdrHistogram's V2 encoding (uncompressed),
    /// which [`decode`](Distribution::decode) reads back exactly.
    pub fn encode(&self, out: &mut Vec<u8>) {
        V2Serializer::new()
            .serialize(&self.histogram, out)
            .expect("a histogram always encodes into a vector");
    }

    /// Reads a distribution written by [`encode`](Distribution::encode).
    pub fn decode(mut bytes: &[u8]) -> Result<Distribution, String> {
        let mut histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes)
            .map_err(|e| format!("a stored histogram does not decode: {e:?}"))?;
        histogram.auto(true);
        Ok(Distribution { histogram })
    }

    /// The value at quantile `q` (0..=1), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.histogram.is_empty() || q.is_nan() {
            return None;
        }
        let fixed = self.histogram.value_at_quantile(q.clamp(0.0, 1.0));
        // Report the midpoint of the equivalent-value range, which halves
        // the worst-case error of reporting either end.
        let mid = self.histogram.median_equivalent(fixed);
        Some(mid as f64 / SCALE)
    }
}

impl Default for Distribution {
    fn default() -> Distribution {
        Distribution::new(DEFAULT_FIGURES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_relative_error() {
        let mut d = Distribution::new(3);
        let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.000_37).collect();
        for v in &values {
            d.record(*v, 1);
        }
        for q in [0.5, 0.9, 0.99] {
            let exact = values[((q * values.len() as f64).ceil() as usize) - 1];
            let got = d.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact <= 1e-3,
                "q={q} got {got} exact {exact}"
            );
        }
    }

    #[test]
    fn a_distribution_decodes_to_what_was_encoded() {
        let mut d = Distribution::new(3);
        d.record(0.25, 7);
        d.record(1234.5, 2);
        let mut bytes = Vec::new();
        d.encode(&mut bytes);
        let back = Distribution::decode(&bytes).unwrap();
        assert_eq!(back.histogram(), d.histogram());
        assert!(Distribution::decode(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn merged_distributions_count_both() {
        let mut a = Distribution::new(3);
        let mut b = Distribution::new(3);
        a.record(1.0, 3);
        b.record(100.0, 1);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert!((a.quantile(1.0).unwrap() - 100.0).abs() < 0.1);
        assert_eq!(Distribution::new(3).quantile(0.5), None);
    }
}
