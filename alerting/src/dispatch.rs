//! The dispatcher: Alertmanager's aggregation groups and notification
//! log, on explicit timestamps.
//!
//! Alerts arrive from the rule engine ([`Dispatcher::receive`]); each one
//! goes to every route [`Route::matching`] returns, into the aggregation
//! group keyed by (route id, group labels). A group is flushed
//! `group_wait` after it was created (at once if its first alert is
//! already older than that), then every `group_interval`. A flush sends a
//! notification when, compared with what the notification log says was
//! last sent to the receiver for that group:
//!
//! - an unmuted firing alert is new,
//! - an alert resolved since (for receivers that want resolutions), or
//!   every firing alert resolved,
//! - or `repeat_interval` has passed (for receivers that Weir forwards to
//!   an Alertmanager, the shorter of that and their resend interval, so
//!   the Alertmanager never times the alerts out).
//!
//! Muted alerts (silenced or inhibited, decided by the caller's `muted`)
//! are left out of the notification and of the log.
//!
//! # Invariants
//! - [`Dispatcher::tick`] only decides; the log changes, and resolved
//!   alerts leave their group, when the caller [`Dispatcher::commit`]s a
//!   flush after the outbox accepted its notification. A flush that is not
//!   committed is decided again at the group's next flush.
//! - Group keys (`{}/{team="db"}:{alertname="X"}`) and the log are stable
//!   across restarts ([`Snapshot`]) and reloads ([`Dispatcher::set_route`]),
//!   so neither repeats a notification nor forgets one owed.
//! - Groups are at most `max_groups`, alerts at most `max_alerts`; alerts
//!   beyond either are dropped with a warning and a counter.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::model::{Alert, LabelSet, Notification, format_labels};
use crate::route::Route;
use crate::rules::rule::millis;

/// Names of the dispatcher's metrics.
pub mod metric {
    /// Alerts dropped because a bound was reached, by `bound`
    /// (`max_groups`, `max_alerts`).
    pub const DROPPED_ALERTS_TOTAL: &str = "weir_alerting_dispatch_dropped_alerts_total";
    /// Aggregation groups.
    pub const GROUPS: &str = "weir_alerting_dispatch_groups";
}

/// How the dispatcher is bounded and what it stamps on notifications.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Weir's own base URL, carried in every notification.
    pub external_url: String,
    /// Receivers that must hear about firing alerts at least this often,
    /// by name: those with an Alertmanager integration.
    pub resend: BTreeMap<String, Duration>,
    /// Receivers none of whose integrations sends resolutions: a newly
    /// resolved alert alone is no reason to notify them.
    pub without_resolved: BTreeSet<String>,
    pub max_groups: usize,
    pub max_alerts: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            external_url: String::new(),
            resend: BTreeMap::new(),
            without_resolved: BTreeSet::new(),
            // A group is a page to somebody; ten thousand at once is a
            // routing tree grouping by a label it should not.
            max_groups: 10_000,
            max_alerts: 100_000,
        }
    }
}

/// What the notification log remembers of the last notification sent to
/// a receiver for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub receiver: String,
    pub group_key: String,
    pub sent_at_ms: i64,
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
}

/// A group's timer, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTimer {
    pub route_id: String,
    pub group_key: String,
    pub next_flush_ms: i64,
}

/// Everything a restart needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub alerts: Vec<Alert>,
    pub groups: Vec<GroupTimer>,
    pub log: Vec<LogEntry>,
}

/// A notification [`Dispatcher::tick`] decided to send.
#[derive(Debug, Clone)]
pub struct Flush {
    pub notification: Notification,
    group: GroupId,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
}

/// One aggregation group, for the API.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub route_id: String,
    pub group_key: String,
    pub receiver: String,
    pub labels: LabelSet,
    pub next_flush_ms: i64,
    pub alerts: Vec<Alert>,
}

type GroupId = (String, LabelSet);

#[derive(Debug, Clone)]
struct Group {
    key: String,
    receiver: String,
    group_interval: Duration,
    repeat_interval: Duration,
    next_flush_ms: i64,
    alerts: BTreeMap<u64, Alert>,
}

/// Aggregation groups, the alerts in them and the notification log.
pub struct Dispatcher {
    route: Route,
    config: DispatchConfig,
    alerts: BTreeMap<u64, Alert>,
    groups: BTreeMap<GroupId, Group>,
    log: BTreeMap<(String, String), LogEntry>,
}

impl Dispatcher {
    pub fn new(route: Route, config: DispatchConfig) -> Dispatcher {
        Dispatcher {
            route,
            config,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            log: BTreeMap::new(),
        }
    }

