//! The native search API over a real log, consumer and index: what is
//! appended becomes searchable by every kind of query, tenants never see
//! each other's documents, histograms count exactly, and a live tail shows
//! each new document once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aggregator::consumer::PartitionSink;
use aggregator::labels::{MatchOp, Matcher};
use aggregator::logs::indexer::PartitionIndexer;
use aggregator::logs::search::{LogSearch, SearchRequest};
use aggregator::logs::source::{Direction, LogSelect, LogSource};
use aggregator::logs::store::{LogIndexConfig, LogStore};
use aggregator::query::{Deadline, QueryLimits};
use bytes::Bytes;
use log_core::Record;
use prost::Message;

use common::{HOUR, Harness, MINUTE, SECOND, T0, fast_config, line, line_with, request};

const A: &str = "a";
const B: &str = "b";

/// Tenant `a` has three checkout lines on partition 0 and three payments
/// lines on partition 1 (one in the next hour); tenant `b` (and `ab`,
/// whose name starts with `a`) has lookalikes.
fn fixture() -> Harness {
    let harness = Harness::started(2, fast_config());
    let prod = [("k8s.namespace.name", "prod")];
    harness.append(
        0,
        Some(A),
        &request(
            "checkout",
            &prod,
            vec![
                line_with(
                    T0 + MINUTE,
                    "ERROR",
                    "connection refused by upstream",
                    &[("http.method", "GET")],
                ),
                line_with(
                    T0 + 2 * MINUTE,
                    "INFO",
                    "request served in 20ms",
                    &[("http.method", "POST")],
                ),
            ],
        ),
    );
    harness.append(
        0,
        Some(A),
        &request(
            "checkout",
            &prod,
            vec![line_with(
                T0 + 3 * MINUTE,
                "ERROR",
                "upstream timeout after 30s",
                &[("http.method", "GET")],
            )],
        ),
    );
    harness.append(
        1,
        Some(A),
        &request(
            "payments",
            &[("k8s.namespace.name", "staging")],
            vec![
                line_with(
                    T0 + 4 * MINUTE,
                    "WARN",
                    "timeout talking to bank",
                    &[("http.method", "GET")],
                ),
                line(T0 + 5 * MINUTE, "ERROR", "refused connection to ledger"),
                line(T0 + 65 * MINUTE, "INFO", "settled batch 7"),
            ],
        ),
    );
    for tenant in [B, "ab"] {
        harness.append(
            0,
            Some(tenant),
            &request(
                "checkout",
                &[("team", "beta")],
                vec![line_with(
                    T0 + 2 * MINUTE,
                    "ERROR",
                    &format!("tenant {tenant} timeout: connection refused"),
                    &[("http.method", "GET")],
                )],
            ),
        );
    }
    harness.wait_indexed();
    harness
}

fn sorted(mut bodies: Vec<String>) -> Vec<String> {
    bodies.sort();
    bodies
}

fn search(
    harness: &Harness,
    query: &str,
    range: (i64, i64),
    limit: usize,
    direction: Direction,
) -> (Vec<String>, u64) {
    let response = harness
        .search
        .search(&SearchRequest {
            tenant: A.to_owned(),
            query: query.to_owned(),
            start_nanos: range.0,
            end_nanos: range.1,
            limit,
            direction,
        })
        .unwrap();
    let bodies = response.hits.into_iter().map(|d| d.body).collect();
    (bodies, response.num_hits)
}

