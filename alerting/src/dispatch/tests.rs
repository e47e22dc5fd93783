//! Dispatcher scenarios on explicit timestamps: group_wait, group_interval
//! and repeat_interval, resolution, muting, uncommitted flushes, reloads,
//! restarts and bounds.

use std::time::Duration;

use super::*;
use crate::route::RouteConfig;

const S: i64 = 1_000;
const FAR: i64 = i64::MAX / 2;

fn route(yaml: &str) -> Route {
    let config: RouteConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let names = ["default", "db", "audit", "am"].map(String::from);
    Route::build(&config, &names).unwrap()
}

const TREE: &str = r#"
receiver: default
group_by: [alertname]
group_wait: 30s
group_interval: 5m
repeat_interval: 4h
routes:
  - matchers: ['team="db"']
    receiver: db
    continue: true
  - matchers: ['team="db"']
    receiver: audit
"#;

fn alert(name: &str, extra: &[(&str, &str)], starts: i64, ends: i64) -> Alert {
    let mut labels = LabelSet::new();
    labels.insert("alertname".into(), name.into());
    for (k, v) in extra {
        labels.insert((*k).into(), (*v).into());
    }
    Alert {
        labels,
        annotations: LabelSet::new(),
        starts_at_ms: starts,
        ends_at_ms: ends,
        generator_url: String::new(),
    }
}

fn dispatcher(yaml: &str) -> Dispatcher {
    Dispatcher::new(route(yaml), DispatchConfig::default())
}

fn none(_: &Alert) -> bool {
    false
}

/// Ticks and commits everything; returns (receiver, firing, resolved).
fn flush(d: &mut Dispatcher, now: i64) -> Vec<(String, usize, usize)> {
    let flushes = d.tick(now, &none);
    for f in &flushes {
        d.commit(f);
    }
    flushes
        .iter()
        .map(|f| {
            let n = &f.notification;
            (n.receiver.clone(), n.firing().count(), n.resolved().count())
        })
        .collect()
}

fn one(receiver: &str, firing: usize, resolved: usize) -> Vec<(String, usize, usize)> {
    vec![(receiver.to_owned(), firing, resolved)]
}

#[test]
fn a_new_group_waits_group_wait_then_batches_every_group_interval() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[("i", "1")], 0, FAR)], 0);
    assert_eq!(d.next_due_ms(), Some(30 * S));
    assert!(flush(&mut d, 29 * S).is_empty());
    assert_eq!(flush(&mut d, 30 * S), one("default", 1, 0));

    // Two more alerts of the group arrive; they go out together at the
    // next group_interval, not before.
    d.receive(vec![alert("A", &[("i", "2")], 40 * S, FAR)], 40 * S);
    d.receive(vec![alert("A", &[("i", "3")], 50 * S, FAR)], 50 * S);
    assert!(flush(&mut d, 329 * S).is_empty());
    assert_eq!(flush(&mut d, 330 * S), one("default", 3, 0));
    // Nothing changed: nothing until repeat_interval.
    assert!(flush(&mut d, 630 * S).is_empty());
}

#[test]
fn unchanged_groups_repeat_after_repeat_interval() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    assert_eq!(flush(&mut d, 30 * S).len(), 1);
    let mut sent = Vec::new();
    let mut t = 30 * S;
    while t <= 30 * S + 4 * 3600 * S {
        t += 300 * S;
        if !flush(&mut d, t).is_empty() {
            sent.push(t);
        }
    }
    // The first flush at or after 4h past the first notification.
    assert_eq!(sent, vec![30 * S + 4 * 3600 * S]);
}

#[test]
fn resolution_is_sent_once_and_the_group_ends() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    flush(&mut d, 30 * S);
    d.receive(vec![alert("A", &[], 0, 100 * S)], 100 * S);
    assert_eq!(flush(&mut d, 330 * S), one("default", 0, 1));
    assert!(d.groups().is_empty());
    assert!(d.alerts().is_empty());
    assert_eq!(d.next_due_ms(), None);
}

#[test]
fn an_alert_that_fired_and_resolved_between_flushes_is_never_sent() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, 10 * S)], 0);
    assert!(flush(&mut d, 30 * S).is_empty());
    assert!(d.groups().is_empty());
}

#[test]
fn a_flush_that_is_not_committed_is_decided_again() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    let first = d.tick(30 * S, &none);
    assert_eq!(first.len(), 1);
    // The outbox refused it: no commit. The next flush tries again with a
    // new notification.
    let again = d.tick(330 * S, &none);
    assert_eq!(again.len(), 1);
    assert_ne!(first[0].notification.id, again[0].notification.id);
    d.commit(&again[0]);
    assert!(d.tick(630 * S, &none).is_empty());
}

#[test]
fn an_alert_older_than_group_wait_is_flushed_at_once() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 60 * S);
    assert_eq!(d.next_due_ms(), Some(60 * S));
    assert_eq!(flush(&mut d, 60 * S), one("default", 1, 0));
}

