//! The alert lifecycle over successive evaluations every 15 s.

use super::*;
use crate::rules::rule::RuleHealth;
use crate::rules::state::AlertState::{Firing, Inactive, Pending};

const HIGH: &str = "
groups:
  - name: load
    interval: 15s
    rules:
      - alert: High
        expr: load > 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: load is high
";

const INSTANT: &str = "
groups:
  - name: load
    interval: 15s
    rules:
      - alert: High
        expr: load > 1
        keep_firing_for: 30s
";

fn load_a() -> QuerySample {
    sample(&[("__name__", "load"), ("instance", "a")], 3.0)
}

fn seconds(range: std::ops::RangeInclusive<i64>) -> Vec<i64> {
    range.step_by(15).collect()
}

#[test]
fn pending_fires_exactly_after_for() {
    let h = Harness::new();
    let mut group = h.load(HIGH).remove(0);
    h.querier
        .returns("load > 1", &seconds(0..=120), &[load_a()]);
    for t in [0, 15, 30, 45] {
        assert!(h.eval(&mut group, t).is_empty(), "pending is never sent");
        assert_eq!(only(&group, 0), Some((Pending, 0)), "at {t}s");
    }
    let sent = h.eval(&mut group, 60);
    assert_eq!(only(&group, 0), Some((Firing, 0)));
    assert_eq!(sent.len(), 1);
    let alert = &sent[0];
    assert_eq!(
        alert.labels,
        labels(&[
            ("alertname", "High"),
            ("cluster", "eu1"),
            ("instance", "a"),
            ("severity", "page")
        ])
    );
    assert_eq!(alert.annotations, labels(&[("summary", "load is high")]));
    assert_eq!(alert.starts_at_ms, 60_000, "starts when it fired");
    assert_eq!(alert.ends_at_ms, 60_000 + 4 * 60_000);
    assert_eq!(
        alert.generator_url,
        "http://weir.example:9090/graph?g0.expr=load+%3E+1&g0.tab=1"
    );
}

#[test]
fn flapping_resets_pending_and_resolved_alerts_start_over() {
    let h = Harness::new();
    let mut group = h.load(HIGH).remove(0);
    h.querier.returns("load > 1", &[0, 15], &[load_a()]);
    h.querier
        .returns("load > 1", &seconds(45..=105), &[load_a()]);
    h.querier.returns("load > 1", &[135], &[load_a()]);
    h.eval(&mut group, 0);
    h.eval(&mut group, 15);
    h.eval(&mut group, 30);
    assert_eq!(
        only(&group, 0),
        None,
        "a pending alert that dips is dropped"
    );
    h.eval(&mut group, 45);
    assert_eq!(only(&group, 0), Some((Pending, 45)), "new active_at");
    h.eval(&mut group, 90);
    assert_eq!(only(&group, 0), Some((Pending, 45)));
    h.eval(&mut group, 105);
    assert_eq!(only(&group, 0), Some((Firing, 45)));
    h.eval(&mut group, 120);
    assert_eq!(
        only(&group, 0),
        Some((Inactive, 45)),
        "resolved once absent"
    );
    assert_eq!(alerts(&group, 0)[0].resolved_at_ms, Some(120_000));
    h.eval(&mut group, 135);
    assert_eq!(only(&group, 0), Some((Pending, 135)), "back: pending again");
}

#[test]
fn keep_firing_for_holds_an_absent_alert_then_resolves() {
    let h = Harness::new();
    let mut group = h.load(INSTANT).remove(0);
    h.querier.returns("load > 1", &[0, 30], &[load_a()]);
    h.eval(&mut group, 0);
    assert_eq!(only(&group, 0), Some((Firing, 0)), "no for: fires at once");
    h.eval(&mut group, 15);
    assert_eq!(only(&group, 0), Some((Firing, 0)));
    assert_eq!(alerts(&group, 0)[0].keep_firing_since_ms, Some(15_000));
    h.eval(&mut group, 30);
    assert_eq!(alerts(&group, 0)[0].keep_firing_since_ms, None, "reset");
    for t in [45, 60] {
        h.eval(&mut group, t);
        assert_eq!(only(&group, 0), Some((Firing, 0)), "at {t}s");
    }
    h.eval(&mut group, 75);
    assert_eq!(only(&group, 0), Some((Inactive, 0)), "absent for 30s");
    assert_eq!(alerts(&group, 0)[0].resolved_at_ms, Some(75_000));
}

