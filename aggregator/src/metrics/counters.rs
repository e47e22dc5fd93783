//! [`CounterColumns`]: a counter series' windows as the columns `rate`,
//! `increase` and `delta` read.
//!
//! A range query over a day of 10,000 counters reads fourteen million
//! windows, so what it copies per window decides its speed. Only the
//! deltas are copied; the ends of evenly spaced windows (every block's,
//! and so almost every series') stay one first end and a step, and a
//! query finds the windows of a step's range by division instead of by
//! search. Ends that are not evenly spaced are listed.

use crate::metrics::source::{Window, WindowValue};

/// A counter series' windows, ascending and all of one length: their ends
/// and deltas.
#[derive(Debug, Clone)]
pub struct CounterColumns {
    /// Every window's length: a window starts `window_ms` before its end.
    window_ms: i64,
    /// The ends when they are `first + i * step` (`step` > 0 from two
    /// windows on, 0 below); `None` when they are in `listed`.
    even: Option<(i64, i64)>,
    /// The ends when they are not evenly spaced; kept allocated between
    /// series.
    listed: Vec<i64>,
    deltas: Vec<f64>,
    /// Whether some end is not after the one before it.
    unordered: bool,
}

impl Default for CounterColumns {
    fn default() -> Self {
        let mut columns = CounterColumns {
            window_ms: 0,
            even: None,
            listed: Vec::new(),
            deltas: Vec::new(),
            unordered: false,
        };
        columns.clear(0);
        columns
    }
}

