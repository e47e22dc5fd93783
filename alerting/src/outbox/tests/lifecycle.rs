//! Endpoints and restarts: 410 disables an integration until its
//! configuration changes, reloads drop entries of removed integrations,
//! and a restart keeps attempt counts and schedules without re-sending
//! what was delivered.

use super::*;
use crate::error::AlertingError;

/// `team` with the webhook at another URL: a different config hash.
const TEAM_MOVED: &str = "
- name: team
  webhook_configs:
  - url: http://hooks.example/b
";

#[tokio::test]
async fn gone_disables_until_the_configuration_changes() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_in_flight: 1,
        ..OutboxConfig::default()
    };
    let f = Fixture::open(dir.path(), config, TEAM);
    let (first, second) = (notification("team"), notification("team"));
    f.script.answer(
        &first.id,
        vec![Some(Outcome::Gone {
            error: "HTTP 410: channel_is_archived".into(),
        })],
    );
    f.script.answer(
        &second.id,
        vec![Some(Outcome::Gone {
            error: "HTTP 410: channel_is_archived".into(),
        })],
    );
    f.outbox.enqueue(first.clone()).await.unwrap();
    f.clock.advance(seconds(1));
    f.outbox.enqueue(second.clone()).await.unwrap();
    f.outbox.deliver_due().await;

    // The first answer disabled the endpoint; the second entry was dropped
    // without another request.
    assert_eq!(f.script.calls().len(), 1);
    assert!(f.outbox.pending().is_empty());
    assert_eq!(f.outbox.disabled(), [HOOK]);
    let history = f.outbox.history(10);
    assert!(
        history
            .iter()
            .all(|a| a.outcome == AttemptOutcome::Disabled)
    );
    assert_eq!(history.len(), 2);
    assert!(history.iter().any(|a| a.status == Some(410)));
    let stored = f.state.load().unwrap();
    assert!(stored.contains_key("disabled/team/webhook/0"), "{stored:?}");

    // Later notifications skip it, with a record.
    let later = notification("team");
    f.outbox.enqueue(later.clone()).await.unwrap();
    assert!(f.outbox.pending().is_empty());
    assert_eq!(f.outbox.history(1)[0].notification_id, later.id);
    assert_eq!(f.outbox.history(1)[0].outcome, AttemptOutcome::Disabled);

    // The same configuration keeps it disabled; a changed one enables it.
    f.outbox.set_receivers(receivers(TEAM));
    assert_eq!(f.outbox.disabled(), [HOOK]);
    f.outbox.set_receivers(receivers(TEAM_MOVED));
    assert!(f.outbox.disabled().is_empty());
    f.outbox.deliver_due().await;
    assert!(
        !f.state
            .load()
            .unwrap()
            .contains_key("disabled/team/webhook/0")
    );
    let again = notification("team");
    f.outbox.enqueue(again.clone()).await.unwrap();
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert_eq!(f.script.calls().last().unwrap().notification_id, again.id);
    assert_eq!(f.outbox.history(1)[0].outcome, AttemptOutcome::Delivered);
}

#[tokio::test]
async fn disabled_endpoint_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script.answer(
        &n.id,
        vec![Some(Outcome::Gone {
            error: "gone".into(),
        })],
    );
    f.outbox.enqueue(n).await.unwrap();
    f.outbox.deliver_due().await;
    f.close();

    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    assert_eq!(f.outbox.disabled(), [HOOK]);
    f.outbox.enqueue(notification("team")).await.unwrap();
    assert!(f.outbox.pending().is_empty());
    f.close();

    // Restarted with a changed configuration: enabled again.
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM_MOVED);
    assert!(f.outbox.disabled().is_empty());
}

#[tokio::test]
async fn entries_of_a_removed_receiver_are_dropped_with_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script.answer(&n.id, vec![retryable(503)]);
    f.outbox.enqueue(n.clone()).await.unwrap();
    f.outbox.deliver_due().await;
    assert_eq!(f.outbox.pending().len(), 1);

    f.outbox.set_receivers(receivers("- name: other\n"));
    f.outbox.deliver_due().await;
    assert!(f.outbox.pending().is_empty());
    assert!(f.topic.load().unwrap().is_empty());
    let last = &f.outbox.history(1)[0];
    assert_eq!(last.outcome, AttemptOutcome::Dropped);
    assert_eq!(
        last.error.as_deref(),
        Some("receiver removed from configuration")
    );
    assert_eq!(f.script.calls().len(), 1);

    let unknown = f.outbox.enqueue(notification("team")).await.unwrap_err();
    assert!(
        matches!(&unknown, AlertingError::NotFound { what: "receiver", id } if id == "team"),
        "{unknown}"
    );
}

#[tokio::test]
async fn restart_keeps_attempts_and_schedule_and_does_not_resend() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let (failing, delivered) = (notification("team"), notification("team"));
    f.script
        .answer(&failing.id, vec![retryable(503), retryable(503)]);
    f.outbox.enqueue(failing.clone()).await.unwrap();
    f.outbox.enqueue(delivered.clone()).await.unwrap();
    assert_eq!(f.outbox.deliver_due().await, 2);
    f.to_next_attempt();
    assert_eq!(f.outbox.deliver_due().await, 1);
    let before = f.single_pending();
    assert_eq!(before.attempts, 2);
    let now = f.clock.now_ms();
    f.close();

    let f = Fixture::open_at(dir.path(), OutboxConfig::default(), TEAM, now);
    let after = f.single_pending();
    assert_eq!(after.notification_id, failing.id);
    assert_eq!(after.attempts, 2);
    assert_eq!(after.next_attempt_ms, before.next_attempt_ms);
    assert_eq!(
        after.last_error.as_deref(),
        Some("HTTP 503: down for maintenance")
    );
    assert_eq!(f.outbox.deliver_due().await, 0, "not due yet");
    f.to_next_attempt();
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert!(f.outbox.pending().is_empty());
    let calls = f.script.calls();
    assert_eq!(calls.len(), 1, "only the pending entry is sent: {calls:?}");
    assert_eq!(calls[0].notification_id, failing.id);
    assert_eq!(f.outbox.history(1)[0].attempt, 3);
    f.close();

    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    assert!(f.outbox.pending().is_empty());
}

#[tokio::test]
async fn run_delivers_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(Arc::clone(&f.outbox).run(async move {
        let _ = stop_rx.await;
    }));
    let n = notification("team");
    f.outbox.enqueue(n.clone()).await.unwrap();
    for _ in 0..200 {
        if f.outbox.pending().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(f.outbox.pending().is_empty());
    assert_eq!(f.script.calls()[0].notification_id, n.id);
    stop_tx.send(()).unwrap();
    tokio::time::timeout(seconds(5), runner)
        .await
        .unwrap()
        .unwrap();
}