#[test]
fn resolution_is_sent_then_resent_until_retention_ends() {
    let h = Harness::new();
    let mut group = h
        .load(INSTANT.replace("keep_firing_for: 30s", "for: 0s").as_str())
        .remove(0);
    h.querier.returns("load > 1", &[0], &[load_a()]);
    assert_eq!(h.eval(&mut group, 0).len(), 1);
    let sent = h.eval(&mut group, 15);
    assert_eq!(sent.len(), 1, "the resolution is sent at once");
    assert_eq!(sent[0].ends_at_ms, 15_000, "ends when it resolved");
    assert_eq!(sent[0].starts_at_ms, 0);
    for t in [30, 45, 60, 75] {
        assert!(h.eval(&mut group, t).is_empty(), "not again at {t}s");
    }
    let again = h.eval(&mut group, 90);
    assert_eq!(again.len(), 1, "re-sent after resend_delay, as Prometheus");
    assert_eq!(again[0].ends_at_ms, 15_000);
    h.eval(&mut group, 915);
    assert_eq!(only(&group, 0), Some((Inactive, 0)), "kept for 15 minutes");
    assert!(h.eval(&mut group, 930).is_empty());
    assert_eq!(only(&group, 0), None, "forgotten after retention");
}

#[test]
fn firing_alerts_are_resent_after_resend_delay() {
    let h = Harness::new();
    let text = INSTANT.replace("keep_firing_for: 30s", "for: 0s");
    let mut group = h.load(&text).remove(0);
    h.querier
        .returns("load > 1", &seconds(0..=135), &[load_a()]);
    assert_eq!(h.eval(&mut group, 0)[0].ends_at_ms, 240_000);
    for t in [15, 30, 45, 60] {
        assert!(h.eval(&mut group, t).is_empty(), "not resent at {t}s");
    }
    let resent = h.eval(&mut group, 75);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].ends_at_ms, 75_000 + 4 * 60_000);
    assert_eq!(resent[0].starts_at_ms, 0);

    let slow = text.replace("interval: 15s", "interval: 2m");
    let mut group = h.load(&slow).remove(0);
    let sent = h.eval(&mut group, 0);
    assert_eq!(sent[0].ends_at_ms, 4 * 120_000, "4 × max(interval, resend)");
}

