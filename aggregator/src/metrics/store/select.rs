//! Reading the store: which tier a query reads, and the windows of the
//! series it selects from the heads and the blocks of that tier.
//!
//! # Which tier
//! A select reads the coarsest tier whose window is no longer than the
//! resolution asked for and whose retention still reaches the start of
//! the range; failing that, the finest tier whose retention reaches it;
//! failing that, the coarsest tier (the longest history). A coarse tier's
//! newest window closes later than a fine one's (a 1 h window at the end
//! of its hour), so a query at coarse resolution sees the recent past up
//! to its last closed window.
//!
//! Label queries (`series`, `label_names`, `label_values`) read every tier,
//! each for the part of the range finer tiers no longer hold, so a label
//! seen in the last minute and one seen last month are both found.
//!
//! # Selecting within a tier
//! Heads are scanned (a few windows per series); blocks overlapping the
//! range are read through the cache, and their label index narrows the
//! series to check: each equality or regex matcher that rejects the empty
//! value names the series that can match, and every candidate is then
//! checked against all matchers.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use tracing::error;

use super::format::Decoded;
use super::head::SharedRun;
use super::{WindowStore, files, read_window_file};
use crate::error::{AggregatorError, Result};
use crate::labels::{Labels, MatchOp, Matcher};
use crate::metrics::source::{
    CounterColumns, LazySeries, MetricMetadata, SeriesSelect, SeriesSource, SeriesWindows, Window,
    WindowValue,
};
use crate::metrics::window::SeriesKey;
use crate::query::Deadline;
use crate::telemetry;

/// Where the windows of the selected series are, before any is copied:
/// the blocks read (kept alive while their runs are referenced), the
/// head's runs, and per series the pieces of each, oldest first.
struct Found {
    blocks: Vec<Arc<Decoded>>,
    heads: Vec<SharedRun>,
    /// In label order.
    series: Vec<(Labels, Vec<Piece>)>,
}

/// A slice of one run: `run`'s windows `lo..hi` in `blocks[block]`, or in
/// `heads[run]` when `block` is `None`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    block: Option<usize>,
    run: usize,
    lo: usize,
    hi: usize,
}

impl Found {
    /// `piece`'s windows, appended to `out` as windows of `window_ms`.
    fn push_windows(&self, piece: &Piece, window_ms: i64, out: &mut Vec<Window>) {
        match piece.block {
            Some(b) => self.blocks[b].runs[piece.run]
                .windows
                .extend_windows(piece.lo, piece.hi, window_ms, out),
            None => {
                let run = &self.heads[piece.run].windows()[piece.lo..piece.hi];
                out.extend(run.iter().map(|(end_ms, value)| Window {
                    start_ms: end_ms - window_ms,
                    end_ms: *end_ms,
                    value: value.clone(),
                }));
            }
        }
    }

    /// One series' windows into `out` (cleared first), each copied once,
    /// in time order without duplicates (a window can be in a block and
    /// still in the head until its chunk is deleted).
    fn series_windows(&self, pieces: &[Piece], window_ms: i64, out: &mut Vec<Window>) {
        out.clear();
        out.reserve(pieces.iter().map(|p| p.hi - p.lo).sum());
        for piece in pieces {
            self.push_windows(piece, window_ms, out);
        }
        if !out.is_sorted_by(|a, b| a.end_ms < b.end_ms) {
            out.sort_by_key(|w| w.end_ms);
            out.dedup_by_key(|w| w.end_ms);
        }
    }
}

impl WindowStore {
    /// The tier a select of windows ending after `start_ms` at
    /// `resolution_ms` reads (see the module doc).
    pub fn tier_for(&self, start_ms: i64, resolution_ms: i64) -> usize {
        let now = (self.clock)();
        let holds = |tier: usize| {
            now.saturating_sub(self.config.tiers[tier].retention.as_millis() as i64) <= start_ms
        };
        let tiers = &self.config.tiers;
        (0..tiers.len())
            .rev()
            .find(|&t| tiers[t].window_ms <= resolution_ms && holds(t))
            .or_else(|| (0..tiers.len()).find(|&t| holds(t)))
            .unwrap_or(tiers.len() - 1)
    }

