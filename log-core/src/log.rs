//! The log of one data dir: its lock, its topics, the sync pool, the cleaner
//! and the consumer-offset store.
//!
//! Layout under `<data_dir>`:
//! ```text
//! weir.lock                      held (flock) by the process that opened the log; holds its pid
//! log/topics.json                topic names and settings, replaced atomically
//! log/.clean-shutdown            present only between a clean close and the next open
//! log/<topic>-<partition>/       one directory per partition (see `segment`)
//! ```
//! Creating a topic makes its partition directories first and then records
//! it in `topics.json`; deleting removes it from `topics.json` first. So a
//! crash leaves at worst an orphan directory, which open reports and ignores.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::config::{CleanupPolicy, LogConfig, TopicConfig};
use crate::error::{IoContext, LogError, Result};
use crate::fsutil::{sync_dir, write_atomic};
use crate::offsets::{ConsumerOffsets, OFFSETS_TOPIC};
use crate::partition::{self, Partition, PartitionRecovery, TopicMeta, Truncation};
use crate::retention::now_millis;
use crate::sync::Syncer;

pub const LOCK_FILE: &str = "weir.lock";
pub const LOG_DIR: &str = "log";
pub(crate) const TOPICS_FILE: &str = "topics.json";
const CLEAN_SHUTDOWN_MARKER: &str = ".clean-shutdown";
/// Kafka's limit on topic name length.
const MAX_TOPIC_NAME: usize = 249;

/// The telemetry topics, named as the OpenTelemetry Collector's Kafka
/// exporter names them by default.
pub const OTLP_LOGS: &str = "otlp_logs";
pub const OTLP_METRICS: &str = "otlp_metrics";
pub const OTLP_SPANS: &str = "otlp_spans";

/// How to open the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OpenMode {
    /// Recover, repair and accept appends.
    #[default]
    ReadWrite,
    /// Inspect only: nothing in the log changes (damage is reported, not
    /// cut); only the lock file records the holder's pid.
    ReadOnly,
}

/// What opening the log found.
#[derive(Debug, Default, Clone)]
pub struct RecoveryReport {
    pub clean_shutdown: bool,
    pub partitions: usize,
    pub scanned_batches: u64,
    pub truncations: Vec<Truncation>,
    pub orphan_dirs: Vec<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TopicsFile {
    version: u32,
    topics: BTreeMap<String, TopicConfig>,
}

/// A topic and its partitions.
pub struct Topic {
    meta: Arc<TopicMeta>,
    partitions: Vec<Arc<Partition>>,
}

impl Topic {
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn config(&self) -> TopicConfig {
        self.meta.config.read().unwrap().clone()
    }

    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }
}

/// Summary of a topic for listings.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub name: String,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionInfo>,
}

#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub partition: u32,
    pub log_start: u64,
    pub high_watermark: u64,
    pub size_bytes: u64,
    pub segments: usize,
}

/// An open log. Dropping it closes it cleanly (as [`Log::close`]).
pub struct Log {
    dir: PathBuf,
    log_dir: PathBuf,
    settings: Arc<LogConfig>,
    mode: OpenMode,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serialises topic creation and deletion (and `topics.json` writes).
    topics_file: Mutex<()>,
    syncer: Arc<Syncer>,
    offsets: Option<ConsumerOffsets>,
    cleaner: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    lock: Mutex<Option<File>>,
}

