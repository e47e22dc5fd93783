//! The alert engine's view of the query engines: [`EngineQuerier`]
//! evaluates rule expressions with the PromQL engine over the window store
//! and the LogQL engine over the log index; [`SyntaxQuerier`] only parses,
//! for `weir rules check`.

use std::sync::Arc;

use aggregator::logs::logql::{self, LogQlEngine, QueryKind, QueryResult};
use aggregator::logs::search::LogSearch;
use aggregator::metrics::promql::{self, PromQlEngine, Value};
use alerting::LabelSet;
use alerting::query::{Language, QuerySample, RuleQuerier};

/// Parses `expr` in `language`; a LogQL rule must be a metric query.
fn check(language: Language, expr: &str) -> Result<(), String> {
    match language {
        Language::PromQl => promql::parse(expr).map(drop).map_err(|e| e.to_string()),
        Language::LogQl => {
            let parsed = logql::parse(expr).map_err(|e| e.to_string())?;
            if parsed.kind() == QueryKind::Log {
                return Err(
                    "a log query selects lines, not numbers: a rule needs a metric query such as count_over_time({...}[5m])"
                        .to_owned(),
                );
            }
            Ok(())
        }
    }
}

/// Rules over the running appliance's data.
pub struct EngineQuerier {
    pub promql: Arc<PromQlEngine>,
    pub logql: Arc<LogQlEngine<LogSearch>>,
}

impl RuleQuerier for EngineQuerier {
    fn check(&self, language: Language, expr: &str) -> Result<(), String> {
        check(language, expr)
    }

    fn instant(
        &self,
        language: Language,
        tenant: &str,
        expr: &str,
        at_ms: i64,
    ) -> Result<Vec<QuerySample>, String> {
        match language {
            Language::PromQl => {
                match self
                    .promql
                    .instant(tenant, expr, at_ms)
                    .map_err(|e| e.to_string())?
                {
                    Value::Scalar(_, value) => Ok(vec![scalar(value)]),
                    Value::Vector(samples) => Ok(samples
                        .into_iter()
                        .map(|s| QuerySample {
                            labels: labels(s.labels.iter()),
                            value: s.value,
                        })
                        .collect()),
                    Value::String(..) => Err("the expression is a string, not a vector".into()),
                    Value::Matrix(_) => Err(
                        "the expression is a range vector; a rule needs an instant vector".into(),
                    ),
                }
            }
            Language::LogQl => {
                let at_nanos = at_ms.saturating_mul(1_000_000);
                let output = self
                    .logql
                    .instant(tenant, expr, at_nanos)
                    .map_err(|e| e.to_string())?;
                match output.result {
                    QueryResult::Vector(samples) => Ok(samples
                        .into_iter()
                        .map(|s| QuerySample {
                            labels: labels(s.labels.iter()),
                            value: s.value,
                        })
                        .collect()),
                    QueryResult::Scalar { value, .. } => Ok(vec![scalar(value)]),
                    QueryResult::Streams(_) => {
                        Err("the expression selects log lines; a rule needs a metric query".into())
                    }
                    QueryResult::Matrix(_) => Err(
                        "the expression is a range result; a rule needs an instant vector".into(),
                    ),
                }
            }
        }
    }
}

fn scalar(value: f64) -> QuerySample {
    QuerySample {
        labels: LabelSet::new(),
        value,
    }
}

fn labels<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> LabelSet {
    pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Parses expressions and evaluates nothing: `weir rules check`.
pub struct SyntaxQuerier;

impl RuleQuerier for SyntaxQuerier {
    fn check(&self, language: Language, expr: &str) -> Result<(), String> {
        check(language, expr)
    }

    fn instant(&self, _: Language, _: &str, _: &str, _: i64) -> Result<Vec<QuerySample>, String> {
        Err("rules are only checked here, not evaluated".into())
    }
}