    /// Where the windows of `tier` ending in `(start_ms, end_ms]` of the
    /// matching series of `tenant` are, by labels.
    fn collect(
        &self,
        tier: usize,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        deadline: Option<Deadline>,
    ) -> Result<Found> {
        let span = self.span_ms(tier);
        let mut heads = Vec::new();
        let (paths, spans) = {
            let state = self.read();
            let tier_state = &state.tiers[tier];
            for head in tier_state.heads.values() {
                head.select(tenant, matchers, start_ms, end_ms, &mut heads);
            }
            let blocks = tier_state
                .blocks
                .range((start_ms.saturating_add(1), 0)..(end_ms.saturating_add(span), 0));
            let mut spans = 0;
            let mut last_end = None;
            let mut paths = Vec::new();
            for (&(end, _), block) in blocks {
                spans += usize::from(last_end.replace(end) != Some(end));
                paths.push(block.path.clone());
            }
            (paths, spans)
        };
        // A series is met once per block: by its labels' digest (worked
        // out when the block was decoded), without reading its strings;
        // sorted by labels once at the end.
        let mut index: HashMap<u128, usize, FxBuildHasher> = HashMap::default();
        let mut series: Vec<(Labels, Vec<Piece>)> = Vec::new();
        let mut add = |digest: u128, labels: &Labels, piece: Piece| match index.get(&digest) {
            Some(&i) => series[i].1.push(piece),
            None => {
                index.insert(digest, series.len());
                // A series has a piece per span of blocks, and up to two
                // from its head (pending and persisted): room for them all
                // at once.
                let mut pieces = Vec::with_capacity(spans + 2);
                pieces.push(piece);
                series.push((labels.clone(), pieces));
            }
        };
        if let Some(deadline) = deadline {
            deadline.check()?;
        }
        let mut blocks = Vec::with_capacity(paths.len());
        for block in self.blocks(&paths, deadline) {
            if let Some(deadline) = deadline {
                deadline.check()?;
            }
            let Some(block) = block else {
                continue;
            };
            for index in matching(&block, tenant, matchers) {
                let run = &block.runs[index];
                let (lo, hi) = run.windows.within_bounds(start_ms, end_ms);
                if lo < hi {
                    let piece = Piece {
                        block: Some(blocks.len()),
                        run: index,
                        lo,
                        hi,
                    };
                    add(run.digest, &run.key.labels, piece);
                }
            }
            blocks.push(block);
        }
        for (index, run) in heads.iter().enumerate() {
            let piece = Piece {
                block: None,
                run: index,
                lo: 0,
                hi: run.hi - run.lo,
            };
            add(run.key.labels.digest(), &run.key.labels, piece);
        }
        // A series' head runs (one from pending, one from persisted, more
        // while a restarted worker's keys differ from the loaded ones) come
        // in map order: oldest first, so its windows are read in order
        // without a sort.
        for (_, pieces) in &mut series {
            let from = pieces.partition_point(|p| p.block.is_some());
            if pieces.len() - from > 1 {
                pieces[from..].sort_by_key(|p| heads[p.run].windows()[p.lo].0);
            }
        }
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Found {
            blocks,
            heads,
            series,
        })
    }

    /// The decoded blocks at `paths`, in order, as [`block`](Self::block)
    /// reads them: those not cached are decoded on several threads, so a
    /// query's first read of a day costs a fraction of decoding it on one.
    /// Past `deadline` the rest are skipped (the caller then fails).
    fn blocks(&self, paths: &[PathBuf], deadline: Option<Deadline>) -> Vec<Option<Arc<Decoded>>> {
        let read = |part: &[PathBuf]| -> Vec<Option<Arc<Decoded>>> {
            part.iter()
                .map(|path| match deadline.map(|d| d.check()) {
                    Some(Err(_)) => None,
                    _ => self.block(path),
                })
                .collect()
        };
        crate::query::in_parts(paths, crate::query::threads(), &read)
    }

    /// A decoded block, from the cache or the file; `None` (reported) when
    /// it is gone or corrupt.
    fn block(&self, path: &PathBuf) -> Option<Arc<Decoded>> {
        if let Some(block) = self.cache().get(path) {
            return Some(block);
        }
        match read_window_file(path) {
            Ok(decoded) => {
                let decoded = Arc::new(decoded);
                self.cache().insert(path.clone(), Arc::clone(&decoded));
                Some(decoded)
            }
            // Retention deleted it since the list was taken.
            Err(AggregatorError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                None
            }
            Err(e) => {
                error!(path = %path.display(), error = %e, "a metric block is unreadable; moved aside");
                files::quarantine(path);
                metrics::counter!(telemetry::METRIC_STORE_CORRUPT_FILES_TOTAL).increment(1);
                let mut state = self.write();
                for tier in &mut state.tiers {
                    tier.blocks.retain(|_, b| &b.path != path);
                }
                None
            }
        }
    }

    /// Label sets with a window in `(start_ms, end_ms]`, every tier read
    /// for the part of the range the finer tiers no longer hold.
    fn label_sets(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<BTreeSet<Labels>> {
        let now = (self.clock)();
        let mut out = BTreeSet::new();
        let mut hi = end_ms;
        for (tier, config) in self.config.tiers.iter().enumerate() {
            let horizon = now.saturating_sub(config.retention.as_millis() as i64);
            let lo = start_ms.max(horizon);
            if lo < hi {
                let found = self.collect(tier, tenant, matchers, lo, hi, None)?;
                out.extend(found.series.into_iter().map(|(labels, _)| labels));
            }
            hi = hi.min(horizon);
            if hi <= start_ms {
                break;
            }
        }
        Ok(out)
    }
}

