//! The window store: closed metric windows on disk, per tier, with a
//! label index, read by the PromQL engine as a
//! [`SeriesSource`](crate::metrics::source::SeriesSource).
//!
//! # Design
//! Each tier (10 s, 1 m, 1 h by default) keeps its own files and its own
//! retention; the workers build the coarser tiers' windows themselves
//! (rollups), so a tier's files only ever hold windows of its length.
//! Per tier and partition there are three places a window can be:
//!
//! 1. the **head** ([`head`]): in memory from the moment the worker
//!    publishes it, so queries see a window as soon as it closes;
//! 2. a **chunk**: at every worker checkpoint, what the partition
//!    published since the last one is written as one window file, named
//!    by the checkpoint's [`Mark`]. Chunks are the head's write-ahead log;
//! 3. a **block**: once every window of a span of [`BLOCK_WINDOWS`]
//!    windows has closed and been persisted, the span's windows are
//!    written as one block, and chunks whose windows all lie in blocks are
//!    deleted. Retention deletes whole blocks.
//!
//! Chunks and blocks share one format ([`format`]): columnar, each column
//! a zstd frame, with the file's label index (label pair → series) and a
//! CRC-32C.
//!
//! # Exactly once
//! A worker persists ([`WindowOutput::persist`]) and then writes its
//! checkpoint with the same mark. On start it calls
//! [`WindowOutput::recover_partition`] with its checkpoint's mark: chunks
//! and blocks stored after that mark are deleted (their windows will be
//! published again by the replay) and the head is reloaded from the
//! chunks that remain. Blocks are cut only from chunks that an earlier
//! persist call preceded, hence from windows a checkpoint already covers,
//! so a block is never ahead of the checkpoint a crash leaves. A deleted
//! checkpoint (mark zero) deletes every file of the partition, and the
//! windows are rebuilt from what the log still holds. A checkpoint file
//! put back from an older copy is not supported: blocks cut since then
//! hold windows it does not cover.
//!
//! # Crashes
//! Every file is written to a temporary name, fsync'd and renamed; a
//! block is durable before the chunks it replaces are deleted, and
//! windows a block holds are skipped when chunks are loaded. A file that
//! does not decode is moved aside as `.corrupt` and counted in
//! `weir_metric_store_corrupt_files_total`; queries go on without it.
//!
//! # Layout
//! - [`files`]: names, scanning and atomic writes.
//! - [`format`]: the window file.
//! - [`head`]: windows not yet in blocks.
//! - [`packed`]: a decoded file's windows, a column per field.
//! - [`cache`]: decoded blocks kept for queries.
//! - [`select`]: the [`SeriesSource`](crate::metrics::source::SeriesSource)
//!   implementation: which tier a query reads, and merging head and
//!   blocks.

mod cache;
mod files;
mod format;
mod head;
mod packed;
mod select;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{error, info};

use self::cache::BlockCache;
use self::files::FileName;
use self::head::PartitionHead;
use self::packed::PackedRun;
use crate::error::{AggregatorError, Result};
use crate::metrics::source::{MetricMetadata, WindowValue};
use crate::metrics::window::{ClosedWindow, SeriesKey};
use crate::metrics::worker::{Mark, WindowOutput};
use crate::telemetry;

/// Windows per block. A block of 10 s windows spans 15 minutes, of 1 m
/// windows 90 minutes, of 1 h windows 90 hours: the head then holds at
/// most about 90 windows per series and tier, and a day of the finest
/// tier is under a hundred files per partition.
pub const BLOCK_WINDOWS: i64 = 90;

/// One tier as the store keeps it.
#[derive(Debug, Clone)]
pub struct TierConfig {
    pub window_ms: i64,
    pub retention: Duration,
}

/// How the store keeps windows.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Finest first, as the workers' tiers.
    pub tiers: Vec<TierConfig>,
    /// Decoded blocks kept in memory for queries.
    pub cache_bytes: usize,
}

/// One series' windows of one tier, ascending by end.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub key: Arc<SeriesKey>,
    pub windows: Vec<(i64, WindowValue)>,
}

#[derive(Debug)]
struct BlockFile {
    mark: Mark,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct TierState {
    heads: BTreeMap<u32, PartitionHead>,
    /// By (span end, partition).
    blocks: BTreeMap<(i64, u32), BlockFile>,
}

#[derive(Debug, Default)]
struct State {
    tiers: Vec<TierState>,
    /// Per tenant, per metric name.
    metadata: BTreeMap<String, BTreeMap<String, MetricMetadata>>,
    metadata_dirty: bool,
}

/// What the store holds, for `/metrics` and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Windows in the heads, per tier.
    pub head_windows: Vec<usize>,
    /// Block files, per tier.
    pub blocks: Vec<usize>,
    /// Bytes of decoded blocks cached.
    pub cache_bytes: usize,
}