    /// Rebuilds the state `snapshot` recorded under (possibly a new)
    /// `route`: alerts are routed again; groups that still exist keep
    /// their timers; the log is kept whole.
    pub fn restore(route: Route, config: DispatchConfig, snapshot: Snapshot) -> Dispatcher {
        let mut dispatcher = Dispatcher::new(route, config);
        dispatcher.log = snapshot
            .log
            .into_iter()
            .map(|e| ((e.receiver.clone(), e.group_key.clone()), e))
            .collect();
        dispatcher.reroute(snapshot.alerts, &snapshot.groups);
        dispatcher
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            alerts: self.alerts.values().cloned().collect(),
            groups: self
                .groups
                .iter()
                .map(|((route_id, _), g)| GroupTimer {
                    route_id: route_id.clone(),
                    group_key: g.key.clone(),
                    next_flush_ms: g.next_flush_ms,
                })
                .collect(),
            log: self.log.values().cloned().collect(),
        }
    }

    /// Takes a reloaded routing tree: alerts are routed again and groups
    /// that exist under both keep their timers.
    pub fn set_route(&mut self, route: Route, config: DispatchConfig) {
        let timers = self.snapshot().groups;
        let alerts = std::mem::take(&mut self.alerts).into_values().collect();
        self.groups.clear();
        self.route = route;
        self.config = config;
        self.reroute(alerts, &timers);
        // Log entries of groups that no longer exist are kept: the group
        // may come back, and without them it would re-notify at once.
    }

    fn reroute(&mut self, alerts: Vec<Alert>, timers: &[GroupTimer]) {
        for alert in alerts {
            // Group creation time is unknown here; timers restore it below.
            self.insert(alert, i64::MIN);
        }
        for timer in timers {
            let found = self
                .groups
                .iter_mut()
                .find(|((route_id, _), g)| *route_id == timer.route_id && g.key == timer.group_key);
            if let Some((_, group)) = found {
                group.next_flush_ms = timer.next_flush_ms;
            }
        }
    }

    /// Takes alerts from the rule engine at `now_ms`.
    pub fn receive(&mut self, alerts: Vec<Alert>, now_ms: i64) {
        for alert in alerts {
            self.insert(alert, now_ms);
        }
        metrics::gauge!(metric::GROUPS).set(self.groups.len() as f64);
    }

    fn insert(&mut self, alert: Alert, now_ms: i64) {
        let fingerprint = alert.fingerprint();
        let alert = match self.alerts.get(&fingerprint) {
            Some(old) => merge(old, alert),
            None if self.alerts.len() >= self.config.max_alerts => {
                drop_alert(&alert, "max_alerts");
                return;
            }
            None => alert,
        };
        self.alerts.insert(fingerprint, alert.clone());
        let routes: Vec<Route> = self
            .route
            .matching(&alert.labels)
            .into_iter()
            .cloned()
            .collect();
        for route in routes {
            let id = (route.id().to_owned(), route.group_labels(&alert.labels));
            if !self.groups.contains_key(&id) {
                if self.groups.len() >= self.config.max_groups {
                    drop_alert(&alert, "max_groups");
                    continue;
                }
                let group = new_group(&route, &id.1, &alert, now_ms);
                self.groups.insert(id.clone(), group);
            }
            if let Some(group) = self.groups.get_mut(&id) {
                group.alerts.insert(fingerprint, alert.clone());
            }
        }
    }

    /// The soonest time a group is due, if there is a group.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    /// Flushes every group due at `now_ms` and returns the notifications
    /// to send. `muted` says whether an alert is silenced or inhibited.
    pub fn tick(&mut self, now_ms: i64, muted: &dyn Fn(&Alert) -> bool) -> Vec<Flush> {
        let mut flushes = Vec::new();
        let mut emptied = Vec::new();
        for (id, group) in &mut self.groups {
            if group.next_flush_ms > now_ms {
                continue;
            }
            group.next_flush_ms = now_ms.saturating_add(millis(group.group_interval));
            let alerts: Vec<Alert> = group
                .alerts
                .values()
                .filter(|a| !muted(a))
                .cloned()
                .collect();
            let (firing, resolved) = split(&alerts, now_ms);
            let log_key = (group.receiver.clone(), group.key.clone());
            let repeat = match self.config.resend.get(&group.receiver) {
                Some(resend) => group.repeat_interval.min(*resend),
                None => group.repeat_interval,
            };
            let send_resolved = !self.config.without_resolved.contains(&group.receiver);
            let send = needs_update(
                self.log.get(&log_key),
                (&firing, &resolved),
                send_resolved,
                now_ms,
                repeat,
            );
            if send {
                flushes.push(Flush {
                    notification: Notification {
                        id: Notification::new_id(),
                        receiver: group.receiver.clone(),
                        group_key: group.key.clone(),
                        group_labels: id.1.clone(),
                        alerts,
                        created_at_ms: now_ms,
                        external_url: self.config.external_url.clone(),
                    },
                    group: id.clone(),
                    firing,
                    resolved,
                });
            } else {
                // Nothing owed: resolved alerts have nothing left to say.
                group.alerts.retain(|_, a| !a.is_resolved_at(now_ms));
                if group.alerts.is_empty() {
                    emptied.push(id.clone());
                }
            }
        }
        for id in emptied {
            self.groups.remove(&id);
        }
        self.collect_resolved(now_ms);
        metrics::gauge!(metric::GROUPS).set(self.groups.len() as f64);
        flushes
    }

    /// Records that `flush`'s notification is in the outbox: the log
    /// remembers what it said, and its resolved alerts that did not change
    /// since leave the group.
    pub fn commit(&mut self, flush: &Flush) {
        let notification = &flush.notification;
        let entry = LogEntry {
            receiver: notification.receiver.clone(),
            group_key: notification.group_key.clone(),
            sent_at_ms: notification.created_at_ms,
            firing: flush.firing.clone(),
            resolved: flush.resolved.clone(),
        };
        self.log
            .insert((entry.receiver.clone(), entry.group_key.clone()), entry);
        if let Some(group) = self.groups.get_mut(&flush.group) {
            for alert in notification.resolved() {
                let fingerprint = alert.fingerprint();
                if group.alerts.get(&fingerprint) == Some(alert) {
                    group.alerts.remove(&fingerprint);
                }
            }
            if group.alerts.is_empty() {
                self.groups.remove(&flush.group);
            }
        }
        self.collect_resolved(notification.created_at_ms);
    }

    /// Forgets resolved alerts no group holds, and log entries whose group
    /// is gone and whose last notification only resolved.
    fn collect_resolved(&mut self, now_ms: i64) {
        if self.alerts.values().all(|a| !a.is_resolved_at(now_ms)) {
            return;
        }
        let held: HashSet<u64> = self
            .groups
            .values()
            .flat_map(|g| g.alerts.keys().copied())
            .collect();
        self.alerts
            .retain(|fp, a| held.contains(fp) || !a.is_resolved_at(now_ms));
        let live: HashSet<(&str, &str)> = self
            .groups
            .values()
            .map(|g| (g.receiver.as_str(), g.key.as_str()))
            .collect();
        self.log.retain(|(receiver, key), entry| {
            !entry.firing.is_empty() || live.contains(&(receiver.as_str(), key.as_str()))
        });
    }

    /// Every alert the dispatcher holds.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.values().cloned().collect()
    }

    /// Every aggregation group.
    pub fn groups(&self) -> Vec<GroupView> {
        self.groups
            .iter()
            .map(|((route_id, labels), g)| GroupView {
                route_id: route_id.clone(),
                group_key: g.key.clone(),
                receiver: g.receiver.clone(),
                labels: labels.clone(),
                next_flush_ms: g.next_flush_ms,
                alerts: g.alerts.values().cloned().collect(),
            })
            .collect()
    }
}