impl CounterColumns {
    pub fn len(&self) -> usize {
        self.deltas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Every window's delta, oldest first.
    pub fn deltas(&self) -> &[f64] {
        &self.deltas
    }

    /// Whether every window ends after the one before it.
    pub fn is_ascending(&self) -> bool {
        !self.unordered
    }

    /// The end of window `i`.
    pub fn end(&self, i: usize) -> i64 {
        match self.even {
            Some((first, step)) => first + step * i as i64,
            None => self.listed[i],
        }
    }

    /// Empties the columns for windows of `window_ms`, keeping their
    /// allocations.
    pub fn clear(&mut self, window_ms: i64) {
        self.window_ms = window_ms;
        self.even = Some((0, 0));
        self.listed.clear();
        self.deltas.clear();
        self.unordered = false;
    }

    /// Room for `n` more windows.
    pub fn reserve(&mut self, n: usize) {
        self.deltas.reserve(n);
    }

    /// Appends a window ending at `end`.
    pub fn push(&mut self, end: i64, delta: f64) {
        self.extend_even(end, 0, &[delta]);
    }

    /// Appends windows ending at `first + i * step`, with `deltas[i]`.
    pub fn extend_even(&mut self, first: i64, step: i64, deltas: &[f64]) {
        if deltas.is_empty() {
            return;
        }
        let n = self.len();
        let many = deltas.len() > 1;
        if (n > 0 && self.end(n - 1) >= first) || (many && step <= 0) {
            self.unordered = true;
        }
        // Whether the ends stay evenly spaced, and with what step.
        let even = match self.even {
            _ if self.unordered => None,
            Some(_) if n == 0 => Some((first, if many { step } else { 0 })),
            Some((f, _)) if n == 1 => Some((f, first - f)).filter(|_| !many || step == first - f),
            Some((f, s)) => {
                Some((f, s)).filter(|_| f + s * n as i64 == first && (!many || step == s))
            }
            None => None,
        };
        if even.is_none()
            && let Some((f, s)) = self.even
        {
            self.listed.extend((0..n as i64).map(|i| f + s * i));
        }
        self.even = even;
        if even.is_none() {
            self.listed
                .extend((0..deltas.len() as i64).map(|i| first + step * i));
        }
        self.deltas.extend_from_slice(deltas);
    }

    /// The first window at or after `from` that ends after `t_ms`, or
    /// [`len`](Self::len). A sweep's cursors move a few windows per step:
    /// this walks a few, then divides (even ends) or searches (listed).
    #[inline]
    pub fn first_after(&self, from: usize, t_ms: i64) -> usize {
        let n = self.len();
        let from = from.min(n);
        let Some((first, step)) = self.even else {
            return advance(&self.listed, from, t_ms, |e| *e);
        };
        for i in from..n.min(from + WALK) {
            if first + step * i as i64 > t_ms {
                return i;
            }
        }
        let walked = n.min(from + WALK);
        if walked == n || step == 0 {
            return walked;
        }
        // Ends are `first + i * step`: the first after `t_ms` is one past
        // the division's quotient.
        let past = usize::try_from((t_ms - first) / step + 1).unwrap_or(0);
        past.clamp(walked, n)
    }

    /// The columns of `windows` (cleared first); `false`, and empty, when
    /// one of them is not a counter's or not as long as the first.
    pub fn fill(&mut self, windows: &[Window]) -> bool {
        self.clear(windows.first().map_or(0, |w| w.end_ms - w.start_ms));
        for w in windows {
            match w.value {
                WindowValue::Counter { delta, .. } if w.end_ms - w.start_ms == self.window_ms => {
                    self.push(w.end_ms, delta);
                }
                _ => {
                    self.clear(0);
                    return false;
                }
            }
        }
        true
    }
}

/// Windows a cursor walks before it searches: a step's range usually
/// starts and ends a few windows on from the last step's.
const WALK: usize = 8;

/// The first item from `from` on whose end (`end_of`) is after `t_ms`.
/// Evaluation times only grow, so a cursor moved by it finds what a
/// binary search over the whole series would. A step usually moves a
/// cursor by a few windows: those are walked, and only a longer move is
/// searched.
pub(crate) fn advance<T>(items: &[T], from: usize, t_ms: i64, end_of: impl Fn(&T) -> i64) -> usize {
    let walk_to = items.len().min(from + WALK);
    let mut i = from;
    while i < walk_to {
        if end_of(&items[i]) > t_ms {
            return i;
        }
        i += 1;
    }
    i + items[i..].partition_point(|w| end_of(w) <= t_ms)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Runs of windows as a block hands them over: a first end, a step
    /// and a count; a step of 0 or less makes them unordered.
    fn runs() -> impl Strategy<Value = Vec<(i64, i64, usize)>> {
        prop::collection::vec(
            (
                0i64..400,
                prop_oneof![Just(60i64), Just(30), -1i64..3],
                0usize..6,
            ),
            0..6,
        )
    }

    proptest! {
        /// Whatever runs are appended, the columns read back as the list
        /// of their ends would, and the cursor finds what a search of that
        /// list finds.
        #[test]
        fn columns_read_back_as_a_list_of_their_ends(runs in runs(), singles in prop::collection::vec(0i64..800, 0..3)) {
            let mut columns = CounterColumns::default();
            columns.clear(60);
            let mut ends = Vec::new();
            let mut deltas = Vec::new();
            let mut next = 0.0;
            for (first, step, n) in runs {
                let d: Vec<f64> = (0..n).map(|_| { next += 1.0; next }).collect();
                columns.extend_even(first, step, &d);
                ends.extend((0..n as i64).map(|i| first + step * i));
                deltas.extend(d);
            }
            for end in singles {
                next += 1.0;
                columns.push(end, next);
                ends.push(end);
                deltas.push(next);
            }
            prop_assert_eq!(columns.len(), ends.len());
            prop_assert_eq!(columns.deltas(), &deltas[..]);
            let read: Vec<i64> = (0..columns.len()).map(|i| columns.end(i)).collect();
            prop_assert_eq!(&read, &ends);
            let ascending = ends.windows(2).all(|p| p[0] < p[1]);
            prop_assert_eq!(columns.is_ascending(), ascending);
            if ascending {
                for from in 0..=ends.len() {
                    for t in -5..900 {
                        let want = from + ends[from..].partition_point(|e| *e <= t);
                        prop_assert_eq!(columns.first_after(from, t), want, "from {} t {}", from, t);
                    }
                }
            }
        }
    }

    #[test]
    fn cleared_columns_are_even_again_after_uneven_ones() {
        let mut columns = CounterColumns::default();
        columns.clear(60);
        for end in [60, 61, 500] {
            columns.push(end, 1.0);
        }
        assert!(columns.even.is_none());
        columns.clear(60);
        columns.extend_even(60, 60, &[1.0; 4]);
        columns.extend_even(300, 60, &[1.0; 4]);
        assert_eq!(columns.even, Some((60, 60)));
        assert_eq!(columns.first_after(0, 479), 7);
    }
}
