//! `alerting`: Prometheus-style rules over metrics and logs, alert state,
//! Alertmanager-style routing, grouping, silences and inhibition, and
//! durable delivery to webhooks, Alertmanagers, PagerDuty and Slack.
//!
//! It reads telemetry only through the [`query`] traits (the binary
//! implements them over the PromQL and LogQL engines) and uses the log
//! only for its own compacted topics ([`store`]).
//!
//! # Invariants
//! - A notification is durable in the outbox before the dispatcher counts
//!   it as sent; it is retried until delivered, rejected, or older than
//!   the configured maximum age, and every attempt carries the same
//!   `webhook-id` and the same body.
//! - Alert state (active since, last sent), dispatcher state and
//!   silences are persisted, so a restart neither forgets a firing alert
//!   nor notifies it twice.
//! - Every timer reads a [`clock::Clock`], so tests run on a fake clock.
//!
//! # Layout
//! - [`model`]: label sets, alerts, notifications.
//! - [`query`]: the traits rules are evaluated and recorded through.
//! - [`rules`]: rule files, evaluation and the alert state machine.
//! - [`template`]: `{{ $labels.x }}`-style templates.
//! - [`matcher`], [`route`], [`silence`], [`inhibit`], [`dispatch`]: the
//!   Alertmanager half: which receiver, which group, when.
//! - [`notify`]: receivers' payloads, signing and HTTP.
//! - [`outbox`]: durable delivery with retries and history.
//! - [`store`]: keyed, compacted topics for state and the outbox.
//! - [`config`]: the engine's settings and the routing file (route,
//!   receivers, inhibition).
//! - [`engine`]: the running service that ties these together: group
//!   tasks, the dispatch loop, persistence, reload, the API's views.
//! - [`api`]: the JSON envelopes of the HTTP API (the views' shapes live
//!   with their modules: `rules::api`, `silence::api`).
//! - [`time`]: Prometheus durations and RFC 3339 timestamps.
//! - [`clock`], [`error`].

pub mod api;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod inhibit;
pub mod matcher;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod query;
pub mod route;
pub mod rules;
pub mod silence;
pub mod store;
pub mod template;
pub mod time;

pub use error::{AlertingError, Result};
pub use model::{Alert, LabelSet, Notification};
