//! Metric queries: range aggregations at instants and over ranges with
//! hand-computed windows, vector aggregations, unwrap, binary operators,
//! Grafana's health and logs-volume queries, and limits.

use crate::error::AggregatorError;
use crate::logs::source::Direction;
use crate::query::QueryLimits;

use super::super::{QueryResult, RangeWindow, parse};
use super::{Fixture, TENANT, entry, secs};

const API: &[(&str, &str)] = &[("app", "api")];
const WEB: &[(&str, &str)] = &[("app", "web")];

/// api at 10..=60 s every 10 s, latency = n; web at 15 s and 45 s.
/// Line lengths: "level=info latency=1" is 20 bytes, "level=error
/// latency=3" and both web lines are 21.
fn fixture() -> Fixture {
    Fixture::new(entries())
}

fn entries() -> Vec<crate::logs::source::LogEntry> {
    vec![
        entry(10, API, &[], "level=info latency=1"),
        entry(20, API, &[], "level=info latency=2"),
        entry(30, API, &[], "level=error latency=3"),
        entry(40, API, &[], "level=info latency=4"),
        entry(50, API, &[], "level=error latency=5"),
        entry(60, API, &[], "level=info latency=6"),
        entry(15, WEB, &[], "level=info latency=10"),
        entry(45, WEB, &[], "level=warn latency=20"),
    ]
}

fn expect(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(l, v)| (l.to_string(), *v)).collect()
}

const ANY: &str = r#"{app=~".+"}"#;

