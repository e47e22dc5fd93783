//! What the HTTP API reads from a running engine.

use serde::Serialize;

use super::{Engine, lock};
use crate::dispatch::GroupView;
use crate::error::Result;
use crate::outbox::{Attempt, CorruptEntry, PendingView};
use crate::rules::RuleGroup;
use crate::rules::api::{AlertsData, RulesData, alerts_view, rules_view};

/// Most attempts one history request returns.
pub const MAX_HISTORY: usize = 1000;

/// The notification history: attempts newest first, what is pending, and
/// endpoints disabled by a 410.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsView {
    pub attempts: Vec<Attempt>,
    pub pending: Vec<PendingView>,
    pub disabled: Vec<String>,
    pub corrupt: Vec<CorruptEntry>,
}

impl Engine {
    fn groups_now(&self) -> Vec<RuleGroup> {
        let groups = self
            .inner
            .groups
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        groups.iter().map(|g| lock(g).clone()).collect()
    }

    /// `/api/v1/rules`; `type_filter` is `alert` or `record`.
    pub fn rules(&self, type_filter: Option<&str>) -> Result<RulesData> {
        rules_view(&self.groups_now(), type_filter)
    }

    /// `/api/v1/alerts`: every pending and firing alert.
    pub fn alerts(&self) -> AlertsData {
        alerts_view(&self.groups_now())
    }

    /// The dispatcher's aggregation groups.
    pub fn alert_groups(&self) -> Vec<GroupView> {
        self.inner.dispatcher().groups()
    }

    /// Up to `limit` (at most [`MAX_HISTORY`]) attempts and every pending
    /// entry.
    pub fn notifications(&self, limit: usize) -> NotificationsView {
        let outbox = &self.inner.outbox;
        NotificationsView {
            attempts: outbox.history(limit.min(MAX_HISTORY)),
            pending: outbox.pending(),
            disabled: outbox.disabled(),
            corrupt: outbox.corrupt_entries().to_vec(),
        }
    }
}
