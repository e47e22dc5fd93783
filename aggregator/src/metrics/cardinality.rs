//! Cardinality limits: how many active series a tenant, and one metric of
//! a tenant, may have at once across every partition's worker.
//!
//! A worker asks [`Cardinality::admit`] before it creates a series and
//! calls [`Cardinality::release`] when it forgets one (idle eviction). A
//! refused series' points are dropped and counted by the worker, so a
//! label explosion costs a counter, never memory.

use std::collections::HashMap;
use std::sync::Mutex;

/// Limits on active series; `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardinalityLimits {
    pub max_series_per_tenant: usize,
    pub max_series_per_metric: usize,
}

impl Default for CardinalityLimits {
    fn default() -> CardinalityLimits {
        CardinalityLimits {
            max_series_per_tenant: 1_000_000,
            max_series_per_metric: 100_000,
        }
    }
}

/// Why a series was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TenantLimit,
    MetricLimit,
}

impl Refusal {
    /// The `reason` label of the dropped-series counter.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TenantLimit => "tenant_series_limit",
            Refusal::MetricLimit => "metric_series_limit",
        }
    }
}

#[derive(Debug, Default)]
struct TenantCount {
    series: usize,
    by_metric: HashMap<String, usize>,
}

/// Active series counts, shared by the workers of every partition.
#[derive(Debug)]
pub struct Cardinality {
    limits: CardinalityLimits,
    tenants: Mutex<HashMap<String, TenantCount>>,
}

impl Cardinality {
    pub fn new(limits: CardinalityLimits) -> Cardinality {
        Cardinality {
            limits,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> CardinalityLimits {
        self.limits
    }

    /// Counts a new series of `metric` for `tenant`, unless a limit is
    /// reached.
    pub fn admit(&self, tenant: &str, metric: &str) -> Result<(), Refusal> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let count = tenants.entry(tenant.to_owned()).or_default();
        if over(count.series, self.limits.max_series_per_tenant) {
            return Err(Refusal::TenantLimit);
        }
        let metric_count = count.by_metric.get(metric).copied().unwrap_or(0);
        if over(metric_count, self.limits.max_series_per_metric) {
            return Err(Refusal::MetricLimit);
        }
        count.series += 1;
        *count.by_metric.entry(metric.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Counts a series restored from a checkpoint, whatever the limits
    /// (they may have been lowered since; the series exists already).
    pub fn restore(&self, tenant: &str, metric: &str) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let count = tenants.entry(tenant.to_owned()).or_default();
        count.series += 1;
        *count.by_metric.entry(metric.to_owned()).or_default() += 1;
    }

    /// Uncounts a series that was forgotten.
    pub fn release(&self, tenant: &str, metric: &str) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = tenants.get_mut(tenant) {
            count.series = count.series.saturating_sub(1);
            if let Some(n) = count.by_metric.get_mut(metric) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    count.by_metric.remove(metric);
                }
            }
            if count.series == 0 {
                tenants.remove(tenant);
            }
        }
    }

    /// Active series of a tenant.
    pub fn active(&self, tenant: &str) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant).map_or(0, |c| c.series)
    }

    /// Active series of every tenant.
    pub fn total(&self) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.values().map(|c| c.series).sum()
    }
}

fn over(count: usize, limit: usize) -> bool {
    limit != 0 && count >= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_past_the_tenant_and_the_metric_count() {
        let cardinality = Cardinality::new(CardinalityLimits {
            max_series_per_tenant: 3,
            max_series_per_metric: 2,
        });
        assert_eq!(cardinality.admit("a", "x"), Ok(()));
        assert_eq!(cardinality.admit("a", "x"), Ok(()));
        assert_eq!(cardinality.admit("a", "x"), Err(Refusal::MetricLimit));
        assert_eq!(cardinality.admit("a", "y"), Ok(()));
        assert_eq!(cardinality.admit("a", "z"), Err(Refusal::TenantLimit));
        assert_eq!(cardinality.admit("b", "x"), Ok(()), "tenants count apart");
        cardinality.release("a", "x");
        assert_eq!(cardinality.admit("a", "z"), Ok(()));
        assert_eq!(cardinality.active("a"), 3);
        assert_eq!(cardinality.total(), 4);
    }
}
