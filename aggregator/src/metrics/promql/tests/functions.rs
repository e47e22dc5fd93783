//! Math, time, label and presence functions.

use super::*;

const T: i64 = 10 * M;
const A: &str = r#"http_requests_total{instance="a"}"#;

fn row(labels: &str, v: f64) -> (String, f64) {
    (labels.to_owned(), v)
}

#[test]
fn label_replace_sets_a_label_from_a_capture() {
    assert_eq!(
        vector(
            &format!(r#"label_replace({A}, "host", "$1-x", "instance", "(.*)")"#),
            T
        ),
        vec![row(
            r#"{__name__="http_requests_total", host="a-x", instance="a", job="api", method="get"}"#,
            55.0
        )]
    );
    // No match leaves the labels alone.
    let unchanged = vector(
        &format!(r#"label_replace({A}, "host", "$1", "instance", "z(.*)")"#),
        T,
    );
    assert!(!unchanged[0].0.contains("host"), "{unchanged:?}");
}

#[test]
fn label_join_joins_values() {
    let got = vector(
        &format!(r#"label_join({A}, "key", "/", "job", "instance")"#),
        T,
    );
    assert!(got[0].0.contains(r#"key="api/a""#), "{got:?}");
}

#[test]
fn absent_of_a_missing_selector_takes_its_equality_labels() {
    assert_eq!(
        vector(r#"absent(nonexistent{job="x", env=~"p.*"})"#, T),
        vec![row(r#"{job="x"}"#, 1.0)]
    );
    assert!(vector("absent(http_requests_total)", T).is_empty());
    assert_eq!(
        vector(r#"absent_over_time(nonexistent{job="x"}[5m])"#, T),
        vec![row(r#"{job="x"}"#, 1.0)]
    );
    assert!(vector(&format!("absent_over_time({A}[5m])"), T).is_empty());
}

#[test]
fn vector_scalar_and_time() {
    assert_eq!(vector("vector(3)", T), vec![row("{}", 3.0)]);
    assert_eq!(one(&format!("scalar({A})"), T), 55.0);
    // Three series: NaN.
    assert!(one("scalar(http_requests_total)", T).is_nan());
    // Minute 10 is 600 s.
    assert_eq!(instant("time()", T).unwrap(), Value::Scalar(T, 600.0));
    assert_eq!(one("vector(time()) - 600", T), 0.0);
}

#[test]
fn timestamp_is_the_window_end() {
    // At 10.5 minutes the newest window ended at minute 10: 600 s.
    assert_eq!(one(&format!("timestamp({A})"), T + M / 2), 600.0);
    // Of a computed vector: the evaluation time.
    assert_eq!(one(&format!("timestamp({A} * 1)"), T + M / 2), 630.0);
}

#[test]
fn math_functions() {
    // a 55, so 55 - 60.5 = -5.5.
    let x = format!("({A} - 60.5)");
    assert_eq!(one(&format!("abs({x})"), T), 5.5);
    assert_eq!(one(&format!("ceil({x})"), T), -5.0);
    assert_eq!(one(&format!("floor({x})"), T), -6.0);
    // Prometheus rounds half up: -5.5 → -5.
    assert_eq!(one(&format!("round({x})"), T), -5.0);
    assert_eq!(one(&format!("round({A}, 20)"), T), 60.0);
    assert_eq!(one(&format!("sgn({x})"), T), -1.0);
    assert_close(one(&format!("sqrt({A} + 9)"), T), 8.0);
    assert_close(one(&format!("ln(exp({A} / 55))"), T), 1.0);
    assert_close(one(&format!("log2({A} + 9)"), T), 6.0);
    assert_close(one(&format!("log10({A} * 0 + 1000)"), T), 3.0);
}

#[test]
fn clamps() {
    assert_eq!(one(&format!("clamp({A}, 0, 50)"), T), 50.0);
    assert_eq!(one(&format!("clamp_min({A}, 60)"), T), 60.0);
    assert_eq!(one(&format!("clamp_max({A}, 7)"), T), 7.0);
    assert!(vector(&format!("clamp({A}, 10, 0)"), T).is_empty());
}

#[test]
fn sort_orders_instant_results() {
    let order = |q: &str| match instant(q, T).unwrap() {
        Value::Vector(v) => v.into_iter().map(|s| s.value).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(order("sort(http_requests_total)"), vec![10.0, 20.0, 55.0]);
    assert_eq!(
        order("sort_desc(http_requests_total)"),
        vec![55.0, 20.0, 10.0]
    );
}

#[test]
fn duplicate_labelsets_after_dropping_the_name_fail() {
    match error(r#"rate({__name__=~"http_.*", instance="a"}[5m])"#, T) {
        crate::AggregatorError::BadRequest(m) => assert!(m.contains("same labelset"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Prometheus refuses a duplicate label set at every function and
/// operator, not only in the query's result: an aggregation over series
/// that collided must not add them up.
#[test]
fn duplicate_labelsets_inside_an_expression_fail() {
    let both = r#"{__name__=~"http_.*", instance="a"}"#;
    for query in [
        format!("sum(rate({both}[5m]))"),
        format!("sum(max_over_time({both}[5m]))"),
        format!("count({both} * 2)"),
        format!("count(-{both})"),
        format!("count(abs({both}))"),
        // Each `label_replace` alone is unique; the outer one erases the
        // last label telling `instance="a"` from `instance="b"` (job api).
        r#"count(label_replace(label_replace(http_requests_total, "instance", "", "instance", ".*"), "method", "", "method", ".*"))"#.to_owned(),
    ] {
        match error(&query, T) {
            crate::AggregatorError::BadRequest(m) => {
                assert!(m.contains("same labelset"), "{query}: {m}")
            }
            other => panic!("{query}: {other:?}"),
        }
    }
    // The selector itself keeps the names apart.
    assert_eq!(one(&format!("count({both})"), T), 2.0);
}

/// The check is per evaluation step: series that differ only by name but
/// never have a sample at the same step do not collide.
#[test]
fn series_that_never_meet_at_a_step_do_not_collide() {
    let source = MemorySource::new(M);
    for (name, minutes) in [("early", 1..=3), ("late", 6..=8)] {
        source.insert(
            TENANT,
            labels(&[("__name__", name), ("k", "1")]),
            minutes.map(|m| gauge_window(m * M, M, m as f64)),
        );
    }
    let query = r#"sum(max_over_time({__name__=~"early|late"}[1m]))"#;
    match engine(Arc::new(source))
        .range(TENANT, query, M, 8 * M, M)
        .unwrap()
    {
        Value::Matrix(series) => {
            let points: Vec<(i64, f64)> = series.into_iter().flat_map(|s| s.points).collect();
            let want: Vec<(i64, f64)> = [1, 2, 3, 6, 7, 8]
                .iter()
                .map(|&m| (m * M, m as f64))
                .collect();
            assert_eq!(points, want);
        }
        other => panic!("{other:?}"),
    }
}
