//! The values that cross module boundaries: label sets, alerts as the rule
//! engine hands them to the notifier, and notifications as the dispatcher
//! hands them to the outbox.
//!
//! The alert model is Alertmanager's: an alert is firing while `ends_at`
//! lies in the future and resolved once it has passed. The rule engine
//! resends firing alerts with `ends_at` a few evaluation intervals ahead
//! (Prometheus' resend semantics), so an alert whose rule stopped being
//! evaluated resolves on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

/// Label names to values, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// A stable 64-bit hash of a label set (names and values, in order).
pub fn fingerprint(labels: &LabelSet) -> u64 {
    let mut hasher = Xxh3::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(value.as_bytes());
        hasher.update(&[0xff]);
    }
    hasher.digest()
}

/// Renders `{a="1", b="2"}` as Prometheus prints label sets.
pub fn format_labels(labels: &LabelSet) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// The label every alert carries: its rule's name.
pub const ALERT_NAME: &str = "alertname";

/// One alert, as the notifier sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// When the alert started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// When it resolved, or until when it is considered firing without a
    /// resend (ms since the epoch).
    pub ends_at_ms: i64,
    /// A link back to the rule's expression in Weir's UI.
    pub generator_url: String,
}

impl Alert {
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    pub fn name(&self) -> &str {
        self.labels.get(ALERT_NAME).map_or("", String::as_str)
    }

    /// Whether the alert is resolved as of `now_ms`.
    pub fn is_resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms <= now_ms
    }
}

/// One message to one receiver about one alert group: what the dispatcher
/// decided to send and the outbox delivers. Its `id` is fixed when it is
/// created and sent with every attempt (`webhook-id`), so receivers can
/// drop duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `msg_` and a random UUID.
    pub id: String,
    /// The receiver's name in the routing file.
    pub receiver: String,
    /// Identifies the alert group: the route's path and the group labels,
    /// as Alertmanager's `groupKey`. Stable across restarts, so it can key
    /// a PagerDuty incident.
    pub group_key: String,
    /// The values of the route's `group_by` labels.
    pub group_labels: LabelSet,
    /// The group's alerts, firing and resolved, as of `created_at_ms`.
    pub alerts: Vec<Alert>,
    pub created_at_ms: i64,
    /// Weir's own base URL, for links.
    pub external_url: String,
}

impl Notification {
    /// A fresh notification id.
    pub fn new_id() -> String {
        format!("msg_{}", uuid::Uuid::new_v4().simple())
    }

    /// Alerts firing as of the notification's creation.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| !a.is_resolved_at(self.created_at_ms))
    }

    /// Alerts resolved as of the notification's creation.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.is_resolved_at(self.created_at_ms))
    }

    /// `firing` if any alert is firing, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing().next().is_some() {
            "firing"
        } else {
            "resolved"
        }
    }

    /// Labels every alert has with the same value.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// Annotations every alert has with the same value.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprint_depends_on_names_and_values() {
        let a = fingerprint(&labels(&[("a", "bc")]));
        let b = fingerprint(&labels(&[("ab", "c")]));
        assert_ne!(a, b);
        assert_eq!(a, fingerprint(&labels(&[("a", "bc")])));
    }

    #[test]
    fn common_labels_keep_only_shared_pairs() {
        let alert = |l: LabelSet, ends| Alert {
            labels: l,
            annotations: LabelSet::new(),
            starts_at_ms: 0,
            ends_at_ms: ends,
            generator_url: String::new(),
        };
        let n = Notification {
            id: Notification::new_id(),
            receiver: "r".into(),
            group_key: "{}:{}".into(),
            group_labels: LabelSet::new(),
            alerts: vec![
                alert(labels(&[("alertname", "A"), ("x", "1")]), 100),
                alert(labels(&[("alertname", "A"), ("x", "2")]), 10),
            ],
            created_at_ms: 50,
            external_url: String::new(),
        };
        assert_eq!(n.common_labels(), labels(&[("alertname", "A")]));
        assert_eq!(n.status(), "firing");
        assert_eq!(n.firing().count(), 1);
        assert_eq!(n.resolved().count(), 1);
        assert_eq!(format_labels(&labels(&[("a", "x\"y")])), r#"{a="x\"y"}"#);
    }
}