/// Indexes of the runs of `block` for `tenant` that `matchers` select.
fn matching(block: &Decoded, tenant: &str, matchers: &[Matcher]) -> Vec<usize> {
    let mut candidates: Option<Vec<u32>> = None;
    for matcher in matchers {
        if matcher.matches_empty() {
            continue;
        }
        let ids = match matcher.op {
            MatchOp::Equal => postings(block, tenant, &matcher.name)
                .find(|(value, _)| *value == matcher.value)
                .map(|(_, ids)| ids.to_vec())
                .unwrap_or_default(),
            MatchOp::Regex | MatchOp::NotEqual | MatchOp::NotRegex => {
                let mut ids: Vec<u32> = postings(block, tenant, &matcher.name)
                    .filter(|(value, _)| matcher.matches(value))
                    .flat_map(|(_, ids)| ids.iter().copied())
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            }
        };
        candidates = Some(match candidates {
            None => ids,
            Some(before) => intersect(&before, &ids),
        });
        if candidates.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
    }
    let check = |index: usize| {
        let key: &SeriesKey = &block.runs[index].key;
        key.tenant == tenant && key.labels.matches(matchers)
    };
    // The postings are the tenant's: when every matcher is an equality
    // they answered, the candidates are exactly the matching series.
    let decided = matchers
        .iter()
        .all(|m| m.op == MatchOp::Equal && !m.matches_empty());
    match candidates {
        Some(ids) if decided => ids.into_iter().map(|id| id as usize).collect(),
        Some(ids) => ids
            .into_iter()
            .map(|id| id as usize)
            .filter(|&i| check(i))
            .collect(),
        None => (0..block.runs.len()).filter(|&i| check(i)).collect(),
    }
}

/// The (value, series) postings of one label name of a tenant.
fn postings<'a>(
    block: &'a Decoded,
    tenant: &'a str,
    name: &'a str,
) -> impl Iterator<Item = (&'a str, &'a [u32])> + 'a {
    let start = block
        .postings
        .partition_point(|(t, n, _, _)| (t.as_str(), n.as_str()) < (tenant, name));
    block.postings[start..]
        .iter()
        .take_while(move |(t, n, _, _)| t == tenant && n == name)
        .map(|(_, _, value, ids)| (value.as_str(), ids.as_slice()))
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn too_many(limit: usize) -> AggregatorError {
    AggregatorError::TooMany {
        what: "series",
        limit,
    }
}

