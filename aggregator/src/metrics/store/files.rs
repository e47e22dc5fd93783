//! Where the window store's files live, what their names say, and how
//! they are written so that a crash leaves either the old state or the new.
//!
//! ```text
//! <root>/metadata                     metric metadata (postcard)
//! <root>/w<window_ms>/p<P>/c-<offset>-<closed>-<max_end>.wf    a chunk
//! <root>/w<window_ms>/p<P>/b-<end>-<offset>-<closed>.wf        a block
//! ```
//! A chunk's name carries the [`Mark`] it was persisted at and the end of
//! its newest window; a block's, the end of its span and the mark of the
//! newest chunk it was built from. Recovery decides from names alone which
//! files to drop. Files are written as `<name>.tmp`, fsync'd, renamed, and
//! the directory fsync'd; a `.tmp` left by a crash is deleted at open. A
//! file that does not decode is renamed to `<name>.corrupt` and reported.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{AggregatorError, Result};
use crate::metrics::worker::Mark;

/// A window file on disk and what its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileName {
    Chunk { mark: Mark, max_end_ms: i64 },
    Block { end_ms: i64, mark: Mark },
}

impl FileName {
    pub fn render(&self) -> String {
        match self {
            FileName::Chunk { mark, max_end_ms } => format!(
                "c-{:020}-{}-{}.wf",
                mark.next_offset, mark.closed_through_ms, max_end_ms
            ),
            FileName::Block { end_ms, mark } => format!(
                "b-{}-{:020}-{}.wf",
                end_ms, mark.next_offset, mark.closed_through_ms
            ),
        }
    }

    /// Reads a name written by [`render`](FileName::render).
    pub fn parse(name: &str) -> Option<FileName> {
        let stem = name.strip_suffix(".wf")?;
        let (kind, rest) = stem.split_once('-')?;
        // Numbers may be negative: split from the known field count.
        let fields = split_numbers(rest)?;
        match (kind, fields.as_slice()) {
            ("c", [offset, closed, max_end]) => Some(FileName::Chunk {
                mark: Mark {
                    next_offset: u64::try_from(*offset).ok()?,
                    closed_through_ms: *closed,
                },
                max_end_ms: *max_end,
            }),
            ("b", [end, offset, closed]) => Some(FileName::Block {
                end_ms: *end,
                mark: Mark {
                    next_offset: u64::try_from(*offset).ok()?,
                    closed_through_ms: *closed,
                },
            }),
            _ => None,
        }
    }
}

/// `1-2--3` → `[1, 2, -3]`: fields separated by `-`, each optionally
/// negative.
fn split_numbers(s: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (negative, body) = match rest.strip_prefix('-') {
            Some(body) => (true, body),
            None => (false, rest),
        };
        let len = body.find('-').unwrap_or(body.len());
        let digits = &body[..len];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i64 = if negative {
            format!("-{digits}").parse().ok()?
        } else {
            digits.parse().ok()?
        };
        out.push(v);
        rest = body[len..].strip_prefix('-').unwrap_or("");
        if len < body.len() && rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The directory of one tier's files of one partition.
pub(crate) fn partition_dir(root: &Path, window_ms: i64, partition: u32) -> PathBuf {
    root.join(format!("w{window_ms}"))
        .join(format!("p{partition}"))
}

/// Partitions with a directory under a tier, with their window files;
/// `.tmp` leftovers are deleted.
pub(crate) fn scan_tier(root: &Path, window_ms: i64) -> Result<Vec<(u32, Vec<FileName>)>> {
    let dir = root.join(format!("w{window_ms}"));
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(AggregatorError::io(format!("read {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| AggregatorError::io(format!("read {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(partition) = name
            .to_str()
            .and_then(|n| n.strip_prefix('p'))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        out.push((partition, scan_partition(&entry.path())?));
    }
    out.sort_by_key(|(p, _)| *p);
    Ok(out)
}

fn scan_partition(dir: &Path) -> Result<Vec<FileName>> {
    let mut files = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| AggregatorError::io(format!("read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AggregatorError::io(format!("read {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            remove(&entry.path())?;
        } else if let Some(parsed) = FileName::parse(name) {
            files.push(parsed);
        }
    }
    Ok(files)
}

/// Writes `bytes` to `dir/name` so that a crash leaves no partial file.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| AggregatorError::io(format!("create {}", dir.display()), e))?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |what: &str, e| AggregatorError::io(format!("{what} {}", tmp.display()), e);
    let mut file = fs::File::create(&tmp).map_err(|e| io("create", e))?;
    file.write_all(bytes).map_err(|e| io("write", e))?;
    file.sync_data().map_err(|e| io("sync", e))?;
    drop(file);
    fs::rename(&tmp, &path)
        .map_err(|e| AggregatorError::io(format!("rename {}", path.display()), e))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AggregatorError::io(format!("sync {}", dir.display()), e))
}

pub(crate) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AggregatorError::io(format!("remove {}", path.display()), e)),
    }
}

/// Moves a file that does not decode out of the way, keeping it for a
/// post-mortem.
pub(crate) fn quarantine(path: &Path) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    if let Err(e) = fs::rename(path, &aside) {
        tracing::error!(path = %path.display(), error = %e, "cannot move a corrupt window file aside");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_negative_numbers() {
        let names = [
            FileName::Chunk {
                mark: Mark {
                    next_offset: 42,
                    closed_through_ms: i64::MIN,
                },
                max_end_ms: -10_000,
            },
            FileName::Block {
                end_ms: 1_700_000_900_000,
                mark: Mark {
                    next_offset: 7,
                    closed_through_ms: 1_700_000_890_000,
                },
            },
        ];
        for name in names {
            assert_eq!(FileName::parse(&name.render()), Some(name));
        }
        for bad in [
            "c-1-2.wf",
            "b-1-2-3-4.wf",
            "x-1-2-3.wf",
            "c-1--2-.wf",
            "c-1-2-3",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }
}
