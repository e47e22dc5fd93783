//! An in-memory [`SeriesSource`]: series and windows built by hand, for
//! tests of the PromQL engine and of anything that queries through it
//! (alert rules, the Prometheus-compatible API).
//!
//! It has one tier: `window_ms` is what [`SeriesSource::window_ms`]
//! reports, and `resolution_ms` is ignored. Every `select` is recorded, so
//! a test can check how often and with what resolution the engine asked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{AggregatorError, Result};
use crate::labels::{Labels, Matcher};
use crate::metrics::distribution::Distribution;
use crate::metrics::source::{
    MetricMetadata, SeriesSelect, SeriesSource, SeriesWindows, Window, WindowValue,
};
use crate::query::Deadline;

#[derive(Debug, Default)]
struct Tenant {
    /// Windows by series, each in ascending `end_ms` order.
    series: BTreeMap<Labels, Vec<Window>>,
    metadata: Vec<MetricMetadata>,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<String, Tenant>,
    selects: Vec<SeriesSelect>,
}

/// Series held in memory, per tenant.
#[derive(Debug)]
pub struct MemorySource {
    window_ms: i64,
    state: Mutex<State>,
}

impl MemorySource {
    /// An empty source whose windows are `window_ms` long.
    pub fn new(window_ms: i64) -> MemorySource {
        MemorySource {
            window_ms,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock left plain data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds windows to a series (created on first use), keeping them in
    /// `end_ms` order.
    pub fn insert(&self, tenant: &str, labels: Labels, windows: impl IntoIterator<Item = Window>) {
        let mut state = self.state();
        let series = state
            .tenants
            .entry(tenant.to_owned())
            .or_default()
            .series
            .entry(labels)
            .or_default();
        series.extend(windows);
        series.sort_by_key(|w| w.end_ms);
    }

    /// Adds one metric's metadata.
    pub fn insert_metadata(&self, tenant: &str, metadata: MetricMetadata) {
        let mut state = self.state();
        let tenant = state.tenants.entry(tenant.to_owned()).or_default();
        tenant.metadata.push(metadata);
    }

    /// Every `select` asked so far, oldest first.
    pub fn selects(&self) -> Vec<SeriesSelect> {
        self.state().selects.clone()
    }

    fn matching(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<Labels> {
        let state = self.state();
        let Some(tenant) = state.tenants.get(tenant) else {
            return Vec::new();
        };
        tenant
            .series
            .iter()
            .filter(|(labels, windows)| {
                labels.matches(matchers)
                    && windows
                        .iter()
                        .any(|w| w.end_ms > start_ms && w.end_ms <= end_ms)
            })
            .map(|(labels, _)| labels.clone())
            .collect()
    }
}

impl SeriesSource for MemorySource {
    fn select(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<Vec<SeriesWindows>> {
        deadline.check()?;
        let mut state = self.state();
        state.selects.push(select.clone());
        let Some(tenant) = state.tenants.get(&select.tenant) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (labels, windows) in &tenant.series {
            if !labels.matches(&select.matchers) {
                continue;
            }
            let windows: Vec<Window> = windows
                .iter()
                .filter(|w| w.end_ms > select.start_ms && w.end_ms <= select.end_ms)
                .cloned()
                .collect();
            if windows.is_empty() {
                continue;
            }
            if out.len() == max_series {
                return Err(AggregatorError::TooMany {
                    what: "series",
                    limit: max_series,
                });
            }
            out.push(SeriesWindows {
                labels: labels.clone(),
                windows,
            });
        }
        Ok(out)
    }

    fn window_ms(&self, _select: &SeriesSelect) -> i64 {
        self.window_ms
    }

    fn series(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Labels>> {
        let series = self.matching(tenant, matchers, start_ms, end_ms);
        if series.len() > max_series {
            return Err(AggregatorError::TooMany {
                what: "series",
                limit: max_series,
            });
        }
        Ok(series)
    }

    fn label_names(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .matching(tenant, matchers, start_ms, end_ms)
            .iter()
            .flat_map(|labels| labels.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>> {
        let mut values: Vec<String> = self
            .matching(tenant, matchers, start_ms, end_ms)
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn metadata(&self, tenant: &str, name: Option<&str>) -> Result<Vec<MetricMetadata>> {
        let state = self.state();
        Ok(state
            .tenants
            .get(tenant)
            .map(|t| {
                t.metadata
                    .iter()
                    .filter(|m| name.is_none_or(|n| m.name == n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A gauge window `(end_ms - len_ms, end_ms]` whose one point is `value`.
pub fn gauge_window(end_ms: i64, len_ms: i64, value: f64) -> Window {
    Window {
        start_ms: end_ms - len_ms,
        end_ms,
        value: WindowValue::Gauge {
            count: 1,
            sum: value,
            min: value,
            max: value,
            last: value,
        },
    }
}

/// Counter windows of `len_ms` each, the first ending at `first_end_ms`,
/// with the given per-window deltas; totals run from zero.
pub fn counter_windows(first_end_ms: i64, len_ms: i64, deltas: &[f64]) -> Vec<Window> {
    let mut total = 0.0;
    deltas
        .iter()
        .enumerate()
        .map(|(i, delta)| {
            total += delta;
            let end_ms = first_end_ms + len_ms * i as i64;
            Window {
                start_ms: end_ms - len_ms,
                end_ms,
                value: WindowValue::Counter {
                    delta: *delta,
                    total,
                },
            }
        })
        .collect()
}

/// A histogram window holding `values`, each observed once.
pub fn histogram_window(end_ms: i64, len_ms: i64, values: &[f64]) -> Window {
    let mut distribution = Distribution::default();
    for v in values {
        distribution.record(*v, 1);
    }
    Window {
        start_ms: end_ms - len_ms,
        end_ms,
        value: WindowValue::Histogram {
            count: values.len() as u64,
            sum: values.iter().sum(),
            distribution: Arc::new(distribution),
        },
    }
}