fn new_group(route: &Route, labels: &LabelSet, first: &Alert, now_ms: i64) -> Group {
    let wait = millis(route.group_wait());
    // An alert that has been firing longer than group_wait (or a group
    // rebuilt on restart) is flushed at once, as Alertmanager does.
    let next_flush_ms = if now_ms == i64::MIN || first.starts_at_ms.saturating_add(wait) < now_ms {
        now_ms.max(0)
    } else {
        now_ms.saturating_add(wait)
    };
    Group {
        key: format!("{}:{}", route.key(), format_labels(labels)),
        receiver: route.receiver().to_owned(),
        group_interval: route.group_interval(),
        repeat_interval: route.repeat_interval(),
        next_flush_ms,
        alerts: BTreeMap::new(),
    }
}

/// Alertmanager's merge: a new alert continues an old one that has not
/// resolved before it started, keeping the earlier start.
fn merge(old: &Alert, new: Alert) -> Alert {
    if new.starts_at_ms > old.ends_at_ms {
        return new;
    }
    Alert {
        starts_at_ms: old.starts_at_ms.min(new.starts_at_ms),
        ..new
    }
}

fn split(alerts: &[Alert], now_ms: i64) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let mut firing = BTreeSet::new();
    let mut resolved = BTreeSet::new();
    for alert in alerts {
        if alert.is_resolved_at(now_ms) {
            resolved.insert(alert.fingerprint());
        } else {
            firing.insert(alert.fingerprint());
        }
    }
    (firing, resolved)
}

/// Alertmanager's `DedupStage.needsUpdate`.
fn needs_update(
    entry: Option<&LogEntry>,
    (firing, resolved): (&BTreeSet<u64>, &BTreeSet<u64>),
    send_resolved: bool,
    now_ms: i64,
    repeat: Duration,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: say so once if the last message had any
        // firing alert; alerts that fired and resolved between two
        // flushes the receiver never heard of.
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    entry.sent_at_ms.saturating_add(millis(repeat)) <= now_ms
}

fn drop_alert(alert: &Alert, bound: &'static str) {
    warn!(
        alert = alert.name(),
        labels = %format_labels(&alert.labels),
        bound,
        "dispatcher full, alert dropped"
    );
    metrics::counter!(metric::DROPPED_ALERTS_TOTAL, "bound" => bound).increment(1);
}
