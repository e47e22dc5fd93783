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

use super::Run;
use super::files::FileName;
use crate::labels::Matcher;
use crate::metrics::source::WindowValue;
use crate::metrics::window::SeriesKey;
use crate::metrics::worker::Mark;

pub(crate) type Windows = HashMap<Arc<SeriesKey>, Vec<(i64, WindowValue)>>;

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
    /// Adds windows a chunk held, skipping any a block already holds.
    pub fn load(&mut self, runs: Vec<Run>) {
        for run in runs {
            let windows: Vec<_> = run
                .windows
                .into_iter()
                .filter(|(end, _)| *end > self.blocks_through_ms)
                .collect();
            if let Some((end, _)) = windows.last() {
                self.persisted_through_ms = self.persisted_through_ms.max(*end);
                self.persisted.entry(run.key).or_default().extend(windows);
            }
        }
        for windows in self.persisted.values_mut() {
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
            .flat_map(|w| w.iter().map(|(end, _)| span_end(*end, span_ms)))
            .filter(|end| *end <= self.persisted_through_ms && *end > self.blocks_through_ms)
            .collect();
        ends.sort_unstable();
        ends.dedup();
        ends
    }

    /// Copies of the persisted windows ending in `(end - span, end]`, as
    /// sorted runs.
    pub fn span_runs(&self, end_ms: i64, span_ms: i64) -> Vec<Run> {
        let mut runs: Vec<Run> = self
            .persisted
            .iter()
            .filter_map(|(key, windows)| {
                let inside: Vec<_> = windows
                    .iter()
                    .filter(|(end, _)| *end > end_ms - span_ms && *end <= end_ms)
                    .cloned()
                    .collect();
                (!inside.is_empty()).then(|| Run {
                    key: Arc::clone(key),
                    windows: inside,
                })
            })
            .collect();
        runs.sort_by(|a, b| a.key.cmp(&b.key));
        runs
    }

    /// Drops persisted windows ending at or before `end_ms` (now in a block).
    pub fn drop_through(&mut self, end_ms: i64) {
        self.persisted.retain(|_, windows| {
            windows.retain(|(end, _)| *end > end_ms);
            !windows.is_empty()
        });
        self.blocks_through_ms = self.blocks_through_ms.max(end_ms);
    }

    /// Drops every window ending at or before `end_ms` (retention).
    pub fn expire(&mut self, end_ms: i64) {
        for map in [&mut self.pending, &mut self.persisted] {
            map.retain(|_, windows| {
                windows.retain(|(end, _)| *end > end_ms);
                !windows.is_empty()
            });
        }
    }

    /// `pending` as sorted runs.
    pub fn pending_runs(&self) -> Vec<Run> {
        let mut runs: Vec<Run> = self
            .pending
            .iter()
            .map(|(key, windows)| Run {
                key: Arc::clone(key),
                windows: windows.clone(),
            })
            .collect();
        runs.sort_by(|a, b| a.key.cmp(&b.key));
        runs
    }

    /// Moves `pending` into `persisted`, now that a chunk holds it.
    pub fn commit_pending(&mut self) {
        for (key, windows) in std::mem::take(&mut self.pending) {
            if let Some((end, _)) = windows.last() {
                self.persisted_through_ms = self.persisted_through_ms.max(*end);
            }
            self.persisted.entry(key).or_default().extend(windows);
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
        out: &mut Vec<Run>,
    ) {
        for map in [&self.persisted, &self.pending] {
            for (key, windows) in map {
                if key.tenant != tenant || !key.labels.matches(matchers) {
                    continue;
                }
                let inside: Vec<_> = windows
                    .iter()
                    .filter(|(end, _)| *end > start_ms && *end <= end_ms)
                    .cloned()
                    .collect();
                if !inside.is_empty() {
                    out.push(Run {
                        key: Arc::clone(key),
                        windows: inside,
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
            .map(Vec::len)
            .sum()
    }
}

/// The end of the span of length `span_ms` holding a window ending at
/// `end_ms`: spans are `(end - span, end]` like windows.
pub(crate) fn span_end(end_ms: i64, span_ms: i64) -> i64 {
    crate::metrics::window::window_end(end_ms, span_ms)
}
