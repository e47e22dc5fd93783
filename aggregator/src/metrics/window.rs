//! Windows: what the workers accumulate per series and hand to the store.
//!
//! A window of length `L` ending at `end_ms` (a multiple of `L`) covers
//! the event times `(end_ms - L, end_ms]`. A point belongs to exactly one
//! window per tier ([`window_end`]).
//!
//! - [`Accumulator`]: an *open* window being built from points, in any
//!   time order within lateness.
//! - [`ClosedWindow`]: a finished window of one series, as stored and read
//!   back. Closed windows of a finer tier merge into the coarser tiers
//!   ([`merge_closed`]), which is how the 1 m and 1 h rollups are built.
//! - [`SeriesKey`]: who the window belongs to (tenant, Prometheus labels,
//!   kind).
//!
//! # Invariants
//! - A counter window's `delta` is the exact increase of the series within
//!   the window (resets applied by the worker). Its `total` is the value a
//!   Prometheus user would scrape at the window's end: a cumulative
//!   counter's newest reported value, or a delta counter's running sum.
//! - Merging is associative and merging windows in time order gives the
//!   same result as accumulating their points into one window.

use std::sync::Arc;

use crate::labels::Labels;
use crate::metrics::distribution::Distribution;
use crate::metrics::source::{Window, WindowValue};

/// What a series holds, which decides how its windows merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKind {
    Gauge,
    Counter,
    Histogram,
}

impl SeriesKind {
    /// A stable one-byte code, for files.
    pub fn code(self) -> u8 {
        match self {
            SeriesKind::Gauge => 0,
            SeriesKind::Counter => 1,
            SeriesKind::Histogram => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<SeriesKind> {
        match code {
            0 => Some(SeriesKind::Gauge),
            1 => Some(SeriesKind::Counter),
            2 => Some(SeriesKind::Histogram),
            _ => None,
        }
    }
}

/// A series: its tenant, its labels in the Prometheus view (including
/// `__name__`) and its kind. Shared between the worker's state and every
/// window it closes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub tenant: String,
    pub labels: Labels,
    pub kind: SeriesKind,
}

impl SeriesKey {
    /// The metric name (`__name__`), or "" when it has none.
    pub fn name(&self) -> &str {
        self.labels.get("__name__").unwrap_or("")
    }
}

/// One closed window of one series.
#[derive(Debug, Clone)]
pub struct ClosedWindow {
    pub series: Arc<SeriesKey>,
    /// Inclusive end, milliseconds since the epoch; the start is `end_ms`
    /// minus the tier's window length.
    pub end_ms: i64,
    pub value: WindowValue,
}

impl ClosedWindow {
    /// The window as the query engine reads it.
    pub fn to_window(&self, window_ms: i64) -> Window {
        Window {
            start_ms: self.end_ms - window_ms,
            end_ms: self.end_ms,
            value: self.value.clone(),
        }
    }
}

/// The end of the window of length `window_ms` holding `time_ms`: windows
/// are `(end - len, end]`, ends are multiples of the length.
pub fn window_end(time_ms: i64, window_ms: i64) -> i64 {
    let end = time_ms.div_euclid(window_ms) * window_ms;
    if end == time_ms { end } else { end + window_ms }
}

/// An open window of one series.
#[derive(Debug, Clone)]
pub enum Accumulator {
    Gauge {
        count: u64,
        sum: f64,
        min: f64,
        max: f64,
        last: f64,
        /// Event time of `last`, nanoseconds; a later point replaces it,
        /// an earlier one (late, within lateness) does not.
        last_nanos: u64,
    },
    Counter {
        delta: f64,
        /// A cumulative counter's newest reported value and its event
        /// time, nanoseconds; `None` for a delta counter.
        reported: Option<(u64, f64)>,
    },
    Histogram {
        count: u64,
        sum: f64,
        distribution: Distribution,
    },
}

impl Accumulator {
    /// An empty gauge window.
    pub fn gauge() -> Accumulator {
        Accumulator::Gauge {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: f64::NAN,
            last_nanos: 0,
        }
    }

