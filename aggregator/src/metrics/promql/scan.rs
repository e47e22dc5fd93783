//! Selectors read one series at a time, for swept range queries
//! ([`sweep`](super::sweep)), on several threads.
//!
//! A [`Selection`](super::selector::Selection) holds every selected
//! series' windows at once, as stepwise evaluation needs. A sweep computes
//! each series' row from that series' windows alone, so a scan hands the
//! series out in batches: each thread fills its own window buffer and
//! computes the rows of its part of the batch, and the caller takes the
//! batch's rows in series order. Taking them in order keeps every fold (a
//! group's sum) in the order stepwise evaluation uses, so answers are the
//! same bit for bit, and the series and sample limits fail where a fetch
//! fails them.

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::ControlFlow;

use promql_parser::parser::VectorSelector;

use crate::error::Result;
use crate::labels::Labels;
use crate::metrics::source::{CounterColumns, LazySeries, Window};
use crate::query::{in_parts, threads};

use super::selector::{FetchPlan, Needs, too_many};

/// Series per batch. A batch's rows wait to be taken in order: 128
/// series of 1,440 steps at 16 bytes are 3 MB, which the caches still
/// hold when the caller folds them, while a thread's start (tens of
/// microseconds) stays small beside the batch's work (milliseconds).
const BATCH: usize = 128;

/// Fewer series than this per thread are not worth a thread.
const MIN_PER_THREAD: usize = 32;

/// The selectors of a query, read series by series within the limits a
/// fetch keeps.
pub(crate) struct Scan<'a> {
    needs: &'a Needs,
    plan: &'a FetchPlan<'a>,
    series: Cell<usize>,
    samples: Cell<usize>,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(needs: &'a Needs, plan: &'a FetchPlan<'a>) -> Scan<'a> {
        Scan {
            needs,
            plan,
            series: Cell::new(0),
            samples: Cell::new(0),
        }
    }

    /// Computes `row` from each series `vs` selects and hands it to `take`
    /// with the series' labels, in the source's order, until `take`
    /// breaks.
    pub(crate) fn each<R: Send>(
        &self,
        vs: &VectorSelector,
        row: &(dyn Fn(&mut Reader<'_>) -> R + Sync),
        take: &mut dyn FnMut(&Labels, R) -> ControlFlow<()>,
    ) -> Result<()> {
        let Some(need) = self.needs.get(vs) else {
            return Ok(());
        };
        let plan = self.plan;
        // Only `or` branches can select a series twice.
        let several = need.branches.len() > 1;
        let mut seen: HashSet<Labels> = HashSet::new();
        for select in need.selects(plan) {
            plan.deadline.check()?;
            let remaining = plan.limits.max_series.saturating_sub(self.series.get());
            let lazy = plan.source.select_lazy(&select, remaining, plan.deadline)?;
            let wanted: Vec<usize> = (0..lazy.len())
                .filter(|&i| !several || seen.insert(lazy.labels(i).clone()))
                .collect();
            for batch in wanted.chunks(BATCH) {
                plan.deadline.check()?;
                for (&i, (windows, r)) in batch.iter().zip(rows(lazy.as_ref(), batch, row)) {
                    self.count(windows)?;
                    if take(lazy.labels(i), r).is_break() {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts one series of `windows` against the query's limits.
    fn count(&self, windows: usize) -> Result<()> {
        self.series.set(self.series.get() + 1);
        self.samples.set(self.samples.get() + windows);
        let limits = self.plan.limits;
        too_many("series", self.series.get(), limits.max_series)?;
        too_many("samples", self.samples.get(), limits.max_samples)
    }
}

/// One series as a row reads it, into one thread's buffers: as windows,
/// or as counter columns when it is a counter.
pub(crate) struct Reader<'l> {
    lazy: &'l dyn LazySeries,
    series: usize,
    windows: Vec<Window>,
    counters: CounterColumns,
    /// Windows read of the series, counted against `max_samples`.
    read: usize,
}

impl Reader<'_> {
    pub(crate) fn windows(&mut self) -> &[Window] {
        self.lazy.windows(self.series, &mut self.windows);
        self.read = self.windows.len();
        &self.windows
    }

    /// The series' counter columns; `None` when one of its windows is not
    /// a counter's.
    pub(crate) fn counters(&mut self) -> Option<&CounterColumns> {
        if !self.lazy.counters(self.series, &mut self.counters) {
            return None;
        }
        self.read = self.counters.len();
        Some(&self.counters)
    }
}

/// Each series of `batch`: its window count and its row, in batch order.
fn rows<R: Send>(
    lazy: &dyn LazySeries,
    batch: &[usize],
    row: &(dyn Fn(&mut Reader<'_>) -> R + Sync),
) -> Vec<(usize, R)> {
    let part = |indexes: &[usize]| -> Vec<(usize, R)> {
        let mut reader = Reader {
            lazy,
            series: 0,
            windows: Vec::new(),
            counters: CounterColumns::default(),
            read: 0,
        };
        indexes
            .iter()
            .map(|&i| {
                reader.series = i;
                reader.read = 0;
                let r = row(&mut reader);
                (reader.read, r)
            })
            .collect()
    };
    in_parts(batch, threads().min(batch.len() / MIN_PER_THREAD), &part)
}
