//! `[kafka]`: the Kafka protocol listener's settings (it binds
//! `listen.kafka`), mapped onto `log_core::kafka::KafkaConfig`.

use log_core::kafka::KafkaConfig;
use serde::Deserialize;

use super::ConfigError;

/// `[kafka]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of kafka settings")]
pub struct RawKafka {
    /// The host clients are told to connect to.
    pub advertised_host: String,
    /// The port clients are told to connect to; 0 means the bound port.
    pub advertised_port: u16,
    pub max_request_bytes: usize,
    pub max_connections: usize,
}

impl Default for RawKafka {
    fn default() -> Self {
        let config = KafkaConfig::default();
        RawKafka {
            advertised_host: config.advertised_host,
            advertised_port: 0,
            max_request_bytes: config.max_request_bytes,
            max_connections: config.max_connections,
        }
    }
}

impl RawKafka {
    pub fn validate(&self) -> Result<KafkaConfig, ConfigError> {
        let host = self.advertised_host.trim();
        if host.is_empty() || host.contains([' ', '/', ',']) {
            return Err(ConfigError::field(
                "kafka.advertised_host",
                format!("{:?} is not a host name or address", self.advertised_host),
            ));
        }
        // A record batch must fit; Kafka's own floor for the setting.
        if self.max_request_bytes < 1 << 20 {
            return Err(ConfigError::field(
                "kafka.max_request_bytes",
                "must be at least 1048576 (1 MiB)",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::field(
                "kafka.max_connections",
                "must be at least 1",
            ));
        }
        Ok(KafkaConfig {
            advertised_host: host.to_owned(),
            advertised_port: self.advertised_port,
            max_request_bytes: self.max_request_bytes,
            max_connections: self.max_connections,
        })
    }
}
