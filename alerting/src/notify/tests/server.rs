//! Delivery against a local server on `127.0.0.1:0`: the outcome of each
//! status, connection failures, what arrives (headers, body, PagerDuty's
//! dedup key).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::signature::{SECRET, verify};
use super::*;

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Answers by path: `/ok` 200, `/accepted` 202, `/unavailable` 503,
/// `/slow-down` 429 with `Retry-After: 7`, `/bad` 400, `/gone` 410.
async fn answer(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    log.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "/ok" => StatusCode::OK.into_response(),
        "/accepted" => (StatusCode::ACCEPTED, r#"{"status":"success"}"#).into_response(),
        "/unavailable" => (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
        "/slow-down" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "").into_response(),
        "/bad" => (StatusCode::BAD_REQUEST, "invalid routing key\n").into_response(),
        "/gone" => (StatusCode::GONE, "channel_is_archived").into_response(),
        "/huge" => (StatusCode::BAD_REQUEST, "e".repeat(100_000)).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve() -> (SocketAddr, Log) {
    let log = Log::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(answer).with_state(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, log)
}

fn webhook(url: String) -> Integration {
    Integration::new(
        "oncall",
        0,
        IntegrationConfig::Webhook(webhook_config(&url)),
    )
}

fn http_client() -> reqwest::Client {
    client(Duration::from_secs(5))
}

#[tokio::test]
async fn each_status_gives_its_outcome() {
    let (addr, _) = serve().await;
    let n = notification();
    let at = |path: &str| webhook(format!("http://{addr}{path}"));
    let c = http_client();
    let send_to = async |path: &str| send(&c, &at(path), &n, CREATED_MS).await.unwrap();

    assert_eq!(send_to("/ok").await, Outcome::Delivered { status: 200 });
    assert_eq!(
        send_to("/unavailable").await,
        Outcome::Retryable {
            status: Some(503),
            error: "HTTP 503: down for maintenance".into(),
            retry_after: None
        }
    );
    assert_eq!(
        send_to("/slow-down").await,
        Outcome::Retryable {
            status: Some(429),
            error: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        send_to("/bad").await,
        Outcome::Rejected {
            status: Some(400),
            error: "HTTP 400: invalid routing key".into()
        }
    );
    assert_eq!(
        send_to("/gone").await,
        Outcome::Gone {
            error: "HTTP 410: channel_is_archived".into()
        }
    );
    let Outcome::Rejected { error, .. } = send_to("/huge").await else {
        panic!("a 400 is rejected");
    };
    assert!(error.len() <= "HTTP 400: ".len() + transport::MAX_EXCERPT);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for scheme in ["http", "https"] {
        let integration = webhook(format!("{scheme}://{addr}/hook"));
        let outcome = send(&http_client(), &integration, &notification(), CREATED_MS).await;
        let Some(Outcome::Retryable { status, error, .. }) = outcome else {
            panic!("{scheme}: expected retryable, got {outcome:?}");
        };
        assert_eq!(status, None);
        assert!(error.starts_with("connect failed"), "{error}");
    }
}

#[tokio::test]
async fn webhook_arrives_with_custom_headers_body_and_signature() {
    let (addr, log) = serve().await;
    let mut config = webhook_config(&format!("http://{addr}/ok"));
    config.signing_secret = Some(SECRET.into());
    config
        .headers
        .insert("Authorization".into(), "Bearer t0ken".into());
    config
        .headers
        .insert("X-Scope-OrgID".into(), "tenant-1".into());
    let integration = Integration::new("oncall", 0, IntegrationConfig::Webhook(config.clone()));
    let now_ms = time_now_ms();
    let n = notification();
    let outcome = send(&http_client(), &integration, &n, now_ms).await;
    assert_eq!(outcome, Some(Outcome::Delivered { status: 200 }));

    let received = log.lock().unwrap()[0].clone();
    assert_eq!(received.headers["authorization"], "Bearer t0ken");
    assert_eq!(received.headers["x-scope-orgid"], "tenant-1");
    assert_eq!(received.headers["content-type"], "application/json");
    assert_eq!(received.headers["user-agent"], transport::USER_AGENT);
    assert_eq!(received.headers["webhook-id"], n.id.as_str());
    assert_eq!(
        verify(SECRET, &received.headers, &received.body, now_ms / 1000),
        Ok(())
    );
    let expected = serde_json::to_vec(&webhook::message(&config, &n).unwrap()).unwrap();
    assert_eq!(received.body.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn nothing_is_sent_for_resolved_groups_without_send_resolved() {
    let (addr, log) = serve().await;
    let mut config = webhook_config(&format!("http://{addr}/ok"));
    config.send_resolved = false;
    let integration = Integration::new("oncall", 0, IntegrationConfig::Webhook(config));
    let outcome = send(
        &http_client(),
        &integration,
        &resolved_notification(),
        CREATED_MS,
    )
    .await;
    assert_eq!(outcome, None);
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unrenderable_notification_is_rejected_without_status() {
    let mut n = notification();
    n.id = "msg_bad\nid".into();
    let outcome = send(
        &http_client(),
        &webhook("http://127.0.0.1:1/".into()),
        &n,
        0,
    )
    .await;
    let Some(Outcome::Rejected {
        status: None,
        error,
    }) = outcome
    else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(
        error.starts_with("oncall/webhook/0: notification id"),
        "{error}"
    );
}

#[tokio::test]
async fn pagerduty_trigger_and_resolve_share_the_dedup_key() {
    let (addr, log) = serve().await;
    let config = pagerduty_config(&format!("http://{addr}/accepted"));
    let integration = Integration::new("oncall", 0, IntegrationConfig::PagerDuty(config));
    let c = http_client();
    let trigger = send(&c, &integration, &notification(), CREATED_MS).await;
    assert_eq!(trigger, Some(Outcome::Delivered { status: 202 }));
    let resolve = send(&c, &integration, &resolved_notification(), CREATED_MS).await;
    assert_eq!(resolve, Some(Outcome::Delivered { status: 202 }));

    let bodies: Vec<serde_json::Value> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["event_action"], "trigger");
    assert_eq!(bodies[1]["event_action"], "resolve");
    assert_eq!(bodies[0]["dedup_key"], bodies[1]["dedup_key"]);
    let key = pagerduty::dedup_key(&notification().group_key);
    assert_eq!(bodies[0]["dedup_key"], key.as_str());
    assert_eq!(key.len(), 64);
    assert!(bodies[1].get("payload").is_none());
}

#[tokio::test]
async fn pagerduty_rate_limit_retries_and_bad_request_rejects() {
    let (addr, log) = serve().await;
    let c = http_client();
    let at = |path: &str| {
        let config = pagerduty_config(&format!("http://{addr}{path}"));
        Integration::new("oncall", 0, IntegrationConfig::PagerDuty(config))
    };
    let n = notification();
    let limited = send(&c, &at("/slow-down"), &n, CREATED_MS).await;
    assert!(matches!(
        limited,
        Some(Outcome::Retryable {
            status: Some(429),
            ..
        })
    ));
    let bad = send(&c, &at("/bad"), &n, CREATED_MS).await;
    assert!(matches!(
        bad,
        Some(Outcome::Rejected {
            status: Some(400),
            ..
        })
    ));
    assert_eq!(log.lock().unwrap()[0].path, "/slow-down");
}

#[tokio::test]
async fn alertmanager_and_slack_post_their_payloads() {
    let (addr, log) = serve().await;
    let c = http_client();
    let am: AlertmanagerConfig = serde_yaml_ng::from_str(&format!("url: http://{addr}")).unwrap();
    let am = Integration::new("oncall", 0, IntegrationConfig::Alertmanager(am));
    let slack = slack_config(&format!("http://{addr}/ok"));
    let slack = Integration::new("oncall", 0, IntegrationConfig::Slack(slack));
    let n = notification();
    // The server answers 404 on the Alertmanager path: rejected, recorded.
    let outcome = send(&c, &am, &n, CREATED_MS).await;
    assert!(matches!(
        outcome,
        Some(Outcome::Rejected {
            status: Some(404),
            ..
        })
    ));
    let outcome = send(&c, &slack, &n, CREATED_MS).await;
    assert_eq!(outcome, Some(Outcome::Delivered { status: 200 }));

    let log = log.lock().unwrap();
    assert_eq!(log[0].path, alertmanager::ALERTS_PATH);
    let alerts: serde_json::Value = serde_json::from_slice(&log[0].body).unwrap();
    assert_eq!(alerts.as_array().map(Vec::len), Some(3));
    let message: serde_json::Value = serde_json::from_slice(&log[1].body).unwrap();
    assert_eq!(message["channel"], "#oncall");
}

fn time_now_ms() -> i64 {
    crate::time::system_ms(std::time::SystemTime::now())
}
