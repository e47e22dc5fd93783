//! The native search API, tenancy across both APIs, and freshness.

use super::*;

/// With `[[ingest.tokens]]`, each token reads only its tenant's records,
/// through both APIs, and a request without a token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_apis_answer_for_the_token_tenant_only() {
    let config = format!(
        "{CONFIG}\n[[ingest.tokens]]\ntoken = \"alpha-token\"\ntenant = \"alpha\"\n\n\
         [[ingest.tokens]]\ntoken = \"beta-token\"\ntenant = \"beta\"\n"
    );
    let weir = Weir::start(&config);
    let t0 = (now_secs() / 60) * 60 - 300;
    let line = |body: &'static str| Sent {
        service: "shared",
        at: 10,
        severity: INFO,
        body,
        attributes: &[],
        traced: false,
    };
    weir.send(&otlp_json(t0, &[line("alpha secret")]), Some("alpha-token"))
        .await;
    weir.send(
        &otlp_json(t0, &[line("beta secret"), line("beta again")]),
        Some("beta-token"),
    )
    .await;
    let alpha = [("Authorization", "Bearer alpha-token")];
    let beta = [("Authorization", "Bearer beta-token")];
    weir.wait_for_hits("*", &alpha, 1).await;
    weir.wait_for_hits("*", &beta, 2).await;
    let query = [("query", r#"{service_name="shared"}"#)];
    for (headers, expected) in [
        (&alpha, vec!["alpha secret"]),
        (&beta, vec!["beta again", "beta secret"]),
    ] {
        let data = loki_data(&weir.get("/loki/api/v1/query_range", &query, headers).await);
        assert_eq!(lines(entries(&data, "backward")), expected);
        let search = weir
            .get("/api/v1/logs/search", &[("query", "secret")], headers)
            .await
            .ok();
        assert_eq!(search["num_hits"], 1, "{search}");
    }
    // An X-Scope-OrgID does not override the token's tenant.
    let spoofed = [
        ("Authorization", "Bearer alpha-token"),
        ("X-Scope-OrgID", "beta"),
    ];
    let data = loki_data(&weir.get("/loki/api/v1/query_range", &query, &spoofed).await);
    assert_eq!(lines(entries(&data, "backward")), ["alpha secret"]);
    for headers in [&[][..], &[("Authorization", "Bearer nobody")][..]] {
        let refused = weir.get("/loki/api/v1/query_range", &query, headers).await;
        assert_text_error(&refused, 401, "bearer token");
        let refused = weir.get("/api/v1/logs/search", &[], headers).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.json()["error"].is_string(), "{}", refused.body);
    }
}

// ---------------------------------------------------------------------------
// The native search API
// ---------------------------------------------------------------------------

