//! Parsing: the tree for representative queries, errors with positions,
//! and no panic on any input.

use proptest::prelude::*;

use crate::error::AggregatorError;
use crate::labels::MatchOp;

use super::super::ast::{BinaryOp, CompareOp, Expr, LabelFilter, RangeOp, Stage, Unit, VectorOp};
use super::super::{QueryKind, parse};

/// The position and message of a query's parse error.
fn parse_error(query: &str) -> (usize, String) {
    match parse(query) {
        Err(AggregatorError::Parse { position, message }) => (position, message),
        other => panic!("{query}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn log_query_parses_into_selector_and_stages() {
    let expr =
        parse(r#"{app="api", env!~"dev|test"} |= "GET" | json | status >= 500 | drop level"#)
            .unwrap();
    assert_eq!(expr.kind(), QueryKind::Log);
    let Expr::Log(log) = &expr else {
        panic!("{expr:?}")
    };
    assert_eq!(log.matchers.len(), 2);
    assert_eq!(log.matchers[1].op, MatchOp::NotRegex);
    assert_eq!(log.stages.len(), 4);
    assert!(matches!(&log.stages[1], Stage::Json(extractions) if extractions.is_empty()));
    assert!(matches!(
        &log.stages[2],
        Stage::LabelFilter(LabelFilter::Compare { op: CompareOp::Ge, value, unit: Unit::Number, .. })
            if *value == 500.0
    ));
}

#[test]
fn metric_query_parses_with_precedence_and_both_grouping_forms() {
    let expr = parse(r#"sum by (app) (rate({app="api"}[5m] offset 1m)) * 2 + 1"#).unwrap();
    assert_eq!(expr.kind(), QueryKind::Metric);
    let Expr::Binary(add) = &expr else {
        panic!("{expr:?}")
    };
    assert_eq!(add.op, BinaryOp::Add);
    let Expr::Binary(mul) = add.lhs.as_ref() else {
        panic!("{add:?}")
    };
    let Expr::VectorAggregation(sum) = mul.lhs.as_ref() else {
        panic!("{mul:?}")
    };
    assert_eq!(sum.op, VectorOp::Sum);
    assert_eq!(sum.grouping.as_ref().unwrap().labels, vec!["app"]);
    let Expr::RangeAggregation(rate) = sum.inner.as_ref() else {
        panic!("{sum:?}")
    };
    assert_eq!(
        (rate.op, rate.range_nanos, rate.offset_nanos),
        (RangeOp::Rate, 300e9 as i64, 60e9 as i64)
    );

    let suffix = parse(r#"sum(count_over_time({a="b"} | json [1m])) without (x)"#).unwrap();
    let Expr::VectorAggregation(sum) = &suffix else {
        panic!("{suffix:?}")
    };
    assert!(sum.grouping.as_ref().unwrap().without);
    assert_eq!(expr.selectors().len(), 1);
    assert_eq!(expr.selectors()[0][0].to_string(), r#"app="api""#);
}

#[test]
fn unwrap_range_may_follow_the_selector_or_the_pipeline() {
    for query in [
        r#"quantile_over_time(0.9, {a="b"} | logfmt | unwrap duration(latency) | __error__="" [5m]) by (a)"#,
        r#"quantile_over_time(0.9, {a="b"}[5m] | logfmt | unwrap duration(latency) | __error__="")"#,
    ] {
        let Expr::RangeAggregation(agg) = parse(query).unwrap() else {
            panic!("{query}")
        };
        let unwrap = agg.unwrap.unwrap();
        assert_eq!(
            (unwrap.label.as_str(), unwrap.unit),
            ("latency", Unit::Duration)
        );
        assert_eq!(unwrap.filters.len(), 1);
        assert_eq!(agg.param, Some(0.9));
    }
}

#[test]
fn scalar_arithmetic_is_right_associative_for_power() {
    let Expr::Binary(pow) = parse("2 ^ 3 ^ 2").unwrap() else {
        panic!()
    };
    assert!(matches!(*pow.lhs, Expr::Number(v) if v == 2.0));
    assert!(matches!(*pow.rhs, Expr::Binary(_)));
    assert_eq!(parse("-1").unwrap(), Expr::Number(-1.0));
}

#[test]
fn syntax_errors_name_the_token_and_its_position() {
    let cases: &[(&str, usize, &str)] = &[
        (r#"{|}"#, 1, r#"unexpected "|", expected a label matcher"#),
        (r#"{}"#, 1, r#"unexpected "}", expected a label matcher"#),
        (
            r#"{app="x"} | "#,
            12,
            "unexpected end of query, expected a pipeline stage",
        ),
        (
            r#"{app="x"} |= 5"#,
            13,
            "unexpected number, expected a quoted string",
        ),
        (
            r#"{app "x"}"#,
            5,
            r#"unexpected string "x", expected a matcher operator"#,
        ),
        (
            r#"{app="x" env="y"}"#,
            9,
            r#"unexpected identifier "env", expected "," or "}""#,
        ),
        (
            r#"count_over_time({app="x"})"#,
            25,
            "expected a pipeline stage or a range such as [5m]",
        ),
        (
            r#"count_over_time({app="x"}[5])"#,
            26,
            "expected a positive duration",
        ),
        (
            r#"sum(count_over_time({app="x"}[1m])"#,
            34,
            r#"unexpected end of query, expected ")""#,
        ),
        (
            r#"{app="x"} | status > "5""#,
            21,
            "expected a number, not a string",
        ),
        (
            r#"{app="x"} | status >"#,
            20,
            "expected a string, number, duration or byte size",
        ),
        (r#"foo({app="x"})"#, 0, r#"unknown function "foo""#),
        (
            r#"{app="x"} | label_format a=b"#,
            12,
            "the label_format stage is not supported",
        ),
        (
            r#"{app="x"}[5m]"#,
            9,
            "only allowed inside a range aggregation",
        ),
        (
            r#"count_over_time({app="x"}[5m]) )"#,
            31,
            "expected an operator or the end of the query",
        ),
    ];
    for (query, position, message) in cases {
        let (actual_position, actual_message) = parse_error(query);
        assert!(
            actual_message.contains(message),
            "{query}: {actual_message:?} should contain {message:?}"
        );
        assert_eq!(actual_position, *position, "{query}: {actual_message}");
    }
}

#[test]
fn semantic_errors_point_at_their_cause() {
    let cases: &[(&str, usize, &str)] = &[
        (
            r#"{app=~".*"}"#,
            0,
            "at least one matcher that does not match the empty string",
        ),
        (r#"{app=""}"#, 0, "at least one matcher"),
        (r#"{app="x"} |~ "(""#, 13, "invalid regex"),
        (r#"{app=~"("}"#, 6, "invalid regex"),
        (
            r#"sum_over_time({app="x"}[5m])"#,
            0,
            "needs an unwrapped label",
        ),
        (
            r#"count_over_time({app="x"} | unwrap n [5m])"#,
            0,
            "cannot be used with unwrap",
        ),
        (
            r#"count_over_time({app="x"}[5m]) by (a)"#,
            31,
            "grouping is only allowed on unwrapped",
        ),
        (
            r#"{app="x"} | unwrap n"#,
            12,
            "unwrap is only allowed inside a range aggregation",
        ),
        (
            r#"1 > 2"#,
            2,
            "comparisons between scalars must use the bool modifier",
        ),
        (r#"{app="x"} + 1"#, 10, "a log query cannot be an operand"),
        (
            r#"1 and vector(1)"#,
            2,
            "set operators are not allowed with scalars",
        ),
        (r#"topk(0, count_over_time({a="b"}[1m]))"#, 5, "invalid k 0"),
        (r#"sum(1)"#, 4, "expected a vector expression"),
        (
            r#"{app="x"} | regexp `(\d+)`"#,
            19,
            "at least one named capture",
        ),
        (
            r#"{app="x"} | line_format "{{ .a | upper }}""#,
            24,
            "unsupported line_format action",
        ),
        (r#"{app="x"} | json a="b..c""#, 19, "invalid json path"),
        (
            r#"{app="x"} | logfmt --fast"#,
            19,
            "unknown logfmt flag --fast",
        ),
    ];
    for (query, position, message) in cases {
        let (actual_position, actual_message) = parse_error(query);
        assert!(
            actual_message.contains(message),
            "{query}: {actual_message:?} should contain {message:?}"
        );
        assert_eq!(actual_position, *position, "{query}: {actual_message}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let query = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let (_, message) = parse_error(&query);
    assert!(message.contains("nests deeper"), "{message}");
    let filters = format!(
        r#"{{a="b"}} | {}x="1"{}"#,
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(parse_error(&filters).1.contains("nests deeper"));
}

/// Valid queries whose every prefix must parse or fail cleanly.
const SAMPLES: &[&str] = &[
    r#"sum by (level, detected_level) (count_over_time({service_name="x"} | drop __error__[1m]))"#,
    r#"topk(3, sum without (pod) (rate({app=~"a|b"} |= "err" or "warn" != `debug` | json a="x[0].y" [5m] offset 1h)))"#,
    r#"quantile_over_time(0.99, {a="b"} | logfmt --strict | unwrap bytes(size) | __error__="" [1m]) by (a) > bool 2 ^ -1"#,
    r#"{a="b"} |~ "\\d+\u00e9" | (x >= 1.5KB or y < 250ms), z!="q" | keep x | line_format "{{.x}} \"{{ .y }}\"""#,
    r#"vector(1) + on (a) count_over_time({a="b"}[1m]) unless ignoring (b) sort_desc(vector(2)) # done"#,
];

#[test]
fn every_prefix_of_valid_queries_parses_or_fails_cleanly() {
    for query in SAMPLES {
        parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        for end in (0..query.len()).filter(|&i| query.is_char_boundary(i)) {
            let _ = parse(&query[..end]);
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(query in "\\PC{0,60}") {
        let _ = parse(&query);
    }

    #[test]
    fn parse_never_panics_on_query_like_token_soup(
        tokens in proptest::collection::vec(
            prop::sample::select(vec![
                "{", "}", "(", ")", "[", "]", ",", "=", "!=", "=~", "!~", "|=", "|~", "|", ">",
                ">=", "==", "+", "-", "*", "/", "^", "a", "json", "logfmt", "unwrap", "by",
                "without", "or", "and", "bool", "on", "offset", "sum", "topk", "rate",
                "count_over_time", "quantile_over_time", "vector", "drop", "line_format",
                "\"x\"", "`y`", "1", "0.5", "5m", "1KB", "--strict", "duration", "\"{{.a}}\"",
            ]),
            0..24,
        )
    ) {
        let _ = parse(&tokens.join(" "));
    }
}
