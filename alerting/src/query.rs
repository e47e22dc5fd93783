//! What the rule engine needs from the query engines, as traits: the
//! binary implements them over the PromQL and LogQL engines and the
//! window store; tests implement them with fakes. Alerting never reads
//! telemetry topics itself.

use serde::{Deserialize, Serialize};

use crate::model::LabelSet;

/// The language of a rule's `expr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Over metric windows.
    PromQl,
    /// Over indexed logs.
    LogQl,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::PromQl => "promql",
            Language::LogQl => "logql",
        }
    }
}

/// One element of the instant vector a rule's expression evaluated to.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: LabelSet,
    pub value: f64,
}

/// Evaluates rule expressions.
pub trait RuleQuerier: Send + Sync + 'static {
    /// Parses `expr` without running it. The error names the position.
    fn check(&self, language: Language, expr: &str) -> Result<(), String>;

    /// Evaluates `expr` as an instant query at `at_ms` for `tenant`.
    /// Blocking: called from a blocking thread. A scalar result is one
    /// sample with no labels; a string or log-stream result is an error.
    fn instant(
        &self,
        language: Language,
        tenant: &str,
        expr: &str,
        at_ms: i64,
    ) -> Result<Vec<QuerySample>, String>;
}

/// Where recording rules' results and the `ALERTS` / `ALERTS_FOR_STATE`
/// series are written: the window store, in the binary.
pub trait SampleSink: Send + Sync + 'static {
    /// Writes gauge samples stamped `at_ms` for `tenant`. Each sample's
    /// labels include `__name__`. Blocking.
    fn write(&self, tenant: &str, at_ms: i64, samples: &[QuerySample]) -> Result<(), String>;
}
