//! The PromQL engine: Prometheus' query language evaluated over metric
//! windows read through a [`SeriesSource`](crate::metrics::source::SeriesSource).
//!
//! Queries are parsed by `promql-parser` ([`parse`]); each distinct
//! selector is fetched from the source once for the whole query (span and
//! resolution worked out in [`selector`]), then the tree is evaluated per
//! step from memory ([`evaluator`]). A range query is a series of instant
//! evaluations at `start, start + step, ... ≤ end`; the common shapes are
//! swept series by series across all steps instead, with the same results
//! ([`sweep`]), reading one series at a time on several threads
//! ([`scan`]).
//!
//! # Samples
//! A window's sample is stamped at its `end_ms`. An instant selector takes
//! each series' newest window ending in `(t - lookback, t]` (lookback 5 m
//! by default, [`PromQlEngine::with_lookback_ms`]): a gauge's `last`, a
//! counter's `total`. A range selector `x[r]` takes the windows ending in
//! `(t - r, t]`.
//!
//! A histogram series `x` has no float value: a plain selector, `rate`,
//! `increase`, `last_over_time` and `sum` carry its distribution, which
//! `histogram_quantile`, `histogram_count`, `histogram_sum` and
//! `histogram_avg` read, the way Prometheus treats native histograms. A
//! distribution reaching a result, arithmetic or another float function
//! is dropped. `x_count`, `x_sum` and `x_bucket` are ordinary counters.
//!
//! # Supported
//! - Selectors with `=`, `!=`, `=~`, `!~`, `or` between matcher groups,
//!   `offset` (also negative), `@ <time>`, `@ start()`, `@ end()`, and
//!   subqueries `expr[range:step]` (step defaults to 1 m).
//! - Range functions (see [`range_functions`] for each window kind):
//!   `rate increase irate delta idelta resets changes` and
//!   `sum avg min max count last stddev stdvar quantile present absent`
//!   `_over_time`.
//! - Aggregations `sum avg min max count stddev stdvar group topk bottomk
//!   quantile count_values` with `by` / `without`.
//! - Binary `+ - * / % ^ atan2`, comparisons with and without `bool`,
//!   `and or unless`, `on`, `ignoring`, `group_left`, `group_right`, with
//!   Prometheus' result labels and many-to-many errors.
//! - `histogram_quantile` over distributions and over classic `le`
//!   buckets; `histogram_count`, `histogram_sum`, `histogram_avg`.
//! - `abs ceil floor round exp ln log2 log10 sqrt sgn deg rad` and the
//!   trigonometric functions, `clamp clamp_min clamp_max time timestamp
//!   vector scalar absent absent_over_time label_replace label_join sort
//!   sort_desc`.
//! - Limits: series held or returned past `max_series` and samples
//!   (fetched windows plus returned points) past `max_samples` fail with
//!   `TooMany`; the deadline is checked per step and every 1024 series.
//!
//! # Deviations from Prometheus
//! - **`rate`, `increase`, `delta` over counters are exact, not
//!   extrapolated.** Counter windows carry the exact increase within
//!   each window, resets already applied, so `increase(x[r])` is the sum
//!   of the deltas of the windows ending in `(t - r, t]` and `rate` is
//!   that over `r` in seconds. Prometheus only sees scraped samples and
//!   extrapolates their increase to the range's edges, which is why its
//!   `increase` of an integer counter is often fractional; here it is
//!   not. A single window in range is enough. A window longer than the
//!   range counts whole, and `rate` then divides by the time the windows
//!   cover rather than by the range.
//!   `delta` of a counter is its increase too: where Prometheus' `delta`
//!   is the raw difference of two samples (negative across a reset),
//!   Weir's has the reset applied.
//! - Range selectors and the lookback are left-open, `(t - r, t]`, as in
//!   Prometheus 3. Prometheus 2 closes them, `[t - r, t]`: with samples
//!   on window ends and a range that is a multiple of the window, it
//!   holds one more sample, at exactly `t - r` (so `x[10s]` over 10 s
//!   windows is one window here, two samples there).
//! - Over gauge windows, `rate`/`increase` treat the windows' `last`
//!   values as counter samples (resets detected, no extrapolation) and
//!   `delta` is the newest `last` minus the oldest `last`, unextrapolated.
//! - `*_over_time` over gauges use the window aggregates: `sum` = Σ sum,
//!   `count` = Σ count (raw points), `min`/`max` of the windows' min/max,
//!   `avg` = Σ sum / Σ count. `stddev`, `stdvar`, `quantile`, `changes`,
//!   `resets`, `irate`, `idelta` see one sample per window, its `last`
//!   value, as if scraped once per window.
//! - Over counters, `*_over_time`, `resets` and `irate` see the totals:
//!   a cumulative counter's reported value at each window's end (what a
//!   scrape at that instant would read), a delta counter's running sum.
//! - Over histogram windows, `sum`/`count`/`avg_over_time` give the sum,
//!   count and mean of the observations; `min`/`max`/`quantile_over_time`
//!   read the merged distribution.
//! - Samples are only as fresh and as fine as the windows: an instant
//!   selector sees the newest *closed* window, and a range selector
//!   narrower than the source's windows may see no window at all.
//! - A range query's result is sorted by labels; `sort` only orders
//!   instant results. The `fill` binary modifiers, `info`,
//!   `predict_linear`, `deriv`, `holt_winters`, the date functions and
//!   `limitk`/`limit_ratio` are not supported and say so.
//! - Parse error positions are best-effort (see [`syntax`]).

pub mod aggregation;
pub mod binary;
pub mod engine;
pub mod evaluator;
pub mod functions;
pub mod histogram;
pub mod range_functions;
pub mod scan;
pub mod selector;
pub mod sweep;
pub mod syntax;
pub mod value;

#[cfg(test)]
mod tests;

pub use engine::{
    DEFAULT_LOOKBACK_MS, DEFAULT_SUBQUERY_STEP_MS, MAX_POINTS_PER_SERIES, PromQlEngine,
};
pub use selector::selector_matchers;
pub use syntax::parse;
pub use value::{Sample, Series, Value};