    pub fn counter() -> Accumulator {
        Accumulator::Counter {
            delta: 0.0,
            reported: None,
        }
    }

    pub fn histogram(figures: u8) -> Accumulator {
        Accumulator::Histogram {
            count: 0,
            sum: 0.0,
            distribution: Distribution::new(figures),
        }
    }

    /// An empty window for a series of `kind`.
    pub fn for_kind(kind: SeriesKind, figures: u8) -> Accumulator {
        match kind {
            SeriesKind::Gauge => Accumulator::gauge(),
            SeriesKind::Counter => Accumulator::counter(),
            SeriesKind::Histogram => Accumulator::histogram(figures),
        }
    }

    /// Adds a gauge point observed at `nanos`. NaN values count but never
    /// become min or max (they can still be `last`, as in Prometheus).
    pub fn add_gauge(&mut self, value: f64, nanos: u64) {
        if let Accumulator::Gauge {
            count,
            sum,
            min,
            max,
            last,
            last_nanos,
        } = self
        {
            *count += 1;
            *sum += value;
            if value < *min {
                *min = value;
            }
            if value > *max {
                *max = value;
            }
            if *count == 1 || nanos >= *last_nanos {
                *last = value;
                *last_nanos = nanos;
            }
        }
    }

    /// Adds an increase to a counter window.
    pub fn add_delta(&mut self, increase: f64) {
        if let Accumulator::Counter { delta, .. } = self {
            *delta += increase;
        }
    }

    /// Notes a cumulative counter's reported value at `nanos`; the newest
    /// becomes the window's `total`.
    pub fn report_cumulative(&mut self, value: f64, nanos: u64) {
        if let Accumulator::Counter { reported, .. } = self
            && reported.is_none_or(|(at, _)| nanos >= at)
        {
            *reported = Some((nanos, value));
        }
    }

    /// Adds observations to a histogram window: `count` observations
    /// summing to `sum`, distributed as `values` (value, count) pairs.
    pub fn add_observations(&mut self, add_count: u64, add_sum: f64, values: &[(f64, u64)]) {
        if let Accumulator::Histogram {
            count,
            sum,
            distribution,
        } = self
        {
            *count += add_count;
            *sum += add_sum;
            for &(value, n) in values {
                distribution.record(value, n);
            }
        }
    }

    /// Whether no point reached this window.
    pub fn is_empty(&self) -> bool {
        match self {
            Accumulator::Gauge { count, .. } => *count == 0,
            // A counter window exists once a point reached it, even with a
            // zero increase; the worker only creates it then.
            Accumulator::Counter { .. } => false,
            Accumulator::Histogram {
                count,
                distribution,
                ..
            } => *count == 0 && distribution.count() == 0,
        }
    }

