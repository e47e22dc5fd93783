//! OTLP protobuf over HTTP (plain, gzip, zstd; HTTP/1.1 and h2c) and over
//! gRPC (plain, gzip, zstd, with tonic's generated clients): every
//! transport stores exactly the same records, one per resource.

mod common;

use common::{Servers, bounded, kv, resource, start_with_log, stored_requests, string};
use ingest::{Auth, PipelineConfig};
use log_core::{Log, OTLP_LOGS, OTLP_METRICS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use tonic::codec::CompressionEncoding;

const TRACE_ID: [u8; 16] = *b"0123456789abcdef";
const SPAN_ID: [u8; 8] = *b"spanid01";

#[derive(Debug, Clone, Copy)]
enum Transport {
    Http(Option<&'static str>),
    H2c,
    Grpc(Option<CompressionEncoding>),
}

const TRANSPORTS: [Transport; 7] = [
    Transport::Http(None),
    Transport::Http(Some("gzip")),
    Transport::Http(Some("zstd")),
    Transport::H2c,
    Transport::Grpc(None),
    Transport::Grpc(Some(CompressionEncoding::Gzip)),
    Transport::Grpc(Some(CompressionEncoding::Zstd)),
];

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "weir.test".into(),
        version: "1".into(),
        ..Default::default()
    })
}

fn int(i: i64) -> AnyValue {
    AnyValue {
        value: Some(Value::IntValue(i)),
    }
}

