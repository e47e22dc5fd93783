//! `weir log check`: verify every batch and index of a data dir offline,
//! and optionally repair what can be repaired.
//!
//! The check takes the data dir's lock (so it never races a server), reads
//! every segment of every partition with full CRC verification, and compares
//! the index files with the batch boundaries it found. With `repair`, a
//! segment is truncated at its first invalid batch (later segments are kept:
//! their offsets still increase, leaving a gap) and wrong index files are
//! rewritten. Without `repair` nothing on disk changes.

use std::path::{Path, PathBuf};

use crate::config::LogConfig;
use crate::error::{IoContext, Result};
use crate::index::SegmentIndex;
use crate::log::{LOG_DIR, TOPICS_FILE, acquire_lock};
use crate::partition::truncate_file;
use crate::recovery::{ScanOptions, scan_segment};

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub position: u64,
    pub detail: String,
    pub repaired: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} at byte {}",
            self.file.display(),
            self.detail,
            self.position
        )?;
        if self.repaired {
            write!(f, " (repaired)")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    pub partitions: usize,
    pub segments: usize,
    pub batches: u64,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// Checks (and with `repair`, fixes) the log in `data_dir`.
pub fn check(data_dir: &Path, settings: &LogConfig, repair: bool) -> Result<CheckReport> {
    let _lock = acquire_lock(data_dir, !repair)?;
    let log_dir = data_dir.join(LOG_DIR);
    let mut report = CheckReport::default();
    let topics_path = log_dir.join(TOPICS_FILE);
    let topics: serde_json::Value = match std::fs::read(&topics_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                report.problems.push(Problem {
                    file: topics_path.clone(),
                    position: 0,
                    detail: format!("unreadable topic metadata: {e}"),
                    repaired: false,
                });
                serde_json::Value::Null
            }
        },
        Err(_) => serde_json::Value::Null,
    };
    let interval_of = |dir_name: &str| -> u32 {
        let topic = dir_name.rsplit_once('-').map_or(dir_name, |(t, _)| t);
        topics["topics"][topic]["index_interval_bytes"]
            .as_u64()
            .map_or(settings.topic_defaults.index_interval_bytes, |v| v as u32)
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&log_dir)
        .context(|| format!("list {}", log_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        report.partitions += 1;
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let options = ScanOptions {
            verify_crc: true,
            index_interval: interval_of(&name),
            max_batch_bytes: settings.max_batch_bytes,
            keep_boundaries: true,
        };
        check_partition(&dir, &options, repair, &mut report)?;
    }
    Ok(report)
}

fn check_partition(
    dir: &Path,
    options: &ScanOptions,
    repair: bool,
    report: &mut CheckReport,
) -> Result<()> {
    let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .context(|| format!("list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let base = p
                .file_name()?
                .to_str()?
                .strip_suffix(".log")?
                .parse::<u64>()
                .ok()?;
            Some((base, p))
        })
        .collect();
    segments.sort();
    let mut previous_end = 0u64;
    for (i, (base, path)) in segments.iter().enumerate() {
        report.segments += 1;
        if *base < previous_end {
            report.problems.push(Problem {
                file: path.clone(),
                position: 0,
                detail: format!("segment base offset {base} overlaps the previous segment ending at {previous_end}"),
                repaired: false,
            });
        }
        let scan = scan_segment(path, *base, options)?;
        report.batches += scan.batches;
        report.bytes += scan.valid_len;
        previous_end = scan.next_offset;
        let newest = i + 1 == segments.len();
        let mut rewrite_index = false;
        if let Some(damage) = &scan.damage {
            let mut repaired = false;
            if repair {
                truncate_file(path, scan.valid_len)?;
                rewrite_index = !newest;
                repaired = true;
            }
            report.problems.push(Problem {
                file: damage.file.clone(),
                position: damage.position,
                detail: damage.reason.clone(),
                repaired,
            });
        }
        // The newest segment's index files exist only after a clean
        // shutdown; they are rebuilt at open otherwise.
        let (offsets_path, times_path) = (
            path.with_extension("index"),
            path.with_extension("timeindex"),
        );
        let has_index = offsets_path.exists();
        if has_index || !newest {
            match SegmentIndex::read_files(
                &offsets_path,
                &times_path,
                scan.valid_len,
                options.index_interval,
            ) {
                None => {
                    report.problems.push(Problem {
                        file: offsets_path.clone(),
                        position: 0,
                        detail: "index file missing or malformed".into(),
                        repaired: repair,
                    });
                    rewrite_index |= repair;
                }
                Some(index) => {
                    for &(rel, pos) in index.offset_entries() {
                        let expected = base + u64::from(rel);
                        let ok = scan
                            .boundaries
                            .binary_search_by_key(&u64::from(pos), |&(p, _)| p)
                            .is_ok_and(|at| scan.boundaries[at].1 == expected);
                        if !ok {
                            report.problems.push(Problem {
                                file: offsets_path.clone(),
                                position: u64::from(pos),
                                detail: format!(
                                    "index entry for offset {expected} does not point at that batch"
                                ),
                                repaired: repair,
                            });
                            rewrite_index |= repair;
                            break;
                        }
                    }
                }
            }
        }
        if rewrite_index {
            scan.index.write_files(&offsets_path, &times_path)?;
        }
    }
    Ok(())
}
