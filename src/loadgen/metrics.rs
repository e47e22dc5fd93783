//! Metric requests: `--series` distinct series (see [`super::series`]) of
//! counters (monotonic cumulative sums), up-down counters (non-monotonic
//! sums), gauges and explicit-bucket histograms, reported round-robin as
//! an SDK's periodic reader does: request `i` carries the next
//! `--batch-size` series after request `i - 1`'s, grouped into one
//! `ResourceMetrics` per service and one `Metric` per instrument.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data,
};

use super::resource::Service;
use super::series::{self, CATALOG, Instrument, Kind, Point, Series};
use super::stamp::{Stamps, Template};

/// The `index`-th request of the pool: `batch` data points of series
/// `index * batch ..` (modulo `series`).
pub fn request(
    services: &[Service],
    series: usize,
    seed: u64,
    epoch_ns: u64,
    index: usize,
    batch: usize,
) -> Result<Template> {
    let mut stamps = Stamps::default();
    let lag = Duration::from_millis((index as u64 * 7) % 50);
    // service → instrument → points, in a stable order.
    let mut grouped: BTreeMap<usize, BTreeMap<usize, Vec<Point>>> = BTreeMap::new();
    for k in 0..batch {
        let one = Series::new((index * batch + k) % series, services.len());
        let point = series::point(one, seed, epoch_ns, lag, &mut stamps);
        grouped
            .entry(one.service)
            .or_default()
            .entry(one.instrument)
            .or_default()
            .push(point);
    }
    let resource_metrics = grouped
        .into_iter()
        .map(|(service, instruments)| ResourceMetrics {
            resource: Some(services[service].resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(services[service].scope.clone()),
                metrics: instruments
                    .into_iter()
                    .map(|(i, points)| metric(&CATALOG[i], points))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    stamps.finish(
        &ExportMetricsServiceRequest { resource_metrics },
        batch as u64,
    )
}

fn metric(instrument: &Instrument, points: Vec<Point>) -> Metric {
    let numbers = || {
        points
            .iter()
            .filter_map(|p| match p {
                Point::Number(n) => Some(n.clone()),
                Point::Histogram(_) => None,
            })
            .collect()
    };
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match instrument.kind {
        Kind::Counter | Kind::UpDownCounter => Data::Sum(Sum {
            data_points: numbers(),
            aggregation_temporality: cumulative,
            is_monotonic: instrument.kind == Kind::Counter,
        }),
        Kind::Gauge => Data::Gauge(Gauge {
            data_points: numbers(),
        }),
        Kind::Histogram => Data::Histogram(Histogram {
            data_points: points
                .iter()
                .filter_map(|p| match p {
                    Point::Histogram(h) => Some(h.clone()),
                    Point::Number(_) => None,
                })
                .collect(),
            aggregation_temporality: cumulative,
        }),
    };
    Metric {
        name: instrument.name.to_string(),
        unit: instrument.unit.to_string(),
        data: Some(data),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use opentelemetry_proto::tonic::metrics::v1::Metric;
    use prost::Message;

    use opentelemetry_proto::tonic::metrics::v1::NumberDataPoint;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;

    use super::super::resource;
    use super::super::series::BOUNDS;
    use super::super::stamp::Clock;
    use super::*;
    use crate::bench::payload::Rng;

    const EPOCH: u64 = 1_700_000_000_000_000_000;

    fn decode(template: &Template, clock: Clock) -> Vec<(String, Metric)> {
        let request = ExportMetricsServiceRequest::decode(template.render(clock)).unwrap();
        request
            .resource_metrics
            .into_iter()
            .flat_map(|r| {
                let service = format!("{:?}", r.resource.unwrap().attributes[0]);
                r.scope_metrics
                    .into_iter()
                    .flat_map(|s| s.metrics)
                    .map(move |m| (service.clone(), m))
            })
            .collect()
    }

    #[test]
    fn every_series_is_distinct_and_reported_round_robin() {
        let services = resource::services(20, &mut Rng::new(1));
        let mut seen = BTreeSet::new();
        let mut points = 0;
        for index in 0..3 {
            let template = request(&services, 300, 5, EPOCH, index, 100).unwrap();
            for (service, metric) in decode(
                &template,
                Clock {
                    now_ns: EPOCH,
                    ticks: 0,
                },
            ) {
                let attributes: Vec<String> = match metric.data.unwrap() {
                    Data::Sum(s) => s
                        .data_points
                        .iter()
                        .map(|p| format!("{:?}", p.attributes))
                        .collect(),
                    Data::Gauge(g) => g
                        .data_points
                        .iter()
                        .map(|p| format!("{:?}", p.attributes))
                        .collect(),
                    Data::Histogram(h) => h
                        .data_points
                        .iter()
                        .map(|p| format!("{:?}", p.attributes))
                        .collect(),
                    other => panic!("unexpected {other:?}"),
                };
                for a in attributes {
                    points += 1;
                    seen.insert(format!("{service}|{}|{a}", metric.name));
                }
            }
        }
        assert_eq!(points, 300);
        assert_eq!(seen.len(), 300, "each of the 300 series once");
    }

    #[test]
    fn counters_grow_with_time_and_histograms_stay_consistent() {
        let services = resource::services(3, &mut Rng::new(1));
        let template = request(&services, 24, 5, EPOCH, 0, 24).unwrap();
        let earlier = decode(
            &template,
            Clock {
                now_ns: EPOCH,
                ticks: 0,
            },
        );
        let later = decode(
            &template,
            Clock {
                now_ns: EPOCH + 1_000_000_000,
                ticks: 10,
            },
        );
        let (mut counters, mut histograms) = (0, 0);
        for ((_, before), (_, after)) in earlier.iter().zip(&later) {
            match (before.data.as_ref().unwrap(), after.data.as_ref().unwrap()) {
                (Data::Sum(b), Data::Sum(a)) if b.is_monotonic => {
                    for (b, a) in b.data_points.iter().zip(&a.data_points) {
                        counters += 1;
                        assert_eq!(b.start_time_unix_nano, a.start_time_unix_nano);
                        assert!(b.start_time_unix_nano < b.time_unix_nano);
                        let value = |p: &NumberDataPoint| match p.value.unwrap() {
                            Value::AsInt(v) => v as f64,
                            Value::AsDouble(v) => v,
                        };
                        assert!(value(a) > value(b), "{} did not grow", before.name);
                    }
                }
                (Data::Histogram(b), Data::Histogram(a)) => {
                    for (b, a) in b.data_points.iter().zip(&a.data_points) {
                        histograms += 1;
                        assert_eq!(b.count, b.bucket_counts.iter().sum::<u64>());
                        assert_eq!(a.count, a.bucket_counts.iter().sum::<u64>());
                        assert_eq!(b.bucket_counts.len(), BOUNDS.len() + 1);
                        assert!(a.count > b.count && a.sum > b.sum);
                    }
                }
                _ => {}
            }
        }
        assert!(
            counters >= 3 && histograms >= 3,
            "{counters} counters, {histograms} histograms"
        );
    }
}
