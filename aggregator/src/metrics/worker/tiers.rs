//! A partition's open windows in every tier, its watermark, and closing.
//!
//! Points only ever enter tier 0 (the finest). A tier-0 window `(e - L, e]`
//! closes once the watermark reaches `e + lateness`; it is then published
//! and merged into the open window of each coarser tier that contains it.
//! A coarser window closes when the last tier-0 window inside it has
//! (their ends align: every tier's length is a multiple of the finer
//! one's), so a rollup always holds exactly the tier-0 windows it covers.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxBuildHasher;

use super::series::{SeriesTable, Slot};
use crate::metrics::source::WindowValue;
use crate::metrics::window::{Accumulator, ClosedWindow, SeriesKind, merge_closed, window_end};

pub(super) type OpenWindows<T> = BTreeMap<i64, HashMap<Slot, T, FxBuildHasher>>;

/// Open windows of every tier plus the watermark.
#[derive(Debug)]
pub(super) struct Tiers {
    /// Window length per tier, finest first.
    pub lengths: Vec<i64>,
    pub lateness_ms: i64,
    pub figures: u8,
    /// Tier 0's open windows by end.
    pub open: OpenWindows<Accumulator>,
    /// Tiers 1.. open windows by end, built from closed tier-0 windows.
    pub coarse: Vec<OpenWindows<WindowValue>>,
    /// The newest event time seen, milliseconds (`i64::MIN` before any).
    pub watermark_ms: i64,
    /// Every tier-0 window ending at or before this has closed.
    pub closed_through_ms: i64,
}

impl Tiers {
    pub fn new(lengths: Vec<i64>, lateness_ms: i64, figures: u8) -> Tiers {
        let coarse = (1..lengths.len()).map(|_| BTreeMap::new()).collect();
        Tiers {
            lengths,
            lateness_ms,
            figures,
            open: BTreeMap::new(),
            coarse,
            watermark_ms: i64::MIN,
            closed_through_ms: i64::MIN,
        }
    }

    /// Whether the tier-0 window holding `time_ms` has closed.
    pub fn is_closed(&self, time_ms: i64) -> bool {
        window_end(time_ms, self.lengths[0]) <= self.closed_through_ms
    }

    /// The open tier-0 window of `slot` holding `time_ms`, or `None` when
    /// that window has closed (the point is late).
    pub fn window(
        &mut self,
        slot: Slot,
        kind: SeriesKind,
        time_ms: i64,
    ) -> Option<&mut Accumulator> {
        let end = window_end(time_ms, self.lengths[0]);
        if end <= self.closed_through_ms {
            return None;
        }
        let figures = self.figures;
        Some(
            self.open
                .entry(end)
                .or_default()
                .entry(slot)
                .or_insert_with(|| Accumulator::for_kind(kind, figures)),
        )
    }

    /// Moves the watermark to `watermark_ms` if later, and closes the
    /// windows it passed; returns them per tier, finest first.
    pub fn advance(
        &mut self,
        watermark_ms: i64,
        series: &mut SeriesTable,
    ) -> Vec<Vec<ClosedWindow>> {
        let mut closed: Vec<Vec<ClosedWindow>> = self.lengths.iter().map(|_| Vec::new()).collect();
        if watermark_ms <= self.watermark_ms {
            return closed;
        }
        self.watermark_ms = watermark_ms;
        let base = self.lengths[0];
        let through = (watermark_ms.saturating_sub(self.lateness_ms)).div_euclid(base) * base;
        if through <= self.closed_through_ms {
            return closed;
        }
        self.closed_through_ms = through;
        self.close_finest(through, series, &mut closed);
        for (tier, open) in self.coarse.iter_mut().enumerate() {
            while let Some(entry) = open.first_entry() {
                if *entry.key() > through {
                    break;
                }
                let (end, windows) = entry.remove_entry();
                closed[tier + 1].extend(windows.into_iter().map(|(slot, value)| ClosedWindow {
                    series: series.get(slot).key.clone(),
                    end_ms: end,
                    value,
                }));
            }
        }
        closed
    }

    fn close_finest(
        &mut self,
        through: i64,
        series: &mut SeriesTable,
        closed: &mut [Vec<ClosedWindow>],
    ) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() > through {
                break;
            }
            let (end, windows) = entry.remove_entry();
            for (slot, accumulator) in windows {
                let state = series.get_mut(slot);
                let value = accumulator.close(&mut state.total);
                for (tier, open) in self.coarse.iter_mut().enumerate() {
                    let coarse_end = window_end(end, self.lengths[tier + 1]);
                    let windows = open.entry(coarse_end).or_default();
                    match windows.get_mut(&slot) {
                        Some(rollup) => merge_closed(rollup, &value),
                        None => {
                            windows.insert(slot, value.clone());
                        }
                    }
                }
                closed[0].push(ClosedWindow {
                    series: state.key.clone(),
                    end_ms: end,
                    value,
                });
            }
        }
    }

    /// Whether any open window of any tier holds `slot`.
    pub fn holds(&self, slot: Slot) -> bool {
        self.open.values().any(|w| w.contains_key(&slot))
            || self
                .coarse
                .iter()
                .any(|tier| tier.values().any(|w| w.contains_key(&slot)))
    }
}
