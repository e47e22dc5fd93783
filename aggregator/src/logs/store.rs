//! The log index: every split on disk, the indexers' checkpoints, and
//! retention. Searches (`search.rs`, `select.rs`) and indexers
//! (`indexer.rs`) share one [`LogStore`].
//!
//! # On disk
//! ```text
//! <data_dir>/index/logs/p<partition>/checkpoint.json   {"next_offset": N}, replaced atomically
//! <data_dir>/index/logs/p<partition>/<bucket>/         one split (see split.rs)
//! ```
//! `checkpoint.json` is where the partition's indexer resumes: it is
//! written after every split touched since the last checkpoint has
//! committed, so no split's payload is below it (a crash between the
//! commits and the checkpoint only means a replay that the splits' own
//! payloads make idempotent).
//!
//! # Searchable offsets
//! A commit round commits its splits one after another, and an evicted
//! split is committed before the round, so a split's payload says nothing
//! about the partition's other splits. What a live tail may read up to is
//! the partition's *searchable offset*: the next offset of its indexer's
//! last complete round, below which every document is committed and
//! visible. It is kept in memory, starting at open from the splits'
//! payloads (everything on disk then is committed).
//!
//! # Retention
//! A split is deleted whole once its bucket ended more than `retention`
//! ago, unless an indexer holds a writer on it. The indexer drops documents
//! that are already older than the retention (counted, never indexed), so
//! a deleted split is not re-created by a late record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use log_core::fsutil;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::error::{AggregatorError, Result};
use crate::logs::split::{Split, SplitId};

/// Settings of the log index.
#[derive(Debug, Clone, PartialEq)]
pub struct LogIndexConfig {
    /// Longest time between a record's append and its document becoming
    /// searchable while records arrive.
    pub commit_interval: Duration,
    /// Documents after which an indexer commits without waiting for the
    /// interval.
    pub commit_docs: usize,
    /// The time span of one split.
    pub split_duration: Duration,
    /// Splits whose bucket ended longer ago are deleted; `None` keeps all.
    pub retention: Option<Duration>,
    /// The indexing memory of one split writer; tantivy flushes a segment
    /// when it is full.
    pub writer_memory_bytes: usize,
    /// Writers an indexer keeps open at once (records with old timestamps
    /// open the split of their bucket; the least recently used is
    /// committed and closed to make room).
    pub max_open_splits: usize,
}

impl Default for LogIndexConfig {
    fn default() -> LogIndexConfig {
        LogIndexConfig {
            // Searchable within a second of the acknowledgement.
            commit_interval: Duration::from_secs(1),
            commit_docs: 200_000,
            // An hour keeps a split's time range narrow enough to prune
            // and its segment count low enough to merge.
            split_duration: Duration::from_secs(3600),
            // The telemetry topics keep 3 days; the index keeps a week.
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            // tantivy's minimum is 15 MB per thread; 32 MB holds about a
            // second of a busy partition's documents.
            writer_memory_bytes: 32 << 20,
            max_open_splits: 4,
        }
    }
}

impl LogIndexConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> std::result::Result<(), InvalidSetting> {
        let invalid = |key, reason: String| Err(InvalidSetting { key, reason });
        if self.commit_interval.is_zero() {
            return invalid("commit_interval", "must be more than 0".into());
        }
        if self.commit_docs == 0 {
            return invalid("commit_docs", "must be at least 1".into());
        }
        let secs = self.split_duration.as_secs();
        if secs < 60 || self.split_duration.subsec_nanos() != 0 || 86_400 % secs != 0 {
            return invalid(
                "split_duration",
                format!(
                    "{:?} must be whole seconds, at least a minute, and divide a day",
                    self.split_duration
                ),
            );
        }
        if self.writer_memory_bytes < 15_000_000 {
            return invalid(
                "writer_memory_bytes",
                format!(
                    "{} is below tantivy's minimum of 15000000",
                    self.writer_memory_bytes
                ),
            );
        }
        if self.max_open_splits == 0 {
            return invalid("max_open_splits", "must be at least 1".into());
        }
        Ok(())
    }

    pub fn bucket_secs(&self) -> i64 {
        self.split_duration.as_secs().max(1) as i64
    }
}

