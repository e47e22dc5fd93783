//! Rules as Prometheus defines them: rule files, their evaluation, the
//! alert state machine and the JSON shapes of `/api/v1/rules` and
//! `/api/v1/alerts`. Users bring their Prometheus (and Loki ruler) rule
//! files unchanged; Weir adds two optional group keys, `language` and
//! `tenant`.
//!
//! # Layout
//! - [`file`]: the rule-file format, its validation and [`file::load`].
//! - [`outline`]: where groups, rules and keys sit in a file's text, so
//!   semantic errors can name `file:line:column`.
//! - [`state`]: one alerting rule's alerts: pending → firing → resolved,
//!   what to send and when, snapshots.
//! - [`rule`]: alerting and recording rules: query, label, record.
//! - [`group`]: a group evaluated in order, health, reload carry-over and
//!   persistence.
//! - [`api`]: the Prometheus HTTP API views.
//!
//! # Invariants
//! - Everything is bounded: [`MAX_RULES_PER_GROUP`], [`MAX_GROUPS_PER_FILE`],
//!   [`MAX_FILE_BYTES`], and per rule the group `limit` and the hard caps
//!   [`MAX_ALERTS_PER_RULE`] and [`MAX_SERIES_PER_RECORDING_RULE`].
//! - A failed query leaves a rule's alerts as they were (Prometheus keeps
//!   state on error); only the rule's health records the failure.
//! - Alert state is plain serde data ([`state::AlertSnapshot`],
//!   [`group::GroupSnapshot`]); the engine persists it, so a restart keeps
//!   "active since" and "last sent".

pub mod api;
pub mod file;
pub mod group;
pub mod outline;
pub mod rule;
pub mod state;

#[cfg(test)]
mod tests;

pub use file::{RuleSource, load, load_all};
pub use group::{EvalContext, GroupSnapshot, RuleGroup};
pub use rule::{AlertingRule, RecordingRule, Rule, RuleHealth, RuleStatus, TemplateMap};
pub use state::{ActiveAlert, AlertSnapshot, AlertState, AlertTable};

/// Rules in one group. Each rule is a query per interval; a group this
/// large is a generated file gone wrong rather than a design.
pub const MAX_RULES_PER_GROUP: usize = 1_000;

/// Groups in one rule file.
pub const MAX_GROUPS_PER_FILE: usize = 1_000;

/// Size of one rule file's text. The largest public rule collections
/// (kube-prometheus, a few hundred rules) are well under 1 MiB.
pub const MAX_FILE_BYTES: usize = 8 << 20;

/// Active (pending or firing) alerts one rule may hold, whatever its
/// group's `limit`: each one is an `ALERTS` series and a notification, so
/// more means an expression that selects far more than intended.
pub const MAX_ALERTS_PER_RULE: usize = 10_000;

/// Series one recording rule may write per evaluation, whatever its
/// group's `limit`: aggregations worth recording are far smaller than
/// their inputs; more is a missing `by`/`without`.
pub const MAX_SERIES_PER_RECORDING_RULE: usize = 100_000;

/// How long a resolved alert is kept (and re-sent as resolved) before it
/// is forgotten, as Prometheus' `resolvedRetention`: long enough that a
/// resolution survives a lost send or an Alertmanager restart.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1_000;
