//! A mergeable distribution of observed values: HdrHistogram's buckets
//! over fixed-point values, counted sparsely.
//!
//! HdrHistogram counts `u64`s; OTLP histograms observe `f64`s (seconds,
//! bytes, ...). A value `v` is recorded as `round(v * SCALE)`, so the
//! smallest distinguishable value is `1 / SCALE` and the largest is about
//! 1.8e13 (`u64::MAX / SCALE`); above `1 / SCALE`, a quantile is within
//! the relative error of the configured significant figures
//! (`10^-figures`: 0.1% at 3). Negative values cannot be recorded (OTLP
//! histograms that carry a sum observe non-negative values); they count
//! as zero. Every distribution uses the same scale, so any two merge.
//!
//! # Why sparse
//! A dense `hdrhistogram::Histogram` at 3 significant figures holds 1,024
//! counters per power of two it spans: 60–120 KiB for a latency histogram
//! in micro-seconds. A window store holds one per histogram series per
//! open window per tier, so dense counts would cost gigabytes at 10k
//! series. An OTLP histogram point fills a handful of those buckets (one
//! per explicit bucket, at most 160 for an exponential one), so the counts
//! are kept as a sorted list of (bucket, count) pairs. The buckets are the
//! `hdrhistogram` crate's own (its `lowest_equivalent` and
//! `median_equivalent` on a template histogram of the same precision), and
//! quantiles are ranked exactly as its `value_at_quantile`, so the results
//! are those of the dense histogram.

use std::sync::LazyLock;

use hdrhistogram::Histogram;

/// Fixed-point scale: micro-units. A latency in seconds keeps microsecond
/// resolution; one in milliseconds keeps nanoseconds.
pub const SCALE: f64 = 1e6;

/// The default significant figures: 0.1% relative error.
pub const DEFAULT_FIGURES: u8 = 3;

/// One empty histogram per precision (1..=5 figures), whose bucket
/// arithmetic every distribution of that precision uses.
static TEMPLATES: LazyLock<Vec<Histogram<u64>>> = LazyLock::new(|| {
    (1..=5)
        .map(|figures| {
            let mut h = Histogram::new(figures).expect("1..=5 significant figures is valid");
            h.auto(true);
            h
        })
        .collect()
});

#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    figures: u8,
    /// (lowest value of an HdrHistogram bucket, count), sorted, no zeros.
    counts: Vec<(u64, u64)>,
    total: u64,
}

impl Distribution {
    /// An empty distribution with `figures` significant figures (1..=5).
    pub fn new(figures: u8) -> Distribution {
        Distribution {
            figures: figures.clamp(1, 5),
            counts: Vec::new(),
            total: 0,
        }
    }

    pub fn figures(&self) -> u8 {
        self.figures
    }

