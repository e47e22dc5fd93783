//! `[metrics]`: event-time windows, their tiers and retention, and the
//! cardinality limits, mapped onto `aggregator::metrics`.

use std::time::Duration;

use aggregator::metrics::cardinality::CardinalityLimits;
use aggregator::metrics::worker::WindowConfig;
use serde::Deserialize;

use super::ConfigError;

/// One tier as written: `{ window = "10s", retention = "2d" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with window and retention")]
pub struct RawTier {
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// `[metrics]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of metric window settings"
)]
pub struct RawMetrics {
    /// Finest first; the first is where points land, the others are its
    /// rollups.
    pub tiers: Vec<RawTier>,
    #[serde(with = "humantime_serde")]
    pub lateness: Duration,
    pub histogram_precision: u8,
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub series_idle: Duration,
    pub max_series_per_tenant: usize,
    pub max_series_per_metric: usize,
    pub cache_bytes: usize,
}

/// The default tiers: 10 s kept 2 days, 1 m kept 30 days, 1 h kept 400 days.
pub const DEFAULT_TIERS: [(u64, u64); 3] =
    [(10, 2 * 86_400), (60, 30 * 86_400), (3_600, 400 * 86_400)];

/// Decoded window-store data kept in memory for queries. A day of 10,000
/// counter series at 1 m decodes to about 285 MiB: a dashboard over a day
/// of that many series is read from memory, with room to spare.
pub const DEFAULT_CACHE_BYTES: usize = 512 << 20;

impl Default for RawMetrics {
    fn default() -> Self {
        let window = WindowConfig::default();
        let limits = CardinalityLimits::default();
        RawMetrics {
            tiers: DEFAULT_TIERS
                .iter()
                .map(|&(window, retention)| RawTier {
                    window: Duration::from_secs(window),
                    retention: Duration::from_secs(retention),
                })
                .collect(),
            lateness: window.lateness,
            histogram_precision: window.figures,
            checkpoint_interval: window.checkpoint_interval,
            series_idle: window.series_idle,
            max_series_per_tenant: limits.max_series_per_tenant,
            max_series_per_metric: limits.max_series_per_metric,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Validated `[metrics]`.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub window: WindowConfig,
    /// `(window, retention)` per tier, finest first.
    pub tiers: Vec<(Duration, Duration)>,
    pub cardinality: CardinalityLimits,
    pub cache_bytes: usize,
}

fn field(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::field(format!("metrics.{name}"), reason)
}

impl RawMetrics {
    pub fn validate(&self) -> Result<MetricsSettings, ConfigError> {
        self.validate_tiers()?;
        if !(1..=5).contains(&self.histogram_precision) {
            return Err(field(
                "histogram_precision",
                "must be 1 to 5 significant figures",
            ));
        }
        if self.checkpoint_interval.is_zero() {
            return Err(field("checkpoint_interval", "must be more than 0"));
        }
        let coarsest = self.tiers.last().map_or(Duration::ZERO, |t| t.window);
        if self.series_idle <= coarsest + self.lateness {
            return Err(field(
                "series_idle",
                format!(
                    "must be longer than the coarsest window plus the lateness ({})",
                    humantime::format_duration(coarsest + self.lateness)
                ),
            ));
        }
        if self.lateness >= self.tiers[0].retention {
            return Err(field(
                "lateness",
                "must be shorter than the first tier's retention",
            ));
        }
        Ok(MetricsSettings {
            window: WindowConfig {
                tiers_ms: self
                    .tiers
                    .iter()
                    .map(|t| t.window.as_millis() as i64)
                    .collect(),
                lateness: self.lateness,
                figures: self.histogram_precision,
                checkpoint_interval: self.checkpoint_interval,
                series_idle: self.series_idle,
            },
            tiers: self.tiers.iter().map(|t| (t.window, t.retention)).collect(),
            cardinality: CardinalityLimits {
                max_series_per_tenant: self.max_series_per_tenant,
                max_series_per_metric: self.max_series_per_metric,
            },
            cache_bytes: self.cache_bytes,
        })
    }

    fn validate_tiers(&self) -> Result<(), ConfigError> {
        if self.tiers.is_empty() || self.tiers.len() > 4 {
            return Err(field("tiers", "must list 1 to 4 tiers, finest first"));
        }
        let mut previous: Option<Duration> = None;
        for (i, tier) in self.tiers.iter().enumerate() {
            let name = format!("tiers[{i}]");
            let ms = tier.window.as_millis();
            if ms < 1_000 || tier.window.subsec_millis() != 0 && ms % 1_000 != 0 {
                return Err(field(&name, "window must be whole seconds, at least 1s"));
            }
            if tier.retention < tier.window {
                return Err(field(&name, "retention must be at least the window"));
            }
            if let Some(finer) = previous
                && (ms <= finer.as_millis() || ms % finer.as_millis() != 0)
            {
                return Err(field(
                    &name,
                    format!(
                        "window must be a larger multiple of the previous tier's {}",
                        humantime::format_duration(finer)
                    ),
                ));
            }
            previous = Some(tier.window);
        }
        Ok(())
    }
}
