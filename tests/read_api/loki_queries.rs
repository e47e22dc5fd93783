//! The Loki query endpoints: log and metric queries, instant and range.

use super::*;

/// A stream selector with a line filter; structured metadata merged into
/// the stream labels (Loki's default), nanosecond timestamps as strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_merges_structured_metadata_into_stream_labels() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"} |= "order""#),
                    ("start", &start),
                    ("end", &end),
                ],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "streams");
    assert!(data.get("encodingFlags").is_none(), "{data}");
    assert_eq!(
        data["result"],
        json!([{
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "info",
                "http_method": "GET",
                "service_name": "checkout",
                "severity_text": "INFO",
            },
            // Backward (the default): newest first.
            "values": [value_of(t0, &record_at(130)), value_of(t0, &record_at(10))],
        }])
    );
    assert_eq!(data["stats"]["summary"]["totalEntriesReturned"], 2);
}

/// With `X-Loki-Response-Encoding-Flags: categorize-labels`, stream labels
/// stay apart and each value carries its structured metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_categorizes_labels_when_asked() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"} |~ "order|refused""#),
                    ("start", &start),
                    ("end", &end),
                    ("direction", "forward"),
                ],
                &[CATEGORIZE],
            )
            .await,
    );
    assert_eq!(data["encodingFlags"], json!(["categorize-labels"]));
    let stream = |severity: &str| {
        json!({
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        })
    };
    let with_metadata = |at: i64, metadata: Value| {
        let mut value = value_of(t0, &record_at(at));
        value
            .as_array_mut()
            .unwrap()
            .push(json!({ "structuredMetadata": metadata }));
        value
    };
    let info = json!({"detected_level": "info", "http_method": "GET"});
    assert_eq!(
        sorted_result(&data),
        vec![
            json!({
                "stream": stream("ERROR"),
                "values": [with_metadata(20, json!({
                    "detected_level": "error",
                    "http_method": "POST",
                    "span_id": SPAN_ID,
                    "trace_id": TRACE_ID,
                }))],
            }),
            json!({
                "stream": stream("INFO"),
                // Forward: oldest first.
                "values": [with_metadata(10, info.clone()), with_metadata(130, info)],
            }),
        ]
    );
}

/// Loki writes a third element on every value once labels are
/// categorised, `{}` when an entry has neither metadata nor parsed labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_categorized_values_always_have_a_third_element() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    (
                        "query",
                        r#"{service_name="frontend"} | drop detected_level"#,
                    ),
                    ("start", &start),
                    ("end", &end),
                ],
                &[CATEGORIZE],
            )
            .await,
    );
    let mut f2 = value_of(t0, &record_at(150));
    f2.as_array_mut().unwrap().push(json!({}));
    let mut f1 = value_of(t0, &record_at(30));
    f1.as_array_mut().unwrap().push(json!({}));
    assert_eq!(
        data["result"],
        json!([{
            "stream": {"service_name": "frontend", "severity_text": "INFO"},
            "values": [f2, f1],
        }])
    );
}

/// `direction` orders the values and `limit` keeps the first entries in
/// that order, across streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_direction_and_limit() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let query = |direction: &'static str, limit: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let mut params = vec![
                ("query", r#"{service_name="checkout"}"#),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("direction", direction),
            ];
            if !limit.is_empty() {
                params.push(("limit", limit));
            }
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            entries(&data, direction)
        }
    };
    let all_backward = query("backward", "").await;
    assert_eq!(lines(all_backward), bodies(&[10, 20, 70, 80, 90, 130]));
    let all_forward = query("forward", "").await;
    assert_eq!(lines(all_forward), bodies(&[10, 20, 70, 80, 90, 130]));
    // The newest two backward, the oldest two forward.
    let newest = query("backward", "2").await;
    assert_eq!(lines(newest.clone()), bodies(&[90, 130]));
    let times: Vec<i64> = newest.iter().map(|(t, _)| *t).collect();
    assert!(times.contains(&nanos_at(t0, 130)) && times.contains(&nanos_at(t0, 90)));
    assert_eq!(lines(query("forward", "2").await), bodies(&[10, 20]));
    assert_eq!(lines(query("BACKWARD", "1").await), bodies(&[130]));
}

