//! What the in-test receivers check in every request they decode: each
//! resource names its service, timestamps are now, ids have their sizes,
//! histograms add up, metric series are counted distinctly.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;

/// What the receiver saw.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub requests: u64,
    /// Log records, data points or spans.
    pub records: u64,
    pub resources: u64,
    pub services: BTreeSet<String>,
    /// Distinct metric series (service, name, attributes).
    pub series: usize,
    pub authorization: Vec<String>,
    pub gzipped: u64,
    pub problems: Vec<String>,
}

#[derive(Default)]
pub struct Tracker {
    pub received: Received,
    pub series: BTreeSet<String>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

impl Tracker {
    pub fn authorization(&mut self, value: Option<&str>) {
        if let Some(value) = value
            && !self.received.authorization.iter().any(|v| v == value)
        {
            self.received.authorization.push(value.to_string());
        }
    }

    pub fn problem(&mut self, what: String) {
        if self.received.problems.len() < 10 {
            self.received.problems.push(what);
        }
    }

    /// Timestamps are "now": at most a minute old, not in the future.
    fn fresh(&mut self, what: &str, ns: u64) {
        let now = now_ns();
        if ns > now + 1_000_000_000 || ns + 60_000_000_000 < now {
            self.problem(format!("{what} timestamp {ns} is not now ({now})"));
        }
    }

    fn resource(&mut self, resource: Option<&Resource>) -> String {
        self.received.resources += 1;
        let name = resource
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            });
        let Some(name) = name else {
            self.problem("resource without service.name".into());
            return String::new();
        };
        if resource.is_some_and(|r| r.attributes.len() < 4) {
            self.problem(format!("{name}: too few resource attributes"));
        }
        self.received.services.insert(name.clone());
        name
    }

    pub fn logs(&mut self, request: &ExportLogsServiceRequest) {
        self.received.requests += 1;
        for resource in &request.resource_logs {
            let service = self.resource(resource.resource.as_ref());
            for record in resource.scope_logs.iter().flat_map(|s| &s.log_records) {
                self.received.records += 1;
                self.fresh("log record", record.time_unix_nano);
                if record.attributes.len() < 8
                    || record.trace_id.len() != 16
                    || record.span_id.len() != 8
                    || record.severity_text.is_empty()
                    || record.body.is_none()
                {
                    self.problem(format!("{service}: incomplete log record {record:?}"));
                }
            }
        }
    }

    pub fn metrics(&mut self, request: &ExportMetricsServiceRequest) {
        self.received.requests += 1;
        for resource in &request.resource_metrics {
            let service = self.resource(resource.resource.as_ref());
            for metric in resource.scope_metrics.iter().flat_map(|s| &s.metrics) {
                let points: Vec<(&[KeyValue], u64, u64)> = match &metric.data {
                    Some(Data::Sum(sum)) => sum
                        .data_points
                        .iter()
                        .map(|p| (&p.attributes[..], p.start_time_unix_nano, p.time_unix_nano))
                        .collect(),
                    Some(Data::Gauge(gauge)) => gauge
                        .data_points
                        .iter()
                        .map(|p| (&p.attributes[..], p.start_time_unix_nano, p.time_unix_nano))
                        .collect(),
                    Some(Data::Histogram(h)) => {
                        for p in &h.data_points {
                            if p.count != p.bucket_counts.iter().sum::<u64>()
                                || p.bucket_counts.len() != p.explicit_bounds.len() + 1
                            {
                                self.problem(format!("{}: inconsistent histogram", metric.name));
                            }
                        }
                        h.data_points
                            .iter()
                            .map(|p| (&p.attributes[..], p.start_time_unix_nano, p.time_unix_nano))
                            .collect()
                    }
                    other => {
                        self.problem(format!("{}: unexpected data {other:?}", metric.name));
                        Vec::new()
                    }
                };
                for (attributes, start, time) in points {
                    self.received.records += 1;
                    self.fresh("data point", time);
                    if start >= time {
                        self.problem(format!("{}: start {start} not before {time}", metric.name));
                    }
                    self.series
                        .insert(format!("{service}|{}|{attributes:?}", metric.name));
                }
            }
        }
    }

    pub fn traces(&mut self, request: &ExportTraceServiceRequest) {
        self.received.requests += 1;
        for resource in &request.resource_spans {
            let service = self.resource(resource.resource.as_ref());
            for span in resource.scope_spans.iter().flat_map(|s| &s.spans) {
                self.received.records += 1;
                self.fresh("span end", span.end_time_unix_nano);
                if span.trace_id.len() != 16
                    || span.span_id.len() != 8
                    || span.start_time_unix_nano > span.end_time_unix_nano
                    || span.kind == 0
                    || span.attributes.is_empty()
                {
                    self.problem(format!("{service}: malformed span {span:?}"));
                }
            }
        }
    }
}
