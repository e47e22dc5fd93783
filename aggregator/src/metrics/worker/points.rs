//! From OTLP data points to window updates: the Prometheus view of each
//! metric kind and the cumulative-to-delta conversion.
//!
//! | OTLP | series | window |
//! |---|---|---|
//! | gauge, non-monotonic sum | `x` | gauge: count, sum, min, max, last |
//! | monotonic sum | `x` | counter: delta (cumulative → delta), total |
//! | histogram | `x`, `x_count`, `x_sum`, `x_bucket{le}` | HdrHistogram + count + sum; counters |
//! | exponential histogram | `x`, `x_count`, `x_sum` | HdrHistogram + count + sum; counters |
//! | summary | `x{quantile}`, `x_count`, `x_sum` | gauges (last); counters |
//!
//! # Cumulative to delta
//! A cumulative point's increase is its value minus the series' previous
//! value. A lower value, or a later `start_time_unix_nano`, is a reset:
//! the counter restarted from zero, so its whole value is the increase. A
//! series' first point counts whole only when its start lies after every
//! closed window (the counter's whole life is in open windows); otherwise
//! it is the baseline, as a first scrape is for Prometheus. A point no
//! newer than the previous one is ignored, and a late point (its window
//! closed) leaves the previous value alone, so its increase is counted
//! with the next point rather than lost.
//!
//! Histogram buckets become HdrHistogram observations at a representative
//! value per bucket: the middle of an explicit bucket (clamped to the
//! point's min and max), the geometric middle of an exponential one.

use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, ExponentialHistogramDataPoint, HistogramDataPoint,
    Metric, NumberDataPoint, SummaryDataPoint,
};

use super::series::{
    Cumulative, PointAttributes, PreviousBuckets, ResourceContext, SeriesName, Shape, Slot,
};
use super::{DropReason, PartitionState};
use crate::metrics::cardinality::Cardinality;
use crate::metrics::window::SeriesKind;

/// The Prometheus type of a metric, for `/api/v1/metadata`.
pub(super) fn prometheus_type(metric: &Metric) -> Option<&'static str> {
    Some(match metric.data.as_ref()? {
        Data::Gauge(_) => "gauge",
        Data::Sum(sum) if sum.is_monotonic => "counter",
        Data::Sum(_) => "gauge",
        Data::Histogram(_) | Data::ExponentialHistogram(_) => "histogram",
        Data::Summary(_) => "summary",
    })
}