impl Log {
    /// Opens (creating if needed) the log in `data_dir`, taking its lock.
    pub fn open(
        data_dir: &Path,
        settings: LogConfig,
        mode: OpenMode,
    ) -> Result<(Arc<Log>, RecoveryReport)> {
        settings.validate()?;
        let read_only = mode == OpenMode::ReadOnly;
        if !read_only {
            std::fs::create_dir_all(data_dir)
                .context(|| format!("create data dir {}", data_dir.display()))?;
        }
        let lock = acquire_lock(data_dir, read_only)?;
        let log_dir = data_dir.join(LOG_DIR);
        if !read_only {
            std::fs::create_dir_all(&log_dir)
                .context(|| format!("create {}", log_dir.display()))?;
        }
        let marker = log_dir.join(CLEAN_SHUTDOWN_MARKER);
        let clean = marker.exists() || !log_dir.join(TOPICS_FILE).exists();
        let settings = Arc::new(settings);
        let syncer = Syncer::start(if read_only { 1 } else { settings.sync_threads });
        let mut report = RecoveryReport {
            clean_shutdown: clean,
            ..Default::default()
        };

        let stored = read_topics_file(&log_dir)?;
        let mut topics = BTreeMap::new();
        for (name, config) in stored.topics {
            let topic = open_topic(
                &log_dir,
                &name,
                config,
                &settings,
                &syncer,
                clean,
                read_only,
                &mut report,
            )?;
            topics.insert(name, topic);
        }
        report.orphan_dirs = orphan_dirs(&log_dir, &topics)?;
        for orphan in &report.orphan_dirs {
            warn!(dir = %orphan.display(), "partition directory belongs to no topic; ignored");
        }
        if !read_only && marker.exists() {
            std::fs::remove_file(&marker).context(|| format!("remove {}", marker.display()))?;
            sync_dir(&log_dir)?;
        }
        let mut log = Log {
            dir: data_dir.to_path_buf(),
            log_dir,
            settings,
            mode,
            topics: RwLock::new(topics),
            topics_file: Mutex::new(()),
            syncer,
            offsets: None,
            cleaner: Mutex::new(None),
            lock: Mutex::new(Some(lock)),
        };
        if !read_only {
            let offsets_config = TopicConfig {
                partitions: 1,
                cleanup_policy: CleanupPolicy::Compact,
                retention: None,
                segment_bytes: 64 << 20,
                ..log.settings.topic_defaults.clone()
            };
            log.ensure_topic(OFFSETS_TOPIC, offsets_config)?;
        }
        if let Some(topic) = log.topic(OFFSETS_TOPIC) {
            log.offsets = Some(ConsumerOffsets::load(Arc::clone(&topic.partitions[0]))?);
        }
        let log = Arc::new(log);
        if !read_only {
            log.start_cleaner();
        }
        if !report.truncations.is_empty() {
            warn!(
                truncations = report.truncations.len(),
                "log recovered from an unclean stop with data cut off"
            );
        }
        info!(
            dir = %data_dir.display(),
            clean = report.clean_shutdown,
            partitions = report.partitions,
            scanned_batches = report.scanned_batches,
            "log opened"
        );
        Ok((log, report))
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn settings(&self) -> &LogConfig {
        &self.settings
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().unwrap().get(name).cloned()
    }

    /// A partition, or an error naming what does not exist.
    pub fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let t = self
            .topic(topic)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_owned()))?;
        t.partitions
            .get(partition as usize)
            .cloned()
            .ok_or(LogError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
            })
    }

    pub fn topic_names(&self) -> Vec<String> {
        self.topics.read().unwrap().keys().cloned().collect()
    }

    pub fn describe(&self, name: &str) -> Result<TopicInfo> {
        let topic = self
            .topic(name)
            .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))?;
        Ok(TopicInfo {
            name: name.to_owned(),
            config: topic.config(),
            partitions: topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.id(),
                    log_start: p.log_start(),
                    high_watermark: p.high_watermark(),
                    size_bytes: p.size_bytes(),
                    segments: p.segment_count(),
                })
                .collect(),
        })
    }

    /// The consumer-group offset store (absent only in an empty read-only dir).
    pub fn consumer_offsets(&self) -> Option<&ConsumerOffsets> {
        self.offsets.as_ref()
    }

    /// Creates a topic; fails if it exists.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>> {
        if self.mode == OpenMode::ReadOnly {
            return Err(LogError::ReadOnly);
        }
        validate_topic_name(name)?;
        config.validate()?;
        let _guard = self.topics_file.lock().unwrap();
        if self.topic(name).is_some() {
            return Err(LogError::TopicExists(name.to_owned()));
        }
        let mut report = RecoveryReport::default();
        let topic = open_topic(
            &self.log_dir,
            name,
            config,
            &self.settings,
            &self.syncer,
            true,
            false,
            &mut report,
        )?;
        let mut topics = self.topics.write().unwrap();
        topics.insert(name.to_owned(), Arc::clone(&topic));
        if let Err(e) = self.write_topics_file(&topics) {
            topics.remove(name);
            return Err(e);
        }
        info!(
            topic = name,
            partitions = topic.partitions.len(),
            "topic created"
        );
        Ok(topic)
    }

    /// Creates the topic unless it exists; returns it either way.
    pub fn ensure_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>> {
        match self.create_topic(name, config) {
            Err(LogError::TopicExists(_)) => Ok(self.topic(name).expect("topic exists")),
            other => other,
        }
    }

    /// Creates `otlp_logs`, `otlp_metrics` and `otlp_spans` if absent.
    pub fn ensure_telemetry_topics(&self, config: &TopicConfig) -> Result<()> {
        for name in [OTLP_LOGS, OTLP_METRICS, OTLP_SPANS] {
            self.ensure_topic(name, config.clone())?;
        }
        Ok(())
    }

    /// Deletes a topic and its data.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(LogError::ReadOnly);
        }
        if name == OFFSETS_TOPIC {
            return Err(LogError::InvalidTopicName {
                name: name.into(),
                reason: "internal topics cannot be deleted",
            });
        }
        let _guard = self.topics_file.lock().unwrap();
        let topic = {
            let mut topics = self.topics.write().unwrap();
            let topic = topics
                .remove(name)
                .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))?;
            self.write_topics_file(&topics)?;
            topic
        };
        for partition in &topic.partitions {
            partition.close()?;
            std::fs::remove_dir_all(partition.dir())
                .context(|| format!("remove {}", partition.dir().display()))?;
        }
        sync_dir(&self.log_dir)?;
        info!(topic = name, "topic deleted");
        Ok(())
    }

    fn write_topics_file(&self, topics: &BTreeMap<String, Arc<Topic>>) -> Result<()> {
        let file = TopicsFile {
            version: 1,
            topics: topics
                .iter()
                .map(|(n, t)| (n.clone(), t.config()))
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file).expect("topic config serialises");
        write_atomic(&self.log_dir.join(TOPICS_FILE), &json)
    }

    /// Runs retention and compaction on every partition once (the cleaner
    /// thread calls this every `cleanup_interval`).
    pub fn run_cleanup(&self) -> Result<()> {
        let now = now_millis();
        let topics: Vec<Arc<Topic>> = self.topics.read().unwrap().values().cloned().collect();
        for topic in topics {
            for partition in &topic.partitions {
                partition.apply_retention(now)?;
                partition.compact(now, false)?;
            }
        }
        Ok(())
    }

    fn start_cleaner(self: &Arc<Self>) {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let weak = Arc::downgrade(self);
        let interval = self.settings.cleanup_interval;
        let handle = std::thread::Builder::new()
            .name("log-cleaner".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(interval) {
                    let Some(log) = weak.upgrade() else { return };
                    if let Err(e) = log.run_cleanup() {
                        error!(error = %e.chain(), "log cleanup failed");
                    }
                }
            })
            .expect("spawn log cleaner thread");
        *self.cleaner.lock().unwrap() = Some((stop_tx, handle));
    }

    /// Closes the log: refuses new appends, syncs and indexes every active
    /// segment, and writes the clean-shutdown marker if every partition is
    /// healthy. Idempotent.
    pub fn close(&self) -> Result<()> {
        let Some(lock) = self.lock.lock().unwrap().take() else {
            return Ok(());
        };
        if let Some((stop, handle)) = self.cleaner.lock().unwrap().take() {
            drop(stop);
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        let mut healthy = true;
        let topics: Vec<Arc<Topic>> = self.topics.read().unwrap().values().cloned().collect();
        for topic in &topics {
            for partition in &topic.partitions {
                healthy &= partition.close()?;
            }
        }
        self.syncer.stop();
        if self.mode == OpenMode::ReadWrite && healthy {
            let marker = self.log_dir.join(CLEAN_SHUTDOWN_MARKER);
            File::create(&marker).context(|| format!("create {}", marker.display()))?;
            sync_dir(&self.log_dir)?;
            info!(dir = %self.dir.display(), "log closed cleanly");
        }
        drop(lock);
        Ok(())
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            error!(error = %e.chain(), "closing the log failed");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn open_topic(
    log_dir: &Path,
    name: &str,
    config: TopicConfig,
    settings: &Arc<LogConfig>,
    syncer: &Arc<Syncer>,
    clean: bool,
    read_only: bool,
    report: &mut RecoveryReport,
) -> Result<Arc<Topic>> {
    let meta = Arc::new(TopicMeta {
        name: name.to_owned(),
        config: RwLock::new(config.clone()),
    });
    let mut partitions = Vec::with_capacity(config.partitions as usize);
    for id in 0..config.partitions {
        let (partition, recovery): (_, PartitionRecovery) = Partition::open(
            log_dir,
            Arc::clone(&meta),
            id,
            Arc::clone(settings),
            Arc::clone(syncer),
            clean,
            read_only,
        )?;
        report.partitions += 1;
        report.scanned_batches += recovery.scanned_batches;
        report.truncations.extend(recovery.truncations);
        partitions.push(partition);
    }
    if !read_only {
        sync_dir(log_dir)?;
    }
    Ok(Arc::new(Topic { meta, partitions }))
}

fn read_topics_file(log_dir: &Path) -> Result<TopicsFile> {
    let path = log_dir.join(TOPICS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            LogError::corruption(
                &path,
                e.column() as u64,
                format!("unreadable topic metadata: {e}"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TopicsFile {
            version: 1,
            topics: BTreeMap::new(),
        }),
        Err(e) => Err(LogError::io(format!("read {}", path.display()), e)),
    }
}

fn orphan_dirs(log_dir: &Path, topics: &BTreeMap<String, Arc<Topic>>) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return Ok(Vec::new());
    };
    let known: std::collections::HashSet<String> = topics
        .values()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| partition::dir_name(t.name(), p.id()))
        })
        .collect();
    let mut orphans = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("list {}", log_dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !known.contains(&name) {
            orphans.push(entry.path());
        }
    }
    Ok(orphans)
}

/// Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(LogError::InvalidTopicName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_TOPIC_NAME {
        return bad("longer than 249 characters");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Takes the data dir's lock, writing our pid into the lock file. Read-only
/// opens take it too, so that inspection never races a running server.
pub(crate) fn acquire_lock(data_dir: &Path, read_only: bool) -> Result<File> {
    let path = data_dir.join(LOCK_FILE);
    if read_only && !data_dir.exists() {
        return Err(LogError::NoDataDir(data_dir.to_path_buf()));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .context(|| format!("open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            return Err(LogError::Locked {
                dir: data_dir.to_path_buf(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(LogError::io(format!("lock {}", path.display()), e));
        }
    }
    file.set_len(0)
        .context(|| format!("truncate {}", path.display()))?;
    file.rewind()
        .context(|| format!("rewind {}", path.display()))?;
    write!(file, "{}", std::process::id()).context(|| format!("write {}", path.display()))?;
    Ok(file)
}
