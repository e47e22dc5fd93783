//! Per-item validation. Invalid items are removed from the request and
//! reported through OTLP partial success; the rest are stored.
//!
//! What is rejected, and why an exporter would want to know:
//! - log records: a trace id that is not 0 or 16 bytes, a span id that is
//!   not 0 or 8 bytes (the ids could never be joined with traces);
//! - spans: a trace id that is not 16 bytes or a span id that is not 8
//!   (both are required), a parent span id that is not 0 or 8 bytes;
//! - data points: a number point without a value; a histogram whose bucket
//!   counts do not match its bounds or its count; an exponential histogram
//!   whose buckets do not add up to its count; a summary quantile outside
//!   0..=1; every point of a metric with an empty name;
//! - any item with more attributes than `max_attributes`.
//!
//! Attribute values longer than `max_attribute_value_bytes` are truncated,
//! not rejected (see `limits`).

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

use crate::limits::Limits;

/// What validating one resource found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub rejected: u64,
    pub truncated_values: u64,
    /// The first reason an item was rejected.
    pub first_error: Option<String>,
}

impl Verdict {
    fn reject(&mut self, reason: impl FnOnce() -> String) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(reason());
        }
    }
}

/// Checks the attribute count and truncates long values. `Err` names the
/// violation when the item must be rejected.
fn attributes(
    attributes: &mut [KeyValue],
    limits: &Limits,
    verdict: &mut Verdict,
    what: &str,
) -> Result<(), String> {
    if attributes.len() > limits.max_attributes {
        return Err(format!(
            "{what} has {} attributes, more than the limit of {}",
            attributes.len(),
            limits.max_attributes
        ));
    }
    for kv in attributes {
        if let Some(value) = kv.value.as_mut() {
            verdict.truncated_values += truncate(value, limits.max_attribute_value_bytes);
        }
    }
    Ok(())
}

/// Truncates string and bytes values (recursively); returns how many.
fn truncate(value: &mut AnyValue, limit: usize) -> u64 {
    match value.value.as_mut() {
        Some(Value::StringValue(s)) if s.len() > limit => {
            let mut end = limit;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            1
        }
        Some(Value::BytesValue(b)) if b.len() > limit => {
            b.truncate(limit);
            1
        }
        Some(Value::ArrayValue(array)) => array.values.iter_mut().map(|v| truncate(v, limit)).sum(),
        Some(Value::KvlistValue(list)) => list
            .values
            .iter_mut()
            .filter_map(|kv| kv.value.as_mut())
            .map(|v| truncate(v, limit))
            .sum(),
        _ => 0,
    }
}

fn truncate_resource(
    resource: Option<&mut opentelemetry_proto::tonic::resource::v1::Resource>,
    limits: &Limits,
    verdict: &mut Verdict,
) {
    if let Some(resource) = resource {
        for kv in &mut resource.attributes {
            if let Some(value) = kv.value.as_mut() {
                verdict.truncated_values += truncate(value, limits.max_attribute_value_bytes);
            }
        }
    }
}

pub fn logs(resource: &mut ResourceLogs, limits: &Limits) -> Verdict {
    let mut verdict = Verdict::default();
    truncate_resource(resource.resource.as_mut(), limits, &mut verdict);
    for scope in &mut resource.scope_logs {
        scope.log_records.retain_mut(|record| {
            let problem = if !matches!(record.trace_id.len(), 0 | 16) {
                Some(format!(
                    "log record trace id has {} bytes, expected 16",
                    record.trace_id.len()
                ))
            } else if !matches!(record.span_id.len(), 0 | 8) {
                Some(format!(
                    "log record span id has {} bytes, expected 8",
                    record.span_id.len()
                ))
            } else {
                attributes(&mut record.attributes, limits, &mut verdict, "log record").err()
            };
            match problem {
                Some(reason) => {
                    verdict.reject(|| reason);
                    false
                }
                None => true,
            }
        });
    }
    resource.scope_logs.retain(|s| !s.log_records.is_empty());
    verdict
}

