//! The small languages inside LogQL string literals: `| json` field paths
//! (`a.b[0]["c d"]`) and `| line_format` templates (literal text and
//! `{{.label}}` actions; Go template pipelines and functions are refused).

use crate::error::Result;

use super::super::ast::{PathPart, TemplatePart};
use super::error;

/// `a.b[0]["c d"]` into path parts; `None` when malformed.
pub(super) fn json_path(path: &str) -> Option<Vec<PathPart>> {
    let mut parts = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix("[\"") {
            let end = inner.find("\"]")?;
            parts.push(PathPart::Key(inner[..end].to_owned()));
            rest = &inner[end + 2..];
        } else if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            parts.push(PathPart::Index(inner[..end].trim().parse().ok()?));
            rest = &inner[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            parts.push(PathPart::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        if let Some(next) = rest.strip_prefix('.') {
            if next.is_empty() || next.starts_with(['.', '[']) {
                return None;
            }
            rest = next;
        }
    }
    (!parts.is_empty()).then_some(parts)
}

/// A `line_format` template: literal text and `{{.label}}` actions.
pub(super) fn template(text: &str, pos: usize) -> Result<Vec<TemplatePart>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(TemplatePart::Literal(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| error(pos, "unclosed {{ in line_format template"))?;
        let action = after[..close].trim();
        let name = action
            .strip_prefix('.')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| {
                error(
                    pos,
                    format!(
                        "unsupported line_format action {{{{{action}}}}}: only {{{{.label}}}} is"
                    ),
                )
            })?;
        parts.push(TemplatePart::Label(name.to_owned()));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    Ok(parts)
}
