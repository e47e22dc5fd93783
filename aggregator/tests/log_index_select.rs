//! The log index as a LogQL source: pushdown of matchers and required
//! substrings never loses an entry, label APIs describe the data, and
//! LogQL queries over the index give hand-counted answers.

mod common;

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use aggregator::labels::{Labels, MatchOp, Matcher};
use aggregator::logs::logql::{LogQlEngine, QueryResult, RangeWindow};
use aggregator::logs::source::{Direction, LogEntry, LogSelect, LogSource};
use aggregator::query::{Deadline, QueryLimits};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValueList, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use common::{HOUR, Harness, MINUTE, SECOND, T0, fast_config, line, line_with, request};

const TENANT: &str = "t";

fn select(harness: &Harness, matchers: Vec<Matcher>, substrings: Vec<String>) -> Vec<LogEntry> {
    let mut entries = Vec::new();
    let select = LogSelect {
        tenant: TENANT.to_owned(),
        start_nanos: T0 - HOUR,
        end_nanos: T0 + 6 * HOUR,
        matchers,
        required_substrings: substrings,
        direction: Direction::Forward,
    };
    harness
        .search
        .select(
            &select,
            Deadline::after(QueryLimits::default().timeout),
            &mut |entry| {
                entries.push(entry);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    entries
}

/// Words that put ASCII next to punctuation, digits, underscores and
/// non-ASCII letters (some of which change length when lowercased).
const WORDS: &[&str] = &[
    "error",
    "Error",
    "ERROR",
    "rror",
    "timeout",
    "time",
    "out",
    "upstream",
    "conn",
    "refused",
    "42",
    "4xx",
    "a",
    "b_c",
    "user@host",
    "über",
    "naïve",
    "İstanbul",
    "\u{212a}elvin",
    "ﬀoo",
    "x.y",
    "--",
    r#"{"k":1}"#,
    "GET",
    "/api/v1",
    "é",
    "e\u{301}t",
    "ǅ",
];
const SEPARATORS: &[&str] = &[" ", ": ", ",", "/", "", "_", "-", ".", "\t", "=\""];

/// A deterministic corpus of lines.
fn corpus() -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut below = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..300)
        .map(|_| {
            let mut line = String::new();
            for _ in 0..1 + below(8) {
                line.push_str(WORDS[below(WORDS.len())]);
                line.push_str(SEPARATORS[below(SEPARATORS.len())]);
            }
            line
        })
        .collect()
}

fn index_lines(lines: &[String]) -> Harness {
    let harness = Harness::started(2, fast_config());
    for (chunk, lines) in lines.chunks(25).enumerate() {
        let logs = lines
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let ts = T0 + (chunk * 25 + i) as i64 * 37 * SECOND;
                line(ts, "INFO", body)
            })
            .collect();
        harness.append(
            chunk as u32 % 2,
            Some(TENANT),
            &request("corpus", &[], logs),
        );
    }
    harness.wait_indexed();
    harness
}

/// `(timestamp, line)` of the entries whose line contains every substring.
fn containing(all: &[LogEntry], substrings: &[String]) -> BTreeSet<(i64, String)> {
    all.iter()
        .filter(|e| substrings.iter().all(|s| e.line.contains(s.as_str())))
        .map(|e| (e.timestamp_nanos, e.line.clone()))
        .collect()
}

/// Substrings of corpus lines cut anywhere (inside words, around
/// punctuation, across words), optionally with their case flipped, and
/// free-form ones.
fn substring(lines: Vec<String>) -> impl Strategy<Value = String> {
    let cut = (
        0..lines.len(),
        any::<prop::sample::Index>(),
        1..12usize,
        any::<bool>(),
    )
        .prop_map(move |(i, start, len, flip)| {
            let chars: Vec<char> = lines[i].chars().collect();
            let start = start.index(chars.len());
            let end = (start + len).min(chars.len());
            let cut: String = chars[start..end].iter().collect();
            if flip { cut.to_ascii_uppercase() } else { cut }
        });
    prop_oneof![4 => cut, 1 => "[a-zA-Z0-9 :._@/-]{1,6}"]
}