#[test]
fn same_labelset_after_dropping_the_name_fails_and_keeps_state() {
    let h = Harness::new();
    let mut group = h.load(HIGH).remove(0);
    h.querier.returns("load > 1", &[0], &[load_a()]);
    let twins = [
        sample(&[("__name__", "load"), ("instance", "a")], 2.0),
        sample(&[("__name__", "other"), ("instance", "a")], 2.0),
    ];
    h.querier.returns("load > 1", &[15], &twins);
    h.eval(&mut group, 0);
    h.eval(&mut group, 15);
    let status = group.rules[0].status();
    assert_eq!(status.health, RuleHealth::Err);
    assert_eq!(
        status.last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    assert_eq!(only(&group, 0), Some((Pending, 0)), "state untouched");
}

#[test]
fn exceeding_the_limit_drops_every_alert() {
    let h = Harness::new();
    let text = INSTANT.replace("interval: 15s", "interval: 15s\n    limit: 1");
    let mut group = h.load(&text).remove(0);
    let b = sample(&[("instance", "b")], 1.0);
    h.querier.returns("load > 1", &[0], &[load_a()]);
    h.querier
        .returns("load > 1", &[15], std::slice::from_ref(&b));
    h.querier.returns("load > 1", &[30], &[load_a(), b]);
    h.eval(&mut group, 0);
    h.eval(&mut group, 15);
    let status = group.rules[0].status();
    assert_eq!(
        status.last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts"),
        "a kept-firing alert counts"
    );
    assert!(alerts(&group, 0).is_empty());
    h.eval(&mut group, 30);
    let status = group.rules[0].status();
    assert_eq!(
        status.last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(alerts(&group, 0).is_empty());
}

#[test]
fn a_failed_query_keeps_state_and_marks_the_rule() {
    let h = Harness::new();
    let mut group = h.load(HIGH).remove(0);
    assert_eq!(group.rules[0].status().health, RuleHealth::Unknown);
    h.querier.returns("load > 1", &seconds(0..=60), &[load_a()]);
    h.querier.fails("load > 1", 30, "query timed out");
    h.eval(&mut group, 0);
    h.eval(&mut group, 15);
    assert_eq!(group.rules[0].status().health, RuleHealth::Ok);
    h.eval(&mut group, 30);
    let status = group.rules[0].status();
    assert_eq!(status.health, RuleHealth::Err);
    assert_eq!(status.last_error.as_deref(), Some("query timed out"));
    assert_eq!(status.last_evaluation_ms, Some(30_000));
    assert_eq!(only(&group, 0), Some((Pending, 0)));
    h.eval(&mut group, 45);
    assert_eq!(group.rules[0].status().last_error, None);
    assert_eq!(h.eval(&mut group, 60).len(), 1, "fires on time");
}

#[test]
fn alerts_series_are_written_after_each_evaluation() {
    let h = Harness::new();
    let mut group = h.load(HIGH).remove(0);
    h.querier.returns("load > 1", &[1_000, 1_015], &[load_a()]);
    h.eval(&mut group, 1_000);
    h.eval(&mut group, 1_015);
    let base = [
        ("alertname", "High"),
        ("instance", "a"),
        ("severity", "page"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        labels(&all)
    };
    let alerts_series = h.sink.written(1_015, "ALERTS");
    assert_eq!(alerts_series.len(), 1);
    assert_eq!(
        alerts_series[0].labels,
        with(&[("__name__", "ALERTS"), ("alertstate", "pending")])
    );
    assert_eq!(alerts_series[0].value, 1.0);
    let for_state = h.sink.written(1_015, "ALERTS_FOR_STATE");
    assert_eq!(
        for_state[0].labels,
        with(&[("__name__", "ALERTS_FOR_STATE")])
    );
    assert_eq!(for_state[0].value, 1_000.0, "active_at in seconds");
    assert_eq!(h.sink.writes.lock().unwrap()[0].0, "default");
}

#[test]
fn recorded_samples_are_written_before_the_next_rule_runs() {
    let h = Harness::new();
    let text = "
groups:
  - name: rec
    tenant: team-a
    labels:
      source: rules
    rules:
      - record: job:load:sum
        expr: sum by (job) (load)
        labels:
          team: infra
      - record: total:count
        expr: count(load)
      - alert: High
        expr: job:load:sum > 1
";
    let mut group = h.load(text).remove(0);
    h.querier.returns(
        "sum by (job) (load)",
        &[0],
        &[sample(&[("job", "api")], 4.0)],
    );
    h.querier.returns("count(load)", &[0], &[sample(&[], 7.0)]);
    h.eval(&mut group, 0);
    let recorded = h.sink.written(0, "job:load:sum");
    assert_eq!(
        recorded,
        vec![sample(
            &[
                ("__name__", "job:load:sum"),
                ("job", "api"),
                ("source", "rules"),
                ("team", "infra")
            ],
            4.0
        )]
    );
    let scalar = h.sink.written(0, "total:count");
    assert_eq!(
        scalar,
        vec![sample(
            &[("__name__", "total:count"), ("source", "rules")],
            7.0
        )]
    );
    assert_eq!(
        *h.events.lock().unwrap(),
        vec![
            "query sum by (job) (load)",
            "write job:load:sum",
            "query count(load)",
            "write total:count",
            "query job:load:sum > 1",
        ]
    );
    let queries = h.querier.queries.lock().unwrap();
    assert!(
        queries.iter().all(|q| q.1 == "team-a"),
        "the group's tenant"
    );
    assert!(
        h.sink
            .writes
            .lock()
            .unwrap()
            .iter()
            .all(|w| w.0 == "team-a")
    );
}
