//! Where recording rules and the `ALERTS` / `ALERTS_FOR_STATE` series go:
//! [`PipelineSink`] turns each evaluation's samples into an OTLP gauge
//! request and appends it through the ingest pipeline, so recorded series
//! take the same path as every other metric: durable in `otlp_metrics`
//! before the write returns, then windowed by the metric workers and
//! queryable with PromQL once their window closes.
//!
//! A sample's `__name__` is the metric's name and its other labels the
//! data point's attributes; the resource has no attributes, so no
//! `service_name` is added to a recorded series.

use std::sync::Arc;

use alerting::query::{QuerySample, SampleSink};
use ingest::Pipeline;
use log_core::Log;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tokio::runtime::Handle;

/// The instrumentation scope recorded series carry.
const SCOPE: &str = "weir.rules";

/// Appends recorded samples to `otlp_metrics` through `pipeline`.
pub struct PipelineSink {
    pub pipeline: Arc<Pipeline<Log>>,
    /// The runtime the pipeline's appends run on; writes come from the
    /// rule engine's blocking threads.
    pub runtime: Handle,
}

impl SampleSink for PipelineSink {
    fn write(&self, tenant: &str, at_ms: i64, samples: &[QuerySample]) -> Result<(), String> {
        let request = request(at_ms, samples);
        let bytes = request.encoded_len();
        let accepted = self
            .runtime
            .block_on(self.pipeline.export(tenant, request, bytes))
            .map_err(|e| e.to_string())?;
        if accepted.rejected > 0 {
            return Err(format!(
                "{} of {} samples refused: {}",
                accepted.rejected,
                samples.len(),
                accepted.message
            ));
        }
        Ok(())
    }
}

/// One gauge metric per name, one point per sample.
pub fn request(at_ms: i64, samples: &[QuerySample]) -> ExportMetricsServiceRequest {
    let time_unix_nano = u64::try_from(at_ms).unwrap_or(0).saturating_mul(1_000_000);
    let mut metrics: Vec<Metric> = Vec::new();
    for sample in samples {
        let name = sample.labels.get("__name__").cloned().unwrap_or_default();
        let point = NumberDataPoint {
            attributes: sample
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(v.clone())),
                    }),
                    ..Default::default()
                })
                .collect(),
            time_unix_nano,
            value: Some(number_data_point::Value::AsDouble(sample.value)),
            ..Default::default()
        };
        match metrics.iter_mut().find(|m| m.name == name) {
            Some(Metric {
                data: Some(metric::Data::Gauge(gauge)),
                ..
            }) => gauge.data_points.push(point),
            _ => metrics.push(Metric {
                name,
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![point],
                })),
                ..Default::default()
            }),
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource::default()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE.to_owned(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
