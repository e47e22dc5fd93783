//! Aggregation operators with `by` and `without`. At minute 10 the
//! request totals are a 55, b 20 (both job api) and c 10 (job web).

use super::*;

const T: i64 = 10 * M;

fn pairs(query: &str) -> Vec<(String, f64)> {
    vector(query, T)
}

fn row(labels: &str, v: f64) -> (String, f64) {
    (labels.to_owned(), v)
}

#[test]
fn sum_without_grouping() {
    assert_eq!(pairs("sum(http_requests_total)"), vec![row("{}", 85.0)]);
}

#[test]
fn sum_avg_min_max_count_by_job() {
    let api = r#"{job="api"}"#;
    let web = r#"{job="web"}"#;
    assert_eq!(
        pairs("sum by (job) (http_requests_total)"),
        vec![row(api, 75.0), row(web, 10.0)]
    );
    assert_eq!(
        pairs("avg by (job) (http_requests_total)"),
        vec![row(api, 37.5), row(web, 10.0)]
    );
    assert_eq!(
        pairs("min by (job) (http_requests_total)"),
        vec![row(api, 20.0), row(web, 10.0)]
    );
    assert_eq!(
        pairs("max by (job) (http_requests_total)"),
        vec![row(api, 55.0), row(web, 10.0)]
    );
    assert_eq!(
        pairs("count by (job) (http_requests_total)"),
        vec![row(api, 2.0), row(web, 1.0)]
    );
    assert_eq!(
        pairs("group by (job) (http_requests_total)"),
        vec![row(api, 1.0), row(web, 1.0)]
    );
}

#[test]
fn without_drops_the_listed_labels_and_the_name() {
    assert_eq!(
        pairs("sum without (instance, method) (http_requests_total)"),
        vec![row(r#"{job="api"}"#, 75.0), row(r#"{job="web"}"#, 10.0)]
    );
    // Without method: a and c both keep their instance, so nothing merges.
    assert_eq!(pairs("sum without (method) (http_requests_total)").len(), 3);
}

#[test]
fn stddev_and_stdvar() {
    // Mean 85/3; squared deviations (80/3)² + (25/3)² + (55/3)² = 10050/9; / 3.
    let var = 10050.0 / 27.0;
    assert_close(one("stdvar(http_requests_total)", T), var);
    assert_close(one("stddev(http_requests_total)", T), var.sqrt());
}

#[test]
fn topk_and_bottomk_keep_labels_and_order() {
    match instant("topk(2, http_requests_total)", T).unwrap() {
        Value::Vector(v) => {
            let got: Vec<(String, f64)> = v
                .into_iter()
                .map(|s| (s.labels.to_string(), s.value))
                .collect();
            assert_eq!(
                got,
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
        other => panic!("{other:?}"),
    }
    assert_eq!(
        pairs("bottomk(1, http_requests_total)"),
        vec![row(
            r#"{__name__="http_requests_total", instance="c", job="web", method="get"}"#,
            10.0
        )]
    );
    // One per job.
    let by_job: Vec<f64> = pairs("topk by (job) (1, http_requests_total)")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(by_job, vec![55.0, 10.0]);
    assert!(pairs("topk(0, http_requests_total)").is_empty());
}

#[test]
fn quantile_interpolates_between_ranks() {
    // Sorted 10, 20, 55: φ 0.5 → rank 1 → 20; φ 0.25 → rank 0.5 → 15.
    assert_eq!(one("quantile(0.5, http_requests_total)", T), 20.0);
    assert_eq!(one("quantile(0.25, http_requests_total)", T), 15.0);
    // By job: api has 20 and 55, φ 0.5 → 37.5.
    assert_eq!(
        pairs("quantile by (job) (0.5, http_requests_total)"),
        vec![row(r#"{job="api"}"#, 37.5), row(r#"{job="web"}"#, 10.0)]
    );
    assert_eq!(one("quantile(2, http_requests_total)", T), f64::INFINITY);
}

#[test]
fn count_values_counts_each_value() {
    // job_info is 1 for both jobs.
    assert_eq!(
        pairs(r#"count_values("v", job_info)"#),
        vec![row(r#"{v="1"}"#, 2.0)]
    );
}
