//! OTLP partial success: a request mixing valid and invalid items gets
//! exactly the number rejected and a message naming the first problem,
//! over HTTP and gRPC; the valid items are stored; attribute values over
//! the length limit are truncated (at a UTF-8 boundary) and counted.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use common::{Servers, attribute, bounded, kv, start_with_log, stored_requests, string};
use ingest::telemetry::{ACCEPTED_ITEMS, RECEIVED_ITEMS, REJECTED_ITEMS, TRUNCATED_VALUES};
use ingest::{Auth, Limits, PipelineConfig};
use log_core::{Log, OTLP_LOGS, OTLP_METRICS, OTLP_SPANS};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge as GaugeData,
    Histogram as HistogramData, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const MAX_ATTRIBUTES: usize = 4;
const MAX_VALUE: usize = 16;

fn config() -> PipelineConfig {
    PipelineConfig {
        limits: Limits {
            max_attributes: MAX_ATTRIBUTES,
            max_attribute_value_bytes: MAX_VALUE,
            ..Limits::default()
        },
        ..PipelineConfig::default()
    }
}

/// Counts ingest's counters by name and `signal` label, so the tests can
/// check what `/metrics` would report. Each test touches one signal only,
/// so deltas per signal are exact while tests run in parallel.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn get(&self, name: &str, signal: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(&format!("{name}/{signal}"))
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

impl Recorder for &'static Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let signal = key
            .labels()
            .find(|l| l.key() == "signal")
            .map_or("", |l| l.value());
        let counter = Arc::clone(
            self.0
                .lock()
                .unwrap()
                .entry(format!("{}/{signal}", key.name()))
                .or_default(),
        );
        Counter::from_arc(counter)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn counters() -> &'static Counters {
    static COUNTERS: OnceLock<&'static Counters> = OnceLock::new();
    COUNTERS.get_or_init(|| {
        let counters: &'static Counters = Box::leak(Box::default());
        metrics::set_global_recorder(counters).expect("the only recorder of this test binary");
        counters
    })
}

/// received, accepted, rejected, truncated — as counted for `signal`.
fn counted(signal: &str) -> [u64; 4] {
    let c = counters();
    [
        RECEIVED_ITEMS,
        ACCEPTED_ITEMS,
        REJECTED_ITEMS,
        TRUNCATED_VALUES,
    ]
    .map(|n| c.get(n, signal))
}

fn delta(before: [u64; 4], after: [u64; 4]) -> [u64; 4] {
    [0, 1, 2, 3].map(|i| after[i] - before[i])
}

fn attrs(n: usize) -> Vec<KeyValue> {
    (0..n).map(|i| kv(&format!("a{i}"), string("v"))).collect()
}

/// Attributes whose values exceed [`MAX_VALUE`]: a string whose limit falls
/// inside a two-byte character, bytes, and both nested in an array and a
/// kvlist. Four values to truncate.
fn long_attributes() -> Vec<KeyValue> {
    let long_str = format!("{}é-tail", "a".repeat(MAX_VALUE - 1));
    vec![
        kv("long", string(&long_str)),
        kv(
            "bytes",
            AnyValue {
                value: Some(Value::BytesValue(vec![1; 40])),
            },
        ),
        kv(
            "array",
            AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![string(&"b".repeat(30)), string("short")],
                })),
            },
        ),
        kv(
            "map",
            AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![kv("inner", string(&"c".repeat(20)))],
                })),
            },
        ),
    ]
}

/// Checks the values [`long_attributes`] became once stored.
fn assert_truncated(attributes: &[KeyValue]) {
    assert_eq!(
        attribute(attributes, "long"),
        &Value::StringValue("a".repeat(MAX_VALUE - 1)),
        "cut before the two-byte character that crosses the limit"
    );
    assert_eq!(
        attribute(attributes, "bytes"),
        &Value::BytesValue(vec![1; MAX_VALUE])
    );
    let Value::ArrayValue(array) = attribute(attributes, "array") else {
        panic!("array")
    };
    assert_eq!(
        array.values[0].value,
        Some(Value::StringValue("b".repeat(MAX_VALUE)))
    );
    assert_eq!(
        array.values[1].value,
        Some(Value::StringValue("short".into()))
    );
    let Value::KvlistValue(map) = attribute(attributes, "map") else {
        panic!("map")
    };
    assert_eq!(
        attribute(&map.values, "inner"),
        &Value::StringValue("c".repeat(MAX_VALUE))
    );
}

