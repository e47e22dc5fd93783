//! OTLP/JSON decoding where `opentelemetry-proto`'s serde support falls
//! short.
//!
//! Its `Metric` reads the data oneof (`gauge`, `sum`, ...) through
//! `#[serde(flatten)]` into an `Option`, and serde turns a flattened
//! `Option` that fails to decode into `None`. A metric whose data holds a
//! bad value (an invalid hex id in an exemplar, a string where a double
//! belongs) therefore decoded as a metric without data: zero data points,
//! nothing rejected, nothing stored, and the exporter told it succeeded.
//! Here a metric is read through a mirror that names each data field, so
//! such errors fail the request (400) with serde's message. Everything
//! below `Metric` (data points, attributes) is `opentelemetry-proto`'s own.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum, Summary,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;
use serde::de::Error as _;

/// Decodes an OTLP/JSON metrics request.
pub fn metrics(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, serde_json::Error> {
    let request: JsonRequest = serde_json::from_slice(bytes)?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: request
            .resource_metrics
            .into_iter()
            .map(JsonResourceMetrics::into_proto)
            .collect::<Result<_, _>>()?,
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonRequest {
    resource_metrics: Vec<JsonResourceMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonResourceMetrics {
    resource: Option<Resource>,
    scope_metrics: Vec<JsonScopeMetrics>,
    schema_url: String,
}

impl JsonResourceMetrics {
    fn into_proto(self) -> Result<ResourceMetrics, serde_json::Error> {
        Ok(ResourceMetrics {
            resource: self.resource,
            scope_metrics: self
                .scope_metrics
                .into_iter()
                .map(JsonScopeMetrics::into_proto)
                .collect::<Result<_, _>>()?,
            schema_url: self.schema_url,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonScopeMetrics {
    scope: Option<InstrumentationScope>,
    metrics: Vec<JsonMetric>,
    schema_url: String,
}

impl JsonScopeMetrics {
    fn into_proto(self) -> Result<ScopeMetrics, serde_json::Error> {
        Ok(ScopeMetrics {
            scope: self.scope,
            metrics: self
                .metrics
                .into_iter()
                .map(JsonMetric::into_proto)
                .collect::<Result<_, _>>()?,
            schema_url: self.schema_url,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonMetric {
    name: String,
    description: String,
    unit: String,
    metadata: Vec<KeyValue>,
    gauge: Option<Gauge>,
    sum: Option<Sum>,
    histogram: Option<Histogram>,
    exponential_histogram: Option<ExponentialHistogram>,
    summary: Option<Summary>,
}

impl JsonMetric {
    fn into_proto(self) -> Result<Metric, serde_json::Error> {
        let mut data = [
            self.gauge.map(Data::Gauge),
            self.sum.map(Data::Sum),
            self.histogram.map(Data::Histogram),
            self.exponential_histogram.map(Data::ExponentialHistogram),
            self.summary.map(Data::Summary),
        ]
        .into_iter()
        .flatten();
        let first = data.next();
        if data.next().is_some() {
            return Err(serde_json::Error::custom(format!(
                "metric {:?} has more than one of gauge, sum, histogram, \
                 exponentialHistogram and summary",
                self.name
            )));
        }
        Ok(Metric {
            name: self.name,
            description: self.description,
            unit: self.unit,
            metadata: self.metadata,
            data: first,
        })
    }
}