/// `| json | status >= 500`: parsed labels join the stream labels. As in
/// Loki, a line the parser failed on keeps `__error__` and passes numeric
/// filters (only string matchers such as `__error__=""` drop it), while a
/// parsed line below the bound (`status` 200) is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_json_parser_and_numeric_filter() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let run = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            sorted_result(&data)
        }
    };
    let parsed = vec![
        json!({
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "error",
                "msg": "internal error",
                "service_name": "checkout",
                "severity_text": "ERROR",
                "status": "500",
            },
            "values": [value_of(t0, &record_at(80))],
        }),
        json!({
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "warn",
                "http_method": "GET",
                "msg": "upstream unavailable",
                "service_name": "checkout",
                "severity_text": "WARN",
                "status": "503",
            },
            "values": [value_of(t0, &record_at(70))],
        }),
    ];
    assert_eq!(
        run(r#"{service_name="checkout"} | json | __error__="" | status >= 500"#).await,
        parsed
    );

    let mut all = run(r#"{service_name="checkout"} | json | status >= 500"#).await;
    // The parser's own wording of the failure is not Loki's; check it is
    // there, then compare the rest exactly.
    for stream in &mut all {
        if stream["stream"]["__error__"].is_string() {
            let details = stream["stream"]
                .as_object_mut()
                .unwrap()
                .remove("__error_details__")
                .unwrap_or_else(|| panic!("no __error_details__ in {stream}"));
            assert!(!details.as_str().unwrap().is_empty());
        }
    }
    let failed = |severity: &str, metadata: Value, ats: &[i64]| {
        let mut labels = json!({
            "__error__": "JSONParserErr",
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        });
        labels
            .as_object_mut()
            .unwrap()
            .extend(metadata.as_object().unwrap().clone());
        let values: Vec<Value> = ats.iter().map(|at| value_of(t0, &record_at(*at))).collect();
        json!({ "stream": labels, "values": values })
    };
    let mut expected = parsed.clone();
    expected.push(failed(
        "ERROR",
        json!({
            "detected_level": "error",
            "http_method": "POST",
            "span_id": SPAN_ID,
            "trace_id": TRACE_ID,
        }),
        &[20],
    ));
    expected.push(failed(
        "INFO",
        json!({"detected_level": "info", "http_method": "GET"}),
        &[130, 10],
    ));
    expected.sort_by_key(|s| s["stream"].to_string());
    assert_eq!(all, expected);
}

/// `| logfmt` with a numeric and a duration filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_logfmt_parser_with_label_filters() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    for query in [
        r#"{service_name="payments"} | logfmt | amount > 20"#,
        r#"{service_name="payments"} | logfmt | duration >= 100ms"#,
    ] {
        let data = loki_data(
            &weir
                .get(
                    "/loki/api/v1/query_range",
                    &[("query", query), ("start", &start), ("end", &end)],
                    &[],
                )
                .await,
        );
        assert_eq!(
            data["result"],
            json!([{
                "stream": {
                    "amount": "42",
                    "detected_level": "info",
                    "duration": "120ms",
                    "level": "info",
                    "msg": "charge accepted",
                    "service_name": "payments",
                    "severity_text": "INFO",
                },
                "values": [value_of(t0, &record_at(15))],
            }]),
            "{query}"
        );
    }
}

