//! Helpers shared by ingest's integration tests: a real log in a temp dir,
//! both receivers on loopback, reading back what was stored, HTTP and gRPC
//! clients, compression bombs and a log whose appends stall on command.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ingest::{Auth, Pipeline, PipelineConfig};
use log_core::{
    AppendInfo, Appender, Durability, Log, LogConfig, LogError, NewRecord, OpenMode, Record,
    TENANT_HEADER, TopicConfig,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every test body runs under this bound, so a hang fails instead of
/// stalling the suite.
pub const TEST_BOUND: Duration = Duration::from_secs(10);

/// Decompression bound used when the tests decode what they read back.
pub const MAX_BATCH: usize = 16 << 20;

/// Runs `body`, failing the test if it takes longer than [`TEST_BOUND`].
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_BOUND, body)
        .await
        .expect("test exceeded its time bound")
}

/// A real log in a temp dir with the three telemetry topics, two
/// partitions each.
pub struct TestLog {
    pub log: Arc<Log>,
    // Dropped after the log.
    _dir: TempDir,
}

impl TestLog {
    pub fn open() -> TestLog {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = LogConfig {
            durability: Durability::Fsync,
            sync_threads: 2,
            cleanup_interval: Duration::from_secs(3600),
            ..LogConfig::default()
        };
        let (log, _) = Log::open(dir.path(), config, OpenMode::ReadWrite).expect("open log");
        log.ensure_telemetry_topics(&TopicConfig {
            partitions: 2,
            ..TopicConfig::default()
        })
        .expect("telemetry topics");
        TestLog { log, _dir: dir }
    }
}

/// Both receivers over one pipeline, bound to loopback port 0.
pub struct Servers<A: Appender> {
    pub pipeline: Arc<Pipeline<A>>,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

pub async fn start<A: Appender>(
    appender: Arc<A>,
    config: PipelineConfig,
    auth: Auth,
) -> Servers<A> {
    let pipeline = Arc::new(Pipeline::new(appender, config));
    let auth = Arc::new(auth);
    let (stop, _) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind grpc");
    let http = http_listener.local_addr().unwrap();
    let grpc = grpc_listener.local_addr().unwrap();
    let tasks = vec![
        tokio::spawn(ingest::otlp_http::serve(
            http_listener,
            Arc::clone(&pipeline),
            Arc::clone(&auth),
            stopped(stop.subscribe()),
        ))
        .into_unit(),
        tokio::spawn(ingest::otlp_grpc::serve(
            grpc_listener,
            Arc::clone(&pipeline),
            auth,
            stopped(stop.subscribe()),
        ))
        .into_unit(),
    ];
    Servers {
        pipeline,
        http,
        grpc,
        stop,
        tasks,
    }
}

trait IntoUnit {
    fn into_unit(self) -> JoinHandle<()>;
}

impl<T: Send + 'static, E: std::fmt::Debug + Send + 'static> IntoUnit for JoinHandle<Result<T, E>> {
    fn into_unit(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            if let Ok(Err(e)) = self.await {
                panic!("server failed: {e:?}");
            }
        })
    }
}

impl<A: Appender> Servers<A> {
    pub fn url(&self, signal: &str) -> String {
        format!("http://{}/v1/{signal}", self.http)
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Stops both servers, letting requests in progress finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            task.await.expect("server task");
        }
    }
}

