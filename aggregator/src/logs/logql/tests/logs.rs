//! Log queries: every filter kind, parsers, label filters, drop/keep,
//! line_format, pushdown, limits and direction.

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::error::{AggregatorError, Result};
use crate::labels::{Labels, Matcher};
use crate::logs::source::{Direction, LogEntry, LogSelect, LogSource, SourceStats};
use crate::query::{Deadline, QueryLimits};

use super::super::{LogQlEngine, QueryResult, RangeWindow};
use super::{Fixture, TENANT, entry, labels, secs, stream_lines};

const API: &[(&str, &str)] = &[("app", "api"), ("env", "prod")];
const WEB: &[(&str, &str)] = &[("app", "web")];

fn fixture() -> Fixture {
    Fixture::new(vec![
        entry(
            1,
            API,
            &[("detected_level", "info")],
            r#"{"app":"inner","level":"info","status":200,"latency":"120ms","size":"512B","req":{"path":"/a","method":"GET"},"tags":["x"]}"#,
        ),
        entry(
            2,
            API,
            &[("detected_level", "error")],
            r#"{"level":"error","status":500,"latency":"1.5s","size":"2KB","req":{"path":"/b","method":"POST"}}"#,
        ),
        entry(3, API, &[], "not json at all"),
        entry(
            4,
            WEB,
            &[],
            r#"level=warn status=404 msg="not found" dur=300ms"#,
        ),
        entry(5, WEB, &[], r#"level=info status=200 msg="ok" dur=20ms"#),
    ])
}

/// Just the lines of a query's result, in stream order then entry order.
fn lines_of(fixture: &Fixture, query: &str) -> Vec<String> {
    fixture
        .lines(query)
        .into_iter()
        .map(|(_, line)| line)
        .collect()
}

/// The timestamps (seconds) of a query's entries.
fn seconds_of(fixture: &Fixture, query: &str) -> Vec<i64> {
    let output = fixture.logs(query, 100, Direction::Forward).unwrap();
    let QueryResult::Streams(streams) = output.result else {
        panic!()
    };
    streams
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.timestamp_nanos / secs(1)))
        .collect()
}