/// `(service_name, body)` of every hit, in answer order.
fn hits(answer: &Value) -> Vec<(String, String)> {
    answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["service_name"].as_str().unwrap().to_owned(),
                h["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn hit(at: i64) -> (String, String) {
    let sent = record_at(at);
    (sent.service.to_owned(), sent.body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_search_by_term_phrase_field_attribute_and_time() {
    let (weir, t0) = Weir::with_records().await;
    let search = |params: Vec<(&'static str, String)>| {
        let weir = &weir;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let answer = weir.get("/api/v1/logs/search", &params, &[]).await.ok();
            assert!(answer["elapsed_time_micros"].is_u64(), "{answer}");
            answer
        }
    };
    let q = |query: &str| vec![("query", query.to_owned())];

    let term = search(q("declined")).await;
    assert_eq!(term["num_hits"], 1);
    assert_eq!(hits(&term), [hit(75)]);

    // A phrase, newest first.
    let phrase = search(q(r#""connection refused""#)).await;
    assert_eq!(phrase["num_hits"], 2);
    assert_eq!(hits(&phrase), [hit(140), hit(20)]);
    // The words in the other order are not the phrase.
    assert_eq!(search(q(r#""refused connection""#)).await["num_hits"], 0);

    let fields = search(q("service_name:checkout AND severity_text:ERROR")).await;
    assert_eq!(fields["num_hits"], 2);
    assert_eq!(hits(&fields), [hit(80), hit(20)]);

    let attribute = search(q("attributes.http.method:GET")).await;
    assert_eq!(attribute["num_hits"], 3);
    assert_eq!(hits(&attribute), [hit(130), hit(70), hit(10)]);
    let resource = search(q("resource_attributes.deployment.environment:prod")).await;
    assert_eq!(resource["num_hits"], 6);

    // One whole document, field by field.
    let traced = search(q("span_id:eee19b7ec3c1b174")).await;
    assert_eq!(traced["num_hits"], 1);
    let doc = &traced["hits"][0];
    assert_eq!(doc["timestamp_nanos"], nanos_at(t0, 20));
    assert_eq!(doc["service_name"], "checkout");
    assert_eq!(doc["severity_text"], "ERROR");
    assert_eq!(doc["severity_number"], 17);
    assert_eq!(doc["body"], "connection refused by payment gateway");
    assert_eq!(doc["attributes"], json!({"http.method": "POST"}));
    assert_eq!(
        doc["resource_attributes"],
        json!({"deployment.environment": "prod", "service.name": "checkout"})
    );
    assert_eq!(doc["trace_id"], TRACE_ID);
    assert_eq!(doc["span_id"], SPAN_ID);
    assert_eq!(doc["scope_name"], "weir.test");
    assert!(
        doc["offset"].is_u64() && doc["observed_timestamp_nanos"].is_i64(),
        "{doc}"
    );

    // [t0 + 60s, t0 + 120s): start included, end excluded.
    let window = search(vec![
        ("query", "*".to_owned()),
        ("start", ns(t0, 60)),
        ("end", ns(t0, 120)),
    ])
    .await;
    assert_eq!(window["num_hits"], 4);
    assert_eq!(hits(&window), [hit(90), hit(80), hit(75), hit(70)]);
    let excluded = search(vec![
        ("query", "*".to_owned()),
        ("start", (nanos_at(t0, 20) + 1).to_string()),
        ("end", nanos_at(t0, 70).to_string()),
    ])
    .await;
    assert_eq!(hits(&excluded), [hit(30)]);
    assert_eq!(
        search(vec![
            ("query", "order".to_owned()),
            ("since", "1s".to_owned())
        ])
        .await["num_hits"],
        0
    );

    // Newest first with a limit; num_hits counts beyond it.
    let newest = search(vec![("query", "*".to_owned()), ("limit", "3".to_owned())]).await;
    assert_eq!(newest["num_hits"], 11);
    assert_eq!(hits(&newest), [hit(150), hit(140), hit(130)]);
    let oldest = search(vec![
        ("query", String::new()),
        ("limit", "2".to_owned()),
        ("order", "asc".to_owned()),
    ])
    .await;
    assert_eq!(oldest["num_hits"], 11);
    assert_eq!(hits(&oldest), [hit(10), hit(15)]);

    // POST with a JSON body answers as GET.
    let posted = weir
        .client
        .post(weir.url("/api/v1/logs/search", &[]))
        .json_body(&json!({"query": "service_name:payments", "limit": 2, "order": "asc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    let posted: Value = serde_json::from_str(&posted.text().await.unwrap()).unwrap();
    assert_eq!(posted["num_hits"], 3);
    assert_eq!(hits(&posted), [hit(15), hit(75)]);
}

/// `.json_body()` for a client built without reqwest's `json` feature.
trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_histogram_counts_by_severity() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let answer = weir
        .get(
            "/api/v1/logs/histogram",
            &[
                ("start", &start),
                ("end", &end),
                ("interval", "1m"),
                ("by", "severity"),
            ],
            &[],
        )
        .await
        .ok();
    let ms = |at: i64| (t0 + at) * 1000;
    assert_eq!(answer["interval_ms"], 60_000);
    assert_eq!(answer["total"], 11);
    assert_eq!(
        answer["buckets"],
        json!([
            {"timestamp_ms": ms(0), "count": 4, "by_severity": {"ERROR": 1, "INFO": 3}},
            {"timestamp_ms": ms(60), "count": 4, "by_severity": {"ERROR": 2, "INFO": 1, "WARN": 1}},
            {"timestamp_ms": ms(120), "count": 3, "by_severity": {"INFO": 2, "WARN": 1}},
        ])
    );
    let checkout = weir
        .get(
            "/api/v1/logs/histogram",
            &[
                ("query", "service_name:checkout"),
                ("start", &start),
                ("end", &end),
                ("interval", "60s"),
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(checkout["total"], 6);
    assert_eq!(
        checkout["buckets"],
        json!([
            {"timestamp_ms": ms(0), "count": 2},
            {"timestamp_ms": ms(60), "count": 3},
            {"timestamp_ms": ms(120), "count": 1},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_fields_report_top_values() {
    let (weir, _t0) = Weir::with_records().await;
    let answer = weir
        .get(
            "/api/v1/logs/fields",
            &[("query", "service_name:payments")],
            &[],
        )
        .await
        .ok();
    assert_eq!(answer["sampled_docs"], 3);
    assert_eq!(
        answer["fields"],
        json!([
            {"name": "attributes.http.method", "count": 1, "top_values": [{"value": "POST", "count": 1}]},
            {"name": "resource_attributes.service.name", "count": 3, "top_values": [{"value": "payments", "count": 3}]},
            {"name": "scope_name", "count": 3, "top_values": [{"value": "weir.test", "count": 3}]},
            {"name": "service_name", "count": 3, "top_values": [{"value": "payments", "count": 3}]},
            {"name": "severity_text", "count": 3, "top_values": [
                {"value": "ERROR", "count": 1},
                {"value": "INFO", "count": 1},
                {"value": "WARN", "count": 1},
            ]},
        ])
    );
    let all = weir.get("/api/v1/logs/fields", &[], &[]).await.ok();
    assert_eq!(all["sampled_docs"], 11);
    let severity = all["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "severity_text")
        .expect("severity_text");
    assert_eq!(
        severity["top_values"],
        json!([
            {"value": "INFO", "count": 6},
            {"value": "ERROR", "count": 3},
            {"value": "WARN", "count": 2},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_errors_are_json() {
    let (weir, _t0) = Weir::with_records().await;
    let error = |answer: Answer, status: u16| {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        let message = answer.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", answer.body))
            .to_owned();
        assert!(!message.is_empty());
        message
    };
    let bad_query = error(
        weir.get("/api/v1/logs/search", &[("query", "service_name:(")], &[])
            .await,
        400,
    );
    assert!(bad_query.contains("parse error"), "{bad_query}");
    let too_many = error(
        weir.get("/api/v1/logs/search", &[("limit", "5001")], &[])
            .await,
        422,
    );
    assert!(too_many.contains("5000 hits"), "{too_many}");
    error(
        weir.get("/api/v1/logs/search", &[("order", "sideways")], &[])
            .await,
        400,
    );
    error(
        weir.get("/api/v1/logs/search", &[("start", "yesterday")], &[])
            .await,
        400,
    );
    error(
        weir.get("/api/v1/logs/histogram", &[("by", "colour")], &[])
            .await,
        400,
    );
    error(
        weir.get(
            "/api/v1/logs/histogram",
            &[("interval", "1ms"), ("since", "1h")],
            &[],
        )
        .await,
        422,
    );
    error(
        weir.get("/api/v1/logs/fields", &[("query", "AND AND")], &[])
            .await,
        400,
    );
}

// ---------------------------------------------------------------------------
// Freshness
// ---------------------------------------------------------------------------

/// From ingest's acknowledgement to a search finding the record: at most
/// [`FRESHNESS_BOUND`] with a 200 ms commit interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_are_searchable_within_two_seconds() {
    let weir = Weir::start(CONFIG);
    let mut measured = Vec::new();
    for n in 0..4 {
        let word = format!("freshness{n}x{}", std::process::id());
        let record = json!({"resourceLogs": [{
            "resource": {"attributes": key_values(&[("service.name", "fresh")])},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": (now_secs() * NANOS).to_string(),
                "severityText": "INFO",
                "severityNumber": 9,
                "body": {"stringValue": format!("just now {word}")},
            }]}],
        }]});
        weir.send(&record, None).await;
        let acknowledged = Instant::now();
        weir.wait_for_hits(&word, &[], 1).await;
        measured.push(acknowledged.elapsed());
    }
    // The first includes the index's start; all must meet the bound.
    println!("acknowledged → searchable: {measured:?}");
    for (n, latency) in measured.iter().enumerate() {
        assert!(
            *latency <= FRESHNESS_BOUND,
            "record {n} took {latency:?} to become searchable (all: {measured:?})"
        );
    }
}