fn logs_request() -> ExportLogsServiceRequest {
    let record = |n: u64| LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000 + n,
        observed_time_unix_nano: 1_700_000_000_500_000_000 + n,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(string(&format!("line {n}"))),
        attributes: vec![
            kv("n", int(n as i64)),
            kv(
                "bytes",
                AnyValue {
                    value: Some(Value::BytesValue(vec![0, 255, n as u8])),
                },
            ),
        ],
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        flags: 1,
        ..Default::default()
    };
    let resource_logs = |service: &str, records: Vec<LogRecord>| ResourceLogs {
        resource: resource(service),
        scope_logs: vec![ScopeLogs {
            scope: scope(),
            log_records: records,
            schema_url: String::new(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![
            resource_logs("alpha", vec![record(1), record(2)]),
            resource_logs("beta", vec![record(3)]),
            resource_logs("gamma", vec![record(4)]),
        ],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let gauge = Metric {
        name: "queue.depth".into(),
        unit: "1".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: 1_700_000_000_000_000_000,
                value: Some(number_data_point::Value::AsInt(42)),
                attributes: vec![kv("queue", string("q1"))],
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "latency".into(),
        data: Some(Data::Histogram(Histogram {
            aggregation_temporality: 2,
            data_points: vec![HistogramDataPoint {
                time_unix_nano: 1_700_000_000_000_000_000,
                count: 3,
                sum: Some(4.5),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![1.0],
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let resource_metrics = |service: &str, metrics: Vec<Metric>| ResourceMetrics {
        resource: resource(service),
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![
            resource_metrics("alpha", vec![gauge.clone(), histogram]),
            resource_metrics("beta", vec![gauge]),
        ],
    }
}

fn traces_request() -> ExportTraceServiceRequest {
    let span = |name: &str, id: u8| Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: SPAN_ID.to_vec(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes: vec![kv("http.route", string("/x"))],
        events: vec![span::Event {
            time_unix_nano: 1_700_000_000_050_000_000,
            name: "retry".into(),
            ..Default::default()
        }],
        status: Some(Status {
            message: "ok".into(),
            code: 1,
        }),
        ..Default::default()
    };
    let resource_spans = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: resource(service),
        scope_spans: vec![ScopeSpans {
            scope: scope(),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("alpha", vec![span("a", 1), span("b", 2)]),
            resource_spans("beta", vec![span("c", 3)]),
        ],
    }
}

/// Posts `request` as protobuf and decodes the protobuf response.
async fn post<Req: Message, Resp: Message + Default>(
    servers: &Servers<Log>,
    signal: &str,
    transport: Transport,
    request: &Req,
) -> Resp {
    let plain = request.encode_to_vec();
    let client = match transport {
        Transport::H2c => reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap(),
        _ => common::http_client(),
    };
    let mut builder = client
        .post(servers.url(signal))
        .header("content-type", "application/x-protobuf");
    let body = match transport {
        Transport::Http(Some("gzip")) => common::gzip(&plain),
        Transport::Http(Some("zstd")) => common::zstd(&plain),
        _ => plain,
    };
    if let Transport::Http(Some(encoding)) = transport {
        builder = builder.header("content-encoding", encoding);
    }
    let response = builder.body(body).send().await.expect("request");
    if let Transport::H2c = transport {
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
    }
    assert_eq!(response.status(), 200, "{transport:?}");
    assert_eq!(
        response.headers()["content-type"],
        "application/x-protobuf",
        "{transport:?}"
    );
    Resp::decode(response.bytes().await.unwrap()).expect("protobuf response")
}

/// `(key, request holding that one resource)` for each resource, sorted.
fn split<M: Clone, R: Clone>(
    resources: &[R],
    service: impl Fn(&R) -> String,
    wrap: impl Fn(R) -> M,
) -> Vec<(String, M)> {
    let mut out: Vec<_> = resources
        .iter()
        .map(|r| (service(r), wrap(r.clone())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stored_sorted<M: Message + Default>(log: &Log, topic: &str) -> Vec<(String, M)> {
    let mut out: Vec<_> = stored_requests::<M>(log, topic)
        .into_iter()
        .map(|s| {
            assert_eq!(s.tenant, "default");
            (s.key, s.request)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_stored_the_same_over_every_transport() {
    bounded(async {
        let request = logs_request();
        let expected = split(
            &request.resource_logs,
            |r| common::service_name(r.resource.as_ref()),
            |r| ExportLogsServiceRequest {
                resource_logs: vec![r],
            },
        );
        for transport in TRANSPORTS {
            let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
            let response: ExportLogsServiceResponse = match transport {
                Transport::Grpc(encoding) => {
                    let mut client = LogsServiceClient::connect(servers.grpc_url())
                        .await
                        .unwrap();
                    if let Some(encoding) = encoding {
                        client = client.send_compressed(encoding).accept_compressed(encoding);
                    }
                    client.export(request.clone()).await.unwrap().into_inner()
                }
                _ => post(&servers, "logs", transport, &request).await,
            };
            assert_eq!(response.partial_success, None, "{transport:?}");
            let stored = stored_sorted::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS);
            assert_eq!(stored, expected, "{transport:?}");
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_stored_the_same_over_every_transport() {
    bounded(async {
        let request = metrics_request();
        let expected = split(
            &request.resource_metrics,
            |r| common::service_name(r.resource.as_ref()),
            |r| ExportMetricsServiceRequest {
                resource_metrics: vec![r],
            },
        );
        for transport in TRANSPORTS {
            let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
            let response: ExportMetricsServiceResponse = match transport {
                Transport::Grpc(encoding) => {
                    let mut client = MetricsServiceClient::connect(servers.grpc_url())
                        .await
                        .unwrap();
                    if let Some(encoding) = encoding {
                        client = client.send_compressed(encoding).accept_compressed(encoding);
                    }
                    client.export(request.clone()).await.unwrap().into_inner()
                }
                _ => post(&servers, "metrics", transport, &request).await,
            };
            assert_eq!(response.partial_success, None, "{transport:?}");
            let stored = stored_sorted::<ExportMetricsServiceRequest>(&log.log, OTLP_METRICS);
            assert_eq!(stored, expected, "{transport:?}");
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_are_stored_the_same_over_every_transport() {
    bounded(async {
        let request = traces_request();
        let expected = split(
            &request.resource_spans,
            |r| common::service_name(r.resource.as_ref()),
            |r| ExportTraceServiceRequest {
                resource_spans: vec![r],
            },
        );
        for transport in TRANSPORTS {
            let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
            let response: ExportTraceServiceResponse = match transport {
                Transport::Grpc(encoding) => {
                    let mut client = TraceServiceClient::connect(servers.grpc_url())
                        .await
                        .unwrap();
                    if let Some(encoding) = encoding {
                        client = client.send_compressed(encoding).accept_compressed(encoding);
                    }
                    client.export(request.clone()).await.unwrap().into_inner()
                }
                _ => post(&servers, "traces", transport, &request).await,
            };
            assert_eq!(response.partial_success, None, "{transport:?}");
            let stored = stored_sorted::<ExportTraceServiceRequest>(&log.log, OTLP_SPANS);
            assert_eq!(stored, expected, "{transport:?}");
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_parameters_and_case_are_accepted() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let response = common::http_client()
            .post(servers.url("logs"))
            .header("content-type", "Application/X-Protobuf; charset=binary")
            .header("content-encoding", "GZIP")
            .body(common::gzip(&logs_request().encode_to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS).len(),
            3
        );
    })
    .await
}