#[test]
fn line_filters_contain_exclude_and_match_regexes() {
    let f = fixture();
    assert_eq!(seconds_of(&f, r#"{app="api"} |= "status""#), vec![1, 2]);
    assert_eq!(seconds_of(&f, r#"{app="api"} != "json""#), vec![1, 2]);
    assert_eq!(
        seconds_of(&f, r#"{app="api"} |~ `"status":5\d\d`"#),
        vec![2]
    );
    assert_eq!(seconds_of(&f, r#"{app="api"} !~ `"status":\d+`"#), vec![3]);
    assert_eq!(
        seconds_of(&f, r#"{app=~".+"} |= "POST" or "warn""#),
        vec![2, 4]
    );
    assert_eq!(
        seconds_of(&f, r#"{app=~".+"} != "json" or "level""#),
        Vec::<i64>::new()
    );
    assert_eq!(
        seconds_of(&f, r#"{app=~".+"} |= "level" != "info" |~ "st.tus""#),
        vec![2, 4]
    );
    // Regex matchers in selectors are anchored; line regexes are not.
    assert_eq!(seconds_of(&f, r#"{app=~"ap"} |~ "jso""#), Vec::<i64>::new());
    assert_eq!(seconds_of(&f, r#"{app=~"ap."} |~ "jso""#), vec![3]);
}

#[test]
fn every_plain_contains_filter_is_pushed_down() {
    let f = fixture();
    f.lines(r#"{app="api"} |= "status" |= "a" or "b" != "x" |= "level" | line_format "{{.app}}" |= "api""#);
    let select = f.source.selects().pop().unwrap();
    assert_eq!(select.required_substrings, vec!["status", "level"]);
    assert_eq!(
        select.matchers,
        vec![Matcher::new("app", crate::labels::MatchOp::Equal, "api").unwrap()]
    );
    assert_eq!((select.start_nanos, select.end_nanos), (0, secs(1000)));
}

/// A source that ignores the select entirely and returns every entry.
struct CarelessSource(Vec<LogEntry>);

impl LogSource for CarelessSource {
    fn select(
        &self,
        _: &LogSelect,
        _: Deadline,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        for entry in &self.0 {
            if visit(entry.clone()).is_break() {
                break;
            }
        }
        Ok(())
    }
    fn label_names(&self, _: &str, _: i64, _: i64) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn label_values(&self, _: &str, _: &str, _: i64, _: i64, _: &[Matcher]) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn series(&self, _: &str, _: i64, _: i64, _: &[Matcher]) -> Result<Vec<Labels>> {
        Ok(Vec::new())
    }
    fn stats(&self, _: &str, _: i64, _: i64, _: &[Matcher]) -> Result<SourceStats> {
        Ok(SourceStats::default())
    }
}

#[test]
fn engine_rechecks_what_a_source_only_narrows() {
    let source: Arc<dyn LogSource> = Arc::new(CarelessSource(vec![
        entry(1, API, &[], "GET /a"),
        entry(2, WEB, &[], "GET /b"),
        entry(3, API, &[], "POST /c"),
        entry(50, API, &[], "GET /late"),
    ]));
    let engine = LogQlEngine::new(source, QueryLimits::default());
    let window = RangeWindow {
        start_nanos: 0,
        end_nanos: secs(10),
        step_nanos: secs(1),
        limit: 10,
        direction: Direction::Forward,
    };
    let output = engine
        .range(TENANT, r#"{app="api"} |= "GET""#, &window)
        .unwrap();
    assert_eq!(
        stream_lines(&output.result),
        vec![(r#"{app="api", env="prod"}"#.to_owned(), "GET /a".to_owned())]
    );
    assert_eq!(output.stats.entries_scanned, 4);
    assert_eq!(output.stats.bytes_scanned, 6 + 6 + 7 + 9);
    assert_eq!(output.stats.entries_matched, 1);
}

#[test]
fn json_flattens_nested_objects_skips_arrays_and_renames_collisions() {
    let f = fixture();
    let found = f.lines(r#"{app="api"} |= "GET" | json"#);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].0,
        r#"{app="api", app_extracted="inner", env="prod", latency="120ms", level="info", req_method="GET", req_path="/a", size="512B", status="200"}"#
    );
}

#[test]
fn json_marks_lines_that_do_not_parse() {
    let f = fixture();
    let output = f
        .logs(
            r#"{app="api"} |= "not json" | json"#,
            10,
            Direction::Forward,
        )
        .unwrap();
    let QueryResult::Streams(streams) = output.result else {
        panic!()
    };
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].labels.get("__error__"), Some("JSONParserErr"));
    assert!(streams[0].labels.get("__error_details__").is_some());
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__ = """#),
        vec![1, 2]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__ != """#),
        vec![3]
    );
}

#[test]
fn json_with_paths_extracts_only_those_fields() {
    let f = fixture();
    let found = f.lines(r#"{app="api"} |= "GET" | json path="req.path", tag="tags[0]", method="req[\"method\"]", status"#);
    assert_eq!(
        found[0].0,
        r#"{app="api", env="prod", method="GET", path="/a", status="200", tag="x"}"#
    );
    let whole = f.lines(r#"{app="api"} |= "GET" | json req | drop app, env"#);
    assert_eq!(
        whole[0].0,
        r#"{req="{\"method\":\"GET\",\"path\":\"/a\"}"}"#
    );
}

#[test]
fn logfmt_extracts_pairs_and_strict_mode_reports_errors() {
    let f = Fixture::new(vec![
        entry(
            1,
            WEB,
            &[],
            r#"level=warn msg="not \"found\"" dur=300ms flag"#,
        ),
        entry(2, WEB, &[], r#"level=info =oops msg="unterminated"#),
    ]);
    let found = f.lines(r#"{app="web"} | logfmt"#);
    assert_eq!(
        found[0].0,
        r#"{app="web", dur="300ms", level="warn", msg="not \"found\""}"#
    );
    // Lenient by default: the malformed pair is skipped, no error.
    assert_eq!(found[1].0, r#"{app="web", level="info"}"#);
    let strict = f.lines(r#"{app="web"} |= "oops" | logfmt --strict"#);
    assert_eq!(
        strict[0].0,
        r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 11: unexpected '='", app="web", level="info"}"#
    );
    let picked = f.lines(r#"{app="web"} |= "warn" | logfmt lvl="level", dur"#);
    assert_eq!(picked[0].0, r#"{app="web", dur="300ms", lvl="warn"}"#);
}

#[test]
fn numeric_duration_and_byte_filters_compare_values() {
    let f = fixture();
    // The unparseable line carries an error, which numeric filters let pass.
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | status >= 500"#),
        vec![3, 2]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__="" | status >= 500"#),
        vec![2]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__="" | status == 200"#),
        vec![1]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__="" | latency > 250ms"#),
        vec![2]
    );
    assert_eq!(
        seconds_of(
            &f,
            r#"{app="api"} | json | __error__="" | latency <= 120ms"#
        ),
        vec![1]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__="" | size > 1KB"#),
        vec![2]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="api"} | json | __error__="" | size <= 0.5KiB"#),
        vec![1]
    );
    assert_eq!(
        seconds_of(&f, r#"{app="web"} | logfmt | dur >= 300ms"#),
        vec![4]
    );
    // A missing label fails a numeric comparison.
    assert_eq!(
        seconds_of(&f, r#"{app="web"} | logfmt | nope > 0"#),
        Vec::<i64>::new()
    );
}

#[test]
fn unparseable_numbers_mark_the_entry_and_keep_it() {
    let f = fixture();
    let found = f.lines(r#"{app="api"} |= "GET" | json | level > 5 | drop __error_details__"#);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].0.contains(r#"__error__="LabelFilterErr""#),
        "{}",
        found[0].0
    );
}

#[test]
fn label_filters_combine_with_and_or_and_parentheses() {
    let f = fixture();
    let base = r#"{app="api"} | json | __error__="" "#;
    let seconds = |filter: &str| seconds_of(&f, &format!("{base}| {filter}"));
    assert_eq!(
        seconds(r#"(status = 200 or latency > 1s) and req_method="GET""#),
        vec![1]
    );
    assert_eq!(seconds(r#"status = 200 or latency > 1s"#), vec![1, 2]);
    assert_eq!(
        seconds(r#"status = 200, req_method="POST""#),
        Vec::<i64>::new()
    );
    assert_eq!(
        seconds(r#"req_method="POST" or req_method="GET" and status=500"#),
        vec![2]
    );
    assert_eq!(seconds(r#"level=~"err.*""#), vec![2]);
}

#[test]
fn structured_metadata_filters_but_is_reported_apart_from_labels() {
    let f = fixture();
    let output = f
        .logs(
            r#"{app="api"} | detected_level="error""#,
            10,
            Direction::Forward,
        )
        .unwrap();
    let QueryResult::Streams(streams) = output.result else {
        panic!()
    };
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].labels, labels(API));
    assert_eq!(
        streams[0].entries[0].metadata,
        labels(&[("detected_level", "error")])
    );
    assert_eq!(streams[0].entries[0].timestamp_nanos, secs(2));
    // Selectors may name metadata too.
    assert_eq!(seconds_of(&f, r#"{detected_level="info"}"#), vec![1]);
}

#[test]
fn drop_and_keep_remove_labels_by_name_or_value() {
    let f = fixture();
    let dropped = f.lines(r#"{app="api"} |= "GET" | json | drop req_path, level="info", status="404", app_extracted, latency, size"#);
    assert_eq!(
        dropped[0].0,
        r#"{app="api", env="prod", req_method="GET", status="200"}"#
    );
    let kept = f.lines(r#"{app="api"} | json | keep app, status="500""#);
    assert_eq!(
        kept.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        vec![
            r#"{__error__="JSONParserErr", __error_details__="expected ident at line 1 column 2", app="api"}"#,
            r#"{app="api"}"#,
            r#"{app="api", status="500"}"#,
        ]
    );
    let clean = f.lines(r#"{app="api"} |= "not json" | json | drop __error__"#);
    assert_eq!(clean[0].0, r#"{app="api", env="prod"}"#);
}

#[test]
fn line_format_and_regexp_rewrite_and_extract() {
    let f = fixture();
    assert_eq!(
        lines_of(
            &f,
            r#"{app="web"} | logfmt | line_format "{{.level}}: {{ .msg }}{{.missing}}" |= "warn""#
        ),
        vec!["warn: not found"]
    );
    let found = f.lines(r#"{app="web"} | regexp "status=(?P<code>\\d+) " | code="200""#);
    assert_eq!(
        found,
        vec![(
            r#"{app="web", code="200"}"#.to_owned(),
            r#"level=info status=200 msg="ok" dur=20ms"#.to_owned()
        )]
    );
}

#[test]
fn limit_keeps_the_newest_entries_backward_and_the_oldest_forward() {
    let f = fixture();
    let backward = f.logs(r#"{app=~".+"}"#, 3, Direction::Backward).unwrap();
    let QueryResult::Streams(streams) = &backward.result else {
        panic!()
    };
    let got: Vec<(String, Vec<i64>)> = streams
        .iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.entries
                    .iter()
                    .map(|e| e.timestamp_nanos / secs(1))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (r#"{app="api", env="prod"}"#.to_owned(), vec![3]),
            (r#"{app="web"}"#.to_owned(), vec![5, 4]),
        ]
    );
    // The select stopped once the limit was reached.
    assert_eq!(backward.stats.entries_scanned, 3);
    let forward = f.logs(r#"{app=~".+"}"#, 2, Direction::Forward).unwrap();
    assert_eq!(stream_lines(&forward.result).len(), 2,);
    assert_eq!(
        seconds_of(&f, r#"{app=~".+"} |= "status""#),
        vec![1, 2, 4, 5]
    );
}

#[test]
fn log_range_is_start_inclusive_end_exclusive() {
    let f = fixture();
    let window = RangeWindow {
        start_nanos: secs(2),
        end_nanos: secs(4),
        step_nanos: secs(1),
        limit: 10,
        direction: Direction::Forward,
    };
    let output = f.engine.range(TENANT, r#"{app=~".+"}"#, &window).unwrap();
    let QueryResult::Streams(streams) = output.result else {
        panic!()
    };
    let seconds: Vec<i64> = streams
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.timestamp_nanos / secs(1)))
        .collect();
    assert_eq!(seconds, vec![2, 3]);
}

#[test]
fn limits_refuse_oversized_queries() {
    let limits = QueryLimits {
        max_hits: 2,
        max_series: 1,
        ..QueryLimits::default()
    };
    let f = Fixture::with_limits(fixture_entries(), limits);
    let err = f
        .logs(r#"{app="api"}"#, 3, Direction::Backward)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AggregatorError::TooMany {
                what: "log lines",
                limit: 2
            }
        ),
        "{err}"
    );
    let err = f
        .logs(r#"{app=~".+"}"#, 2, Direction::Backward)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AggregatorError::TooMany {
                what: "streams",
                limit: 1
            }
        ),
        "{err}"
    );
    let err = f.logs(r#"{app="api"}"#, 0, Direction::Forward).unwrap_err();
    assert!(matches!(err, AggregatorError::BadRequest(_)), "{err}");
    let timed_out = Fixture::with_limits(
        fixture_entries(),
        QueryLimits {
            timeout: std::time::Duration::ZERO,
            ..QueryLimits::default()
        },
    );
    let err = timed_out
        .logs(r#"{app="api"}"#, 2, Direction::Forward)
        .unwrap_err();
    assert!(matches!(err, AggregatorError::Timeout(_)), "{err}");
}

fn fixture_entries() -> Vec<LogEntry> {
    vec![
        entry(1, API, &[], "a"),
        entry(2, API, &[], "b"),
        entry(3, API, &[], "c"),
        entry(4, WEB, &[], "d"),
    ]
}

#[test]
fn instant_log_queries_are_refused_and_tenants_are_isolated() {
    let f = fixture();
    let err = f
        .engine
        .instant(TENANT, r#"{app="api"}"#, secs(10))
        .unwrap_err();
    assert!(err.to_string().contains("range query"), "{err}");
    assert!(lines_of(&f, r#"{app="api"} |= "secret""#).is_empty());
}