/// A select's series, each copied out of the blocks and heads when read.
struct Lazy {
    window_ms: i64,
    found: Found,
}

impl LazySeries for Lazy {
    fn len(&self) -> usize {
        self.found.series.len()
    }

    fn labels(&self, i: usize) -> &Labels {
        &self.found.series[i].0
    }

    fn windows(&self, i: usize, out: &mut Vec<Window>) {
        self.found
            .series_windows(&self.found.series[i].1, self.window_ms, out);
    }

    fn counters(&self, i: usize, out: &mut CounterColumns) -> bool {
        out.clear(self.window_ms);
        let pieces = &self.found.series[i].1;
        out.reserve(pieces.iter().map(|p| p.hi - p.lo).sum());
        for piece in pieces {
            let counters = match piece.block {
                Some(b) => self.found.blocks[b].runs[piece.run]
                    .windows
                    .extend_counters(piece.lo, piece.hi, out),
                None => {
                    let run = &self.found.heads[piece.run].windows()[piece.lo..piece.hi];
                    run.iter().all(|(end_ms, value)| match value {
                        WindowValue::Counter { delta, .. } => {
                            out.push(*end_ms, *delta);
                            true
                        }
                        _ => false,
                    })
                }
            };
            if !counters {
                out.clear(self.window_ms);
                return false;
            }
        }
        if !out.is_ascending() {
            // A window in a block and still in the head: read as windows.
            let mut windows = Vec::new();
            self.windows(i, &mut windows);
            return out.fill(&windows);
        }
        true
    }
}

impl WindowStore {
    /// What `select` reads: the tier's window length and where the
    /// selected series' windows are.
    fn find(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<(i64, Found)> {
        deadline.check()?;
        let tier = self.tier_for(select.start_ms, select.resolution_ms);
        let found = self.collect(
            tier,
            &select.tenant,
            &select.matchers,
            select.start_ms,
            select.end_ms,
            Some(deadline),
        )?;
        if found.series.len() > max_series {
            return Err(too_many(max_series));
        }
        Ok((self.config.tiers[tier].window_ms, found))
    }
}

impl SeriesSource for WindowStore {
    fn select(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<Vec<SeriesWindows>> {
        let (window_ms, found) = self.find(select, max_series, deadline)?;
        let mut out = Vec::with_capacity(found.series.len());
        for (i, (labels, pieces)) in found.series.iter().enumerate() {
            if i % 1024 == 0 {
                deadline.check()?;
            }
            let mut windows = Vec::new();
            found.series_windows(pieces, window_ms, &mut windows);
            out.push(SeriesWindows {
                labels: labels.clone(),
                windows,
            });
        }
        Ok(out)
    }

    fn select_lazy(
        &self,
        select: &SeriesSelect,
        max_series: usize,
        deadline: Deadline,
    ) -> Result<Box<dyn LazySeries>> {
        let (window_ms, found) = self.find(select, max_series, deadline)?;
        Ok(Box::new(Lazy { window_ms, found }))
    }

    fn window_ms(&self, select: &SeriesSelect) -> i64 {
        self.config.tiers[self.tier_for(select.start_ms, select.resolution_ms)].window_ms
    }

    fn series(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Labels>> {
        let sets = self.label_sets(tenant, matchers, start_ms, end_ms)?;
        if sets.len() > max_series {
            return Err(too_many(max_series));
        }
        Ok(sets.into_iter().collect())
    }

    fn label_names(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>> {
        let names: BTreeSet<String> = self
            .label_sets(tenant, matchers, start_ms, end_ms)?
            .iter()
            .flat_map(|labels| labels.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>> {
        let values: BTreeSet<String> = self
            .label_sets(tenant, matchers, start_ms, end_ms)?
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_owned))
            .collect();
        Ok(values.into_iter().collect())
    }

    fn metadata(&self, tenant: &str, name: Option<&str>) -> Result<Vec<MetricMetadata>> {
        let state = self.read();
        Ok(state
            .metadata
            .get(tenant)
            .map(|metrics| {
                metrics
                    .values()
                    .filter(|m| name.is_none_or(|n| m.name == n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}
