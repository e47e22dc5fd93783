//! Label matchers as Alertmanager writes them: in routing files
//! (`matchers: ['severity="critical"', 'team=~"db|web"']`), in silences
//! and in inhibition rules. Regular expressions are fully anchored, as in
//! Prometheus and Alertmanager.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{AlertingError, Result};
use crate::model::LabelSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "=~")]
    Re,
    #[serde(rename = "!~")]
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::Re | MatchOp::Nre)
    }

    pub fn is_equal(self) -> bool {
        matches!(self, MatchOp::Eq | MatchOp::Re)
    }
}

/// One matcher. A label that is absent matches as the empty string.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Matcher> {
        let name = name.into();
        let value = value.into();
        if name.is_empty() {
            return Err(AlertingError::BadRequest(
                "a matcher needs a label name".into(),
            ));
        }
        let regex = if op.is_regex() {
            Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                AlertingError::BadRequest(format!("matcher {name}{}{value:?}: {e}", op.as_str()))
            })?)
        } else {
            None
        };
        Ok(Matcher {
            name,
            op,
            value,
            regex,
        })
    }

    /// Parses `name="value"`, `name=~"re"`, `name!=value` (quotes optional
    /// for values without spaces, commas or braces).
    pub fn parse(text: &str) -> Result<Matcher> {
        let text = text.trim();
        let bad = |why: &str| AlertingError::BadRequest(format!("matcher {text:?}: {why}"));
        let at = text
            .find(['=', '!'])
            .ok_or_else(|| bad("expected an operator (=, !=, =~, !~)"))?;
        let name = text[..at].trim();
        let rest = &text[at..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Re, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::Nre, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::Ne, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Eq, v)
        } else {
            return Err(bad("expected an operator (=, !=, =~, !~)"));
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad(
                "the label name must be letters, digits and underscores",
            ));
        }
        let value = value.trim();
        let value = if value.starts_with('"') {
            serde_json::from_str::<String>(value)
                .map_err(|_| bad("the quoted value is not a valid string"))?
        } else {
            value.to_owned()
        };
        Matcher::new(name, op, value)
    }

    /// Parses a list: `{a="1", b=~"x|y"}` or `a="1", b=~"x|y"`. Commas
    /// inside quoted values are kept.
    pub fn parse_list(text: &str) -> Result<Vec<Matcher>> {
        let text = text.trim();
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let mut parts = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    parts.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&inner[start..]);
        parts
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(Matcher::parse)
            .collect()
    }

    pub fn matches_value(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Eq => self.value == value,
            MatchOp::Ne => self.value != value,
            MatchOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::Nre => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

/// Whether every matcher matches.
pub fn matches_all(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = serde_json::to_string(&self.value).map_err(|_| fmt::Error)?;
        write!(f, "{}{}{}", self.name, self.op.as_str(), value)
    }
}

/// Alertmanager's v2 API shape: `{"name", "value", "isRegex", "isEqual"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl From<&Matcher> for ApiMatcher {
    fn from(m: &Matcher) -> ApiMatcher {
        ApiMatcher {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: m.op.is_regex(),
            is_equal: m.op.is_equal(),
        }
    }
}

impl TryFrom<&ApiMatcher> for Matcher {
    type Error = AlertingError;

    fn try_from(m: &ApiMatcher) -> Result<Matcher> {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Eq,
            (false, false) => MatchOp::Ne,
            (true, true) => MatchOp::Re,
            (true, false) => MatchOp::Nre,
        };
        Matcher::new(m.name.clone(), op, m.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_operator_and_anchors_regexes() {
        let l = labels(&[("severity", "critical"), ("team", "database")]);
        assert!(
            Matcher::parse(r#"severity="critical""#)
                .unwrap()
                .matches(&l)
        );
        assert!(Matcher::parse("severity!=warning").unwrap().matches(&l));
        assert!(!Matcher::parse(r#"team=~"data""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"team=~"data.*""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"team!~"web|db""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"absent="""#).unwrap().matches(&l));
    }

    #[test]
    fn lists_keep_commas_inside_quotes() {
        let list = Matcher::parse_list(r#"{a="x,y", b=~"1|2"}"#).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].value, "x,y");
        assert_eq!(list[1].to_string(), r#"b=~"1|2""#);
    }

    #[test]
    fn bad_matchers_say_what_is_wrong() {
        let e = Matcher::parse("severity").unwrap_err().to_string();
        assert!(e.contains("expected an operator"), "{e}");
        let e = Matcher::parse(r#"a=~"(""#).unwrap_err().to_string();
        assert!(e.contains("a=~"), "{e}");
    }

    #[test]
    fn api_shape_round_trips() {
        let m = Matcher::parse(r#"a!~"x""#).unwrap();
        let api = ApiMatcher::from(&m);
        assert!(api.is_regex && !api.is_equal);
        assert_eq!(Matcher::try_from(&api).unwrap(), m);
    }
}
