//! The pipeline status the web UI's Pipeline page shows
//! (`/api/v1/status/pipeline`): topics and partitions, every worker's
//! position and lag, disk use by component, and the log index's and the
//! window store's sizes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aggregator::consumer::Progress;
use aggregator::logs::store::LogStore;
use aggregator::metrics::store::WindowStore;
use dashboards::ui::PipelineSource;
use log_core::Log;
use serde_json::{Value, json};

/// Directory entries visited when sizing a directory, so a data dir with
/// millions of files cannot make the status page slow without bound.
const MAX_ENTRIES: usize = 200_000;

pub struct PipelineStatus {
    pub data_dir: PathBuf,
    pub log: Arc<Log>,
    pub index: Arc<LogStore>,
    pub windows: Arc<WindowStore>,
    /// (group, topic, partition, progress) of every worker.
    pub workers: Vec<(&'static str, String, u32, Arc<Progress>)>,
}

impl PipelineSource for PipelineStatus {
    fn pipeline(&self) -> Value {
        let topics: Vec<Value> = self
            .log
            .topic_names()
            .iter()
            .filter_map(|name| self.log.describe(name).ok())
            .map(|info| {
                json!({
                    "name": info.name,
                    "partitions": info.partitions.iter().map(|p| json!({
                        "partition": p.partition,
                        "log_start": p.log_start,
                        "high_watermark": p.high_watermark,
                        "size_bytes": p.size_bytes,
                        "segments": p.segments,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|(group, topic, partition, progress)| {
                json!({
                    "group": group,
                    "topic": topic,
                    "partition": partition,
                    "next_offset": progress.next_offset.load(Ordering::Relaxed),
                    "high_watermark": progress.high_watermark.load(Ordering::Relaxed),
                    "lag": progress.lag(),
                    "skipped_batches": progress.skipped_batches.load(Ordering::Relaxed),
                })
            })
            .collect();
        let (documents, index_bytes) = self.index.size();
        let stats = self.windows.stats();
        let log_bytes = dir_bytes(&self.data_dir.join("log"));
        let index_dir_bytes = dir_bytes(&self.data_dir.join("index"));
        let metrics_bytes = dir_bytes(&self.data_dir.join("metrics"));
        json!({
            "data_dir": self.data_dir.display().to_string(),
            "disk": {
                "log_bytes": log_bytes,
                "index_bytes": index_dir_bytes,
                "metrics_bytes": metrics_bytes,
                "total_bytes": dir_bytes(&self.data_dir),
            },
            "topics": topics,
            "workers": workers,
            "index": {"documents": documents, "bytes": index_bytes},
            "windows": {
                "head_windows": stats.head_windows,
                "blocks": stats.blocks,
                "cache_bytes": stats.cache_bytes,
            },
        })
    }
}

/// Bytes under `dir`, visiting at most [`MAX_ENTRIES`] entries.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut seen = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return total;
            }
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}
