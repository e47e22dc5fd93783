//! Retrying: the doubling backoff within its jitter bounds, `Retry-After`,
//! no retry of a rejection, giving up after `max_age`.

use super::*;

#[tokio::test]
async fn retryable_backs_off_within_jitter_then_delivers_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script
        .answer(&n.id, vec![retryable(503), retryable(502), retryable(503)]);
    f.outbox.enqueue(n.clone()).await.unwrap();

    // Attempt k fails and schedules the next in [d/2, d], d = 1s × 2^(k-1).
    for (attempt, full_ms) in [(1, 1000), (2, 2000), (3, 4000)] {
        let now = f.clock.now_ms();
        assert_eq!(f.outbox.deliver_due().await, 1);
        let pending = f.single_pending();
        assert_eq!(pending.attempts, attempt);
        let delay = pending.next_attempt_ms - now;
        assert!(
            (full_ms / 2..=full_ms).contains(&delay),
            "attempt {attempt}: delay {delay}ms"
        );
        // Not due yet: nothing is attempted.
        f.clock.set(pending.next_attempt_ms - 1);
        assert_eq!(f.outbox.deliver_due().await, 0);
        f.to_next_attempt();
    }
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert!(f.outbox.pending().is_empty());

    let calls = f.script.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c.notification_id == n.id));
    assert!(calls.iter().all(|c| c.integration == HOOK));
    let history = f.outbox.history(10);
    let outcomes: Vec<_> = history.iter().map(|a| (a.outcome, a.attempt)).collect();
    assert_eq!(
        outcomes,
        [
            (AttemptOutcome::Delivered, 4),
            (AttemptOutcome::Retrying, 3),
            (AttemptOutcome::Retrying, 2),
            (AttemptOutcome::Retrying, 1),
        ]
    );
    assert_eq!(history[0].status, Some(200));
    assert_eq!(history[1].status, Some(503));
    assert_eq!(
        history[1].error.as_deref(),
        Some("HTTP 503: down for maintenance")
    );
    assert_eq!(history[1].next_attempt_ms, Some(calls[3].at_ms));
}

#[tokio::test]
async fn backoff_is_capped_at_max_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_backoff: seconds(3),
        ..OutboxConfig::default()
    };
    let f = Fixture::open(dir.path(), config, TEAM);
    let n = notification("team");
    f.script.answer(&n.id, vec![retryable(503); 6]);
    f.outbox.enqueue(n).await.unwrap();
    for _ in 0..6 {
        let now = f.clock.now_ms();
        assert_eq!(f.outbox.deliver_due().await, 1);
        let delay = f.single_pending().next_attempt_ms - now;
        assert!(delay <= 3000, "delay {delay}ms");
        f.to_next_attempt();
    }
    assert_eq!(f.single_pending().attempts, 6);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script.answer(
        &n.id,
        vec![Some(Outcome::Retryable {
            status: Some(429),
            error: "HTTP 429".into(),
            retry_after: Some(seconds(120)),
        })],
    );
    f.outbox.enqueue(n).await.unwrap();
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert_eq!(f.single_pending().next_attempt_ms, T0 + 120_000);

    f.clock.set(T0 + 119_999);
    assert_eq!(f.outbox.deliver_due().await, 0);
    f.clock.set(T0 + 120_000);
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert!(f.outbox.pending().is_empty());
    assert_eq!(f.script.calls()[1].at_ms, T0 + 120_000);
}

#[tokio::test]
async fn rejected_is_not_retried_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script.answer(
        &n.id,
        vec![Some(Outcome::Rejected {
            status: Some(400),
            error: "HTTP 400: invalid routing key".into(),
        })],
    );
    f.outbox.enqueue(n.clone()).await.unwrap();
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert!(f.outbox.pending().is_empty());
    assert!(f.topic.load().unwrap().is_empty(), "tombstoned");

    f.clock.advance(seconds(3600));
    assert_eq!(f.outbox.deliver_due().await, 0);
    assert_eq!(f.script.calls().len(), 1);
    let history = f.outbox.history(10);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, AttemptOutcome::Rejected);
    assert_eq!(history[0].status, Some(400));
    assert_eq!(
        history[0].error.as_deref(),
        Some("HTTP 400: invalid routing key")
    );
    assert_eq!(history[0].notification_id, n.id);
    assert_eq!(history[0].attempt, 1);
}

#[tokio::test]
async fn gives_up_after_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_age: seconds(60),
        initial_backoff: seconds(8),
        max_backoff: seconds(16),
        ..OutboxConfig::default()
    };
    let f = Fixture::open(dir.path(), config, TEAM);
    let n = notification("team");
    f.script.answer(&n.id, vec![retryable(503); 100]);
    f.outbox.enqueue(n.clone()).await.unwrap();

    let mut passes = 0;
    while !f.outbox.pending().is_empty() {
        assert_eq!(f.outbox.deliver_due().await, 1);
        if let Some(p) = f.outbox.pending().first() {
            assert!(p.next_attempt_ms <= T0 + 60_000, "scheduled past max_age");
            f.clock.set(p.next_attempt_ms);
        }
        passes += 1;
        assert!(passes < 20, "never gave up");
    }
    let calls = f.script.calls();
    assert!(calls.len() >= 4, "{calls:?}");
    assert!(calls.iter().all(|c| c.at_ms <= T0 + 60_000));
    let last = &f.outbox.history(1)[0];
    assert_eq!(last.outcome, AttemptOutcome::GaveUp);
    assert_eq!(last.attempt as usize, calls.len());
    assert_eq!(last.status, Some(503));
    let expected = format!(
        "gave up after {} attempts over 1m: HTTP 503: down for maintenance",
        calls.len()
    );
    assert_eq!(last.error.as_deref(), Some(expected.as_str()));
    assert!(f.topic.load().unwrap().is_empty(), "tombstoned");
}

#[tokio::test]
async fn nothing_to_send_finishes_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::open(dir.path(), OutboxConfig::default(), TEAM);
    let n = notification("team");
    f.script.answer(&n.id, vec![None]);
    f.outbox.enqueue(n).await.unwrap();
    assert_eq!(f.outbox.deliver_due().await, 1);
    assert!(f.outbox.pending().is_empty());
    let history = f.outbox.history(10);
    assert_eq!(history[0].outcome, AttemptOutcome::Delivered);
    assert_eq!(history[0].status, None);
}
