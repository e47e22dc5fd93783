//! The log index over a real log in a temp dir: an `otlp_logs` topic, a
//! [`LogStore`], a [`Consumer`] of [`PartitionIndexer`]s, and builders of
//! OTLP requests.
//!
//! Each test binary uses part of this module, so unused-item lints are off
//! here (and only here).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregator::consumer::{Consumer, ConsumerConfig};
use aggregator::logs::indexer::PartitionIndexer;
use aggregator::logs::search::{LogSearch, SearchRequest};
use aggregator::logs::source::Direction;
use aggregator::logs::store::{LogIndexConfig, LogStore};
use aggregator::query::QueryLimits;
use bytes::Bytes;
use log_core::{Log, LogConfig, NewRecord, OTLP_LOGS, OpenMode, TENANT_HEADER, TopicConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tempfile::TempDir;

pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 3600 * SECOND;
/// An hour boundary (2023-11-14T22:00:00Z), so buckets are predictable.
pub const T0: i64 = 1_699_999_200 * SECOND;
/// How long a test waits for the indexer before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// Index settings that keep tests fast: frequent commits, no retention,
/// tantivy's smallest writer.
pub fn fast_config() -> LogIndexConfig {
    LogIndexConfig {
        commit_interval: Duration::from_millis(100),
        retention: None,
        writer_memory_bytes: 15_000_000,
        ..LogIndexConfig::default()
    }
}

/// A log, an index and (while started) the consumer feeding it.
pub struct Harness {
    pub log: Arc<Log>,
    pub store: Arc<LogStore>,
    pub search: Arc<LogSearch>,
    pub config: LogIndexConfig,
    consumer: Option<Consumer>,
    runtime: tokio::runtime::Runtime,
    dir: TempDir,
}

impl Harness {
    /// A fresh log with an `otlp_logs` topic of `partitions` partitions,
    /// and an empty index; the consumer is not started.
    pub fn new(partitions: u32, config: LogIndexConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(
            &dir.path().join("log"),
            LogConfig::default(),
            OpenMode::ReadWrite,
        )
        .unwrap();
        let topic = TopicConfig {
            partitions,
            retention: None,
            ..TopicConfig::default()
        };
        log.create_topic(OTLP_LOGS, topic).unwrap();
        let store = LogStore::open(&dir.path().join("index"), config.clone()).unwrap();
        let search = Arc::new(LogSearch::new(Arc::clone(&store), QueryLimits::default()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Harness {
            log,
            store,
            search,
            config,
            consumer: None,
            runtime,
            dir,
        }
    }

    /// A started harness.
    pub fn started(partitions: u32, config: LogIndexConfig) -> Harness {
        let mut harness = Harness::new(partitions, config);
        harness.start();
        harness
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    pub fn checkpoint_path(&self, partition: u32) -> PathBuf {
        self.index_dir()
            .join(format!("p{partition}"))
            .join("checkpoint.json")
    }

    /// Starts a consumer with one indexer per partition on the store.
    pub fn start(&mut self) {
        assert!(self.consumer.is_none(), "already started");
        let store = Arc::clone(&self.store);
        let consumer = Consumer::start(
            Arc::clone(&self.log),
            OTLP_LOGS,
            ConsumerConfig::default(),
            self.runtime.handle().clone(),
            move |partition| PartitionIndexer::new(Arc::clone(&store), partition),
        )
        .unwrap();
        self.consumer = Some(consumer);
    }

    /// Stops the consumer; its indexers make a final commit.
    pub fn stop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            consumer.stop().unwrap();
        }
    }

    /// Opens the index again from disk, as a restarted process would
    /// (the consumer must be stopped).
    pub fn reopen_store(&mut self) {
        assert!(self.consumer.is_none(), "stop the consumer first");
        self.store = LogStore::open(&self.index_dir(), self.config.clone()).unwrap();
        self.search = Arc::new(LogSearch::new(
            Arc::clone(&self.store),
            QueryLimits::default(),
        ));
    }

    /// Appends one `otlp_logs` record; returns its offset.
    pub fn append(
        &self,
        partition: u32,
        tenant: Option<&str>,
        request: &ExportLogsServiceRequest,
    ) -> u64 {
        let record = NewRecord {
            timestamp: T0 / 1_000_000,
            key: None,
            value: Some(Bytes::from(request.encode_to_vec())),
            headers: tenant
                .map(|t| (TENANT_HEADER.to_owned(), Some(Bytes::from(t.to_owned()))))
                .into_iter()
                .collect(),
        };
        self.log
            .partition(OTLP_LOGS, partition)
            .unwrap()
            .append(&[record])
            .unwrap()
            .wait()
            .unwrap()
            .base_offset
    }

    /// Waits until every partition's indexer has committed everything
    /// appended so far (its checkpoint reached the high watermark).
    pub fn wait_indexed(&self) {
        let partitions = self.log.topic(OTLP_LOGS).unwrap().partitions().len() as u32;
        for partition in 0..partitions {
            let end = self
                .log
                .partition(OTLP_LOGS, partition)
                .unwrap()
                .high_watermark();
            wait_until(&format!("partition {partition} indexed to {end}"), || {
                self.store.checkpoint(partition).unwrap() >= end
            });
        }
    }

    /// Every document of `tenant` matching `query` in `[start, end)`,
    /// oldest first, and the total the search reported.
    pub fn all_hits(
        &self,
        tenant: &str,
        query: &str,
        start_nanos: i64,
        end_nanos: i64,
    ) -> (Vec<String>, u64) {
        let response = self
            .search
            .search(&SearchRequest {
                tenant: tenant.to_owned(),
                query: query.to_owned(),
                start_nanos,
                end_nanos,
                limit: QueryLimits::default().max_hits,
                direction: Direction::Forward,
            })
            .unwrap();
        let bodies = response.hits.into_iter().map(|d| d.body).collect();
        (bodies, response.num_hits)
    }

    /// How many documents of `tenant` have each body, over all time.
    pub fn body_counts(&self, tenant: &str) -> BTreeMap<String, usize> {
        let (bodies, total) = self.all_hits(tenant, "*", i64::MIN, i64::MAX);
        assert_eq!(total as usize, bodies.len(), "raise the hit limit");
        let mut counts = BTreeMap::new();
        for body in bodies {
            *counts.entry(body).or_default() += 1;
        }
        counts
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            let _ = consumer.stop();
        }
    }
}

/// Polls `done` until it holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A string attribute.
pub fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// A log record with a string body.
pub fn line(time_nanos: i64, severity: &str, body: &str) -> LogRecord {
    let severity_number = match severity {
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        _ => 0,
    };
    LogRecord {
        time_unix_nano: u64::try_from(time_nanos).unwrap(),
        severity_text: severity.to_owned(),
        severity_number,
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.to_owned())),
        }),
        ..LogRecord::default()
    }
}

/// `line` with attributes.
pub fn line_with(
    time_nanos: i64,
    severity: &str,
    body: &str,
    attributes: &[(&str, &str)],
) -> LogRecord {
    LogRecord {
        attributes: attributes.iter().map(|(k, v)| attr(k, v)).collect(),
        ..line(time_nanos, severity, body)
    }
}

/// A request of one resource (`service.name` plus `resource`) holding
/// `logs`.
pub fn request(
    service: &str,
    resource: &[(&str, &str)],
    logs: Vec<LogRecord>,
) -> ExportLogsServiceRequest {
    let attributes = std::iter::once(attr("service.name", service))
        .chain(resource.iter().map(|(k, v)| attr(k, v)))
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: logs,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}
