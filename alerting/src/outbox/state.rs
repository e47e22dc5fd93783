//! The outbox's in-memory state, behind one lock that is never held
//! across an await: pending entries (mirroring the outbox topic), which
//! of them are claimed, the configured integrations, disabled endpoints
//! (mirroring `disabled/` keys of the state topic) and the history.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::notify::{Integration, ReceiverConfig};

use super::entry::{DisabledRecord, Entry};
use super::history::{Attempt, AttemptOutcome, History, PendingView};
use super::metric;

pub(super) struct State {
    /// Pending entries by key.
    pub entries: BTreeMap<String, Entry>,
    /// Keys an attempt or a write is running for.
    pub claimed: HashSet<String>,
    /// Integration ids by receiver name, in configuration order.
    pub receivers: HashMap<String, Vec<String>>,
    /// Configured integrations by id.
    pub integrations: HashMap<String, Integration>,
    /// Disabled integrations by id.
    pub disabled: BTreeMap<String, DisabledRecord>,
    /// Integrations enabled again whose `disabled/` key is still stored.
    pub stale_disabled: BTreeSet<String>,
    pub history: History,
}

/// What a history record says beyond the entry it is about.
pub(super) struct Record {
    pub attempt: u32,
    pub at_ms: i64,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_ms: Option<i64>,
}

impl State {
    pub fn new(history_len: usize) -> State {
        State {
            entries: BTreeMap::new(),
            claimed: HashSet::new(),
            receivers: HashMap::new(),
            integrations: HashMap::new(),
            disabled: BTreeMap::new(),
            stale_disabled: BTreeSet::new(),
            history: History::new(history_len),
        }
    }

    /// Replaces the configured integrations. A disabled integration that
    /// is gone or whose configuration hash changed is enabled again (its
    /// stored key is deleted by the next pass).
    pub fn set_receivers(&mut self, receivers: &[ReceiverConfig]) {
        self.receivers.clear();
        self.integrations.clear();
        for receiver in receivers {
            let integrations = receiver.integrations();
            let ids = integrations.iter().map(Integration::id).collect();
            self.receivers.insert(receiver.name.clone(), ids);
            for integration in integrations {
                self.integrations.insert(integration.id(), integration);
            }
        }
        let integrations = &self.integrations;
        let mut enabled = Vec::new();
        self.disabled.retain(|id, record| {
            let keep = integrations
                .get(id)
                .is_some_and(|i| i.config_hash() == record.config_hash);
            if !keep {
                enabled.push(id.clone());
            }
            keep
        });
        for id in enabled {
            tracing::info!(integration = %id, "disabled endpoint enabled again: configuration changed");
            self.stale_disabled.insert(id);
        }
    }

    /// Records `record` about `entry` in the history and the metrics.
    pub fn record(&mut self, entry: &Entry, record: Record) {
        let notification = &entry.notification;
        let outcome = record.outcome.as_str();
        if record.attempt > 0 {
            metrics::counter!(metric::DELIVERY_ATTEMPTS_TOTAL, "outcome" => outcome).increment(1);
        }
        if record.outcome.is_final() {
            metrics::counter!(
                metric::NOTIFICATIONS_TOTAL,
                "receiver" => notification.receiver.clone(),
                "integration" => entry.integration_id.clone(),
                "outcome" => outcome,
            )
            .increment(1);
        }
        let kind = self.integrations.get(&entry.integration_id).map(|i| i.kind);
        self.history.push(Attempt {
            notification_id: notification.id.clone(),
            receiver: notification.receiver.clone(),
            integration: entry.integration_id.clone(),
            kind,
            group_key: notification.group_key.clone(),
            attempt: record.attempt,
            at_ms: record.at_ms,
            outcome: record.outcome,
            status: record.status,
            error: record.error,
            next_attempt_ms: record.next_attempt_ms,
        });
    }

    /// The soonest `next_attempt_ms` of an unclaimed entry.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.entries
            .iter()
            .filter(|(key, _)| !self.claimed.contains(*key))
            .map(|(_, entry)| entry.next_attempt_ms)
            .min()
    }

    pub fn pending(&self) -> Vec<PendingView> {
        let mut views: Vec<PendingView> = self
            .entries
            .iter()
            .map(|(key, entry)| PendingView {
                key: key.clone(),
                notification_id: entry.notification.id.clone(),
                receiver: entry.notification.receiver.clone(),
                integration: entry.integration_id.clone(),
                group_key: entry.notification.group_key.clone(),
                enqueued_at_ms: entry.enqueued_at_ms,
                attempts: entry.attempts,
                next_attempt_ms: entry.next_attempt_ms,
                last_error: entry.last_error.clone(),
                in_flight: self.claimed.contains(key),
            })
            .collect();
        views.sort_by(|a, b| (a.next_attempt_ms, &a.key).cmp(&(b.next_attempt_ms, &b.key)));
        views
    }

    /// Sets the pending gauge.
    pub fn report_pending(&self) {
        metrics::gauge!(metric::OUTBOX_PENDING).set(self.entries.len() as f64);
    }
}
