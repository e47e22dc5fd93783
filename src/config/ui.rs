//! `[ui]`: the web UI's settings.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// `[ui]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of web UI settings")]
pub struct RawUi {
    /// Where dashboard definitions (`*.yml`) are read from; empty: only
    /// the built-in `weir` dashboard.
    pub dashboards_dir: PathBuf,
}

impl RawUi {
    pub fn validate(&self) -> Result<Option<PathBuf>, ConfigError> {
        if self.dashboards_dir.as_os_str().is_empty() {
            return Ok(None);
        }
        Ok(Some(self.dashboards_dir.clone()))
    }
}
