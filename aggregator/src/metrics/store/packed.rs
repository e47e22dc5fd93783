//! One series' windows as a decoded window file keeps them: a column per
//! field of the series' kind instead of a [`WindowValue`] per window.
//!
//! Queries read whole blocks' worth of windows (a day of 10,000 series at
//! 1 m is fourteen million), so what a window costs in memory decides both
//! how many blocks the cache holds and how fast a query streams through
//! them. A `WindowValue` with its end takes 56 bytes whatever its kind; a
//! counter window here takes 16 (its delta and total: blocks' windows are
//! evenly spaced, so the ends are one start and a step), a gauge window
//! 40, a histogram window 24 and its shared distribution.

use std::sync::Arc;

use super::Run;
use crate::metrics::distribution::Distribution;
use crate::metrics::source::{CounterColumns, Window, WindowValue};
use crate::metrics::window::{SeriesKey, SeriesKind};

/// One series' windows of a decoded window file.
#[derive(Debug, Clone)]
pub(crate) struct PackedRun {
    pub key: Arc<SeriesKey>,
    /// [`Labels::digest`](crate::labels::Labels::digest) of the key's
    /// labels, worked out once when the file is decoded.
    pub digest: u128,
    pub windows: Packed,
}

impl PackedRun {
    /// The run as the head keeps it.
    pub fn unpack(&self) -> Run {
        Run {
            key: Arc::clone(&self.key),
            windows: self.windows.windows(0, self.windows.len()).collect(),
        }
    }
}

/// Window ends, ascending.
#[derive(Debug, Clone)]
enum Ends {
    /// `first + i * step` for `i < len`.
    Even {
        first: i64,
        step: i64,
        len: usize,
    },
    Listed(Vec<i64>),
}

/// One series' windows, ascending by end, all of the series' kind.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    kind: SeriesKind,
    ends: Ends,
    /// Gauge and histogram windows: the point or observation count.
    counts: Vec<u64>,
    /// [`floats_per_window`] columns of `stride` each, one per field: a
    /// gauge's sums, mins, maxes and lasts, a counter's deltas and totals,
    /// a histogram's sums. Window `i`'s field `f` is `floats[f * stride +
    /// i]`, so a query reading only deltas reads them contiguously.
    floats: Vec<f64>,
    /// The most windows the columns hold: the count the file gives.
    stride: usize,
    dists: Vec<Arc<Distribution>>,
}

/// How many of [`Packed::floats`] one window of `kind` holds.
fn floats_per_window(kind: SeriesKind) -> usize {
    match kind {
        SeriesKind::Gauge => 4,
        SeriesKind::Counter => 2,
        SeriesKind::Histogram => 1,
    }
}

impl Packed {
    /// Room for exactly `n` windows of `kind`: [`push`](Self::push) no
    /// more than that.
    pub fn with_capacity(kind: SeriesKind, n: usize) -> Packed {
        let counted = kind != SeriesKind::Counter;
        Packed {
            kind,
            ends: Ends::Even {
                first: 0,
                step: 0,
                len: 0,
            },
            counts: Vec::with_capacity(if counted { n } else { 0 }),
            floats: vec![0.0; n * floats_per_window(kind)],
            stride: n,
            dists: Vec::with_capacity(if kind == SeriesKind::Histogram { n } else { 0 }),
        }
    }

    pub fn len(&self) -> usize {
        match &self.ends {
            Ends::Even { len, .. } => *len,
            Ends::Listed(ends) => ends.len(),
        }
    }

    /// The end of window `i`.
    pub fn end(&self, i: usize) -> i64 {
        match &self.ends {
            Ends::Even { first, step, .. } => first + step * i as i64,
            Ends::Listed(ends) => ends[i],
        }
    }