    fn template(&self) -> &'static Histogram<u64> {
        &TEMPLATES[usize::from(self.figures - 1)]
    }

    fn bucket(&self, value: f64) -> u64 {
        let fixed = (value.max(0.0) * SCALE).round();
        let fixed = if fixed >= u64::MAX as f64 {
            u64::MAX
        } else {
            fixed as u64
        };
        self.template().lowest_equivalent(fixed)
    }

    /// Records `count` observations of `value`. NaN is ignored.
    pub fn record(&mut self, value: f64, count: u64) {
        if value.is_nan() || count == 0 {
            return;
        }
        let bucket = self.bucket(value);
        self.add_to_bucket(bucket, count);
    }

    fn add_to_bucket(&mut self, bucket: u64, count: u64) {
        match self.counts.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(i) => self.counts[i].1 = self.counts[i].1.saturating_add(count),
            Err(i) => self.counts.insert(i, (bucket, count)),
        }
        self.total = self.total.saturating_add(count);
    }

    /// Adds every observation of `other`.
    pub fn merge(&mut self, other: &Distribution) {
        if other.total == 0 {
            return;
        }
        if self.total == 0 {
            *self = other.clone();
            return;
        }
        if other.figures != self.figures {
            // Another precision: re-bucket its bucket middles.
            for &(bucket, count) in &other.counts {
                let middle = other.template().median_equivalent(bucket);
                let bucket = self.template().lowest_equivalent(middle);
                self.add_to_bucket(bucket, count);
            }
            return;
        }
        let mut merged = Vec::with_capacity(self.counts.len() + other.counts.len());
        let (mut a, mut b) = (
            self.counts.iter().peekable(),
            other.counts.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let pair = (x.0, x.1.saturating_add(y.1));
                    a.next();
                    b.next();
                    pair
                }
                (Some(x), Some(y)) if x.0 < y.0 => *a.next().expect("peeked"),
                (Some(_), Some(_)) | (None, Some(_)) => *b.next().expect("peeked"),
                (Some(_), None) => *a.next().expect("peeked"),
                (None, None) => break,
            };
            merged.push(next);
        }
        self.counts = merged;
        self.total = self.total.saturating_add(other.total);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// Distinct buckets held (what the distribution costs in memory).
    pub fn buckets(&self) -> usize {
        self.counts.len()
    }

    /// The value at quantile `q` (0..=1), or `None` when empty. Ranked as
    /// HdrHistogram does (the first bucket whose running count reaches
    /// `ceil(q * count)`, at least 1), reported at the middle of that
    /// bucket, which halves the worst-case error of reporting either end.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 || q.is_nan() {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut running = 0u64;
        let bucket = self
            .counts
            .iter()
            .find(|(_, count)| {
                running += count;
                running >= rank
            })
            .or(self.counts.last())
            .map(|(bucket, _)| *bucket)?;
        Some(self.template().median_equivalent(bucket) as f64 / SCALE)
    }

    /// The distribution as bytes: figures, then (bucket delta, count)
    /// pairs as LEB128 varints. [`decode`](Distribution::decode) reads it
    /// back exactly.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.figures);
        put_varint(out, self.counts.len() as u64);
        let mut previous = 0u64;
        for &(bucket, count) in &self.counts {
            put_varint(out, bucket - previous);
            put_varint(out, count);
            previous = bucket;
        }
    }

    /// Reads a distribution written by [`encode`](Distribution::encode).
    pub fn decode(bytes: &[u8]) -> Result<Distribution, String> {
        let (&figures, mut rest) = bytes.split_first().ok_or("a stored histogram is empty")?;
        if !(1..=5).contains(&figures) {
            return Err(format!(
                "a stored histogram has {figures} significant figures"
            ));
        }
        let len = take_varint(&mut rest)?;
        if len > rest.len() as u64 {
            return Err("a stored histogram's bucket count exceeds its bytes".to_owned());
        }
        let mut distribution = Distribution::new(figures);
        distribution.counts.reserve(len as usize);
        let mut bucket = 0u64;
        for _ in 0..len {
            bucket = bucket
                .checked_add(take_varint(&mut rest)?)
                .ok_or("a stored histogram's bucket overflows")?;
            let count = take_varint(&mut rest)?;
            distribution.counts.push((bucket, count));
            distribution.total = distribution.total.saturating_add(count);
        }
        if !rest.is_empty() {
            return Err("a stored histogram has trailing bytes".to_owned());
        }
        Ok(distribution)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes
            .split_first()
            .ok_or("a stored histogram ends inside a number")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a stored histogram has a number longer than 64 bits".to_owned())
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
    fn quantiles_equal_those_of_a_dense_hdr_histogram() {
        let mut sparse = Distribution::new(3);
        let mut dense = Histogram::<u64>::new(3).unwrap();
        dense.auto(true);
        for i in 1..=5_000u64 {
            let value = (i * i) as f64 * 0.000_013;
            sparse.record(value, i % 3 + 1);
            dense
                .record_n((value * SCALE).round() as u64, i % 3 + 1)
                .unwrap();
        }
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let expected = dense.median_equivalent(dense.value_at_quantile(q)) as f64 / SCALE;
            assert_eq!(sparse.quantile(q), Some(expected), "q={q}");
        }
        assert_eq!(sparse.count(), dense.len());
    }

    #[test]
    fn a_distribution_decodes_to_what_was_encoded() {
        let mut d = Distribution::new(3);
        d.record(0.25, 7);
        d.record(1234.5, 2);
        let mut bytes = Vec::new();
        d.encode(&mut bytes);
        assert_eq!(Distribution::decode(&bytes).unwrap(), d);
        assert!(Distribution::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Distribution::decode(&[9]).is_err());
    }

    #[test]
    fn merged_distributions_count_both() {
        let mut a = Distribution::new(3);
        let mut b = Distribution::new(3);
        a.record(1.0, 3);
        b.record(100.0, 1);
        b.record(1.0, 1);
        a.merge(&b);
        assert_eq!(a.count(), 5);
        assert_eq!(a.buckets(), 2);
        assert!((a.quantile(1.0).unwrap() - 100.0).abs() < 0.1);
        assert_eq!(Distribution::new(3).quantile(0.5), None);

        let mut coarse = Distribution::new(2);
        coarse.merge(&a);
        assert_eq!(
            coarse.figures(),
            3,
            "an empty distribution takes the other's precision"
        );
        let mut other = Distribution::new(2);
        other.record(50.0, 2);
        other.merge(&a);
        assert_eq!(other.count(), 7);
    }
}
