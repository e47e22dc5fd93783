//! Range functions over counter, gauge and subquery windows.

use super::*;

const KITCHEN: &str = r#"temperature{room="kitchen"}"#;

fn at5(f: &str) -> f64 {
    one(&format!("{f}({KITCHEN}[5m])"), 5 * M)
}

#[test]
fn increase_sums_the_window_deltas_exactly() {
    // Windows ending in (5m, 10m]: deltas 6 + 7 + 8 + 9 + 10 = 40.
    assert_eq!(
        one(r#"increase(http_requests_total{instance="a"}[5m])"#, 10 * M),
        40.0
    );
}

#[test]
fn rate_is_the_increase_per_second_of_the_range() {
    // 40 / 300 s.
    assert_close(
        one(r#"rate(http_requests_total{instance="a"}[5m])"#, 10 * M),
        40.0 / 300.0,
    );
    // (8 + 9 + 10) / 180 s = 0.15.
    assert_close(
        one(r#"rate(http_requests_total{instance="a"}[3m])"#, 10 * M),
        0.15,
    );
    // Offset 5m: deltas 1..=5 in (0, 5m] = 15 / 300.
    assert_close(
        one(
            r#"rate(http_requests_total{instance="a"}[5m] offset 5m)"#,
            10 * M,
        ),
        0.05,
    );
}

#[test]
fn one_window_is_enough_for_a_counter_rate() {
    // Only the window ending at minute 10 is in (9.5m, 10m]: its whole
    // delta 10, over the minute it covers (not the 30 s range).
    assert_close(
        one(r#"rate(http_requests_total{instance="a"}[30s])"#, 10 * M),
        10.0 / 60.0,
    );
    assert_eq!(
        one(
            r#"increase(http_requests_total{instance="a"}[30s])"#,
            10 * M
        ),
        10.0
    );
}

#[test]
fn rate_drops_the_metric_name() {
    let v = vector(r#"rate(http_requests_total{job="web"}[5m])"#, 10 * M);
    assert_eq!(v[0].0, r#"{instance="c", job="web", method="get"}"#);
}

#[test]
fn irate_idelta_and_delta_over_counters() {
    let a = r#"http_requests_total{instance="a"}[5m]"#;
    // Totals 45 then 55, one minute apart.
    assert_close(one(&format!("irate({a})"), 10 * M), 10.0 / 60.0);
    assert_eq!(one(&format!("idelta({a})"), 10 * M), 10.0);
    assert_eq!(one(&format!("delta({a})"), 10 * M), 40.0);
    assert_eq!(one(&format!("resets({a})"), 10 * M), 0.0);
    // Totals 21, 28, 36, 45, 55 all differ: 4 changes.
    assert_eq!(one(&format!("changes({a})"), 10 * M), 4.0);
}

#[test]
fn over_time_functions_over_gauges_use_the_window_aggregates() {
    // Sums 30 + 45 + 25 + 40 + 50, counts 2 + 3 + 1 + 4 + 2.
    assert_eq!(at5("sum_over_time"), 190.0);
    assert_eq!(at5("count_over_time"), 12.0);
    assert_close(at5("avg_over_time"), 190.0 / 12.0);
    // Minimum of the mins, maximum of the maxes.
    assert_eq!(at5("min_over_time"), 5.0);
    assert_eq!(at5("max_over_time"), 28.0);
    assert_eq!(at5("present_over_time"), 1.0);
    // Narrower: windows 3..=5, sums 25 + 40 + 50.
    assert_eq!(one(&format!("sum_over_time({KITCHEN}[3m])"), 5 * M), 115.0);
}

#[test]
fn sample_statistics_over_gauges_see_the_last_values() {
    // Lasts 20, 15, 25, 5, 28: mean 18.6, squared deviations
    // 1.96 + 12.96 + 40.96 + 184.96 + 88.36 = 329.2, / 5 = 65.84.
    assert_close(at5("stdvar_over_time"), 65.84);
    assert_close(at5("stddev_over_time"), 65.84f64.sqrt());
    // Sorted 5, 15, 20, 25, 28: rank 0.5 * 4 = 2 → 20; rank 3.6 → 25 * 0.4 + 28 * 0.6.
    assert_eq!(
        one(&format!("quantile_over_time(0.5, {KITCHEN}[5m])"), 5 * M),
        20.0
    );
    assert_close(
        one(&format!("quantile_over_time(0.9, {KITCHEN}[5m])"), 5 * M),
        26.8,
    );
    // 20→15 and 25→5 decrease.
    assert_eq!(at5("resets"), 2.0);
    assert_eq!(at5("changes"), 4.0);
}

#[test]
fn last_over_time_keeps_the_name() {
    assert_eq!(
        vector(&format!("last_over_time({KITCHEN}[5m])"), 5 * M),
        vec![(
            r#"{__name__="temperature", room="kitchen"}"#.to_owned(),
            28.0
        )]
    );
}

#[test]
fn delta_irate_and_increase_over_gauges() {
    // Newest last 28 minus oldest last 20.
    assert_eq!(at5("delta"), 8.0);
    // The two newest lasts: 5 then 28.
    assert_eq!(at5("idelta"), 23.0);
    assert_close(at5("irate"), 23.0 / 60.0);
    // Counter semantics with resets: 15 (reset) + 10 + 5 (reset) + 23.
    assert_eq!(at5("increase"), 53.0);
    assert_close(at5("rate"), 53.0 / 300.0);
}

#[test]
fn too_few_windows_give_nothing() {
    // One gauge window in (4.5m, 5m]: delta needs two.
    assert!(vector(&format!("delta({KITCHEN}[30s])"), 5 * M).is_empty());
    assert!(vector(&format!("irate({KITCHEN}[30s])"), 5 * M).is_empty());
}

#[test]
fn subquery_steps_are_aligned_and_start_exclusive() {
    // Steps in (7m, 10m] at multiples of 1m: 8m, 9m, 10m → totals 36, 45, 55.
    let a = r#"http_requests_total{instance="a"}"#;
    assert_eq!(one(&format!("sum_over_time({a}[3m:1m])"), 10 * M), 136.0);
    assert_eq!(one(&format!("max_over_time({a}[3m:1m])"), 10 * M), 55.0);
    assert_eq!(one(&format!("count_over_time({a}[3m:1m])"), 10 * M), 3.0);
    // The rate of a subquery of a rate-like expression: increase over
    // points 36, 45, 55 is 19.
    assert_eq!(one(&format!("increase({a}[3m:1m])"), 10 * M), 19.0);
}
