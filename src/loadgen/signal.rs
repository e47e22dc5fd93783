//! The three OTLP signals: where each is sent, what its requests hold, and
//! how its response reports a partial success.

use anyhow::{Context, Result};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    /// The gRPC method of the signal's collector service.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        }
    }

    /// The OTLP/HTTP path, appended to the endpoint.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
        }
    }

    /// What a request's items are called in reports.
    pub fn unit(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
            Signal::Traces => "spans",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// Items the server rejected, from an encoded `Export*ServiceResponse`
    /// (0 without a partial success).
    pub fn rejected(self, response: &[u8]) -> Result<u64> {
        let rejected = match self {
            Signal::Logs => ExportLogsServiceResponse::decode(response)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_log_records)),
            Signal::Metrics => ExportMetricsServiceResponse::decode(response)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_data_points)),
            Signal::Traces => ExportTraceServiceResponse::decode(response)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_spans)),
        }
        .with_context(|| format!("decode {} export response", self.name()))?;
        Ok(rejected.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;

    #[test]
    fn partial_success_counts_rejected_items() {
        let response = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: 12,
                error_message: "too many series".into(),
            }),
        };
        assert_eq!(
            Signal::Metrics.rejected(&response.encode_to_vec()).unwrap(),
            12
        );
        assert_eq!(Signal::Logs.rejected(&[]).unwrap(), 0);
        assert!(Signal::Traces.rejected(&[0xff]).is_err());
    }
}
