//! The log half of the grammar: stream selectors, log ranges and pipeline
//! stages (line filters, parsers, label filters, drop/keep, line_format,
//! unwrap).

use regex::Regex;

use crate::error::Result;
use crate::labels::{MatchOp, Matcher};

use super::super::ast::{
    CompareOp, Extraction, LabelFilter, LabelSelector, LineFilter, LogExpr, Needle, PathPart,
    Pattern, Stage, Unit, Unwrap,
};
use super::super::lexer::TokenKind;
use super::embedded::{json_path, template};
use super::{Parser, error};

/// Stages Loki has and Weir does not.
const UNSUPPORTED_STAGES: [&str; 5] = [
    "label_format",
    "pattern",
    "unpack",
    "decolorize",
    "distinct",
];

impl Parser {
    /// A log query outside a range aggregation: no range, no unwrap.
    pub(super) fn log_expr(&mut self) -> Result<LogExpr> {
        let matchers = self.selector()?;
        let (stages, _) = self.pipeline(false)?;
        Ok(LogExpr { matchers, stages })
    }

    /// The argument of a range aggregation: a selector, a pipeline, an
    /// optional unwrap and a range with optional offset, the range either
    /// right after the selector or after the pipeline.
    pub(super) fn log_range(&mut self) -> Result<(LogExpr, Option<Unwrap>, i64, i64)> {
        let matchers = self.selector()?;
        let early = if *self.peek() == TokenKind::LBracket {
            Some(self.range()?)
        } else {
            None
        };
        let (stages, unwrap) = self.pipeline(true)?;
        let (range, offset) = match early {
            Some(_) if *self.peek() == TokenKind::LBracket => {
                return Err(error(self.pos(), "a log range takes one range, not two"));
            }
            Some(range) => range,
            None if *self.peek() == TokenKind::LBracket => self.range()?,
            None => return Err(self.unexpected("a pipeline stage or a range such as [5m]")),
        };
        Ok((LogExpr { matchers, stages }, unwrap, range, offset))
    }

    /// `[5m]` and an optional `offset 1h`, in nanoseconds.
    fn range(&mut self) -> Result<(i64, i64)> {
        self.expect(TokenKind::LBracket)?;
        let range = match *self.peek() {
            TokenKind::Duration(nanos) if nanos >= 1.0 => nanos as i64,
            _ => return Err(self.unexpected("a positive duration such as 5m")),
        };
        self.advance();
        self.expect(TokenKind::RBracket)?;
        if !self.ident_is(0, "offset") {
            return Ok((range, 0));
        }
        self.advance();
        let sign = if self.eat(&TokenKind::Sub) { -1 } else { 1 };
        match *self.peek() {
            TokenKind::Duration(nanos) => {
                self.advance();
                Ok((range, sign * nanos as i64))
            }
            _ => Err(self.unexpected("an offset duration such as 1h")),
        }
    }

