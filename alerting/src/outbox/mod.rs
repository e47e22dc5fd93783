//! The durable outbox: every notification the dispatcher sends is stored
//! here first and retried until its receiver takes it, refuses it, or it
//! is older than `max_age`; nothing is dropped without a record.
//!
//! # Format
//! One record of the outbox topic ([`crate::store::OUTBOX_TOPIC`]) per
//! pending (notification, integration), keyed
//! `<notification id>/<integration id>` (e.g.
//! `msg_2f1c…/oncall/webhook/0`), its value JSON:
//!
//! ```json
//! {"version": 1, "notification": {…}, "integration_id": "oncall/webhook/0",
//!  "enqueued_at_ms": 0, "attempts": 2, "next_attempt_ms": 0,
//!  "last_error": "HTTP 503: down for maintenance"}
//! ```
//!
//! A failed attempt rewrites the value (attempt count, schedule, error); a
//! finished entry (delivered, rejected, given up, disabled, dropped) is a
//! tombstone. A 410 answer writes `disabled/<integration id>` →
//! `{"config_hash", "disabled_at_ms", "error"}` to the state topic; the key
//! is deleted when the integration's configuration changes.
//!
//! One record per integration rather than per notification, because
//! integrations fail independently: a webhook that is down must not make
//! the Slack message of the same notification resend, and each keeps its
//! own attempt count and schedule with a single small write per attempt.
//!
//! # Invariants
//! - `enqueue` resolves only once every entry is durable; the dispatcher
//!   counts a notification as sent only then.
//! - An entry is attempted by one task at a time (it is claimed while an
//!   attempt or a write for it runs), and only its claimant writes its key.
//! - Every attempt passes the same stored notification, so the receiver
//!   sees the same `webhook-id` and body each time.
//! - Pending entries are at most `max_pending`, attempts at once at most
//!   `max_in_flight`, history at most `history_len`. Entries found on open
//!   are all kept even beyond `max_pending` (they were acknowledged);
//!   enqueueing then fails until they drain.
//! - A stored value that does not decode is reported (log, counter,
//!   [`Outbox::corrupt_entries`]), skipped and left in place.
//!
//! # Crash windows
//! - Before `enqueue` resolved: the dispatcher did not count the
//!   notification as sent and produces it again; an entry that did become
//!   durable is delivered too, so the receiver may see two notifications
//!   with different ids for the same group, never none.
//! - After a successful attempt, before its tombstone is durable: the
//!   entry is attempted again after the restart with the same
//!   notification id (`webhook-id`). Delivery is at-least-once; receivers
//!   deduplicate by `webhook-id`.
//! - After a failed attempt, before the rewrite is durable: the restart
//!   sees the previous attempt count and schedule, so it retries sooner.
//!
//! # Layout
//! - [`config`]: the settings, [`OutboxConfig`].
//! - [`entry`]: the stored records and the backoff schedule.
//! - [`deliver`]: [`Deliver`] and the HTTP implementation.
//! - [`history`]: attempts and views for the API.
//! - `pass`: one delivery pass and how each outcome is settled.
//! - `state`: the in-memory state behind the lock.

pub mod config;
pub mod deliver;
pub mod entry;
pub mod history;
mod pass;
mod state;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::warn;

use crate::clock::SharedClock;
use crate::error::Result;
use crate::model::Notification;
use crate::notify::ReceiverConfig;
use crate::store::KeyedTopic;

pub use config::OutboxConfig;
pub use deliver::{BoxFuture, Deliver, HttpDeliver};
pub use history::{Attempt, AttemptOutcome, CorruptEntry, PendingView};

use entry::{DISABLED_PREFIX, DisabledRecord, Entry};
use state::State;

/// Names of the outbox's metrics.
pub mod metric {
    /// Finished entries, by `receiver`, `integration` and `outcome`
    /// (`delivered`, `rejected`, `gave_up`, `disabled`, `dropped`).
    pub const NOTIFICATIONS_TOTAL: &str = "weir_alerting_notifications_total";
    /// Entries waiting for delivery.
    pub const OUTBOX_PENDING: &str = "weir_alerting_outbox_pending";
    /// Attempts, by `outcome` (`delivered`, `retrying`, `rejected`,
    /// `gave_up`, `disabled`).
    pub const DELIVERY_ATTEMPTS_TOTAL: &str = "weir_alerting_delivery_attempts_total";
    /// Notifications refused because `max_pending` entries were pending.
    pub const OUTBOX_FULL_TOTAL: &str = "weir_alerting_outbox_full_total";
    /// Stored values skipped on open because they did not decode.
    pub const OUTBOX_CORRUPT_TOTAL: &str = "weir_alerting_outbox_corrupt_entries_total";
}