#[test]
fn a_substring_hint_never_loses_a_line_containing_it() {
    let lines = corpus();
    let harness = index_lines(&lines);
    let all = select(&harness, Vec::new(), Vec::new());
    assert_eq!(all.len(), lines.len());

    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (substring(lines.clone()), prop::option::of(substring(lines)));
    runner
        .run(&strategy, |(first, second)| {
            let substrings: Vec<String> = std::iter::once(first).chain(second).collect();
            let want = containing(&all, &substrings);
            let got = select(&harness, Vec::new(), substrings.clone());
            let got: BTreeSet<(i64, String)> = got
                .into_iter()
                .map(|e| (e.timestamp_nanos, e.line))
                .collect();
            let lost: Vec<&(i64, String)> = want.difference(&got).collect();
            prop_assert!(lost.is_empty(), "{substrings:?} lost {lost:?}");
            Ok(())
        })
        .unwrap();
}

/// tantivy drops a term longer than `MAX_TOKEN_LEN` bytes: a line whose
/// word is that long must still be found by a substring of it.
#[test]
fn a_substring_of_an_overlong_word_still_finds_its_line() {
    let long_word = format!("{}needle{}", "a".repeat(40_000), "b".repeat(40_000));
    let lines = vec![
        format!("blob {long_word} end"),
        "needle in a haystack".to_owned(),
    ];
    let harness = index_lines(&lines);
    for substring in ["needle", "aneedleb", "blob a", "b end"] {
        let got: Vec<String> = select(&harness, Vec::new(), vec![substring.to_owned()])
            .into_iter()
            .map(|e| e.line)
            .collect();
        let want: Vec<&String> = lines.iter().filter(|l| l.contains(substring)).collect();
        for line in want {
            assert!(
                got.contains(line),
                "{substring:?} lost a line of {} bytes",
                line.len()
            );
        }
    }
}

/// Lines whose record attributes collide with stream labels: the engine
/// reads a name from the stream labels first, so must the pushdown.
fn labelled() -> Harness {
    let harness = Harness::started(1, fast_config());
    let logs = |host: &str| {
        vec![
            LogRecord {
                trace_id: vec![0xab; 16],
                span_id: vec![0xcd; 8],
                ..line_with(
                    T0 + MINUTE,
                    "INFO",
                    "GET /cart 200",
                    &[("http.method", "GET"), ("host.name", host)],
                )
            },
            line(T0 + 2 * MINUTE, "ERROR", "error: db down"),
        ]
    };
    harness.append(
        0,
        Some(TENANT),
        &request(
            "checkout",
            &[("k8s.pod.name", "pod-1"), ("host.name", "node-a")],
            logs("shadow"),
        ),
    );
    harness.append(
        0,
        Some(TENANT),
        &request(
            "checkout",
            &[("k8s.pod.name", "pod-2")],
            vec![line(T0 + 3 * MINUTE, "ERROR", "error again")],
        ),
    );
    harness.append(
        0,
        Some(TENANT),
        &request(
            "payments",
            &[],
            vec![line_with(
                T0 + 4 * MINUTE,
                "WARN",
                "slow",
                &[("host.name", "node-a")],
            )],
        ),
    );
    // A resource attribute named like an id label shadows the record's
    // own id in the query view.
    harness.append(
        0,
        Some(TENANT),
        &request(
            "payments",
            &[("trace.id", "from-resource")],
            vec![LogRecord {
                trace_id: vec![0xef; 16],
                span_id: vec![0x12; 8],
                ..line(T0 + 5 * MINUTE, "INFO", "paid")
            }],
        ),
    );
    harness.wait_indexed();
    harness
}

