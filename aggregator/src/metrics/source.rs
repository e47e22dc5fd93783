//! The boundary the PromQL engine reads metric windows through.
//!
//! The engine never sees the window store's files: it asks a
//! [`SeriesSource`] for the series of a tenant whose labels satisfy a
//! selector, with their closed windows in a time range, at a resolution.
//!
//! # The Prometheus view of OTLP metrics
//! Labels are the resource and point attributes under their
//! [`label_name`](crate::labels::label_name) plus `__name__` (the metric
//! name, dots to underscores). The source presents every series a
//! Prometheus user expects to select, each with one [`WindowValue`] kind:
//! - gauge `x` and non-monotonic sum `x`: [`WindowValue::Gauge`];
//! - monotonic sum `x`: [`WindowValue::Counter`];
//! - histogram or exponential histogram `x`: `x` as
//!   [`WindowValue::Histogram`], plus counters `x_count` and `x_sum`, and
//!   for explicit-bucket histograms `x_bucket{le="..."}` counters
//!   (cumulative per bound, `le="+Inf"` last), so that classic
//!   `histogram_quantile(0.9, rate(x_bucket[5m]))` works;
//! - summary `x`: `x{quantile="0.5"}` gauges (the last value in the window),
//!   plus counters `x_count` and `x_sum`.

use std::sync::Arc;

use crate::error::Result;
use crate::labels::{Labels, Matcher};
pub use crate::metrics::counters::CounterColumns;
use crate::metrics::distribution::Distribution;
use crate::query::Deadline;

/// The aggregate of one series over one window `(start_ms, end_ms]`.
#[derive(Debug, Clone)]
pub enum WindowValue {
    /// A gauge's points in the window (count ≥ 1).
    Gauge {
        count: u64,
        sum: f64,
        min: f64,
        max: f64,
        last: f64,
    },
    /// A monotonic counter: `delta` is the increase within the window
    /// (resets already accounted for), `total` the counter's value at the
    /// window's end: the newest value a cumulative counter reported (it
    /// drops at a reset, as a scraped counter does), or the running sum of
    /// a delta counter's increases.
    Counter { delta: f64, total: f64 },
    /// The observations made within the window.
    Histogram {
        count: u64,
        sum: f64,
        distribution: Arc<Distribution>,
    },
}

/// One closed window of a series.
#[derive(Debug, Clone)]
pub struct Window {
    /// Exclusive start, milliseconds since the epoch.
    pub start_ms: i64,
    /// Inclusive end: the window's samples are stamped at its end.
    pub end_ms: i64,
    pub value: WindowValue,
}

/// One series with its windows in ascending time order.
#[derive(Debug, Clone)]
pub struct SeriesWindows {
    /// Includes `__name__`.
    pub labels: Labels,
    pub windows: Vec<Window>,
}

/// What a metric is, for `/api/v1/metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    pub name: String,
    /// Prometheus' types: `counter`, `gauge`, `histogram`, `summary`.
    pub kind: &'static str,
    pub help: String,
    pub unit: String,
}

/// Selected series whose windows are read on demand, from any thread.
pub trait LazySeries: Send + Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Series `i`'s labels.
    fn labels(&self, i: usize) -> &Labels;

    /// Series `i`'s windows, ascending, into `out` (cleared first).
    fn windows(&self, i: usize, out: &mut Vec<Window>);

    /// Series `i`'s windows as [`CounterColumns`] (`out` cleared first)
    /// when every one is a counter's; `false` otherwise.
    fn counters(&self, i: usize, out: &mut CounterColumns) -> bool {
        let mut windows = Vec::new();
        self.windows(i, &mut windows);
        out.fill(&windows)
    }
}

impl LazySeries for Vec<SeriesWindows> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn labels(&self, i: usize) -> &Labels {
        &self[i].labels
    }

    fn windows(&self, i: usize, out: &mut Vec<Window>) {
        out.clear();
        out.extend_from_slice(&self[i].windows);
    }

    fn counters(&self, i: usize, out: &mut CounterColumns) -> bool {
        out.fill(&self[i].windows)
    }
}

/// What to select.
#[derive(Debug, Clone)]
pub struct SeriesSelect {
    pub tenant: String,
    /// Every matcher must hold; at least one should not match empty.
    pub matchers: Vec<Matcher>,
    /// Windows ending in `(start_ms, end_ms]` are returned.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The coarsest window length the query can use (e.g. its step); the
    /// source picks the coarsest tier no longer than this that still holds
    /// the range, else the finest that does.
    pub resolution_ms: i64,
}

/// Somewhere metric windows can be selected from.
pub trait SeriesSource: Send + Sync + 'static {
    /// The selected series with their windows. Blocking: call it from a
    /// blocking thread. Fails with [`TooMany`](crate::AggregatorError::TooMany)
    /// past `max_series`, with a timeout past `deadline`.
    fn select(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<Vec<SeriesWindows>>;

    /// The series [`select`](Self::select) would return, in the same
    /// order, with their windows read only when asked for: a query can
    /// then hold one series' windows at a time (per thread) instead of
    /// every series at once.
    fn select_lazy(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<Box<dyn LazySeries>> {
        Ok(Box::new(self.select(select, max_series, deadline)?))
    }

    /// The window length of the tier `select` would read, so the engine can
    /// reason about sample spacing.
    fn window_ms(&self, select: &SeriesSelect) -> i64;

    /// Label sets of the series with a window in `(start_ms, end_ms]`
    /// matching `matchers` (all series when `matchers` is empty).
    fn series(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Labels>>;

    /// Label names, sorted, of the series `series` would return.
    fn label_names(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>>;

    /// Values, sorted, of one label across the series `series` would return.
    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>>;

    /// Metadata of every metric name (or only `name`).
    fn metadata(&self, tenant: &str, name: Option<&str>) -> Result<Vec<MetricMetadata>>;
}