#[test]
fn muted_alerts_are_left_out_and_not_logged() {
    let mut d = dispatcher(TREE);
    d.receive(
        vec![
            alert("A", &[("i", "1")], 0, FAR),
            alert("A", &[("i", "2")], 0, FAR),
        ],
        0,
    );
    let muted = |a: &Alert| a.labels.get("i").map(String::as_str) == Some("2");
    let flushes = d.tick(30 * S, &muted);
    assert_eq!(flushes.len(), 1);
    assert_eq!(flushes[0].notification.alerts.len(), 1);
    d.commit(&flushes[0]);
    // Once the silence ends the alert is new to the receiver.
    let flushes = d.tick(330 * S, &none);
    assert_eq!(flushes.len(), 1);
    assert_eq!(flushes[0].notification.alerts.len(), 2);

    let mut all_muted = dispatcher(TREE);
    all_muted.receive(vec![alert("B", &[], 0, FAR)], 0);
    assert!(all_muted.tick(30 * S, &|_| true).is_empty());
}

#[test]
fn groups_split_by_group_labels_and_continue_reaches_both_receivers() {
    let mut d = dispatcher(TREE);
    d.receive(
        vec![
            alert("A", &[], 0, FAR),
            alert("B", &[], 0, FAR),
            alert("C", &[("team", "db")], 0, FAR),
        ],
        0,
    );
    let mut got = flush(&mut d, 30 * S);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("audit".to_owned(), 1, 0),
            ("db".to_owned(), 1, 0),
            ("default".to_owned(), 1, 0),
            ("default".to_owned(), 1, 0),
        ]
    );
    let keys: Vec<String> = d.groups().into_iter().map(|g| g.group_key).collect();
    assert!(
        keys.contains(&r#"{}/{team="db"}:{alertname="C"}"#.to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&r#"{}:{alertname="A"}"#.to_owned()),
        "{keys:?}"
    );
}

#[test]
fn a_restart_neither_repeats_nor_forgets() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    flush(&mut d, 30 * S);
    d.receive(vec![alert("B", &[], 40 * S, FAR)], 40 * S);
    let snapshot: Snapshot =
        serde_json::from_str(&serde_json::to_string(&d.snapshot()).unwrap()).unwrap();

    let mut restarted = Dispatcher::restore(route(TREE), DispatchConfig::default(), snapshot);
    // A's group keeps its timer and its log: no repeat at restart.
    assert_eq!(restarted.next_due_ms(), Some(70 * S));
    assert_eq!(flush(&mut restarted, 70 * S), one("default", 1, 0));
    assert!(flush(&mut restarted, 330 * S).is_empty());
}

#[test]
fn a_reload_keeps_timers_of_groups_that_still_exist() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[("i", "1")], 0, FAR)], 0);
    flush(&mut d, 30 * S);
    d.set_route(route(TREE), DispatchConfig::default());
    assert_eq!(d.next_due_ms(), Some(330 * S));
    assert!(flush(&mut d, 330 * S).is_empty());

    // A new tree that groups differently makes new groups, flushed at once
    // (their alerts are older than group_wait); the log still knows what
    // the receiver heard under the old key only, so it is told again.
    d.set_route(
        route("receiver: default\ngroup_by: ['...']\ngroup_wait: 30s\n"),
        DispatchConfig::default(),
    );
    assert_eq!(flush(&mut d, 340 * S), one("default", 1, 0));
}

#[test]
fn receivers_with_a_resend_interval_hear_firing_alerts_that_often() {
    let mut config = DispatchConfig::default();
    config
        .resend
        .insert("default".into(), Duration::from_secs(60));
    let mut d = Dispatcher::new(route("receiver: default\ngroup_interval: 1m\n"), config);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    assert_eq!(flush(&mut d, 30 * S).len(), 1);
    assert_eq!(flush(&mut d, 90 * S).len(), 1);
    assert_eq!(flush(&mut d, 150 * S).len(), 1);
}

#[test]
fn receivers_without_resolutions_are_not_told_of_a_partial_resolution() {
    let yaml = "receiver: default\ngroup_wait: 0s\n";
    let run = |without: bool| {
        let mut config = DispatchConfig::default();
        if without {
            config.without_resolved.insert("default".into());
        }
        let mut d = Dispatcher::new(route(yaml), config);
        d.receive(vec![alert("A", &[], 0, FAR), alert("B", &[], 0, FAR)], 0);
        flush(&mut d, 0);
        d.receive(vec![alert("B", &[], 0, 100 * S)], 100 * S);
        flush(&mut d, 300 * S)
    };
    assert_eq!(run(false), one("default", 1, 1));
    assert!(run(true).is_empty());
}

#[test]
fn alerts_beyond_the_bounds_are_dropped() {
    let config = DispatchConfig {
        max_groups: 2,
        max_alerts: 3,
        ..DispatchConfig::default()
    };
    let mut d = Dispatcher::new(route(TREE), config);
    d.receive(
        (0..5)
            .map(|i| alert(&format!("A{i}"), &[], 0, FAR))
            .collect(),
        0,
    );
    assert_eq!(d.groups().len(), 2);
    assert_eq!(d.alerts().len(), 3);
}

#[test]
fn a_refiring_alert_after_resolution_starts_fresh() {
    let mut d = dispatcher(TREE);
    d.receive(vec![alert("A", &[], 0, FAR)], 0);
    flush(&mut d, 30 * S);
    d.receive(vec![alert("A", &[], 0, 100 * S)], 100 * S);
    flush(&mut d, 330 * S);
    d.receive(vec![alert("A", &[], 400 * S, FAR)], 400 * S);
    let alerts = d.alerts();
    assert_eq!(alerts[0].starts_at_ms, 400 * S);
    assert_eq!(flush(&mut d, 430 * S), one("default", 1, 0));
}
