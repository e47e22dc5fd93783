//! Backpressure: with the log stalled, in-flight request bytes stay within
//! `max_inflight_bytes`; further requests get 429 with `Retry-After` over
//! HTTP and `UNAVAILABLE` with `RetryInfo` over gRPC; once the log moves
//! again every accepted request succeeds and every record reached the log.
//! A log that cannot take appends answers 503 / `UNAVAILABLE` with a hint.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Servers, StalledLog, bounded, start, start_with_log};
use ingest::{Auth, Pipeline, PipelineConfig};
use log_core::{Appender, OTLP_LOGS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::Code;
use tonic_types::StatusExt;

/// Room for three requests of [`REQUEST_BODY`] bytes and a bit, not four.
const BUDGET: usize = 64 << 10;
const REQUEST_BODY: usize = 20_000;
const RETRY_AFTER: Duration = Duration::from_secs(3);

fn config() -> PipelineConfig {
    PipelineConfig {
        max_inflight_bytes: BUDGET,
        retry_after: RETRY_AFTER,
        ..PipelineConfig::default()
    }
}

/// A log request of about [`REQUEST_BODY`] bytes from `service`.
fn logs(service: &str) -> ExportLogsServiceRequest {
    common::logs_request(service, &"x".repeat(REQUEST_BODY))
}

fn spans(service: &str) -> ExportTraceServiceRequest {
    common::spans_request(service, &"y".repeat(REQUEST_BODY))
}

async fn post_logs(
    client: &reqwest::Client,
    servers: &Servers<impl Appender>,
    service: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(servers.url("logs"))
        .header("content-type", "application/x-protobuf")
        .body(logs(service).encode_to_vec())
        .send()
        .await
}

/// Samples the pipeline's in-flight bytes until dropped, remembering the
/// largest value seen.
struct Watermark {
    peak: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Watermark {
    fn watch<A: Appender>(pipeline: Arc<Pipeline<A>>) -> Watermark {
        let peak = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&peak), Arc::clone(&stop));
        tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                p.fetch_max(pipeline.inflight_bytes(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        Watermark { peak, stop }
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Watermark {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Waits until `ready` holds, polling.
async fn until(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..500 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_log_fills_the_budget_then_refuses_with_a_retry_hint() {
    bounded(async {
        let stalled = Arc::new(StalledLog::new(2));
        let servers = start(Arc::clone(&stalled), config(), Auth::default()).await;
        let watermark = Watermark::watch(Arc::clone(&servers.pipeline));
        let client = common::http_client();

        // Three requests, over both transports, are admitted and wait.
        let mut accepted = Vec::new();
        for service in ["http-a", "http-b"] {
            let (client, url) = (client.clone(), servers.url("logs"));
            let body = logs(service).encode_to_vec();
            accepted.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }));
        }
        let url = servers.grpc_url();
        accepted.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(url).await.unwrap();
            let response = client.export(spans("grpc-c")).await.unwrap().into_inner();
            assert_eq!(response.partial_success, None);
        }));
        until("three requests wait on the log", || stalled.issued() == 3).await;
        let held = servers.pipeline.inflight_bytes();
        assert!((3 * REQUEST_BODY..=BUDGET).contains(&held), "{held}");

        // A fourth does not fit: 429 with Retry-After, nothing appended.
        let refused = post_logs(&client, &servers, "http-d").await.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "3");
        let status = tonic_types::pb::Status::decode(refused.bytes().await.unwrap()).unwrap();
        assert_eq!(status.code, Code::Unavailable as i32);
        assert!(status.message.contains("in-flight bound"), "{status:?}");
        // The same in JSON.
        let refused = client
            .post(servers.url("logs"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&logs("http-e")).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "3");

        // And over gRPC: UNAVAILABLE carrying RetryInfo.
        let mut grpc = LogsServiceClient::connect(servers.grpc_url())
            .await
            .unwrap();
        let status = grpc.export(logs("grpc-f")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let retry = status.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(RETRY_AFTER));
        assert_eq!(stalled.issued(), 3, "refused requests never reach the log");
        assert_eq!(servers.pipeline.inflight_bytes(), held);

        // The log moves again: every admitted request succeeds, and its
        // records were all delivered.
        stalled.release();
        for request in accepted {
            request.await.unwrap();
        }
        let mut keys: Vec<_> = stalled
            .delivered(OTLP_LOGS)
            .into_iter()
            .chain(stalled.delivered(OTLP_SPANS))
            .map(|r| String::from_utf8(r.key.unwrap().to_vec()).unwrap())
            .collect();
        keys.sort();
        assert_eq!(keys, ["grpc-c", "http-a", "http-b"]);
        for record in stalled.delivered(OTLP_LOGS) {
            let request = ExportLogsServiceRequest::decode(record.value.unwrap()).unwrap();
            assert_eq!(
                request,
                logs(&common::service_name(
                    request.resource_logs[0].resource.as_ref()
                ))
            );
        }
        until("the budget is free", || {
            servers.pipeline.inflight_bytes() == 0
        })
        .await;

        // And new requests are admitted again.
        let response = post_logs(&client, &servers, "http-g").await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(watermark.peak() <= BUDGET, "peak {}", watermark.peak());
    })
    .await
}