/// A [`LogIndexConfig`] value out of range: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    next_offset: u64,
}

/// Every split of the log index.
pub struct LogStore {
    root: PathBuf,
    config: LogIndexConfig,
    splits: RwLock<BTreeMap<SplitId, Arc<Split>>>,
    /// Per partition, the searchable offset (see the module doc).
    searchable: RwLock<BTreeMap<u32, u64>>,
    /// Bumped after every commit, so live tails wake up.
    commits: watch::Sender<u64>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Opens (creating) the index at `root` and every split in it.
    pub fn open(root: &Path, config: LogIndexConfig) -> Result<Arc<LogStore>> {
        std::fs::create_dir_all(root)
            .map_err(|e| AggregatorError::io(format!("create {}", root.display()), e))?;
        let mut splits = BTreeMap::new();
        let bucket_secs = config.bucket_secs();
        for partition_dir in read_dir(root)? {
            let Some(partition) = dir_number(&partition_dir, "p") else {
                continue;
            };
            for split_dir in read_dir(&partition_dir)? {
                let Some(bucket_start_secs) = dir_number::<i64>(&split_dir, "") else {
                    continue;
                };
                let id = SplitId {
                    partition,
                    bucket_start_secs,
                };
                if let Some(split) = Split::open(root, id, bucket_secs, false)? {
                    splits.insert(id, Arc::new(split));
                }
            }
        }
        info!(root = %root.display(), splits = splits.len(), "log index opened");
        let mut searchable = BTreeMap::<u32, u64>::new();
        for split in splits.values() {
            let next = searchable.entry(split.id.partition).or_default();
            *next = (*next).max(split.committed_offset());
        }
        Ok(Arc::new(LogStore {
            root: root.to_owned(),
            config,
            splits: RwLock::new(splits),
            searchable: RwLock::new(searchable),
            commits: watch::channel(0).0,
        }))
    }

    pub fn config(&self) -> &LogIndexConfig {
        &self.config
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The split for `id`, created if missing, marked as being written
    /// before any lock is let go, so retention never deletes it between
    /// here and the writer's first commit.
    pub fn split_for_write(&self, id: SplitId) -> Result<Arc<Split>> {
        if let Some(split) = self.splits.read().expect("splits lock").get(&id) {
            split.set_writing(true);
            return Ok(Arc::clone(split));
        }
        let mut splits = self.splits.write().expect("splits lock");
        if let Some(split) = splits.get(&id) {
            split.set_writing(true);
            return Ok(Arc::clone(split));
        }
        let split = Split::open(&self.root, id, self.config.bucket_secs(), true)?
            .expect("a created split exists");
        split.set_writing(true);
        let split = Arc::new(split);
        splits.insert(id, Arc::clone(&split));
        Ok(split)
    }

    /// Splits whose bucket overlaps `[start, end)`, oldest bucket first.
    pub fn splits_overlapping(&self, start_nanos: i64, end_nanos: i64) -> Vec<Arc<Split>> {
        let mut found: Vec<Arc<Split>> = self
            .splits
            .read()
            .expect("splits lock")
            .values()
            .filter(|s| s.overlaps(start_nanos, end_nanos))
            .cloned()
            .collect();
        found.sort_by_key(|s| (s.id.bucket_start_secs, s.id.partition));
        found
    }

    /// Every split.
    pub fn all_splits(&self) -> Vec<Arc<Split>> {
        self.splits_overlapping(i64::MIN, i64::MAX)
    }

    /// Where `partition`'s indexer resumes.
    pub fn checkpoint(&self, partition: u32) -> Result<u64> {
        let path = self.checkpoint_path(partition);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Checkpoint>(&bytes)
                .map(|c| c.next_offset)
                .map_err(|e| AggregatorError::Corruption {
                    what: path.display().to_string(),
                    detail: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(AggregatorError::io(format!("read {}", path.display()), e)),
        }
    }

    /// Records where `partition`'s indexer resumes; durable on return.
    pub fn write_checkpoint(&self, partition: u32, next_offset: u64) -> Result<()> {
        let path = self.checkpoint_path(partition);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AggregatorError::io(format!("create {}", dir.display()), e))?;
        }
        let bytes = serde_json::to_vec(&Checkpoint { next_offset }).expect("serialises");
        fsutil::write_atomic(&path, &bytes)?;
        Ok(())
    }

