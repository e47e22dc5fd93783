//! The head: windows of one tier of one partition not yet in a block,
//! held in memory so the newest windows are queryable the moment they
//! close.
//!
//! `pending` holds what was published since the last persist; `persisted`
//! what is in chunk files. Blocks are cut from `persisted` only, and only
//! for spans that are complete: every window ending in the span has
//! closed, which holds once a persisted window ends at or after the span's
//! end (a tier's windows close in end order, all series at once).

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;

use super::Run;
use super::files::FileName;
use crate::labels::Matcher;
use crate::metrics::source::WindowValue;
use crate::metrics::window::SeriesKey;
use crate::metrics::worker::Mark;

/// One series' windows in a head.
#[derive(Debug)]
pub(crate) struct Entry {
    pub key: Arc<SeriesKey>,
    /// Shared with the queries reading them, so a query holds the head's
    /// windows without copying them; the head changes them in place when
    /// no query holds them, else copies first ([`Arc::make_mut`]).
    pub windows: Arc<Vec<(i64, WindowValue)>>,
}

/// A head series' windows `lo..hi`, as a query holds them: shared with
/// the head, not copied.
#[derive(Debug, Clone)]
pub(crate) struct SharedRun {
    pub key: Arc<SeriesKey>,
    pub windows: Arc<Vec<(i64, WindowValue)>>,
    pub lo: usize,
    pub hi: usize,
}

impl SharedRun {
    pub fn windows(&self) -> &[(i64, WindowValue)] {
        &self.windows[self.lo..self.hi]
    }
}

/// Windows by series, keyed by the address of the series' `Arc`: a
/// worker shares one `Arc` per series with every window it closes, so
/// publishing hashes a pointer rather than the labels (hashing labels
/// was most of the cost of publishing). The same series can sit under
/// two addresses (reloaded from a chunk, then published again); runs
/// are merged by key whenever they are written out or read.
pub(crate) type Windows = HashMap<usize, Entry, FxBuildHasher>;

/// The windows of `key` in `map`, created empty on first use.
pub(crate) fn windows_of(map: &mut Windows, key: Arc<SeriesKey>) -> &mut Vec<(i64, WindowValue)> {
    let entry = map
        .entry(Arc::as_ptr(&key) as usize)
        .or_insert_with(|| Entry {
            key,
            windows: Arc::default(),
        });
    Arc::make_mut(&mut entry.windows)
}

/// Sorts runs by key and merges runs of the same series.
fn merged(mut runs: Vec<Run>) -> Vec<Run> {
    runs.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        match out.last_mut() {
            Some(last) if last.key == run.key => {
                last.windows.extend(run.windows);
                last.windows.sort_by_key(|(end, _)| *end);
                last.windows.dedup_by_key(|(end, _)| *end);
            }
            _ => out.push(run),
        }
    }
    out
}

#[derive(Debug)]
pub(crate) struct PartitionHead {
    pub pending: Windows,
    pub persisted: Windows,
    /// The newest window end in `persisted`.
    pub persisted_through_ms: i64,
    /// The newest block end written.
    pub blocks_through_ms: i64,
    /// The newest mark a chunk was persisted at.
    pub last_mark: Option<Mark>,
    /// Chunk files holding `persisted`.
    pub chunks: Vec<FileName>,
}

impl Default for PartitionHead {
    fn default() -> PartitionHead {
        PartitionHead {
            pending: Windows::default(),
            persisted: Windows::default(),
            persisted_through_ms: i64::MIN,
            blocks_through_ms: i64::MIN,
            last_mark: None,
            chunks: Vec::new(),
        }
    }
}

impl PartitionHead {
    /// Adds windows chunks held, skipping any a block already holds. Each
    /// chunk decodes its own copy of a series' key: keys are matched by
    /// value, so a series loaded from many chunks is one entry.
    pub fn load(&mut self, runs: impl IntoIterator<Item = Run>) {
        let mut keys: HashMap<Arc<SeriesKey>, Arc<SeriesKey>> = self
            .persisted
            .values()
            .map(|e| (Arc::clone(&e.key), Arc::clone(&e.key)))
            .collect();
        for run in runs {
            let windows: Vec<_> = run
                .windows
                .into_iter()
                .filter(|(end, _)| *end > self.blocks_through_ms)
                .collect();
            if let Some((end, _)) = windows.last() {
                self.persisted_through_ms = self.persisted_through_ms.max(*end);
                let key = Arc::clone(keys.entry(Arc::clone(&run.key)).or_insert(run.key));
                windows_of(&mut self.persisted, key).extend(windows);
            }
        }
        for entry in self.persisted.values_mut() {
            let windows = Arc::make_mut(&mut entry.windows);
            windows.sort_by_key(|(end, _)| *end);
            windows.dedup_by_key(|(end, _)| *end);
        }
    }

