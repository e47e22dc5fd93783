//! The Prometheus API shapes of a small, known state.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::rules::api::{alerts_view, format_value, rules_view};

/// 2026-01-01T00:00:00Z in seconds.
const T: i64 = 1_767_225_600;

const FILE: &str = "
groups:
  - name: api
    interval: 15s
    limit: 5
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 30s
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: instance down
";

fn evaluated(h: &Harness) -> RuleGroup {
    let mut group = h.load(FILE).remove(0);
    let a = sample(&[("__name__", "up"), ("instance", "a")], 0.0);
    let b = sample(&[("__name__", "up"), ("instance", "b")], 0.5);
    h.querier
        .returns("up == 0", &[T, T + 15], std::slice::from_ref(&a));
    h.querier.returns("up == 0", &[T + 30], &[a, b]);
    h.querier.fails("sum by (job) (up)", T + 30, "boom");
    for t in [T, T + 15, T + 30] {
        h.eval(&mut group, t);
    }
    group.evaluation_duration = Duration::from_millis(3);
    group.rules[0].status_mut().evaluation_duration = Duration::from_millis(1);
    group.rules[1].status_mut().evaluation_duration = Duration::from_millis(2);
    group
}

fn alert_json(instance: &str, state: &str, active_at: &str, value: &str) -> serde_json::Value {
    json!({
        "labels": {"alertname": "Down", "instance": instance, "severity": "page"},
        "annotations": {"summary": "instance down"},
        "state": state,
        "activeAt": active_at,
        "value": value,
    })
}

#[test]
fn rules_view_has_prometheus_field_names() {
    let h = Harness::new();
    let group = evaluated(&h);
    let at_30 = "2026-01-01T00:00:30.000Z";
    let alerting = json!({
        "state": "firing",
        "name": "Down",
        "query": "up == 0",
        "duration": 30.0,
        "keepFiringFor": 60.0,
        "labels": {"severity": "page"},
        "annotations": {"summary": "instance down"},
        "alerts": [
            alert_json("a", "firing", "2026-01-01T00:00:00.000Z", "0e+00"),
            alert_json("b", "pending", at_30, "5e-01"),
        ],
        "health": "ok",
        "evaluationTime": 0.002,
        "lastEvaluation": at_30,
        "type": "alerting",
    });
    let recording = json!({
        "name": "job:up:sum",
        "query": "sum by (job) (up)",
        "health": "err",
        "lastError": "boom",
        "evaluationTime": 0.001,
        "lastEvaluation": at_30,
        "type": "recording",
    });
    let view = rules_view(std::slice::from_ref(&group), None).unwrap();
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        json!({"groups": [{
            "name": "api",
            "file": "rules.yml",
            "rules": [recording, alerting],
            "interval": 15.0,
            "limit": 5,
            "evaluationTime": 0.003,
            "lastEvaluation": at_30,
        }]})
    );
    let alerts_only = rules_view(std::slice::from_ref(&group), Some("alert")).unwrap();
    assert_eq!(
        serde_json::to_value(&alerts_only).unwrap()["groups"][0]["rules"],
        json!([alerting])
    );
    let records = rules_view(std::slice::from_ref(&group), Some("record")).unwrap();
    assert_eq!(records.groups[0].rules.len(), 1);
    assert!(rules_view(&[group], Some("alerts")).is_err());
}

#[test]
fn unevaluated_groups_show_go_zero_times() {
    let h = Harness::new();
    let group = h.load(FILE).remove(0);
    let view = serde_json::to_value(rules_view(&[group], None).unwrap()).unwrap();
    assert_eq!(view["groups"][0]["lastEvaluation"], "0001-01-01T00:00:00Z");
    assert_eq!(view["groups"][0]["rules"][1]["health"], "unknown");
    assert_eq!(view["groups"][0]["rules"][1]["state"], "inactive");
    assert_eq!(view["groups"][0]["rules"][1]["alerts"], json!([]));
}

#[test]
fn alerts_view_lists_active_alerts_with_keep_firing_since() {
    let h = Harness::new();
    let mut group = evaluated(&h);
    h.eval(&mut group, T + 45);
    let mut kept = alert_json("a", "firing", "2026-01-01T00:00:00.000Z", "0e+00");
    kept["keepFiringSince"] = json!("2026-01-01T00:00:45.000Z");
    assert_eq!(
        serde_json::to_value(alerts_view(&[group])).unwrap(),
        json!({"alerts": [kept]}),
        "b was pending and is gone; a keeps firing"
    );
}

#[test]
fn values_are_formatted_as_go_shortest_exponent() {
    assert_eq!(format_value(1.0), "1e+00");
    assert_eq!(format_value(0.0), "0e+00");
    assert_eq!(format_value(123.45), "1.2345e+02");
    assert_eq!(format_value(-0.001), "-1e-03");
    assert_eq!(format_value(1e300), "1e+300");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
}