    fn checkpoint_path(&self, partition: u32) -> PathBuf {
        self.root
            .join(format!("p{partition}"))
            .join("checkpoint.json")
    }

    /// Records that `partition`'s indexer completed a commit round at
    /// `next_offset`, and tells live tails that new documents are
    /// searchable. The searchable offset never moves back (a replay from
    /// an older checkpoint only re-adds what is below it).
    pub fn round_committed(&self, partition: u32, next_offset: u64) {
        let advanced = {
            let mut searchable = self.searchable.write().expect("searchable lock");
            let offset = searchable.entry(partition).or_default();
            let advanced = next_offset > *offset;
            *offset = (*offset).max(next_offset);
            advanced
        };
        if advanced {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Every partition's searchable offset: documents below it are all
    /// committed and visible to searchers taken after this call.
    pub fn searchable_offsets(&self) -> BTreeMap<u32, u64> {
        self.searchable.read().expect("searchable lock").clone()
    }

    /// A receiver that changes after every commit.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// The oldest timestamp a document may have and still be kept.
    pub fn retention_cutoff_nanos(&self, now_nanos: i64) -> Option<i64> {
        let retention = self.config.retention?;
        Some(now_nanos.saturating_sub(retention.as_nanos().min(i64::MAX as u128) as i64))
    }

    /// Deletes the splits that ended before the retention cutoff; returns
    /// how many.
    pub fn apply_retention(&self, now_nanos: i64) -> Result<usize> {
        let Some(cutoff) = self.retention_cutoff_nanos(now_nanos) else {
            return Ok(0);
        };
        let expired: Vec<Arc<Split>> = {
            let mut splits = self.splits.write().expect("splits lock");
            let ids: Vec<SplitId> = splits
                .values()
                .filter(|s| s.end_nanos <= cutoff && !s.is_writing())
                .map(|s| s.id)
                .collect();
            ids.iter().filter_map(|id| splits.remove(id)).collect()
        };
        for split in &expired {
            // Searches holding the split keep their mmaps; the files go
            // once the last one is dropped.
            if let Err(e) = std::fs::remove_dir_all(split.dir()) {
                warn!(dir = %split.dir().display(), error = %e, "cannot delete an expired split");
            } else {
                info!(dir = %split.dir().display(), "expired split deleted");
            }
        }
        Ok(expired.len())
    }

    /// Deletes every split and checkpoint (for a reindex).
    pub fn clear(&self) -> Result<()> {
        let mut splits = self.splits.write().expect("splits lock");
        if splits.values().any(|s| s.is_writing()) {
            return Err(AggregatorError::BadRequest(
                "the log index is being written; stop its indexers first".into(),
            ));
        }
        splits.clear();
        self.searchable.write().expect("searchable lock").clear();
        for dir in read_dir(&self.root)? {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| AggregatorError::io(format!("remove {}", dir.display()), e))?;
        }
        fsutil::sync_dir(&self.root)?;
        Ok(())
    }

    /// Documents and bytes on disk, for status pages.
    pub fn size(&self) -> (u64, u64) {
        let splits = self.all_splits();
        let docs = splits.iter().map(|s| s.searcher().num_docs()).sum();
        let bytes = splits.iter().map(|s| dir_bytes(s.dir())).sum();
        (docs, bytes)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| AggregatorError::io(format!("read {}", dir.display()), e))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AggregatorError::io(format!("read {}", dir.display()), e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn dir_number<T: std::str::FromStr>(dir: &Path, prefix: &str) -> Option<T> {
    dir.file_name()?
        .to_str()?
        .strip_prefix(prefix)?
        .parse()
        .ok()
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