/// Closed metric windows of every tier, on disk and in memory.
pub struct WindowStore {
    root: PathBuf,
    config: StoreConfig,
    state: RwLock<State>,
    cache: Mutex<BlockCache>,
    /// Milliseconds since the epoch; replaceable in tests.
    clock: fn() -> i64,
}

fn wall_ms() -> i64 {
    crate::clock::now_nanos() / 1_000_000
}

impl WindowStore {
    /// Opens (or creates) the store under `root`: registers its blocks and
    /// chunks. Heads are loaded when each partition's worker recovers.
    pub fn open(root: &Path, config: StoreConfig) -> Result<Arc<WindowStore>> {
        std::fs::create_dir_all(root)
            .map_err(|e| AggregatorError::io(format!("create {}", root.display()), e))?;
        let mut state = State {
            tiers: config.tiers.iter().map(|_| TierState::default()).collect(),
            ..State::default()
        };
        for (tier, tier_config) in config.tiers.iter().enumerate() {
            for (partition, names) in files::scan_tier(root, tier_config.window_ms)? {
                let dir = files::partition_dir(root, tier_config.window_ms, partition);
                let tier_state = &mut state.tiers[tier];
                let head = tier_state.heads.entry(partition).or_default();
                for name in names {
                    match name {
                        FileName::Block { end_ms, mark } => {
                            head.blocks_through_ms = head.blocks_through_ms.max(end_ms);
                            tier_state.blocks.insert(
                                (end_ms, partition),
                                BlockFile {
                                    mark,
                                    path: dir.join(name.render()),
                                },
                            );
                        }
                        FileName::Chunk { .. } => head.chunks.push(name),
                    }
                }
            }
        }
        state.metadata = read_metadata(&root.join("metadata"))?;
        let store = WindowStore {
            root: root.to_owned(),
            cache: Mutex::new(BlockCache::new(config.cache_bytes)),
            config,
            state: RwLock::new(state),
            clock: wall_ms,
        };
        let stats = store.stats();
        info!(root = %root.display(), blocks = ?stats.blocks, "metric window store opened");
        Ok(Arc::new(store))
    }

