//! Bounds and bad input: `max_pending`, `max_in_flight`, stored values
//! that do not decode, and the configuration's parsing and validation.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::store::KeyedTopic;

/// `team` with two webhooks.
const TEAM_TWO: &str = "
- name: team
  webhook_configs:
  - url: http://hooks.example/a
  - url: http://hooks.example/b
";

#[tokio::test]
async fn max_pending_refuses_clearly_and_enqueues_nothing_partial() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_pending: 3,
        ..OutboxConfig::default()
    };
    let f = Fixture::open(dir.path(), config, TEAM_TWO);
    f.outbox.enqueue(notification("team")).await.unwrap();
    assert_eq!(f.outbox.pending().len(), 2);

    // One slot left, two integrations: refused whole.
    let refused = notification("team");
    let error = f.outbox.enqueue(refused.clone()).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("full"), "{message}");
    assert!(message.contains("max_pending 3"), "{message}");
    assert!(message.contains(&refused.id), "{message}");
    assert_eq!(f.outbox.pending().len(), 2);
    assert_eq!(f.topic.load().unwrap().len(), 2);

    // Delivered entries free their slots.
    f.outbox.deliver_due().await;
    f.outbox.enqueue(refused).await.unwrap();
    assert_eq!(f.outbox.pending().len(), 2);
}

#[tokio::test]
async fn enqueueing_the_same_notification_twice_stores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM_TWO);
    let n = notification("team");
    f.outbox.enqueue(n.clone()).await.unwrap();
    f.outbox.enqueue(n.clone()).await.unwrap();
    let pending = f.outbox.pending();
    let keys: Vec<_> = pending.iter().map(|p| p.key.as_str()).collect();
    let expected = [
        format!("{}/team/webhook/0", n.id),
        format!("{}/team/webhook/1", n.id),
    ];
    assert_eq!(keys, expected);
    assert_eq!(f.outbox.deliver_due().await, 2);
}

/// Holds every attempt for a while and counts how many run at once.
#[derive(Default)]
struct Slow {
    running: AtomicUsize,
    most: AtomicUsize,
}

impl Deliver for Slow {
    fn deliver<'a>(
        &'a self,
        _: &'a Integration,
        _: &'a Notification,
        _: i64,
    ) -> BoxFuture<'a, Option<Outcome>> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            Some(Outcome::Delivered { status: 204 })
        })
    }
}

#[tokio::test]
async fn attempts_at_once_are_bounded_by_max_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenMode::ReadWrite).unwrap();
    let slow = Arc::new(Slow::default());
    let config = OutboxConfig {
        max_in_flight: 3,
        ..OutboxConfig::default()
    };
    let outbox = Outbox::open(
        KeyedTopic::open(&log, OUTBOX_TOPIC).unwrap(),
        KeyedTopic::open(&log, STATE_TOPIC).unwrap(),
        config,
        receivers(TEAM),
        slow.clone(),
        Arc::new(FakeClock::new(T0)),
    )
    .unwrap();
    for _ in 0..10 {
        outbox.enqueue(notification("team")).await.unwrap();
    }
    assert_eq!(outbox.deliver_due().await, 10);
    assert!(outbox.pending().is_empty());
    assert_eq!(slow.most.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn corrupt_stored_values_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let good = notification("team");
    f.outbox.enqueue(good.clone()).await.unwrap();
    f.topic
        .put(
            "msg_garbage/team/webhook/0",
            Bytes::from_static(b"{not json"),
        )
        .await
        .unwrap();
    // A valid entry under another entry's key.
    let stored = f.topic.load().unwrap();
    let good_value = stored.values().next().unwrap().clone();
    f.topic
        .put("msg_elsewhere/team/webhook/0", good_value)
        .await
        .unwrap();
    f.state
        .put("disabled/team/webhook/0", Bytes::from_static(b"\xff"))
        .await
        .unwrap();
    f.close();

    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    assert_eq!(f.single_pending().notification_id, good.id);
    let corrupt: Vec<_> = f
        .outbox
        .corrupt_entries()
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(
        corrupt,
        [
            "msg_elsewhere/team/webhook/0",
            "msg_garbage/team/webhook/0",
            "disabled/team/webhook/0"
        ]
    );
    let errors = f.outbox.corrupt_entries();
    assert!(errors[0].error.contains("holds notification"), "{errors:?}");
    assert!(
        errors[1].error.starts_with("corrupt outbox entry"),
        "{errors:?}"
    );
    assert!(f.outbox.disabled().is_empty());
    assert_eq!(f.outbox.deliver_due().await, 1);
}

#[test]
fn config_parses_prometheus_durations_and_refuses_unknown_keys() {
    let config: OutboxConfig =
        serde_yaml_ng::from_str("max_age: 2d\ninitial_backoff: 500ms\nattempt_timeout: 5s\n")
            .unwrap();
    assert_eq!(config.max_age, seconds(2 * 86_400));
    assert_eq!(config.initial_backoff, Duration::from_millis(500));
    assert_eq!(config.max_backoff, seconds(300));
    assert_eq!(config.attempt_timeout, Some(seconds(5)));
    assert_eq!(config.max_pending, 100_000);
    config.validate().unwrap();

    let unknown = serde_yaml_ng::from_str::<OutboxConfig>("max_retries: 3\n").unwrap_err();
    assert!(unknown.to_string().contains("max_retries"), "{unknown}");
    assert!(serde_yaml_ng::from_str::<OutboxConfig>("max_age: 1.5h\n").is_err());

    let bad = OutboxConfig {
        max_backoff: Duration::from_millis(100),
        ..OutboxConfig::default()
    };
    let error = bad.validate().unwrap_err().to_string();
    assert!(error.starts_with("outbox.max_backoff: "), "{error}");
    let bad = OutboxConfig {
        max_in_flight: 0,
        ..OutboxConfig::default()
    };
    let error = bad.validate().unwrap_err().to_string();
    assert!(error.starts_with("outbox.max_in_flight: "), "{error}");
}