pub fn traces(resource: &mut ResourceSpans, limits: &Limits) -> Verdict {
    let mut verdict = Verdict::default();
    truncate_resource(resource.resource.as_mut(), limits, &mut verdict);
    for scope in &mut resource.scope_spans {
        scope.spans.retain_mut(|span| {
            let problem = if span.trace_id.len() != 16 {
                Some(format!(
                    "span trace id has {} bytes, expected 16",
                    span.trace_id.len()
                ))
            } else if span.span_id.len() != 8 {
                Some(format!(
                    "span id has {} bytes, expected 8",
                    span.span_id.len()
                ))
            } else if !matches!(span.parent_span_id.len(), 0 | 8) {
                Some(format!(
                    "parent span id has {} bytes, expected 8",
                    span.parent_span_id.len()
                ))
            } else {
                attributes(&mut span.attributes, limits, &mut verdict, "span").err()
            };
            match problem {
                Some(reason) => {
                    verdict.reject(|| reason);
                    false
                }
                None => true,
            }
        });
    }
    resource.scope_spans.retain(|s| !s.spans.is_empty());
    verdict
}

pub fn metrics(resource: &mut ResourceMetrics, limits: &Limits) -> Verdict {
    let mut verdict = Verdict::default();
    truncate_resource(resource.resource.as_mut(), limits, &mut verdict);
    for scope in &mut resource.scope_metrics {
        scope.metrics.retain_mut(|metric| {
            if metric.name.is_empty() {
                for _ in 0..data_points(metric) {
                    verdict.reject(|| "metric has an empty name".into());
                }
                return false;
            }
            let name = metric.name.clone();
            retain_points(metric, limits, &mut verdict, &name);
            data_points(metric) > 0
        });
    }
    resource.scope_metrics.retain(|s| !s.metrics.is_empty());
    verdict
}

/// Data points in a metric.
pub fn data_points(metric: &Metric) -> usize {
    match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

fn retain_points(metric: &mut Metric, limits: &Limits, verdict: &mut Verdict, name: &str) {
    // Applies `check` to each point; a failing point is rejected.
    macro_rules! keep {
        ($points:expr, |$p:ident| $check:expr) => {
            $points.retain_mut(|$p| {
                let problem: Option<String> = $check.or_else(|| {
                    attributes(
                        &mut $p.attributes,
                        limits,
                        verdict,
                        &format!("data point of {name}"),
                    )
                    .err()
                });
                match problem {
                    Some(reason) => {
                        verdict.reject(|| reason);
                        false
                    }
                    None => true,
                }
            })
        };
    }
    let no_value = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
        p.value
            .is_none()
            .then(|| format!("data point of {name} has no value"))
    };
    match metric.data.as_mut() {
        Some(Data::Gauge(g)) => keep!(g.data_points, |p| no_value(p)),
        Some(Data::Sum(s)) => keep!(s.data_points, |p| no_value(p)),
        Some(Data::Histogram(h)) => keep!(h.data_points, |p| {
            let buckets: u64 = p.bucket_counts.iter().sum();
            if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
                Some(format!(
                    "histogram point of {name} has {} bucket counts for {} bounds",
                    p.bucket_counts.len(),
                    p.explicit_bounds.len()
                ))
            } else if !p.explicit_bounds.windows(2).all(|w| w[0] < w[1]) {
                Some(format!(
                    "histogram point of {name} has bounds that do not increase"
                ))
            } else if !p.bucket_counts.is_empty() && buckets != p.count {
                Some(format!(
                    "histogram point of {name} has count {} but its buckets hold {buckets}",
                    p.count
                ))
            } else {
                None
            }
        }),
        Some(Data::ExponentialHistogram(h)) => keep!(h.data_points, |p| {
            let sum = |b: &Option<
                opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets,
            >| { b.as_ref().map_or(0u64, |b| b.bucket_counts.iter().sum()) };
            let held = p.zero_count + sum(&p.positive) + sum(&p.negative);
            if !(-10..=20).contains(&p.scale) {
                Some(format!(
                    "exponential histogram point of {name} has scale {} outside -10..=20",
                    p.scale
                ))
            } else if held != p.count {
                Some(format!(
                    "exponential histogram point of {name} has count {} but its buckets hold {held}",
                    p.count
                ))
            } else {
                None
            }
        }),
        Some(Data::Summary(s)) => keep!(s.data_points, |p| {
            p.quantile_values
                .iter()
                .find(|q| !(0.0..=1.0).contains(&q.quantile))
                .map(|q| {
                    format!(
                        "summary point of {name} has quantile {} outside 0..=1",
                        q.quantile
                    )
                })
        }),
        None => {}
    }
}
