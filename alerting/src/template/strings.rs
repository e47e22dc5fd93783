//! String helpers behind the functions: comparisons with Go's rules,
//! `title`, `stripPort`, `stripDomain`, `urlquery` and URL paths.
//!
//! Comparisons follow Go's `eq`/`lt` on basic kinds, except that integers
//! and floats compare numerically (Prometheus values are float64 while
//! literals such as `100` are ints).

use std::cmp::Ordering;
use std::net::IpAddr;

use super::value::Value;

/// Orders two basic values; `None` for unordered floats (NaN).
pub fn compare(a: &Value<'_>, b: &Value<'_>) -> Result<Option<Ordering>, String> {
    let num = |v: &Value<'_>| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        (Value::Bool(x), Value::Bool(y)) => Ok(Some(x.cmp(y))),
        (Value::Nil | Value::Map(_) | Value::Root(_), _)
        | (_, Value::Nil | Value::Map(_) | Value::Root(_)) => Err(format!(
            "invalid type for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => Ok(x.partial_cmp(&y)),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )),
        },
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
pub fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go's `net.SplitHostPort`; `None` where Go returns an error.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let colon = s.rfind(':')?;
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        if end + 2 != colon {
            return None;
        }
        (&rest[..end], &s[colon + 1..])
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        (host, &s[colon + 1..])
    };
    let bad = |p: &str| p.contains('[') || p.contains(']');
    if bad(port) || (!s.starts_with('[') && bad(host)) {
        return None;
    }
    Some((host, port))
}

/// `stripPort`: the host of `host:port`, or the input unchanged.
pub fn strip_port(s: &str) -> String {
    split_host_port(s).map_or(s, |(host, _)| host).to_owned()
}

/// `stripDomain`: the first label of a host name, keeping a port; IP
/// addresses are returned unchanged.
pub fn strip_domain(s: &str) -> String {
    let (host, port) = split_host_port(s).unwrap_or((s, ""));
    if host.parse::<IpAddr>().is_ok() {
        return s.to_owned();
    }
    let host = host.split('.').next().unwrap_or(host);
    match (port.is_empty(), host.contains(':')) {
        (true, _) => host.to_owned(),
        (false, true) => format!("[{host}]:{port}"),
        (false, false) => format!("{host}:{port}"),
    }
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The path of an absolute URL (`pathPrefix`): `/prefix` of
/// `https://host/prefix`, empty when there is none.
pub fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("")
}