#[test]
fn count_rate_and_bytes_over_a_left_open_window() {
    let f = fixture();
    // (30, 60]: api 40, 50, 60; web 45.
    let q = |op: &str| format!("{op}({ANY}[30s])");
    assert_eq!(
        f.instant(&q("count_over_time"), 60),
        expect(&[(r#"{app="api"}"#, 3.0), (r#"{app="web"}"#, 1.0)])
    );
    assert_eq!(
        f.instant(&q("rate"), 60),
        expect(&[(r#"{app="api"}"#, 0.1), (r#"{app="web"}"#, 1.0 / 30.0)])
    );
    assert_eq!(
        f.instant(&q("bytes_over_time"), 60),
        expect(&[(r#"{app="api"}"#, 61.0), (r#"{app="web"}"#, 21.0)])
    );
    assert_eq!(
        f.instant(&q("bytes_rate"), 60),
        expect(&[(r#"{app="api"}"#, 61.0 / 30.0), (r#"{app="web"}"#, 0.7)])
    );
    // (10, 30]: 10 is out, 30 is in.
    assert_eq!(
        f.instant(&format!("count_over_time({ANY}[20s])"), 30),
        expect(&[(r#"{app="api"}"#, 2.0), (r#"{app="web"}"#, 1.0)])
    );
    // (20, 40] with the offset.
    assert_eq!(
        f.instant(r#"count_over_time({app="api"}[20s] offset 20s)"#, 60),
        expect(&[(r#"{app="api"}"#, 2.0)])
    );
    // Nothing in (100, 130]: no sample at all, not a zero.
    assert_eq!(f.instant(&q("count_over_time"), 130), expect(&[]));
}

#[test]
fn range_query_slides_windows_over_one_select() {
    let f = fixture();
    let got = f.matrix(&format!("count_over_time({ANY}[20s])"), 30, 60, 10);
    assert_eq!(
        got,
        vec![
            (
                r#"{app="api"}"#.to_owned(),
                vec![(30, 2.0), (40, 2.0), (50, 2.0), (60, 2.0)]
            ),
            (
                r#"{app="web"}"#.to_owned(),
                vec![(30, 1.0), (50, 1.0), (60, 1.0)]
            ),
        ]
    );
    let selects = f.source.selects();
    assert_eq!(selects.len(), 1);
    assert_eq!(
        (selects[0].start_nanos, selects[0].end_nanos),
        (secs(10) + 1, secs(60) + 1)
    );
    assert_eq!(selects[0].direction, Direction::Forward);
}

#[test]
fn vector_aggregations_group_by_and_without() {
    let f = fixture();
    let all = format!("count_over_time({ANY} | logfmt [60s])");
    assert_eq!(
        f.instant(&format!("sum by (level) ({all})"), 60),
        expect(&[
            (r#"{level="error"}"#, 2.0),
            (r#"{level="info"}"#, 5.0),
            (r#"{level="warn"}"#, 1.0)
        ])
    );
    assert_eq!(
        f.instant(&format!("sum({all}) without (latency, level)"), 60),
        expect(&[(r#"{app="api"}"#, 6.0), (r#"{app="web"}"#, 2.0)])
    );
    let per_app = format!("sum by (app) (count_over_time({ANY}[60s]))");
    for (op, value) in [
        ("avg", 4.0),
        ("count", 2.0),
        ("max", 6.0),
        ("min", 2.0),
        ("stdvar", 4.0),
        ("stddev", 2.0),
        ("sum", 8.0),
    ] {
        assert_eq!(
            f.instant(&format!("{op}({per_app})"), 60),
            expect(&[("{}", value)]),
            "{op}"
        );
    }
    assert_eq!(
        f.instant(&format!("topk(1, {per_app})"), 60),
        expect(&[(r#"{app="api"}"#, 6.0)])
    );
    assert_eq!(
        f.instant(&format!("bottomk(1, {per_app})"), 60),
        expect(&[(r#"{app="web"}"#, 2.0)])
    );
    assert_eq!(
        f.instant(&format!("sort({per_app})"), 60),
        expect(&[(r#"{app="web"}"#, 2.0), (r#"{app="api"}"#, 6.0)])
    );
    assert_eq!(
        f.instant(&format!("sort_desc({per_app})"), 60),
        expect(&[(r#"{app="api"}"#, 6.0), (r#"{app="web"}"#, 2.0)])
    );
    assert_eq!(
        f.instant(
            &format!("topk by (level) (1, sum by (app, level) ({all}))"),
            60
        ),
        expect(&[
            (r#"{app="api", level="info"}"#, 4.0),
            (r#"{app="api", level="error"}"#, 2.0),
            (r#"{app="web", level="warn"}"#, 1.0)
        ])
    );
}

#[test]
fn unwrapped_aggregations_over_hand_computed_windows() {
    let f = fixture();
    // (0, 40]: latencies 1, 2, 3, 4.
    let cases = [
        ("sum_over_time", 10.0),
        ("avg_over_time", 2.5),
        ("min_over_time", 1.0),
        ("max_over_time", 4.0),
        ("first_over_time", 1.0),
        ("last_over_time", 4.0),
        ("stdvar_over_time", 1.25),
        ("stddev_over_time", 1.25f64.sqrt()),
        ("rate", 0.25),
    ];
    for (op, value) in cases {
        let query = format!(r#"{op}({{app="api"}} | logfmt | unwrap latency [40s]) by (app)"#);
        assert_eq!(
            f.instant(&query, 40),
            expect(&[(r#"{app="api"}"#, value)]),
            "{op}"
        );
    }
    let quantile = |phi: f64| {
        format!(
            r#"quantile_over_time({phi}, {{app="api"}} | logfmt | unwrap latency [40s]) by (app)"#
        )
    };
    assert_eq!(
        f.instant(&quantile(0.5), 40),
        expect(&[(r#"{app="api"}"#, 2.5)])
    );
    assert_eq!(
        f.instant(&quantile(0.25), 40),
        expect(&[(r#"{app="api"}"#, 1.75)])
    );
    // Without grouping, the unwrapped label leaves the series labels.
    assert_eq!(
        f.instant(
            r#"sum_over_time({app="api"} | logfmt | unwrap latency [40s])"#,
            40
        ),
        expect(&[
            (r#"{app="api", level="error"}"#, 3.0),
            (r#"{app="api", level="info"}"#, 7.0)
        ])
    );
}

#[test]
fn unwrap_converts_durations_and_bytes_and_reports_bad_values() {
    let f = Fixture::new(vec![
        entry(1, API, &[], "took=1s size=1KB"),
        entry(2, API, &[], "took=500ms size=1KiB"),
        entry(3, API, &[], "took=fast size=huge"),
    ]);
    assert_eq!(
        f.instant(r#"sum(sum_over_time({app="api"} | logfmt | unwrap duration(took) | __error__="" [1m]))"#, 10),
        expect(&[("{}", 1.5)])
    );
    assert_eq!(
        f.instant(
            r#"sum(sum_over_time({app="api"} | logfmt | unwrap bytes(size) | __error__="" [1m]))"#,
            10
        ),
        expect(&[("{}", 2024.0)])
    );
    let err = f
        .engine
        .instant(
            TENANT,
            r#"sum_over_time({app="api"} | logfmt | unwrap duration(took) [1m])"#,
            secs(10),
        )
        .unwrap_err();
    assert!(err.to_string().contains("SampleExtractionErr"), "{err}");
}

#[test]
fn metric_queries_fail_on_pipeline_errors_unless_dropped() {
    let f = Fixture::new(vec![
        entry(1, API, &[], r#"{"a":1}"#),
        entry(2, API, &[], "oops"),
    ]);
    let err = f
        .engine
        .instant(
            TENANT,
            r#"count_over_time({app="api"} | json [1m])"#,
            secs(10),
        )
        .unwrap_err();
    assert!(matches!(err, AggregatorError::BadRequest(_)), "{err}");
    assert!(err.to_string().contains("JSONParserErr"), "{err}");
    assert_eq!(
        f.instant(
            r#"count_over_time({app="api"} | json | drop __error__ [1m])"#,
            10
        ),
        expect(&[(r#"{a="1", app="api"}"#, 1.0), (r#"{app="api"}"#, 1.0)])
    );
}

#[test]
fn grafana_health_query_is_two() {
    let f = fixture();
    assert_eq!(f.instant("vector(1)+vector(1)", 60), expect(&[("{}", 2.0)]));
    assert_eq!(
        f.matrix("vector(1)+vector(1)", 0, 20, 10),
        vec![("{}".to_owned(), vec![(0, 2.0), (10, 2.0), (20, 2.0)])]
    );
}

#[test]
fn grafana_logs_volume_query_groups_by_metadata_and_missing_labels() {
    let x: &[(&str, &str)] = &[("service_name", "x")];
    let x_error: &[(&str, &str)] = &[("level", "error"), ("service_name", "x")];
    let f = Fixture::new(vec![
        entry(10, x, &[("detected_level", "info")], "a"),
        entry(20, x_error, &[("detected_level", "error")], "b"),
        entry(30, x, &[("detected_level", "info")], "c"),
        entry(40, x, &[], "d"),
        entry(
            40,
            &[("service_name", "y")],
            &[("detected_level", "info")],
            "e",
        ),
    ]);
    let query = r#"sum by (level, detected_level) (count_over_time({service_name="x"} | drop __error__[1m]))"#;
    assert_eq!(
        f.instant(query, 60),
        expect(&[
            ("{}", 1.0),
            (r#"{detected_level="error", level="error"}"#, 1.0),
            (r#"{detected_level="info"}"#, 2.0)
        ])
    );
    assert_eq!(
        f.matrix(query, 20, 40, 20),
        vec![
            ("{}".to_owned(), vec![(40, 1.0)]),
            (
                r#"{detected_level="error", level="error"}"#.to_owned(),
                vec![(20, 1.0), (40, 1.0)]
            ),
            (
                r#"{detected_level="info"}"#.to_owned(),
                vec![(20, 1.0), (40, 2.0)]
            ),
        ]
    );
}

#[test]
fn scalar_arithmetic_and_comparisons() {
    let f = fixture();
    let scalar = |query: &str| match f.engine.instant(TENANT, query, secs(60)).unwrap().result {
        QueryResult::Scalar {
            timestamp_ms,
            value,
        } => {
            assert_eq!(timestamp_ms, 60_000);
            value
        }
        other => panic!("{query}: {other:?}"),
    };
    assert_eq!(scalar("1 + 2 * 3"), 7.0);
    assert_eq!(scalar("(1 + 2) * 3"), 9.0);
    assert_eq!(scalar("2 ^ 3 ^ 2"), 512.0);
    assert_eq!(scalar("-2 ^ 2"), -4.0);
    assert_eq!(scalar("7 % 4 - 10 / 4"), 0.5);
    assert_eq!(scalar("1 > bool 2"), 0.0);
    assert_eq!(scalar("2 >= bool 2"), 1.0);
    assert_eq!(
        f.matrix("3 - 1", 0, 10, 10),
        vec![("{}".to_owned(), vec![(0, 2.0), (10, 2.0)])]
    );
}

#[test]
fn binary_operators_between_vectors_and_scalars() {
    let f = fixture();
    let counts = format!("sum by (app) (count_over_time({ANY}[60s]))");
    assert_eq!(
        f.instant(&format!("{counts} > 2"), 60),
        expect(&[(r#"{app="api"}"#, 6.0)])
    );
    assert_eq!(
        f.instant(&format!("{counts} > bool 2"), 60),
        expect(&[(r#"{app="api"}"#, 1.0), (r#"{app="web"}"#, 0.0)])
    );
    assert_eq!(
        f.instant(&format!("10 - {counts}"), 60),
        expect(&[(r#"{app="api"}"#, 4.0), (r#"{app="web"}"#, 8.0)])
    );
    assert_eq!(
        f.instant(&format!("-{counts}"), 60),
        expect(&[(r#"{app="api"}"#, -6.0), (r#"{app="web"}"#, -2.0)])
    );
    let info = format!(r#"sum by (app) (count_over_time({ANY} |= "info" [60s]))"#);
    assert_eq!(
        f.instant(&format!("{counts} / {info}"), 60),
        expect(&[(r#"{app="api"}"#, 1.5), (r#"{app="web"}"#, 2.0)])
    );
    assert_eq!(
        f.instant(&format!("sum({counts}) / on () vector(2)"), 60),
        expect(&[("{}", 4.0)])
    );
    let err = f
        .engine
        .instant(
            TENANT,
            &format!("{counts} - ignoring (app) vector(1)"),
            secs(60),
        )
        .unwrap_err();
    assert!(err.to_string().contains("many-to-many"), "{err}");
    assert_eq!(
        f.instant(r#"sum(count_over_time({app="none"}[1m])) or vector(0)"#, 60),
        expect(&[("{}", 0.0)])
    );
    let web = r#"count_over_time({app="web"}[60s])"#;
    assert_eq!(
        f.instant(&format!("count_over_time({ANY}[60s]) and {web}"), 60),
        expect(&[(r#"{app="web"}"#, 2.0)])
    );
    assert_eq!(
        f.instant(&format!("count_over_time({ANY}[60s]) unless {web}"), 60),
        expect(&[(r#"{app="api"}"#, 6.0)])
    );
}

#[test]
fn limits_bound_samples_series_steps_and_time() {
    let small = |limits: QueryLimits| Fixture::with_limits(entries(), limits);
    let f = small(QueryLimits {
        max_samples: 3,
        ..QueryLimits::default()
    });
    let err = f
        .engine
        .instant(TENANT, &format!("count_over_time({ANY}[60s])"), secs(60))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AggregatorError::TooMany {
                what: "samples",
                limit: 3
            }
        ),
        "{err}"
    );
    let f = small(QueryLimits {
        max_series: 1,
        ..QueryLimits::default()
    });
    let err = f
        .engine
        .instant(TENANT, &format!("count_over_time({ANY}[60s])"), secs(60))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AggregatorError::TooMany {
                what: "series",
                limit: 1
            }
        ),
        "{err}"
    );
    assert_eq!(
        f.instant(
            &format!("sum(count_over_time({ANY} |= \"warn\" [60s]))"),
            60
        ),
        expect(&[("{}", 1.0)])
    );
    let f = small(QueryLimits {
        timeout: std::time::Duration::ZERO,
        ..QueryLimits::default()
    });
    let err = f.engine.instant(TENANT, "vector(1)", secs(60)).unwrap_err();
    assert!(matches!(err, AggregatorError::Timeout(_)), "{err}");

    let f = fixture();
    let window = RangeWindow {
        start_nanos: 0,
        end_nanos: secs(20_000),
        step_nanos: secs(1),
        limit: 10,
        direction: Direction::Forward,
    };
    let err = f.engine.range(TENANT, "vector(1)", &window).unwrap_err();
    assert!(err.to_string().contains("11000 points"), "{err}");
    let window = RangeWindow {
        step_nanos: 0,
        ..window
    };
    assert!(matches!(
        f.engine.range(TENANT, "vector(1)", &window),
        Err(AggregatorError::BadRequest(_))
    ));
}

#[test]
fn parsed_queries_can_be_evaluated_repeatedly_with_stats() {
    let f = fixture();
    let expr = parse(&format!("sum(count_over_time({ANY}[30s]))")).unwrap();
    for (second, value) in [(30, 4.0), (60, 4.0)] {
        let output = f.engine.instant_expr(TENANT, &expr, secs(second)).unwrap();
        let QueryResult::Vector(samples) = output.result else {
            panic!()
        };
        assert_eq!(samples[0].value, value, "at {second}");
        assert_eq!(output.stats.entries_matched, 4);
    }
}

/// `sum by` over an additive range aggregation groups while sampling:
/// entries whose metadata is unique (a trace id each) would be one series
/// apiece in the inner aggregation alone, past `max_series`.
#[test]
fn sum_by_of_a_count_never_holds_the_ungrouped_series() {
    let traced: Vec<crate::logs::source::LogEntry> = (1..=6)
        .map(|n| {
            let trace = format!("trace-{n}");
            let level = if n % 3 == 0 { "error" } else { "info" };
            entry(n * 10, API, &[("trace_id", &trace), ("level", level)], "x")
        })
        .collect();
    let f = Fixture::with_limits(
        traced,
        QueryLimits {
            max_series: 2,
            ..QueryLimits::default()
        },
    );
    let inner = format!("count_over_time({ANY}[60s])");
    let err = f.engine.instant(TENANT, &inner, secs(60)).unwrap_err();
    assert!(
        matches!(err, AggregatorError::TooMany { what: "series", .. }),
        "{err}"
    );
    assert_eq!(
        f.instant(&format!("sum by (level) ({inner})"), 60),
        expect(&[(r#"{level="error"}"#, 2.0), (r#"{level="info"}"#, 4.0)])
    );
    assert_eq!(
        f.instant(&format!("sum by (level) (rate({ANY}[60s]))"), 60),
        expect(&[
            (r#"{level="error"}"#, 2.0 / 60.0),
            (r#"{level="info"}"#, 4.0 / 60.0)
        ])
    );
    assert_eq!(
        f.instant(&format!("sum({inner})"), 60),
        expect(&[("{}", 6.0)])
    );
    // max is not additive: it still needs the ungrouped series.
    let err = f
        .engine
        .instant(TENANT, &format!("max by (level) ({inner})"), secs(60))
        .unwrap_err();
    assert!(
        matches!(err, AggregatorError::TooMany { what: "series", .. }),
        "{err}"
    );
}