/// A resource with `service.name` and one over-long attribute (one more
/// truncated value).
fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", string(service)),
            kv("resource.long", string(&"r".repeat(MAX_VALUE + 4))),
        ],
        ..Default::default()
    })
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Http,
    Grpc,
}

async fn post<Req: Message, Resp: Message + Default>(
    servers: &Servers<Log>,
    signal: &str,
    request: &Req,
) -> Resp {
    let response = common::http_client()
        .post(servers.url(signal))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    Resp::decode(response.bytes().await.unwrap()).unwrap()
}

fn logs_request() -> ExportLogsServiceRequest {
    let record = |body: &str, trace: usize, span: usize, attributes: Vec<KeyValue>| LogRecord {
        body: Some(string(body)),
        trace_id: vec![7; trace],
        span_id: vec![8; span],
        attributes,
        ..Default::default()
    };
    let resource_logs = |service: &str, log_records| ResourceLogs {
        resource: resource(service),
        scope_logs: vec![ScopeLogs {
            log_records,
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![
            resource_logs(
                "svc",
                vec![
                    record("keep-0", 16, 8, long_attributes()),
                    record("bad-trace", 3, 8, long_attributes()),
                    record("bad-span", 16, 4, vec![]),
                    record("too-many", 16, 8, attrs(MAX_ATTRIBUTES + 1)),
                    record("keep-1", 0, 0, attrs(MAX_ATTRIBUTES)),
                ],
            ),
            // Every item of this resource is invalid: nothing of it is
            // stored, but its resource attribute was still cut (and counted).
            resource_logs("other", vec![record("bad-trace-2", 3, 0, vec![])]),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_partial_success_counts_are_exact() {
    bounded(async {
        for transport in [Transport::Http, Transport::Grpc] {
            let (log, servers) = start_with_log(config(), Auth::default()).await;
            let before = counted("logs");
            let response: ExportLogsServiceResponse = match transport {
                Transport::Http => post(&servers, "logs", &logs_request()).await,
                Transport::Grpc => LogsServiceClient::connect(servers.grpc_url())
                    .await
                    .unwrap()
                    .export(logs_request())
                    .await
                    .unwrap()
                    .into_inner(),
            };
            assert_eq!(
                response.partial_success,
                Some(ExportLogsPartialSuccess {
                    rejected_log_records: 4,
                    error_message: "rejected 4 of 6 log records: log record trace id has 3 \
                                    bytes, expected 16"
                        .into(),
                }),
                "{transport:?}"
            );
            // 4 values in the kept record, one per resource.
            assert_eq!(
                delta(before, counted("logs")),
                [6, 2, 4, 6],
                "{transport:?}"
            );

            let stored = stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS);
            assert_eq!(stored.len(), 1, "{transport:?}");
            assert_eq!(stored[0].key, "svc");
            let resource_logs = &stored[0].request.resource_logs[0];
            assert_eq!(
                attribute(
                    &resource_logs.resource.as_ref().unwrap().attributes,
                    "resource.long"
                ),
                &Value::StringValue("r".repeat(MAX_VALUE))
            );
            let records = &resource_logs.scope_logs[0].log_records;
            let bodies: Vec<_> = records
                .iter()
                .map(|r| r.body.as_ref().unwrap().value.clone().unwrap())
                .collect();
            assert_eq!(
                bodies,
                [
                    Value::StringValue("keep-0".into()),
                    Value::StringValue("keep-1".into())
                ]
            );
            assert_truncated(&records[0].attributes);
            assert_eq!(records[1].attributes, attrs(MAX_ATTRIBUTES));
        }
        // Counted as logs too, so not in a test of its own.
        json_partial_success_is_reported_in_json().await;
    })
    .await
}

/// The same over OTLP/JSON: the partial success comes back in JSON.
async fn json_partial_success_is_reported_in_json() {
    {
        let (log, servers) = start_with_log(config(), Auth::default()).await;
        let body = serde_json::json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]},
            "scopeLogs": [{"logRecords": [
                {"traceId": "0102", "body": {"stringValue": "dropped"}},
                {"body": {"stringValue": "kept"}}
            ]}]
        }]});
        let response = common::http_client()
            .post(servers.url("logs"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let response: serde_json::Value = response.json_value().await;
        let partial = &response["partialSuccess"];
        let rejected = match &partial["rejectedLogRecords"] {
            serde_json::Value::String(s) => s.parse::<i64>().unwrap(),
            other => other.as_i64().expect("an int64"),
        };
        assert_eq!(rejected, 1, "{response}");
        assert_eq!(
            partial["errorMessage"],
            "rejected 1 of 2 log records: log record trace id has 2 bytes, expected 16"
        );
        assert_eq!(
            stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS).len(),
            1
        );
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let number = |value: Option<number_data_point::Value>, attributes| NumberDataPoint {
        value,
        attributes,
        time_unix_nano: 1,
        ..Default::default()
    };
    let histogram = |bounds: Vec<f64>, counts: Vec<u64>, count: u64| HistogramDataPoint {
        explicit_bounds: bounds,
        bucket_counts: counts,
        count,
        ..Default::default()
    };
    let exponential = |count: u64, zero: u64, positive: Vec<u64>| ExponentialHistogramDataPoint {
        count,
        zero_count: zero,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: positive,
        }),
        ..Default::default()
    };
    let summary = |quantile: f64| SummaryDataPoint {
        count: 1,
        quantile_values: vec![ValueAtQuantile {
            quantile,
            value: 1.0,
        }],
        ..Default::default()
    };
    let metric = |name: &str, data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    use number_data_point::Value::{AsDouble, AsInt};
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("svc"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "g",
                        Data::Gauge(GaugeData {
                            data_points: vec![
                                number(Some(AsInt(1)), long_attributes()),
                                number(None, vec![]),
                                number(Some(AsDouble(2.0)), attrs(MAX_ATTRIBUTES + 1)),
                            ],
                        }),
                    ),
                    metric(
                        "h",
                        Data::Histogram(HistogramData {
                            data_points: vec![
                                histogram(vec![1.0], vec![1, 2], 3),
                                histogram(vec![1.0, 2.0], vec![1, 2], 3),
                                histogram(vec![1.0], vec![1, 1], 5),
                            ],
                            aggregation_temporality: 2,
                        }),
                    ),
                    metric(
                        "e",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![
                                exponential(3, 1, vec![2]),
                                exponential(9, 1, vec![2]),
                            ],
                            aggregation_temporality: 2,
                        }),
                    ),
                    metric(
                        "s",
                        Data::Summary(Summary {
                            data_points: vec![summary(0.5), summary(1.5)],
                        }),
                    ),
                    metric(
                        "c",
                        Data::Sum(Sum {
                            data_points: vec![number(None, vec![])],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "",
                        Data::Gauge(GaugeData {
                            data_points: vec![
                                number(Some(AsInt(1)), vec![]),
                                number(Some(AsInt(2)), vec![]),
                            ],
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_partial_success_counts_are_exact() {
    bounded(async {
        for transport in [Transport::Http, Transport::Grpc] {
            let (log, servers) = start_with_log(config(), Auth::default()).await;
            let before = counted("metrics");
            let response: ExportMetricsServiceResponse = match transport {
                Transport::Http => post(&servers, "metrics", &metrics_request()).await,
                Transport::Grpc => MetricsServiceClient::connect(servers.grpc_url())
                    .await
                    .unwrap()
                    .export(metrics_request())
                    .await
                    .unwrap()
                    .into_inner(),
            };
            assert_eq!(
                response.partial_success,
                Some(ExportMetricsPartialSuccess {
                    rejected_data_points: 9,
                    error_message: "rejected 9 of 13 data points: data point of g has no value"
                        .into(),
                }),
                "{transport:?}"
            );
            assert_eq!(
                delta(before, counted("metrics")),
                [13, 4, 9, 5],
                "{transport:?}"
            );

            let stored = stored_requests::<ExportMetricsServiceRequest>(&log.log, OTLP_METRICS);
            assert_eq!(stored.len(), 1);
            let metrics = &stored[0].request.resource_metrics[0].scope_metrics[0].metrics;
            let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["g", "h", "e", "s"], "{transport:?}");
            let Some(Data::Gauge(g)) = &metrics[0].data else {
                panic!("g is a gauge")
            };
            assert_eq!(g.data_points.len(), 1);
            assert_eq!(
                g.data_points[0].value,
                Some(number_data_point::Value::AsInt(1))
            );
            assert_truncated(&g.data_points[0].attributes);
            let Some(Data::Histogram(h)) = &metrics[1].data else {
                panic!("h is a histogram")
            };
            assert_eq!(h.data_points.len(), 1);
            assert_eq!(h.data_points[0].bucket_counts, [1, 2]);
            let Some(Data::ExponentialHistogram(e)) = &metrics[2].data else {
                panic!("e is an exponential histogram")
            };
            assert_eq!(e.data_points.len(), 1);
            assert_eq!(e.data_points[0].count, 3);
            let Some(Data::Summary(s)) = &metrics[3].data else {
                panic!("s is a summary")
            };
            assert_eq!(s.data_points.len(), 1);
            assert_eq!(s.data_points[0].quantile_values[0].quantile, 0.5);
        }
    })
    .await
}

fn traces_request() -> ExportTraceServiceRequest {
    let span = |name: &str, trace: usize, id: usize, parent: usize, attributes| Span {
        name: name.into(),
        trace_id: vec![1; trace],
        span_id: vec![2; id],
        parent_span_id: vec![3; parent],
        attributes,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("svc"),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span("keep-0", 16, 8, 0, long_attributes()),
                    span("short-trace", 8, 8, 0, vec![]),
                    span("short-span", 16, 4, 0, vec![]),
                    span("short-parent", 16, 8, 3, vec![]),
                    span("too-many", 16, 8, 8, attrs(MAX_ATTRIBUTES + 1)),
                    span("keep-1", 16, 8, 8, vec![]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_partial_success_counts_are_exact() {
    bounded(async {
        for transport in [Transport::Http, Transport::Grpc] {
            let (log, servers) = start_with_log(config(), Auth::default()).await;
            let before = counted("traces");
            let response: ExportTraceServiceResponse = match transport {
                Transport::Http => post(&servers, "traces", &traces_request()).await,
                Transport::Grpc => TraceServiceClient::connect(servers.grpc_url())
                    .await
                    .unwrap()
                    .export(traces_request())
                    .await
                    .unwrap()
                    .into_inner(),
            };
            assert_eq!(
                response.partial_success,
                Some(ExportTracePartialSuccess {
                    rejected_spans: 4,
                    error_message: "rejected 4 of 6 spans: span trace id has 8 bytes, expected 16"
                        .into(),
                }),
                "{transport:?}"
            );
            assert_eq!(
                delta(before, counted("traces")),
                [6, 2, 4, 5],
                "{transport:?}"
            );

            let stored = stored_requests::<ExportTraceServiceRequest>(&log.log, OTLP_SPANS);
            assert_eq!(stored.len(), 1);
            let spans = &stored[0].request.resource_spans[0].scope_spans[0].spans;
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["keep-0", "keep-1"], "{transport:?}");
            assert_truncated(&spans[0].attributes);
        }
    })
    .await
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).expect("JSON response")
    }
}