    /// Appends a window ending after the last one. `value` must be of the
    /// series' kind: the decoder reads values by kind. Panics past the
    /// capacity: the decoder pushes exactly the count it was made with.
    pub fn push(&mut self, end: i64, value: WindowValue) {
        let n = self.len();
        assert!(
            n < self.stride,
            "a packed run holds {} windows",
            self.stride
        );
        match &mut self.ends {
            Ends::Even { first, step, len } if n == 0 => {
                *first = end;
                *len = 1;
                *step = 0;
            }
            Ends::Even { first, step, len } if n == 1 => {
                *step = end - *first;
                *len = 2;
            }
            Ends::Even { first, step, len } if *first + *step * n as i64 == end => *len += 1,
            Ends::Even { first, step, len } => {
                let mut ends: Vec<i64> = (0..*len).map(|i| *first + *step * i as i64).collect();
                ends.push(end);
                self.ends = Ends::Listed(ends);
            }
            Ends::Listed(ends) => ends.push(end),
        }
        let stride = self.stride;
        let mut set = |field: usize, v: f64| self.floats[field * stride + n] = v;
        match value {
            WindowValue::Gauge {
                count,
                sum,
                min,
                max,
                last,
            } => {
                debug_assert_eq!(self.kind, SeriesKind::Gauge);
                for (field, v) in [sum, min, max, last].into_iter().enumerate() {
                    set(field, v);
                }
                self.counts.push(count);
            }
            WindowValue::Counter { delta, total } => {
                debug_assert_eq!(self.kind, SeriesKind::Counter);
                set(0, delta);
                set(1, total);
            }
            WindowValue::Histogram {
                count,
                sum,
                distribution,
            } => {
                debug_assert_eq!(self.kind, SeriesKind::Histogram);
                set(0, sum);
                self.counts.push(count);
                self.dists.push(distribution);
            }
        }
    }

    /// Field `field`'s column (see [`Packed::floats`]).
    fn column(&self, field: usize) -> &[f64] {
        &self.floats[field * self.stride..][..self.stride]
    }

    /// Window `i`'s value.
    pub fn value(&self, i: usize) -> WindowValue {
        let f = |field: usize| self.column(field)[i];
        match self.kind {
            SeriesKind::Gauge => WindowValue::Gauge {
                count: self.counts[i],
                sum: f(0),
                min: f(1),
                max: f(2),
                last: f(3),
            },
            SeriesKind::Counter => WindowValue::Counter {
                delta: f(0),
                total: f(1),
            },
            SeriesKind::Histogram => WindowValue::Histogram {
                count: self.counts[i],
                sum: f(0),
                distribution: Arc::clone(&self.dists[i]),
            },
        }
    }