#[test]
fn matcher_pushdown_returns_every_entry_the_engine_would_select() {
    let harness = labelled();
    let all = select(&harness, Vec::new(), Vec::new());
    assert_eq!(all.len(), 5);
    let lookup = |e: &LogEntry, name: &str| -> String {
        e.labels
            .get(name)
            .or_else(|| e.metadata.get(name))
            .unwrap_or("")
            .to_owned()
    };
    for name in [
        "host_name",
        "service_name",
        "k8s_pod_name",
        "http_method",
        "detected_level",
        "trace_id",
        "span_id",
    ] {
        let values: BTreeSet<String> = all.iter().map(|e| lookup(e, name)).collect();
        for value in values.iter().map(String::as_str).chain(["shadow", "nope"]) {
            for op in [
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::Regex,
                MatchOp::NotRegex,
            ] {
                let matcher = Matcher::new(name, op, value).unwrap();
                let want: BTreeSet<(i64, String)> = all
                    .iter()
                    .filter(|e| matcher.matches(&lookup(e, name)))
                    .map(|e| (e.timestamp_nanos, e.line.clone()))
                    .collect();
                let got: BTreeSet<(i64, String)> =
                    select(&harness, vec![matcher.clone()], Vec::new())
                        .into_iter()
                        .map(|e| (e.timestamp_nanos, e.line))
                        .collect();
                assert!(
                    want.is_subset(&got),
                    "{matcher} lost {:?}",
                    want.difference(&got).collect::<Vec<_>>()
                );
            }
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    )
}

#[test]
fn label_names_values_series_and_stats_describe_the_data() {
    let harness = labelled();
    let source: &dyn LogSource = harness.search.as_ref();
    let (start, end) = (T0, T0 + HOUR);
    assert_eq!(
        source.label_names(TENANT, start, end).unwrap(),
        [
            "detected_level",
            "host_name",
            "http_method",
            "k8s_pod_name",
            "service_name",
            "severity_text",
            "span_id",
            "trace_id",
        ]
    );
    // The id labels' values, as the query view gives them (the record's
    // own id unless a stream label shadows it).
    assert_eq!(
        source
            .label_values(TENANT, "trace_id", start, end, &[])
            .unwrap(),
        ["ab".repeat(16), "from-resource".to_owned()]
    );
    assert_eq!(
        source
            .label_values(TENANT, "span_id", start, end, &[])
            .unwrap(),
        ["12".repeat(8), "cd".repeat(8)]
    );
    assert_eq!(
        source
            .label_values(TENANT, "service_name", start, end, &[])
            .unwrap(),
        ["checkout", "payments"]
    );
    // The resource's `host.name` shadows the record's in the query view.
    assert_eq!(
        source
            .label_values(TENANT, "host_name", start, end, &[])
            .unwrap(),
        ["node-a"]
    );
    let errors = [Matcher::new("severity_text", MatchOp::Equal, "ERROR").unwrap()];
    assert_eq!(
        source
            .label_values(TENANT, "k8s_pod_name", start, end, &errors)
            .unwrap(),
        ["pod-1", "pod-2"]
    );
    let payments = [Matcher::new("service_name", MatchOp::Equal, "payments").unwrap()];
    assert!(
        source
            .label_values(TENANT, "k8s_pod_name", start, end, &payments)
            .unwrap()
            .is_empty()
    );
    // Outside the data's split: nothing.
    assert!(
        source
            .label_names(TENANT, T0 + 2 * HOUR, T0 + 3 * HOUR)
            .unwrap()
            .is_empty()
    );

    let checkout = [Matcher::new("service_name", MatchOp::Equal, "checkout").unwrap()];
    let pod1 = [
        ("host_name", "node-a"),
        ("k8s_pod_name", "pod-1"),
        ("service_name", "checkout"),
    ];
    assert_eq!(
        source.series(TENANT, start, end, &checkout).unwrap(),
        [
            labels(&[pod1.as_slice(), &[("severity_text", "ERROR")]].concat()),
            labels(&[pod1.as_slice(), &[("severity_text", "INFO")]].concat()),
            labels(&[
                ("k8s_pod_name", "pod-2"),
                ("service_name", "checkout"),
                ("severity_text", "ERROR")
            ]),
        ]
    );

    let stats = source.stats(TENANT, start, end, &checkout).unwrap();
    assert_eq!(stats.entries, 3);
    assert_eq!(
        stats.bytes,
        ("GET /cart 200".len() + "error: db down".len() + "error again".len()) as u64
    );
    assert_eq!(stats.chunks, 1);
    assert!(stats.streams >= 1 && stats.streams <= 3, "{stats:?}");
    let none = source
        .stats(TENANT, T0 + 2 * HOUR, T0 + 3 * HOUR, &checkout)
        .unwrap();
    assert_eq!((none.entries, none.bytes, none.chunks), (0, 0, 0));
}

fn json_body(fields: &[(&str, Value)]) -> AnyValue {
    AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: fields
                .iter()
                .map(|(k, v)| opentelemetry_proto::tonic::common::v1::KeyValue {
                    key: (*k).to_owned(),
                    value: Some(AnyValue {
                        value: Some(v.clone()),
                    }),
                    ..Default::default()
                })
                .collect(),
        })),
    }
}

