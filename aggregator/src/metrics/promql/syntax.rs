//! Parsing: `promql-parser` builds the tree; this file bounds the input
//! and turns the parser's messages into [`AggregatorError::Parse`] with a
//! byte position.
//!
//! `promql-parser` reports no positions. The best position found:
//! - an unclosed `(` is located at the innermost one never closed;
//! - another lexer error (bad character, unterminated string, unbalanced
//!   bracket) is located at the shortest prefix of the query that fails
//!   with the same message, which is where the lexer stopped;
//! - a message quoting part of the query (`unknown function with name
//!   "foo"`, `illegal regex for (`) is located where that text occurs;
//! - anything else (a grammar error the parser reports only as
//!   `invalid promql query`) is at position 0.

use promql_parser::parser::{self, Expr};

use crate::error::{AggregatorError, Result};

/// Operators, brackets, commas and words outside strings a query may
/// hold. The tree's depth is bounded by them, and evaluation recurses over the tree:
/// far more than any real query, far less than overflows a thread's stack.
const MAX_TOKENS: usize = 4096;

/// Nesting the evaluator accepts; real queries nest a few levels.
pub(crate) const MAX_DEPTH: usize = 200;

/// Longest query whose lexer error is located by re-lexing prefixes
/// (quadratic in the length); longer ones report position 0.
const LOCATE_LIMIT: usize = 8192;

/// Parses `query`, or explains where it is wrong.
pub fn parse(query: &str) -> Result<Expr> {
    check_size(query)?;
    let message = match parser::parse(query) {
        Ok(expr) => return Ok(expr),
        Err(message) => message,
    };
    let position = locate(query, &message);
    Err(AggregatorError::Parse { position, message })
}

/// Rejects queries with more operator tokens than [`MAX_TOKENS`].
fn check_size(query: &str) -> Result<()> {
    let mut tokens = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_word = false;
    for (position, c) in query.char_indices() {
        let word = c.is_alphanumeric() || c == '_' || c == '.' || c == ':';
        if quote.is_none() && word && !in_word {
            tokens += 1;
        }
        in_word = quote.is_none() && word;
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' | ',' | '+' | '-' | '*' | '/' | '%' | '^' | '=' | '<' | '>' | '!' => {
                tokens += 1
            }
            _ => {}
        }
        if tokens > MAX_TOKENS {
            return Err(AggregatorError::Parse {
                position,
                message: format!("query is too complex: more than {MAX_TOKENS} tokens"),
            });
        }
    }
    Ok(())
}

/// The best byte position for `message` in `query`.
fn locate(query: &str, message: &str) -> usize {
    if message == "unclosed left parenthesis"
        && let Some(position) = unclosed_paren(query)
    {
        return position;
    }
    if parser::lexer(query).is_err() && query.len() <= LOCATE_LIMIT {
        let boundaries = query
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .collect::<Vec<_>>();
        for end in boundaries {
            if let Err(m) = parser::lexer(&query[..end])
                && m == message
            {
                // The lexer stopped at the prefix's last character.
                let last = query[..end].chars().next_back().map_or(0, char::len_utf8);
                return end - last;
            }
        }
    }
    quoted(message)
        .into_iter()
        .find_map(|text| query.find(text.as_str()))
        .unwrap_or(0)
}

/// The innermost `(` outside strings that is never closed.
fn unclosed_paren(query: &str) -> Option<usize> {
    let mut open = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (position, c) in query.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(q) if c == '\\' && q != '`' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '(' => open.push(position),
                ')' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    open.pop()
}

/// The pieces of `message` in quotes (`"x"`, `'x'`) or after `for `.
fn quoted(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"', '\''] {
        let mut parts = message.split(quote);
        parts.next();
        while let Some(inner) = parts.next() {
            if !inner.is_empty() {
                out.push(inner.to_owned());
            }
            parts.next();
        }
    }
    if let Some((_, rest)) = message.split_once(" for ")
        && !rest.is_empty()
    {
        out.push(rest.to_owned());
    }
    out
}

/// Fails when `expr` nests deeper than [`MAX_DEPTH`].
pub(crate) fn check_depth(expr: &Expr) -> Result<()> {
    if depth_exceeds(expr, 0) {
        Err(AggregatorError::BadRequest(format!(
            "query nests deeper than {MAX_DEPTH} levels"
        )))
    } else {
        Ok(())
    }
}

fn depth_exceeds(expr: &Expr, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    let next = depth + 1;
    match expr {
        Expr::Aggregate(a) => {
            depth_exceeds(&a.expr, next) || a.param.as_ref().is_some_and(|p| depth_exceeds(p, next))
        }
        Expr::Unary(u) => depth_exceeds(&u.expr, next),
        Expr::Binary(b) => depth_exceeds(&b.lhs, next) || depth_exceeds(&b.rhs, next),
        Expr::Paren(p) => depth_exceeds(&p.expr, next),
        Expr::Subquery(s) => depth_exceeds(&s.expr, next),
        Expr::Call(c) => c.args.args.iter().any(|a| depth_exceeds(a, next)),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => false,
    }
}
