//! Refusals: what a malformed, unsupported or oversized request gets back
//! over HTTP (status, `google.rpc.Status` body in the request's format)
//! and over gRPC (status code), and that nothing of it is stored.

mod common;

use common::{
    LOGS_EXPORT, METRICS_EXPORT, TRACES_EXPORT, bounded, grpc_frame, grpc_raw, start_with_log,
};
use ingest::{Auth, Limits, PipelineConfig};
use log_core::{Log, OTLP_LOGS, OTLP_METRICS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tonic::Code;

/// A refusal as the HTTP receiver sent it: status, and the
/// `google.rpc.Status` body decoded from JSON or protobuf.
#[derive(Debug)]
struct Refusal {
    status: u16,
    code: i32,
    message: String,
    retry_after: Option<String>,
}

async fn post(
    url: &str,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Refusal {
    let mut request = common::http_client().post(url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let response_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = response.bytes().await.unwrap();
    let (code, message) = if response_type == "application/x-protobuf" {
        let status = tonic_types::pb::Status::decode(bytes).expect("protobuf google.rpc.Status");
        (status.code, status.message)
    } else {
        assert_eq!(response_type, "application/json");
        let status: serde_json::Value =
            serde_json::from_slice(&bytes).expect("JSON google.rpc.Status");
        (
            status["code"].as_i64().expect("code") as i32,
            status["message"].as_str().expect("message").to_owned(),
        )
    };
    Refusal {
        status,
        code,
        message,
        retry_after,
    }
}

fn nothing_stored(log: &Log) {
    for topic in [OTLP_LOGS, OTLP_METRICS, OTLP_SPANS] {
        assert!(common::stored(log, topic).is_empty(), "{topic} is empty");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_naming_the_problem_in_json() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let cases: [(&str, &str, &str); 5] = [
            ("logs", r#"{"resourceLogs": ["#, "EOF"),
            (
                "logs",
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not-hex"}]}]}]}"#,
                "line 1",
            ),
            (
                "traces",
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
                "invalid digit",
            ),
            ("metrics", r#"{"resourceMetrics": 5}"#, "invalid type"),
            ("logs", "not json at all", "expected"),
        ];
        for (signal, body, detail) in cases {
            let refusal = post(
                &servers.url(signal),
                Some("application/json"),
                None,
                body.into(),
            )
            .await;
            assert_eq!(refusal.status, 400, "{body}: {refusal:?}");
            assert_eq!(refusal.code, Code::InvalidArgument as i32);
            assert!(
                refusal
                    .message
                    .contains(&format!("invalid OTLP/JSON {signal} request")),
                "{refusal:?}"
            );
            assert!(refusal.message.contains(detail), "{detail}: {refusal:?}");
            assert_eq!(refusal.retry_after, None);
        }
        nothing_stored(&log.log);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_is_a_400_naming_the_problem_in_protobuf() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        // Field 1 (length-delimited) claiming more bytes than follow.
        let truncated = vec![0x0a, 0x7f, 0x01, 0x02];
        for signal in ["logs", "metrics", "traces"] {
            let refusal = post(
                &servers.url(signal),
                Some("application/x-protobuf"),
                None,
                truncated.clone(),
            )
            .await;
            assert_eq!(refusal.status, 400, "{refusal:?}");
            assert_eq!(refusal.code, Code::InvalidArgument as i32);
            assert!(
                refusal
                    .message
                    .contains(&format!("invalid OTLP protobuf {signal} request")),
                "{refusal:?}"
            );
            assert!(
                refusal
                    .message
                    .contains("failed to decode Protobuf message"),
                "{refusal:?}"
            );
        }
        // A body that claims gzip but is not.
        let refusal = post(
            &servers.url("logs"),
            Some("application/x-protobuf"),
            Some("gzip"),
            b"definitely not gzip".to_vec(),
        )
        .await;
        assert_eq!(refusal.status, 400, "{refusal:?}");
        assert!(refusal.message.contains("invalid gzip body"), "{refusal:?}");
        let refusal = post(
            &servers.url("logs"),
            Some("application/json"),
            Some("zstd"),
            b"definitely not zstd".to_vec(),
        )
        .await;
        assert_eq!(refusal.status, 400, "{refusal:?}");
        assert!(refusal.message.contains("invalid zstd body"), "{refusal:?}");
        nothing_stored(&log.log);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_content_type_or_encoding_is_a_415_naming_it() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let body = b"{}".to_vec();
        for content_type in [Some("text/plain"), Some("application/grpc"), None] {
            let refusal = post(&servers.url("logs"), content_type, None, body.clone()).await;
            assert_eq!(refusal.status, 415, "{content_type:?}: {refusal:?}");
            assert!(
                refusal.message.contains("unsupported content type"),
                "{refusal:?}"
            );
            assert!(
                refusal.message.contains(content_type.unwrap_or("\"\"")),
                "names the type: {refusal:?}"
            );
        }
        for encoding in ["br", "deflate", "compress"] {
            let refusal = post(
                &servers.url("metrics"),
                Some("application/json"),
                Some(encoding),
                body.clone(),
            )
            .await;
            assert_eq!(refusal.status, 415, "{encoding}: {refusal:?}");
            assert!(
                refusal.message.contains("unsupported content encoding")
                    && refusal.message.contains(encoding),
                "{refusal:?}"
            );
        }
        nothing_stored(&log.log);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_grpc_messages_are_invalid_argument() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let truncated = [0x0a, 0x7f, 0x01, 0x02];
        for path in [LOGS_EXPORT, METRICS_EXPORT, TRACES_EXPORT] {
            let status = grpc_raw(servers.grpc, path, grpc_frame(false, &truncated), None)
                .await
                .expect("a refusal");
            assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
            assert!(
                status
                    .message()
                    .contains("failed to decode Protobuf message"),
                "{status:?}"
            );
        }
        // A frame flagged gzip that is not gzip.
        let status = grpc_raw(
            servers.grpc,
            LOGS_EXPORT,
            grpc_frame(true, b"definitely not gzip"),
            Some("gzip"),
        )
        .await
        .expect("a refusal");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        nothing_stored(&log.log);
    })
    .await
}

/// A request whose one log record carries `bytes` of body.
fn logs_of_size(bytes: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: common::resource("big"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(common::string(&"x".repeat(bytes))),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_413_and_resource_exhausted() {
    bounded(async {
        let limit = 64 << 10;
        let config = PipelineConfig {
            limits: Limits {
                max_request_bytes: limit,
                ..Limits::default()
            },
            ..PipelineConfig::default()
        };
        let (log, servers) = start_with_log(config, Auth::default()).await;
        let request = logs_of_size(limit + 1);
        let plain = request.encode_to_vec();

        // Plain, and compressed below the limit but larger once expanded.
        for (encoding, body) in [(None, plain.clone()), (Some("gzip"), common::gzip(&plain))] {
            let refusal = post(
                &servers.url("logs"),
                Some("application/x-protobuf"),
                encoding,
                body,
            )
            .await;
            assert_eq!(refusal.status, 413, "{encoding:?}: {refusal:?}");
            assert_eq!(refusal.code, Code::ResourceExhausted as i32);
            assert!(
                refusal
                    .message
                    .contains(&format!("larger than the limit of {limit} bytes")),
                "{refusal:?}"
            );
            assert_eq!(refusal.retry_after, None, "not to be retried");
        }

        // The OTLP specification makes OUT_OF_RANGE retryable, so an
        // oversized message must not get it: RESOURCE_EXHAUSTED without
        // retry information tells the exporter to drop it.
        for encoding in [None, Some(tonic::codec::CompressionEncoding::Gzip)] {
            let mut client = LogsServiceClient::connect(servers.grpc_url())
                .await
                .unwrap();
            if let Some(encoding) = encoding {
                client = client.send_compressed(encoding);
            }
            let status = client.export(request.clone()).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::ResourceExhausted,
                "{encoding:?}: {status:?}"
            );
            use tonic_types::StatusExt;
            assert!(status.get_details_retry_info().is_none());
        }
        nothing_stored(&log.log);
    })
    .await
}
