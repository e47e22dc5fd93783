//! Instant and range selectors: matchers, lookback, `offset`, `@`.

use super::*;

const A: &str = r#"{__name__="http_requests_total", instance="a", job="api", method="get"}"#;
const B: &str = r#"{__name__="http_requests_total", instance="b", job="api", method="post"}"#;
const C: &str = r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#;

fn values(query: &str, t_ms: i64) -> Vec<f64> {
    vector(query, t_ms).into_iter().map(|(_, v)| v).collect()
}

#[test]
fn equality_matcher_selects_counter_totals() {
    // Totals at minute 10: a 55, b 20.
    assert_eq!(
        vector(r#"http_requests_total{job="api"}"#, 10 * M),
        vec![(A.to_owned(), 55.0), (B.to_owned(), 20.0)]
    );
}

#[test]
fn not_equal_matcher() {
    assert_eq!(
        vector(r#"http_requests_total{job!="api"}"#, 10 * M),
        vec![(C.to_owned(), 10.0)]
    );
}

#[test]
fn regex_matcher_is_anchored() {
    assert_eq!(
        values(
            r#"{__name__="http_requests_total", instance=~"a|c"}"#,
            10 * M
        ),
        vec![55.0, 10.0]
    );
    // "ap" would match "api" unanchored.
    assert!(values(r#"http_requests_total{job=~"ap"}"#, 10 * M).is_empty());
}

#[test]
fn negative_regex_matcher() {
    assert_eq!(
        vector(r#"http_requests_total{method!~"g.*"}"#, 10 * M),
        vec![(B.to_owned(), 20.0)]
    );
}

#[test]
fn name_regex_selects_several_metrics() {
    // Requests a (55) and errors a (5).
    assert_eq!(
        values(r#"{__name__=~"http_.*", instance="a"}"#, 10 * M),
        vec![5.0, 55.0]
    );
}

#[test]
fn or_between_matcher_groups() {
    assert_eq!(
        values(
            r#"http_requests_total{instance="a" or method="post"}"#,
            10 * M
        ),
        vec![55.0, 20.0]
    );
}

#[test]
fn a_sample_between_windows_is_the_newest_closed_window() {
    // At 5.5 minutes the newest window ended at minute 5: total 15.
    assert_eq!(
        one(r#"http_requests_total{instance="a"}"#, 5 * M + M / 2),
        15.0
    );
}

#[test]
fn lookback_is_five_minutes_open_at_the_start() {
    let q = r#"http_requests_total{instance="a"}"#;
    // The last window ends at minute 10; (t - 5m, t] holds it until 15m.
    assert_eq!(one(q, 15 * M - 1), 55.0);
    assert!(values(q, 15 * M).is_empty());
}

#[test]
fn lookback_is_configurable() {
    let engine = engine(fixture()).with_lookback_ms(M);
    let q = r#"http_requests_total{instance="a"}"#;
    let at = |t| match engine.instant(TENANT, q, t).unwrap() {
        Value::Vector(v) => v.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(at(10 * M + M / 2), 1);
    assert_eq!(at(11 * M), 0);
}

#[test]
fn offset_moves_back_and_forward() {
    // Minute 8's total is 36; minute 7's is 28.
    assert_eq!(
        one(r#"http_requests_total{instance="a"} offset 2m"#, 10 * M),
        36.0
    );
    assert_eq!(
        one(r#"http_requests_total{instance="a"} offset -2m"#, 5 * M),
        28.0
    );
}

#[test]
fn at_modifier_fixes_the_time() {
    // @ 240 is minute 4: total 10.
    assert_eq!(
        one(r#"http_requests_total{instance="a"} @ 240"#, 10 * M),
        10.0
    );
    // With an offset too: minute 3, total 6.
    assert_eq!(
        one(
            r#"http_requests_total{instance="a"} @ 240 offset 1m"#,
            10 * M
        ),
        6.0
    );
}

#[test]
fn at_start_and_end_in_a_range_query() {
    let engine = engine(fixture());
    let points = |q: &str| match engine.range(TENANT, q, 3 * M, 6 * M, M).unwrap() {
        Value::Matrix(series) => series[0].points.clone(),
        other => panic!("{other:?}"),
    };
    // Start is minute 3 (total 6), end minute 6 (total 21), at every step.
    let start = points(r#"http_requests_total{instance="a"} @ start()"#);
    assert_eq!(
        start,
        vec![(3 * M, 6.0), (4 * M, 6.0), (5 * M, 6.0), (6 * M, 6.0)]
    );
    let end = points(r#"http_requests_total{instance="a"} @ end()"#);
    assert!(end.iter().all(|&(_, v)| v == 21.0), "{end:?}");
}

#[test]
fn range_selector_in_an_instant_query_is_a_matrix_of_windows() {
    // Windows ending in (7m, 10m]: totals 36, 45, 55.
    match instant(r#"http_requests_total{instance="a"}[3m]"#, 10 * M).unwrap() {
        Value::Matrix(series) => {
            assert_eq!(series.len(), 1);
            assert_eq!(
                series[0].points,
                vec![(8 * M, 36.0), (9 * M, 45.0), (10 * M, 55.0)]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gauge_sample_is_the_last_value() {
    // The kitchen's window ending at minute 4 has last 5.
    assert_eq!(one("temperature", 4 * M), 5.0);
}