    /// The windows `lo..hi` with their ends.
    pub fn windows(
        &self,
        lo: usize,
        hi: usize,
    ) -> impl ExactSizeIterator<Item = (i64, WindowValue)> + '_ {
        (lo..hi).map(|i| (self.end(i), self.value(i)))
    }

    /// Appends windows `lo..hi` to `out` as windows of `window_ms`. A
    /// query copies every window it reads once: counters, the common
    /// kind, are read straight from their columns.
    pub fn extend_windows(&self, lo: usize, hi: usize, window_ms: i64, out: &mut Vec<Window>) {
        out.reserve(hi.saturating_sub(lo));
        let window = |end_ms: i64, value| Window {
            start_ms: end_ms - window_ms,
            end_ms,
            value,
        };
        match (self.kind, &self.ends) {
            (SeriesKind::Counter, Ends::Even { first, step, .. }) => {
                let (deltas, totals) = (&self.column(0)[lo..hi], &self.column(1)[lo..hi]);
                out.extend(deltas.iter().zip(totals).zip(lo as i64..).map(
                    |((&delta, &total), i)| {
                        window(first + step * i, WindowValue::Counter { delta, total })
                    },
                ));
            }
            _ => out.extend(self.windows(lo, hi).map(|(end, value)| window(end, value))),
        }
    }

    /// Appends windows `lo..hi` to `out` (whose windows are the file's
    /// length), when the series is a counter; `false` otherwise.
    pub fn extend_counters(&self, lo: usize, hi: usize, out: &mut CounterColumns) -> bool {
        if self.kind != SeriesKind::Counter {
            return false;
        }
        let deltas = &self.column(0)[lo..hi];
        match &self.ends {
            Ends::Even { first, step, .. } => {
                out.extend_even(first + step * lo as i64, *step, deltas)
            }
            Ends::Listed(ends) => {
                for (&end, &delta) in ends[lo..hi].iter().zip(deltas) {
                    out.push(end, delta);
                }
            }
        }
        true
    }

    /// The index range of the windows ending in `(start_ms, end_ms]`.
    pub fn within_bounds(&self, start_ms: i64, end_ms: i64) -> (usize, usize) {
        let n = self.len();
        if n == 0 {
            return (0, 0);
        }
        if self.end(0) > start_ms && self.end(n - 1) <= end_ms {
            return (0, n);
        }
        let first_after = |t: i64| match &self.ends {
            Ends::Even { first, step, len } if *step > 0 => {
                // Ends are `first + i * step`: the first after `t` is
                // found by division.
                let past = t.saturating_sub(*first);
                if past < 0 {
                    0
                } else {
                    ((past / step + 1) as usize).min(*len)
                }
            }
            Ends::Even { len, first, .. } => {
                if *first > t {
                    0
                } else {
                    *len
                }
            }
            Ends::Listed(ends) => ends.partition_point(|e| *e <= t),
        };
        let lo = first_after(start_ms);
        (lo, first_after(end_ms).max(lo))
    }

    /// The memory the columns hold, distributions' buckets included.
    pub fn bytes(&self) -> usize {
        let ends = match &self.ends {
            Ends::Even { .. } => 0,
            Ends::Listed(ends) => ends.len() * 8,
        };
        let dists: usize = self.dists.iter().map(|d| 16 + d.buckets() * 16).sum();
        ends + self.counts.len() * 8 + self.floats.len() * 8 + dists
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(v: f64) -> WindowValue {
        WindowValue::Counter {
            delta: v,
            total: v * 2.0,
        }
    }

    fn packed(ends: &[i64]) -> Packed {
        let mut p = Packed::with_capacity(SeriesKind::Counter, ends.len());
        for (i, end) in ends.iter().enumerate() {
            p.push(*end, counter(i as f64));
        }
        p
    }

    #[test]
    fn even_and_uneven_ends_read_back_with_their_values() {
        for ends in [
            vec![],
            vec![60],
            vec![60, 120],
            vec![60, 120, 180, 240],
            vec![60, 120, 180, 300, 360],
            vec![60, 61, 500],
        ] {
            let p = packed(&ends);
            assert_eq!(p.len(), ends.len());
            let back: Vec<(i64, String)> = p
                .windows(0, p.len())
                .map(|(e, v)| (e, format!("{v:?}")))
                .collect();
            let want: Vec<(i64, String)> = ends
                .iter()
                .enumerate()
                .map(|(i, e)| (*e, format!("{:?}", counter(i as f64))))
                .collect();
            assert_eq!(back, want, "{ends:?}");
        }
    }

    #[test]
    fn bounds_match_a_search_of_the_ends() {
        for ends in [
            vec![60, 120, 180, 240, 300],
            vec![60, 120, 180, 300, 360],
            vec![100],
        ] {
            let p = packed(&ends);
            for start in -10..400 {
                for end in [start, start + 1, start + 59, start + 60, start + 200, 1000] {
                    let lo = ends.partition_point(|e| *e <= start);
                    let hi = ends.partition_point(|e| *e <= end).max(lo);
                    assert_eq!(
                        p.within_bounds(start, end),
                        (lo, hi),
                        "{ends:?} ({start}, {end}]"
                    );
                }
            }
        }
    }

    #[test]
    fn extended_windows_are_the_windows_read_one_by_one() {
        let even: Vec<i64> = (1..=20).map(|i| i * 60).collect();
        let uneven = [60, 120, 180, 300, 360, 420];
        for ends in [&even[..], &uneven[..]] {
            let p = packed(ends);
            for (lo, hi) in [(0, ends.len()), (2, 5), (3, 3), (0, 1)] {
                let mut out = Vec::new();
                p.extend_windows(lo, hi, 60, &mut out);
                let got: Vec<String> = out.iter().map(|w| format!("{w:?}")).collect();
                let want: Vec<String> = p
                    .windows(lo, hi)
                    .map(|(end_ms, value)| {
                        format!(
                            "{:?}",
                            Window {
                                start_ms: end_ms - 60,
                                end_ms,
                                value
                            }
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{ends:?} {lo}..{hi}");
            }
        }
    }

    #[test]
    fn counter_columns_are_the_counter_windows() {
        let uneven = [60, 120, 180, 300, 360, 420];
        let p = packed(&uneven);
        let mut windows = Vec::new();
        p.extend_windows(1, 5, 60, &mut windows);
        let mut want = CounterColumns::default();
        assert!(want.fill(&windows));
        let mut got = CounterColumns::default();
        got.clear(60);
        assert!(p.extend_counters(1, 5, &mut got));
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
        let mut gauge = Packed::with_capacity(SeriesKind::Gauge, 1);
        gauge.push(
            60,
            WindowValue::Gauge {
                count: 1,
                sum: 1.0,
                min: 1.0,
                max: 1.0,
                last: 1.0,
            },
        );
        assert!(!gauge.extend_counters(0, 1, &mut got));
    }

    #[test]
    fn a_counter_window_takes_sixteen_bytes() {
        let p = packed(&(1..=90).map(|i| i * 60_000).collect::<Vec<_>>());
        assert_eq!(p.bytes(), 90 * 16);
    }
}
