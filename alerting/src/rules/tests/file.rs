//! Rule-file loading: a Prometheus example file loads as written, every
//! mistake of a bad file is reported at its line, languages route.

use std::time::Duration;

use super::*;
use crate::rules::file::{RuleSource, load_all};

const PROMETHEUS_EXAMPLE: &str = r#"
# As in Prometheus' documentation, with every field in use.
groups:
  - name: example
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: infra
    rules:
      - record: code:prometheus_http_requests_total:sum
        expr: sum by (code) (prometheus_http_requests_total)
      - alert: HighRequestLatency
        expr: job:request_latency_seconds:mean5m{job="myjob"} > 0.5
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: page
          priority: 1
        annotations:
          summary: "High request latency on {{ $labels.instance }}"
          description: "{{ $labels.instance }} has a median request latency above 1s (current value: {{ $value }}s)"
  - name: other
    rules:
    - alert: InstanceDown
      expr: up == 0
"#;

#[test]
fn prometheus_example_loads_as_written() {
    let h = Harness::new();
    let groups = h.load(PROMETHEUS_EXAMPLE);
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(g.identity(), ("rules.yml", "example"));
    assert_eq!(g.interval, Duration::from_secs(30));
    assert_eq!(g.query_offset, Duration::from_secs(60));
    assert_eq!(g.limit, 10);
    assert_eq!(g.language, Language::PromQl);
    assert_eq!(g.tenant, "default");
    let Rule::Alerting(alert) = &g.rules[1] else {
        panic!("second rule is an alert");
    };
    assert_eq!(alert.hold, Duration::from_secs(600));
    assert_eq!(alert.keep_firing_for, Duration::from_secs(300));
    assert_eq!(
        alert.labels.sources(),
        labels(&[("priority", "1"), ("severity", "page"), ("team", "infra")])
    );
    assert_eq!(
        alert.annotations.sources()["summary"],
        "High request latency on {{ $labels.instance }}"
    );
    assert_eq!(groups[1].interval, Duration::from_secs(15), "the default");
    assert!(matches!(groups[1].rules[0], Rule::Alerting(_)));
}

const MISTAKES: &str = r#"groups:
  - name: dup
    rules:
      - alert: A
        expr: up == 0
  - name: dup
    rules:
      - record: "bad name"
        expr: sum(up)
        for: 5m
      - alert: B
        record: b
        expr: up
      - alert: C
        labels:
          "bad-label": x
          __name__: y
        expr: up
      - alert: D
        expr: "sum((up)"
      - alert: E
        annotations:
          "9x": y
        expr: up
      - record: r:ok
        expr: up
        annotations:
          a: b
      - alert: F
  - name: empty
    tenant: "no spaces"
    rules: []
"#;

