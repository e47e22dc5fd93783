//! Loki labels, label values, series, index stats, and errors.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_labels_values_series_and_index_stats() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let range = [("start", start.as_str()), ("end", end.as_str())];
    let list = |path: &'static str| {
        let weir = &weir;
        async move {
            let body = weir.get(path, &range, &[]).await.ok();
            assert_eq!(body["status"], "success", "{body}");
            body["data"].clone()
        }
    };
    // Stream labels and structured metadata names.
    assert_eq!(
        list("/loki/api/v1/labels").await,
        json!([
            "deployment_environment",
            "detected_level",
            "http_method",
            "service_name",
            "severity_text",
            "span_id",
            "trace_id",
        ])
    );
    assert_eq!(
        list("/loki/api/v1/label").await,
        list("/loki/api/v1/labels").await
    );
    assert_eq!(
        list("/loki/api/v1/label/service_name/values").await,
        json!(["checkout", "frontend", "payments"])
    );
    assert_eq!(
        list("/loki/api/v1/label/detected_level/values").await,
        json!(["error", "info", "warn"])
    );
    assert_eq!(
        list("/loki/api/v1/label/no_such_label/values").await,
        json!([])
    );
    // Values among the streams a selector matches.
    let payments_levels = weir
        .get(
            "/loki/api/v1/label/severity_text/values",
            &[
                ("query", r#"{service_name="payments"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(payments_levels["data"], json!(["ERROR", "INFO", "WARN"]));
    let frontend_levels = weir
        .get(
            "/loki/api/v1/label/detected_level/values",
            &[
                ("query", r#"{service_name="frontend"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(frontend_levels["data"], json!(["info"]));

    // Series: stream label sets only, no structured metadata.
    let series = weir
        .get(
            "/loki/api/v1/series",
            &[
                ("match[]", r#"{service_name="checkout"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(series["status"], "success");
    let mut sets = series["data"].as_array().unwrap().clone();
    sets.sort_by_key(|s| s.to_string());
    let checkout = |severity: &str| {
        json!({
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        })
    };
    assert_eq!(
        sets,
        vec![checkout("ERROR"), checkout("INFO"), checkout("WARN")]
    );
    // Several match[] are a union.
    let union = weir
        .get(
            "/loki/api/v1/series",
            &[
                ("match[]", r#"{service_name="frontend"}"#),
                (
                    "match[]",
                    r#"{service_name="payments", severity_text="WARN"}"#,
                ),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    let mut sets = union["data"].as_array().unwrap().clone();
    sets.sort_by_key(|s| s.to_string());
    assert_eq!(
        sets,
        vec![
            json!({"service_name": "frontend", "severity_text": "INFO"}),
            json!({"service_name": "payments", "severity_text": "WARN"}),
        ]
    );

    // Index stats: exact entries and bytes of the checkout records.
    let stats = weir
        .get(
            "/loki/api/v1/index/stats",
            &[
                ("query", r#"{service_name="checkout"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    let checkout_records: Vec<Sent> = records()
        .into_iter()
        .filter(|r| r.service == "checkout")
        .collect();
    let bytes: usize = checkout_records.iter().map(|r| r.body.len()).sum();
    let mut keys: Vec<&String> = stats.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["bytes", "chunks", "entries", "streams"], "{stats}");
    assert_eq!(stats["entries"], checkout_records.len());
    assert_eq!(stats["bytes"], bytes);
    assert!(stats["chunks"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["streams"].as_u64().unwrap() >= 1, "{stats}");
    let errors = weir
        .get(
            "/loki/api/v1/index/stats",
            &[
                (
                    "query",
                    r#"{service_name="checkout", severity_text="ERROR"}"#,
                ),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(errors["entries"], 2, "{errors}");
    assert_eq!(errors["streams"], 1, "{errors}");
}

/// Loki's `streams` of `/index/stats` counts distinct stream label sets:
/// as many as `/series` lists for the same selector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_index_stats_counts_the_streams_series_lists() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    for selector in [
        r#"{service_name="checkout"}"#,
        r#"{service_name=~".+"}"#,
        r#"{severity_text="INFO"}"#,
    ] {
        let params = [("start", start.as_str()), ("end", end.as_str())];
        let series = weir
            .get(
                "/loki/api/v1/series",
                &[("match[]", selector), params[0], params[1]],
                &[],
            )
            .await
            .ok();
        let stats = weir
            .get(
                "/loki/api/v1/index/stats",
                &[("query", selector), params[0], params[1]],
                &[],
            )
            .await
            .ok();
        assert_eq!(
            stats["streams"],
            series["data"].as_array().unwrap().len(),
            "{selector}: {stats} but series {series}"
        );
    }
}

// ---------------------------------------------------------------------------
// Loki: errors
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_errors_are_plain_text_with_loki_status_codes() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let range = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            weir.get("/loki/api/v1/query_range", &params, &[]).await
        }
    };
    assert_text_error(
        &range(r#"{service_name="checkout""#).await,
        400,
        "parse error at position",
    );
    assert_text_error(
        &range(r#"{service_name="checkout"} | json | status >= "#).await,
        400,
        "parse error",
    );
    assert_text_error(
        &range(r#"sum by (service_name) (count_over_time({service_name="checkout"}))"#).await,
        400,
        "parse error",
    );
    assert_text_error(
        &range(r#"{service_name=~".*"}"#).await,
        400,
        "at least one matcher that does not match the empty",
    );
    assert_text_error(
        &range(r#"{service_name=~".*", severity_text=""}"#).await,
        400,
        "at least one matcher that does not match the empty",
    );
    // Log queries are not instant queries.
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query",
                &[("query", r#"{service_name="checkout"}"#)],
                &[],
            )
            .await,
        400,
        "log queries are not supported as an instant query type",
    );
    assert_text_error(
        &weir.get("/loki/api/v1/query_range", &[], &[]).await,
        400,
        "query",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"}"#),
                    ("start", &end),
                    ("end", &start),
                ],
                &[],
            )
            .await,
        400,
        "end timestamp must not be before the start time",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"count_over_time({service_name="checkout"}[1m])"#),
                    ("step", "0"),
                ],
                &[],
            )
            .await,
        400,
        "zero or negative query resolution step widths are not accepted",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"}"#),
                    ("direction", "sideways"),
                ],
                &[],
            )
            .await,
        400,
        "sideways",
    );
    assert_text_error(
        &weir.get("/loki/api/v1/series", &[], &[]).await,
        400,
        "match[]",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/index/stats",
                &[("query", r#"{service_name=~".*"}"#)],
                &[],
            )
            .await,
        400,
        "matcher",
    );
    // Over the default hit limit (5,000): a limit to narrow.
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[("query", r#"{service_name="checkout"}"#), ("limit", "5001")],
                &[],
            )
            .await,
        422,
        "limit",
    );
}