    /// `{name op "value", ...}`
    fn selector(&mut self) -> Result<Vec<Matcher>> {
        let open = self.expect(TokenKind::LBrace)?;
        let mut matchers = Vec::new();
        loop {
            let (name, _) = self.expect_ident("a label matcher")?;
            let op = match self.peek() {
                TokenKind::Eq => MatchOp::Equal,
                TokenKind::Neq => MatchOp::NotEqual,
                TokenKind::Re => MatchOp::Regex,
                TokenKind::Nre => MatchOp::NotRegex,
                _ => return Err(self.unexpected("a matcher operator (=, !=, =~ or !~)")),
            };
            self.advance();
            let (value, value_pos) = self.expect_string("a quoted label value")?;
            matchers.push(matcher(name, op, value, value_pos)?);
            if !self.eat(&TokenKind::Comma) {
                break;
            }
            if *self.peek() == TokenKind::RBrace {
                break;
            }
        }
        if *self.peek() != TokenKind::RBrace {
            return Err(self.unexpected("\",\" or \"}\""));
        }
        self.advance();
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(error(
                open,
                "stream selector needs at least one matcher that does not match the empty \
                 string, e.g. app=~\".+\" rather than app=~\".*\"",
            ));
        }
        Ok(matchers)
    }

    /// Stages until something that is not one; `unwrap` (and the label
    /// filters after it) only where `allow_unwrap`.
    fn pipeline(&mut self, allow_unwrap: bool) -> Result<(Vec<Stage>, Option<Unwrap>)> {
        let mut stages = Vec::new();
        let mut unwrap: Option<Unwrap> = None;
        loop {
            let pos = self.pos();
            let line_filter = match self.peek() {
                TokenKind::PipeEq | TokenKind::PipeRe => true,
                TokenKind::Neq | TokenKind::Nre => matches!(self.peek_at(1), TokenKind::Str(_)),
                TokenKind::Pipe => false,
                _ => break,
            };
            if line_filter {
                if unwrap.is_some() {
                    return Err(error(pos, "line filters cannot follow unwrap"));
                }
                stages.push(Stage::LineFilter(self.line_filter()?));
                continue;
            }
            self.advance();
            let keyword = !is_comparison(self.peek_at(1));
            if keyword && self.ident_is(0, "unwrap") {
                if !allow_unwrap {
                    return Err(error(
                        self.pos(),
                        "unwrap is only allowed inside a range aggregation such as sum_over_time",
                    ));
                }
                if unwrap.is_some() {
                    return Err(error(self.pos(), "a log range takes one unwrap, not two"));
                }
                unwrap = Some(self.unwrap()?);
                continue;
            }
            match (&mut unwrap, self.stage()?) {
                (None, stage) => stages.push(stage),
                (Some(unwrap), Stage::LabelFilter(filter)) => unwrap.filters.push(filter),
                (Some(_), _) => return Err(error(pos, "only label filters may follow unwrap")),
            }
        }
        Ok((stages, unwrap))
    }

    /// `|= "a" or "b"`, `!= "a"`, `|~ "re"`, `!~ "re"`.
    fn line_filter(&mut self) -> Result<LineFilter> {
        let op = self.advance().kind;
        let negated = matches!(op, TokenKind::Neq | TokenKind::Nre);
        let regex = matches!(op, TokenKind::PipeRe | TokenKind::Nre);
        let mut needles = Vec::new();
        loop {
            let (value, pos) = self.expect_string("a quoted string to filter lines by")?;
            needles.push(if regex {
                Needle::Regex(pattern(value, pos)?)
            } else {
                Needle::Literal(value)
            });
            if !(self.ident_is(0, "or") && matches!(self.peek_at(1), TokenKind::Str(_))) {
                break;
            }
            self.advance();
        }
        Ok(LineFilter { negated, needles })
    }

    /// A stage after `|` (not unwrap).
    fn stage(&mut self) -> Result<Stage> {
        let pos = self.pos();
        let word = match self.peek() {
            TokenKind::Ident(word) if !is_comparison(self.peek_at(1)) => word.clone(),
            TokenKind::Ident(_) | TokenKind::LParen => {
                return Ok(Stage::LabelFilter(self.label_filter()?));
            }
            _ => {
                return Err(self
                    .unexpected("a pipeline stage such as json, logfmt, drop or a label filter"));
            }
        };
        match word.as_str() {
            "json" => {
                self.advance();
                Ok(Stage::Json(self.extractions(true)?))
            }
            "logfmt" => {
                self.advance();
                let mut strict = false;
                while let TokenKind::Flag(flag) = self.peek().clone() {
                    match flag.as_str() {
                        "strict" => strict = true,
                        // Empty values are dropped from label sets anyway.
                        "keep-empty" => {}
                        _ => {
                            return Err(error(self.pos(), format!("unknown logfmt flag --{flag}")));
                        }
                    }
                    self.advance();
                }
                let extractions = self.extractions(false)?;
                Ok(Stage::Logfmt {
                    strict,
                    extractions,
                })
            }
            "regexp" => {
                self.advance();
                let (value, value_pos) = self.expect_string("a quoted regular expression")?;
                let pattern = pattern(value, value_pos)?;
                if pattern.regex.capture_names().flatten().next().is_none() {
                    return Err(error(
                        value_pos,
                        "regexp needs at least one named capture such as (?P<name>...)",
                    ));
                }
                Ok(Stage::Regexp(pattern))
            }
            "drop" | "keep" => {
                self.advance();
                let selectors = self.label_selectors()?;
                Ok(if word == "drop" {
                    Stage::Drop(selectors)
                } else {
                    Stage::Keep(selectors)
                })
            }
            "line_format" => {
                self.advance();
                let (value, value_pos) = self.expect_string("a quoted template")?;
                Ok(Stage::LineFormat(template(&value, value_pos)?))
            }
            _ if UNSUPPORTED_STAGES.contains(&word.as_str()) => {
                Err(error(pos, format!("the {word} stage is not supported")))
            }
            _ => Ok(Stage::LabelFilter(self.label_filter()?)),
        }
    }

    /// `a="path", b` after json or logfmt; empty for "every field".
    fn extractions(&mut self, json: bool) -> Result<Vec<Extraction>> {
        let mut out = Vec::new();
        while let TokenKind::Ident(label) = self.peek().clone() {
            self.advance();
            let path = if self.eat(&TokenKind::Eq) {
                let (path, path_pos) = self.expect_string("a quoted field path")?;
                if json {
                    json_path(&path)
                        .ok_or_else(|| error(path_pos, format!("invalid json path {path:?}")))?
                } else {
                    vec![PathPart::Key(path)]
                }
            } else {
                vec![PathPart::Key(label.clone())]
            };
            out.push(Extraction { label, path });
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        Ok(out)
    }

    /// `a, b="x", c=~"y"` after drop or keep.
    fn label_selectors(&mut self) -> Result<Vec<LabelSelector>> {
        let mut out = Vec::new();
        loop {
            let (name, _) = self.expect_ident("a label name")?;
            let op = match self.peek() {
                TokenKind::Eq | TokenKind::EqEq => Some(MatchOp::Equal),
                TokenKind::Neq => Some(MatchOp::NotEqual),
                TokenKind::Re => Some(MatchOp::Regex),
                TokenKind::Nre => Some(MatchOp::NotRegex),
                _ => None,
            };
            out.push(match op {
                Some(op) => {
                    self.advance();
                    let (value, pos) = self.expect_string("a quoted label value")?;
                    LabelSelector::Matcher(matcher(name, op, value, pos)?)
                }
                None => LabelSelector::Name(name),
            });
            if !self.eat(&TokenKind::Comma) {
                return Ok(out);
            }
        }
    }

    /// `a = "x" and (b > 5 or c < 1s)`; `,` is `and`, which binds tighter
    /// than `or`.
    fn label_filter(&mut self) -> Result<LabelFilter> {
        self.enter()?;
        let mut lhs = self.label_filter_and()?;
        while self.ident_is(0, "or") && self.starts_label_filter(1) {
            self.advance();
            let rhs = self.label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter> {
        let mut lhs = self.label_filter_atom()?;
        while (self.ident_is(0, "and") || *self.peek() == TokenKind::Comma)
            && self.starts_label_filter(1)
        {
            self.advance();
            let rhs = self.label_filter_atom()?;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn starts_label_filter(&self, n: usize) -> bool {
        matches!(self.peek_at(n), TokenKind::Ident(_) | TokenKind::LParen)
    }

    fn label_filter_atom(&mut self) -> Result<LabelFilter> {
        if self.eat(&TokenKind::LParen) {
            let inner = self.label_filter()?;
            self.expect(TokenKind::RParen)?;
            return Ok(inner);
        }
        let (name, _) = self.expect_ident("a label filter such as status >= 500")?;
        let op_token = self.peek().clone();
        if !is_comparison(&op_token) {
            return Err(self.unexpected("a comparison operator"));
        }
        self.advance();
        if let TokenKind::Str(value) = self.peek().clone() {
            let value_pos = self.advance().pos;
            let op = match op_token {
                TokenKind::Eq | TokenKind::EqEq => MatchOp::Equal,
                TokenKind::Neq => MatchOp::NotEqual,
                TokenKind::Re => MatchOp::Regex,
                TokenKind::Nre => MatchOp::NotRegex,
                _ => {
                    return Err(error(
                        value_pos,
                        "expected a number, not a string, after a comparison",
                    ));
                }
            };
            return Ok(LabelFilter::Match(matcher(name, op, value, value_pos)?));
        }
        let op = match op_token {
            TokenKind::Eq | TokenKind::EqEq => CompareOp::Eq,
            TokenKind::Neq => CompareOp::Ne,
            TokenKind::Gt => CompareOp::Gt,
            TokenKind::Ge => CompareOp::Ge,
            TokenKind::Lt => CompareOp::Lt,
            TokenKind::Le => CompareOp::Le,
            _ => return Err(self.unexpected("a quoted regular expression")),
        };
        let sign = if self.eat(&TokenKind::Sub) { -1.0 } else { 1.0 };
        let (value, unit) = match *self.peek() {
            TokenKind::Number(value) => (value, Unit::Number),
            TokenKind::Duration(nanos) => (nanos / 1e9, Unit::Duration),
            TokenKind::Bytes(bytes) => (bytes, Unit::Bytes),
            _ => return Err(self.unexpected("a string, number, duration or byte size")),
        };
        self.advance();
        Ok(LabelFilter::Compare {
            name,
            op,
            value: sign * value,
            unit,
        })
    }

    /// `unwrap label`, `unwrap duration(label)`, `unwrap bytes(label)`.
    fn unwrap(&mut self) -> Result<Unwrap> {
        self.advance();
        let unit = match self.peek() {
            TokenKind::Ident(word) if *self.peek_at(1) == TokenKind::LParen => {
                match word.as_str() {
                    "duration" | "duration_seconds" => Unit::Duration,
                    "bytes" => Unit::Bytes,
                    _ => {
                        return Err(error(
                            self.pos(),
                            format!("unknown unwrap conversion {word:?}"),
                        ));
                    }
                }
            }
            _ => Unit::Number,
        };
        if unit != Unit::Number {
            self.advance();
            self.advance();
        }
        let (label, _) = self.expect_ident("a label name to unwrap")?;
        if unit != Unit::Number {
            self.expect(TokenKind::RParen)?;
        }
        Ok(Unwrap {
            label,
            unit,
            filters: Vec::new(),
        })
    }
}

fn is_comparison(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Eq
            | TokenKind::EqEq
            | TokenKind::Neq
            | TokenKind::Re
            | TokenKind::Nre
            | TokenKind::Gt
            | TokenKind::Ge
            | TokenKind::Lt
            | TokenKind::Le
    )
}

fn matcher(name: String, op: MatchOp, value: String, value_pos: usize) -> Result<Matcher> {
    Matcher::new(name, op, value.as_str())
        .map_err(|e| error(value_pos, format!("invalid regex {value:?}: {e}")))
}

fn pattern(source: String, pos: usize) -> Result<Pattern> {
    let regex =
        Regex::new(&source).map_err(|e| error(pos, format!("invalid regex {source:?}: {e}")))?;
    Ok(Pattern { source, regex })
}
