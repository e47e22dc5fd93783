//! Configuration errors: each names the file, the line when known, and the
//! field path, e.g. `weir.toml:7: log.topic_defaults.partitions: 0 is not
//! in 1..=1024`.

use std::fmt;
use std::path::{Path, PathBuf};

use log_core::LogError;

/// A configuration file that cannot be read, parsed or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("read config {}: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Located(self))]
    Field {
        file: Option<PathBuf>,
        line: Option<usize>,
        /// Dotted path of the offending key; empty for a syntax error.
        field: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Field {
            file: None,
            line: None,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Converts a `log_core` validation error, prefixing its key with the
    /// section it came from (`log.topic_defaults` + `partitions`).
    pub fn from_log(section: &str, error: LogError) -> ConfigError {
        match error {
            LogError::InvalidConfig { key, reason } => {
                ConfigError::field(format!("{section}.{key}"), reason)
            }
            other => ConfigError::field(section, other.to_string()),
        }
    }

    /// Converts a TOML or serde error found at `path` in `text`.
    pub(super) fn from_toml(text: &str, path: &str, error: &toml::de::Error) -> ConfigError {
        let line = error.span().map(|span| line_of(text, span.start));
        ConfigError::Field {
            file: None,
            line,
            field: path.to_owned(),
            reason: clean_message(error.message()),
        }
    }

    /// Records which file the error came from.
    pub fn in_file(self, path: Option<&Path>) -> ConfigError {
        match self {
            ConfigError::Field {
                file: None,
                line,
                field,
                reason,
            } => ConfigError::Field {
                file: path.map(Path::to_path_buf),
                line,
                field,
                reason,
            },
            other => other,
        }
    }

    /// The dotted path of the offending key, if the error has one.
    pub fn field_path(&self) -> Option<&str> {
        match self {
            ConfigError::Field { field, .. } if !field.is_empty() => Some(field),
            _ => None,
        }
    }
}

/// Renders `file:line: field: reason`, leaving out the parts not known.
struct Located<'a>(&'a ConfigError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConfigError::Field {
            file,
            line,
            field,
            reason,
        } = self.0
        else {
            return Ok(());
        };
        match (file, line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if !field.is_empty() {
            write!(f, "{field}: ")?;
        }
        write!(f, "{reason}")
    }
}

/// 1-based line number of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// serde says "field" for what TOML calls a key, and messages may end with
/// a newline.
fn clean_message(message: &str) -> String {
    message.trim().replace("unknown field", "unknown key")
}