impl<A: Appender> Drop for Servers<A> {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A real log behind both receivers.
pub async fn start_with_log(config: PipelineConfig, auth: Auth) -> (TestLog, Servers<Log>) {
    let log = TestLog::open();
    let servers = start(Arc::clone(&log.log), config, auth).await;
    (log, servers)
}

/// Every record of `topic`, partition by partition, with its partition.
pub fn stored(log: &Log, topic: &str) -> Vec<(u32, Record)> {
    let topic = log.topic(topic).expect("topic exists");
    let mut out = Vec::new();
    for partition in topic.partitions() {
        let mut offset = partition.log_start();
        while offset < partition.high_watermark() {
            let fetched = partition.read(offset, 1 << 20).expect("read partition");
            if fetched.is_empty() {
                break;
            }
            for record in fetched.records(MAX_BATCH) {
                let record = record.expect("stored record decodes");
                offset = record.offset + 1;
                out.push((partition.id(), record));
            }
        }
    }
    out
}

/// The stored value of each record of `topic`, decoded as `M`, with the
/// record's key and tenant, in partition then offset order.
pub fn stored_requests<M: prost::Message + Default>(log: &Log, topic: &str) -> Vec<Stored<M>> {
    stored(log, topic)
        .into_iter()
        .map(|(partition, record)| Stored {
            partition,
            key: String::from_utf8(record.key.clone().expect("record has a key").to_vec())
                .expect("utf-8 key"),
            tenant: tenant(&record),
            request: M::decode(record.value.clone().expect("record has a value"))
                .expect("stored value is an OTLP request"),
        })
        .collect()
}

pub struct Stored<M> {
    pub partition: u32,
    pub key: String,
    pub tenant: String,
    pub request: M,
}

/// The record's `weir.tenant` header; every stored record must carry
/// exactly one.
pub fn tenant(record: &Record) -> String {
    let values: Vec<&Option<Bytes>> = record
        .headers
        .iter()
        .filter(|(k, _)| k == TENANT_HEADER)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values.len(), 1, "one tenant header: {:?}", record.headers);
    let value = values[0].as_ref().expect("tenant header has a value");
    String::from_utf8(value.to_vec()).expect("utf-8 tenant")
}

pub fn string(value: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(value.into())),
    }
}

pub fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", string(service))],
        ..Default::default()
    })
}

/// The value of attribute `key`.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> &'a Value {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .unwrap_or_else(|| panic!("attribute {key} in {attributes:?}"))
}

pub fn service_name(resource: Option<&Resource>) -> String {
    match attribute(&resource.expect("resource").attributes, "service.name") {
        Value::StringValue(s) => s.clone(),
        other => panic!("service.name is {other:?}"),
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .expect("http client")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).unwrap()
}

/// A single-member gzip body that expands to `total` zero bytes (a
/// multiple of 1 MiB), built without compressing `total` bytes: after a
/// sync flush the deflate stream is byte-aligned and, once the window is
/// all zeros, every further MiB of zeros compresses to the same bytes, so
/// those bytes are repeated.
pub fn gzip_bomb(total: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    const CHUNK: usize = 1 << 20;
    assert!(total.is_multiple_of(CHUNK) && total >= 3 * CHUNK);
    let zeros = vec![0u8; CHUNK];
    let mut deflate = Compress::new(Compression::best(), false);
    let mut chunk = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(CHUNK);
        let before = deflate.total_in();
        deflate.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(deflate.total_in() - before, input.len() as u64);
        out
    };
    let first = chunk(&zeros, FlushCompress::Sync);
    let steady = chunk(&zeros, FlushCompress::Sync);
    assert_eq!(
        chunk(&zeros, FlushCompress::Sync),
        steady,
        "zeros compress to the same bytes once the window is full"
    );
    let end = chunk(&[], FlushCompress::Finish);

    let mut crc_chunk = Crc::new();
    crc_chunk.update(&zeros);
    let mut crc = Crc::new();
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend_from_slice(&first);
    crc.combine(&crc_chunk);
    for _ in 1..total / CHUNK {
        body.extend_from_slice(&steady);
        crc.combine(&crc_chunk);
    }
    body.extend_from_slice(&end);
    body.extend_from_slice(&crc.sum().to_le_bytes());
    body.extend_from_slice(&(total as u32).to_le_bytes());
    body
}

/// A zstd body that expands to `total` zero bytes (a multiple of 8 MiB):
/// one frame of 8 MiB of zeros, repeated (a zstd stream may hold many
/// frames).
pub fn zstd_bomb(total: usize) -> Vec<u8> {
    const FRAME: usize = 8 << 20;
    assert!(total.is_multiple_of(FRAME));
    let frame = zstd::bulk::compress(&vec![0u8; FRAME], 3).unwrap();
    frame.repeat(total / FRAME)
}

