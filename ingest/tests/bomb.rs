//! Compression bombs: a small body that expands far past
//! `max_request_bytes` is refused (413 / `RESOURCE_EXHAUSTED`) after at most
//! that many bytes were decompressed, so the process's memory barely moves.
//!
//! One test in its own binary, so no other test's allocations show in the
//! process's peak resident set.

mod common;

use std::io::Read;

use common::{LOGS_EXPORT, TRACES_EXPORT, bounded, grpc_frame, grpc_raw, start_with_log};
use ingest::{Auth, Limits, PipelineConfig};
use log_core::{OTLP_LOGS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tonic::Code;
use tonic::codec::CompressionEncoding;

const LIMIT: usize = 1 << 20;
const GZIP_EXPANDS_TO: usize = 512 << 20;
const ZSTD_EXPANDS_TO: usize = 1 << 30;
/// Allowed growth of the peak resident set while the bombs are refused:
/// a few request limits' worth, far below what the bombs expand to.
const MAX_GROWTH: u64 = 64 << 20;

/// The bombs are what they claim, checked on small ones.
fn bomb_builders_make_valid_streams_of_zeros() {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&common::gzip_bomb(4 << 20)[..])
        .read_to_end(&mut out)
        .expect("a valid gzip stream, crc and length included");
    assert_eq!(out.len(), 4 << 20);
    assert!(out.iter().all(|&b| b == 0));
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(&common::zstd_bomb(16 << 20)[..])
        .unwrap()
        .take(32 << 20)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out.len(), 16 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

fn small_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: common::resource("warm-up"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(common::string("hello")),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_bombs_are_cut_off_at_the_request_limit() {
    bounded(async {
        bomb_builders_make_valid_streams_of_zeros();
        let gzip = common::gzip_bomb(GZIP_EXPANDS_TO);
        let zstd = common::zstd_bomb(ZSTD_EXPANDS_TO);
        // Both must get past the body limit, to reach decompression.
        assert!(gzip.len() < LIMIT, "gzip bomb is {} bytes", gzip.len());
        assert!(zstd.len() < LIMIT, "zstd bomb is {} bytes", zstd.len());

        let config = PipelineConfig {
            limits: Limits {
                max_request_bytes: LIMIT,
                ..Limits::default()
            },
            ..PipelineConfig::default()
        };
        let (log, servers) = start_with_log(config, Auth::default()).await;
        let client = common::http_client();

        // Warm up both receivers with compressed requests, so that what
        // they allocate once is not counted against the bombs.
        let response = client
            .post(servers.url("logs"))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(common::gzip(&small_logs().encode_to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        LogsServiceClient::connect(servers.grpc_url())
            .await
            .unwrap()
            .send_compressed(CompressionEncoding::Zstd)
            .export(small_logs())
            .await
            .unwrap();

        // Reset the peak where the kernel allows it; otherwise the peak so
        // far is the baseline, which only makes the check stricter.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = common::proc_status_bytes("VmHWM:");

        for (content_type, encoding, body) in [
            ("application/x-protobuf", "gzip", &gzip),
            ("application/json", "gzip", &gzip),
            ("application/x-protobuf", "zstd", &zstd),
            ("application/json", "zstd", &zstd),
        ] {
            let response = client
                .post(servers.url("logs"))
                .header("content-type", content_type)
                .header("content-encoding", encoding)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 413, "{content_type} {encoding}");
            let text = response.text().await.unwrap();
            assert!(
                content_type != "application/json"
                    || text.contains(&format!("larger than the limit of {LIMIT} bytes")),
                "{text}"
            );
        }
        for (path, encoding, body) in [(LOGS_EXPORT, "gzip", &gzip), (TRACES_EXPORT, "zstd", &zstd)]
        {
            let status = grpc_raw(servers.grpc, path, grpc_frame(true, body), Some(encoding))
                .await
                .expect("a refusal");
            assert_eq!(
                status.code(),
                Code::ResourceExhausted,
                "{encoding}: {status:?}"
            );
        }

        let after = common::proc_status_bytes("VmHWM:");
        let growth = after.saturating_sub(before);
        assert!(
            growth < MAX_GROWTH,
            "peak resident set grew by {} MiB refusing bombs of {} MiB",
            growth >> 20,
            ZSTD_EXPANDS_TO >> 20
        );
        assert_eq!(
            common::stored(&log.log, OTLP_LOGS).len(),
            2,
            "only the warm-ups"
        );
        assert_eq!(common::stored(&log.log, OTLP_SPANS).len(), 0);
        eprintln!(
            "peak resident set grew by {} KiB (gzip bomb {} bytes, zstd bomb {} bytes)",
            growth >> 10,
            gzip.len(),
            zstd.len()
        );
    })
    .await
}