#[test]
fn appended_records_are_searchable_by_term_phrase_field_and_attribute() {
    let harness = fixture();
    let matching = |query: &str| {
        let (bodies, total) = harness.all_hits(A, query, T0, T0 + 2 * HOUR);
        assert_eq!(bodies.len() as u64, total, "{query}");
        sorted(bodies)
    };
    assert_eq!(
        matching("timeout"),
        ["timeout talking to bank", "upstream timeout after 30s"]
    );
    assert_eq!(matching("body:TIMEOUT"), matching("timeout"));
    // A phrase keeps word order; the words alone match both.
    assert_eq!(
        matching(r#""connection refused""#),
        ["connection refused by upstream"]
    );
    assert_eq!(matching("connection refused").len(), 2);
    assert_eq!(
        matching("service_name:checkout AND severity_text:ERROR"),
        [
            "connection refused by upstream",
            "upstream timeout after 30s"
        ]
    );
    assert_eq!(
        matching("attributes.http.method:GET"),
        [
            "connection refused by upstream",
            "timeout talking to bank",
            "upstream timeout after 30s"
        ]
    );
    assert_eq!(
        matching("resource_attributes.k8s.namespace.name:staging"),
        [
            "refused connection to ledger",
            "settled batch 7",
            "timeout talking to bank"
        ]
    );
    assert_eq!(matching("severity_number:17").len(), 3);
    assert_eq!(matching("nothing_like_this"), Vec::<String>::new());
    assert_eq!(matching("*").len(), 6);
    assert_eq!(matching("").len(), 6);
}

#[test]
fn searches_keep_to_the_time_range_order_and_limit() {
    let harness = fixture();
    let all = (T0, T0 + 2 * HOUR);
    // `[start, end)`: the 2m line is in, the 5m line out.
    let (bodies, total) = search(
        &harness,
        "*",
        (T0 + 2 * MINUTE, T0 + 5 * MINUTE),
        10,
        Direction::Forward,
    );
    assert_eq!(
        bodies,
        [
            "request served in 20ms",
            "upstream timeout after 30s",
            "timeout talking to bank"
        ]
    );
    assert_eq!(total, 3);

    // Newest first across partitions and splits; the total counts all.
    let (bodies, total) = search(&harness, "*", all, 3, Direction::Backward);
    assert_eq!(
        bodies,
        [
            "settled batch 7",
            "refused connection to ledger",
            "timeout talking to bank"
        ]
    );
    assert_eq!(total, 6);
    let (bodies, total) = search(&harness, "*", all, 2, Direction::Forward);
    assert_eq!(
        bodies,
        ["connection refused by upstream", "request served in 20ms"]
    );
    assert_eq!(total, 6);
    let (bodies, total) = search(&harness, "timeout", all, 0, Direction::Backward);
    assert!(bodies.is_empty());
    assert_eq!(total, 2);
    // A hit limit above the query limits is refused.
    let too_many = harness.search.search(&SearchRequest {
        tenant: A.to_owned(),
        query: "*".to_owned(),
        start_nanos: all.0,
        end_nanos: all.1,
        limit: QueryLimits::default().max_hits + 1,
        direction: Direction::Backward,
    });
    assert!(too_many.is_err());
    // Documents come back whole.
    let response = harness
        .search
        .search(&SearchRequest {
            tenant: A.to_owned(),
            query: r#""connection refused""#.to_owned(),
            start_nanos: all.0,
            end_nanos: all.1,
            limit: 1,
            direction: Direction::Backward,
        })
        .unwrap();
    let doc = &response.hits[0];
    assert_eq!(
        (doc.service_name.as_str(), doc.severity_text.as_str()),
        ("checkout", "ERROR")
    );
    assert_eq!(doc.timestamp_nanos, T0 + MINUTE);
    assert_eq!(doc.offset, 0);
}

#[test]
fn a_tenant_never_sees_another_tenants_documents() {
    let harness = fixture();
    let everything = (i64::MIN, i64::MAX);
    let (a, _) = harness.all_hits(A, "timeout OR refused", everything.0, everything.1);
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|b| !b.starts_with("tenant")), "{a:?}");
    let (b, total) = harness.all_hits(B, "*", everything.0, everything.1);
    assert_eq!(b, ["tenant b timeout: connection refused"]);
    assert_eq!(total, 1);
    // Even a query naming the other tenant's field values stays scoped.
    let (b, _) = harness.all_hits(
        B,
        "tenant:a OR resource_attributes.team:beta",
        T0,
        T0 + HOUR,
    );
    assert_eq!(b.len(), 1);

    let histogram = harness
        .search
        .histogram(B, "*", T0, T0 + 2 * HOUR, HOUR, true)
        .unwrap();
    assert_eq!(histogram.total, 1);
    let fields = harness
        .search
        .field_summary(B, "*", T0, T0 + 2 * HOUR)
        .unwrap();
    assert_eq!(fields.sampled_docs, 1);

    let source: &dyn LogSource = harness.search.as_ref();
    let mut lines = Vec::new();
    let select = LogSelect {
        tenant: B.to_owned(),
        start_nanos: T0,
        end_nanos: T0 + 2 * HOUR,
        matchers: vec![Matcher::new("service_name", MatchOp::Equal, "checkout").unwrap()],
        required_substrings: vec!["refused".to_owned()],
        direction: Direction::Forward,
    };
    source
        .select(
            &select,
            Deadline::after(QueryLimits::default().timeout),
            &mut |e| {
                lines.push(e.line);
                std::ops::ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(lines, ["tenant b timeout: connection refused"]);

    let (start, end) = (T0, T0 + 2 * HOUR);
    let names = source.label_names(A, start, end).unwrap();
    assert!(!names.iter().any(|n| n == "team"), "{names:?}");
    assert!(names.iter().any(|n| n == "k8s_namespace_name"), "{names:?}");
    assert!(
        source
            .label_names(B, start, end)
            .unwrap()
            .contains(&"team".to_owned())
    );
    assert!(
        source
            .label_values(A, "team", start, end, &[])
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        source.label_values(B, "team", start, end, &[]).unwrap(),
        ["beta"]
    );
    let any_service = [Matcher::new("service_name", MatchOp::Regex, ".+").unwrap()];
    assert_eq!(
        source
            .label_values(B, "severity_text", start, end, &any_service)
            .unwrap(),
        ["ERROR"]
    );
    let series = source.series(B, start, end, &any_service).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].get("team"), Some("beta"));
    assert!(
        source
            .series(A, start, end, &any_service)
            .unwrap()
            .iter()
            .all(|s| s.get("team").is_none())
    );
    assert_eq!(
        source.stats(B, start, end, &any_service).unwrap().entries,
        1
    );
    assert_eq!(
        source.stats(A, start, end, &any_service).unwrap().entries,
        6
    );
    assert_eq!(
        source
            .stats("nobody", start, end, &any_service)
            .unwrap()
            .entries,
        0
    );
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn histogram_counts_per_interval_and_severity_equal_the_input() {
    let harness = Harness::started(2, fast_config());
    let severities = ["DEBUG", "INFO", "WARN", "ERROR"];
    let mut rng = Lcg(7);
    let mut docs: Vec<(i64, &str)> = Vec::new();
    for record in 0..40 {
        let logs = (0..8)
            .map(|_| {
                let ts = T0 + rng.below(2 * 3600) as i64 * SECOND + rng.below(1000) as i64;
                let severity = severities[rng.below(4) as usize];
                docs.push((ts, severity));
                line(ts, severity, "tick")
            })
            .collect();
        harness.append(record % 2, Some(A), &request("clock", &[], logs));
    }
    harness.wait_indexed();

    let interval = 7 * MINUTE;
    for (start, end, query) in [
        (T0 + 3 * MINUTE + 1, T0 + 110 * MINUTE, "*"),
        (T0 - HOUR, T0 + 3 * HOUR, "*"),
        (T0 + 10 * MINUTE, T0 + 80 * MINUTE, "severity_text:ERROR"),
    ] {
        let first = start - start.rem_euclid(interval);
        let buckets = ((end - first - 1) / interval + 1) as usize;
        let mut expected: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); buckets];
        for (ts, severity) in &docs {
            if *ts < start || *ts >= end || (query != "*" && *severity != "ERROR") {
                continue;
            }
            let bucket = ((ts - first) / interval) as usize;
            *expected[bucket].entry((*severity).to_owned()).or_default() += 1;
        }
        let response = harness
            .search
            .histogram(A, query, start, end, interval, true)
            .unwrap();
        assert_eq!(response.buckets.len(), buckets, "{query}");
        assert_eq!(response.interval_ms, interval / 1_000_000);
        for (i, (got, want)) in response.buckets.iter().zip(&expected).enumerate() {
            assert_eq!(
                got.timestamp_ms,
                (first + i as i64 * interval) / 1_000_000,
                "bucket {i}"
            );
            assert_eq!(&got.by_severity, want, "bucket {i} of {query}");
            assert_eq!(
                got.count,
                want.values().sum::<u64>(),
                "bucket {i} of {query}"
            );
        }
        let total: u64 = expected.iter().flat_map(|b| b.values()).sum();
        assert_eq!(response.total, total);
        // Without the split: the same counts, no severities.
        let plain = harness
            .search
            .histogram(A, query, start, end, interval, false)
            .unwrap();
        assert!(plain.buckets.iter().all(|b| b.by_severity.is_empty()));
        let counts = |r: &aggregator::logs::search::HistogramResponse| {
            r.buckets.iter().map(|b| b.count).collect::<Vec<_>>()
        };
        assert_eq!(counts(&plain), counts(&response));
    }
    assert!(
        harness
            .search
            .histogram(A, "*", T0, T0, MINUTE, false)
            .is_err()
    );
    assert!(
        harness
            .search
            .histogram(A, "*", T0, T0 + HOUR, 0, false)
            .is_err()
    );
}