/// The longest the runner sleeps without looking at the clock, so a clock
/// that jumps forward is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// The shortest sleep between passes, so entries claimed by a concurrent
/// pass do not make the runner spin.
const MIN_SLEEP: Duration = Duration::from_millis(10);

/// The durable outbox.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// What the outbox's tasks share.
struct Shared {
    topic: KeyedTopic,
    state_topic: KeyedTopic,
    config: OutboxConfig,
    deliver: Arc<dyn Deliver>,
    clock: SharedClock,
    state: Mutex<State>,
    /// Woken by `enqueue` and `set_receivers`.
    wake: Notify,
    corrupt: Vec<CorruptEntry>,
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock leaves state
    /// that is still consistent per field, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Outbox {
    /// Loads pending entries from `topic` and disabled endpoints from
    /// `state`, and starts from `receivers`.
    pub fn open(
        topic: KeyedTopic,
        state_topic: KeyedTopic,
        config: OutboxConfig,
        receivers: Vec<ReceiverConfig>,
        deliver: Arc<dyn Deliver>,
        clock: SharedClock,
    ) -> Result<Arc<Outbox>> {
        config.validate()?;
        let mut state = State::new(config.history_len);
        let mut corrupt = Vec::new();
        for (key, value) in topic.load()? {
            match Entry::decode(&key, &value) {
                Ok(entry) => {
                    state.entries.insert(key, entry);
                }
                Err(error) => {
                    warn!(key, %error, "skipping an outbox entry that does not decode");
                    metrics::counter!(metric::OUTBOX_CORRUPT_TOTAL).increment(1);
                    corrupt.push(CorruptEntry {
                        key,
                        error: error.to_string(),
                    });
                }
            }
        }
        for (key, value) in state_topic.load()? {
            let Some(id) = key.strip_prefix(DISABLED_PREFIX) else {
                continue;
            };
            match DisabledRecord::decode(&key, &value) {
                Ok(record) => {
                    state.disabled.insert(id.to_owned(), record);
                }
                Err(error) => {
                    warn!(key, %error, "skipping a disabled endpoint that does not decode");
                    metrics::counter!(metric::OUTBOX_CORRUPT_TOTAL).increment(1);
                    corrupt.push(CorruptEntry {
                        key,
                        error: error.to_string(),
                    });
                }
            }
        }
        state.set_receivers(&receivers);
        state.report_pending();
        Ok(Arc::new(Outbox {
            shared: Arc::new(Shared {
                topic,
                state_topic,
                config,
                deliver,
                clock,
                state: Mutex::new(state),
                wake: Notify::new(),
                corrupt,
            }),
        }))
    }

    /// Stores `notification` for each integration of its receiver;
    /// resolves once all are durable. Integrations disabled by a 410 are
    /// skipped with a history record; a notification already pending is
    /// not stored twice.
    pub async fn enqueue(&self, notification: Notification) -> Result<()> {
        pass::enqueue(&self.shared, notification).await
    }

    /// One delivery pass over the entries due now; returns how many were
    /// attempted. See `pass` for how outcomes are settled.
    pub async fn deliver_due(&self) -> usize {
        pass::deliver_due(&self.shared).await
    }

    /// Takes a reloaded configuration. Entries of integrations no longer
    /// configured are dropped (with history) by the next pass; a disabled
    /// integration whose configuration changed is enabled again.
    pub fn set_receivers(&self, receivers: Vec<ReceiverConfig>) {
        self.shared.lock().set_receivers(&receivers);
        self.shared.wake.notify_one();
    }

    /// Delivers until `stop` resolves: a pass, then a sleep until the
    /// next entry is due (at most [`MAX_SLEEP`]) or until woken.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = self.deliver_due() => {}
            }
            let sleep = self.until_next_due();
            tokio::select! {
                () = &mut stop => return,
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    fn until_next_due(&self) -> Duration {
        let now = self.shared.clock.now_ms();
        let Some(next) = self.shared.lock().next_due_ms() else {
            return MAX_SLEEP;
        };
        let wait = Duration::from_millis(next.saturating_sub(now).max(0) as u64);
        wait.clamp(MIN_SLEEP, MAX_SLEEP)
    }

    /// Up to `limit` attempts and decisions, newest first.
    pub fn history(&self, limit: usize) -> Vec<Attempt> {
        self.shared.lock().history.newest(limit)
    }

    /// Every pending entry, soonest due first.
    pub fn pending(&self) -> Vec<PendingView> {
        self.shared.lock().pending()
    }

    /// Ids of integrations disabled by a 410 answer.
    pub fn disabled(&self) -> Vec<String> {
        self.shared.lock().disabled.keys().cloned().collect()
    }

    /// Stored values skipped on open.
    pub fn corrupt_entries(&self) -> &[CorruptEntry] {
        &self.shared.corrupt
    }
}
