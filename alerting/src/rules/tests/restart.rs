//! State across a restart (snapshot → JSON → restore into a freshly
//! loaded group) and across a reload (carry-over between groups).

use super::*;
use crate::rules::group::GroupSnapshot;
use crate::rules::state::AlertState::{Firing, Pending};

const FILE: &str = "
groups:
  - name: load
    rules:
      - record: job:load:max
        expr: max(load)
      - alert: High
        expr: load > 1
        for: 1m
";

fn load_a() -> QuerySample {
    sample(&[("__name__", "load"), ("instance", "a")], 3.0)
}

/// Snapshot `group` through its JSON form into a fresh load of `FILE`.
fn restart(h: &Harness, group: &RuleGroup) -> RuleGroup {
    let json = serde_json::to_string(&group.snapshot()).unwrap();
    let snapshot: GroupSnapshot = serde_json::from_str(&json).unwrap();
    let mut fresh = h.load(FILE).remove(0);
    fresh.restore(snapshot);
    fresh
}

#[test]
fn restored_pending_alert_fires_at_its_original_time() {
    let h = Harness::new();
    let mut group = h.load(FILE).remove(0);
    h.querier
        .returns("load > 1", &[0, 15, 30, 45, 60], &[load_a()]);
    h.eval(&mut group, 0);
    h.eval(&mut group, 15);
    let mut group = restart(&h, &group);
    assert_eq!(only(&group, 1), Some((Pending, 0)));
    h.eval(&mut group, 30);
    h.eval(&mut group, 45);
    assert_eq!(only(&group, 1), Some((Pending, 0)));
    let sent = h.eval(&mut group, 60);
    assert_eq!(only(&group, 1), Some((Firing, 0)), "active_at + for");
    assert_eq!(sent.len(), 1);
}

#[test]
fn restored_firing_alert_is_not_resent_before_resend_delay() {
    let h = Harness::new();
    let mut group = h.load(FILE).remove(0);
    let times: Vec<i64> = (0..=150).step_by(15).collect();
    h.querier.returns("load > 1", &times, &[load_a()]);
    for t in [0, 15, 30, 45] {
        h.eval(&mut group, t);
    }
    assert_eq!(h.eval(&mut group, 60).len(), 1);
    let mut group = restart(&h, &group);
    assert_eq!(
        only(&group, 1),
        Some((Firing, 0)),
        "no second pending period"
    );
    for t in [75, 90, 105, 120] {
        assert!(h.eval(&mut group, t).is_empty(), "not resent at {t}s");
    }
    assert_eq!(h.eval(&mut group, 135).len(), 1);
    assert_eq!(alerts(&group, 1)[0].fired_at_ms, Some(60_000));
}

#[test]
fn snapshots_match_rules_by_position_and_name() {
    let h = Harness::new();
    let mut group = h.load(FILE).remove(0);
    h.querier.returns("load > 1", &[0], &[load_a()]);
    h.eval(&mut group, 0);
    let snapshot = group.snapshot();
    assert_eq!(snapshot.rules.len(), 1, "only alerting rules");
    assert_eq!(snapshot.rules[0].position, 1);
    let renamed = FILE.replace("alert: High", "alert: Higher");
    let mut other = h.load(&renamed).remove(0);
    other.restore(snapshot);
    assert_eq!(only(&other, 1), None);
}

#[test]
fn reload_carries_alerts_of_unchanged_rules() {
    let h = Harness::new();
    let mut group = h.load(FILE).remove(0);
    h.querier.returns("load > 1", &[0], &[load_a()]);
    h.eval(&mut group, 0);

    let reworded = FILE.replace(
        "for: 1m",
        "for: 1m\n        annotations:\n          summary: hot",
    );
    let mut reloaded = h.load(&reworded).remove(0);
    assert_eq!(reloaded.identity(), group.identity());
    reloaded.carry_state_from(&group);
    assert_eq!(only(&reloaded, 1), Some((Pending, 0)));
    assert_eq!(reloaded.rules[1].status(), group.rules[1].status());
    assert_eq!(reloaded.last_evaluation_ms, Some(0));

    let changed = FILE.replace("load > 1", "load > 2");
    let mut reloaded = h.load(&changed).remove(0);
    reloaded.carry_state_from(&group);
    assert_eq!(only(&reloaded, 1), None, "a changed expression starts over");
}