/// Polls a tail until `expected` documents came, then once more after
/// everything is indexed; returns the bodies in the order shown.
fn tail_all(
    harness: &Harness,
    position: &mut aggregator::logs::search::TailPosition,
    expected: usize,
) -> Vec<String> {
    let mut shown = Vec::new();
    common::wait_until("the tail", || {
        let (docs, dropped) = harness
            .search
            .tail(A, "timeout OR refused", position)
            .unwrap();
        assert_eq!(dropped, 0);
        shown.extend(docs.into_iter().map(|d| d.body));
        shown.len() >= expected
    });
    harness.wait_indexed();
    let (docs, _) = harness
        .search
        .tail(A, "timeout OR refused", position)
        .unwrap();
    shown.extend(docs.into_iter().map(|d| d.body));
    shown
}

#[test]
fn a_tail_shows_each_new_matching_document_once() {
    let harness = fixture();
    let mut position = harness.search.tail_start();
    let (docs, _) = harness.search.tail(A, "*", &mut position).unwrap();
    assert!(docs.is_empty(), "old documents in a new tail: {docs:?}");

    harness.append(
        1,
        Some(A),
        &request(
            "payments",
            &[],
            vec![
                line(T0 + 30 * MINUTE, "ERROR", "new timeout one"),
                line(T0 + 31 * MINUTE, "INFO", "new and unrelated"),
            ],
        ),
    );
    // Another tenant's match, and a late record from a day before.
    harness.append(
        0,
        Some(B),
        &request("x", &[], vec![line(T0, "INFO", "b timeout")]),
    );
    harness.append(
        0,
        Some(A),
        &request("x", &[], vec![line(T0 - 24 * HOUR, "INFO", "late refused")]),
    );
    let shown = tail_all(&harness, &mut position, 2);
    // Oldest first by timestamp within one poll.
    assert_eq!(sorted(shown), ["late refused", "new timeout one"]);

    harness.append(
        0,
        Some(A),
        &request("x", &[], vec![line(T0, "WARN", "third timeout")]),
    );
    assert_eq!(tail_all(&harness, &mut position, 1), ["third timeout"]);
}

