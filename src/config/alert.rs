//! `[alerting]`: rule files, the routing file, evaluation and resend
//! intervals, and the outbox and silence limits, mapped onto
//! `alerting::config::EngineConfig`. (The module is not called
//! `alerting`, so that the crate of that name stays unambiguous here.)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use alerting::config::EngineConfig;
use alerting::outbox::OutboxConfig;
use alerting::silence::SilenceConfig;
use alerting::{AlertingError, LabelSet};
use serde::Deserialize;

use super::ConfigError;

/// `[alerting]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of alerting settings"
)]
pub struct RawAlerting {
    pub rule_files: Vec<String>,
    pub log_rule_files: Vec<String>,
    /// Empty: no routing file, alerts notify nobody.
    pub routing_file: PathBuf,
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub resend_delay: Duration,
    pub external_url: String,
    pub external_labels: BTreeMap<String, String>,
    pub outbox: OutboxConfig,
    pub silences: RawSilences,
}

/// `[alerting.silences]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of silence settings"
)]
pub struct RawSilences {
    pub max_silences: usize,
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for RawAlerting {
    /// The alerting crate's defaults, so that they are defined once.
    fn default() -> Self {
        let config = EngineConfig::default();
        RawAlerting {
            rule_files: config.rule_files,
            log_rule_files: config.log_rule_files,
            routing_file: PathBuf::new(),
            evaluation_interval: config.evaluation_interval,
            resend_delay: config.resend_delay,
            external_url: config.external_url,
            external_labels: config.external_labels,
            outbox: config.outbox,
            silences: RawSilences::default(),
        }
    }
}

impl Default for RawSilences {
    fn default() -> Self {
        let config = SilenceConfig::default();
        RawSilences {
            max_silences: config.max_silences,
            retention: config.retention,
        }
    }
}

impl RawAlerting {
    pub fn validate(&self) -> Result<EngineConfig, ConfigError> {
        let positive = |name: &str, value: Duration| {
            if value.is_zero() {
                Err(ConfigError::field(
                    format!("alerting.{name}"),
                    "must be positive",
                ))
            } else {
                Ok(())
            }
        };
        positive("evaluation_interval", self.evaluation_interval)?;
        positive("resend_delay", self.resend_delay)?;
        if !(self.external_url.starts_with("http://") || self.external_url.starts_with("https://"))
        {
            return Err(ConfigError::field(
                "alerting.external_url",
                format!("{:?} is not an absolute http(s) URL", self.external_url),
            ));
        }
        for name in self.external_labels.keys() {
            if !is_label_name(name) {
                return Err(ConfigError::field(
                    format!("alerting.external_labels.{name}"),
                    "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                ));
            }
        }
        for (field, patterns) in [
            ("rule_files", &self.rule_files),
            ("log_rule_files", &self.log_rule_files),
        ] {
            if let Some(i) = patterns.iter().position(|p| p.trim().is_empty()) {
                return Err(ConfigError::field(
                    format!("alerting.{field}[{i}]"),
                    "must not be empty",
                ));
            }
        }
        self.outbox.validate().map_err(|e| match e {
            AlertingError::Invalid { location, message } => {
                ConfigError::field(format!("alerting.{location}"), message)
            }
            other => ConfigError::field("alerting.outbox", other.to_string()),
        })?;
        if self.silences.max_silences == 0 {
            return Err(ConfigError::field(
                "alerting.silences.max_silences",
                "must be at least 1",
            ));
        }
        Ok(EngineConfig {
            rule_files: self.rule_files.clone(),
            log_rule_files: self.log_rule_files.clone(),
            routing_file: (!self.routing_file.as_os_str().is_empty())
                .then(|| self.routing_file.clone()),
            evaluation_interval: self.evaluation_interval,
            resend_delay: self.resend_delay,
            external_url: self.external_url.trim_end_matches('/').to_owned(),
            external_labels: self
                .external_labels
                .clone()
                .into_iter()
                .collect::<LabelSet>(),
            outbox: self.outbox.clone(),
            silences: SilenceConfig {
                max_silences: self.silences.max_silences,
                retention: self.silences.retention,
            },
        })
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
