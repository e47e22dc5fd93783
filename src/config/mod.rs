//! The configuration file: TOML parsed into raw serde structs, then
//! validated into [`Settings`].
//!
//! Every section is `deny_unknown_fields` and `default`, so `weir serve`
//! runs with no file at all and a misspelt key is an error, not a silently
//! ignored setting. Errors name the field path (`listen.http`,
//! `log.topic_defaults.partitions`) and, for parse errors, the file and line.
//! `deploy/weir.example.toml` lists every key with its default; a test keeps
//! it in step with the code.
//!
//! Relative paths (`data_dir`) are relative to the working directory of the
//! process, as Kafka's `log.dirs` is.
//!
//! # Layout
//! - this file: the top level, `[listen]`, loading and errors.
//! - [`log`]: `[log]`, mapped onto `log_core::LogConfig`.
//! - [`ingest`]: `[ingest]`, mapped onto the ingest crate's settings.
//! - [`topic`]: `[log.topic_defaults]` and `[log.telemetry_topics]`, mapped
//!   onto `log_core::TopicConfig`.
//! - [`logs`]: `[logs]` (the log index) and `[query]` (query limits).
//! - [`metrics`]: `[metrics]` (metric windows, tiers, cardinality limits).
//! - [`kafka`]: `[kafka]` (the Kafka protocol listener).
//! - [`ui`]: `[ui]` (the web UI's dashboards directory).
//! - [`alert`]: `[alerting]` (rule files, routing file, outbox, silences).

mod alert;
mod error;
mod ingest;
mod kafka;
mod log;
mod logs;
mod metrics;
mod topic;
mod ui;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use log_core::{LogConfig, TopicConfig};
use serde::Deserialize;

pub use alert::{RawAlerting, RawSilences};
pub use error::ConfigError;
pub use ingest::{IngestSettings, RawIngest, RawToken};
pub use kafka::RawKafka;
pub use log::RawLog;
pub use logs::{RawLogs, RawQuery};
pub use metrics::{MetricsSettings, RawMetrics, RawTier};
pub use topic::{RawTopic, Retention, RetentionBytes};
pub use ui::RawUi;

/// The data dir used when neither the file nor `--data-dir` names one.
pub const DEFAULT_DATA_DIR: &str = "./weir-data";

/// The configuration file as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of settings")]
pub struct RawConfig {
    pub data_dir: PathBuf,
    pub listen: RawListen,
    pub log: RawLog,
    pub ingest: RawIngest,
    pub logs: RawLogs,
    pub metrics: RawMetrics,
    pub query: RawQuery,
    pub alerting: RawAlerting,
    pub kafka: RawKafka,
    pub ui: RawUi,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: RawListen::default(),
            log: RawLog::default(),
            ingest: RawIngest::default(),
            logs: RawLogs::default(),
            metrics: RawMetrics::default(),
            query: RawQuery::default(),
            alerting: RawAlerting::default(),
            kafka: RawKafka::default(),
            ui: RawUi::default(),
        }
    }
}

/// `[listen]`: where each server binds. Addresses are kept as strings here
/// so that a bad one is reported with its field name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of listener addresses"
)]
pub struct RawListen {
    pub otlp_grpc: String,
    pub otlp_http: String,
    pub http: String,
    pub kafka: String,
}

impl Default for RawListen {
    fn default() -> Self {
        RawListen {
            otlp_grpc: "0.0.0.0:4317".into(),
            otlp_http: "0.0.0.0:4318".into(),
            http: "0.0.0.0:7070".into(),
            kafka: "0.0.0.0:9092".into(),
        }
    }
}

/// Validated settings of the whole process.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: Listen,
    /// The log, including `topic_defaults` for topics created without
    /// explicit settings.
    pub log: LogConfig,
    /// Settings used when `otlp_logs`, `otlp_metrics` and `otlp_spans` are
    /// created.
    pub telemetry_topics: TopicConfig,
    pub ingest: IngestSettings,
    /// The log index.
    pub logs: aggregator::logs::store::LogIndexConfig,
    /// Metric windows, tiers and cardinality limits.
    pub metrics: MetricsSettings,
    /// Bounds of every query.
    pub query: aggregator::query::QueryLimits,
    /// Rules, routing, outbox and silences.
    pub alerting: alerting::config::EngineConfig,
    /// The Kafka protocol listener; `advertised_port` 0 means the bound
    /// port of `listen.kafka`.
    pub kafka: log_core::kafka::KafkaConfig,
    /// Where the UI's dashboard files are; `None`: only the built-in one.
    pub dashboards_dir: Option<PathBuf>,
}

/// Validated listener addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub http: SocketAddr,
    pub kafka: SocketAddr,
}

impl Settings {
    /// Reads and validates `path`, or the defaults when there is no file.
    /// `data_dir`, when given (from `--data-dir`), overrides the file.
    pub fn load(path: Option<&Path>, data_dir: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut raw = match path {
            Some(path) => RawConfig::read(path)?,
            None => RawConfig::default(),
        };
        if let Some(dir) = data_dir {
            raw.data_dir = dir.to_path_buf();
        }
        raw.validate().map_err(|e| e.in_file(path))
    }
}

impl RawConfig {
    /// Reads and parses a file, without validating values.
    pub fn read(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        RawConfig::parse(&text).map_err(|e| e.in_file(Some(path)))
    }

    /// Parses TOML text. Errors carry the field path and the line.
    pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| ConfigError::from_toml(text, "", &e))?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            // `?` is what serde_path_to_error writes for an unknown position.
            let path = if path == "?" || path == "." {
                String::new()
            } else {
                path
            };
            ConfigError::from_toml(text, &path, e.inner())
        })
    }

    /// Checks every value and builds the settings the process runs with.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::field("data_dir", "must not be empty"));
        }
        let (log, telemetry_topics) = self.log.validate()?;
        Ok(Settings {
            data_dir: self.data_dir.clone(),
            listen: self.listen.validate()?,
            log,
            telemetry_topics,
            ingest: self.ingest.validate()?,
            logs: self.logs.validate()?,
            metrics: self.metrics.validate()?,
            query: self.query.validate()?,
            alerting: self.alerting.validate()?,
            kafka: self.kafka.validate()?,
            dashboards_dir: self.ui.validate()?,
        })
    }
}

impl RawListen {
    fn validate(&self) -> Result<Listen, ConfigError> {
        let fields = [
            ("otlp_grpc", &self.otlp_grpc),
            ("otlp_http", &self.otlp_http),
            ("http", &self.http),
            ("kafka", &self.kafka),
        ];
        let mut parsed: Vec<(&str, SocketAddr)> = Vec::with_capacity(fields.len());
        for (name, text) in fields {
            let addr: SocketAddr = text.parse().map_err(|_| {
                ConfigError::field(
                    format!("listen.{name}"),
                    format!(
                        "{text:?} is not a socket address (expected IP:PORT, e.g. \"0.0.0.0:7070\")"
                    ),
                )
            })?;
            if let Some((other, _)) = parsed.iter().find(|(_, seen)| overlaps(*seen, addr)) {
                return Err(ConfigError::field(
                    format!("listen.{name}"),
                    format!("{addr} is already used by listen.{other}"),
                ));
            }
            parsed.push((name, addr));
        }
        Ok(Listen {
            otlp_grpc: parsed[0].1,
            otlp_http: parsed[1].1,
            http: parsed[2].1,
            kafka: parsed[3].1,
        })
    }
}

/// Whether two listeners would fight over one port. Port 0 asks the kernel
/// for a free port, so it never clashes.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}