/// OTLP exporters give up on a request after a timeout and retry it. An
/// abandoned request's appends are still in the log's hands, so its bytes
/// must stay counted until they are durable; otherwise every retry would
/// add another request's worth to a stalled log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_requests_stay_counted_until_the_log_has_them() {
    bounded(async {
        let stalled = Arc::new(StalledLog::new(2));
        let servers = start(Arc::clone(&stalled), config(), Auth::default()).await;
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let mut grpc = LogsServiceClient::connect(servers.grpc_url())
            .await
            .unwrap();

        for attempt in 0..10 {
            match post_logs(&impatient, &servers, &format!("retry-{attempt}")).await {
                Err(e) => assert!(e.is_timeout(), "{e}"),
                Ok(response) => assert_eq!(response.status(), 429),
            }
            let mut request = tonic::Request::new(logs(&format!("grpc-{attempt}")));
            request.set_timeout(Duration::from_millis(200));
            match grpc.export(request).await {
                Ok(_) => panic!("the log is stalled"),
                Err(status) => assert!(
                    matches!(
                        status.code(),
                        Code::Cancelled | Code::DeadlineExceeded | Code::Unavailable
                    ),
                    "{status:?}"
                ),
            }
            let (appends, bytes) = stalled.pending();
            assert!(
                appends <= 3,
                "attempt {attempt}: {appends} appends wait on the log"
            );
            assert!(
                bytes <= BUDGET,
                "attempt {attempt}: {bytes} bytes wait on the log"
            );
            assert!(
                servers.pipeline.inflight_bytes() >= bytes,
                "attempt {attempt}: {} in-flight bytes counted, {bytes} held by the log",
                servers.pipeline.inflight_bytes()
            );
        }
        assert_eq!(stalled.pending().0, 3);

        // Once the log moves, the abandoned requests' records are stored and
        // their budget comes back.
        stalled.release();
        until("the budget is free", || {
            servers.pipeline.inflight_bytes() == 0
        })
        .await;
        assert_eq!(stalled.delivered(OTLP_LOGS).len(), 3);
        let response = post_logs(&common::http_client(), &servers, "after")
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_log_is_unavailable_with_a_retry_hint() {
    bounded(async {
        let (log, servers) = start_with_log(config(), Auth::default()).await;
        log.log.close().unwrap();

        let client = common::http_client();
        let response = post_logs(&client, &servers, "late").await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "3");
        let status = tonic_types::pb::Status::decode(response.bytes().await.unwrap()).unwrap();
        assert_eq!(status.code, Code::Unavailable as i32);
        assert!(
            status.message.contains("the log is unavailable"),
            "{status:?}"
        );

        let mut grpc = LogsServiceClient::connect(servers.grpc_url())
            .await
            .unwrap();
        let status = grpc.export(logs("late")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let retry = status.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(RETRY_AFTER));
        assert_eq!(
            servers.pipeline.inflight_bytes(),
            0,
            "refusals release the budget"
        );
    })
    .await
}

/// Small requests reach the bound on concurrent requests long before the
/// byte budget. Past it, a request must still get an answer with a retry
/// hint while the log is stalled, not wait until the exporter gives up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_concurrency_bound_a_stalled_log_still_gets_a_retry_hint() {
    bounded(async {
        let stalled = Arc::new(StalledLog::new(2));
        let servers = start(
            Arc::clone(&stalled),
            PipelineConfig {
                retry_after: RETRY_AFTER,
                ..PipelineConfig::default()
            },
            Auth::default(),
        )
        .await;
        let total = ingest::otlp_grpc::MAX_CONCURRENT_REQUESTS + 4;
        let small = |service: &str| {
            let mut request = logs(service);
            request.resource_logs[0].scope_logs[0].log_records[0].body =
                Some(common::string("small"));
            request
        };

        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(6))
            .build()
            .unwrap();
        let mut http = Vec::new();
        for i in 0..total {
            let request = client
                .post(servers.url("logs"))
                .header("content-type", "application/x-protobuf")
                .body(small(&format!("http-{i}")).encode_to_vec());
            http.push(tokio::spawn(async move {
                request.send().await.map(|r| {
                    let retry_after = r.headers().get("retry-after").cloned();
                    (r.status().as_u16(), retry_after)
                })
            }));
        }
        let mut grpc = Vec::new();
        for i in 0..total {
            let url = servers.grpc_url();
            let request = small(&format!("grpc-{i}"));
            grpc.push(tokio::spawn(async move {
                let mut client = LogsServiceClient::connect(url).await.unwrap();
                let mut request = tonic::Request::new(request);
                request.set_timeout(Duration::from_secs(6));
                client
                    .export(request)
                    .await
                    .map_err(|s| (s.code(), s.get_details_retry_info()))
            }));
        }

        // Whatever is not admitted is refused with a retry hint well before
        // the clients' timeouts.
        until("every request is admitted or refused", || {
            let finished = http.iter().filter(|t| t.is_finished()).count()
                + grpc.iter().filter(|t| t.is_finished()).count();
            finished + stalled.issued() >= 2 * total
        })
        .await;
        let admitted = stalled.issued();
        stalled.release();
        let mut refused = 0;
        for task in http {
            match task.await.unwrap() {
                Ok((200, _)) => {}
                Ok((429, Some(retry_after))) if retry_after == "3" => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        for task in grpc {
            match task.await.unwrap() {
                Ok(_) => {}
                Err((Code::Unavailable, Some(retry))) if retry.retry_delay == Some(RETRY_AFTER) => {
                    refused += 1
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(admitted + refused, 2 * total);
        assert_eq!(refused, 8, "four past the bound on each transport");
        assert_eq!(stalled.delivered(OTLP_LOGS).len(), admitted);
    })
    .await
}