    /// Replaces the wall clock (retention and tier choice read it).
    pub fn set_clock(self: &mut Arc<Self>, clock: fn() -> i64) {
        if let Some(store) = Arc::get_mut(self) {
            store.clock = clock;
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // State is only changed in whole steps under the lock.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn cache(&self) -> MutexGuard<'_, BlockCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn span_ms(&self, tier: usize) -> i64 {
        self.config.tiers[tier].window_ms * BLOCK_WINDOWS
    }

    fn dir(&self, tier: usize, partition: u32) -> PathBuf {
        files::partition_dir(&self.root, self.config.tiers[tier].window_ms, partition)
    }

    /// What the store holds now.
    pub fn stats(&self) -> StoreStats {
        let state = self.read();
        StoreStats {
            head_windows: state
                .tiers
                .iter()
                .map(|t| t.heads.values().map(PartitionHead::windows).sum())
                .collect(),
            blocks: state.tiers.iter().map(|t| t.blocks.len()).collect(),
            cache_bytes: self.cache().used_bytes(),
        }
    }

    /// Deletes blocks and drops head windows past each tier's retention.
    /// Returns the number of block files deleted.
    pub fn apply_retention(&self) -> Result<usize> {
        let now = (self.clock)();
        let mut doomed = Vec::new();
        {
            let mut state = self.write();
            for (tier, config) in self.config.tiers.iter().enumerate() {
                let horizon = now - config.retention.as_millis() as i64;
                let tier_state = &mut state.tiers[tier];
                let expired: Vec<(i64, u32)> = tier_state
                    .blocks
                    .range(..(horizon + 1, 0))
                    .map(|(k, _)| *k)
                    .collect();
                for key in expired {
                    if let Some(block) = tier_state.blocks.remove(&key) {
                        doomed.push(block.path);
                    }
                }
                for head in tier_state.heads.values_mut() {
                    head.expire(horizon);
                }
            }
        }
        for path in &doomed {
            self.cache().remove(path);
            files::remove(path)?;
        }
        Ok(doomed.len())
    }

    /// Writes the blocks of `partition`'s complete spans in `tier`, then
    /// deletes chunks wholly covered by blocks.
    fn cut_blocks(&self, tier: usize, partition: u32) -> Result<()> {
        let span = self.span_ms(tier);
        let (work, mark) = {
            let state = self.read();
            let Some(head) = state.tiers[tier].heads.get(&partition) else {
                return Ok(());
            };
            let Some(mark) = head.last_mark else {
                return Ok(());
            };
            let work: Vec<(i64, Vec<Run>)> = head
                .complete_spans(span)
                .into_iter()
                .map(|end| (end, head.span_runs(end, span)))
                .collect();
            (work, mark)
        };
        let dir = self.dir(tier, partition);
        for (end_ms, runs) in work {
            let name = FileName::Block { end_ms, mark };
            files::write_atomic(&dir, &name.render(), &format::encode(&runs))?;
            let mut state = self.write();
            let tier_state = &mut state.tiers[tier];
            tier_state.blocks.insert(
                (end_ms, partition),
                BlockFile {
                    mark,
                    path: dir.join(name.render()),
                },
            );
            if let Some(head) = tier_state.heads.get_mut(&partition) {
                head.drop_through(end_ms);
            }
        }
        let covered: Vec<FileName> = {
            let mut state = self.write();
            let Some(head) = state.tiers[tier].heads.get_mut(&partition) else {
                return Ok(());
            };
            let through = head.blocks_through_ms;
            let (covered, kept) = std::mem::take(&mut head.chunks).into_iter().partition(
                |c| matches!(c, FileName::Chunk { max_end_ms, .. } if *max_end_ms <= through),
            );
            head.chunks = kept;
            covered
        };
        for chunk in covered {
            files::remove(&dir.join(chunk.render()))?;
        }
        Ok(())
    }

    fn load_chunks(&self, tier: usize, partition: u32, names: &[FileName]) -> Vec<Vec<Run>> {
        let dir = self.dir(tier, partition);
        let mut out = Vec::new();
        for name in names {
            let path = dir.join(name.render());
            match read_window_file(&path) {
                Ok(decoded) => out.push(decoded.runs.iter().map(PackedRun::unpack).collect()),
                Err(e) => {
                    error!(path = %path.display(), error = %e, "a metric chunk is unreadable; moved aside");
                    files::quarantine(&path);
                    metrics::counter!(telemetry::METRIC_STORE_CORRUPT_FILES_TOTAL).increment(1);
                }
            }
        }
        out
    }

    fn persist_metadata(&self) -> Result<()> {
        let bytes = {
            let mut state = self.write();
            if !state.metadata_dirty {
                return Ok(());
            }
            state.metadata_dirty = false;
            let saved: Vec<SavedMetadata> = state
                .metadata
                .iter()
                .flat_map(|(tenant, metrics)| {
                    metrics.values().map(|m| SavedMetadata {
                        tenant: tenant.clone(),
                        name: m.name.clone(),
                        kind: m.kind.to_owned(),
                        help: m.help.clone(),
                        unit: m.unit.clone(),
                    })
                })
                .collect();
            postcard::to_stdvec(&saved).expect("postcard encodes plain structs")
        };
        files::write_atomic(&self.root, "metadata", &bytes)
    }
}

/// Reads and decodes a window file; the error names the file.
fn read_window_file(path: &Path) -> Result<format::Decoded> {
    let bytes = std::fs::read(path)
        .map_err(|e| AggregatorError::io(format!("read {}", path.display()), e))?;
    format::decode(&bytes).map_err(|detail| AggregatorError::Corruption {
        what: format!("metric window file {}", path.display()),
        detail,
    })
}

#[derive(Serialize, Deserialize)]
struct SavedMetadata {
    tenant: String,
    name: String,
    kind: String,
    help: String,
    unit: String,
}

fn metric_type(kind: &str) -> &'static str {
    match kind {
        "counter" => "counter",
        "gauge" => "gauge",
        "histogram" => "histogram",
        "summary" => "summary",
        _ => "unknown",
    }
}

fn read_metadata(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, MetricMetadata>>> {
    let mut out: BTreeMap<String, BTreeMap<String, MetricMetadata>> = BTreeMap::new();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(AggregatorError::io(format!("read {}", path.display()), e)),
    };
    match postcard::from_bytes::<Vec<SavedMetadata>>(&bytes) {
        Ok(saved) => {
            for m in saved {
                out.entry(m.tenant).or_default().insert(
                    m.name.clone(),
                    MetricMetadata {
                        name: m.name,
                        kind: metric_type(&m.kind),
                        help: m.help,
                        unit: m.unit,
                    },
                );
            }
        }
        // Metadata is rebuilt as metrics arrive: report and start afresh.
        Err(e) => {
            error!(path = %path.display(), error = %e, "metric metadata is unreadable; moved aside");
            files::quarantine(path);
            metrics::counter!(telemetry::METRIC_STORE_CORRUPT_FILES_TOTAL).increment(1);
        }
    }
    Ok(out)
}

