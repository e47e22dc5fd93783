//! Label sets and label matchers, shared by LogQL and PromQL.
//!
//! Both query languages select by `name op "value"` matchers over label
//! names in the *query view*: dots in attribute keys become underscores and
//! `service.name` becomes `service_name`. Regex matchers are fully anchored,
//! as in Prometheus and Loki (`=~"a|b"` matches `a` or `b`, never `ab`).

use std::fmt;
use std::sync::Arc;

use regex::Regex;

/// A sorted set of label pairs, unique by name. Immutable and shared:
/// a clone (every series, sample and group in a query holds one) is a
/// reference count, not a copy of the strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<[(String, String)]>);

/// The pairs a [`Labels`] of `pairs` holds, as a plain vector: sorted by
/// name, empty values dropped, and of pairs with the same name the last.
pub fn unique_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    // Stable sort keeps insertion order among equal names; keep the last.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut unique: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for pair in pairs {
        match unique.last_mut() {
            Some(last) if last.0 == pair.0 => *last = pair,
            _ => unique.push(pair),
        }
    }
    unique
}

impl Labels {
    /// Builds a set from pairs in any order; a later pair with the same name
    /// replaces an earlier one. Pairs with empty values are dropped, as in
    /// Prometheus (an empty label is the same as no label).
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Labels {
        Labels(unique_pairs(pairs).into())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0.to_vec()
    }

    /// A 128-bit digest of the set, for telling series apart without
    /// comparing their strings: names and values are separated by bytes
    /// no UTF-8 string holds, so two sets share a digest only by a
    /// collision of xxh3-128 (the identity the metric workers already
    /// give resources and attributes).
    ///
    /// The pairs are laid out in one buffer and hashed at once: xxh3's
    /// one-shot hash of a few hundred bytes costs a fraction of feeding
    /// its streaming state forty small pieces.
    pub fn digest(&self) -> u128 {
        let len = self.0.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
        let mut bytes = Vec::with_capacity(len);
        for (name, value) in self.0.iter() {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0xff);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0xfe);
        }
        xxhash_rust::xxh3::xxh3_128(&bytes)
    }

    /// Whether every matcher accepts this set (a missing label is "").
    pub fn matches(&self, matchers: &[Matcher]) -> bool {
        matchers
            .iter()
            .all(|m| m.matches(self.get(&m.name).unwrap_or("")))
    }
}

impl fmt::Display for Labels {
    /// `{a="1", b="2"}`, with values escaped as in PromQL and LogQL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        })
    }
}

/// One `name op "value"` term of a selector.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored regex, for `=~` and `!~`.
    regex: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; fails when a regex matcher's value does not compile.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Matcher, regex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(Regex::new(&format!("^(?:{value})$"))?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Whether `value` (the label's value, "" when absent) satisfies this.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (MatchOp::Regex | MatchOp::NotRegex, None) => unreachable!("built by Matcher::new"),
        }
    }

    /// Whether this matcher accepts a missing label, so it cannot narrow a
    /// search by itself (`x=""`, `x!="a"`, `x=~".*"`).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

/// The query-view name of a metric: as [`label_name`], except that colons
/// stay, since Prometheus metric names may hold them (recording rules are
/// named `level:metric:operations` by convention).
pub fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The query-view name of an attribute key: `service.name` becomes
/// `service_name`, and every character that is not `[a-zA-Z0-9_]` becomes
/// `_`; a leading digit gets a `_` prefix.
pub fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_tell_apart_sets_whose_strings_run_together() {
        let set = |pairs: &[(&str, &str)]| {
            Labels::new(
                pairs
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
            )
        };
        let a = set(&[("a", "bc")]);
        assert_eq!(a.digest(), set(&[("a", "bc")]).digest());
        for other in [
            set(&[("ab", "c")]),
            set(&[("a", "b"), ("c", "")]),
            set(&[("a", "b"), ("b", "c")]),
            set(&[]),
        ] {
            assert_ne!(a.digest(), other.digest(), "{a} and {other}");
        }
    }

    #[test]
    fn metric_names_keep_colons_and_label_names_do_not() {
        assert_eq!(
            metric_name("job:http.requests:rate5m"),
            "job:http_requests:rate5m"
        );
        assert_eq!(label_name("a:b"), "a_b");
        assert_eq!(metric_name("1xx"), "_1xx");
    }

    #[test]
    fn labels_are_sorted_unique_and_drop_empty_values() {
        let labels = Labels::new([
            ("b".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
            ("b".to_owned(), "3".to_owned()),
            ("c".to_owned(), String::new()),
        ]);
        assert_eq!(labels.to_string(), r#"{a="2", b="3"}"#);
        assert_eq!(labels.get("b"), Some("3"));
        assert_eq!(labels.get("c"), None);
    }

    #[test]
    fn regex_matchers_are_anchored() {
        let m = Matcher::new("job", MatchOp::Regex, "api|web").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("apiweb"));
        let m = Matcher::new("job", MatchOp::NotRegex, "a.*").unwrap();
        assert!(m.matches("b"));
        assert!(!m.matches("abc"));
        assert!(Matcher::new("job", MatchOp::Regex, "(").is_err());
    }

    #[test]
    fn missing_labels_match_as_empty() {
        let labels = Labels::new([("a".to_owned(), "1".to_owned())]);
        let absent = Matcher::new("b", MatchOp::Equal, "").unwrap();
        assert!(labels.matches(&[absent]));
        let present = Matcher::new("b", MatchOp::NotEqual, "").unwrap();
        assert!(!labels.matches(&[present]));
    }

    #[test]
    fn attribute_keys_become_label_names() {
        assert_eq!(label_name("service.name"), "service_name");
        assert_eq!(label_name("k8s.pod-name"), "k8s_pod_name");
        assert_eq!(label_name("1st"), "_1st");
    }
}