fn otlp_record(offset: u64, time_nanos: i64, body: &str) -> Record {
    Record {
        offset,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(
            request("x", &[], vec![line(time_nanos, "INFO", body)]).encode_to_vec(),
        )),
        headers: Vec::new(),
    }
}

/// A split evicted in the middle of a batch is committed before the other
/// splits of the round: a tail looking then must not skip past the
/// documents still uncommitted in those.
#[test]
fn a_tail_misses_nothing_when_a_split_is_committed_by_eviction() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogIndexConfig {
        max_open_splits: 2,
        ..fast_config()
    };
    let store = LogStore::open(dir.path(), config).unwrap();
    let search = LogSearch::new(Arc::clone(&store), QueryLimits::default());
    let mut indexer = PartitionIndexer::new(Arc::clone(&store), 0).unwrap();
    let mut position = search.tail_start();

    // Three buckets, two writers: the first split is committed at 2 when
    // the third record opens a writer; the second is not yet.
    indexer
        .apply(vec![
            otlp_record(0, T0, "zero"),
            otlp_record(1, T0 + HOUR, "one"),
            otlp_record(2, T0 + 2 * HOUR, "two"),
        ])
        .unwrap();
    let (early, _) = search.tail("default", "*", &mut position).unwrap();
    indexer.close(3).unwrap();
    let (late, _) = search.tail("default", "*", &mut position).unwrap();
    let shown: Vec<String> = early.into_iter().chain(late).map(|d| d.body).collect();
    assert_eq!(sorted(shown), ["one", "two", "zero"]);
}
