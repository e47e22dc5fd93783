//! One split: the tantivy index of one partition's records whose
//! timestamps fall in one time bucket.
//!
//! # On disk
//! ```text
//! <index dir>/p<partition>/<bucket start, unix seconds, 12 digits>/   a tantivy index
//!     meta.json          tantivy's commit point; its payload is this split's
//!                        next offset: {"next_offset": N}
//!     *.idx, *.pos, ...  tantivy's segment files
//! ```
//!
//! # Invariant
//! A split holds exactly the documents of the records of its partition and
//! bucket whose offset is below its committed `next_offset` (and at or
//! above where indexing of the partition started). Every commit is made by
//! the partition's indexer with the offset it has applied up to, after
//! adding every document of the records before it, so a replay from any
//! earlier offset skips the records below the payload and adds the rest
//! exactly once. A split directory without `meta.json` was being created
//! when the process died; it holds nothing committed and is removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, ReloadPolicy, Searcher};

use crate::error::{AggregatorError, Result};
use crate::logs::schema::{self, Fields};

/// The zstd level of the stored documents. Level 1 compresses these
/// blocks about as well as zstd's default (3) at much less CPU, and the
/// docstore's compression runs on every indexed record: it was a tenth of
/// the indexing cost at level 3 (`weir bench logs`, BENCHMARKS.md).
const DOCSTORE_ZSTD_LEVEL: i32 = 1;

/// Which partition and bucket a split holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SplitId {
    pub partition: u32,
    /// The bucket's start, in seconds since the epoch.
    pub bucket_start_secs: i64,
}

impl SplitId {
    /// The split of `partition` holding `timestamp_nanos`.
    pub fn of(partition: u32, timestamp_nanos: i64, bucket_secs: i64) -> SplitId {
        let secs = timestamp_nanos.div_euclid(1_000_000_000);
        SplitId {
            partition,
            bucket_start_secs: secs - secs.rem_euclid(bucket_secs),
        }
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(format!("p{}", self.partition))
            .join(format!("{:012}", self.bucket_start_secs))
    }
}

/// The commit payload of a split.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    next_offset: u64,
}

/// An open split: its index and a reader reloaded after each commit.
pub struct Split {
    pub id: SplitId,
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    /// Inclusive start and exclusive end of the bucket, in nanoseconds.
    pub start_nanos: i64,
    pub end_nanos: i64,
    /// The committed next offset (0 before the first commit).
    committed: AtomicU64,
    /// Set while an indexer holds a writer, so retention leaves it alone.
    writing: AtomicBool,
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Split")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Split {
    /// Opens the split at `dir`, creating it when `create` is set. Returns
    /// `None` for a missing (or half-created) split when not creating.
    pub fn open(root: &Path, id: SplitId, bucket_secs: i64, create: bool) -> Result<Option<Split>> {
        let dir = id.dir(root);
        let has_meta = dir.join("meta.json").exists();
        if !has_meta && dir.exists() {
            // Created but never committed: nothing in it counts.
            std::fs::remove_dir_all(&dir)
                .map_err(|e| AggregatorError::io(format!("remove {}", dir.display()), e))?;
        }
        let index = if has_meta {
            Index::open_in_dir(&dir).map_err(|e| corrupt(&dir, e))?
        } else if create {
            std::fs::create_dir_all(&dir)
                .map_err(|e| AggregatorError::io(format!("create {}", dir.display()), e))?;
            let (schema, _) = schema::schema();
            let settings = IndexSettings {
                docstore_compression: Compressor::Zstd(ZstdCompressor {
                    compression_level: Some(DOCSTORE_ZSTD_LEVEL),
                }),
                ..IndexSettings::default()
            };
            Index::builder()
                .schema(schema)
                .settings(settings)
                .create_in_dir(&dir)
                .map_err(|e| corrupt(&dir, e))?
        } else {
            return Ok(None);
        };
        schema::register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| corrupt(&dir, e))?;
        let split = Split {
            id,
            dir,
            index,
            reader,
            start_nanos: id.bucket_start_secs.saturating_mul(1_000_000_000),
            end_nanos: (id.bucket_start_secs + bucket_secs).saturating_mul(1_000_000_000),
            committed: AtomicU64::new(0),
            writing: AtomicBool::new(false),
        };
        let committed = split.read_payload()?;
        split.committed.store(committed, Ordering::Release);
        Ok(Some(split))
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub fn fields(&self) -> Fields {
        schema::schema().1
    }

    /// The committed next offset: records below it are in the split.
    pub fn committed_offset(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Whether the bucket overlaps `[start, end)`.
    pub fn overlaps(&self, start_nanos: i64, end_nanos: i64) -> bool {
        self.start_nanos < end_nanos && start_nanos < self.end_nanos
    }

    pub fn set_writing(&self, writing: bool) {
        self.writing.store(writing, Ordering::Release);
    }

    pub fn is_writing(&self) -> bool {
        self.writing.load(Ordering::Acquire)
    }

    /// Called after a commit with `next_offset` in its payload: makes the
    /// new documents visible to searches.
    pub fn committed_through(&self, next_offset: u64) -> Result<()> {
        self.committed.store(next_offset, Ordering::Release);
        self.reload()
    }

    /// Makes the segments tantivy's merges produced since the last reload
    /// visible (the reader reloads only when asked).
    pub fn reload(&self) -> Result<()> {
        self.reader.reload().map_err(|e| corrupt(&self.dir, e))
    }

    /// The payload string for a commit at `next_offset`.
    pub fn payload(next_offset: u64) -> String {
        serde_json::to_string(&Payload { next_offset }).expect("a payload serialises")
    }

    fn read_payload(&self) -> Result<u64> {
        let metas = self.index.load_metas().map_err(|e| corrupt(&self.dir, e))?;
        match metas.payload {
            None => Ok(0),
            Some(text) => serde_json::from_str::<Payload>(&text)
                .map(|p| p.next_offset)
                .map_err(|e| AggregatorError::Corruption {
                    what: format!("split {}", self.dir.display()),
                    detail: format!("commit payload {text:?}: {e}"),
                }),
        }
    }
}

fn corrupt(dir: &Path, e: impl Into<tantivy::TantivyError>) -> AggregatorError {
    AggregatorError::index(format!("split {}", dir.display()), e)
}
