//! The dispatch loop: flush due groups with silences and inhibition
//! muting, put each notification in the outbox, commit it once it is
//! durable there, and persist the dispatcher's state.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tracing::warn;

use super::{DISPATCH_KEY, Inner};
use crate::dispatch::Snapshot;

/// The longest the loop sleeps without looking at the clock.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// The shortest sleep, so a burst of wake-ups does not spin.
const MIN_SLEEP: Duration = Duration::from_millis(10);
/// How often expired silences past their retention are collected.
const SILENCE_GC_EVERY_MS: i64 = 15 * 60 * 1000;

pub async fn run(inner: Arc<Inner>) {
    let mut stop = inner.stop.clone();
    let mut persisted: Option<Snapshot> = None;
    let mut last_gc = inner.clock.now_ms();
    loop {
        let now = inner.clock.now_ms();
        let flushes = {
            let inhibitor = inner
                .inhibitor
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let mut dispatcher = inner.dispatcher();
            let index_source: Vec<_> = dispatcher
                .alerts()
                .into_iter()
                .filter(|a| !a.is_resolved_at(now))
                .collect();
            let index = inhibitor.index(&index_source, now);
            let silences = &inner.silences;
            let muted =
                |a: &crate::Alert| !silences.mutes(&a.labels).is_empty() || index.mutes(&a.labels);
            dispatcher.tick(now, &muted)
        };
        for flush in flushes {
            match inner.outbox.enqueue(flush.notification.clone()).await {
                Ok(()) => inner.dispatcher().commit(&flush),
                Err(error) => warn!(
                    %error,
                    receiver = flush.notification.receiver,
                    group = flush.notification.group_key,
                    "notification not accepted by the outbox, retried at the group's next flush"
                ),
            }
        }
        let snapshot = inner.dispatcher().snapshot();
        if persisted.as_ref() != Some(&snapshot) {
            match inner.put_json(DISPATCH_KEY, &snapshot).await {
                Ok(()) => persisted = Some(snapshot),
                Err(error) => warn!(%error, "dispatcher state not persisted"),
            }
        }
        if now - last_gc >= SILENCE_GC_EVERY_MS {
            last_gc = now;
            if let Err(error) = inner.silences.gc().await {
                warn!(%error, "expired silences not collected");
            }
        }
        let wait = match inner.dispatcher().next_due_ms() {
            Some(due) => {
                Duration::from_millis(due.saturating_sub(inner.clock.now_ms()).max(0) as u64)
            }
            None => MAX_SLEEP,
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = inner.dispatch_wake.notified() => {}
            () = tokio::time::sleep(wait.clamp(MIN_SLEEP, MAX_SLEEP)) => {}
        }
    }
}
