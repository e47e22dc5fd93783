//! The alerting crate's error type. Configuration and rule-file errors name
//! the file and the position (or field path) that is wrong; delivery
//! failures are not errors here but recorded attempts (see `outbox`).

pub type Result<T, E = AlertingError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// A rule file, routing file or template that does not parse or
    /// validate. `location` is `file:line:column` or a field path.
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },

    /// Several configuration problems at once (every problem of every
    /// rule file), one per line.
    #[error("{}", join(.0))]
    Config(Vec<AlertingError>),

    /// A request to an API that cannot be served as asked (a bad matcher,
    /// a silence ending before it starts, an unknown id).
    #[error("bad request: {0}")]
    BadRequest(String),

    /// Something looked up by id that does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    /// A rule's query failed when evaluated.
    #[error("query failed: {0}")]
    Query(String),

    /// Our own stored state that does not decode.
    #[error("corrupt {what}: {detail}")]
    Corruption { what: String, detail: String },

    #[error(transparent)]
    Log(#[from] log_core::LogError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl AlertingError {
    pub fn invalid(location: impl Into<String>, message: impl Into<String>) -> AlertingError {
        AlertingError::Invalid {
            location: location.into(),
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> AlertingError {
        AlertingError::Io {
            context: context.into(),
            source,
        }
    }
}

fn join(errors: &[AlertingError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
