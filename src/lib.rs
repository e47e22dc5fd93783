//! `weir`: the one binary. It loads and validates configuration, wires the
//! crates together and runs the process; offline tools inspect and repair a
//! data dir directly.
//!
//! # Layout
//! - [`cli`]: the command line (clap).
//! - [`config`]: the TOML configuration file and its validation.
//! - [`serve`]: `weir serve`, the appliance's lifecycle.
//! - [`http`]: the HTTP API server (`/health`, `/ready`, `/metrics`, and
//!   the read APIs of `dashboards`).
//! - [`rule_query`], [`rule_sink`]: the alert engine's queries and
//!   recorded series, over the query engines and the ingest pipeline.
//! - [`status`]: the pipeline status behind the UI's Pipeline page.
//! - [`worker_groups`]: Weir's own workers as Kafka consumer groups.
//! - [`log_cmd`]: `weir log ...`, offline tools over a data dir.
//! - [`logs_cmd`]: `weir logs ...`, search, tail and reindex the log index.
//! - [`metrics_cmd`]: `weir metrics ...`, PromQL queries and series.
//! - [`alerts_cmd`]: `weir alerts ...`, `weir silences ...`, `weir rules
//!   check`.
//! - [`api_client`]: the HTTP client those commands share.
//! - [`bench`]: `weir bench ...`, load benchmarks.
//! - [`loadgen`]: `weir loadgen`, an OTLP load generator for ingest.
//! - [`diagnostics`]: the process's own logging (tracing).
//! - [`clock`]: wall-clock time in record timestamps.

pub mod alerts_cmd;
pub mod api_client;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diagnostics;
pub mod http;
pub mod loadgen;
pub mod log_cmd;
pub mod logs_cmd;
pub mod metrics_cmd;
pub mod rule_query;
pub mod rule_sink;
pub mod serve;
pub mod status;
pub mod worker_groups;