    /// Span ends (multiples of `span_ms`) of complete spans in `persisted`
    /// not yet written as blocks, oldest first.
    pub fn complete_spans(&self, span_ms: i64) -> Vec<i64> {
        let mut ends: Vec<i64> = self
            .persisted
            .values()
            .flat_map(|e| e.windows.iter().map(|(end, _)| span_end(*end, span_ms)))
            .filter(|end| *end <= self.persisted_through_ms && *end > self.blocks_through_ms)
            .collect();
        ends.sort_unstable();
        ends.dedup();
        ends
    }

    /// Copies of the persisted windows ending in `(end - span, end]`, as
    /// sorted runs.
    pub fn span_runs(&self, end_ms: i64, span_ms: i64) -> Vec<Run> {
        let runs: Vec<Run> = self
            .persisted
            .values()
            .filter_map(|entry| {
                let inside: Vec<_> = entry
                    .windows
                    .iter()
                    .filter(|(end, _)| *end > end_ms - span_ms && *end <= end_ms)
                    .cloned()
                    .collect();
                (!inside.is_empty()).then(|| Run {
                    key: Arc::clone(&entry.key),
                    windows: inside,
                })
            })
            .collect();
        merged(runs)
    }

    /// Drops persisted windows ending at or before `end_ms` (now in a block).
    pub fn drop_through(&mut self, end_ms: i64) {
        self.persisted.retain(|_, entry| keep_after(entry, end_ms));
        self.blocks_through_ms = self.blocks_through_ms.max(end_ms);
    }

    /// Drops every window ending at or before `end_ms` (retention).
    pub fn expire(&mut self, end_ms: i64) {
        for map in [&mut self.pending, &mut self.persisted] {
            map.retain(|_, entry| keep_after(entry, end_ms));
        }
    }

    /// `pending` as sorted runs.
    pub fn pending_runs(&self) -> Vec<Run> {
        let runs: Vec<Run> = self
            .pending
            .values()
            .map(|entry| Run {
                key: Arc::clone(&entry.key),
                windows: entry.windows.to_vec(),
            })
            .collect();
        merged(runs)
    }

    /// Moves `pending` into `persisted`, now that a chunk holds it.
    pub fn commit_pending(&mut self) {
        for (_, entry) in std::mem::take(&mut self.pending) {
            if let Some((end, _)) = entry.windows.last() {
                self.persisted_through_ms = self.persisted_through_ms.max(*end);
            }
            windows_of(&mut self.persisted, entry.key).extend(Arc::unwrap_or_clone(entry.windows));
        }
    }

    /// Windows ending in `(start_ms, end_ms]` of the series of `tenant`
    /// that `matchers` select, appended to `out`.
    pub fn select(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        out: &mut Vec<SharedRun>,
    ) {
        for map in [&self.persisted, &self.pending] {
            for Entry { key, windows } in map.values() {
                if key.tenant != tenant || !key.labels.matches(matchers) {
                    continue;
                }
                let (lo, hi) = within_bounds(windows, start_ms, end_ms);
                if lo < hi {
                    out.push(SharedRun {
                        key: Arc::clone(key),
                        windows: Arc::clone(windows),
                        lo,
                        hi,
                    });
                }
            }
        }
    }

    /// Windows held, for the memory report.
    pub fn windows(&self) -> usize {
        self.pending
            .values()
            .chain(self.persisted.values())
            .map(|e| e.windows.len())
            .sum()
    }
}

/// Keeps `entry`'s windows ending after `end_ms`; whether any are left.
fn keep_after(entry: &mut Entry, end_ms: i64) -> bool {
    if entry.windows.first().is_some_and(|(end, _)| *end <= end_ms) {
        Arc::make_mut(&mut entry.windows).retain(|(end, _)| *end > end_ms);
    }
    !entry.windows.is_empty()
}

/// The index range of the windows (ascending by end) ending in
/// `(start_ms, end_ms]`. A long range holds most
/// runs whole, which the first and last windows tell without a search.
pub(crate) fn within_bounds(
    windows: &[(i64, WindowValue)],
    start_ms: i64,
    end_ms: i64,
) -> (usize, usize) {
    if let (Some((first, _)), Some((last, _))) = (windows.first(), windows.last())
        && *first > start_ms
        && *last <= end_ms
    {
        return (0, windows.len());
    }
    let lo = windows.partition_point(|(end, _)| *end <= start_ms);
    let hi = windows.partition_point(|(end, _)| *end <= end_ms);
    (lo, hi.max(lo))
}

/// The end of the span of length `span_ms` holding a window ending at
/// `end_ms`: spans are `(end - span, end]` like windows.
pub(crate) fn span_end(end_ms: i64, span_ms: i64) -> i64 {
    crate::metrics::window::window_end(end_ms, span_ms)
}
