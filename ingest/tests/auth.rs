//! Bearer tokens: without one or with a wrong one a request is refused
//! (401 / `UNAUTHENTICATED`) and nothing is stored; with a right one its
//! records carry that token's tenant in the `weir.tenant` header.

mod common;

use std::collections::HashMap;

use common::{bounded, start_with_log, stored_requests};
use ingest::{Auth, PipelineConfig};
use log_core::{OTLP_LOGS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::Code;

fn auth() -> Auth {
    Auth::new(HashMap::from([
        ("s3cret-acme".to_owned(), "acme".to_owned()),
        ("s3cret-globex".to_owned(), "globex".to_owned()),
    ]))
}

fn logs(service: &str) -> ExportLogsServiceRequest {
    common::logs_request(service, "hello")
}

fn spans(service: &str) -> ExportTraceServiceRequest {
    common::spans_request(service, "op")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_need_a_known_bearer_token_and_carry_its_tenant() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), auth()).await;
        let client = common::http_client();
        let send = |authorization: Option<&str>, service: &str, json: bool| {
            let mut request = client.post(servers.url("logs"));
            request = if json {
                request
                    .header("content-type", "application/json")
                    .body(r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},"scopeLogs":[{"logRecords":[{}]}]}]}"#)
            } else {
                request
                    .header("content-type", "application/x-protobuf")
                    .body(logs(service).encode_to_vec())
            };
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            request.send()
        };

        for (authorization, json) in [
            (None, false),
            (None, true),
            (Some("Bearer wrong"), false),
            (Some("Bearer wrong"), true),
            (Some("Basic s3cret-acme"), false),
            (Some("s3cret-acme"), false),
        ] {
            let response = send(authorization, "refused", json).await.unwrap();
            assert_eq!(response.status(), 401, "{authorization:?}");
            let bytes = response.bytes().await.unwrap();
            let (code, message) = if json {
                let status: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                (status["code"].as_i64().unwrap() as i32, status["message"].to_string())
            } else {
                let status = tonic_types::pb::Status::decode(bytes).unwrap();
                (status.code, status.message)
            };
            assert_eq!(code, Code::Unauthenticated as i32);
            assert!(
                message.contains("bearer token"),
                "{authorization:?}: {message}"
            );
        }
        assert!(common::stored(&log.log, OTLP_LOGS).is_empty());

        let ok = send(Some("Bearer s3cret-acme"), "acme-svc", false).await.unwrap();
        assert_eq!(ok.status(), 200);
        let ok = send(Some("bearer s3cret-globex"), "globex-svc", false)
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let ok = send(Some("Bearer s3cret-globex"), "", true).await.unwrap();
        assert_eq!(ok.status(), 200);

        let mut tenants: Vec<(String, String)> =
            stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS)
                .into_iter()
                .map(|s| (s.key, s.tenant))
                .collect();
        tenants.sort();
        assert_eq!(
            tenants,
            [
                ("acme-svc".to_owned(), "acme".to_owned()),
                ("globex-svc".to_owned(), "globex".to_owned()),
                ("json-svc".to_owned(), "globex".to_owned()),
            ]
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_requests_need_a_known_bearer_token_and_carry_its_tenant() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), auth()).await;
        let mut client = TraceServiceClient::connect(servers.grpc_url())
            .await
            .unwrap();
        let request = |authorization: Option<&str>, service: &str| {
            let mut request = tonic::Request::new(spans(service));
            if let Some(authorization) = authorization {
                request
                    .metadata_mut()
                    .insert("authorization", authorization.parse().unwrap());
            }
            request
        };

        for authorization in [None, Some("Bearer wrong"), Some("Basic s3cret-acme")] {
            let status = client
                .export(request(authorization, "refused"))
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{authorization:?}");
            assert!(status.message().contains("bearer token"), "{status:?}");
        }
        assert!(common::stored(&log.log, OTLP_SPANS).is_empty());

        client
            .export(request(Some("Bearer s3cret-globex"), "globex-svc"))
            .await
            .unwrap();
        client
            .export(request(Some("Bearer s3cret-acme"), "acme-svc"))
            .await
            .unwrap();
        let mut tenants: Vec<(String, String)> =
            stored_requests::<ExportTraceServiceRequest>(&log.log, OTLP_SPANS)
                .into_iter()
                .map(|s| (s.key, s.tenant))
                .collect();
        tenants.sort();
        assert_eq!(
            tenants,
            [
                ("acme-svc".to_owned(), "acme".to_owned()),
                ("globex-svc".to_owned(), "globex".to_owned()),
            ]
        );
    })
    .await
}
