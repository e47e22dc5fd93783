//! The alerts of a notification as one integration sees them: resolved
//! alerts dropped when the integration does not want them, and the values
//! every payload derives from that selection (status, common labels, the
//! one-line title).
//!
//! Invariant: a [`Group`] is never empty and, when built without resolved
//! alerts, has at least one firing alert; a notification with nothing to
//! send yields no group.

use crate::model::{Alert, LabelSet, Notification};

/// The selected alerts of one notification, firing first in the
/// notification's order, then resolved.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub notification: &'a Notification,
    pub firing: Vec<&'a Alert>,
    pub resolved: Vec<&'a Alert>,
    include_resolved: bool,
}

impl<'a> Group<'a> {
    /// `None` when there is nothing to send: no alerts at all, or only
    /// resolved ones and `send_resolved` is false.
    pub fn select(notification: &'a Notification, send_resolved: bool) -> Option<Group<'a>> {
        let firing: Vec<&Alert> = notification.firing().collect();
        let resolved: Vec<&Alert> = if send_resolved {
            notification.resolved().collect()
        } else {
            Vec::new()
        };
        if firing.is_empty() && resolved.is_empty() {
            return None;
        }
        Some(Group {
            notification,
            firing,
            resolved,
            include_resolved: send_resolved,
        })
    }

    /// The selected alerts in the notification's order.
    pub fn alerts(&self) -> impl Iterator<Item = &'a Alert> + '_ {
        self.notification
            .alerts
            .iter()
            .filter(|a| self.is_selected(a))
    }

    fn is_selected(&self, alert: &Alert) -> bool {
        self.include_resolved || !self.is_resolved(alert)
    }

    pub fn is_resolved(&self, alert: &Alert) -> bool {
        alert.is_resolved_at(self.notification.created_at_ms)
    }

    /// `firing` if any selected alert is firing, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing.is_empty() {
            "resolved"
        } else {
            "firing"
        }
    }

    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts().map(|a| &a.labels))
    }

    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts().map(|a| &a.annotations))
    }

    /// Alertmanager's default title: `[FIRING:2] <group label values>
    /// (<other common label values>)`, or `[RESOLVED] …`.
    pub fn title(&self) -> String {
        let mut title = if self.firing.is_empty() {
            "[RESOLVED]".to_owned()
        } else {
            format!("[FIRING:{}]", self.firing.len())
        };
        let group_labels = &self.notification.group_labels;
        for value in group_labels.values() {
            title.push(' ');
            title.push_str(value);
        }
        let common = self.common_labels();
        let rest: Vec<&str> = common
            .iter()
            .filter(|(name, _)| !group_labels.contains_key(*name))
            .map(|(_, value)| value.as_str())
            .collect();
        if !rest.is_empty() {
            title.push_str(&format!(" ({})", rest.join(" ")));
        }
        title
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut common = first.clone();
    for set in sets {
        common.retain(|k, v| set.get(k) == Some(v));
    }
    common
}