#[test]
fn every_mistake_is_reported_at_its_line() {
    let h = Harness::new();
    let errors = load(
        "rules.yml",
        MISTAKES,
        Language::PromQl,
        Duration::from_secs(15),
        &h.querier,
    )
    .expect_err("the file has mistakes");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "rules.yml:6:5: groups[1]: group name \"dup\" is repeated in the same file",
        "rules.yml:8:9: groups[1].rules[0] (record \"bad name\"): invalid recording rule name \"bad name\"",
        "rules.yml:10:9: groups[1].rules[0] (record \"bad name\"): invalid field 'for' in recording rule",
        "rules.yml:11:9: groups[1].rules[1] (record \"b\"): only one of 'record' and 'alert' must be set",
        "rules.yml:16:11: groups[1].rules[2] (alert \"C\").labels: invalid label name \"bad-label\"",
        "rules.yml:17:11: groups[1].rules[2] (alert \"C\").labels: invalid label name \"__name__\" in alerting rule",
        "rules.yml:20:9: groups[1].rules[3] (alert \"D\"): could not parse promql expression: 1:4: unclosed parenthesis",
        "rules.yml:23:11: groups[1].rules[4] (alert \"E\").annotations: invalid annotation name \"9x\"",
        "rules.yml:27:9: groups[1].rules[5] (record \"r:ok\"): invalid field 'annotations' in recording rule",
        "rules.yml:29:9: groups[1].rules[6] (alert \"F\"): field 'expr' must be set in rule",
        "rules.yml:30:5: groups[2] (\"empty\"): group has no rules",
        "rules.yml:31:5: groups[2]: invalid tenant \"no spaces\": 1 to 150 letters, digits or !-_.*'()",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e == want),
            "missing {want:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn yaml_and_schema_errors_carry_the_parser_position() {
    let h = Harness::new();
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expresion: up\n";
    let errors = load(
        "a.yml",
        text,
        Language::PromQl,
        Duration::from_secs(15),
        &h.querier,
    )
    .expect_err("unknown field");
    let message = errors[0].to_string();
    assert!(
        message.starts_with("a.yml:5:9: groups[0].rules[0]: unknown field `expresion`"),
        "{message}"
    );
    assert!(!message.contains(" at line "), "{message}");

    let text = "groups:\n  - name: g\n    interval: 5\n    rules:\n      - alert: A\n        expr: up\n        for: 1x\n";
    let errors = load(
        "b.yml",
        text,
        Language::PromQl,
        Duration::from_secs(15),
        &h.querier,
    )
    .expect_err("bad durations");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "b.yml:3:5: groups[0]: invalid duration \"5\": units are ms, s, m, h, d, w and y",
            "b.yml:7:9: groups[0].rules[0] (alert \"A\"): invalid duration \"1x\": units are ms, s, m, h, d, w and y",
        ]
    );

    let errors = load(
        "c.yml",
        "groups: [",
        Language::PromQl,
        Duration::ZERO,
        &h.querier,
    )
    .expect_err("broken YAML");
    assert!(errors[0].to_string().starts_with("c.yml:"), "{}", errors[0]);
}

#[test]
fn group_language_routes_checks_and_queries() {
    let h = Harness::new();
    let logs = "
groups:
  - name: logs
    rules:
      - alert: Errors
        expr: sum(rate({app=\"api\"} |= \"error\" [5m])) > 0
  - name: metrics-in-a-log-file
    language: promql
    rules:
      - alert: Down
        expr: up == 0
";
    let sources = [
        RuleSource {
            path: "logs.yml".into(),
            text: logs.into(),
            language: Language::LogQl,
        },
        RuleSource {
            path: "metrics.yml".into(),
            text: "groups:\n- name: m\n  language: logql\n  rules:\n  - alert: L\n    expr: count_over_time({a=\"b\"}[1m]) > 0\n".into(),
            language: Language::PromQl,
        },
    ];
    let mut groups = load_all(&sources, Duration::from_secs(60), &h.querier).unwrap();
    let languages: Vec<Language> = groups.iter().map(|g| g.language).collect();
    assert_eq!(
        languages,
        [Language::LogQl, Language::PromQl, Language::LogQl]
    );
    let checks = h.querier.checks.lock().unwrap().clone();
    assert_eq!(checks[0].0, Language::LogQl);
    assert_eq!(checks[1], (Language::PromQl, "up == 0".to_owned()));
    assert_eq!(checks[2].0, Language::LogQl);
    h.eval(&mut groups[0], 0);
    assert_eq!(h.querier.queries.lock().unwrap()[0].0, Language::LogQl);
}

#[test]
fn files_over_the_size_limit_are_refused() {
    let h = Harness::new();
    let text = format!(
        "# {}\ngroups: []\n",
        "x".repeat(crate::rules::MAX_FILE_BYTES)
    );
    let errors = load(
        "big.yml",
        &text,
        Language::PromQl,
        Duration::ZERO,
        &h.querier,
    )
    .expect_err("too big");
    assert!(
        errors[0]
            .to_string()
            .starts_with("big.yml:1:1: rule file of")
    );
}
