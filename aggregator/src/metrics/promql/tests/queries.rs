//! Range queries, fetching, limits, parse errors and hostile input.

use std::time::Duration;

use crate::AggregatorError;
use crate::query::QueryLimits;

use super::*;

fn matrix(
    engine: &PromQlEngine,
    q: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Vec<crate::metrics::promql::Series> {
    match engine.range(TENANT, q, start, end, step).unwrap() {
        Value::Matrix(series) => series,
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn range_query_evaluates_at_each_step() {
    let engine = engine(fixture());
    let series = matrix(
        &engine,
        r#"http_requests_total{instance="a"}"#,
        2 * M,
        5 * M,
        M,
    );
    assert_eq!(series.len(), 1);
    assert_eq!(
        series[0].points,
        vec![(2 * M, 3.0), (3 * M, 6.0), (4 * M, 10.0), (5 * M, 15.0)]
    );
}

#[test]
fn range_query_steps_start_at_start_not_at_window_ends() {
    let engine = engine(fixture());
    let half = M / 2;
    // Steps at 2.5m .. 5.5m each see the window ended half a minute before.
    let series = matrix(
        &engine,
        r#"http_requests_total{instance="a"}"#,
        2 * M + half,
        5 * M + half,
        M,
    );
    assert_eq!(
        series[0].points,
        vec![
            (2 * M + half, 3.0),
            (3 * M + half, 6.0),
            (4 * M + half, 10.0),
            (5 * M + half, 15.0)
        ]
    );
    // The end is included only when a step lands on it.
    let series = matrix(
        &engine,
        r#"http_requests_total{instance="a"}"#,
        2 * M,
        4 * M - 1,
        M,
    );
    assert_eq!(series[0].points, vec![(2 * M, 3.0), (3 * M, 6.0)]);
}

#[test]
fn range_query_of_a_scalar_is_one_unlabelled_series() {
    let engine = engine(fixture());
    let series = matrix(&engine, "1+1", 0, 2 * M, M);
    assert_eq!(series.len(), 1);
    assert!(series[0].labels.is_empty());
    assert_eq!(series[0].points, vec![(0, 2.0), (M, 2.0), (2 * M, 2.0)]);
}

#[test]
fn range_query_series_come_and_go() {
    let engine = engine(fixture());
    // The kitchen has windows to minute 5; lookback 5m keeps it to < 10m.
    let series = matrix(&engine, "temperature", 4 * M, 12 * M, 2 * M);
    let times: Vec<i64> = series[0].points.iter().map(|p| p.0).collect();
    assert_eq!(times, vec![4 * M, 6 * M, 8 * M]);
}

#[test]
fn range_query_rejects_bad_steps_and_ranges() {
    let engine = engine(fixture());
    let bad = |start, end, step| match engine.range(TENANT, "1", start, end, step) {
        Err(AggregatorError::BadRequest(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(bad(0, M, 0).contains("zero or negative"));
    assert!(bad(0, M, -5).contains("zero or negative"));
    assert!(bad(M, 0, 1).contains("before start"));
    // 11,001 points.
    assert!(bad(0, 11_000 * 1000, 1000).contains("11,000 points"));
    assert!(engine.range(TENANT, "1", 0, 10_999 * 1000, 1000).is_ok());
    // A range vector cannot be a range query's result.
    match engine.range(TENANT, "http_requests_total[5m]", 0, M, M) {
        Err(AggregatorError::BadRequest(m)) => assert!(m.contains("range query"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_selector_is_fetched_once_for_the_whole_range() {
    let source = fixture();
    let engine = engine(source.clone());
    let q = r#"rate(http_requests_total{job="api"}[5m]) / rate(http_requests_total{job="api"}[5m]) + http_errors_total"#;
    matrix(&engine, q, 6 * M, 10 * M, 30_000);
    let selects = source.selects();
    assert_eq!(selects.len(), 2, "{selects:?}");
    let requests = selects
        .iter()
        .find(|s| s.matchers.iter().any(|m| m.value == "http_requests_total"))
        .unwrap();
    // From start - range to end, at the step's resolution.
    assert_eq!((requests.start_ms, requests.end_ms), (M, 10 * M));
    assert_eq!(requests.resolution_ms, 30_000);
    let errors = selects
        .iter()
        .find(|s| s.matchers.iter().any(|m| m.value == "http_errors_total"))
        .unwrap();
    // An instant selector reaches back by the lookback.
    assert_eq!((errors.start_ms, errors.end_ms), (M, 10 * M));
}

#[test]
fn offset_and_subquery_widen_the_fetch() {
    let source = fixture();
    let engine = engine(source.clone());
    let q = r#"max_over_time(rate(http_requests_total{instance="a"}[2m] offset 1m)[5m:1m])"#;
    engine.instant(TENANT, q, 10 * M).unwrap();
    let s = &source.selects()[0];
    // Subquery steps in (5m, 10m], each reading (t - 1m - 2m, t - 1m].
    assert_eq!((s.start_ms, s.end_ms), (2 * M, 9 * M));
    assert_eq!(s.resolution_ms, M);
}

#[test]
fn too_many_series_fails() {
    let limits = QueryLimits {
        max_series: 2,
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    match engine.instant(TENANT, "http_requests_total", 10 * M) {
        Err(AggregatorError::TooMany {
            what: "series",
            limit: 2,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(
        engine
            .instant(TENANT, r#"http_requests_total{job="api"}"#, 10 * M)
            .is_ok()
    );
}

#[test]
fn subquery_points_count_as_samples() {
    let limits = QueryLimits {
        max_samples: 500,
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    // 300 steps of three series each: 900 points.
    match engine.instant(TENANT, "max_over_time(http_requests_total[5m:1s])", 10 * M) {
        Err(AggregatorError::TooMany {
            what: "samples", ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_samples_fails() {
    let limits = QueryLimits {
        max_samples: 15,
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    // Two series of ten windows each.
    match engine.instant(TENANT, r#"http_requests_total{job="api"}[10m]"#, 10 * M) {
        Err(AggregatorError::TooMany {
            what: "samples",
            limit: 15,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_elapsed_deadline_times_out() {
    let limits = QueryLimits {
        timeout: Duration::ZERO,
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    assert!(matches!(
        engine.range(TENANT, "http_requests_total", 0, 10 * M, M),
        Err(AggregatorError::Timeout(_))
    ));
}

fn parse_error(query: &str) -> (usize, String) {
    match instant(query, M) {
        Err(AggregatorError::Parse { position, message }) => (position, message),
        other => panic!("{query}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn lexer_errors_carry_the_position() {
    // The `$` is at byte 17.
    let (position, message) = parse_error(r#"sum(http_requests$total)"#);
    assert_eq!(position, 17, "{message}");
    // An unterminated string starts at byte 11.
    let (position, message) = parse_error(r#"foo{job="api}"#);
    assert_eq!(position, 8, "{message}");
    // The unclosed parenthesis is the one after `by`, at byte 10.
    let (position, message) = parse_error("sum(x) by (");
    assert_eq!(position, 10, "{message}");
    let (position, message) = parse_error("sum(rate(x[5m])");
    assert_eq!(position, 3, "{message}");
}

#[test]
fn unknown_functions_are_located_by_name() {
    let (position, message) = parse_error("1 + nofunc(foo)");
    assert_eq!(position, 4, "{message}");
}

#[test]
fn grammar_errors_are_parse_errors() {
    for q in ["sum(rate(x[5m])", "foo @ bar", "1 +", "", "rate(foo)"] {
        parse_error(q);
    }
}

#[test]
fn the_tenant_separates_data() {
    let engine = engine(fixture());
    match engine
        .instant("other", "http_requests_total", 10 * M)
        .unwrap()
    {
        Value::Vector(v) => assert!(v.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_queries_never_panic() {
    // Some of these are slow on purpose; the deadline stops them.
    let limits = QueryLimits {
        timeout: Duration::from_millis(300),
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let long = vec!["1"; 20_000].join("+");
    let nested = format!("{}1{}", "(".repeat(1500), ")".repeat(1500));
    let chain = vec!["1"; 1500].join("+");
    let queries = [
        deep.as_str(),
        long.as_str(),
        nested.as_str(),
        chain.as_str(),
        "http_requests_total offset 100000000y",
        "http_requests_total @ 99999999999",
        "http_requests_total[100000000y]",
        "rate(http_requests_total[1ms])",
        "max_over_time(http_requests_total[5m:1ms])",
        "topk(1e300, http_requests_total)",
        "topk(NaN, http_requests_total)",
        "quantile(NaN, http_requests_total)",
        "histogram_quantile(NaN, http_requests_total)",
        r#"label_replace(http_requests_total, "1bad", "", "a", "(")"#,
        r#"label_replace(http_requests_total, "x", "$9", "a", ".*")"#,
        r#"count_values("", http_requests_total)"#,
        "round(http_requests_total, 0)",
        "1 / 0",
        "-http_requests_total % 0",
        r#"{__name__=~"(?i)HTTP.*"}"#,
        "\u{0}\u{1}\u{fffd}",
        "sum(é)",
    ];
    for q in queries {
        let _ = engine.instant(TENANT, q, 10 * M);
        let _ = engine.range(TENANT, q, 0, 10 * M, M);
        let _ = engine.range(TENANT, q, i64::MIN, i64::MAX, i64::MAX);
        let _ = engine.instant(TENANT, q, i64::MIN);
    }
}