    /// Closes the window. `total` is the counter's value before this
    /// window: a cumulative counter's newest reported value replaces it, a
    /// delta counter's increase is added to it; the result is the window's
    /// `total`.
    pub fn close(self, total: &mut f64) -> WindowValue {
        match self {
            Accumulator::Gauge {
                count,
                sum,
                min,
                max,
                last,
                ..
            } => WindowValue::Gauge {
                count,
                sum,
                // A window of only NaNs has no min or max.
                min: if min.is_finite() || min == f64::NEG_INFINITY {
                    min
                } else {
                    f64::NAN
                },
                max: if max.is_finite() || max == f64::INFINITY {
                    max
                } else {
                    f64::NAN
                },
                last,
            },
            Accumulator::Counter { delta, reported } => {
                match reported {
                    Some((_, value)) => *total = value,
                    None => *total += delta,
                }
                WindowValue::Counter {
                    delta,
                    total: *total,
                }
            }
            Accumulator::Histogram {
                count,
                sum,
                distribution,
            } => WindowValue::Histogram {
                count,
                sum,
                distribution: Arc::new(distribution),
            },
        }
    }
}

/// Merges `later` (a closed window that ends after `earlier`) into
/// `earlier`, as a coarser window covering both. Mismatched kinds keep
/// `earlier` unchanged (a series never changes kind).
pub fn merge_closed(earlier: &mut WindowValue, later: &WindowValue) {
    match (earlier, later) {
        (
            WindowValue::Gauge {
                count,
                sum,
                min,
                max,
                last,
            },
            WindowValue::Gauge {
                count: c2,
                sum: s2,
                min: min2,
                max: max2,
                last: last2,
            },
        ) => {
            *count += c2;
            *sum += s2;
            *min = min_ignoring_nan(*min, *min2);
            *max = max_ignoring_nan(*max, *max2);
            *last = *last2;
        }
        (
            WindowValue::Counter { delta, total },
            WindowValue::Counter {
                delta: d2,
                total: t2,
            },
        ) => {
            *delta += d2;
            *total = *t2;
        }
        (
            WindowValue::Histogram {
                count,
                sum,
                distribution,
            },
            WindowValue::Histogram {
                count: c2,
                sum: s2,
                distribution: d2,
            },
        ) => {
            *count += c2;
            *sum += s2;
            Arc::make_mut(distribution).merge(d2);
        }
        _ => {}
    }
}

fn min_ignoring_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else {
        a.min(b)
    }
}

fn max_ignoring_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else {
        a.max(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ends_are_inclusive_multiples_of_the_length() {
        assert_eq!(window_end(10_000, 10_000), 10_000);
        assert_eq!(window_end(10_001, 10_000), 20_000);
        assert_eq!(window_end(1, 10_000), 10_000);
        assert_eq!(window_end(0, 10_000), 0);
        assert_eq!(window_end(-1, 10_000), 0);
    }

    #[test]
    fn a_gauge_keeps_the_latest_point_by_event_time() {
        let mut acc = Accumulator::gauge();
        acc.add_gauge(5.0, 200);
        acc.add_gauge(1.0, 100); // late, within lateness
        acc.add_gauge(f64::NAN, 50);
        let mut total = 0.0;
        let WindowValue::Gauge {
            count,
            sum,
            min,
            max,
            last,
        } = acc.close(&mut total)
        else {
            panic!("a gauge closes as a gauge");
        };
        assert_eq!((count, min, max, last), (3, 1.0, 5.0, 5.0));
        assert!(sum.is_nan());
    }

    #[test]
    fn merging_closed_windows_equals_accumulating_their_points() {
        let points = [(3.0, 1u64), (7.0, 2), (2.0, 3), (9.0, 4)];
        let mut whole = Accumulator::gauge();
        for (v, t) in points {
            whole.add_gauge(v, t);
        }
        let mut total = 0.0;
        let whole = whole.close(&mut total);

        let mut first = Accumulator::gauge();
        let mut second = Accumulator::gauge();
        for (v, t) in &points[..2] {
            first.add_gauge(*v, *t);
        }
        for (v, t) in &points[2..] {
            second.add_gauge(*v, *t);
        }
        let mut merged = first.close(&mut total);
        merge_closed(&mut merged, &second.close(&mut total));
        assert_eq!(format!("{merged:?}"), format!("{whole:?}"));
    }

    #[test]
    fn counters_merge_deltas_and_keep_the_later_total() {
        let mut total = 10.0;
        let mut a = Accumulator::counter();
        a.add_delta(2.0);
        let mut b = Accumulator::counter();
        b.add_delta(3.0);
        let mut merged = a.close(&mut total);
        merge_closed(&mut merged, &b.close(&mut total));
        let WindowValue::Counter { delta, total } = merged else {
            panic!("counters merge as counters");
        };
        assert_eq!((delta, total), (5.0, 15.0));
    }
}
