//! Group commit: appenders wait for a sync round; a round gathers, writes
//! the pending buffer, calls `fdatasync`, and advances the high watermark.
//! The pool of threads running rounds is `crate::sync`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::Partition;
use super::append::{IoState, Refusal};

/// What the durability mutex guards.
pub(super) struct SyncState {
    pub(super) durable: u64,
    pub(super) waiters: Vec<(u64, oneshot::Sender<Result<(), Refusal>>)>,
    pub(super) scheduled: bool,
    /// How many appenders recently waited at once: the size of the group
    /// a round waits to gather (see `sync_round`).
    pub(super) cohort: usize,
}

impl Partition {
    /// Registers a waiter for `end` and schedules a sync round if needed.
    pub(super) fn await_sync(
        self: &Arc<Self>,
        end: u64,
    ) -> Option<oneshot::Receiver<Result<(), Refusal>>> {
        let mut state = self.sync.lock().unwrap();
        if state.durable >= end {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.push((end, tx));
        self.sync_arrivals.notify_one();
        if !state.scheduled {
            state.scheduled = true;
            drop(state);
            self.syncer.schedule(Arc::clone(self));
        }
        Some(rx)
    }

    /// One group-commit round, run by a sync thread. Returns whether
    /// waiters remain (the partition is then queued again).
    ///
    /// The round first gathers: it waits, at most `group_commit_window`,
    /// until about three quarters of the appenders that recently waited at
    /// once (the cohort) have registered again. A lone appender is synced at once (its cohort is
    /// one); 64 concurrent appenders share one `fdatasync` instead of
    /// trickling into many small ones while they take turns on the CPU.
    pub(crate) fn sync_round(&self) -> bool {
        let window = self.settings.group_commit_window;
        if !window.is_zero() {
            let deadline = Instant::now() + window;
            let mut state = self.sync.lock().unwrap();
            let wanted = (state.cohort * 3 / 4).max(1);
            while state.waiters.len() < wanted {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = self
                    .sync_arrivals
                    .wait_timeout(state, deadline - now)
                    .unwrap()
                    .0;
            }
        }
        let mut writer = self.writer.lock().unwrap();
        let mut io = self.io.lock().unwrap();
        if self.settle_locked(&mut writer, &mut io).is_err() {
            return self.reschedule_after_round(0);
        }
        let pending = writer.take_pending();
        let started = Instant::now();
        let segment = Arc::clone(&writer.active);
        let (position, end) = (segment.size(), segment.next_offset());
        drop(writer);
        // Appenders go on filling a new pending buffer meanwhile; the io
        // lock is held through the sync so that a failure is recorded
        // before anyone else can write or sync this segment.
        if let Some((at, bytes)) = pending
            && let Err(e) = segment.write_at(&bytes, at)
        {
            *io = IoState::after_write_error(&e, at, &bytes);
            drop(io);
            // Settling needs the writer lock, which comes before io.
            let mut writer = self.writer.lock().unwrap();
            let mut io = self.io.lock().unwrap();
            let _ = self.settle_locked(&mut writer, &mut io);
            return self.reschedule_after_round(0);
        }
        if let Err(e) = segment.sync() {
            let reason = format!("fdatasync {}: {e}", segment.path.display());
            *io = IoState::Failed(reason.clone());
            drop(io);
            self.fail(reason);
            return self.reschedule_after_round(0);
        }
        drop(io);
        segment.expose(position);
        let waiting = self.mark_durable(end);
        crate::telemetry::synced(started.elapsed(), waiting);
        self.reschedule_after_round(waiting)
    }

    /// Updates the cohort estimate and says whether waiters remain.
    fn reschedule_after_round(&self, waiting: usize) -> bool {
        let mut state = self.sync.lock().unwrap();
        // A decaying maximum, so that the estimate follows a drop in load
        // but a small round does not shrink the next one.
        state.cohort = waiting.max(state.cohort - state.cohort / 8);
        if state.waiters.is_empty() {
            state.scheduled = false;
            false
        } else {
            true
        }
    }

    /// Everything below `end` is durable: release its waiters and readers.
    /// Returns how many appenders were waiting at that moment (those
    /// released plus those still waiting), counted under the lock so that a
    /// released appender that is already back is not counted twice.
    pub(super) fn mark_durable(&self, end: u64) -> usize {
        self.publish_high_watermark(end);
        let mut state = self.sync.lock().unwrap();
        state.durable = state.durable.max(end);
        let durable = state.durable;
        let released: Vec<_> = state
            .waiters
            .extract_if(.., |(target, _)| *target <= durable)
            .collect();
        let waiting = released.len() + state.waiters.len();
        drop(state);
        for (_, tx) in released {
            let _ = tx.send(Ok(()));
        }
        waiting
    }

    pub(super) fn publish_high_watermark(&self, end: u64) {
        self.high_watermark.send_if_modified(|hw| {
            let advanced = end > *hw;
            if advanced {
                *hw = end;
            }
            advanced
        });
    }
}
