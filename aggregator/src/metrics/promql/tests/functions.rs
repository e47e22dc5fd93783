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
