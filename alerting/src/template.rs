//! Prometheus-compatible templates for rule labels and annotations.
//!
//! A rule's labels and annotations are Go `text/template` strings, and
//! Weir evaluates them as Prometheus does: as if prefixed by
//! `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}`
//! `{{$externalURL := .ExternalURL}}{{$value := .Value}}`, with
//! `missingkey=zero`, so a missing label renders as `""`.
//!
//! # Supported subset
//! - Text, `{{- ` / ` -}}` trimming, `{{/* comments */}}`.
//! - `.`, `$`, `$labels`, `$externalLabels`, `$externalURL`, `$value`,
//!   fields (`.Labels.job`, `$labels.instance`), `$x := …`, `$x = …`,
//!   pipelines `a | f b`, parenthesised pipelines.
//! - `if`/`else if`/`else`, `with`/`else with`/`else`, `range` over label
//!   maps (sorted by key) and integers, with `$k, $v :=` and `else`.
//! - String (Go escapes and raw), integer, float, boolean literals.
//! - Go's `and or not len index eq ne lt le gt ge print printf println
//!   urlquery`, and Prometheus' `humanize humanize1024 humanizeDuration
//!   humanizePercentage humanizeTimestamp toUpper toLower title
//!   reReplaceAll match stripPort stripDomain safeHtml externalURL
//!   pathPrefix`.
//!
//! Prometheus' query functions (`query`, `first`, `label`, `value`,
//! `sortByLabel`, `strvalue`, `args`, `tmpl`, `graphLink`, `tableLink`)
//! and named templates (`define`, `template`, `block`) are rejected at
//! parse time. Unlike Go, integers and floats compare numerically, and a
//! command that cannot run (arguments to a non-function) is a parse error.
//!
//! # Why hand-written
//! Prometheus' template semantics are a specific subset of Go's
//! `text/template` together with Prometheus' functions: Go's truthiness,
//! trimming, `%v` printing of float64 (`1e+06`, `+Inf`) and `fmt` verbs
//! are what rule authors see in Prometheus, and no Rust template engine
//! reproduces them. The subset is small enough to own: lexer, parser and
//! evaluator are a few hundred lines each.
//!
//! # Limits
//! Sources up to [`MAX_SOURCE`] bytes, nesting up to [`MAX_DEPTH`],
//! output up to [`MAX_OUTPUT`] bytes and [`MAX_STEPS`] evaluation steps;
//! beyond them parsing or rendering fails rather than growing.
//!
//! # Layout
//! - `lexer`: tokens and delimiter rules; `parser` and `ast`: the tree.
//! - `eval` and `value`: execution and Go's value semantics.
//! - `functions` and `strings`: the function table; `humanize`,
//!   `format` (Go's float formatting) and `printf` behind it.

mod ast;
mod eval;
mod format;
mod functions;
mod humanize;
mod lexer;
mod parser;
mod printf;
mod strings;
#[cfg(test)]
mod tests;
mod value;

use crate::error::{AlertingError, Result};
use crate::model::LabelSet;

/// Largest template source: far above any real annotation.
pub const MAX_SOURCE: usize = 64 * 1024;
/// Largest rendered output (and string value): an annotation this long
/// is a mistake, and notifications carry every annotation.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Deepest nesting of blocks and parentheses; bounds recursion.
pub const MAX_DEPTH: usize = 32;
/// Most nodes, commands and range iterations one render may execute.
pub const MAX_STEPS: usize = 100_000;

/// What a rule's templates can refer to.
#[derive(Debug, Clone, Copy)]
pub struct TemplateData<'a> {
    /// `$labels` / `.Labels`: the alert's labels.
    pub labels: &'a LabelSet,
    /// `$externalLabels` / `.ExternalLabels`.
    pub external_labels: &'a LabelSet,
    /// `$value` / `.Value`: the sample value that triggered the alert.
    pub value: f64,
    /// `$externalURL` / `.ExternalURL`.
    pub external_url: &'a str,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<ast::Node>,
}

impl Template {
    /// Parses `source`; `name` (e.g. `annotations.summary`) is used in
    /// errors, which give the position (`line:column`) in `source`.
    pub fn parse(name: &str, source: &str) -> Result<Template> {
        let located = |e: lexer::SyntaxError| {
            let pos = parser::LineIndex::new(source).pos(e.offset);
            AlertingError::invalid(format!("{name}:{pos}"), e.message)
        };
        if source.len() > MAX_SOURCE {
            return Err(located(lexer::SyntaxError::new(
                0,
                format!("template exceeds {MAX_SOURCE} bytes"),
            )));
        }
        let tokens = lexer::lex(source).map_err(located)?;
        let nodes = parser::parse(source, tokens).map_err(located)?;
        Ok(Template {
            name: name.to_owned(),
            nodes,
        })
    }

    /// Renders the template. Errors describe what failed, at
    /// `name:line:column` of the failing command.
    pub fn render(&self, data: &TemplateData<'_>) -> std::result::Result<String, String> {
        eval::render(&self.name, &self.nodes, data)
    }
}