impl WindowOutput for WindowStore {
    fn recover_partition(&self, partition: u32, mark: Mark) -> Result<()> {
        for tier in 0..self.config.tiers.len() {
            let dir = self.dir(tier, partition);
            let (doomed, kept) = {
                let mut state = self.write();
                let tier_state = &mut state.tiers[tier];
                let mut doomed: Vec<PathBuf> = Vec::new();
                let ahead: Vec<(i64, u32)> = tier_state
                    .blocks
                    .iter()
                    .filter(|((_, p), b)| *p == partition && b.mark > mark)
                    .map(|(k, _)| *k)
                    .collect();
                for key in ahead {
                    if let Some(block) = tier_state.blocks.remove(&key) {
                        doomed.push(block.path);
                    }
                }
                let blocks_through = tier_state
                    .blocks
                    .keys()
                    .filter(|(_, p)| *p == partition)
                    .map(|(end, _)| *end)
                    .max()
                    .unwrap_or(i64::MIN);
                let old = tier_state
                    .heads
                    .insert(partition, PartitionHead::default())
                    .unwrap_or_default();
                let (kept, ahead): (Vec<FileName>, Vec<FileName>) = old
                    .chunks
                    .into_iter()
                    .partition(|c| matches!(c, FileName::Chunk { mark: m, .. } if *m <= mark));
                doomed.extend(ahead.iter().map(|c| dir.join(c.render())));
                let head = tier_state.heads.get_mut(&partition).expect("just inserted");
                head.blocks_through_ms = blocks_through;
                (doomed, kept)
            };
            for path in &doomed {
                self.cache().remove(path);
                files::remove(path)?;
            }
            if !doomed.is_empty() {
                info!(
                    partition,
                    tier,
                    files = doomed.len(),
                    "metric windows ahead of the checkpoint dropped; the log replays them"
                );
            }
            let mut kept = kept;
            kept.sort_by_key(|c| match c {
                FileName::Chunk { mark, .. } | FileName::Block { mark, .. } => *mark,
            });
            let loaded = self.load_chunks(tier, partition, &kept);
            let mut state = self.write();
            let head = state.tiers[tier]
                .heads
                .get_mut(&partition)
                .expect("inserted above");
            head.load(loaded.into_iter().flatten());
            head.last_mark = kept.iter().rev().find_map(|c| match c {
                FileName::Chunk { mark, .. } => Some(*mark),
                FileName::Block { .. } => None,
            });
            head.chunks = kept;
        }
        Ok(())
    }

    fn publish(&self, partition: u32, tier: usize, windows: Vec<ClosedWindow>) {
        if tier >= self.config.tiers.len() {
            return;
        }
        let mut state = self.write();
        let head = state.tiers[tier].heads.entry(partition).or_default();
        for window in windows {
            head::windows_of(&mut head.pending, window.series).push((window.end_ms, window.value));
        }
    }

    fn persist(&self, partition: u32, mark: Mark) -> Result<()> {
        for tier in 0..self.config.tiers.len() {
            // Blocks first, from what earlier persists stored: a
            // checkpoint covers it by now.
            self.cut_blocks(tier, partition)?;
            let (runs, max_end) = {
                let state = self.read();
                let Some(head) = state.tiers[tier].heads.get(&partition) else {
                    continue;
                };
                let runs = head.pending_runs();
                let max_end = runs
                    .iter()
                    .filter_map(|r| r.windows.last().map(|(end, _)| *end))
                    .max();
                (runs, max_end)
            };
            let Some(max_end_ms) = max_end else {
                continue;
            };
            let name = FileName::Chunk { mark, max_end_ms };
            files::write_atomic(
                &self.dir(tier, partition),
                &name.render(),
                &format::encode(&runs),
            )?;
            let mut state = self.write();
            let head = state.tiers[tier]
                .heads
                .get_mut(&partition)
                .expect("present above");
            head.commit_pending();
            head.chunks.push(name);
            head.last_mark = Some(mark);
        }
        self.persist_metadata()
    }

    fn publish_metadata(&self, tenant: &str, metadata: Vec<MetricMetadata>) {
        let mut state = self.write();
        let known = state.metadata.entry(tenant.to_owned()).or_default();
        let mut changed = false;
        for m in metadata {
            if known.get(&m.name) != Some(&m) {
                known.insert(m.name.clone(), m);
                changed = true;
            }
        }
        state.metadata_dirty |= changed;
    }
}
