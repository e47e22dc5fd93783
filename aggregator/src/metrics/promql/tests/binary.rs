//! Binary operators. At minute 10: requests a 55, b 20, c 10; errors a 5,
//! b 4; job_info 1 for api (team core) and web (team edge).

use crate::AggregatorError;

use super::*;

const T: i64 = 10 * M;

fn pairs(query: &str) -> Vec<(String, f64)> {
    vector(query, T)
}

fn row(labels: &str, v: f64) -> (String, f64) {
    (labels.to_owned(), v)
}

fn bad_request(query: &str) -> String {
    match error(query, T) {
        AggregatorError::BadRequest(m) => m,
        other => panic!("{query}: {other:?}"),
    }
}

#[test]
fn scalar_arithmetic_and_grafana_health_query() {
    assert_eq!(instant("1+1", T).unwrap(), Value::Scalar(T, 2.0));
    assert_eq!(one("2 ^ 3 * 2", T), 16.0);
    assert_eq!(one("5 % 3", T), 2.0);
    assert_eq!(one("1 > bool 2", T), 0.0);
    assert_eq!(one("-(2 - 5)", T), 3.0);
}

#[test]
fn vector_scalar_arithmetic_drops_the_name() {
    assert_eq!(
        pairs(r#"http_requests_total{instance="a"} * 2"#),
        vec![row(r#"{instance="a", job="api", method="get"}"#, 110.0)]
    );
    assert_eq!(one(r#"100 - http_requests_total{instance="a"}"#, T), 45.0);
}

#[test]
fn comparison_filters_and_keeps_the_vector_value() {
    let a = r#"{__name__="http_requests_total", instance="a", job="api", method="get"}"#;
    let b = r#"{__name__="http_requests_total", instance="b", job="api", method="post"}"#;
    assert_eq!(
        pairs("http_requests_total > 15"),
        vec![row(a, 55.0), row(b, 20.0)]
    );
    // Scalar on the left: still the vector's value.
    assert_eq!(pairs("30 < http_requests_total"), vec![row(a, 55.0)]);
}

#[test]
fn bool_comparison_gives_zero_or_one_without_the_name() {
    assert_eq!(
        pairs("http_requests_total > bool 15"),
        vec![
            row(r#"{instance="a", job="api", method="get"}"#, 1.0),
            row(r#"{instance="b", job="api", method="post"}"#, 1.0),
            row(r#"{instance="c", job="web", method="get"}"#, 0.0),
        ]
    );
}

#[test]
fn one_to_one_matching_on_all_labels() {
    // 5 / 55 and 4 / 20; c has no errors series.
    assert_eq!(
        pairs("http_errors_total / http_requests_total"),
        vec![
            row(r#"{instance="a", job="api", method="get"}"#, 5.0 / 55.0),
            row(r#"{instance="b", job="api", method="post"}"#, 0.2),
        ]
    );
}

#[test]
fn on_and_ignoring() {
    assert_eq!(
        pairs("http_errors_total / on(instance) http_requests_total"),
        vec![
            row(r#"{instance="a"}"#, 5.0 / 55.0),
            row(r#"{instance="b"}"#, 0.2)
        ]
    );
    assert_eq!(
        pairs("http_errors_total / ignoring(method) http_requests_total"),
        vec![
            row(r#"{instance="a", job="api"}"#, 5.0 / 55.0),
            row(r#"{instance="b", job="api"}"#, 0.2),
        ]
    );
}

#[test]
fn vector_comparison_keeps_the_left_name() {
    assert_eq!(
        pairs("http_requests_total > http_errors_total"),
        vec![
            row(
                r#"{__name__="http_requests_total", instance="a", job="api", method="get"}"#,
                55.0
            ),
            row(
                r#"{__name__="http_requests_total", instance="b", job="api", method="post"}"#,
                20.0
            ),
        ]
    );
}

#[test]
fn group_left_divides_by_the_one_side() {
    // 55 / 75, 20 / 75, 10 / 10.
    assert_eq!(
        pairs("http_requests_total / on(job) group_left sum by (job) (http_requests_total)"),
        vec![
            row(r#"{instance="a", job="api", method="get"}"#, 55.0 / 75.0),
            row(r#"{instance="b", job="api", method="post"}"#, 20.0 / 75.0),
            row(r#"{instance="c", job="web", method="get"}"#, 1.0),
        ]
    );
}

#[test]
fn group_left_and_group_right_copy_labels_from_the_one_side() {
    let want = vec![
        row(
            r#"{instance="a", job="api", method="get", team="core"}"#,
            55.0,
        ),
        row(
            r#"{instance="b", job="api", method="post", team="core"}"#,
            20.0,
        ),
        row(
            r#"{instance="c", job="web", method="get", team="edge"}"#,
            10.0,
        ),
    ];
    assert_eq!(
        pairs("http_requests_total * on(job) group_left(team) job_info"),
        want
    );
    assert_eq!(
        pairs("job_info * on(job) group_right(team) http_requests_total"),
        want
    );
}

#[test]
fn group_right_keeps_the_operand_order() {
    // The left (one) side stays the dividend: 1 / 55, 1 / 20, 1 / 10.
    assert_eq!(
        pairs("job_info / on(job) group_right http_requests_total"),
        vec![
            row(r#"{instance="a", job="api", method="get"}"#, 1.0 / 55.0),
            row(r#"{instance="b", job="api", method="post"}"#, 1.0 / 20.0),
            row(r#"{instance="c", job="web", method="get"}"#, 0.1),
        ]
    );
    // A filtering comparison keeps the left value and the right labels.
    assert_eq!(
        pairs(r#"job_info{job="web"} < on(job) group_right http_requests_total"#),
        vec![row(
            r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#,
            1.0
        )]
    );
}

#[test]
fn many_to_many_matching_is_an_error() {
    let m = bad_request("http_requests_total / on(job) http_requests_total");
    assert!(m.contains("many-to-many matching not allowed"), "{m}");
    assert!(m.contains(r#"{job="api"}"#), "{m}");
}

#[test]
fn many_to_one_must_be_explicit() {
    let m = bad_request("http_requests_total + on(job) sum by (job) (http_requests_total)");
    assert!(m.contains("many-to-one matching must be explicit"), "{m}");
}

#[test]
fn set_operators() {
    let names = |q: &str| -> Vec<String> { pairs(q).into_iter().map(|(l, _)| l).collect() };
    assert_eq!(
        names("http_requests_total and http_errors_total"),
        vec![
            r#"{__name__="http_requests_total", instance="a", job="api", method="get"}"#,
            r#"{__name__="http_requests_total", instance="b", job="api", method="post"}"#,
        ]
    );
    assert_eq!(
        names("http_requests_total unless http_errors_total"),
        vec![r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#]
    );
    assert_eq!(
        names("http_errors_total or http_requests_total"),
        vec![
            r#"{__name__="http_errors_total", instance="a", job="api", method="get"}"#,
            r#"{__name__="http_errors_total", instance="b", job="api", method="post"}"#,
            r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#,
        ]
    );
    assert_eq!(
        names(r#"http_requests_total and on(job) job_info{team="edge"}"#),
        vec![r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#]
    );
}
