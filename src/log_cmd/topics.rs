//! `weir log topics` and `weir log describe TOPIC`.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use log_core::log::PartitionInfo;
use log_core::{CleanupPolicy, OpenMode, TopicConfig};

use super::open;
use super::table::Table;
use crate::config::Settings;

/// One line per topic: name, partitions, cleanup policy, bytes on disk and
/// records (the offset span `high watermark - log start` summed over
/// partitions; for a compacted topic an upper bound).
pub fn list(settings: &Settings) -> anyhow::Result<ExitCode> {
    let log = open(settings, OpenMode::ReadOnly)?;
    let mut table = Table::new(&["TOPIC", "PARTITIONS", "POLICY", "BYTES", "RECORDS"]);
    for name in log.topic_names() {
        let info = log.describe(&name)?;
        table.row(vec![
            info.name,
            info.partitions.len().to_string(),
            policy(info.config.cleanup_policy).to_owned(),
            info.partitions
                .iter()
                .map(|p| p.size_bytes)
                .sum::<u64>()
                .to_string(),
            info.partitions.iter().map(records).sum::<u64>().to_string(),
        ]);
    }
    log.close()?;
    table.write(&mut io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// The topic's settings, written as the keys of `[log.topic_defaults]`,
/// then a table of its partitions.
pub fn describe(settings: &Settings, topic: &str) -> anyhow::Result<ExitCode> {
    let log = open(settings, OpenMode::ReadOnly)?;
    let info = log.describe(topic)?;
    log.close()?;
    let mut out = io::stdout().lock();
    writeln!(out, "topic {}", info.name)?;
    for (key, value) in config_lines(&info.config) {
        writeln!(out, "  {key} = {value}")?;
    }
    writeln!(out)?;
    let mut table = Table::new(&[
        "PARTITION",
        "LOG_START",
        "HIGH_WATERMARK",
        "SEGMENTS",
        "BYTES",
    ]);
    for p in &info.partitions {
        table.row(vec![
            p.partition.to_string(),
            p.log_start.to_string(),
            p.high_watermark.to_string(),
            p.segments.to_string(),
            p.size_bytes.to_string(),
        ]);
    }
    table.write(&mut out)?;
    Ok(ExitCode::SUCCESS)
}

fn records(p: &PartitionInfo) -> u64 {
    p.high_watermark.saturating_sub(p.log_start)
}

fn policy(policy: CleanupPolicy) -> &'static str {
    match policy {
        CleanupPolicy::Delete => "delete",
        CleanupPolicy::Compact => "compact",
    }
}

/// Topic settings in the configuration file's syntax, so they can be
/// pasted into `[log.topic_defaults]`.
fn config_lines(config: &TopicConfig) -> Vec<(&'static str, String)> {
    let duration = |d: Duration| format!("{:?}", humantime::format_duration(d).to_string());
    vec![
        ("partitions", config.partitions.to_string()),
        (
            "retention",
            config
                .retention
                .map_or_else(|| "\"forever\"".to_owned(), duration),
        ),
        (
            "retention_bytes",
            config
                .retention_bytes
                .map_or_else(|| "\"unlimited\"".to_owned(), |b| b.to_string()),
        ),
        ("segment_bytes", config.segment_bytes.to_string()),
        ("segment_age", duration(config.segment_age)),
        (
            "index_interval_bytes",
            config.index_interval_bytes.to_string(),
        ),
        (
            "cleanup_policy",
            format!("{:?}", policy(config.cleanup_policy)),
        ),
        ("delete_retention", duration(config.delete_retention)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawTopic;

    #[test]
    fn described_settings_parse_back_as_the_same_topic_config() {
        let config = TopicConfig {
            retention: None,
            retention_bytes: Some(5 << 20),
            ..TopicConfig::default()
        };
        let text: String = config_lines(&config)
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        let raw: RawTopic = toml::from_str(&text).unwrap();
        assert_eq!(raw.resolve(&TopicConfig::default(), "t").unwrap(), config);
    }
}