/// Time in milliseconds of a point's nanoseconds.
fn millis(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

fn cumulative(temporality: i32) -> bool {
    temporality == AggregationTemporality::Cumulative as i32
}

fn no_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

fn number(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(NumberValue::AsDouble(v)) => v,
        Some(NumberValue::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

impl PartitionState {
    /// Applies every point of one metric of one resource.
    pub(super) fn apply_metric(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &Metric,
        cardinality: &Cardinality,
    ) {
        let name = metric.name.as_str();
        match metric.data.as_ref() {
            Some(Data::Gauge(gauge)) => {
                for point in &gauge.data_points {
                    self.gauge_point(resource, name, point, cardinality);
                }
            }
            Some(Data::Sum(sum)) if sum.is_monotonic => {
                let cumulative = cumulative(sum.aggregation_temporality);
                for point in &sum.data_points {
                    self.counter_point(resource, name, point, cumulative, cardinality);
                }
            }
            Some(Data::Sum(sum)) => {
                for point in &sum.data_points {
                    self.gauge_point(resource, name, point, cardinality);
                }
            }
            Some(Data::Histogram(histogram)) => {
                let cumulative = cumulative(histogram.aggregation_temporality);
                for point in &histogram.data_points {
                    self.histogram_point(resource, name, point, cumulative, cardinality);
                }
            }
            Some(Data::ExponentialHistogram(histogram)) => {
                let cumulative = cumulative(histogram.aggregation_temporality);
                for point in &histogram.data_points {
                    self.exponential_point(resource, name, point, cumulative, cardinality);
                }
            }
            Some(Data::Summary(summary)) => {
                for point in &summary.data_points {
                    self.summary_point(resource, name, point, cardinality);
                }
            }
            None => {}
        }
    }

    fn slot(
        &mut self,
        resource: &mut ResourceContext<'_>,
        name: SeriesName<'_>,
        attributes: &PointAttributes<'_>,
        cardinality: &Cardinality,
    ) -> Option<Slot> {
        match self.series.resolve(resource, name, attributes, cardinality) {
            Ok(slot) => Some(slot),
            Err(refusal) => {
                self.drop_point(DropReason::Refused(refusal));
                None
            }
        }
    }

    fn gauge_point(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        point: &NumberDataPoint,
        cardinality: &Cardinality,
    ) {
        if no_value(point.flags) {
            return;
        }
        let name = SeriesName {
            metric,
            suffix: "",
            extra: None,
            kind: SeriesKind::Gauge,
        };
        let attributes = PointAttributes::new(&point.attributes, &mut self.scratch);
        let Some(slot) = self.slot(resource, name, &attributes, cardinality) else {
            return;
        };
        self.gauge(slot, point.time_unix_nano, number(point));
    }

    fn gauge(&mut self, slot: Slot, nanos: u64, value: f64) {
        let time_ms = millis(nanos);
        if let Some(window) = self.open_window(slot, SeriesKind::Gauge, time_ms) {
            window.add_gauge(value, nanos);
            self.series.get_mut(slot).last_seen_ms = time_ms;
        }
    }

    fn counter_point(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        point: &NumberDataPoint,
        cumulative: bool,
        cardinality: &Cardinality,
    ) {
        if no_value(point.flags) {
            return;
        }
        let name = SeriesName {
            metric,
            suffix: "",
            extra: None,
            kind: SeriesKind::Counter,
        };
        let attributes = PointAttributes::new(&point.attributes, &mut self.scratch);
        let Some(slot) = self.slot(resource, name, &attributes, cardinality) else {
            return;
        };
        let (start, time, value) = (
            point.start_time_unix_nano,
            point.time_unix_nano,
            number(point),
        );
        if cumulative {
            self.cumulative_counter(slot, start, time, value);
        } else {
            self.delta_counter(slot, time, value);
        }
    }

    /// Adds an increase reported as a delta.
    fn delta_counter(&mut self, slot: Slot, nanos: u64, increase: f64) {
        let time_ms = millis(nanos);
        if let Some(window) = self.open_window(slot, SeriesKind::Counter, time_ms) {
            window.add_delta(increase);
            self.series.get_mut(slot).last_seen_ms = time_ms;
        }
    }

    /// Turns a cumulative value into an increase and adds it.
    fn cumulative_counter(&mut self, slot: Slot, start: u64, nanos: u64, value: f64) {
        let time_ms = millis(nanos);
        let horizon = self.first_point_horizon(time_ms);
        let previous = self.series.get(slot).cumulative;
        if previous.is_some_and(|p| nanos <= p.time_nanos) {
            return;
        }
        let Some(window) = self.open_window(slot, SeriesKind::Counter, time_ms) else {
            return;
        };
        let increase = match previous {
            Some(p) if value < p.value || (start != 0 && start != p.start_nanos) => value,
            Some(p) => value - p.value,
            None if start != 0 && millis(start) > horizon => value,
            None => 0.0,
        };
        window.add_delta(increase);
        window.report_cumulative(value, nanos);
        let state = self.series.get_mut(slot);
        state.cumulative = Some(Cumulative {
            start_nanos: start,
            time_nanos: nanos,
            value,
        });
        state.last_seen_ms = time_ms;
    }

    fn histogram_point(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        point: &HistogramDataPoint,
        cumulative: bool,
        cardinality: &Cardinality,
    ) {
        if no_value(point.flags) || point.bucket_counts.len() != point.explicit_bounds.len() + 1 {
            self.drop_point(DropReason::Malformed);
            return;
        }
        let sum = point.sum.unwrap_or(0.0);
        let shape = Shape::Explicit {
            bounds: point.explicit_bounds.clone(),
            counts: point.bucket_counts.clone(),
        };
        let histogram = HistogramPoint {
            start: point.start_time_unix_nano,
            time: point.time_unix_nano,
            count: point.count,
            sum,
            min: point.min,
            max: point.max,
            shape,
        };
        let attributes = &PointAttributes::new(&point.attributes, &mut self.scratch);
        self.histogram(
            resource,
            metric,
            attributes,
            &histogram,
            cumulative,
            cardinality,
        );
        // Classic buckets: cumulative counts per upper bound, `+Inf` last.
        let mut running = 0u64;
        for (i, count) in point.bucket_counts.iter().enumerate() {
            running += count;
            let le = point
                .explicit_bounds
                .get(i)
                .copied()
                .unwrap_or(f64::INFINITY);
            let name = SeriesName {
                metric,
                suffix: "_bucket",
                extra: Some(("le", le)),
                kind: SeriesKind::Counter,
            };
            self.derived_counter(
                resource,
                name,
                attributes,
                &histogram,
                running as f64,
                cumulative,
                cardinality,
            );
        }
    }

    fn exponential_point(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        point: &ExponentialHistogramDataPoint,
        cumulative: bool,
        cardinality: &Cardinality,
    ) {
        if no_value(point.flags) || !(-10..=20).contains(&point.scale) {
            self.drop_point(DropReason::Malformed);
            return;
        }
        let empty = Buckets::default();
        let positive = point.positive.as_ref().unwrap_or(&empty);
        let histogram = HistogramPoint {
            start: point.start_time_unix_nano,
            time: point.time_unix_nano,
            count: point.count,
            sum: point.sum.unwrap_or(0.0),
            min: point.min,
            max: point.max,
            shape: Shape::Exponential {
                scale: point.scale,
                zero: point.zero_count,
                offset: positive.offset,
                counts: positive.bucket_counts.clone(),
            },
        };
        let attributes = PointAttributes::new(&point.attributes, &mut self.scratch);
        self.histogram(
            resource,
            metric,
            &attributes,
            &histogram,
            cumulative,
            cardinality,
        );
    }

    /// The histogram series `x` and its `x_count` and `x_sum` counters.
    fn histogram(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        attributes: &PointAttributes<'_>,
        point: &HistogramPoint,
        cumulative: bool,
        cardinality: &Cardinality,
    ) {
        let name = SeriesName {
            metric,
            suffix: "",
            extra: None,
            kind: SeriesKind::Histogram,
        };
        if let Some(slot) = self.slot(resource, name, attributes, cardinality) {
            self.observe(slot, point, cumulative);
        }
        for (suffix, value) in [("_count", point.count as f64), ("_sum", point.sum)] {
            let name = SeriesName {
                metric,
                suffix,
                extra: None,
                kind: SeriesKind::Counter,
            };
            self.derived_counter(
                resource,
                name,
                attributes,
                point,
                value,
                cumulative,
                cardinality,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn derived_counter(
        &mut self,
        resource: &mut ResourceContext<'_>,
        name: SeriesName<'_>,
        attributes: &PointAttributes<'_>,
        point: &HistogramPoint,
        value: f64,
        cumulative: bool,
        cardinality: &Cardinality,
    ) {
        let Some(slot) = self.slot(resource, name, attributes, cardinality) else {
            return;
        };
        if cumulative {
            self.cumulative_counter(slot, point.start, point.time, value);
        } else {
            self.delta_counter(slot, point.time, value);
        }
    }

    /// Adds a histogram point's observations (its increase, when
    /// cumulative) to the series' window.
    fn observe(&mut self, slot: Slot, point: &HistogramPoint, cumulative: bool) {
        let time_ms = millis(point.time);
        let horizon = self.first_point_horizon(time_ms);
        let previous = self.series.get(slot).buckets.clone();
        if cumulative
            && previous
                .as_ref()
                .is_some_and(|p| point.time <= p.time_nanos)
        {
            return;
        }
        let Some(window) = self.open_window(slot, SeriesKind::Histogram, time_ms) else {
            return;
        };
        let increase = match (&previous, cumulative) {
            (_, false) => Some(point.whole()),
            (Some(p), true) if !p.is_reset_by(point) => point.since(p),
            (Some(_), true) => Some(point.whole()),
            (None, true) if point.start != 0 && millis(point.start) > horizon => {
                Some(point.whole())
            }
            (None, true) => None,
        };
        if let Some((count, sum, shape)) = increase {
            window.add_observations(count, sum, &observations(&shape, point.min, point.max));
        }
        let state = self.series.get_mut(slot);
        if cumulative {
            state.buckets = Some(PreviousBuckets {
                start_nanos: point.start,
                time_nanos: point.time,
                count: point.count,
                sum: point.sum,
                shape: point.shape.clone(),
            });
        }
        state.last_seen_ms = time_ms;
    }

    fn summary_point(
        &mut self,
        resource: &mut ResourceContext<'_>,
        metric: &str,
        point: &SummaryDataPoint,
        cardinality: &Cardinality,
    ) {
        if no_value(point.flags) {
            return;
        }
        let attributes = PointAttributes::new(&point.attributes, &mut self.scratch);
        for quantile in &point.quantile_values {
            let name = SeriesName {
                metric,
                suffix: "",
                extra: Some(("quantile", quantile.quantile)),
                kind: SeriesKind::Gauge,
            };
            if let Some(slot) = self.slot(resource, name, &attributes, cardinality) {
                self.gauge(slot, point.time_unix_nano, quantile.value);
            }
        }
        // Summaries are cumulative by definition.
        for (suffix, value) in [("_count", point.count as f64), ("_sum", point.sum)] {
            let name = SeriesName {
                metric,
                suffix,
                extra: None,
                kind: SeriesKind::Counter,
            };
            if let Some(slot) = self.slot(resource, name, &attributes, cardinality) {
                self.cumulative_counter(
                    slot,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    value,
                );
            }
        }
    }
}

/// A histogram point of either flavour, normalised.
pub(super) struct HistogramPoint {
    start: u64,
    time: u64,
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    shape: Shape,
}

impl HistogramPoint {
    fn whole(&self) -> (u64, f64, Shape) {
        (self.count, self.sum, self.shape.clone())
    }

    /// The observations since `previous` of the same series, or `None`
    /// when the shapes cannot be subtracted.
    fn since(&self, previous: &PreviousBuckets) -> Option<(u64, f64, Shape)> {
        let shape = self.shape.minus(&previous.shape)?;
        Some((self.count - previous.count, self.sum - previous.sum, shape))
    }
}

impl PreviousBuckets {
    /// Whether `point` restarted the histogram since this one.
    fn is_reset_by(&self, point: &HistogramPoint) -> bool {
        point.count < self.count || (point.start != 0 && point.start != self.start_nanos)
    }
}

/// `(value, count)` observations standing for a shape's buckets.
fn observations(shape: &Shape, min: Option<f64>, max: Option<f64>) -> Vec<(f64, u64)> {
    let clamp = |v: f64| {
        let v = min.map_or(v, |m| v.max(m));
        max.map_or(v, |m| v.min(m))
    };
    let mut out = Vec::new();
    match shape {
        Shape::Explicit { bounds, counts } => {
            for (i, &count) in counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let upper = bounds
                    .get(i)
                    .copied()
                    .or(max)
                    .unwrap_or_else(|| bounds.last().copied().unwrap_or(0.0));
                let lower = match i {
                    0 => min.unwrap_or(upper.min(0.0)),
                    _ => bounds[i - 1],
                };
                out.push((clamp((lower + upper) / 2.0), count));
            }
        }
        Shape::Exponential {
            scale,
            zero,
            offset,
            counts,
        } => {
            if *zero > 0 {
                out.push((0.0, *zero));
            }
            let step = (-f64::from(*scale)).exp2();
            for (j, &count) in counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let index = f64::from(*offset) + j as f64;
                out.push((clamp(((index + 0.5) * step).exp2()), count));
            }
        }
    }
    out
}