#[test]
fn logql_over_the_index_matches_hand_counts() {
    let harness = Harness::started(2, fast_config());
    // Minute m has m + 1 checkout lines, every other one an error, and a
    // payments error that the selector must leave out.
    let mut lines: Vec<(i64, String, i64)> = Vec::new();
    for minute in 0..6i64 {
        let mut logs = Vec::new();
        for j in 0..=minute {
            let ts = T0 + minute * MINUTE + j * 7 * SECOND;
            let status = if j % 2 == 1 { 500 + j } else { 200 };
            let text = if j % 2 == 1 { "error" } else { "ok" };
            let mut log = line(ts, "INFO", "");
            if j % 3 == 0 {
                log.body = Some(json_body(&[
                    ("msg", Value::StringValue(text.to_owned())),
                    ("status", Value::IntValue(status)),
                ]));
            } else {
                log.body = Some(AnyValue {
                    value: Some(Value::StringValue(format!(
                        r#"{{"msg":"{text}","status":{status}}}"#
                    ))),
                });
            }
            lines.push((
                ts,
                format!(r#"{{"msg":"{text}","status":{status}}}"#),
                status,
            ));
            logs.push(log);
        }
        harness.append(
            minute as u32 % 2,
            Some(TENANT),
            &request("checkout", &[], logs),
        );
        harness.append(
            0,
            Some(TENANT),
            &request(
                "payments",
                &[],
                vec![line(T0 + minute * MINUTE, "ERROR", "error")],
            ),
        );
    }
    harness.wait_indexed();
    let engine = LogQlEngine::new(Arc::clone(&harness.search), QueryLimits::default());

    let window = RangeWindow {
        start_nanos: T0 + MINUTE,
        end_nanos: T0 + 6 * MINUTE,
        step_nanos: MINUTE,
        limit: 1000,
        direction: Direction::Forward,
    };
    let output = engine
        .range(
            TENANT,
            r#"count_over_time({service_name="checkout"} |= "error" [1m])"#,
            &window,
        )
        .unwrap();
    let QueryResult::Matrix(series) = output.result else {
        panic!("not a matrix")
    };
    assert_eq!(series.len(), 1, "{series:?}");
    let want: Vec<(i64, f64)> = (1..=6)
        .map(|m| {
            let t = T0 + m * MINUTE;
            let n = lines
                .iter()
                .filter(|(ts, l, _)| *ts > t - MINUTE && *ts <= t && l.contains("error"))
                .count();
            (t / 1_000_000, n as f64)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    assert_eq!(series[0].points, want);

    let window = RangeWindow {
        start_nanos: T0,
        end_nanos: T0 + HOUR,
        ..window
    };
    let output = engine
        .range(
            TENANT,
            r#"{service_name="checkout"} | json | status >= 500"#,
            &window,
        )
        .unwrap();
    let QueryResult::Streams(streams) = output.result else {
        panic!("not streams")
    };
    let mut got: Vec<(i64, String)> = streams
        .into_iter()
        .flat_map(|s| s.entries.into_iter().map(|e| (e.timestamp_nanos, e.line)))
        .collect();
    got.sort();
    let want: Vec<(i64, String)> = lines
        .iter()
        .filter(|(_, _, status)| *status >= 500)
        .map(|(ts, l, _)| (*ts, l.clone()))
        .collect();
    assert_eq!(got, want);
}
