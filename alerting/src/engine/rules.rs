//! Loading the configured files, and the task that evaluates one group.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::warn;

use super::{Inner, group_key, lock};
use crate::config::{EngineConfig, Routing, expand_paths, read_bounded};
use crate::error::{AlertingError, Result};
use crate::query::{Language, RuleQuerier};
use crate::rules::{self, GroupSnapshot, MAX_FILE_BYTES, RuleGroup, RuleSource};
use crate::rules::{EvalContext, rule::millis};

/// The longest a group task sleeps without looking at the clock.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Reads every rule file and the routing file; every problem is returned
/// at once.
pub fn load_config(
    config: &EngineConfig,
    querier: &dyn RuleQuerier,
) -> Result<(Vec<RuleGroup>, Routing)> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    let lists = [
        (&config.rule_files, "alerting.rule_files", Language::PromQl),
        (
            &config.log_rule_files,
            "alerting.log_rule_files",
            Language::LogQl,
        ),
    ];
    for (patterns, field, language) in lists {
        match expand_paths(patterns, field) {
            Ok(paths) => {
                for path in paths {
                    match read_bounded(&path, MAX_FILE_BYTES as u64) {
                        Ok(text) => sources.push(RuleSource {
                            path: path.display().to_string(),
                            text,
                            language,
                        }),
                        Err(error) => problems.push(error),
                    }
                }
            }
            Err(error) => problems.push(error),
        }
    }
    let groups = match rules::load_all(&sources, config.evaluation_interval, querier) {
        Ok(groups) => groups,
        Err(found) => {
            problems.extend(found);
            Vec::new()
        }
    };
    let routing = match &config.routing_file {
        Some(path) => Routing::load(Path::new(path)),
        None => Ok(Routing::none()),
    };
    match routing {
        Ok(routing) if problems.is_empty() => Ok((groups, routing)),
        Ok(_) => Err(AlertingError::Config(problems)),
        Err(error) => {
            problems.push(error);
            Err(AlertingError::Config(problems))
        }
    }
}

/// Evaluates `group` every interval until the engine stops (or the task
/// is aborted by a reload).
pub async fn run(inner: Arc<Inner>, group: Arc<Mutex<RuleGroup>>) {
    let interval = millis(lock(&group).interval).max(1);
    let mut stop = inner.stop.clone();
    let mut next = inner.clock.now_ms();
    let mut persisted: Option<GroupSnapshot> = None;
    loop {
        // Sleep until due, looking at the clock at least every second.
        loop {
            let now = inner.clock.now_ms();
            if now >= next {
                break;
            }
            let wait = Duration::from_millis((next - now) as u64).min(MAX_SLEEP);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
        let at = next;
        let evaluated = {
            let inner = Arc::clone(&inner);
            let group = Arc::clone(&group);
            tokio::task::spawn_blocking(move || {
                let ctx = EvalContext {
                    querier: inner.querier.as_ref(),
                    sink: inner.sink.as_deref(),
                    external_labels: &inner.config.external_labels,
                    external_url: &inner.config.external_url,
                    resend_delay: inner.config.resend_delay,
                };
                let mut group = lock(&group);
                let alerts = group.evaluate(&ctx, at);
                let failed = group.rules.iter().any(|r| r.status().last_error.is_some());
                let outcome = if failed { "error" } else { "ok" };
                metrics::counter!(super::metric::EVALUATIONS_TOTAL, "outcome" => outcome)
                    .increment(1);
                metrics::histogram!(super::metric::EVALUATION_DURATION)
                    .record(group.evaluation_duration.as_secs_f64());
                (alerts, group.snapshot(), group_key(&group))
            })
            .await
        };
        let Ok((alerts, snapshot, key)) = evaluated else {
            warn!("a rule group's evaluation task failed");
            return;
        };
        if !alerts.is_empty() {
            inner.dispatcher().receive(alerts, at);
            inner.dispatch_wake.notify_one();
        }
        if persisted.as_ref() != Some(&snapshot) {
            match inner.put_json(&key, &snapshot).await {
                Ok(()) => persisted = Some(snapshot),
                Err(error) => warn!(%error, key, "rule state not persisted"),
            }
        }
        // The next aligned time after now: a slow evaluation skips
        // iterations instead of running them back to back.
        let now = inner.clock.now_ms();
        next = at + interval * ((now - at) / interval + 1);
    }
}
