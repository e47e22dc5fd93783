//! The three OTLP signals and what differs between them: the request and
//! response types, the topic they go to, and how their items are counted,
//! validated and split per resource.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::limits::Limits;
use crate::validate::{self, Verdict};

/// An OTLP signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    /// The topic the signal's records are appended to.
    pub fn topic(self) -> &'static str {
        match self {
            Signal::Logs => log_core::OTLP_LOGS,
            Signal::Metrics => log_core::OTLP_METRICS,
            Signal::Traces => log_core::OTLP_SPANS,
        }
    }

    /// The name used in paths, metrics and messages.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// The partial-success field counting rejected items, in OTLP/JSON.
    pub fn rejected_field(self) -> &'static str {
        match self {
            Signal::Logs => "rejectedLogRecords",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Traces => "rejectedSpans",
        }
    }

    /// What one item is called in messages ("log records", "data points").
    pub fn items(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
            Signal::Traces => "spans",
        }
    }
}

/// An `Export*ServiceRequest`, generic over the signal.
pub trait Export: prost::Message + Default + DeserializeOwned + Send + Sized + 'static {
    const SIGNAL: Signal;
    /// `ResourceLogs`, `ResourceMetrics` or `ResourceSpans`.
    type Resource: Send;
    type Response: prost::Message + Serialize + Default + Send + 'static;

    fn into_resources(self) -> Vec<Self::Resource>;
    /// A request holding exactly one resource: what one log record stores.
    fn from_resource(resource: Self::Resource) -> Self;
    fn resource(resource: &Self::Resource) -> Option<&Resource>;
    /// Removes invalid items from the resource and reports them.
    fn validate(resource: &mut Self::Resource, limits: &Limits) -> Verdict;
    /// Items (records, data points, spans) in the resource.
    fn count(resource: &Self::Resource) -> usize;
    fn response(rejected: u64, message: String) -> Self::Response;

    /// Decodes an OTLP/JSON request.
    fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl Export for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    type Resource = ResourceLogs;
    type Response = ExportLogsServiceResponse;

    fn into_resources(self) -> Vec<ResourceLogs> {
        self.resource_logs
    }

    fn from_resource(resource: ResourceLogs) -> Self {
        ExportLogsServiceRequest {
            resource_logs: vec![resource],
        }
    }

    fn resource(resource: &ResourceLogs) -> Option<&Resource> {
        resource.resource.as_ref()
    }

    fn validate(resource: &mut ResourceLogs, limits: &Limits) -> Verdict {
        validate::logs(resource, limits)
    }

    fn count(resource: &ResourceLogs) -> usize {
        resource
            .scope_logs
            .iter()
            .map(|s| s.log_records.len())
            .sum()
    }

    fn response(rejected: u64, message: String) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: (rejected > 0 || !message.is_empty()).then_some(
                ExportLogsPartialSuccess {
                    rejected_log_records: rejected as i64,
                    error_message: message,
                },
            ),
        }
    }
}

impl Export for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;
    type Resource = ResourceMetrics;
    type Response = ExportMetricsServiceResponse;

    fn into_resources(self) -> Vec<ResourceMetrics> {
        self.resource_metrics
    }

    fn from_resource(resource: ResourceMetrics) -> Self {
        ExportMetricsServiceRequest {
            resource_metrics: vec![resource],
        }
    }

    fn resource(resource: &ResourceMetrics) -> Option<&Resource> {
        resource.resource.as_ref()
    }

    fn validate(resource: &mut ResourceMetrics, limits: &Limits) -> Verdict {
        validate::metrics(resource, limits)
    }

    fn count(resource: &ResourceMetrics) -> usize {
        resource
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .map(validate::data_points)
            .sum()
    }

    fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        crate::otlp_json::metrics(bytes)
    }

    fn response(rejected: u64, message: String) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: (rejected > 0 || !message.is_empty()).then_some(
                ExportMetricsPartialSuccess {
                    rejected_data_points: rejected as i64,
                    error_message: message,
                },
            ),
        }
    }
}

impl Export for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    type Resource = ResourceSpans;
    type Response = ExportTraceServiceResponse;

    fn into_resources(self) -> Vec<ResourceSpans> {
        self.resource_spans
    }

    fn from_resource(resource: ResourceSpans) -> Self {
        ExportTraceServiceRequest {
            resource_spans: vec![resource],
        }
    }

    fn resource(resource: &ResourceSpans) -> Option<&Resource> {
        resource.resource.as_ref()
    }

    fn validate(resource: &mut ResourceSpans, limits: &Limits) -> Verdict {
        validate::traces(resource, limits)
    }

    fn count(resource: &ResourceSpans) -> usize {
        resource.scope_spans.iter().map(|s| s.spans.len()).sum()
    }

    fn response(rejected: u64, message: String) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (rejected > 0 || !message.is_empty()).then_some(
                ExportTracePartialSuccess {
                    rejected_spans: rejected as i64,
                    error_message: message,
                },
            ),
        }
    }
}