/// `!=` drops lines containing a string, `|~` keeps lines matching an
/// unanchored regex, across services of a regex selector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_negative_and_regex_line_filters() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let run = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            lines(entries(&data, "backward"))
        }
    };
    assert_eq!(
        run(r#"{service_name="checkout"} != "order""#).await,
        bodies(&[20, 70, 80, 90])
    );
    assert_eq!(
        run(r#"{service_name="checkout"} != "order" != "status""#).await,
        bodies(&[20])
    );
    assert_eq!(
        run(r#"{service_name=~"checkout|payments"} |~ "connection (refused|reset)""#).await,
        bodies(&[20, 140])
    );
    assert_eq!(
        run(r#"{service_name=~".+"} |~ "GET /[a-z]+\\.html""#).await,
        bodies(&[30])
    );
    assert_eq!(
        run(r#"{service_name=~".+", service_name!="frontend"} !~ "order|level=""#).await,
        bodies(&[20, 70, 80, 90, 140])
    );
}

/// The POST form-encoded query answers exactly as the GET one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_form_post_answers_as_get() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let (metric_start, metric_end) = (ns(t0, 60), ns(t0, 180));
    for params in [
        vec![
            (
                "query",
                r#"{service_name=~"checkout|payments"} |= "o" | json"#,
            ),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", "5"),
            ("direction", "forward"),
        ],
        vec![
            (
                "query",
                r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#,
            ),
            ("start", metric_start.as_str()),
            ("end", metric_end.as_str()),
            ("step", "60s"),
        ],
    ] {
        let got = weir
            .get("/loki/api/v1/query_range", &params, &[])
            .await
            .ok();
        let posted = weir
            .post_form("/loki/api/v1/query_range", &params)
            .await
            .ok();
        assert_eq!(got, posted);
        assert_eq!(got["status"], "success");
        assert!(
            !got["data"]["result"].as_array().unwrap().is_empty(),
            "{got}"
        );
    }
    let got = weir
        .get(
            "/loki/api/v1/series",
            &[("match[]", r#"{service_name="payments"}"#)],
            &[],
        )
        .await
        .ok();
    let posted = weir
        .post_form(
            "/loki/api/v1/series",
            &[("match[]", r#"{service_name="payments"}"#)],
        )
        .await
        .ok();
    assert_eq!(got, posted);
}

// ---------------------------------------------------------------------------
// Loki: metric queries
// ---------------------------------------------------------------------------

/// `sum by (service_name) (count_over_time(...[1m]))` and `rate` as
/// matrices: a point per step whose window `(t - 1m, t]` holds entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_metric_range_queries() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 60), ns(t0, 180));
    let range = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("step", "60"),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            assert_eq!(data["resultType"], "matrix", "{data}");
            sorted_result(&data)
        }
    };
    let point = |at: i64, value: &str| json!([t0 + at, value]);
    assert_eq!(
        range(r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#).await,
        vec![
            json!({
                "metric": {"service_name": "checkout"},
                "values": [point(60, "2"), point(120, "3"), point(180, "1")],
            }),
            // Nothing in (t0 + 60s, t0 + 120s]: no point.
            json!({
                "metric": {"service_name": "frontend"},
                "values": [point(60, "1"), point(180, "1")],
            }),
            json!({
                "metric": {"service_name": "payments"},
                "values": [point(60, "1"), point(120, "1"), point(180, "1")],
            }),
        ]
    );
    let per_second = |count: f64| (count / 60.0).to_string();
    assert_eq!(
        range(r#"sum(rate({service_name="checkout"}[1m]))"#).await,
        vec![json!({
            "metric": {},
            "values": [
                point(60, &per_second(2.0)),
                point(120, &per_second(3.0)),
                point(180, &per_second(1.0)),
            ],
        })]
    );
    assert_eq!(per_second(3.0), "0.05");
    // Grafana's logs volume query: by detected_level, `level` absent.
    assert_eq!(
        range(
            r#"sum by (level, detected_level) (count_over_time({service_name="checkout"} | drop __error__[1m]))"#
        )
        .await,
        vec![
            json!({
                "metric": {"detected_level": "error"},
                "values": [point(60, "1"), point(120, "1")],
            }),
            json!({
                "metric": {"detected_level": "info"},
                "values": [point(60, "1"), point(120, "1"), point(180, "1")],
            }),
            json!({
                "metric": {"detected_level": "warn"},
                "values": [point(120, "1")],
            }),
        ]
    );
}

/// Instant metric queries answer vectors at `time`; Grafana's health
/// check `vector(1)+vector(1)` answers 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_instant_queries_answer_vectors() {
    let (weir, t0) = Weir::with_records().await;
    // Unix seconds (10 digits) this time.
    let time = (t0 + 120).to_string();
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query",
                &[
                    (
                        "query",
                        r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#,
                    ),
                    ("time", &time),
                ],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "vector");
    assert_eq!(
        sorted_result(&data),
        vec![
            json!({"metric": {"service_name": "checkout"}, "value": [t0 + 120, "3"]}),
            json!({"metric": {"service_name": "payments"}, "value": [t0 + 120, "1"]}),
        ]
    );
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query",
                &[("query", "vector(1)+vector(1)"), ("time", &time)],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "vector");
    assert_eq!(
        data["result"],
        json!([{"metric": {}, "value": [t0 + 120, "2"]}])
    );
    // A fractional time answers a fractional timestamp.
    let data = loki_data(
        &weir
            .post_form(
                "/loki/api/v1/query",
                &[("query", "vector(1)+vector(1)"), ("time", "1700000000.25")],
            )
            .await,
    );
    assert_eq!(
        data["result"],
        json!([{"metric": {}, "value": [1_700_000_000.25, "2"]}])
    );
}