/// The `VmHWM` (peak resident set) or `VmRSS` of this process, in bytes.
pub fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// An [`Appender`] whose appends complete only once [`StalledLog::release`]
/// is called; it keeps what it was given so tests can check that nothing
/// acknowledged was lost.
pub struct StalledLog {
    partitions: u32,
    open: watch::Sender<bool>,
    /// Appends issued and not yet complete, and the value bytes they hold.
    pending: Arc<Mutex<(usize, usize)>>,
    /// Records of completed appends, per topic.
    delivered: Arc<Mutex<HashMap<String, Vec<NewRecord>>>>,
    issued: AtomicUsize,
}

impl StalledLog {
    pub fn new(partitions: u32) -> StalledLog {
        StalledLog {
            partitions,
            open: watch::channel(false).0,
            pending: Arc::default(),
            delivered: Arc::default(),
            issued: AtomicUsize::new(0),
        }
    }

    /// Lets every waiting and future append complete.
    pub fn release(&self) {
        self.open.send_replace(true);
    }

    /// Appends issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// Appends waiting, and the record value bytes they hold.
    pub fn pending(&self) -> (usize, usize) {
        *self.pending.lock().unwrap()
    }

    pub fn delivered(&self, topic: &str) -> Vec<NewRecord> {
        self.delivered
            .lock()
            .unwrap()
            .get(topic)
            .cloned()
            .unwrap_or_default()
    }
}

impl Appender for StalledLog {
    fn partition_count(&self, _topic: &str) -> log_core::Result<u32> {
        Ok(self.partitions)
    }

    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
    ) -> impl Future<Output = log_core::Result<AppendInfo>> + Send + 'static {
        assert!(partition < self.partitions);
        self.issued.fetch_add(1, Ordering::SeqCst);
        let records = records.to_vec();
        let bytes: usize = records
            .iter()
            .map(|r| r.value.as_ref().map_or(0, Bytes::len))
            .sum();
        {
            let mut pending = self.pending.lock().unwrap();
            pending.0 += 1;
            pending.1 += bytes;
        }
        let mut open = self.open.subscribe();
        let pending = Arc::clone(&self.pending);
        let delivered = Arc::clone(&self.delivered);
        let topic = topic.to_owned();
        // The append happens now, whether or not the caller waits for its
        // acknowledgement: like a log's producer, the fake holds the records
        // until it can store them.
        let (done, acknowledged) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if open.wait_for(|open| *open).await.is_err() {
                let _ = done.send(Err(LogError::ShuttingDown));
                return;
            }
            let info = {
                let mut delivered = delivered.lock().unwrap();
                let stored = delivered.entry(topic).or_default();
                let base_offset = stored.len() as u64;
                let count = records.len() as u64;
                stored.extend(records);
                AppendInfo {
                    base_offset,
                    last_offset: base_offset + count - 1,
                    batch_bytes: bytes,
                }
            };
            {
                let mut pending = pending.lock().unwrap();
                pending.0 -= 1;
                pending.1 -= bytes;
            }
            let _ = done.send(Ok(info));
        });
        async move { acknowledged.await.unwrap_or(Err(LogError::ShuttingDown)) }
    }
}

/// A gRPC frame: the compressed flag, the length, the message.
pub fn grpc_frame(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// Sends hand-made gRPC request bytes (for what a tonic client will not
/// send: malformed messages, pre-compressed bombs) and returns the status
/// the server answered in its headers (a trailers-only response), if any.
pub async fn grpc_raw(
    addr: std::net::SocketAddr,
    path: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> Option<tonic::Status> {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(8))
        .build()
        .expect("h2c client");
    let mut request = client
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let response = request.send().await.expect("grpc request");
    assert_eq!(response.status(), 200, "gRPC answers with HTTP 200");
    tonic::Status::from_header_map(response.headers())
}

pub const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
pub const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
pub const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A one-resource logs request for `service` with one record whose body is
/// `body`.
pub fn logs_request(service: &str, body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(string(body)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A one-resource traces request for `service` with one valid span named
/// `name`.
pub fn spans_request(service: &str, name: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: name.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
